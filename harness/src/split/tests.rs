//! The split's contract, checked for N = 1..8 workers over a grid of plans (strategies, pool
//! sizes, key counts, key distributions, message- and duration-bound, open and closed loop,
//! warm-ups) and over every shipped scenario: either the segments' union is exactly the plan
//! (every key in one segment, every message of the plan's draws in one segment, counts and
//! rates summing to the plan's, connections partitioned, key-affine mapping kept), or the split
//! is refused for exactly the reasons the plan gives.

use std::collections::BTreeSet;

use super::*;
use crate::scenario::{self, Overrides};
use crate::workload::draw_keys;

fn plan(text: &str) -> Plan {
    scenario::parse(text, "t.toml", &Overrides::default()).expect("valid scenario")
}

/// The reasons a plan cannot be split, worked out here from the rules as documented (not from
/// the split's own code): a single connection, too few connections or keys, and for key_affine a
/// block of connections that no key maps to.
fn expected_refusal(p: &Plan, workers: usize) -> Vec<Unsplittable> {
    let count = p.connections.count;
    let keys = p.workload.keys;
    let mut reasons = Vec::new();
    if p.connections.strategy == Strategy::Single && workers > 1 {
        reasons.push(Unsplittable::SingleConnection { workers });
    } else if count < workers {
        reasons.push(Unsplittable::FewerConnections { count, workers });
    }
    if (keys as usize) < workers {
        reasons.push(Unsplittable::FewerKeys { keys, workers });
    }
    if reasons.is_empty() && p.connections.strategy == Strategy::KeyAffine {
        let used: BTreeSet<usize> = (0..keys)
            .map(|k| key_affine_conn(&key_name(k), count))
            .collect();
        for w in 0..workers {
            let block = w * count / workers..(w + 1) * count / workers;
            if !block.clone().any(|c| used.contains(&c)) {
                reasons.push(Unsplittable::IdleWorker {
                    worker: w,
                    connections: block,
                    pool: count,
                    keys,
                });
            }
        }
    }
    reasons
}

/// How many of the first `n` keys drawn from `seed` fall to each segment (every key is in
/// exactly one segment, checked before this is called, so each message is owned once).
fn recount(p: &Plan, segs: &[Segment], n: u64, seed: u64) -> Vec<u64> {
    let mut owner = vec![usize::MAX; p.workload.keys as usize];
    for s in segs {
        for &k in &s.keys {
            owner[k as usize] = s.worker;
        }
    }
    let mut counts = vec![0u64; segs.len()];
    for key in draw_keys(&p.workload, n as usize, seed) {
        counts[owner[key as usize]] += 1;
    }
    counts
}

/// The union of `segs` is exactly `p` (module docs).
fn assert_union_is_the_plan(p: &Plan, workers: usize, segs: &[Segment]) {
    let what = format!("{} across {workers}", p.name);
    assert_eq!(segs.len(), workers, "{what}");
    // Keys: every key in exactly one segment, each segment's ascending, none empty.
    let mut keys: Vec<u32> = segs.iter().flat_map(|s| s.keys.clone()).collect();
    keys.sort();
    assert_eq!(keys, (0..p.workload.keys).collect::<Vec<_>>(), "{what}");
    // Connections: consecutive blocks covering the plan's, none empty.
    let mut next = 0;
    for (i, s) in segs.iter().enumerate() {
        assert_eq!((s.worker, s.workers), (i, workers), "{what}");
        assert!(s.keys.windows(2).all(|k| k[0] < k[1]) && !s.keys.is_empty());
        assert_eq!(s.connections.start, next, "{what}");
        assert!(!s.connections.is_empty(), "{what}");
        next = s.connections.end;
        // Every message of its keys goes on one of its own connections; key_affine keeps the
        // plan's own mapping, and one worker routes round robin exactly as the plan does.
        assert!(s.keys.iter().all(|&k| s.owns(k)));
        for &k in &s.keys {
            for ordinal in 0..(2 * s.connections.len() as u64) {
                let c = s.connection_for(ordinal, k);
                assert!(s.connections.contains(&c), "{what}: key {k} → {c}");
                match p.connections.strategy {
                    Strategy::KeyAffine => {
                        assert_eq!(c, key_affine_conn(&key_name(k), p.connections.count))
                    }
                    Strategy::RoundRobin if workers == 1 => {
                        assert_eq!(c as u64, ordinal % p.connections.count as u64)
                    }
                    _ => {}
                }
            }
        }
    }
    assert_eq!(next, p.connections.count, "{what}");
    // Messages: every one of the plan's draws in exactly one segment, counts summing exactly.
    let w = &p.workload;
    match w.amount {
        Amount::Messages(n) => {
            let counts: Vec<u64> = segs.iter().map(|s| s.messages.unwrap()).collect();
            assert_eq!(counts.iter().sum::<u64>(), n, "{what}");
            assert_eq!(counts, recount(p, segs, n, p.seed), "{what}");
        }
        Amount::Duration(_) => assert!(segs.iter().all(|s| s.messages.is_none())),
    }
    match w.warmup {
        Warmup::Messages(n) => {
            let counts: Vec<u64> = segs.iter().map(|s| s.warmup_messages.unwrap()).collect();
            assert_eq!(counts, recount(p, segs, n, warmup_seed(p.seed)), "{what}");
        }
        Warmup::Duration(_) => assert!(segs.iter().all(|s| s.warmup_messages.is_none())),
    }
    // Shares and rates: summing to the whole and to the plan's rate.
    let share: f64 = segs.iter().map(|s| s.share).sum();
    assert!((share - 1.0).abs() < 1e-9, "{what}: shares sum to {share}");
    match w.rate {
        Rate::Max => assert!(segs.iter().all(|s| s.rate.is_none())),
        Rate::PerSec(r) => {
            let sum: f64 = segs.iter().map(|s| s.rate.unwrap()).sum();
            assert!(
                (sum - r as f64).abs() < 1e-9 * r as f64,
                "{what}: {sum} of {r}"
            );
        }
    }
}

/// Splits `p` across 1..=8 workers and checks each outcome; returns how many splits succeeded.
fn check_every_worker_count(p: &Plan) -> usize {
    let mut ok = 0;
    for workers in 1..=8 {
        let expected = expected_refusal(p, workers);
        match split(p, workers) {
            Ok(segs) => {
                assert!(
                    expected.is_empty(),
                    "{} across {workers}: {expected:?}",
                    p.name
                );
                assert_union_is_the_plan(p, workers, &segs);
                assert_eq!(split(p, workers).unwrap(), segs, "deterministic");
                ok += 1;
            }
            Err(e) => {
                assert_eq!(e.workers, workers);
                assert_eq!(e.reasons, expected, "{} across {workers}", p.name);
            }
        }
    }
    ok
}

#[test]
fn the_union_of_the_segments_is_exactly_the_plan_for_1_to_8_workers() {
    let pools = [
        ("single", 1),
        ("round_robin", 1),
        ("round_robin", 3),
        ("round_robin", 8),
        ("key_affine", 2),
        ("key_affine", 5),
        ("key_affine", 8),
    ];
    let amounts = [
        "messages = 1000\n",
        "messages = 1001\nrate = 997\nwarmup = 250\n",
        "duration = \"2s\"\nrate = 1000\nwarmup = \"1s\"\n",
        "duration = \"2s\"\n",
    ];
    let mut ok = 0;
    for (strategy, count) in pools {
        for keys in [1, 3, 8, 101] {
            for dist in ["uniform", "round_robin", "zipf"] {
                for amount in amounts {
                    let p = plan(&format!(
                        "name = \"{strategy}{count}-k{keys}-{dist}\"\nseed = 7\n\
                         [connections]\nstrategy = \"{strategy}\"\ncount = {count}\n\
                         [workload]\nkeys = {keys}\nkey_distribution = \"{dist}\"\n{amount}"
                    ));
                    ok += check_every_worker_count(&p);
                }
            }
        }
    }
    // Not every split is refused: most of the grid splits.
    assert!(ok > 700, "{ok} splits succeeded");
}

/// The shipped scenarios' pools and keys (their amounts cut to 2000 messages: the grid above
/// covers amounts).
#[test]
fn every_shipped_scenario_splits_or_says_why() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let files = scenario::files_in(&dir).unwrap();
    assert!(files.len() > 10);
    let few = Overrides {
        messages: Some(2000),
        ..Overrides::default()
    };
    for f in files {
        let p = scenario::load(&f, &few).expect("a shipped scenario");
        check_every_worker_count(&p);
    }
}

#[test]
fn refusals_name_the_field_and_the_fix() {
    let single = plan("name = \"s\"\n[workload]\nmessages = 10\n");
    let e = split(&single, 2).unwrap_err();
    assert_eq!(e.reasons.len(), 1);
    assert_eq!(e.reasons[0].field(), "connections.strategy");
    let text = e.to_string();
    assert!(
        text.starts_with("cannot split across 2 workers; connections.strategy: "),
        "{text}"
    );
    assert!(text.contains("key_affine"), "{text}");
    let few = plan(
        "name = \"f\"\n[connections]\nstrategy = \"round_robin\"\ncount = 2\n\
         [workload]\nmessages = 10\nkeys = 3\n",
    );
    let e = split(&few, 4).unwrap_err();
    let fields: Vec<&str> = e.reasons.iter().map(|r| r.field()).collect();
    assert_eq!(fields, ["connections.count", "workload.keys"]);
    assert!(e
        .to_string()
        .contains("3 key(s) cannot be divided among 4 workers"));
    assert_eq!(
        split(&few, 0).unwrap_err().reasons,
        [Unsplittable::NoWorkers]
    );
}

#[test]
fn one_worker_is_the_whole_plan() {
    let p = plan(
        "name = \"one\"\nseed = 3\n[connections]\nstrategy = \"key_affine\"\ncount = 4\n\
         [workload]\nmessages = 1000\nkeys = 16\nrate = 500\n",
    );
    let s = &split(&p, 1).unwrap()[0];
    assert_eq!(s.keys, (0..16).collect::<Vec<_>>());
    assert_eq!(s.connections, 0..4);
    assert_eq!(
        (s.messages, s.share, s.rate),
        (Some(1000), 1.0, Some(500.0))
    );
}

#[test]
fn a_key_affine_split_keeps_each_connections_keys_together() {
    let p = plan(
        "name = \"ka\"\n[connections]\nstrategy = \"key_affine\"\ncount = 4\n\
         [workload]\nmessages = 100\nkeys = 64\n",
    );
    let segs = split(&p, 2).unwrap();
    for s in &segs {
        for k in 0..64 {
            let c = key_affine_conn(&key_name(k), 4);
            assert_eq!(s.owns(k), s.connections.contains(&c), "key {k} on {c}");
        }
    }
}
