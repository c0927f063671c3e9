//! Workload (Jepsen's "generator"): what is published, in which order, to which key, and when.
//!
//! Everything random here flows from the Plan's seed, so a run can be repeated exactly: the key
//! of every message is drawn up front into the history (cheap, and it keeps the RNG out of the
//! hot path). The pacer gives each message its intended send time in open-loop mode, so that
//! latency can be measured from when a message *should* have been sent (coordinated omission).

use std::time::Duration;

use std::str::FromStr;

use async_nats::header::{HeaderName, HeaderValue};
use async_nats::HeaderMap;
use bytes::Bytes;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::scenario::{KeyDistribution, Rate, WorkloadPlan};

/// Message headers of the jsbench wire format (see README "Message format").
pub const H_RUN: &str = "Jsb-Run";
pub const H_KEY: &str = "Jsb-Key";
pub const H_SEQ: &str = "Jsb-Seq";
pub const H_IDX: &str = "Jsb-Idx";
pub const H_CONN: &str = "Jsb-Conn";
pub const H_ATTEMPT: &str = "Jsb-Attempt";

/// The name of key `k` as it appears in `Jsb-Key` and in the subject.
pub fn key_name(k: u32) -> String {
    format!("k{k}")
}

/// Subjects of one run: every message of the measured phase goes to `jsb.<run>.m.<key>`,
/// warm-up to `jsb.<run>.w.<key>`, so the read-back can filter the warm-up out.
#[derive(Debug, Clone)]
pub struct Subjects {
    pub stream_filter: String,
    pub measured_filter: String,
    measured: Vec<async_nats::Subject>,
    warmup: Vec<async_nats::Subject>,
}

impl Subjects {
    pub fn new(run_id: &str, keys: u32) -> Subjects {
        let make = |phase: &str| {
            (0..keys)
                .map(|k| async_nats::Subject::from(format!("jsb.{run_id}.{phase}.{}", key_name(k))))
                .collect()
        };
        Subjects {
            stream_filter: format!("jsb.{run_id}.>"),
            measured_filter: format!("jsb.{run_id}.m.>"),
            measured: make("m"),
            warmup: make("w"),
        }
    }

    pub fn get(&self, warmup: bool, key: u32) -> async_nats::Subject {
        if warmup {
            self.warmup[key as usize].clone()
        } else {
            self.measured[key as usize].clone()
        }
    }
}

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

/// The keys of the first `n` messages for a seed.
pub fn draw_keys(plan: &WorkloadPlan, n: usize, seed: u64) -> Vec<u32> {
    KeyGen::new(plan, seed).take(n)
}

fn zipf_cdf(k: u32, s: f64) -> Vec<f64> {
    let weights: Vec<f64> = (0..k).map(|i| 1.0 / ((i + 1) as f64).powf(s)).collect();
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

/// FNV-1a (64-bit): the one stable hash of the harness — key → connection (`key_affine`), key →
/// worker (keyed consume pool), bootstrap streams in `compare`. std's hasher is seeded per
/// process, and these mappings must be the same in every run and in other tools.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Stable key → connection mapping for `key_affine` (FNV-1a of the key's name), so another tool
/// can tell which connection a key used.
pub fn key_affine_conn(key_name: &str, conns: usize) -> usize {
    (fnv1a(key_name.as_bytes()) % conns as u64) as usize
}

/// Builds the headers of message attempts. Header names are parsed once: parsing a name checks
/// it against every standard NATS header, which cost more than the rest of the map.
#[derive(Debug, Clone)]
pub struct HeaderBuilder {
    run: HeaderName,
    key: HeaderName,
    seq: HeaderName,
    idx: HeaderName,
    conn: HeaderName,
    attempt: HeaderName,
}

impl Default for HeaderBuilder {
    fn default() -> Self {
        let name = |n: &str| HeaderName::from_str(n).expect("valid header name");
        HeaderBuilder {
            run: name(H_RUN),
            key: name(H_KEY),
            seq: name(H_SEQ),
            idx: name(H_IDX),
            conn: name(H_CONN),
            attempt: name(H_ATTEMPT),
        }
    }
}

impl HeaderBuilder {
    /// The headers of one attempt of message `idx` (key `key`, per-key sequence `seq`).
    #[allow(clippy::too_many_arguments)]
    pub fn build(
        &self,
        run: &str,
        key: &str,
        seq: u64,
        idx: u64,
        conn: usize,
        attempt: u32,
        msg_id: Option<String>,
    ) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(self.run.clone(), run);
        h.insert(self.key.clone(), key);
        h.insert(self.seq.clone(), HeaderValue::from(seq));
        h.insert(self.idx.clone(), HeaderValue::from(idx));
        h.insert(self.conn.clone(), HeaderValue::from(conn));
        h.insert(self.attempt.clone(), HeaderValue::from(attempt));
        if let Some(id) = msg_id {
            h.insert(async_nats::header::NATS_MESSAGE_ID, id);
        }
        h
    }
}

/// The filler payload shared by every message (cloning `Bytes` is a reference count).
pub fn payload(size: usize) -> Bytes {
    Bytes::from(
        (0..size)
            .map(|i| b'a' + (i % 26) as u8)
            .collect::<Vec<u8>>(),
    )
}

/// Intended send times for open-loop runs.
#[derive(Debug, Clone, Copy)]
pub struct Pacer {
    /// Nanoseconds between intended sends; 0 = closed loop.
    interval_ns: f64,
}

impl Pacer {
    pub fn new(rate: Rate) -> Pacer {
        Pacer {
            interval_ns: match rate {
                Rate::Max => 0.0,
                Rate::PerSec(r) => 1e9 / r as f64,
            },
        }
    }

    pub fn is_open_loop(&self) -> bool {
        self.interval_ns > 0.0
    }

    /// Intended send time of message `i`, in ns since the phase started.
    pub fn intended_ns(&self, i: u64) -> u64 {
        (i as f64 * self.interval_ns) as u64
    }

    /// How long to wait before message `i`, given `now_ns` since the phase started. tokio's timer
    /// has ~1 ms resolution, so the wait is rounded and the resulting lateness shows up honestly
    /// in the send-delay histogram.
    pub fn wait(&self, i: u64, now_ns: u64) -> Option<Duration> {
        if !self.is_open_loop() {
            return None;
        }
        let due = self.intended_ns(i);
        (due > now_ns).then(|| Duration::from_nanos(due - now_ns))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{Amount, Warmup};

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
    fn round_robin_and_zipf_keys() {
        let rr = draw_keys(&plan(KeyDistribution::RoundRobin, 4), 8, 0);
        assert_eq!(rr, vec![0, 1, 2, 3, 0, 1, 2, 3]);
        let z = draw_keys(&plan(KeyDistribution::Zipf, 100), 10_000, 3);
        let hot = z.iter().filter(|&&k| k == 0).count();
        let cold = z.iter().filter(|&&k| k == 99).count();
        assert!(hot > 10 * cold.max(1), "hot {hot} cold {cold}");
    }

    #[test]
    fn fnv1a_has_the_reference_values() {
        // FNV-1a 64 test vectors: key → connection and key → worker must never change.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(b"foobar"), 0x8594_4171_f739_67e8);
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

    #[test]
    fn pacer_intended_times() {
        let p = Pacer::new(Rate::PerSec(1000));
        assert_eq!(p.intended_ns(0), 0);
        assert_eq!(p.intended_ns(10), 10_000_000);
        assert_eq!(p.wait(10, 4_000_000), Some(Duration::from_millis(6)));
        assert_eq!(p.wait(10, 11_000_000), None);
        assert!(Pacer::new(Rate::Max).wait(5, 0).is_none());
    }
}
