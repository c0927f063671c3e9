//! Streaming checkers: the storage-side figures of a run judged from the stream's copies one at
//! a time, while a follower (`record::follow`) reads them during the run, instead of from a
//! read-back held in memory at the end (13 B per message plus the checkers' marks per message).
//!
//! They give exactly what the end-of-run checkers give on a read-back of the same copies —
//! `divergence` of the storage order, `safety`, the read-back fields of `retry_figures` — with
//! per-message memory in bits: a seen set of 1 bit per message (grown in chunks, as the number
//! of messages of a duration-bound run is not known in advance) with rank queries over a
//! Fenwick tree of 512-bit blocks, during the run; two more bits per message at `finish`.
//! What cannot be known before the run ends (each message's final rank among all present, the
//! history's outcomes and ack sequences, how many messages were published) is judged at
//! `finish`, in one replay of the same copies (the follower's spill file).
//!
//! - `order.rs`: [`OrderStream`], `divergence` one index at a time; the per-key part; and
//!   [`divergence`] of a whole order, through it (every order of a run is judged this way).
//! - `store.rs`: [`StoreStream`], the [`CopySink`](crate::record::stored::CopySink) the
//!   follower feeds, and its figures.
//! - `ranked.rs`: [`divergence_by_rank`], the divergence of an order given as a rank per
//!   message (the acks' wire ranks, their stream sequences) without building the order.
//! - `bits.rs`: the bitsets (fixed, and growable with rank).
//! - `reference.rs` (tests only): the per-index Fenwick divergence the bit-based one replaced,
//!   the independent reference of the equality tests.

mod bits;
#[cfg(test)]
mod divergence_tests;
mod order;
mod ranked;
#[cfg(test)]
mod reference;
mod store;
#[cfg(test)]
mod tests;

pub use order::{divergence, divergence_walked, OrderStream, Sight};
pub use ranked::divergence_by_rank;
pub use store::{StoreLive, StoreSoFar, StoreStream, StreamFigures};

use crate::record::stored::StoredCopy;

/// Why a streaming checker cannot give its figures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    /// The replay at `finish` is not the sequence of copies (or indexes) the checker was fed:
    /// figures from it would mix two different histories of the stream.
    #[error("the replay does not match what was fed: {fed} fed, {replayed} replayed (or another order or content)")]
    Replay { fed: u64, replayed: u64 },
    /// A copy of an index at or beyond the checker's limit (not tracked during the run) turned
    /// out to be one of the run's planned messages: the limit was too low.
    #[error("message {idx} is planned ({planned} planned) but was beyond the checker's limit {limit}, so it was not tracked")]
    BeyondLimit { idx: u32, limit: u64, planned: u64 },
}

/// An order-sensitive fingerprint of what was fed, to check the replay against. Each step is a
/// bijection of the running hash for a given input, so a replay that differs in any one item
/// always differs in the fingerprint.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Digest {
    hash: u64,
    /// Items added.
    count: u64,
}

impl Digest {
    /// FNV-1a's 64-bit prime, used a word at a time.
    const PRIME: u64 = 0x0100_0000_01b3;

    fn mix(&mut self, word: u64) {
        self.hash = (self.hash ^ word).wrapping_mul(Self::PRIME);
    }

    fn add(&mut self, word: u64) {
        self.mix(word);
        self.count += 1;
    }

    fn add_copy(&mut self, c: &StoredCopy) {
        self.mix(c.idx as u64 | (c.key as u64) << 32);
        self.mix(c.attempt as u64);
        self.add(c.seq);
    }
}
