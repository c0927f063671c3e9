//! The atomic batch checker (`mode = "batch"`): is every batch stored whole or not at all, at
//! consecutive stream sequences, in its own order? And are batches stored in batch order?
//!
//! Batch `b` holds messages `b × size ..` (see `client/batch/`); the last batch of a phase may
//! be shorter. The client's side (was the batch's commit acked, refused, unanswered) comes from
//! the history's outcomes, which a batch's messages share; the stream's side from the read-back.
//! A batch stored in part is the one thing atomic publish promises cannot happen, under any
//! fault: the server abandons a batch whose commit never came (10 s after its last message).
//!
//! Two orders are told apart. *Inside* a batch, the server stores the messages in batch order:
//! a message stored after a later message of its own batch breaks the batch (`reordered_inside`,
//! and `msgs_reordered_inside` for the messages). *Across* batches nothing is promised: batches
//! awaiting their commit together (`max_in_flight` > 1) are committed in whatever order their
//! commits complete, so a batch can be stored after a later one (`out_of_batch_order`) while
//! every batch stays whole; that is storage order at the grain of batches, not atomicity.

use serde::{Deserialize, Serialize};

use crate::record::history::{History, Outcome, ReadBack};

/// What happened to the batches of a run, client side and stream side. Counts are of batches
/// unless named `msgs_`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BatchFigures {
    /// Messages per batch (the last batch of a phase may hold fewer).
    pub size: u32,
    /// Batches sent.
    pub batches: u64,
    /// Batches whose commit was acked.
    pub committed: u64,
    /// Batches refused, or whose commit was never sent (the server stores none of them).
    pub failed: u64,
    /// Batches whose commit went unanswered: stored whole or not at all, the client cannot tell.
    pub unknown: u64,
    /// Batches the stream holds whole.
    pub stored_whole: u64,
    /// Batches of which the stream holds nothing.
    pub stored_none: u64,
    /// Batches of which the stream holds some messages but not all: atomicity broken.
    pub partial: u64,
    /// Batches stored whole but not at consecutive stream sequences (another message between).
    pub interleaved: u64,
    /// Batches stored whole but not in their own order: a message stored after a later message
    /// of the same batch. (Results before it was named so call it `out_of_order`.)
    #[serde(alias = "out_of_order")]
    pub reordered_inside: u64,
    /// The messages of `reordered_inside`: each one stored after a later message of its batch.
    pub msgs_reordered_inside: u64,
    /// Batches stored after a later batch (their first stored message comes after a later
    /// batch's first): out of batch order. Not an atomicity failure (see the module comment).
    pub out_of_batch_order: u64,
    /// Batches stored whole although their commit was refused (or never sent).
    pub failed_but_stored: u64,
}

impl BatchFigures {
    /// Batches not stored atomically: in part, interleaved, reordered inside, or stored although
    /// refused (what the claims `atomic_batches` and `batches_broken` count). Batches stored out
    /// of batch order are not among them: atomic publish orders nothing across batches.
    pub fn broken(&self) -> u64 {
        self.partial + self.interleaved + self.reordered_inside + self.failed_but_stored
    }

    /// Every batch all or nothing, consecutive and in its own order, and none stored that was
    /// refused.
    pub fn atomic(&self) -> bool {
        self.broken() == 0
    }
}

/// What the stream holds of one batch.
#[derive(Clone, Copy, Default)]
struct Stored {
    count: u32,
    min_seq: u64,
    max_seq: u64,
    /// The latest message of the batch stored so far (highest index).
    max_idx: u32,
    /// Messages stored after a later message of this batch.
    reordered: u32,
}

/// The batch figures of a run whose messages went out in batches of `size`.
pub fn batch_figures(h: &History, rb: &ReadBack, size: u32) -> BatchFigures {
    let size = size.max(1);
    let published = h.published as usize;
    let (stored, out_of_batch_order) = stored_batches(rb, published, size);
    let mut f = BatchFigures {
        size,
        batches: stored.len() as u64,
        out_of_batch_order,
        ..BatchFigures::default()
    };
    for (b, s) in stored.iter().enumerate() {
        let first = b * size as usize;
        let len = (published - first).min(size as usize) as u32;
        let outcome = h.outcome(first);
        match outcome {
            o if o.is_acked() => f.committed += 1,
            Outcome::Unknown | Outcome::InFlight => f.unknown += 1,
            _ => f.failed += 1,
        }
        if s.count == 0 {
            f.stored_none += 1;
            continue;
        }
        if s.count < len {
            f.partial += 1;
            continue;
        }
        f.stored_whole += 1;
        if s.max_seq - s.min_seq + 1 != len as u64 {
            f.interleaved += 1;
        }
        if s.reordered > 0 {
            f.reordered_inside += 1;
            f.msgs_reordered_inside += s.reordered as u64;
        }
        if outcome == Outcome::Fail {
            f.failed_but_stored += 1;
        }
    }
    f
}

/// What the stream holds of each batch, walking it in stream order; and how many batches it
/// holds after a later batch (a batch's place is its first stored message).
fn stored_batches(rb: &ReadBack, published: usize, size: u32) -> (Vec<Stored>, u64) {
    let mut stored = vec![Stored::default(); published.div_ceil(size as usize)];
    let mut seen = vec![false; published];
    let mut latest_batch: Option<usize> = None;
    let mut out_of_batch_order = 0;
    for (&idx, &seq) in rb.order.iter().zip(&rb.seqs) {
        let i = idx as usize;
        // A copy stored twice is the safety checker's duplicate; count a message once here.
        if i >= published || std::mem::replace(&mut seen[i], true) {
            continue;
        }
        let b = i / size as usize;
        let s = &mut stored[b];
        if s.count == 0 {
            if latest_batch.is_some_and(|l| l > b) {
                out_of_batch_order += 1;
            }
            latest_batch = latest_batch.max(Some(b));
            *s = Stored {
                min_seq: seq,
                max_idx: idx,
                ..Stored::default()
            };
        }
        s.count += 1;
        s.min_seq = s.min_seq.min(seq);
        s.max_seq = s.max_seq.max(seq);
        if idx < s.max_idx {
            s.reordered += 1;
        }
        s.max_idx = s.max_idx.max(idx);
    }
    (stored, out_of_batch_order)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::testkit::{batched_history, stored_in};

    /// Seven messages in batches of three: [0 1 2] [3 4 5] [6].
    fn history(outcomes: [Outcome; 3]) -> History {
        batched_history(7, 3, &outcomes)
    }

    #[test]
    fn whole_batches_and_a_refused_one_are_atomic() {
        let h = history([Outcome::Ok, Outcome::Fail, Outcome::Ok]);
        let f = batch_figures(&h, &stored_in(&[0, 1, 2, 6]), 3);
        assert_eq!((f.batches, f.committed, f.failed, f.unknown), (3, 2, 1, 0));
        assert_eq!((f.stored_whole, f.stored_none, f.partial), (2, 1, 0));
        assert_eq!(f.out_of_batch_order, 0);
        assert!(f.atomic(), "{f:?}");
    }

    #[test]
    fn a_partial_or_interleaved_batch_breaks_atomicity() {
        let h = history([Outcome::Ok, Outcome::Unknown, Outcome::Ok]);
        // Batch 1 lost message 4; batch 0 has batch 2's message between its own.
        let f = batch_figures(&h, &stored_in(&[0, 6, 1, 2, 3, 5]), 3);
        assert_eq!((f.partial, f.interleaved, f.reordered_inside), (1, 1, 0));
        assert_eq!(f.unknown, 1);
        assert_eq!(f.broken(), 2);
        assert!(!f.atomic());
    }

    #[test]
    fn messages_out_of_order_inside_a_batch_break_it() {
        let h = history([Outcome::Ok, Outcome::Ok, Outcome::Ok]);
        // Batch 0 stored 2, 0, 1: messages 0 and 1 come after the later message 2.
        let f = batch_figures(&h, &stored_in(&[2, 0, 1, 3, 4, 5, 6]), 3);
        assert_eq!((f.reordered_inside, f.msgs_reordered_inside), (1, 2));
        assert_eq!(
            (f.interleaved, f.stored_whole, f.out_of_batch_order),
            (0, 3, 0)
        );
        assert_eq!(f.broken(), 1);
        assert!(!f.atomic());
        // One message swapped with its successor: one message late.
        let f = batch_figures(&h, &stored_in(&[1, 0, 2, 3, 4, 5, 6]), 3);
        assert_eq!((f.reordered_inside, f.msgs_reordered_inside), (1, 1));
    }

    #[test]
    fn batches_stored_after_a_later_batch_are_out_of_batch_order_but_atomic() {
        // Four batches committed together finish in another order: each stays whole, consecutive
        // and in its own order, so atomicity holds; batch order does not.
        let h = batched_history(12, 3, &[Outcome::Ok; 4]);
        let f = batch_figures(&h, &stored_in(&[3, 4, 5, 9, 10, 11, 0, 1, 2, 6, 7, 8]), 3);
        assert_eq!(
            f.out_of_batch_order, 2,
            "batches 0 and 2 come after batch 3"
        );
        assert_eq!((f.reordered_inside, f.msgs_reordered_inside), (0, 0));
        assert_eq!((f.stored_whole, f.interleaved), (4, 0));
        assert!(f.atomic(), "{f:?}");
        // In batch order: none.
        let in_order: Vec<u32> = (0..12).collect();
        assert_eq!(
            batch_figures(&h, &stored_in(&in_order), 3).out_of_batch_order,
            0
        );
    }

    #[test]
    fn a_refused_batch_found_in_the_stream_is_counted() {
        let h = history([Outcome::Fail, Outcome::Ok, Outcome::Ok]);
        let f = batch_figures(&h, &stored_in(&[0, 1, 2, 3, 4, 5, 6]), 3);
        assert_eq!(f.failed_but_stored, 1);
        assert!(!f.atomic());
    }

    #[test]
    fn figures_recorded_before_the_orders_were_told_apart_still_load() {
        let old = r#"{"size":3,"batches":3,"committed":3,"failed":0,"unknown":0,"stored_whole":3,
            "stored_none":0,"partial":0,"interleaved":0,"out_of_order":1,"failed_but_stored":0}"#;
        let f: BatchFigures = serde_json::from_str(old).unwrap();
        assert_eq!((f.reordered_inside, f.msgs_reordered_inside), (1, 0));
        assert!(!f.atomic());
    }
}
