//! Tagging and recording overhead: jsbench's single-connection async publisher with every
//! observation on, against a bare async-nats publish loop (the same messages, no history, no
//! tap, no checks) with and without jsbench's tag, on the same ephemeral server, alternating
//! runs (A B A B …) because these machines are noisy.
//!
//!     cargo bench --bench overhead                  # 2 rounds × 200k messages, file storage
//!     JSBENCH_MICRO=full cargo bench --bench overhead   # 3 rounds × 500k
//!     JSB_OVERHEAD_MSGS=200000 JSB_OVERHEAD_ROUNDS=3 JSB_OVERHEAD_STORAGE=memory cargo bench --bench overhead
//!
//! Prints each run and three medians' ratios (`jsbench::stats::median`: with the default 2
//! rounds, the mean of the two runs):
//! - **tagging overhead**: the bare loop with jsbench's payload tag against the same loop
//!   untagged (the same 128-byte payloads, no identity): the cost of the wire format (goal ≤ 5 %);
//! - **recording overhead**: jsbench against the bare loop with the same tag (goal ≥ 0.95);
//! - the six-header format (`publish.wire = "headers"`) against untagged, for comparison.

use std::future::IntoFuture;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, message::PublishMessage, stream::StorageType};
use futures::stream::FuturesUnordered;
use futures::StreamExt;

mod profile;

use jsbench::cancel::Cancel;
use jsbench::runner::{self, RunOptions, RuntimeKind};
use jsbench::scenario::{self, Overrides, Plan, Wire};
use jsbench::server::{Backend, Server, ServerSpec};
use jsbench::stats::median;
use jsbench::workload::{self, Subjects, Tagger};

// The same allocator as the jsbench binary, for both sides of the comparison.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The sides compared, in the order each round runs them (and prints them).
const NAMES: [&str; 6] = [
    "bare untagged (multi_thread)",
    "bare+tag (multi_thread)",
    "bare+tag (current_thread)",
    "jsbench (current_thread)",
    "jsbench (multi_thread)",
    "bare+headers (multi_thread)",
];

/// What the bare loop puts on each message.
#[derive(Clone, Copy)]
enum Tagging {
    /// The payload alone: what an application that publishes 128-byte events sends.
    None,
    /// jsbench's wire format: `Some(Wire::Payload)` (default) or `Some(Wire::Headers)`.
    Wire(Wire),
}

/// The stream storage JSB_OVERHEAD_STORAGE names: anything but "memory" is file.
fn storage_type(storage: &str) -> StorageType {
    if storage == "memory" {
        StorageType::Memory
    } else {
        StorageType::File
    }
}

/// A plain async publish loop: one connection, a window of ack futures in a FuturesUnordered.
async fn bare(
    server: &Server,
    storage: &str,
    n: u64,
    window: usize,
    tagging: Tagging,
) -> anyhow::Result<f64> {
    let client = server
        .connect_options()
        .await?
        .connect(server.url())
        .await?;
    let js = jetstream::ContextBuilder::new()
        .timeout(Duration::from_secs(10))
        .max_ack_inflight(window + 1)
        .backpressure_on_inflight(true)
        .build(client.clone());
    let run = format!("{:08x}", rand::random::<u32>());
    let name = format!("BARE_{run}");
    let subjects = Subjects::new(&run, 16);
    js.create_stream(jetstream::stream::Config {
        name: name.clone(),
        subjects: vec![subjects.stream_filter.clone()],
        storage: storage_type(storage),
        ..Default::default()
    })
    .await?;
    let took = bare_publish(&js, &run, &subjects, n, window, tagging).await?;
    let rate = n as f64 / took.as_secs_f64();
    js.delete_stream(&name).await?;
    Ok(rate)
}

/// The bare loop's timed part: publishes `n` messages, returns the time to the last ack.
async fn bare_publish(
    js: &jetstream::Context,
    run: &str,
    subjects: &Subjects,
    n: u64,
    window: usize,
    tagging: Tagging,
) -> anyhow::Result<Duration> {
    let payload = workload::payload(128);
    let keys: Vec<String> = (0..16).map(workload::key_name).collect();
    let mut seq = [0u32; 16];
    let mut tagger = match tagging {
        Tagging::Wire(w) => Some(Tagger::new(w, 128)),
        Tagging::None => None,
    };
    let mut inflight = FuturesUnordered::new();
    let start = Instant::now();
    for i in 0..n {
        let k = (i % 16) as u32;
        let msg = match tagger.as_mut() {
            None => PublishMessage::build().payload(payload.clone()),
            Some(t) => {
                seq[k as usize] += 1;
                let (payload, headers) = t.tag(workload::Tag {
                    run,
                    key: k,
                    key_name: &keys[k as usize],
                    seq: seq[k as usize],
                    idx: i as u32,
                    conn: 0,
                    attempt: 1,
                    msg_id: None,
                });
                let msg = PublishMessage::build().payload(payload);
                match headers {
                    Some(h) => msg.headers(h),
                    None => msg,
                }
            }
        };
        let fut = js.send_publish(subjects.get(false, k), msg).await?;
        inflight.push(fut.into_future());
        while inflight.len() >= window {
            inflight.next().await.expect("non-empty")?;
        }
    }
    while let Some(r) = inflight.next().await {
        r?;
    }
    Ok(start.elapsed())
}

/// What to measure, from the environment (defaults as the module docs quote them).
struct Settings {
    n: u64,
    rounds: u64,
    storage: String,
    window: usize,
}

impl Settings {
    /// Reads JSB_OVERHEAD_MSGS, JSB_OVERHEAD_ROUNDS and JSB_OVERHEAD_STORAGE.
    fn from_env() -> Settings {
        Settings {
            n: env_or("JSB_OVERHEAD_MSGS", profile::pick(200_000, 500_000)),
            rounds: env_or("JSB_OVERHEAD_ROUNDS", profile::pick(2, 3)),
            storage: std::env::var("JSB_OVERHEAD_STORAGE").unwrap_or_else(|_| "file".into()),
            window: 10_000,
        }
    }
}

/// jsbench's scenario for the same messages as the bare loop (with every observation on).
fn jsbench_plan(s: &Settings) -> anyhow::Result<Plan> {
    let (storage, window, n) = (&s.storage, s.window, s.n);
    let text = format!(
        "name = \"overhead\"\nseed = 1\n[stream]\nstorage = \"{storage}\"\n[publish]\nmode = \"async\"\nmax_in_flight = {window}\n[workload]\nmessages = {n}\nkeys = 16\nkey_distribution = \"round_robin\"\npayload_size = 128\n"
    );
    let plan = scenario::parse(&text, "overhead", &Overrides::default())?;
    Ok(plan)
}

/// What every run shares; fields drop in this order (the server before its runtimes).
struct Bench {
    settings: Settings,
    opts: RunOptions,
    plan: Plan,
    /// Holds jsbench's results directory for as long as the runs write to it.
    _out: tempfile::TempDir,
    server: Server,
    ct: tokio::runtime::Runtime,
    mt: tokio::runtime::Runtime,
}

impl Bench {
    /// Prints what is compared and where, so the figures below are never read without it.
    fn print_header(&self) {
        let Settings {
            n,
            rounds,
            storage,
            window,
        } = &self.settings;
        let url = self.server.url();
        println!("overhead: {n} msgs x 128 B, {storage} storage, window {window}, {rounds} rounds, server {url}");
    }

    /// One bare run on `rt`: its acked msgs/s.
    fn bare_run(&self, rt: &tokio::runtime::Runtime, tagging: Tagging) -> anyhow::Result<f64> {
        let s = &self.settings;
        rt.block_on(bare(&self.server, &s.storage, s.n, s.window, tagging))
    }

    /// One jsbench run on `rt`: its acked msgs/s, provided the run completed.
    fn jsbench_run(&self, rt: &tokio::runtime::Runtime) -> anyhow::Result<f64> {
        let r = rt.block_on(runner::run_on(&self.plan, &self.opts, &self.server))?;
        anyhow::ensure!(
            r.report.status.is_complete(),
            "jsbench run incomplete: {:?}",
            r.report.status_reason
        );
        Ok(r.report.throughput.msgs_per_sec)
    }

    /// Every round runs each side once, in NAMES order; returns each side's samples.
    fn run_rounds(&self) -> anyhow::Result<Vec<Vec<f64>>> {
        let (mt, ct) = (&self.mt, &self.ct);
        let mut samples: Vec<Vec<f64>> = vec![Vec::new(); NAMES.len()];
        for round in 0..self.settings.rounds {
            let tag = Tagging::Wire(Wire::Payload);
            let got = [
                self.bare_run(mt, Tagging::None)?,
                self.bare_run(mt, tag)?,
                self.bare_run(ct, tag)?,
                self.jsbench_run(ct)?,
                self.jsbench_run(mt)?,
                self.bare_run(mt, Tagging::Wire(Wire::Headers))?,
            ];
            let line: Vec<String> = NAMES
                .iter()
                .zip(&got)
                .map(|(name, v)| format!("{name} {v:.0}"))
                .collect();
            println!("round {round}: {}", line.join(" | "));
            for (s, v) in samples.iter_mut().zip(got) {
                s.push(v);
            }
        }
        Ok(samples)
    }
}

/// Prints each side's median and the ratios this bench exists for.
fn print_summary(samples: &[Vec<f64>]) {
    let med: Vec<f64> = samples.iter().map(|s| median(s)).collect();
    for (name, m) in NAMES.iter().zip(&med) {
        println!("median {name}: {m:.0} msgs/s");
    }
    // Reported, never enforced: a bench measures, it does not fail on a slow machine.
    let verdict = |met: bool| if met { "goal met" } else { "goal NOT met" };
    let tagging = 1.0 - med[1] / med[0];
    println!(
        "tagging overhead (bare+tag / bare untagged, multi_thread) = {:.1} %  (goal <= 5 %: {})",
        tagging * 100.0,
        verdict(tagging <= 0.05)
    );
    let bare_best = med[1].max(med[2]);
    let jsb_best = med[3].max(med[4]);
    let ratio = jsb_best / bare_best;
    println!(
        "recording overhead: ratio jsbench / bare+tag, each at its best runtime = {ratio:.3}  (goal >= 0.95: {})",
        verdict(ratio >= 0.95)
    );
    println!(
        "ratio jsbench / bare+tag on multi_thread = {:.3}; on current_thread = {:.3}",
        med[4] / med[1],
        med[3] / med[2]
    );
    println!(
        "ratio jsbench (best runtime) / bare untagged = {:.3}; six headers / untagged = {:.3}",
        jsb_best / med[0],
        med[5] / med[0]
    );
}

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing useful: only run when benched.
    if !std::env::args().any(|a| a == "--bench") {
        return Ok(());
    }
    let settings = Settings::from_env();
    println!("overhead bench: profile {}", profile::name());
    // Each side runs on both runtime flavours and is judged by its best: a bare loop whose
    // FuturesUnordered polls thousands of ack futures in one go runs into tokio's cooperative
    // budget on a current-thread runtime (futures return Pending and wake themselves), which
    // would make the comparison flattering to jsbench.
    let mt = RuntimeKind::MultiThread.build()?;
    let ct = RuntimeKind::CurrentThread.build()?;
    let server = mt.block_on(Server::start(&ServerSpec {
        backend: Backend::Process,
        ..ServerSpec::default()
    }))?;
    let out = tempfile::tempdir()?;
    let plan = jsbench_plan(&settings)?;
    let opts = RunOptions {
        out_root: out.path().to_path_buf(),
        cancel: Cancel::new(),
        progress: false,
        live: jsbench::runner::live::LiveMode::Off,
    };
    let bench = Bench {
        settings,
        opts,
        plan,
        _out: out,
        server,
        ct,
        mt,
    };
    bench.print_header();
    let samples = bench.run_rounds()?;
    print_summary(&samples);
    bench.mt.block_on(bench.server.stop())?;
    Ok(())
}
