//! History: one record per published message, what happened to it, and the orders observed.
//!
//! Stored column-wise in pre-sized vectors (struct of arrays) so a 10M-message run stays within a
//! few hundred MB and recording is an indexed store, not an allocation. The message's global
//! publish index (`idx`, from 0) is the position in every column; the key of each message is
//! drawn before the run (see `workload::draw_keys`), so the per-key sequence is implied.

use serde::{Deserialize, Serialize};

use super::chunked::Chunked;
use super::column::Column;
use super::completion::CompletionOrder;
use super::keys::Keys;

/// What became of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[repr(u8)]
pub enum Outcome {
    /// Never published (run ended first) or still awaiting its ack.
    NotSent = 0,
    /// Acked with a stream sequence.
    Ok = 1,
    /// Acked, but the server said it was a duplicate (Msg-Id dedup).
    Duplicate = 2,
    /// The publish or its ack failed with an error: not stored as far as the client knows.
    Fail = 3,
    /// Timed out: it may or may not be stored; never counted as lost.
    Unknown = 4,
    /// Handed to the client, ack still outstanding when the run stopped (e.g. Ctrl-C).
    InFlight = 5,
    /// A retry answered "duplicate message id is in process" (err_code 10158): an earlier
    /// attempt with the same Msg-Id is being stored (on a cluster, proposed but not committed
    /// yet). Not a failure, and not retried again; it is stored unless that attempt is lost.
    InProcess = 6,
    /// Refused by the server because its key's subject did not end at the sequence the
    /// message expected (`Nats-Expected-Last-Subject-Sequence`, err_code 10071): not stored.
    Rejected = 7,
    /// Sent through an adapter whose client neither acked nor failed it by jsbench's deadline
    /// (`client.resolve_timeout`): it may or may not be stored; never counted as lost.
    Unresolved = 8,
}

impl Outcome {
    /// The outcome stored as `Outcome as u8` (any other value: `NotSent`).
    pub fn from_u8(v: u8) -> Outcome {
        match v {
            1 => Outcome::Ok,
            2 => Outcome::Duplicate,
            3 => Outcome::Fail,
            4 => Outcome::Unknown,
            5 => Outcome::InFlight,
            6 => Outcome::InProcess,
            7 => Outcome::Rejected,
            8 => Outcome::Unresolved,
            _ => Outcome::NotSent,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::NotSent => "not_sent",
            Outcome::Ok => "ok",
            Outcome::Duplicate => "duplicate",
            Outcome::Fail => "fail",
            Outcome::Unknown => "unknown",
            Outcome::InFlight => "in_flight",
            Outcome::InProcess => "in_process",
            Outcome::Rejected => "rejected",
            Outcome::Unresolved => "unresolved",
        }
    }

    pub fn is_acked(self) -> bool {
        matches!(self, Outcome::Ok | Outcome::Duplicate)
    }
}

/// Distinct error kinds [`intern_kind`] keeps; any further kind is counted as [`OTHER_KIND`].
pub const MAX_KINDS: usize = 256;
/// The kind every error beyond [`MAX_KINDS`] distinct kinds is counted as.
pub const OTHER_KIND: &str = "other";

/// An error kind named at run time (an adapter's `kind` field) as the `&'static str` the
/// attempt log keeps. Each distinct kind is stored once for the life of the process and at most
/// [`MAX_KINDS`] are kept, so a client that invents a kind per message costs bounded memory.
pub fn intern_kind(kind: &str) -> &'static str {
    use std::collections::HashSet;
    use std::sync::{Mutex, OnceLock};
    static KINDS: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let mut kinds = KINDS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(k) = kinds.get(kind) {
        return k;
    }
    if kinds.len() >= MAX_KINDS {
        return OTHER_KIND;
    }
    let k: &'static str = Box::leak(kind.to_owned().into_boxed_str());
    kinds.insert(k);
    k
}

/// Sentinel for "no value" in the u32 columns.
pub const NONE: u32 = u32::MAX;

/// In the stream sequence column: the sequence did not fit in 4 B and is in `big_seqs`.
const BIG_SEQ: u32 = u32::MAX;

/// The recorded history of the measured phase of one run.
#[derive(Debug, Default)]
pub struct History {
    /// Key of each message (drawn up front), 1, 2 or 4 B each (`record/keys.rs`).
    pub keys: Keys,
    /// Number of distinct keys in the workload.
    pub num_keys: u32,
    /// `Outcome as u8` of each message. This column and the next three are in memory, or in a
    /// file on disk in a long run ([`History::on_disk`], `record/column.rs`).
    outcome: Column<u8>,
    /// Stream sequence from the PubAck, 0 when not acked ([`History::ack_seq`]). Kept in 4 B:
    /// every run's stream is new, so its sequences fit; one that does not ([`BIG_SEQ`]) is
    /// kept in `big_seqs`.
    stream_seq: Column<u32>,
    /// The sequences at or above [`BIG_SEQ`], by message index.
    big_seqs: std::collections::BTreeMap<u32, u64>,
    /// Arrival rank of the ack on the wire (across all connections) plus one, 0 when not acked
    /// (so a new column, all zeros, is all "not acked"; [`History::wire_rank`]).
    wire_rank: Column<u32>,
    /// Message indexes in the order their ack futures completed in the application: in memory,
    /// or spooled to disk in a followed run ([`History::on_disk`]).
    pub completion: CompletionOrder,
    /// Messages actually handed to the client (a prefix of `keys` in publish order).
    pub published: u64,
    /// Failed attempts per error kind.
    pub errors: std::collections::BTreeMap<String, u64>,
    /// Attempts made per message (0 = never sent; >1 = retried; [`History::attempts`]).
    attempts: Column<u8>,
    /// When the first attempt of each message was sent (ns on the run clock; 0 = not sent).
    /// Only kept for timed histories (runs with faults or retries): the window checkers need it
    /// ([`History::sent_at`]).
    first_send_ns: Column<u64>,
    /// When each message's successful ack arrived (ns on the run clock; 0 = never). Timed only
    /// ([`History::acked_at`]).
    ack_ns: Column<u64>,
    /// Every attempt that failed, the final attempt of every retried message, and every
    /// deliberate repeat (attempt 0). In chunks, not one `Vec`: its length is not known in
    /// advance, and a doubling `Vec` peaks at up to three times what it holds while it grows
    /// (`record/chunked.rs`).
    pub attempt_log: Chunked<AttemptRecord>,
    /// Keeps the live line's figures as outcomes change (`None` unless the live line is on).
    pub live: Option<super::observe::LiveTally>,
    /// Deliberate repeats sent (`publish.repeat_msg_id_every`).
    pub repeats: u64,
    /// Where new columns go: on disk with room for this many messages, or in memory (`None`).
    disk: Option<usize>,
    /// What the server said about the fast batches (`mode = "fast"`); `None` in other modes.
    pub fast: Option<FastFigures>,
}

/// What the server said about a phase's fast-ingest batches (result.json `fast`). Flow acks,
/// gap reports and errors reach only the publisher, so it counts them here as they come.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FastFigures {
    /// Fast batches started.
    pub batches: u64,
    /// Flow acks received (the reply to each batch's start message not counted).
    pub flow_acks: u64,
    /// Gap reports: batch sequences that never reached the stream.
    pub gaps_reported: u64,
    /// Messages inside the reported gaps.
    pub gap_messages: u64,
    /// Error replies: per-message check failures and refusals (10208 for messages sent after
    /// the server had ended a batch included).
    pub errors_reported: u64,
    /// The ack interval (messages per flow ack) the server asked for last.
    pub final_flow: u16,
}

/// One attempt of one message, kept when it failed or was a retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptRecord {
    pub idx: u32,
    /// 1 for the first try.
    pub attempt: u8,
    pub conn: u16,
    pub send_ns: u64,
    /// When the attempt ended (ack, error or timeout).
    pub end_ns: u64,
    pub outcome: Outcome,
    /// Error kind ("timed_out", …), empty when acked.
    pub error: &'static str,
    /// The reply's code: the JetStream `err_code` of an error reply (10158, 10077, …), 503 for
    /// "no responders", 0 for an ack or no reply at all.
    pub code: u32,
    /// Arrival rank of the reply on the wire, in the same sequence as `History::wire_rank`;
    /// [`NONE`] when no reply arrived (timeout, not sent).
    pub rank: u32,
}

impl History {
    /// A history for `keys.len()` planned messages.
    pub fn new(keys: Vec<u32>, num_keys: u32) -> History {
        History::with_keys(Keys::new(keys), num_keys)
    }

    /// A history for `keys.len()` planned messages, from their key column.
    pub fn with_keys(keys: Keys, num_keys: u32) -> History {
        History::placed(keys, num_keys, None).0
    }

    /// A history whose completion order, attempt log and per-message columns are on disk from
    /// the start, with room for `cap` messages before a column is mapped again (a long run,
    /// `observe.follow`: `record/column.rs`). Whatever could not go to disk stays in memory
    /// (the same figures, more memory), and the first such error comes back with it.
    pub fn on_disk(keys: Keys, num_keys: u32, cap: usize) -> (History, Option<std::io::Error>) {
        History::placed(keys, num_keys, Some(cap))
    }

    fn placed(keys: Keys, num_keys: u32, disk: Option<usize>) -> (History, Option<std::io::Error>) {
        let n = keys.len();
        let mut error = None;
        let mut h = History {
            outcome: Column::placed(n, disk, &mut error),
            stream_seq: Column::placed(n, disk, &mut error),
            wire_rank: Column::placed(n, disk, &mut error),
            attempts: Column::placed(n, disk, &mut error),
            keys,
            num_keys,
            big_seqs: Default::default(),
            completion: CompletionOrder::in_memory(n),
            published: 0,
            errors: Default::default(),
            first_send_ns: Column::default(),
            ack_ns: Column::default(),
            attempt_log: Chunked::new(),
            repeats: 0,
            fast: None,
            live: None,
            disk,
        };
        if disk.is_some() {
            if let Err(e) = h.spool_completion().and_then(|_| h.attempt_log.to_disk()) {
                error.get_or_insert(e);
            }
        }
        (h, error)
    }

    /// Also keeps send and ack times per message (16 bytes each), for splitting figures by
    /// fault window.
    pub fn timed(mut self) -> History {
        let n = self.keys.len();
        // On disk as the other columns are; in memory should that fail.
        let mut error = None;
        self.first_send_ns = Column::placed(n, self.disk, &mut error);
        self.ack_ns = Column::placed(n, self.disk, &mut error);
        self
    }

    /// Drops the send and ack times: an untimed history.
    pub fn untimed(&mut self) {
        self.first_send_ns = Column::default();
        self.ack_ns = Column::default();
    }

    /// When message `i`'s first attempt was sent (0: not sent); `None` when the history keeps
    /// no times ([`History::timed`]).
    #[inline]
    pub fn sent_at(&self, i: usize) -> Option<u64> {
        self.is_timed().then(|| self.first_send_ns.get(i))
    }

    /// When message `i`'s successful ack arrived (0: never); `None` when the history keeps no
    /// times.
    #[inline]
    pub fn acked_at(&self, i: usize) -> Option<u64> {
        self.is_timed().then(|| self.ack_ns.get(i))
    }

    /// Sets when message `i` was first sent and acked (a timed history; a merged one).
    pub fn set_times(&mut self, i: usize, sent_ns: u64, acked_ns: u64) {
        self.first_send_ns.set(i, sent_ns);
        self.ack_ns.set(i, acked_ns);
    }

    /// Keeps the completion order in an unlinked temp file instead of 4 B per message in memory
    /// (a long run, `observe.follow`: `record/completion.rs`).
    fn spool_completion(&mut self) -> std::io::Result<()> {
        self.completion = CompletionOrder::spooled()?;
        Ok(())
    }

    /// True when the per-message columns are on disk ([`History::on_disk`]).
    pub fn is_spooled(&self) -> bool {
        self.outcome.is_on_disk()
    }

    pub fn is_timed(&self) -> bool {
        !self.first_send_ns.is_empty()
    }

    /// Records that attempt `attempt` of message `idx` was sent at `send_ns`.
    #[inline]
    pub fn record_send(&mut self, idx: u32, attempt: u8, send_ns: u64) {
        let i = idx as usize;
        self.attempts.set(i, attempt);
        if attempt == 1 && self.is_timed() {
            self.first_send_ns.set(i, send_ns);
        }
    }

    /// Planned messages (capacity of the history).
    pub fn planned(&self) -> usize {
        self.keys.len()
    }

    /// Grows the history for duration-bound runs (keys appended by the caller).
    pub fn extend_keys(&mut self, more: &[u32]) {
        self.keys.extend_from_slice(more);
        let timed = self.is_timed();
        let n = self.keys.len();
        self.outcome.resize(n);
        self.stream_seq.resize(n);
        self.wire_rank.resize(n);
        self.attempts.resize(n);
        if timed {
            self.first_send_ns.resize(n);
            self.ack_ns.resize(n);
        }
    }

    pub fn outcome(&self, idx: usize) -> Outcome {
        Outcome::from_u8(self.outcome.get(idx))
    }

    pub fn set_outcome(&mut self, idx: usize, o: Outcome) {
        if let Some(t) = &self.live {
            t.outcome(self.outcome.get(idx), o as u8);
        }
        self.outcome.set(idx, o as u8);
    }

    /// Arrival rank on the wire of message `i`'s ack, [`NONE`] when not acked.
    #[inline]
    pub fn wire_rank(&self, i: usize) -> u32 {
        self.wire_rank.get(i).wrapping_sub(1)
    }

    /// Sets the wire rank of message `i`'s ack ([`NONE`]: none).
    pub fn set_wire_rank(&mut self, i: usize, rank: u32) {
        self.wire_rank.set(i, rank.wrapping_add(1));
    }

    /// Attempts sent of message `i` (0: never sent).
    #[inline]
    pub fn attempts(&self, i: usize) -> u8 {
        self.attempts.get(i)
    }

    /// Sets the attempts sent of message `i`.
    pub fn set_attempts(&mut self, i: usize, attempts: u8) {
        self.attempts.set(i, attempts);
    }

    /// The attempts of the published messages, in publish order.
    pub fn attempts_sent(&self) -> impl Iterator<Item = u8> + '_ {
        self.attempts.prefix(self.published as usize)
    }

    /// Records an ack: outcome, stream sequence, wire arrival rank, and completion position.
    pub fn record_ack(&mut self, idx: u32, stream_seq: u64, duplicate: bool, wire_rank: u32) {
        let i = idx as usize;
        let o = if duplicate {
            Outcome::Duplicate as u8
        } else {
            Outcome::Ok as u8
        };
        if let Some(t) = self.live.as_mut() {
            t.outcome(self.outcome.get(i), o);
            t.ack(self.keys.get(i), idx);
        }
        self.outcome.set(i, o);
        self.set_ack_seq(i, stream_seq);
        self.set_wire_rank(i, wire_rank);
        self.completion.push(idx);
    }

    /// The stream sequence message `i`'s ack reported; 0 when not acked.
    pub fn ack_seq(&self, i: usize) -> u64 {
        match self.stream_seq.get(i) {
            BIG_SEQ => self.big_seqs.get(&(i as u32)).copied().unwrap_or(0),
            s => s as u64,
        }
    }

    /// Sets the stream sequence of message `i`'s ack (0: none).
    pub fn set_ack_seq(&mut self, i: usize, seq: u64) {
        match u32::try_from(seq) {
            Ok(s) if s != BIG_SEQ => {
                self.stream_seq.set(i, s);
                if !self.big_seqs.is_empty() {
                    self.big_seqs.remove(&(i as u32));
                }
            }
            _ => {
                self.stream_seq.set(i, BIG_SEQ);
                self.big_seqs.insert(i as u32, seq);
            }
        }
    }

    /// Records when a message's ack arrived (timed histories only).
    #[inline]
    pub fn record_ack_time(&mut self, idx: u32, at_ns: u64) {
        if self.is_timed() {
            self.ack_ns.set(idx as usize, at_ns);
        }
    }

    /// Messages sent more than once.
    pub fn retried(&self) -> u64 {
        self.attempts_sent().filter(|&a| a > 1).count() as u64
    }

    /// Attempts sent in all.
    pub fn total_attempts(&self) -> u64 {
        self.attempts_sent().map(|a| a as u64).sum()
    }

    /// Per-key sequence (from 1) of every planned message, implied by the keys.
    pub fn key_seqs(&self) -> Vec<u32> {
        let mut next = vec![0u32; self.num_keys as usize];
        self.keys
            .iter()
            .map(|k| {
                next[k as usize] += 1;
                next[k as usize]
            })
            .collect()
    }

    pub fn record_failure(&mut self, idx: u32, outcome: Outcome, kind: &str) {
        if let Some(t) = &self.live {
            t.outcome(self.outcome.get(idx as usize), outcome as u8);
        }
        self.outcome.set(idx as usize, outcome as u8);
        if let Some(c) = self.errors.get_mut(kind) {
            *c += 1;
        } else {
            self.errors.insert(kind.to_string(), 1);
        }
    }

    /// Counts of each outcome over the published messages.
    pub fn outcome_counts(&self) -> OutcomeCounts {
        let mut c = OutcomeCounts::default();
        for o in self.outcome.prefix(self.published as usize) {
            match Outcome::from_u8(o) {
                Outcome::Ok => c.ok += 1,
                Outcome::Duplicate => c.duplicate_acks += 1,
                Outcome::Fail => c.failed += 1,
                Outcome::Unknown => c.unknown += 1,
                Outcome::InProcess => c.in_process += 1,
                Outcome::Rejected => c.rejected += 1,
                Outcome::Unresolved => c.unresolved += 1,
                Outcome::InFlight | Outcome::NotSent => c.in_flight += 1,
            }
        }
        c
    }

    /// Acked messages in wire arrival order.
    pub fn wire_order(&self) -> Vec<u32> {
        let mut order = Vec::new();
        self.wire_order_into(&mut order);
        order
    }

    /// [`History::wire_order`] into `order` (cleared first; its buffer is reused).
    pub fn wire_order_into(&self, order: &mut Vec<u32>) {
        // Sorting indexes by key, not (key, idx) pairs: half the memory on 10M-message runs.
        self.collect_into(order, |i| self.wire_rank(i) != NONE);
        order.sort_unstable_by_key(|&i| self.wire_rank(i as usize));
    }

    /// The published indexes `keep` accepts, into `order` reserved for all of them at once (a
    /// filtered `collect` grows by doubling: up to twice the size, and a copy, at its peak).
    fn collect_into(&self, order: &mut Vec<u32>, keep: impl Fn(usize) -> bool) {
        let n = self.published as usize;
        order.clear();
        order.reserve_exact(n);
        order.extend((0..n as u32).filter(|&i| keep(i as usize)));
    }

    /// Sent messages in the order their last attempt was handed to a connection: publish order
    /// as the wire saw it, where a retry moves its message behind everything sent meanwhile.
    /// Without send times: publish order itself when nothing was sent twice (one publisher
    /// sends in order), else `None`.
    pub fn sent_order(&self) -> Option<Vec<u32>> {
        let mut order = Vec::new();
        self.sent_order_into(&mut order).then_some(order)
    }

    /// [`History::sent_order`] into `order` (cleared first); false when it is not known.
    pub fn sent_order_into(&self, order: &mut Vec<u32>) -> bool {
        let n = (self.published as usize).min(self.attempts.len());
        if !self.is_timed() {
            let resent = !self.sent_in_publish_order();
            order.clear();
            if !resent {
                order.reserve_exact(n);
                order.extend((0..n as u32).filter(|&i| self.attempts(i as usize) >= 1));
            }
            return !resent;
        }
        let first = |i: usize| self.first_send_ns.get(i);
        // A later attempt sent after the first moves its message: only then a copy of the
        // send times (8 B per message) is needed.
        let moved = |a: &&AttemptRecord| {
            a.attempt >= 1 && (a.idx as usize) < n && a.send_ns > first(a.idx as usize)
        };
        order.clear();
        order.reserve_exact(n);
        if self.attempt_log.iter().any(|a| moved(&a)) {
            let mut last = self.first_send_ns.prefix(n).collect::<Vec<u64>>();
            for a in self.attempt_log.iter().filter(moved) {
                let t = &mut last[a.idx as usize];
                *t = (*t).max(a.send_ns);
            }
            order.extend((0..n as u32).filter(|&i| last[i as usize] != 0));
            // Stable: messages sent within the same clock tick keep their publish order.
            order.sort_by_key(|&i| last[i as usize]);
        } else {
            order.extend((0..n as u32).filter(|&i| first(i as usize) != 0));
            order.sort_by_key(|&i| first(i as usize));
        }
        true
    }

    /// True when the sent order is publish order itself, known without send times: no send
    /// times kept and nothing sent twice ([`History::sent_order`]).
    pub fn sent_in_publish_order(&self) -> bool {
        !self.is_timed() && !self.attempt_log.iter().any(|a| a.attempt >= 2)
    }

    /// Acked (non-duplicate) messages in the order of the stream sequences their acks reported.
    pub fn ack_storage_order(&self) -> Vec<u32> {
        let mut order = Vec::new();
        self.ack_storage_order_into(&mut order);
        order
    }

    /// [`History::ack_storage_order`] into `order` (cleared first; its buffer is reused).
    pub fn ack_storage_order_into(&self, order: &mut Vec<u32>) {
        self.collect_into(order, |i| self.outcome(i) == Outcome::Ok);
        order.sort_unstable_by_key(|&i| self.ack_seq(i as usize));
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutcomeCounts {
    pub ok: u64,
    pub duplicate_acks: u64,
    pub failed: u64,
    pub unknown: u64,
    pub in_flight: u64,
    pub in_process: u64,
    pub rejected: u64,
    pub unresolved: u64,
}

/// What reading the stream back found: the storage order as the stream holds it.
#[derive(Debug, Default, Clone)]
pub struct ReadBack {
    /// Message indexes of this run, in stream order (a message stored twice appears twice).
    pub order: Vec<u32>,
    /// Stream sequence of each entry of `order`.
    pub seqs: Vec<u64>,
    /// `Jsb-Attempt` of each entry of `order` (which attempt this stored copy came from).
    pub attempts: Vec<u8>,
    /// Stored messages that this run did not publish (other run id, bad headers, idx out of range).
    pub unexpected: u64,
    /// True when the read-back saw everything the stream held for this run.
    pub complete: bool,
}

#[cfg(test)]
#[path = "history_tests.rs"]
mod tests;
