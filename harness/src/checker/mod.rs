//! Checkers: pure functions from a recorded history (and the stream read-back) to figures and
//! verdicts. Nothing here touches the network or the clock, so every figure can be unit-tested
//! on hand-made histories.
//!
//! An *order* is a sequence of message indexes (publish index, from 0) as some observer saw them:
//! acks on the wire, ack futures completing, messages in the stream. Publish order is the
//! reference: index order. A message is *late* when it comes after a message published after it.
//!
//! Most checkers judge a whole read-back at the end of a run; `stream/` gives the storage-side
//! ones (storage order, safety, what retries stored) from the stream's copies one at a time,
//! while a follower reads them during the run, in bits per message, with the same figures.
//! `divergence` of a whole order is the streaming one fed that order (`stream/order.rs`), so
//! every order is judged in bits per message; `order.rs` keeps what the figures are.

mod batches;
pub mod bound;
mod claims;
pub mod cluster;
mod consume;
mod durability;
mod order;
mod replies;
mod retry;
mod safety;
pub mod stream;
mod windows;

pub use batches::{batch_figures, BatchFigures};
pub use claims::{judge, ClaimResult, Evidence, Verdict};
pub use consume::{consume_figures, consume_order, ConsumeFigures};
pub use durability::{durability, Durability, LossWindow, NodeCopy, PowerLossTimes, StreamOutcome};
pub use order::{percent, OrderFigures};
pub use replies::{replies, Overtaken, Replies};
pub use retry::{retry_figures, RetryFigures};
pub use safety::{per_message, safety, PerMessage, Safety};
pub use stream::{
    divergence, divergence_by_rank, divergence_walked, OrderStream, StoreLive, StoreSoFar,
    StoreStream, StreamError, StreamFigures,
};
pub use windows::{split_by_window, Segment, WindowSplit};

/// Hand-made histories shared by the checkers' tests.
#[cfg(test)]
pub(crate) mod testkit {
    use crate::record::history::{History, Outcome, ReadBack};

    /// `published` messages on one key, sent in batches of `size`; every message of batch `b`
    /// ends with `outcomes[b]`.
    pub(crate) fn batched_history(published: u32, size: u32, outcomes: &[Outcome]) -> History {
        let mut h = History::new(vec![0; published as usize], 1);
        h.published = published as u64;
        for i in 0..published {
            h.set_outcome(i as usize, outcomes[(i / size) as usize]);
        }
        h
    }

    /// A complete read-back holding the first attempts of messages `order`, in that order, at
    /// stream sequences 1, 2, 3 …
    pub(crate) fn stored_in(order: &[u32]) -> ReadBack {
        ReadBack {
            order: order.to_vec(),
            seqs: (1..=order.len() as u64).collect(),
            attempts: vec![1; order.len()],
            unexpected: 0,
            complete: true,
        }
    }

    /// Key 0: messages 0, 2; key 1: messages 1, 3. Sent at 0, 10, 20, 30 ms after a phase start
    /// at 1000 ms, each acked 5 ms later in publish order (stream sequences 1–4) and read back
    /// in that order: a run where nothing went wrong.
    pub(crate) fn clean_history() -> (History, ReadBack) {
        let mut h = History::new(vec![0, 1, 0, 1], 2).timed();
        h.published = 4;
        let ms = 1_000_000u64;
        for i in 0..4u32 {
            let sent = 1000 * ms + (i as u64) * 10 * ms;
            h.record_send(i, 1, sent);
            h.record_ack(i, i as u64 + 1, false, i);
            h.record_ack_time(i, sent + 5 * ms);
        }
        let rb = ReadBack {
            order: vec![0, 1, 2, 3],
            seqs: vec![1, 2, 3, 4],
            attempts: vec![1; 4],
            unexpected: 0,
            complete: true,
        };
        (h, rb)
    }

    /// Key 0: messages 0, 2, 4; key 1: messages 1, 3. Message 2's first attempt was lost and
    /// its retry (attempt 2) stored after message 4; message 1 was stored twice (a retry
    /// without Msg-Id after an unknown outcome).
    pub(crate) fn retried_history() -> (History, ReadBack) {
        let mut h = History::new(vec![0, 1, 0, 1, 0], 2).timed();
        h.published = 5;
        let ms = 1_000_000u64;
        // Sent at 0, 10, 20, 30, 40 ms after a phase start at 1000 ms; the fault window is
        // [15 ms, 35 ms).
        for i in 0..5u32 {
            h.record_send(i, 1, 1000 * ms + (i as u64) * 10 * ms);
        }
        let acks = [(0, 1, 1005), (1, 2, 1040), (3, 4, 1036), (4, 5, 1045)];
        for (idx, seq, at) in acks {
            h.record_ack(idx, seq, false, idx);
            h.record_ack_time(idx, at * ms);
        }
        h.record_failure(2, Outcome::Unknown, "timed_out");
        h.record_send(2, 2, 1050 * ms);
        h.record_ack(2, 6, false, 9);
        h.record_ack_time(2, 1060 * ms);
        h.record_send(1, 2, 1041 * ms);
        let rb = ReadBack {
            order: vec![0, 1, 3, 4, 1, 2],
            seqs: vec![1, 2, 4, 5, 6, 7],
            attempts: vec![1, 1, 1, 1, 2, 2],
            unexpected: 0,
            complete: true,
        };
        (h, rb)
    }
}
