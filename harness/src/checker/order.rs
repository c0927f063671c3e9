//! Order divergence: how far an observed order (acks on the wire, ack futures completing,
//! messages in the stream, processings) is from publish order, overall and within each key.
//!
//! An *order* is a sequence of message indexes (publish index, from 0) as some observer saw them.
//! Publish order is the reference: index order. A message is *late* when it comes after a message
//! published after it.

use serde::{Deserialize, Serialize};

/// Divergence of one observed order from publish order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderFigures {
    /// Messages in this order (first occurrences).
    pub messages: u64,
    /// Messages that come after a later-published message.
    pub late: u64,
    /// Pairs (a, b) where a was published before b but b comes first.
    pub inversions: u64,
    /// Largest distance between a message's position here and its position in publish order
    /// (both counted among the messages present in this order).
    pub max_displacement: u64,
    /// Messages that come after a later-published message of the same key.
    pub late_per_key: u64,
    /// Keys with at least one message late within its key.
    pub keys_affected: u64,
    /// Keys present in this order.
    pub keys: u64,
}

impl OrderFigures {
    pub fn late_share(&self) -> f64 {
        ratio(self.late, self.messages)
    }

    pub fn late_per_key_share(&self) -> f64 {
        ratio(self.late_per_key, self.messages)
    }

    /// "preserved (0 of N)" or "broken: 71% late per key" (per key first: that is what an
    /// aggregate sees; a global-only break says so).
    pub fn describe(&self) -> String {
        if self.messages == 0 {
            "no data".to_string()
        } else if self.late == 0 {
            format!("preserved (0 of {})", self.messages)
        } else if self.late_per_key > 0 {
            format!(
                "broken: {} late per key",
                percent(self.late_per_key_share())
            )
        } else {
            format!("per key kept; {} late globally", percent(self.late_share()))
        }
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Formats a share as a percentage with sensible precision ("71%", "0.02%").
pub fn percent(share: f64) -> String {
    let p = share * 100.0;
    if p == 0.0 {
        "0%".into()
    } else if p < 0.01 {
        "<0.01%".into()
    } else if p < 1.0 {
        format!("{p:.2}%")
    } else if p < 10.0 {
        format!("{p:.1}%")
    } else {
        format!("{p:.0}%")
    }
}

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
pub struct DivergenceScratch {
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
pub fn divergence(order: &[u32], keys: &[u32], num_keys: u32) -> OrderFigures {
    divergence_in(order, keys, num_keys, &mut DivergenceScratch::default())
}

/// [`divergence`] in `scratch`'s buffers (the same figures).
pub fn divergence_in(
    order: &[u32],
    keys: &[u32],
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
        let k = keys[i] as usize;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn fig(order: &[u32], keys: &[u32]) -> OrderFigures {
        let nk = keys.iter().max().map_or(0, |m| m + 1);
        divergence(order, keys, nk)
    }

    #[test]
    fn publish_order_has_no_divergence() {
        let keys = [0, 1, 0, 1, 2];
        let f = fig(&[0, 1, 2, 3, 4], &keys);
        assert_eq!(
            f,
            OrderFigures {
                messages: 5,
                keys: 3,
                ..Default::default()
            }
        );
        assert_eq!(f.describe(), "preserved (0 of 5)");
    }

    #[test]
    fn one_swap_across_keys() {
        // 1 (key 1) overtakes 0 (key 0): globally late, per key fine.
        let keys = [0, 1, 0, 1];
        let f = fig(&[1, 0, 2, 3], &keys);
        assert_eq!(f.late, 1);
        assert_eq!(f.inversions, 1);
        assert_eq!(f.max_displacement, 1);
        assert_eq!(f.late_per_key, 0);
        assert_eq!(f.keys_affected, 0);
        assert_eq!(f.keys, 2);
        assert!(f.describe().starts_with("per key kept"));
    }

    #[test]
    fn swap_within_a_key() {
        let keys = [0, 1, 0, 1];
        let f = fig(&[2, 1, 0, 3], &keys);
        // 1 after 2, 0 after 2: late = 2; per key: 0 after 2 (key 0) = 1.
        assert_eq!(f.late, 2);
        assert_eq!(f.inversions, 3);
        assert_eq!(f.max_displacement, 2);
        assert_eq!(f.late_per_key, 1);
        assert_eq!(f.keys_affected, 1);
        assert_eq!(f.describe(), "broken: 25% late per key");
    }

    #[test]
    fn full_reversal() {
        let keys = [0; 5];
        let f = fig(&[4, 3, 2, 1, 0], &keys);
        assert_eq!(f.late, 4);
        assert_eq!(f.inversions, 10);
        assert_eq!(f.max_displacement, 4);
        assert_eq!(f.late_per_key, 4);
        assert_eq!(f.keys_affected, 1);
    }

    #[test]
    fn subsets_and_duplicates() {
        // Only some messages present (e.g. acked ones); displacement counts among present ones.
        let keys = [0, 0, 0, 0, 0, 0];
        let f = fig(&[1, 5, 3, 3, 5], &keys);
        assert_eq!(f.messages, 3);
        assert_eq!(f.late, 1); // 3 after 5
        assert_eq!(f.inversions, 1);
        assert_eq!(f.max_displacement, 1);
        // Out-of-range indexes are ignored.
        assert_eq!(fig(&[0, 99], &[0]).messages, 1);
    }

    #[test]
    fn fenwick_matches_brute_force() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        for _ in 0..50 {
            let n = rng.random_range(1..60usize);
            let keys: Vec<u32> = (0..n).map(|_| rng.random_range(0..4)).collect();
            let mut order: Vec<u32> = (0..n as u32).collect();
            for i in (1..n).rev() {
                if rng.random_bool(0.3) {
                    order.swap(i, rng.random_range(0..=i));
                }
            }
            let f = divergence(&order, &keys, 4);
            let mut inv = 0;
            let mut late = 0;
            let mut late_k = 0;
            for q in 0..n {
                if (0..q).any(|p| order[p] > order[q]) {
                    late += 1;
                }
                if (0..q).any(|p| {
                    order[p] > order[q] && keys[order[p] as usize] == keys[order[q] as usize]
                }) {
                    late_k += 1;
                }
                inv += (0..q).filter(|&p| order[p] > order[q]).count() as u64;
            }
            let disp = (0..n)
                .map(|p| p.abs_diff(order[p] as usize) as u64)
                .max()
                .unwrap();
            assert_eq!(
                (f.inversions, f.late, f.late_per_key, f.max_displacement),
                (inv, late, late_k, disp)
            );
        }
    }

    #[test]
    fn one_scratch_judges_many_orders_as_fresh_buffers_do() {
        // Orders of different sizes, with repeats and out-of-range indexes, one after the other
        // in one scratch (shrinking and growing): each gives exactly what `divergence` gives.
        // Would fail if a reused bitset or Fenwick tree kept marks from the previous order.
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(24);
        let mut scratch = DivergenceScratch::default();
        for _ in 0..60 {
            let n = rng.random_range(0..200usize);
            let keys: Vec<u32> = (0..n).map(|_| rng.random_range(0..5)).collect();
            let len = rng.random_range(0..2 * n + 2);
            let order: Vec<u32> = (0..len)
                .map(|_| rng.random_range(0..n as u32 + 3))
                .collect();
            let fresh = divergence(&order, &keys, 5);
            assert_eq!(divergence_in(&order, &keys, 5, &mut scratch), fresh);
            // The same order again in the same, now dirty, scratch.
            assert_eq!(divergence_in(&order, &keys, 5, &mut scratch), fresh);
        }
    }
}
