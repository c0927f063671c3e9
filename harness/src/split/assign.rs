//! Who gets what: whether a plan can be split at all, each worker's block of connections, and
//! each key's owner (see the module docs of `split/` for why they are chosen this way).

use std::ops::Range;

use super::Unsplittable;
use crate::scenario::{Plan, Strategy};
use crate::workload::{key_affine_conn, key_name, key_weights};

/// Every reason `plan` cannot be split across `workers` that is known before keys are dealt.
pub(super) fn check(plan: &Plan, workers: usize) -> Vec<Unsplittable> {
    if workers == 0 {
        return vec![Unsplittable::NoWorkers];
    }
    let mut reasons = Vec::new();
    let count = plan.connections.count;
    if plan.connections.strategy == Strategy::Single && workers > 1 {
        reasons.push(Unsplittable::SingleConnection { workers });
    } else if count < workers {
        reasons.push(Unsplittable::FewerConnections { count, workers });
    }
    if (plan.workload.keys as usize) < workers {
        reasons.push(Unsplittable::FewerKeys {
            keys: plan.workload.keys,
            workers,
        });
    }
    reasons
}

/// Worker w's connections: `[⌊w·count/workers⌋, ⌊(w+1)·count/workers⌋)`, sizes differing by at
/// most one, none empty when `count >= workers`.
pub(super) fn connection_blocks(count: usize, workers: usize) -> Vec<Range<usize>> {
    (0..workers)
        .map(|w| w * count / workers..(w + 1) * count / workers)
        .collect()
}

/// Each key's owner (index = key number). `key_affine`: the worker whose block holds the key's
/// connection; otherwise dealt by [`deal`]. An error when a worker gets no key.
pub(super) fn key_owners(
    plan: &Plan,
    blocks: &[Range<usize>],
) -> Result<Vec<u16>, Vec<Unsplittable>> {
    let keys = plan.workload.keys;
    let owner = match plan.connections.strategy {
        Strategy::KeyAffine => {
            let pool = plan.connections.count;
            (0..keys)
                .map(|k| {
                    let c = key_affine_conn(&key_name(k), pool);
                    blocks.iter().position(|b| b.contains(&c)).unwrap_or(0) as u16
                })
                .collect()
        }
        Strategy::Single | Strategy::RoundRobin => deal(&key_weights(&plan.workload), blocks),
    };
    let mut has_key = vec![false; blocks.len()];
    for &o in &owner {
        has_key[o as usize] = true;
    }
    let idle: Vec<Unsplittable> = has_key
        .iter()
        .enumerate()
        .filter(|(_, &has)| !has)
        .map(|(worker, _)| Unsplittable::IdleWorker {
            worker,
            connections: blocks[worker].clone(),
            pool: plan.connections.count,
            keys,
        })
        .collect();
    if idle.is_empty() {
        Ok(owner)
    } else {
        Err(idle)
    }
}

/// Deals keys to workers in proportion to their connections: heaviest key first (`weights`
/// never increase with the key number, so that is key order), each to the worker whose load per
/// connection would be lowest with it; ties go to the lighter worker, then the lower number.
/// Because each key weighs no more than any dealt before it, a worker without a key always wins
/// over one with a key (its load per connection with the key is at most theirs): with at least
/// as many keys as workers, every worker gets one.
fn deal(weights: &[f64], blocks: &[Range<usize>]) -> Vec<u16> {
    let mut load = vec![0.0f64; blocks.len()];
    weights
        .iter()
        .map(|&w| {
            let mut best = 0;
            let mut best_ratio = f64::INFINITY;
            for (i, b) in blocks.iter().enumerate() {
                let ratio = (load[i] + w) / b.len().max(1) as f64;
                if ratio < best_ratio || (ratio == best_ratio && load[i] < load[best]) {
                    best = i;
                    best_ratio = ratio;
                }
            }
            load[best] += w;
            best as u16
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_partition_the_connections_evenly() {
        for count in 1..=20 {
            for workers in 1..=count {
                let b = connection_blocks(count, workers);
                assert_eq!(b[0].start, 0);
                assert_eq!(b[workers - 1].end, count);
                assert!(b.windows(2).all(|p| p[0].end == p[1].start));
                let sizes: Vec<usize> = b.iter().map(|r| r.len()).collect();
                let (min, max) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
                assert!(*min >= 1 && max - min <= 1, "{count}/{workers}: {sizes:?}");
            }
        }
    }

    #[test]
    fn dealing_gives_every_worker_a_key_even_with_uneven_blocks() {
        // 7 connections over 5 workers: blocks of 1, 1, 2, 1, 2.
        let blocks = connection_blocks(7, 5);
        let owner = deal(&[0.2; 5], &blocks);
        let mut seen = owner.clone();
        seen.sort();
        assert_eq!(seen, vec![0, 1, 2, 3, 4]);
    }

    #[test]
    fn dealing_follows_the_connections() {
        // 3 connections over 2 workers (1 and 2): 30 equal keys go 10 and 20.
        let owner = deal(&[0.125; 30], &connection_blocks(3, 2));
        let ones = owner.iter().filter(|&&o| o == 1).count();
        assert_eq!(ones, 20, "{owner:?}");
    }
}
