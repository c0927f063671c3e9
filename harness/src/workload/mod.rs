//! Workload (Jepsen's "generator"): what is published, in which order, to which key, and when.
//!
//! Everything random here flows from the Plan's seed, so a run can be repeated exactly: the key
//! of every message is drawn up front into the history (cheap, and it keeps the RNG out of the
//! hot path). The pacer gives each message its intended send time in open-loop mode, so that
//! latency can be measured from when a message *should* have been sent (coordinated omission).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::hash::fnv1a;
use crate::record::keys::Keys;
use crate::scenario::{KeyDistribution, WorkloadPlan};

mod pacer;
mod wire;

pub use pacer::Pacer;
pub use wire::{
    key_hash, key_name, payload, run_tag, HeaderBuilder, Ident, Reader, Subjects, Tag, Tagger,
    H_ATTEMPT, H_CONN, H_IDX, H_KEY, H_RUN, H_SEQ, TAG_MAGIC,
};

/// Draws message keys from the seed, in publish order, a chunk at a time (duration-bound runs
/// do not know their message count in advance).
pub struct KeyGen {
    rng: ChaCha8Rng,
    dist: KeyDistribution,
    keys: u32,
    cdf: Vec<f64>,
    next: u64,
}

impl KeyGen {
    pub fn new(plan: &WorkloadPlan, seed: u64) -> KeyGen {
        KeyGen {
            rng: ChaCha8Rng::seed_from_u64(seed),
            dist: plan.key_distribution,
            keys: plan.keys,
            cdf: if plan.key_distribution == KeyDistribution::Zipf {
                zipf_cdf(plan.keys, plan.zipf_exponent)
            } else {
                Vec::new()
            },
            next: 0,
        }
    }

    /// The keys of the next `n` messages.
    pub fn take(&mut self, n: usize) -> Vec<u32> {
        let k = self.keys;
        let start = self.next;
        self.next += n as u64;
        match self.dist {
            KeyDistribution::RoundRobin => (0..n as u64)
                .map(|i| ((start + i) % k as u64) as u32)
                .collect(),
            KeyDistribution::Uniform => (0..n).map(|_| self.rng.random_range(0..k)).collect(),
            KeyDistribution::Zipf => (0..n)
                .map(|_| {
                    let u: f64 = self.rng.random();
                    self.cdf.partition_point(|&c| c < u).min(k as usize - 1) as u32
                })
                .collect(),
        }
    }
}

impl KeyGen {
    /// The keys of the next `n` messages as a key column, drawn a chunk at a time: the column
    /// is the only copy (1 B per message for up to 256 keys), not a `Vec<u32>` of them first.
    pub fn take_keys(&mut self, n: usize) -> Keys {
        const CHUNK: usize = 1 << 16;
        let mut keys = Keys::with_capacity(self.keys.saturating_sub(1), n);
        let mut left = n;
        while left > 0 {
            let c = left.min(CHUNK);
            keys.extend_from_slice(&self.take(c));
            left -= c;
        }
        keys
    }
}

/// The seed the warm-up's keys are drawn from (the measured phase draws from the plan's seed
/// itself): a stream of its own, so the measured keys do not depend on the warm-up.
pub fn warmup_seed(seed: u64) -> u64 {
    seed ^ 0x5741_524d_5550
}

/// Each key's expected share of the messages (summing to 1): 1/K for `uniform` and
/// `round_robin`, 1/(k+1)^s normalised for `zipf`. Never increasing with the key's number.
pub fn key_weights(plan: &WorkloadPlan) -> Vec<f64> {
    let k = plan.keys;
    match plan.key_distribution {
        KeyDistribution::Uniform | KeyDistribution::RoundRobin => vec![1.0 / k as f64; k as usize],
        KeyDistribution::Zipf => {
            let weights = zipf_weights(k, plan.zipf_exponent);
            let total: f64 = weights.iter().sum();
            weights.iter().map(|w| w / total).collect()
        }
    }
}

/// The keys of the first `n` messages for a seed.
pub fn draw_keys(plan: &WorkloadPlan, n: usize, seed: u64) -> Vec<u32> {
    KeyGen::new(plan, seed).take(n)
}

/// Zipf's unnormalised weights: key k is drawn in proportion to 1/(k+1)^s.
fn zipf_weights(k: u32, s: f64) -> Vec<f64> {
    (0..k).map(|i| 1.0 / ((i + 1) as f64).powf(s)).collect()
}

fn zipf_cdf(k: u32, s: f64) -> Vec<f64> {
    let weights = zipf_weights(k, s);
    let total: f64 = weights.iter().sum();
    let mut acc = 0.0;
    weights
        .iter()
        .map(|w| {
            acc += w / total;
            acc
        })
        .collect()
}

/// Stable key → connection mapping for `key_affine` (FNV-1a of the key's name), so another tool
/// can tell which connection a key used.
pub fn key_affine_conn(key_name: &str, conns: usize) -> usize {
    (fnv1a(key_name.as_bytes()) % conns as u64) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{Amount, Rate, Warmup};

    fn plan(dist: KeyDistribution, keys: u32) -> WorkloadPlan {
        WorkloadPlan {
            amount: Amount::Messages(1000),
            max_messages: 1000,
            warmup: Warmup::Messages(0),
            keys,
            key_distribution: dist,
            zipf_exponent: 1.2,
            payload_size: 16,
            rate: Rate::Max,
        }
    }

    #[test]
    fn keys_are_reproducible_from_seed() {
        let p = plan(KeyDistribution::Uniform, 16);
        assert_eq!(draw_keys(&p, 1000, 1), draw_keys(&p, 1000, 1));
        assert_ne!(draw_keys(&p, 1000, 1), draw_keys(&p, 1000, 2));
        assert!(draw_keys(&p, 1000, 1).iter().all(|&k| k < 16));
    }

    #[test]
    fn a_key_column_drawn_in_chunks_holds_the_same_keys() {
        // Across chunk boundaries (64 Ki) and in each width: the same keys as one draw, and
        // the next draw continues where the column stopped. Would fail if a chunk redrew or
        // skipped keys, or a key were cut to a narrower width.
        for (dist, keys) in [
            (KeyDistribution::Uniform, 16),
            (KeyDistribution::Zipf, 300),
            (KeyDistribution::RoundRobin, 70_000),
        ] {
            let p = plan(dist, keys);
            let n = (1 << 16) * 2 + 5;
            let mut g = KeyGen::new(&p, 7);
            let column = g.take_keys(n);
            let next = g.take(3);
            let all = draw_keys(&p, n + 3, 7);
            assert_eq!(column.iter().collect::<Vec<_>>(), all[..n]);
            assert_eq!(next, all[n..]);
        }
    }

    #[test]
    fn round_robin_and_zipf_keys() {
        let rr = draw_keys(&plan(KeyDistribution::RoundRobin, 4), 8, 0);
        assert_eq!(rr, vec![0, 1, 2, 3, 0, 1, 2, 3]);
        let z = draw_keys(&plan(KeyDistribution::Zipf, 100), 10_000, 3);
        let hot = z.iter().filter(|&&k| k == 0).count();
        let cold = z.iter().filter(|&&k| k == 99).count();
        assert!(hot > 10 * cold.max(1), "hot {hot} cold {cold}");
    }

    #[test]
    fn key_weights_sum_to_one_and_never_increase() {
        for dist in [
            KeyDistribution::Uniform,
            KeyDistribution::RoundRobin,
            KeyDistribution::Zipf,
        ] {
            let w = key_weights(&plan(dist, 50));
            assert_eq!(w.len(), 50);
            assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12, "{dist:?}");
            assert!(w.windows(2).all(|p| p[0] >= p[1]), "{dist:?}");
        }
    }

    #[test]
    fn fnv1a_has_the_reference_values() {
        // FNV-1a 64 test vectors: key → connection and key → worker must never change.
        assert_eq!(crate::hash::fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(crate::hash::fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(crate::hash::fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn key_affine_is_stable_and_spreads() {
        let conns: Vec<usize> = (0..64).map(|k| key_affine_conn(&key_name(k), 4)).collect();
        assert_eq!(
            conns,
            (0..64)
                .map(|k| key_affine_conn(&key_name(k), 4))
                .collect::<Vec<_>>()
        );
        for c in 0..4 {
            assert!(conns.contains(&c));
        }
    }
}
