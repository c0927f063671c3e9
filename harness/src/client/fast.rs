//! The fast-ingest batch protocol on the wire (ADR-50 "Fast-ingest Batch Publishing",
//! nats-server 2.14+), for `mode = "fast"`. `fast_batch.rs` is the phase loop that drives it.
//!
//! * Every message of a batch is a plain `PUB` whose reply subject carries the control state:
//!   `<inbox>.<flow>.<gap: ok|fail>.<batch seq>.<op>.$FI`, where the inbox's last token is the
//!   batch id (at most 64 characters) and op is 0 start (seq 1), 1 append, 2 commit storing this
//!   message, 3 commit without storing it (EOB, seq = last + 1), 4 ping (seq = highest sent).
//!   jsbench ends every batch with EOB.
//! * The client subscribes to `<inbox>.>`; the server answers there, on the reply subject of the
//!   message that triggered the answer:
//!   - `{"type":"ack","seq":N,"msgs":M}` flow ack: batch seqs up to N are persisted (gap `fail`:
//!     all of them; gap `ok`: all but reported gaps and errors); the next one comes M messages
//!     later. The start message's reply is `{"type":"ack","seq":0,"msgs":M}`, sent before message
//!     1 is stored. The server adapts M (never above the requested flow, nor 500).
//!   - `{"type":"gap","last_seq":A,"seq":B}`: batch seqs `A..B` never reached the stream. Gap
//!     `fail`: the server ends the batch before B and sends the final ack; `ok`: B is stored.
//!   - `{"type":"err","seq":N,"error":{..}}`: message N failed a per-message check; gap `fail`
//!     ends the batch there.
//!   - the final pub ack `{"stream","seq" (stream seq of the last stored message),"batch","count"
//!     (last batch seq taken into the batch)}` after commit/EOB, or when the server ended it.
//!   - pub-ack shaped errors `{"error":{"code","err_code","description"}}`: 10205 not enabled on
//!     the stream, 10206 bad pattern, 10207 bad id, 10208 unknown batch (e.g. abandoned after the
//!     server's 10 s batch timeout), 10211 too many batches in flight, 10167 (429) the stream's
//!     ingest queue dropped this one message (the gap is reported at the next one).
//!   - a server that does not know fast ingest stores message 1 as an ordinary message and
//!     answers with a plain pub ack; that is found out at the start reply.
//! * Flow acks carry batch sequences only; the only stream sequence the protocol gives is the
//!   final ack's. Per-message stream sequences are derived by counting back from it
//!   ([`FastSummary::stream_seq`]): valid while nobody else writes to the stream during the batch
//!   and no message is a `Nats-Msg-Id` duplicate (the server skips those silently).
//!
//! The publisher is driven inline (no background task, no locks): `publish` takes in whatever
//! already arrived, sends, then waits only while `acked + flow × max_outstanding_acks <= sent`;
//! while it waits it pings every third of the ack timeout, so a lost flow ack (a reconnect)
//! cannot stall it, and while it awaits the final ack it sends the end of batch again, so a lost
//! end of batch cannot either. Every wait ends at the ack timeout. Nothing the server sends can panic it:
//! an unreadable reply ends the batch as a protocol error.

use std::fmt::Write as _;
use std::time::Duration;

use async_nats::{Client, HeaderMap, Message, StatusCode, Subject, Subscriber};
use bytes::Bytes;
use futures::{FutureExt, StreamExt};
use serde::Deserialize;

use crate::record::observe::Clock;
use crate::scenario::GapMode;

/// Why a publish or subscribe failed when the client would not take it in time: its queue is
/// full while it reconnects. Every wait here ends at the ack timeout.
const NOT_TAKEN: &str = "the client did not take it within the ack timeout (reconnecting?)";

/// JetStream error codes of fast ingest (the server's errors.json).
pub mod codes {
    /// "batch publish is disabled" (the stream lacks `allow_batched`).
    pub const DISABLED: u32 = 10205;
    /// "batch publish reply subject pattern is invalid".
    pub const BAD_PATTERN: u32 = 10206;
    /// "batch publish id is invalid".
    pub const BAD_ID: u32 = 10207;
    /// "batch publish batch is unknown" (ended, or abandoned after the batch timeout).
    pub const UNKNOWN_BATCH: u32 = 10208;
    /// "batch publish too many inflight".
    pub const TOO_MANY_INFLIGHT: u32 = 10211;
    /// "too many requests" (429): the stream's ingest queue dropped this one message.
    pub const QUEUE_FULL: u32 = 10167;
}

/// The gap mode's token in the reply subject.
fn gap_token(gap: GapMode) -> &'static str {
    match gap {
        GapMode::Ok => "ok",
        GapMode::Fail => "fail",
    }
}

/// How one fast batch is published.
#[derive(Debug, Clone, Copy)]
pub struct FastOptions {
    /// Requested (maximum) ack interval in messages.
    pub flow: u16,
    /// Flow acks that may be outstanding before `publish` waits.
    pub max_outstanding_acks: u16,
    pub gap: GapMode,
    /// Longest wait for one awaited reply; pings go out every third of it while waiting.
    pub ack_timeout: Duration,
}

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

/// An error reply of the server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{description} (code {code}, err_code {err_code})")]
pub struct ApiError {
    /// HTTP-like code (400, 429, 503 …).
    pub code: u16,
    /// JetStream error code (10205 …).
    pub err_code: u32,
    pub description: String,
}

/// How a server error reached the publisher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// `{"type":"err",..}`: the message failed a per-message check and was not stored.
    Flow,
    /// A pub-ack shaped error sent to the message's reply subject.
    Reply,
    /// A pub-ack shaped error answering a ping or the end of batch: about the batch (e.g. 10208
    /// unknown batch), not about a message.
    Control,
}

/// An error the server reported about one batch sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchError {
    pub batch_seq: u64,
    pub kind: ErrorKind,
    pub error: ApiError,
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

/// Why a batch could not go on, or ended without its final ack.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FastError {
    #[error("subscribing to the batch inbox: {0}")]
    Subscribe(String),
    #[error("publishing: {0}")]
    Publish(String),
    /// No stream listens on the subject (503 to the start message).
    #[error("no stream listens on the subject (no responders)")]
    NoResponders,
    /// The server refused the batch or ended it with an error.
    #[error("server error at batch seq {batch_seq}: {error}")]
    Api { batch_seq: u64, error: ApiError },
    #[error("no reply within the ack timeout: sent {sent}, acked through {acked_through}")]
    AckTimeout { sent: u64, acked_through: u64 },
    /// Gap mode `fail`: the server reported a gap and ended the batch.
    #[error("gap {first_missing}..{next_received} ended the batch (gap mode fail)")]
    GapEnded {
        first_missing: u64,
        next_received: u64,
    },
    /// Gap mode `fail`: a message failed a check and the server ended the batch.
    #[error("message {batch_seq} rejected, batch ended (gap mode fail): {error}")]
    RejectedEnded { batch_seq: u64, error: ApiError },
    /// The final ack already arrived: the server ended the batch.
    #[error("the server already ended the batch")]
    Ended,
    /// The server stored message 1 as an ordinary message (plain pub ack at `stream_seq`).
    #[error("the server stored the start message as an ordinary message (stream seq {stream_seq}): it does not know fast ingest")]
    Unsupported { stream_seq: u64 },
    #[error("the batch inbox subscription closed")]
    InboxClosed,
    #[error("unexpected reply: {0}")]
    Protocol(String),
}

impl FastError {
    /// A short, stable name for result.json's `errors`.
    pub fn name(&self) -> &'static str {
        match self {
            FastError::Subscribe(_) | FastError::Publish(_) | FastError::InboxClosed => {
                "broken_pipe"
            }
            FastError::NoResponders => "no_responders",
            FastError::Api { error, .. } | FastError::RejectedEnded { error, .. } => {
                code_name(error.err_code)
            }
            FastError::AckTimeout { .. } => "timed_out",
            FastError::GapEnded { .. } => "fast_gap",
            FastError::Ended => "fast_batch_ended",
            FastError::Unsupported { .. } => "fast_unsupported",
            FastError::Protocol(_) => "fast_protocol",
        }
    }

    /// The reply's code: the JetStream `err_code` of an error reply, 503 for no responders.
    pub fn code(&self) -> u32 {
        match self {
            FastError::Api { error, .. } | FastError::RejectedEnded { error, .. } => error.err_code,
            FastError::NoResponders => crate::client::NO_RESPONDERS,
            _ => 0,
        }
    }

    /// The server refused the batch at its start message: nothing of it is stored.
    pub fn refused_at_start(&self) -> bool {
        matches!(
            self,
            FastError::NoResponders | FastError::Api { batch_seq: 1, .. }
        )
    }

    /// Why no fast batch can succeed on this server or stream, when that is what this says.
    pub fn fatal(&self) -> Option<String> {
        let code = self.code();
        match self {
            FastError::Unsupported { .. } => Some(format!(
                "fast ingest needs nats-server 2.14 or later and a stream with allow_batched: {self}"
            )),
            FastError::Api { .. } if code == codes::DISABLED => Some(format!(
                "fast ingest needs nats-server 2.14 or later and a stream with allow_batched: {self}"
            )),
            FastError::Api { .. } if code == codes::BAD_PATTERN || code == codes::BAD_ID => {
                Some(format!("the server refused the fast-ingest reply subject: {self}"))
            }
            _ => None,
        }
    }
}

/// The name of a fast-ingest error code in result.json's `errors`.
pub fn code_name(err_code: u32) -> &'static str {
    match err_code {
        codes::DISABLED => "fast_disabled",
        codes::BAD_PATTERN => "fast_bad_pattern",
        codes::BAD_ID => "fast_bad_id",
        codes::UNKNOWN_BATCH => "fast_unknown_batch",
        codes::TOO_MANY_INFLIGHT => "fast_too_many_inflight",
        codes::QUEUE_FULL => "fast_queue_full",
        _ => "fast_rejected",
    }
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

const OP_START: u8 = 0;
const OP_APPEND: u8 = 1;
const OP_COMMIT: u8 = 2;
const OP_EOB: u8 = 3;
const OP_PING: u8 = 4;

/// One fast batch on one connection. Not for concurrent use (`&mut self`).
pub struct FastPublisher {
    client: Client,
    sub: Option<Subscriber>,
    /// `<inbox>.<flow>.<gap>.`
    reply_prefix: String,
    opts: FastOptions,
    clock: Clock,
    /// Highest batch seq sent (data messages).
    seq: u64,
    acked: u64,
    flow: u16,
    last_subject: Option<Subject>,
    acks: Vec<FlowAck>,
    gaps: Vec<Gap>,
    errors: Vec<BatchError>,
    final_ack: Option<FinalAck>,
    final_err: Option<(u64, ApiError)>,
    /// Why publishing must stop.
    dead: Option<FastError>,
}

/// Every shape the server sends to the inbox, in one borrowed struct (no allocation for acks).
#[derive(Deserialize)]
struct Wire<'a> {
    #[serde(rename = "type", default, borrow)]
    ty: Option<&'a str>,
    #[serde(default)]
    seq: Option<u64>,
    #[serde(default)]
    msgs: Option<u16>,
    #[serde(default)]
    last_seq: Option<u64>,
    #[serde(default)]
    error: Option<WireErr>,
    #[serde(default, borrow)]
    stream: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    count: Option<u64>,
}

#[derive(Deserialize)]
struct WireErr {
    #[serde(default)]
    code: u16,
    #[serde(default)]
    err_code: u32,
    #[serde(default)]
    description: String,
}

impl From<WireErr> for ApiError {
    fn from(e: WireErr) -> ApiError {
        ApiError {
            code: e.code,
            err_code: e.err_code,
            description: e.description,
        }
    }
}

impl FastPublisher {
    /// Subscribes to a fresh `<inbox>.>`; the batch itself starts with the first `publish`,
    /// which waits for the server's start reply.
    pub async fn start(client: Client, opts: FastOptions, clock: Clock) -> Result<Self, FastError> {
        let inbox = client.new_inbox();
        let subscribing = client.subscribe(Subject::from(format!("{inbox}.>")));
        let sub = match tokio::time::timeout(opts.ack_timeout, subscribing).await {
            Ok(r) => r.map_err(|e| FastError::Subscribe(e.to_string()))?,
            Err(_) => return Err(FastError::Subscribe(NOT_TAKEN.into())),
        };
        let reply_prefix = format!("{inbox}.{}.{}.", opts.flow, gap_token(opts.gap));
        Ok(FastPublisher {
            client,
            sub: Some(sub),
            reply_prefix,
            flow: opts.flow.max(1),
            opts,
            clock,
            seq: 0,
            acked: 0,
            last_subject: None,
            acks: Vec::new(),
            gaps: Vec::new(),
            errors: Vec::new(),
            final_ack: None,
            final_err: None,
            dead: None,
        })
    }

    /// Takes in the replies that already arrived, without waiting; true while the batch can go
    /// on. Call it before building the next message: `publish` does not drain first, so the
    /// message it is given goes out unless the batch had already ended here.
    pub fn ready(&mut self) -> bool {
        let _ = self.drain_ready();
        self.dead.is_none()
    }

    fn reply(&self, seq: u64, op: u8) -> Subject {
        let mut s = String::with_capacity(self.reply_prefix.len() + 26);
        s.push_str(&self.reply_prefix);
        let _ = write!(s, "{seq}.{op}.$FI");
        Subject::from(s)
    }

    /// Sends one message of the batch; returns its batch sequence (from 1). The first call waits
    /// for the start reply; later calls wait only when flow control says so. After an error the
    /// message may have gone out (a refused start, an ack timeout) or not (the client is gone):
    /// the summary's `sent` says which.
    pub async fn publish(
        &mut self,
        subject: Subject,
        headers: HeaderMap,
        payload: Bytes,
    ) -> Result<u64, FastError> {
        if let Some(e) = &self.dead {
            return Err(e.clone());
        }
        let seq = self.seq + 1;
        let op = if seq == 1 { OP_START } else { OP_APPEND };
        self.send(subject, headers, payload, seq, op).await?;
        self.seq = seq;
        if seq == 1 {
            self.await_start().await?;
        } else {
            self.wait_for_window().await?;
        }
        Ok(seq)
    }

    /// The start reply says whether the stream takes the batch, and the initial flow.
    async fn await_start(&mut self) -> Result<(), FastError> {
        let deadline = tokio::time::Instant::now() + self.opts.ack_timeout;
        while self.acks.is_empty() && self.dead.is_none() {
            self.wait_one(deadline, None).await?;
        }
        if let (true, Some(f)) = (self.acks.is_empty(), self.final_ack) {
            // A plain pub ack to the start message: the server stored it as an ordinary one.
            let e = FastError::Unsupported {
                stream_seq: f.last_stream_seq,
            };
            self.dead = Some(e.clone());
            return Err(e);
        }
        match &self.dead {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    async fn send(
        &mut self,
        subject: Subject,
        headers: HeaderMap,
        payload: Bytes,
        seq: u64,
        op: u8,
    ) -> Result<(), FastError> {
        let reply = self.reply(seq, op);
        let client = &self.client;
        let queued = async {
            if headers.is_empty() {
                client
                    .publish_with_reply(subject.clone(), reply, payload)
                    .await
            } else {
                client
                    .publish_with_reply_and_headers(subject.clone(), reply, headers, payload)
                    .await
            }
        };
        match tokio::time::timeout(self.opts.ack_timeout, queued).await {
            Ok(r) => r.map_err(|e| FastError::Publish(e.to_string()))?,
            Err(_) => return Err(FastError::Publish(NOT_TAKEN.into())),
        }
        self.last_subject = Some(subject);
        Ok(())
    }

    /// Sends an empty control message (ping, end of batch) on the last message's subject.
    async fn control(&self, seq: u64, op: u8) -> Result<(), FastError> {
        let Some(subject) = self.last_subject.clone() else {
            return Ok(());
        };
        let queued = self
            .client
            .publish_with_reply(subject, self.reply(seq, op), Bytes::new());
        match tokio::time::timeout(self.opts.ack_timeout, queued).await {
            Ok(r) => r.map_err(|e| FastError::Publish(e.to_string())),
            Err(_) => Err(FastError::Publish(NOT_TAKEN.into())),
        }
    }

    fn must_wait(&self) -> bool {
        self.acked + u64::from(self.flow) * u64::from(self.opts.max_outstanding_acks.max(1))
            <= self.seq
    }

    async fn wait_for_window(&mut self) -> Result<(), FastError> {
        if !self.must_wait() {
            return Ok(());
        }
        let deadline = tokio::time::Instant::now() + self.opts.ack_timeout;
        while self.must_wait() && self.dead.is_none() {
            self.wait_one(deadline, Some((self.seq, OP_PING))).await?;
        }
        match &self.dead {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// Takes in replies as they arrive until `deadline` (run clock), without pinging: the wait
    /// of an open-loop pacer between two messages, so flow acks are timed when they arrive.
    pub async fn idle_until(&mut self, deadline_ns: u64) {
        let until = tokio::time::Instant::from_std(self.clock.instant_at(deadline_ns));
        while let Some(sub) = self.sub.as_mut() {
            match tokio::time::timeout_at(until, sub.next()).await {
                Ok(Some(msg)) => self.handle(msg),
                Ok(None) => {
                    self.dead.get_or_insert(FastError::InboxClosed);
                    self.sub = None;
                }
                Err(_) => return,
            }
        }
    }

    /// Waits for one inbox message (handling it) until `deadline`. Every third of the ack
    /// timeout without one it sends `nudge` (batch seq, op), if given: a ping (op 4, seq =
    /// highest sent), which the server answers with its latest flow ack, or with a gap report
    /// when messages up to that seq did not all arrive; or the end of batch again, in case the
    /// first one was lost (a second one after the batch ended is refused with 10208, after the
    /// final ack the first one got).
    async fn wait_one(
        &mut self,
        deadline: tokio::time::Instant,
        nudge: Option<(u64, u8)>,
    ) -> Result<(), FastError> {
        let interval = (self.opts.ack_timeout / 3).max(Duration::from_millis(1));
        loop {
            let now = tokio::time::Instant::now();
            if now >= deadline {
                let e = FastError::AckTimeout {
                    sent: self.seq,
                    acked_through: self.acked,
                };
                self.dead.get_or_insert(e.clone());
                return Err(e);
            }
            let until = match nudge {
                Some(_) => deadline.min(now + interval),
                None => deadline,
            };
            let sub = self.sub.as_mut().ok_or(FastError::InboxClosed)?;
            match tokio::time::timeout_at(until, sub.next()).await {
                Ok(Some(msg)) => {
                    self.handle(msg);
                    return Ok(());
                }
                Ok(None) => {
                    self.dead.get_or_insert(FastError::InboxClosed);
                    return Err(FastError::InboxClosed);
                }
                Err(_) => match nudge {
                    Some((seq, op)) if until < deadline => self.control(seq, op).await?,
                    _ => {}
                },
            }
        }
    }

    /// Handles whatever is already in the inbox, without waiting.
    fn drain_ready(&mut self) -> Result<(), FastError> {
        while let Some(sub) = self.sub.as_mut() {
            match sub.next().now_or_never() {
                Some(Some(msg)) => self.handle(msg),
                Some(None) => {
                    self.dead.get_or_insert(FastError::InboxClosed);
                    return Err(FastError::InboxClosed);
                }
                None => return Ok(()),
            }
        }
        Ok(())
    }

    /// Batch seq and op of a reply subject `<inbox>.<flow>.<gap>.<seq>.<op>.$FI` (0 and
    /// `u8::MAX` where unreadable).
    fn seq_of_subject(subject: &str) -> (u64, u8) {
        let mut it = subject.rsplit('.').skip(1);
        let op = it.next().and_then(|s| s.parse().ok()).unwrap_or(u8::MAX);
        let seq = it.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        (seq, op)
    }

    fn handle(&mut self, msg: Message) {
        let at_ns = self.clock.now_ns();
        if msg.status == Some(StatusCode::NO_RESPONDERS) {
            self.dead.get_or_insert(FastError::NoResponders);
            return;
        }
        let w: Wire<'_> = match serde_json::from_slice(&msg.payload) {
            Ok(w) => w,
            Err(e) => {
                let text = String::from_utf8_lossy(&msg.payload);
                self.dead.get_or_insert(FastError::Protocol(format!(
                    "{e}: status {:?} {text:?}",
                    msg.status
                )));
                return;
            }
        };
        match w.ty {
            Some("ack") => self.on_ack(&w, at_ns),
            Some("gap") => self.on_gap(&w),
            Some("err") => self.on_err(w),
            Some(other) => {
                let e = FastError::Protocol(format!("unknown reply type {other:?}"));
                self.dead.get_or_insert(e);
            }
            None => self.on_pub_ack(w, msg.subject.as_str(), at_ns),
        }
    }

    fn on_ack(&mut self, w: &Wire<'_>, at_ns: u64) {
        let seq = w.seq.unwrap_or(0);
        if let Some(m) = w.msgs {
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

    fn on_gap(&mut self, w: &Wire<'_>) {
        let g = Gap {
            first_missing: w.last_seq.unwrap_or(0),
            next_received: w.seq.unwrap_or(0),
        };
        self.gaps.push(g);
        if self.opts.gap == GapMode::Fail {
            self.dead.get_or_insert(FastError::GapEnded {
                first_missing: g.first_missing,
                next_received: g.next_received,
            });
        }
    }

    fn on_err(&mut self, w: Wire<'_>) {
        let batch_seq = w.seq.unwrap_or(0);
        let error = w.error.map_or_else(
            || ApiError {
                code: 0,
                err_code: 0,
                description: String::new(),
            },
            ApiError::from,
        );
        if self.opts.gap == GapMode::Fail {
            self.dead.get_or_insert(FastError::RejectedEnded {
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

    /// A reply without a type: a pub-ack shaped error, or the final (or a plain) pub ack.
    fn on_pub_ack(&mut self, w: Wire<'_>, subject: &str, at_ns: u64) {
        if let Some(err) = w.error {
            let error = ApiError::from(err);
            let (batch_seq, op) = Self::seq_of_subject(subject);
            let kind = match op {
                OP_START | OP_APPEND | OP_COMMIT => ErrorKind::Reply,
                _ => ErrorKind::Control,
            };
            self.errors.push(BatchError {
                batch_seq,
                kind,
                error: error.clone(),
            });
            if error.err_code == codes::QUEUE_FULL || self.final_ack.is_some() {
                // 10167: only this message was dropped; the gap is reported at the next one.
                // After the final ack: messages sent before the end was seen are refused
                // with 10208; they are simply not part of the batch.
                return;
            }
            self.final_err.get_or_insert((batch_seq, error.clone()));
            self.dead.get_or_insert(FastError::Api { batch_seq, error });
        } else if w.stream.is_some() {
            self.final_ack = Some(FinalAck {
                last_stream_seq: w.seq.unwrap_or(0),
                count: w.count.unwrap_or(0),
                at_ns,
            });
            self.dead.get_or_insert(FastError::Ended);
        } else {
            let e = FastError::Protocol("a reply with neither type, error nor stream".into());
            self.dead.get_or_insert(e);
        }
    }

    fn summary(&mut self) -> FastSummary {
        // Dropping the subscriber unsubscribes: late replies are not routed any more.
        self.sub = None;
        FastSummary {
            sent: self.seq,
            final_ack: self.final_ack,
            acks: std::mem::take(&mut self.acks),
            gaps: std::mem::take(&mut self.gaps),
            errors: std::mem::take(&mut self.errors),
            flow: self.flow,
            gap: self.opts.gap,
        }
    }

    /// Ends the batch (EOB, op 3: a commit that stores nothing more) and waits for the final
    /// ack. The harness commits this way rather than with its last message (op 2), so every
    /// batch ends alike, whether it is full, cut short by the phase's end, or cancelled.
    pub async fn finish(mut self) -> FastEnd {
        let error = self.end_inner().await.err();
        FastEnd {
            summary: self.summary(),
            error,
        }
    }

    async fn end_inner(&mut self) -> Result<(), FastError> {
        self.drain_ready()?;
        if let Some(e @ FastError::Unsupported { .. }) = &self.dead {
            return Err(e.clone());
        }
        if self.final_ack.is_none() && self.final_err.is_none() {
            let ours = match &self.dead {
                // Not ended yet (or a flow ack was late): end it ourselves.
                None | Some(FastError::AckTimeout { .. }) => true,
                // The server ended it (fail mode); its final ack is on the way.
                Some(FastError::GapEnded { .. } | FastError::RejectedEnded { .. }) => false,
                Some(e) => return Err(e.clone()),
            };
            if ours && !self.send_eob().await? {
                return Ok(()); // nothing was ever sent: no batch exists
            }
            self.await_final(ours).await?;
        }
        match &self.final_err {
            Some((batch_seq, error)) => Err(FastError::Api {
                batch_seq: *batch_seq,
                error: error.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Sends the end of batch (op 3, seq = last + 1, neither stored nor counted); false when
    /// nothing was ever sent, so there is no batch to end.
    async fn send_eob(&mut self) -> Result<bool, FastError> {
        if self.last_subject.is_none() {
            return Ok(false);
        }
        self.control(self.seq + 1, OP_EOB).await?;
        Ok(true)
    }

    /// Waits for the final ack (or a final error). Meanwhile it sends the end of batch again
    /// when it sent one (a reset may have lost it: in gap mode `ok` the server then waits for
    /// more), else pings (the server ended the batch; its final ack may be lost).
    async fn await_final(&mut self, eob_sent: bool) -> Result<(), FastError> {
        let deadline = tokio::time::Instant::now() + self.opts.ack_timeout;
        let nudge = if eob_sent {
            (self.seq + 1, OP_EOB)
        } else {
            (self.seq, OP_PING)
        };
        while self.final_ack.is_none() && self.final_err.is_none() {
            self.wait_one(deadline, Some(nudge)).await?;
            if let Some(
                e @ (FastError::NoResponders | FastError::InboxClosed | FastError::Protocol(_)),
            ) = &self.dead
            {
                return Err(e.clone());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(FastPublisher::seq_of_subject("x"), (0, u8::MAX));
        assert_eq!(
            FastPublisher::seq_of_subject("_INBOX.a.b.100.fail.7.4.$FI"),
            (7, OP_PING)
        );
    }
}
