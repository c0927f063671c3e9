//! The proxy bench's answer: medians over the rounds, the table printed at the end, and the
//! report written to `proxy-overhead.json`. Apart from the measuring so each reads on its own.

use serde_json::json;

use jsbench::server::Server;
use jsbench::stats::median;

use super::{
    Config, Rounds, SyncFigures, ADDED_GOAL_US, ASYNC_WARMUP, PAYLOAD_SIZE, RATIO_GOAL,
    SYNC_WARMUP, WINDOW,
};

/// Medians over the rounds (`[direct, proxy]`), what the proxy adds, and whether goals are met.
pub(crate) struct Summary {
    p50: [f64; 2],
    p99: [f64; 2],
    p999: [f64; 2],
    rates: [f64; 2],
    /// Proxy − direct at p50, p99, p99.9.
    added: [f64; 3],
    /// The median of each round's own proxy − direct at p50.
    paired_p50: f64,
    ratio: f64,
    under_p50: bool,
    under_p99: bool,
    ratio_ok: bool,
}

impl Summary {
    /// Reduces the rounds to medians, so one round disturbed by the machine does not decide.
    pub(crate) fn from_rounds(rounds: &Rounds) -> Summary {
        let (sync, rate) = (&rounds.sync, &rounds.rate);
        let pick = |r: usize, f: fn(&SyncFigures) -> f64| -> f64 {
            median(&sync[r].iter().map(f).collect::<Vec<_>>())
        };
        let p50 = [pick(0, |f| f.p50), pick(1, |f| f.p50)];
        let p99 = [pick(0, |f| f.p99), pick(1, |f| f.p99)];
        let p999 = [pick(0, |f| f.p999), pick(1, |f| f.p999)];
        let rates = [median(&rate[0]), median(&rate[1])];
        let added = [p50[1] - p50[0], p99[1] - p99[0], p999[1] - p999[0]];
        // Per-round pairs too: the drift between rounds does not enter these.
        let paired_p50 = median(
            &sync[0]
                .iter()
                .zip(&sync[1])
                .map(|(d, p)| p.p50 - d.p50)
                .collect::<Vec<_>>(),
        );
        let ratio = rates[1] / rates[0];
        Summary {
            p50,
            p99,
            p999,
            rates,
            added,
            paired_p50,
            ratio,
            under_p50: added[0] < ADDED_GOAL_US,
            under_p99: added[1] < ADDED_GOAL_US,
            ratio_ok: ratio >= RATIO_GOAL,
        }
    }
}

/// Prints the table of medians and the goal lines, the bench's answer at a glance.
pub(crate) fn print_summary(rounds: u64, s: &Summary) {
    println!();
    println!("medians of {rounds} rounds:");
    println!("| figure              | direct     | proxy      | proxy − direct |");
    println!("|---------------------|------------|------------|----------------|");
    for (name, v, a) in [
        ("sync p50 (µs)", s.p50, s.added[0]),
        ("sync p99 (µs)", s.p99, s.added[1]),
        ("sync p99.9 (µs)", s.p999, s.added[2]),
    ] {
        println!(
            "| {name:<19} | {:>10.1} | {:>10.1} | {:>+14.1} |",
            v[0], v[1], a
        );
    }
    println!(
        "| {:<19} | {:>10.0} | {:>10.0} | {:>14} |",
        "async msgs/s",
        s.rates[0],
        s.rates[1],
        format!("ratio {:.3}", s.ratio)
    );
    println!();
    // A goal is reported, never enforced: a bench measures, it does not fail on a slow machine.
    let yes_no = |b: bool| if b { "goal met" } else { "goal NOT met" };
    println!(
        "added latency p50 {:+.1} µs (paired per round {:+.1} µs), p99 {:+.1} µs: under \
         Toxiproxy's < {ADDED_GOAL_US:.0} µs: p50 {}, p99 {}",
        s.added[0],
        s.paired_p50,
        s.added[1],
        yes_no(s.under_p50),
        yes_no(s.under_p99)
    );
    println!(
        "async throughput proxy / direct = {:.3} (goal >= {RATIO_GOAL}): {}",
        s.ratio,
        yes_no(s.ratio_ok)
    );
}

/// The report written to `proxy-overhead.json` (schema `jsbench.proxy-overhead/1`).
pub(crate) fn report_json(
    server: &Server,
    cfg: &Config,
    server_version: &str,
    rounds_json: Vec<serde_json::Value>,
    s: &Summary,
) -> serde_json::Value {
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    json!({
        "schema": "jsbench.proxy-overhead/1",
        "taken_at": now,
        "config": {
            "rounds": cfg.rounds,
            "sync_msgs": cfg.sync_msgs,
            "sync_warmup": SYNC_WARMUP,
            "async_msgs": cfg.async_msgs,
            "async_warmup": ASYNC_WARMUP,
            "window": WINDOW,
            "payload_size": PAYLOAD_SIZE,
            "storage": "file",
            "replicas": 1,
            "runtime": "current_thread",
            "order": "alternating, flipped each round",
        },
        "environment": {
            "server_version": server_version,
            "server_source": server.source(),
            "client": format!("async-nats {}", env!("JSBENCH_ASYNC_NATS_VERSION")),
            "jsbench_version": env!("CARGO_PKG_VERSION"),
        },
        "rounds": rounds_json,
        "median": {
            "sync_latency_us": {
                "direct": {"p50": s.p50[0], "p99": s.p99[0], "p999": s.p999[0]},
                "proxy": {"p50": s.p50[1], "p99": s.p99[1], "p999": s.p999[1]},
            },
            "async_msgs_per_sec": {"direct": s.rates[0], "proxy": s.rates[1]},
        },
        "added_latency_us": {
            "p50": s.added[0],
            "p99": s.added[1],
            "p999": s.added[2],
            "p50_paired_median": s.paired_p50,
        },
        "async_ratio": s.ratio,
        "goals": {
            "added_latency_us_below": ADDED_GOAL_US,
            "async_ratio_at_least": RATIO_GOAL,
            "p50_under": s.under_p50,
            "p99_under": s.under_p99,
            "async_ratio_met": s.ratio_ok,
        },
    })
}
