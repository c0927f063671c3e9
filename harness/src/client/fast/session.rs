//! One batch's protocol state, without a socket: what was sent, what came back, and what the
//! publisher must do next. `publisher.rs` moves the bytes and the clock; everything it decides
//! is asked of a [`Session`], so the whole exchange can be replayed from recorded replies.

use super::error::{codes, ApiError, BatchError, ErrorKind, FastError};
use super::summary::{FastSummary, FinalAck, FlowAck, Gap};
use super::wire::{Op, Reply};
use crate::scenario::GapMode;

/// What ending the batch takes, given what came back so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndStep {
    /// Nothing more to send or wait for: this is how the batch ended.
    Done(Result<(), FastError>),
    /// Send the end of batch (op 3), then await the final ack, sending the end again meanwhile.
    SendEnd,
    /// The server ended the batch itself (gap mode `fail`); await its final ack, pinging.
    AwaitServerEnd,
}

/// The protocol state of one fast batch.
#[derive(Debug)]
pub struct Session {
    gap: GapMode,
    max_outstanding_acks: u16,
    /// Highest batch seq sent (data messages).
    sent: u64,
    /// Highest batch seq a flow ack covered.
    acked: u64,
    /// The flow the server asked for last (the requested one until it answers).
    flow: u16,
    acks: Vec<FlowAck>,
    gaps: Vec<Gap>,
    errors: Vec<BatchError>,
    final_ack: Option<FinalAck>,
    /// An error reply that ended the batch in place of the final ack.
    final_err: Option<(u64, ApiError)>,
    /// Why publishing must stop.
    dead: Option<FastError>,
}

impl Session {
    pub fn new(flow: u16, max_outstanding_acks: u16, gap: GapMode) -> Session {
        Session {
            gap,
            max_outstanding_acks,
            sent: 0,
            acked: 0,
            flow: flow.max(1),
            acks: Vec::new(),
            gaps: Vec::new(),
            errors: Vec::new(),
            final_ack: None,
            final_err: None,
            dead: None,
        }
    }

    /// Highest batch seq sent.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Highest batch seq a flow ack covered.
    pub fn acked(&self) -> u64 {
        self.acked
    }

    /// The batch seq and operation of the next data message.
    pub fn next(&self) -> (u64, Op) {
        let seq = self.sent + 1;
        (seq, if seq == 1 { Op::Start } else { Op::Append })
    }

    /// Data message `seq` went out.
    pub fn on_sent(&mut self, seq: u64) {
        self.sent = self.sent.max(seq);
    }

    /// Why publishing must stop, once something said so.
    pub fn dead(&self) -> Option<&FastError> {
        self.dead.as_ref()
    }

    /// Records why publishing must stop (the first reason stays) and returns `e`: what the
    /// step that found it reports.
    pub fn fail(&mut self, e: FastError) -> FastError {
        self.dead.get_or_insert_with(|| e.clone());
        e
    }

    /// Flow control: more data messages may not go out before the next flow ack.
    pub fn must_wait(&self) -> bool {
        self.acked + u64::from(self.flow) * u64::from(self.max_outstanding_acks.max(1)) <= self.sent
    }

    /// A wait for a reply ended at its deadline.
    pub fn timed_out(&mut self) -> FastError {
        self.fail(FastError::AckTimeout {
            sent: self.sent,
            acked_through: self.acked,
        })
    }

    /// What to send when a wait for flow acks goes quiet: a ping at the highest seq sent, which
    /// the server answers with its latest flow ack, or with a gap report when messages up to
    /// that seq did not all arrive.
    pub fn ping(&self) -> (u64, Op) {
        (self.sent, Op::Ping)
    }

    /// Takes in one reply that arrived at `at_ns` (run clock).
    pub fn on_reply(&mut self, reply: Reply, at_ns: u64) {
        match reply {
            Reply::FlowAck { seq, msgs } => self.on_ack(seq, msgs, at_ns),
            Reply::Gap {
                first_missing,
                next_received,
            } => self.on_gap(first_missing, next_received),
            Reply::Rejected { seq, error } => self.on_rejected(seq, error),
            Reply::Error { seq, op, error } => self.on_error(seq, op, error),
            Reply::PubAck { stream_seq, count } => {
                self.final_ack = Some(FinalAck {
                    last_stream_seq: stream_seq,
                    count,
                    at_ns,
                });
                self.fail(FastError::Ended);
            }
            Reply::NoResponders => {
                self.fail(FastError::NoResponders);
            }
            Reply::Unreadable(what) => {
                self.fail(FastError::Protocol(what));
            }
        }
    }

    fn on_ack(&mut self, seq: u64, msgs: Option<u16>, at_ns: u64) {
        if let Some(m) = msgs {
            self.flow = m.max(1);
        }
        // Cumulative: a later ack covers a lost earlier one.
        self.acked = self.acked.max(seq);
        self.acks.push(FlowAck {
            batch_seq: self.acked,
            flow: self.flow,
            at_ns,
        });
    }

    fn on_gap(&mut self, first_missing: u64, next_received: u64) {
        self.gaps.push(Gap {
            first_missing,
            next_received,
        });
        if self.gap == GapMode::Fail {
            self.fail(FastError::GapEnded {
                first_missing,
                next_received,
            });
        }
    }

    fn on_rejected(&mut self, batch_seq: u64, error: ApiError) {
        if self.gap == GapMode::Fail {
            self.fail(FastError::RejectedEnded {
                batch_seq,
                error: error.clone(),
            });
        }
        self.errors.push(BatchError {
            batch_seq,
            kind: ErrorKind::Flow,
            error,
        });
    }

    /// A pub-ack shaped error on the reply subject of `batch_seq`.
    fn on_error(&mut self, batch_seq: u64, op: Option<Op>, error: ApiError) {
        let kind = match op {
            Some(op) if op.is_data() => ErrorKind::Reply,
            _ => ErrorKind::Control,
        };
        self.errors.push(BatchError {
            batch_seq,
            kind,
            error: error.clone(),
        });
        if error.err_code == codes::QUEUE_FULL || self.final_ack.is_some() {
            // 10167: only this message was dropped; the gap is reported at the next one.
            // After the final ack: whatever was sent after the end (messages, a second end of
            // batch) is refused with 10208; none of it is part of the batch.
            return;
        }
        self.final_err.get_or_insert((batch_seq, error.clone()));
        self.fail(FastError::Api { batch_seq, error });
    }

    /// After the start message: `None` while its reply is awaited, then whether the batch
    /// goes on. A plain pub ack means the server stored message 1 as an ordinary message.
    pub fn started(&mut self) -> Option<Result<(), FastError>> {
        if self.acks.is_empty() {
            if let Some(f) = self.final_ack {
                let e = FastError::Unsupported {
                    stream_seq: f.last_stream_seq,
                };
                self.dead = Some(e.clone());
                return Some(Err(e));
            }
            return self.dead.clone().map(Err);
        }
        Some(self.dead.clone().map_or(Ok(()), Err))
    }

    /// What ending the batch takes now (see [`EndStep`]).
    pub fn end_step(&self) -> EndStep {
        if let Some(e @ FastError::Unsupported { .. }) = &self.dead {
            return EndStep::Done(Err(e.clone()));
        }
        if self.has_ended() {
            return EndStep::Done(self.outcome());
        }
        match &self.dead {
            // Nothing was ever sent: no batch exists.
            None | Some(FastError::AckTimeout { .. }) if self.sent == 0 => EndStep::Done(Ok(())),
            // Not ended yet (or a flow ack was late): end it ourselves.
            None | Some(FastError::AckTimeout { .. }) => EndStep::SendEnd,
            // The server ended it (fail mode); its final ack is on the way.
            Some(FastError::GapEnded { .. } | FastError::RejectedEnded { .. }) => {
                EndStep::AwaitServerEnd
            }
            Some(e) => EndStep::Done(Err(e.clone())),
        }
    }

    /// The end of batch: op 3 at the seq after the last message, neither stored nor counted.
    pub fn end(&self) -> (u64, Op) {
        (self.sent + 1, Op::EndOfBatch)
    }

    /// What to send while the final ack is awaited and nothing comes: the end of batch again when
    /// we sent one (it may have been lost: in gap mode `ok` the server then waits for more),
    /// else a ping (the server ended the batch; its final ack may have been lost). A second end
    /// after the batch ended is refused with 10208, which [`Session::on_reply`] ignores once the
    /// final ack is in.
    pub fn final_nudge(&self, end_sent: bool) -> (u64, Op) {
        if end_sent {
            self.end()
        } else {
            self.ping()
        }
    }

    /// The final ack, or an error reply in its place, has arrived.
    pub fn has_ended(&self) -> bool {
        self.final_ack.is_some() || self.final_err.is_some()
    }

    /// While the final ack is awaited: an error that makes waiting on pointless.
    pub fn hopeless(&self) -> Option<FastError> {
        match &self.dead {
            Some(
                e @ (FastError::NoResponders | FastError::InboxClosed | FastError::Protocol(_)),
            ) => Some(e.clone()),
            _ => None,
        }
    }

    /// How the batch ended once it has: cleanly, or with the error reply that ended it.
    pub fn outcome(&self) -> Result<(), FastError> {
        match &self.final_err {
            Some((batch_seq, error)) => Err(FastError::Api {
                batch_seq: *batch_seq,
                error: error.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Everything the server said, taken out of the session.
    pub fn summary(&mut self) -> FastSummary {
        FastSummary {
            sent: self.sent,
            final_ack: self.final_ack,
            acks: std::mem::take(&mut self.acks),
            gaps: std::mem::take(&mut self.gaps),
            errors: std::mem::take(&mut self.errors),
            flow: self.flow,
            gap: self.gap,
        }
    }
}
