//! [`OrderStream`]: `checker::divergence` of an order fed one message at a time, in bits per
//! message instead of the whole order in memory; and [`KeyOrder`], the per-key part of it,
//! which the store checker also runs on its own at `finish` (with the drawn keys).
//!
//! Everything but `max_displacement` is known as the order goes: a message is late when a
//! larger index came before it (the running maximum); its inversions are the messages so far
//! minus those seen below it (a rank query on the seen set). Its displacement compares its
//! position with its rank among *all* messages present, known only at the end: so a second
//! pass over the same order (the caller's replay) gives it.

use super::bits::{Bits, SeenSet};
use super::{Digest, StreamError};
use crate::checker::OrderFigures;
use crate::record::keys::KeyOf;

/// Per key: the largest index of the key so far, whether the key is present, and whether a
/// message of it came late (O(keys), nothing per message). Keys beyond `num_keys` are not
/// tracked.
#[derive(Debug)]
pub(super) struct KeyOrder {
    max: Vec<i64>,
    present: Bits,
    late: Bits,
    /// Messages late within their key.
    late_messages: u64,
}

impl KeyOrder {
    pub(super) fn new(num_keys: u32) -> KeyOrder {
        let n = num_keys as usize;
        KeyOrder {
            max: vec![-1; n],
            present: Bits::new(n),
            late: Bits::new(n),
            late_messages: 0,
        }
    }

    /// The first copy of message `idx` of key `key`: true when it comes after a
    /// later-published message of its key.
    pub(super) fn first(&mut self, idx: u32, key: u32) -> bool {
        let k = key as usize;
        let Some(max) = self.max.get_mut(k) else {
            return false;
        };
        self.present.insert(k);
        if (idx as i64) < *max {
            self.late.insert(k);
            self.late_messages += 1;
            true
        } else {
            *max = idx as i64;
            false
        }
    }

    /// `(late_per_key, keys_affected, keys)` of [`OrderFigures`].
    pub(super) fn figures(&self) -> (u64, u64, u64) {
        (self.late_messages, self.late.count(), self.present.count())
    }
}

/// What [`OrderStream::push`] made of one index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sight {
    /// At or beyond the limit: not part of this order.
    Beyond,
    /// Seen before: only its first occurrence counts.
    Repeat,
    /// Its first occurrence; `late_in_key` when a later-published message of its key came
    /// before it.
    First { late_in_key: bool },
}

/// The divergence figures of an order fed one index at a time (module docs). Memory: 1 bit per
/// index up to the largest one fed (plus 1/64 bit for ranks), O(keys) per key.
#[derive(Debug)]
pub struct OrderStream {
    seen: SeenSet,
    limit: u64,
    keys: KeyOrder,
    /// The largest index fed below the limit (the running maximum that makes others late).
    highest: Option<u32>,
    /// Every index fed, in order, to check the replay against.
    digest: Digest,
    f: OrderFigures,
}

impl OrderStream {
    /// An empty order of messages with keys `0..num_keys`; indexes at or beyond `limit` are not
    /// part of it (`divergence` skips `idx >= keys.len()`: pass `keys.len()` for its figures;
    /// `u64::MAX` keeps every index).
    pub fn new(num_keys: u32, limit: u64) -> OrderStream {
        OrderStream {
            seen: SeenSet::default(),
            limit,
            keys: KeyOrder::new(num_keys),
            highest: None,
            digest: Digest::default(),
            f: OrderFigures::default(),
        }
    }

    /// The next index of the order, with its message's key.
    pub fn push(&mut self, idx: u32, key: u32) -> Sight {
        self.digest.add(idx as u64);
        if idx as u64 >= self.limit {
            return Sight::Beyond;
        }
        let i = idx as usize;
        if !self.seen.insert(i) {
            return Sight::Repeat;
        }
        match self.highest {
            Some(h) if idx < h => self.f.late += 1,
            _ => self.highest = Some(idx),
        }
        let late_in_key = self.keys.first(idx, key);
        // The seen set already holds `idx`, and it is not below itself: every earlier message
        // with a larger index forms an inversion with this one.
        self.f.inversions += self.f.messages - self.seen.rank(i);
        self.f.messages += 1;
        Sight::First { late_in_key }
    }

    /// The figures so far; `max_displacement` is 0 until [`OrderStream::finish`].
    pub fn so_far(&self) -> OrderFigures {
        let (late_per_key, keys_affected, keys) = self.keys.figures();
        OrderFigures {
            late_per_key,
            keys_affected,
            keys,
            ..self.f
        }
    }

    /// `(late, late_per_key)` so far: two counters, cheap enough for every message (unlike
    /// [`OrderStream::so_far`], which counts the keys).
    pub fn late(&self) -> (u64, u64) {
        (self.f.late, self.keys.late_messages)
    }

    /// The largest index fed below the limit.
    pub fn highest(&self) -> Option<u32> {
        self.highest
    }

    /// Messages fed below the limit that were seen below `idx`: its rank among all present.
    pub(super) fn rank(&self, idx: u32) -> u64 {
        self.seen.rank(idx as usize)
    }

    /// All figures, `max_displacement` from `replay`: the same indexes in the same order as
    /// they were pushed (a spill file read back). An error when the replay differs.
    pub fn finish(
        self,
        replay: impl IntoIterator<Item = u32>,
    ) -> Result<OrderFigures, StreamError> {
        let span = self.highest.map_or(0, |h| h as usize + 1);
        let mut visited = Bits::new(span);
        let mut displacement = Displacement::default();
        let mut digest = Digest::default();
        let mut replayed = 0;
        for idx in replay {
            digest.add(idx as u64);
            replayed += 1;
            // Beyond the highest index pushed: not in the pushed order (the digest says so).
            let i = idx as usize;
            if (idx as u64) < self.limit && i < span && visited.insert(i) {
                displacement.next(self.rank(idx));
            }
        }
        if digest != self.digest {
            return Err(StreamError::Replay {
                fed: self.digest.count,
                replayed,
            });
        }
        Ok(OrderFigures {
            max_displacement: displacement.max,
            ..self.so_far()
        })
    }
}

/// Computes the divergence figures of `order` against publish order. `keys[idx]` is the key of
/// message `idx`; indexes at or beyond `keys.len()` are not part of the order. Repeated indexes
/// (a message stored twice) count at their first occurrence.
///
/// An [`OrderStream`] fed the whole order, and the same order again as its replay: the working
/// memory is two bits per message up to the largest index (the seen set, the replay's visited
/// set) and 1/64 bit for the ranks, where a Fenwick tree over the indexes took 4 B.
pub fn divergence<K: KeyOf + ?Sized>(order: &[u32], keys: &K, num_keys: u32) -> OrderFigures {
    match divergence_walked(order.iter().copied(), order.iter().copied(), keys, num_keys) {
        Ok(f) => f,
        // The replay is the very slice pushed: its fingerprint cannot differ.
        Err(e) => unreachable!("{e}"),
    }
}

/// [`divergence`] of an order not held in memory, walked twice: `first`, then `again` (an
/// order spooled to disk, `record::completion`). An error when the second walk differs.
pub fn divergence_walked<K: KeyOf + ?Sized>(
    first: impl IntoIterator<Item = u32>,
    again: impl IntoIterator<Item = u32>,
    keys: &K,
    num_keys: u32,
) -> Result<OrderFigures, StreamError> {
    let n = keys.len();
    let mut s = OrderStream::new(num_keys, n as u64);
    for idx in first {
        let i = idx as usize;
        // Beyond `keys`: not part of the order, and `push` does not look at the key.
        s.push(idx, if i < n { keys.key(i) } else { 0 });
    }
    s.finish(again)
}

/// The largest distance between a message's position among the first occurrences and its rank
/// among all messages present, over the messages given in order.
#[derive(Debug, Default)]
pub(super) struct Displacement {
    position: u64,
    pub(super) max: u64,
}

impl Displacement {
    /// The next first occurrence, of `rank`.
    pub(super) fn next(&mut self, rank: u64) {
        self.max = self.max.max(self.position.abs_diff(rank));
        self.position += 1;
    }
}
