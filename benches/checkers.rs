//! Micro-benches of the harness's own hot parts, so a change that makes recording or a checker
//! slow is caught before it distorts a run or makes a 10M-message report take minutes.
//!
//!     cargo bench --bench checkers                    # everything, ~1 min
//!     cargo bench --bench checkers -- divergence      # one group (criterion filter)
//!     cargo bench --bench checkers -- --save-baseline main   # then: -- --baseline main
//!
//! Every benchmark handles 1M messages per iteration (throughput is reported per message):
//! - `record/history`, `record/history-timed`: `History::record_send` + `record_ack` (and
//!   `record_ack_time` for timed histories) for each message, as the client does per ack;
//! - `record/latency-histogram`: 1M latencies into a pre-allocated `latency_histogram()`;
//! - `divergence/*`: `checker::divergence` over an order in publish order, with keys interleaved
//!   differently (per key kept, global order broken), shuffled within each key, and fully
//!   shuffled;
//! - `readback/*`: `checker::safety`, `per_message` and `retry_figures` on a history whose
//!   read-back holds every message, with 0.1% retried and stored twice;
//! - `consume/*`: `checker::consume_order` and `consume_figures` on a consume log of 1M
//!   processings from 4 keyed workers (interleaved by finish time), 0.1% of them redelivered.
//!
//! Inputs are built once, outside the timed code, from a fixed seed (ChaCha8), so runs compare.
//! Without `--bench` (`cargo test --benches`) criterion runs each benchmark once.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

mod profile;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use jsbench::checker;
use jsbench::consume::{ConsumeLog, Processed};
use jsbench::record::history::{History, ReadBack};
use jsbench::record::observe;

// The same allocator as the jsbench binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const N: usize = 1_000_000;
const KEYS: u32 = 16;
const SEED: u64 = 20_260_101;

/// Round-robin keys, as the shipped scenarios mostly use.
fn keys() -> Vec<u32> {
    (0..N as u32).map(|i| i % KEYS).collect()
}

fn group<'a>(
    c: &'a mut Criterion,
    name: &str,
) -> criterion::BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group(name);
    g.sample_size(10)
        .warm_up_time(profile::pick(
            Duration::from_millis(200),
            Duration::from_secs(1),
        ))
        .measurement_time(profile::pick(
            Duration::from_secs(1),
            Duration::from_secs(5),
        ))
        .throughput(Throughput::Elements(N as u64));
    g
}

/// Records every message of `h` as sent and acked in publish order (one connection, no retry).
fn record_all(h: &mut History, timed: bool) {
    for i in 0..N as u32 {
        let t = i as u64 * 1_000;
        h.record_send(i, 1, t);
        h.record_ack(i, i as u64 + 1, false, i);
        if timed {
            h.record_ack_time(i, t + 50_000);
        }
    }
    h.published = N as u64;
}

fn bench_record(c: &mut Criterion) {
    eprintln!("checkers bench: profile {}", profile::name());
    let keys = keys();
    let mut g = group(c, "record");
    // A fresh history per iteration (allocation untimed), as each run starts with one.
    g.bench_function("history", |b| {
        b.iter_batched_ref(
            || History::new(keys.clone(), KEYS),
            |h| {
                record_all(h, false);
                black_box(&*h);
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("history-timed", |b| {
        b.iter_batched_ref(
            || History::new(keys.clone(), KEYS).timed(),
            |h| {
                record_all(h, true);
                black_box(&*h);
            },
            BatchSize::PerIteration,
        )
    });
    // Latencies spread over 20 µs .. 20 ms on a log scale, so many buckets are touched.
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let latencies: Vec<u64> = (0..N)
        .map(|_| (20_000.0 * 1000f64.powf(rng.random::<f64>())) as u64)
        .collect();
    let mut hist = observe::latency_histogram();
    g.bench_function("latency-histogram", |b| {
        b.iter(|| {
            for &v in &latencies {
                hist.saturating_record(black_box(v));
            }
        })
    });
    black_box(hist.len());
    g.finish();
}

/// The message indexes of each key, in publish order.
fn by_key(keys: &[u32]) -> Vec<Vec<u32>> {
    let mut per: Vec<Vec<u32>> = vec![Vec::new(); KEYS as usize];
    for (i, &k) in keys.iter().enumerate() {
        per[k as usize].push(i as u32);
    }
    per
}

/// Per-key order kept, keys interleaved at random (what a key-affine pool stores).
fn interleaved(keys: &[u32], rng: &mut ChaCha8Rng) -> Vec<u32> {
    let mut slots = keys.to_vec();
    slots.shuffle(rng);
    let per = by_key(keys);
    let mut next = vec![0usize; KEYS as usize];
    slots
        .iter()
        .map(|&k| {
            let k = k as usize;
            next[k] += 1;
            per[k][next[k] - 1]
        })
        .collect()
}

/// Each key's messages shuffled among that key's positions (per-key order broken throughout).
fn shuffled_within_keys(keys: &[u32], rng: &mut ChaCha8Rng) -> Vec<u32> {
    let mut per = by_key(keys);
    per.iter_mut().for_each(|v| v.shuffle(rng));
    let mut next = vec![0usize; KEYS as usize];
    keys.iter()
        .map(|&k| {
            let k = k as usize;
            next[k] += 1;
            per[k][next[k] - 1]
        })
        .collect()
}

fn bench_divergence(c: &mut Criterion) {
    let keys = keys();
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    let in_order: Vec<u32> = (0..N as u32).collect();
    let inter = interleaved(&keys, &mut rng);
    let within = shuffled_within_keys(&keys, &mut rng);
    let mut full = in_order.clone();
    full.shuffle(&mut rng);

    let mut g = group(c, "divergence");
    for (name, order) in [
        ("in-order", &in_order),
        ("keys-interleaved", &inter),
        ("per-key-shuffled", &within),
        ("fully-shuffled", &full),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| checker::divergence(black_box(order), black_box(&keys), KEYS))
        });
    }
    g.finish();
}

/// A fully acked 1M history and a complete read-back of it: every 1000th message was retried,
/// and both of its copies are stored (the second at the end of the stream, as a late retry).
fn acked_history() -> (History, ReadBack) {
    let mut h = History::new(keys(), KEYS);
    record_all(&mut h, false);
    let mut rb = ReadBack {
        order: (0..N as u32).collect(),
        seqs: (1..=N as u64).collect(),
        attempts: vec![1; N],
        unexpected: 0,
        complete: true,
    };
    for i in (0..N as u32).step_by(1000) {
        h.record_send(i, 2, 0);
        rb.order.push(i);
        rb.seqs.push(rb.seqs.len() as u64 + 1);
        rb.attempts.push(2);
    }
    (h, rb)
}

fn bench_readback(c: &mut Criterion) {
    let (h, rb) = acked_history();
    let pm = checker::per_message(&h, &rb);
    // Sanity of the input, so the bench measures what it says (and fails if a checker changes
    // its meaning).
    let s = checker::safety(&h, &rb);
    assert_eq!(
        (s.stored, s.lost, s.duplicates),
        (N as u64, 0, (N / 1000) as u64)
    );
    assert_eq!(
        checker::retry_figures(&h, Some((&rb, &pm))).retried,
        (N / 1000) as u64
    );

    let mut g = group(c, "readback");
    g.bench_function("safety", |b| {
        b.iter(|| checker::safety(black_box(&h), black_box(&rb)))
    });
    g.bench_function("per-message", |b| {
        b.iter(|| checker::per_message(black_box(&h), black_box(&rb)))
    });
    g.bench_function("retry-figures", |b| {
        b.iter(|| checker::retry_figures(black_box(&h), Some((black_box(&rb), black_box(&pm)))))
    });
    g.finish();
}

/// A consume log as 4 keyed workers leave it: each key's messages in order on its worker, the
/// workers interleaved by finish time; every 1000th message failed once and was processed again
/// later (a redelivery), so it appears late within its key.
fn consume_log(keys: &[u32]) -> ConsumeLog {
    let mut processed: Vec<Processed> = Vec::with_capacity(N + N / 1000);
    let mut redelivered = Vec::new();
    for (i, &k) in keys.iter().enumerate() {
        let i = i as u32;
        if i % 1000 == 999 {
            redelivered.push(i);
            continue;
        }
        processed.push(Processed {
            idx: i,
            at_ns: i as u64 * 1000 + (k % 4) as u64 * 400,
            delivered: 1,
            worker: (k % 4) as u16,
        });
    }
    for (j, &i) in redelivered.iter().enumerate() {
        processed.push(Processed {
            idx: i,
            at_ns: (i as u64 + 5_000) * 1000 + j as u64,
            delivered: 2,
            worker: (keys[i as usize] % 4) as u16,
        });
    }
    processed.sort_by_key(|p| p.at_ns);
    ConsumeLog {
        deliveries: (N + redelivered.len()) as u64,
        redeliveries: redelivered.len() as u64,
        failures: redelivered.len() as u64,
        processed,
        complete: true,
        ..Default::default()
    }
}

fn bench_consume(c: &mut Criterion) {
    let keys = keys();
    let log = consume_log(&keys);
    let (order, delivered) = checker::consume_order(&log.processed);
    let rb = ReadBack {
        order: (0..N as u32).collect(),
        seqs: (1..=N as u64).collect(),
        attempts: vec![1; N],
        unexpected: 0,
        complete: true,
    };
    // Sanity of the input: every message processed once, each redelivery late within its key
    // (but the last: no later message of its key exists).
    let f = checker::consume_figures(&log, &order, &delivered, &keys, KEYS, Some(&rb));
    assert_eq!((f.processed, f.unprocessed), (N as u64, Some(0)));
    assert_eq!(f.redelivered_late_per_key, (N / 1000 - 1) as u64);

    let mut g = group(c, "consume");
    g.bench_function("order", |b| {
        b.iter(|| checker::consume_order(black_box(&log.processed)))
    });
    g.bench_function("figures", |b| {
        b.iter(|| {
            checker::consume_figures(
                black_box(&log),
                black_box(&order),
                black_box(&delivered),
                black_box(&keys),
                KEYS,
                Some(black_box(&rb)),
            )
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    bench_record,
    bench_divergence,
    bench_readback,
    bench_consume
);
criterion_main!(benches);
