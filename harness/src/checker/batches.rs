//! The atomic batch checker (`mode = "batch"`): is every batch stored whole or not at all, at
//! consecutive stream sequences, in batch order?
//!
//! Batch `b` holds messages `b × size ..` (see `client/batch.rs`); the last batch of a phase may
//! be shorter. The client's side (was the batch's commit acked, refused, unanswered) comes from
//! the history's outcomes, which a batch's messages share; the stream's side from the read-back.
//! A batch stored in part is the one thing atomic publish promises cannot happen, under any
//! fault: the server abandons a batch whose commit never came (10 s after its last message).

use serde::{Deserialize, Serialize};

use crate::record::history::{History, Outcome, ReadBack};

/// What happened to the batches of a run, client side and stream side.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Batches stored whole but not in batch order.
    pub out_of_order: u64,
    /// Batches stored whole although their commit was refused (or never sent).
    pub failed_but_stored: u64,
}

impl BatchFigures {
    /// Batches not stored atomically: in part, interleaved, out of order, or stored although
    /// refused (what the claims `atomic_batches` and `batches_broken` count).
    pub fn broken(&self) -> u64 {
        self.partial + self.interleaved + self.out_of_order + self.failed_but_stored
    }

    /// Every batch all or nothing, consecutive and in order, and none stored that was refused.
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
    last_idx: Option<u32>,
    in_order: bool,
}

/// The batch figures of a run whose messages went out in batches of `size`.
pub fn batch_figures(h: &History, rb: &ReadBack, size: u32) -> BatchFigures {
    let size = size.max(1);
    let published = h.published as usize;
    let batches = published.div_ceil(size as usize);
    let mut stored = vec![Stored::default(); batches];
    let mut seen = vec![false; published];
    for (&idx, &seq) in rb.order.iter().zip(&rb.seqs) {
        let i = idx as usize;
        // A copy stored twice is the safety checker's duplicate; count a message once here.
        if i >= published || std::mem::replace(&mut seen[i], true) {
            continue;
        }
        let s = &mut stored[i / size as usize];
        if s.count == 0 {
            *s = Stored {
                min_seq: seq,
                in_order: true,
                ..Stored::default()
            };
        }
        s.count += 1;
        s.min_seq = s.min_seq.min(seq);
        s.max_seq = s.max_seq.max(seq);
        s.in_order &= s.last_idx.is_none_or(|prev| idx > prev);
        s.last_idx = Some(idx);
    }
    let mut f = BatchFigures {
        size,
        batches: batches as u64,
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
        if !s.in_order {
            f.out_of_order += 1;
        }
        if outcome == Outcome::Fail {
            f.failed_but_stored += 1;
        }
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seven messages in batches of three: [0 1 2] [3 4 5] [6].
    fn history(outcomes: [Outcome; 3]) -> History {
        let mut h = History::new(vec![0; 7], 1);
        h.published = 7;
        for (b, o) in outcomes.iter().enumerate() {
            for i in b * 3..(b * 3 + 3).min(7) {
                h.set_outcome(i, *o);
            }
        }
        h
    }

    fn read_back(order: &[u32], seqs: &[u64]) -> ReadBack {
        ReadBack {
            order: order.to_vec(),
            seqs: seqs.to_vec(),
            attempts: vec![1; order.len()],
            unexpected: 0,
            complete: true,
        }
    }

    #[test]
    fn whole_batches_and_a_refused_one_are_atomic() {
        let h = history([Outcome::Ok, Outcome::Fail, Outcome::Ok]);
        let rb = read_back(&[0, 1, 2, 6], &[1, 2, 3, 4]);
        let f = batch_figures(&h, &rb, 3);
        assert_eq!((f.batches, f.committed, f.failed, f.unknown), (3, 2, 1, 0));
        assert_eq!((f.stored_whole, f.stored_none, f.partial), (2, 1, 0));
        assert!(f.atomic(), "{f:?}");
    }

    #[test]
    fn a_partial_split_or_reordered_batch_breaks_atomicity() {
        let h = history([Outcome::Ok, Outcome::Unknown, Outcome::Ok]);
        // Batch 1 lost message 4; batch 0 has batch 2's message between its own.
        let rb = read_back(&[0, 6, 1, 2, 3, 5], &[1, 2, 3, 4, 5, 6]);
        let f = batch_figures(&h, &rb, 3);
        assert_eq!((f.partial, f.interleaved, f.out_of_order), (1, 1, 0));
        assert_eq!(f.unknown, 1);
        assert!(!f.atomic());
        let rb = read_back(&[1, 0, 2, 6], &[1, 2, 3, 4]);
        let f = batch_figures(&h, &rb, 3);
        assert_eq!((f.out_of_order, f.interleaved, f.stored_whole), (1, 0, 2));
        assert!(!f.atomic());
    }

    #[test]
    fn a_refused_batch_found_in_the_stream_is_counted() {
        let h = history([Outcome::Fail, Outcome::Ok, Outcome::Ok]);
        let rb = read_back(&[0, 1, 2, 3, 4, 5, 6], &[1, 2, 3, 4, 5, 6, 7]);
        let f = batch_figures(&h, &rb, 3);
        assert_eq!(f.failed_but_stored, 1);
        assert!(!f.atomic());
    }
}
