//! `checker::divergence` on hand-made orders and against a brute force; and the same figures
//! as the per-index Fenwick reference (`reference.rs`) on random orders.

use super::reference::{divergence_in as reference_in, DivergenceScratch};
use crate::checker::{divergence, OrderFigures};

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
            if (0..q)
                .any(|p| order[p] > order[q] && keys[order[p] as usize] == keys[order[q] as usize])
            {
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
fn the_bit_based_figures_are_the_fenwick_references() {
    // Orders of different sizes, with repeats and out-of-range indexes: the figures from the
    // seen set and its block ranks are exactly the per-index Fenwick tree's. Would fail if a
    // rank across a 512-bit block boundary, a repeat or an index out of range were miscounted.
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(24);
    let mut scratch = DivergenceScratch::default();
    for _ in 0..200 {
        let n = rng.random_range(0..3000usize);
        let keys: Vec<u32> = (0..n).map(|_| rng.random_range(0..5)).collect();
        let len = rng.random_range(0..2 * n + 2);
        let order: Vec<u32> = (0..len)
            .map(|_| rng.random_range(0..n as u32 + 3))
            .collect();
        assert_eq!(
            divergence(&order, &keys, 5),
            reference_in(&order, &keys, 5, &mut scratch)
        );
    }
}

#[test]
fn an_order_walked_back_from_its_spool_has_the_figures_of_the_order_in_memory() {
    // The completion order of a followed run is spooled to disk (record/completion.rs) and
    // judged walked twice: the same figures as the order held in memory, across the spool's
    // chunks. Would fail if the walk lost, repeated or reordered an index.
    use crate::checker::divergence_walked;
    use crate::record::completion::CompletionOrder;
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let n = 200_000usize;
    let keys: Vec<u32> = (0..n).map(|_| rng.random_range(0..8)).collect();
    let mut order: Vec<u32> = (0..n as u32).collect();
    for _ in 0..n / 20 {
        let a = rng.random_range(0..n);
        let b = (a + rng.random_range(0..100)).min(n - 1);
        order.swap(a, b);
    }
    let mut spooled = CompletionOrder::spooled().expect("temp file");
    for &i in &order {
        spooled.push(i);
    }
    let walked = divergence_walked(spooled.iter(), spooled.iter(), &keys, 8).expect("same walk");
    assert_eq!(walked, divergence(&order, &keys, 8));
    assert_eq!(
        walked,
        reference_in(&order, &keys, 8, &mut DivergenceScratch::default())
    );
    // A second walk that differs is an error, not a figure.
    let mut other = order.clone();
    other.swap(0, 1);
    assert!(divergence_walked(spooled.iter(), other, &keys, 8).is_err());
}
