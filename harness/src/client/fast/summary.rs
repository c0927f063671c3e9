//! What the server said about one batch ([`FastSummary`]), and what that says about each of its
//! messages: its fate ([`MsgFate`]), its stream sequence counted back from the final ack, when
//! the client learnt it was persisted, how the phase records it ([`MsgEnd`]); and the batch's
//! share of the run's fast-ingest figures.

use super::error::{code_name, BatchError, ErrorKind, FastError};
use crate::record::history::{FastFigures, Outcome};
use crate::scenario::GapMode;

/// One flow ack as it came back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowAck {
    /// Batch seqs up to here are persisted (0: the reply to the start message).
    pub batch_seq: u64,
    /// The flow the server uses from now on.
    pub flow: u16,
    /// When the publisher took it in, on the run clock.
    pub at_ns: u64,
}

/// A gap the server reported: batch seqs `first_missing..next_received` never reached the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    pub first_missing: u64,
    pub next_received: u64,
}

/// The final pub ack of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FinalAck {
    /// Stream sequence of the batch's last stored message.
    pub last_stream_seq: u64,
    /// Last batch sequence the server took into the batch (0 in a plain pub ack).
    pub count: u64,
    pub at_ns: u64,
}

/// How a batch ended: everything the server said, and why the final ack is missing (or the
/// batch was refused) when it is.
#[derive(Debug)]
pub struct FastEnd {
    pub summary: FastSummary,
    pub error: Option<FastError>,
}

/// Everything the server said about one batch.
#[derive(Debug, Clone, Default)]
pub struct FastSummary {
    /// Data messages sent (batch seqs 1..=sent; the EOB marker excluded).
    pub sent: u64,
    pub final_ack: Option<FinalAck>,
    /// Flow acks in arrival order (batch seqs non-decreasing), the start reply first.
    pub acks: Vec<FlowAck>,
    pub gaps: Vec<Gap>,
    pub errors: Vec<BatchError>,
    /// The flow the server asked for last.
    pub flow: u16,
    pub gap: GapMode,
}

/// What the summary says about one batch sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsgFate {
    /// Covered by the final ack and not reported missing or rejected.
    Stored,
    /// Inside a reported gap.
    Missing,
    /// Refused by a reported error.
    Rejected,
    /// After the final ack's count: the server had ended the batch before it.
    NotStored,
    /// No final ack to judge by.
    Unknown,
}

impl FastSummary {
    fn in_gap(&self, n: u64) -> bool {
        self.gaps
            .iter()
            .any(|g| n >= g.first_missing && n < g.next_received)
    }

    fn count(&self) -> Option<u64> {
        self.final_ack.map(|f| f.count)
    }

    /// The error reported for `batch_seq` that means it was not stored: a per-message check, or
    /// a reply error within the batch (past the final count they are the 10208s for messages
    /// sent after the end, which [`MsgFate::NotStored`] covers).
    pub fn error_at(&self, batch_seq: u64) -> Option<&BatchError> {
        let count = self.count();
        self.errors.iter().find(|e| {
            e.batch_seq == batch_seq
                && match e.kind {
                    ErrorKind::Flow => true,
                    ErrorKind::Reply => count.is_none_or(|c| batch_seq <= c),
                    ErrorKind::Control => false,
                }
        })
    }

    pub fn fate(&self, batch_seq: u64) -> MsgFate {
        if batch_seq == 0 || batch_seq > self.sent.max(self.count().unwrap_or(0)) {
            return MsgFate::Unknown;
        }
        if self.in_gap(batch_seq) {
            return MsgFate::Missing;
        }
        if self.error_at(batch_seq).is_some() {
            return MsgFate::Rejected;
        }
        if self.ended_before(batch_seq) {
            return MsgFate::NotStored;
        }
        match self.count() {
            Some(c) if batch_seq <= c => MsgFate::Stored,
            Some(_) => MsgFate::NotStored,
            None => MsgFate::Unknown,
        }
    }

    /// Gap mode `fail`: the server ends the batch at the first gap or refused message, so nothing
    /// after it is stored, whether its final ack came back or not.
    fn ended_before(&self, n: u64) -> bool {
        self.gap == GapMode::Fail
            && (self.gaps.iter().any(|g| n >= g.next_received)
                || self
                    .errors
                    .iter()
                    .any(|e| e.kind == ErrorKind::Flow && n > e.batch_seq))
    }

    /// Stream sequence of stored message `batch_seq`: the final ack's, less the stored messages
    /// after it (see the module comment for when this holds). O(gaps + errors).
    pub fn stream_seq(&self, batch_seq: u64) -> Option<u64> {
        if self.fate(batch_seq) != MsgFate::Stored {
            return None;
        }
        let f = self.final_ack?;
        let mut after = f.count.saturating_sub(batch_seq);
        for g in &self.gaps {
            let lo = g.first_missing.max(batch_seq + 1);
            let hi = g.next_received.min(f.count.saturating_add(1));
            if hi > lo {
                after = after.saturating_sub(hi - lo);
            }
        }
        for e in &self.errors {
            if e.batch_seq > batch_seq && e.batch_seq <= f.count && !self.in_gap(e.batch_seq) {
                after = after.saturating_sub(1);
            }
        }
        f.last_stream_seq.checked_sub(after)
    }

    /// When the client learnt that `batch_seq` was persisted (run clock): the first flow ack
    /// covering it, else the final ack. `from` is where to start looking in `acks` (the caller
    /// walks batch seqs upwards); returns the time and the position for the next call.
    pub fn acked_at_ns(&self, batch_seq: u64, from: usize) -> (Option<u64>, usize) {
        let mut i = from;
        while self.acks.get(i).is_some_and(|a| a.batch_seq < batch_seq) {
            i += 1;
        }
        let at = match (self.acks.get(i), self.final_ack) {
            (Some(a), _) => Some(a.at_ns),
            (None, Some(f)) if batch_seq <= f.count => Some(f.at_ns),
            _ => None,
        };
        (at, i)
    }
}

/// How the phase records one message of a finished batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MsgEnd {
    /// Stored at stream sequence `seq`; the client learnt it at `at_ns` (run clock).
    Acked { seq: u64, at_ns: u64 },
    /// Failed or unknown, with the error's name and reply code.
    Failed(Outcome, &'static str, u32),
}

impl FastSummary {
    /// What the summary says about batch message `n`, given why the batch ended early (`why`);
    /// `cursor` walks the flow acks (batch seqs go upwards) and is returned for the next message.
    /// `end_ns` stands in for an ack time the summary lacks.
    pub fn verdict(
        &self,
        why: Option<&FastError>,
        n: u64,
        cursor: usize,
        end_ns: u64,
    ) -> (MsgEnd, usize) {
        if let (1, Some(FastError::Unsupported { stream_seq })) = (n, why) {
            // Stored as an ordinary message, and the plain pub ack said where.
            let at_ns = self.final_ack.map_or(end_ns, |f| f.at_ns);
            let seq = *stream_seq;
            return (MsgEnd::Acked { seq, at_ns }, cursor);
        }
        if n > self.sent {
            // The client could not put it on the wire.
            let e = why.map_or("broken_pipe", FastError::name);
            return (MsgEnd::Failed(Outcome::Fail, e, 0), cursor);
        }
        let failed = |e: &'static str, code: u32| (MsgEnd::Failed(Outcome::Fail, e, code), cursor);
        match self.fate(n) {
            MsgFate::Stored => {
                let (at, next) = self.acked_at_ns(n, cursor);
                match self.stream_seq(n) {
                    Some(seq) => (
                        MsgEnd::Acked {
                            seq,
                            at_ns: at.unwrap_or(end_ns),
                        },
                        next,
                    ),
                    // The final ack's numbers do not add up: say so rather than guess.
                    None => (MsgEnd::Failed(Outcome::Unknown, "fast_protocol", 0), next),
                }
            }
            MsgFate::Missing => failed("fast_gap", 0),
            MsgFate::Rejected => {
                let code = self.error_at(n).map_or(0, |e| e.error.err_code);
                failed(code_name(code), code)
            }
            MsgFate::NotStored => failed("fast_batch_ended", 0),
            MsgFate::Unknown => match why {
                Some(e) if e.refused_at_start() => failed(e.name(), e.code()),
                Some(e) => (MsgEnd::Failed(Outcome::Unknown, e.name(), e.code()), cursor),
                None => (MsgEnd::Failed(Outcome::Unknown, "timed_out", 0), cursor),
            },
        }
    }

    /// Adds this batch's flow acks, gaps and errors to the phase's figures.
    pub fn add_to(&self, f: &mut FastFigures) {
        f.batches += 1;
        f.flow_acks += self.acks.iter().filter(|a| a.batch_seq > 0).count() as u64;
        f.gaps_reported += self.gaps.len() as u64;
        f.gap_messages += self
            .gaps
            .iter()
            .map(|g| g.next_received.saturating_sub(g.first_missing))
            .sum::<u64>();
        f.errors_reported += self.errors.len() as u64;
        if self.flow > 0 {
            f.final_flow = self.flow;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::fast::error::ApiError;

    fn summary(sent: u64, count: Option<u64>, last_stream_seq: u64) -> FastSummary {
        FastSummary {
            sent,
            final_ack: count.map(|count| FinalAck {
                last_stream_seq,
                count,
                at_ns: 900,
            }),
            ..FastSummary::default()
        }
    }

    #[test]
    fn a_whole_batch_counts_back_from_the_final_ack() {
        let mut s = summary(10, Some(10), 110);
        s.acks = vec![
            FlowAck {
                batch_seq: 0,
                flow: 4,
                at_ns: 10,
            },
            FlowAck {
                batch_seq: 4,
                flow: 4,
                at_ns: 50,
            },
            FlowAck {
                batch_seq: 8,
                flow: 4,
                at_ns: 80,
            },
        ];
        assert_eq!(s.fate(1), MsgFate::Stored);
        assert_eq!(s.stream_seq(1), Some(101));
        assert_eq!(s.stream_seq(10), Some(110));
        assert_eq!(s.acked_at_ns(1, 0), (Some(50), 1));
        assert_eq!(s.acked_at_ns(5, 1), (Some(80), 2));
        assert_eq!(s.acked_at_ns(9, 2), (Some(900), 3));
        assert_eq!(s.fate(11), MsgFate::Unknown);
    }

    #[test]
    fn gaps_and_errors_are_not_stored_and_do_not_count() {
        // Gap mode ok: 3..5 missing, 7 rejected; 10 sent, all taken.
        let mut s = summary(10, Some(10), 56);
        s.gap = GapMode::Ok;
        s.gaps.push(Gap {
            first_missing: 3,
            next_received: 5,
        });
        s.errors.push(BatchError {
            batch_seq: 7,
            kind: ErrorKind::Flow,
            error: ApiError {
                code: 400,
                err_code: 10071,
                description: "wrong last sequence".into(),
            },
        });
        assert_eq!(s.fate(3), MsgFate::Missing);
        assert_eq!(s.fate(7), MsgFate::Rejected);
        assert_eq!(s.stream_seq(10), Some(56));
        assert_eq!(s.stream_seq(8), Some(54));
        assert_eq!(s.stream_seq(6), Some(53));
        assert_eq!(s.stream_seq(2), Some(51));
        // Gap mode fail: the server ended the batch at 4; 5.. were sent but not taken.
        let mut f = summary(9, Some(4), 4);
        f.gaps.push(Gap {
            first_missing: 5,
            next_received: 7,
        });
        assert_eq!(f.fate(4), MsgFate::Stored);
        assert_eq!(f.fate(6), MsgFate::Missing);
        assert_eq!(f.fate(8), MsgFate::NotStored);
        // Without the final ack, fail mode still knows nothing after the gap was stored.
        f.final_ack = None;
        assert_eq!(f.fate(8), MsgFate::NotStored);
        assert_eq!(f.fate(3), MsgFate::Unknown);
        assert_eq!(summary(9, None, 0).fate(3), MsgFate::Unknown);
    }

    #[test]
    fn nonsense_from_the_server_does_not_panic() {
        // Overlapping gaps beyond the count and a final ack below its own count.
        let mut s = summary(5, Some(5), 2);
        s.gaps.push(Gap {
            first_missing: 0,
            next_received: u64::MAX,
        });
        s.gaps.push(Gap {
            first_missing: 2,
            next_received: 9,
        });
        assert_eq!(s.stream_seq(1), None);
        let s = summary(5, Some(5), 2);
        assert_eq!(s.stream_seq(1), None, "counting back below stream seq 1");
    }
}
