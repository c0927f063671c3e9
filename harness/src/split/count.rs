//! Each worker's exact message count in a plan with a message count: the plan's keys, drawn as
//! the run draws them, counted by owner. `round_robin` keys are counted without drawing (message
//! i has key i mod K); the others are drawn a chunk at a time, so memory stays flat however many
//! messages the plan has.

use crate::scenario::{KeyDistribution, WorkloadPlan};
use crate::workload::KeyGen;

/// Keys drawn per chunk.
const CHUNK: u64 = 1 << 16;

/// How many of the first `n` messages drawn from `seed` each of `workers` owns (`owner`: key →
/// worker).
pub(super) fn messages(
    plan: &WorkloadPlan,
    seed: u64,
    n: u64,
    owner: &[u16],
    workers: usize,
) -> Vec<u64> {
    let mut counts = vec![0u64; workers];
    if plan.key_distribution == KeyDistribution::RoundRobin {
        let k = plan.keys as u64;
        for (key, &o) in owner.iter().enumerate() {
            counts[o as usize] += n / k + u64::from((key as u64) < n % k);
        }
        return counts;
    }
    let mut keygen = KeyGen::new(plan, seed);
    let mut left = n;
    while left > 0 {
        let take = left.min(CHUNK);
        for key in keygen.take(take as usize) {
            counts[owner[key as usize] as usize] += 1;
        }
        left -= take;
    }
    counts
}
