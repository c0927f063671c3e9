//! The end-of-run divergence as it was computed before `checker::divergence` ran on the
//! streaming checker's bitsets (`order.rs`): a Fenwick tree of 4 B per message. Kept for the
//! tests only, as an independent reference the bit-based figures are held to.

use crate::checker::OrderFigures;
use crate::record::keys::KeyOf;

/// Fenwick tree over message indexes: counts how many were seen below a given index.
#[derive(Debug, Default)]
struct Fenwick {
    tree: Vec<u32>,
}

impl Fenwick {
    /// Empties the tree for indexes below `n` (its buffer is reused).
    fn reset(&mut self, n: usize) {
        self.tree.clear();
        self.tree.resize(n + 1, 0);
    }

    fn add(&mut self, i: usize) {
        let mut i = i + 1;
        while i < self.tree.len() {
            self.tree[i] += 1;
            i += i & i.wrapping_neg();
        }
    }

    /// Number of added indexes < i.
    fn below(&self, i: usize) -> u64 {
        let mut i = i;
        let mut s = 0u64;
        while i > 0 {
            s += self.tree[i] as u64;
            i &= i - 1;
        }
        s
    }
}

/// The working memory of [`divergence_in`], kept between calls so the orders of one run
/// (storage, ack wire, completion, …) are judged one after the other in the same buffers
/// instead of each allocating its own: a bitset of the messages seen (1 bit per message) and
/// the Fenwick tree (4 B per message).
#[derive(Debug, Default)]
pub(crate) struct DivergenceScratch {
    seen: Vec<u64>,
    fenwick: Fenwick,
}

impl DivergenceScratch {
    /// Clears the buffers for `n` messages, growing them only when `n` is larger than before.
    fn reset(&mut self, n: usize) {
        self.seen.clear();
        self.seen.resize(n.div_ceil(64), 0);
        self.fenwick.reset(n);
    }

    /// Marks `i` seen; false when it already was.
    fn first_sight(&mut self, i: usize) -> bool {
        let (word, bit) = (i / 64, 1u64 << (i % 64));
        let fresh = self.seen[word] & bit == 0;
        self.seen[word] |= bit;
        fresh
    }
}

/// Computes the divergence figures of `order` against publish order. `keys[idx]` is the key of
/// message `idx`. Repeated indexes (a message stored twice) count at their first occurrence.
pub(crate) fn divergence(
    order: &[u32],
    keys: &(impl KeyOf + ?Sized),
    num_keys: u32,
) -> OrderFigures {
    divergence_in(order, keys, num_keys, &mut DivergenceScratch::default())
}

/// [`divergence`] in `scratch`'s buffers (the same figures).
pub(crate) fn divergence_in(
    order: &[u32],
    keys: &(impl KeyOf + ?Sized),
    num_keys: u32,
    scratch: &mut DivergenceScratch,
) -> OrderFigures {
    let n = keys.len();
    scratch.reset(n);
    let mut key_max: Vec<i64> = vec![-1; num_keys as usize];
    let mut key_late = vec![false; num_keys as usize];
    let mut key_present = vec![false; num_keys as usize];
    let mut f = OrderFigures::default();
    let mut global_max: i64 = -1;

    for &idx in order {
        let i = idx as usize;
        if i >= n || !scratch.first_sight(i) {
            continue;
        }
        let k = keys.key(i) as usize;
        key_present[k] = true;
        if (idx as i64) < global_max {
            f.late += 1;
        } else {
            global_max = idx as i64;
        }
        if (idx as i64) < key_max[k] {
            f.late_per_key += 1;
            key_late[k] = true;
        } else {
            key_max[k] = idx as i64;
        }
        // Earlier-positioned messages with a larger index each form an inversion with this one.
        f.inversions += f.messages - scratch.fenwick.below(i);
        scratch.fenwick.add(i);
        f.messages += 1;
    }

    // Displacement: position here vs. rank among the same set in publish order.
    scratch.seen.fill(0);
    let mut pos = 0u64;
    for &idx in order {
        let i = idx as usize;
        if i >= n || !scratch.first_sight(i) {
            continue;
        }
        let rank = scratch.fenwick.below(i);
        f.max_displacement = f.max_displacement.max(pos.abs_diff(rank));
        pos += 1;
    }

    f.keys = key_present.iter().filter(|&&p| p).count() as u64;
    f.keys_affected = key_late.iter().filter(|&&l| l).count() as u64;
    f
}
