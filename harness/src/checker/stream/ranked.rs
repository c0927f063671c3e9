//! [`divergence_by_rank`]: `divergence` of an order given as a rank per message — each
//! message's place in it, such as its ack's arrival rank on the wire or its ack's stream
//! sequence — without building the order: no buffer of 4 B per message sorted by the rank, but
//! one bit per rank value (a [`SeenSet`]) and O(keys).
//!
//! The order is the messages that have a rank, ascending by rank. Divergence only compares two
//! orders of the same messages — publish order and this one — so each figure can be counted
//! walking publish order and asking about ranks:
//! - `inversions`: pairs in one order and not the other; walking publish order, a message forms
//!   one with each earlier message of a higher rank (earlier ones minus those ranked below it);
//! - `late` (per key alike): a message is late when a later-published message has a lower rank;
//!   walking publish order backwards, when the lowest rank seen so far is below its own;
//! - `max_displacement`: a message's position in the order is the number of ranks below its
//!   own, its position in publish order the number of earlier messages.
//!
//! Ranks must be distinct: two messages with one rank have no order between them. When they are
//! not (two acks that named the same stream sequence), or the ranks spread far beyond the number
//! of messages (the bitset would outgrow the buffer), it answers `None` and the caller sorts.

use super::bits::SeenSet;
use crate::checker::OrderFigures;
use crate::record::keys::KeyOf;

/// Ranks may spread up to this many times the number of messages (plus a little) before the
/// bitset is judged too large and the caller sorts instead: 1 bit per rank value, so at 8 it
/// costs at most 1 B per message, a quarter of a sorted buffer.
const SPREAD: u64 = 8;

/// `divergence` of the messages `0..n` that `rank_of` gives a rank, in ascending rank: the same
/// figures as sorting them by rank and judging that order. `None` when two messages share a
/// rank or the ranks spread too far (module docs).
pub fn divergence_by_rank<K: KeyOf + ?Sized>(
    n: usize,
    rank_of: impl Fn(usize) -> Option<u64>,
    keys: &K,
    num_keys: u32,
) -> Option<OrderFigures> {
    let n = n.min(keys.len());
    let limit = SPREAD * n as u64 + 4096;
    let mut f = OrderFigures::default();
    // Walk publish order once: every rank into the set (a repeat is a shared rank), each
    // message's inversions with the earlier ones.
    let mut ranks = SeenSet::default();
    for i in 0..n {
        let Some(r) = rank_of(i) else { continue };
        if r >= limit || !ranks.insert(r as usize) {
            return None;
        }
        f.inversions += f.messages - ranks.rank(r as usize);
        f.messages += 1;
    }
    // Again, now that every rank is known: each message's position in the order.
    let mut before = 0u64;
    for i in 0..n {
        let Some(r) = rank_of(i) else { continue };
        f.max_displacement = f
            .max_displacement
            .max(ranks.rank(r as usize).abs_diff(before));
        before += 1;
    }
    late_backwards(n, &rank_of, keys, num_keys, &mut f);
    Some(f)
}

/// `late`, `late_per_key`, `keys_affected` and `keys`: publish order walked backwards, keeping
/// the lowest rank seen overall and per key.
fn late_backwards<K: KeyOf + ?Sized>(
    n: usize,
    rank_of: &impl Fn(usize) -> Option<u64>,
    keys: &K,
    num_keys: u32,
    f: &mut OrderFigures,
) {
    let nk = num_keys as usize;
    let mut lowest = u64::MAX;
    let mut key_lowest = vec![u64::MAX; nk];
    let mut key_late = vec![false; nk];
    let mut key_present = vec![false; nk];
    for i in (0..n).rev() {
        let Some(r) = rank_of(i) else { continue };
        f.late += (lowest < r) as u64;
        lowest = lowest.min(r);
        let k = keys.key(i) as usize;
        if k >= nk {
            continue;
        }
        key_present[k] = true;
        if key_lowest[k] < r {
            f.late_per_key += 1;
            key_late[k] = true;
        }
        key_lowest[k] = key_lowest[k].min(r);
    }
    f.keys = key_present.iter().filter(|&&p| p).count() as u64;
    f.keys_affected = key_late.iter().filter(|&&l| l).count() as u64;
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng};

    use super::*;
    use crate::checker::divergence;

    /// The order the ranks describe, sorted: what the caller would otherwise build.
    fn sorted(ranks: &[Option<u64>]) -> Vec<u32> {
        let mut order: Vec<u32> = (0..ranks.len() as u32)
            .filter(|&i| ranks[i as usize].is_some())
            .collect();
        order.sort_by_key(|&i| ranks[i as usize]);
        order
    }

    #[test]
    fn the_figures_of_the_sorted_order_on_random_ranks() {
        // Messages with and without a rank, ranks nearly in publish order (acks) or shuffled,
        // dense or with gaps, across 512-bit blocks and 64 Ki-bit chunks: every field equals
        // `divergence` of the sorted order. Would fail if a late message, an inversion or a
        // displacement were counted from the wrong side, or a key's lowest rank were kept wrong.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(24);
        for round in 0..300 {
            let n = rng.random_range(0..if round % 10 == 0 { 200_000 } else { 3_000 });
            let nk = rng.random_range(1..20u32);
            let keys: Vec<u32> = (0..n).map(|_| rng.random_range(0..nk)).collect();
            let gap = rng.random_range(1..4u64);
            let mut pool: Vec<u64> = (0..n as u64).map(|r| r * gap).collect();
            // Local swaps (an ack overtaking a few) or a full shuffle.
            let swaps = if rng.random_bool(0.2) { n * 2 } else { n / 10 };
            for _ in 0..swaps {
                let a = rng.random_range(0..n.max(1));
                let b = if rng.random_bool(0.8) {
                    (a + rng.random_range(0..50)).min(n.max(1) - 1)
                } else {
                    rng.random_range(0..n.max(1))
                };
                if n > 0 {
                    pool.swap(a, b);
                }
            }
            let ranks: Vec<Option<u64>> = pool
                .iter()
                .map(|&r| rng.random_bool(0.9).then_some(r))
                .collect();
            let got = divergence_by_rank(n, |i| ranks[i], &keys, nk);
            assert_eq!(
                got,
                Some(divergence(&sorted(&ranks), &keys, nk)),
                "round {round}"
            );
        }
    }

    #[test]
    fn shared_or_far_spread_ranks_are_left_to_the_caller() {
        let keys = [0u32; 4];
        assert_eq!(
            divergence_by_rank(4, |i| Some([3, 1, 3, 0][i]), &keys, 1),
            None
        );
        let far = SPREAD * 4 + 4096;
        assert_eq!(
            divergence_by_rank(4, |i| Some(far + i as u64), &keys, 1),
            None
        );
        // No ranks at all: an empty order.
        let none = divergence_by_rank(4, |_| None, &keys, 1);
        assert_eq!(none, Some(OrderFigures::default()));
    }

    #[test]
    fn a_small_case_by_hand() {
        // Ranks 2, 0, 1 (message 1 first, then 2, then 0), keys 0, 1, 0: 0 is late behind 1
        // and 2 (globally) and behind 2 within key 0.
        let keys = [0u32, 1, 0];
        let f = divergence_by_rank(3, |i| Some([2, 0, 1][i]), &keys, 2).unwrap();
        assert_eq!((f.messages, f.late, f.inversions), (3, 1, 2));
        assert_eq!((f.late_per_key, f.keys_affected, f.keys), (1, 1, 2));
        assert_eq!(f.max_displacement, 2);
    }
}
