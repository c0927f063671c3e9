//! Proxy overhead: what routing a client connection through `jsbench::proxy::Proxy` with no
//! toxic set costs, against the same client connected to the server directly.
//!
//!     cargo bench --bench proxy                     # 2 rounds each; 5k sync, 100k async msgs
//!     JSBENCH_MICRO=full cargo bench --bench proxy  # 3 rounds each; 20k sync, 300k async msgs
//!     JSB_PROXY_ROUNDS=5 JSB_PROXY_SYNC_MSGS=50000 JSB_PROXY_ASYNC_MSGS=500000 cargo bench --bench proxy
//!
//! Two measurements, each on a fresh connection and a fresh stream (file storage, R1, 128-byte
//! payload, deleted afterwards):
//! - sync: one JetStream publish awaited at a time (after a warm-up); every publish → ack in an
//!   HdrHistogram (ns); p50, p99, p99.9, and the latency the proxy adds (Toxiproxy quotes
//!   < 100 µs);
//! - async: a window of 10k ack futures in a `FuturesUnordered`; msgs/s and proxy / direct.
//!
//! Direct and proxied runs alternate, and which goes first flips every round (A B, B A, …), because
//! this machine drifts; the figures reported are medians over the rounds. Everything runs on
//! one current-thread tokio runtime (jsbench's default): the proxy's link tasks share the thread
//! with the client, as they do in the harness. Prints a table and writes
//! `$JSBENCH_RESULTS/proxy-overhead.json` (default `results/`).

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use async_nats::jetstream::{self, Context};
use bytes::Bytes;
use futures::stream::FuturesUnordered;
use futures::StreamExt;
use hdrhistogram::Histogram;
use serde_json::json;

mod profile;
#[path = "proxy/summary.rs"]
mod summary;

use jsbench::proxy::{Proxy, ProxyStats};
use jsbench::runner::RuntimeKind;
use jsbench::server::{Backend, Server, ServerSpec};
use summary::{print_summary, report_json, Summary};

// The same allocator as the jsbench binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PAYLOAD_SIZE: usize = 128;
/// Async window: ack futures in flight.
const WINDOW: usize = 10_000;
/// Sync publishes before the measured ones (same connection and stream, not recorded).
const SYNC_WARMUP: u64 = 2_000;
/// Async messages before the timed ones (one window's worth).
const ASYNC_WARMUP: u64 = WINDOW as u64;
/// Bound on each measured loop (warm-up included); a loop that exceeds it fails the bench.
const PHASE_LIMIT: Duration = Duration::from_secs(120);
/// Bound on connecting, creating and deleting a stream, and on each ack.
const OP_TIMEOUT: Duration = Duration::from_secs(10);
/// Toxiproxy's claim for its no-toxic latency.
const ADDED_GOAL_US: f64 = 100.0;
/// What we accept for proxied / direct throughput.
const RATIO_GOAL: f64 = 0.9;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Direct,
    Proxy,
}

impl Route {
    fn name(self) -> &'static str {
        match self {
            Route::Direct => "direct",
            Route::Proxy => "proxy",
        }
    }

    /// Where this route's samples sit in the `[direct, proxy]` pairs below.
    fn index(self) -> usize {
        (self == Route::Proxy) as usize
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Sync,
    Async,
}

impl Phase {
    fn name(self) -> &'static str {
        match self {
            Phase::Sync => "sync",
            Phase::Async => "async",
        }
    }
}

/// Percentiles of one sync run, in µs.
#[derive(Debug, Clone, Copy)]
struct SyncFigures {
    p50: f64,
    p99: f64,
    p999: f64,
    mean: f64,
    max: f64,
    count: u64,
}

impl SyncFigures {
    fn from_hist(h: &Histogram<u64>) -> SyncFigures {
        let us = |ns: u64| ns as f64 / 1_000.0;
        SyncFigures {
            p50: us(h.value_at_quantile(0.50)),
            p99: us(h.value_at_quantile(0.99)),
            p999: us(h.value_at_quantile(0.999)),
            mean: h.mean() / 1_000.0,
            max: us(h.max()),
            count: h.len(),
        }
    }

    fn json(&self) -> serde_json::Value {
        json!({
            "p50": self.p50,
            "p99": self.p99,
            "p999": self.p999,
            "mean": self.mean,
            "max": self.max,
            "count": self.count,
        })
    }
}

#[derive(Debug, Clone, Copy)]
enum Sample {
    Sync(SyncFigures),
    /// Acked msgs/s, first send to last ack.
    Async(f64),
}

/// One measured run: what it gave, and what the proxy saw (proxied runs).
#[derive(Debug, Clone, Copy)]
struct Measured {
    sample: Sample,
    proxy: Option<ProxyStats>,
}

fn stats_json(s: Option<ProxyStats>) -> serde_json::Value {
    match s {
        Some(s) => json!({
            "bytes_upstream": s.bytes_upstream,
            "bytes_downstream": s.bytes_downstream,
            "links_accepted": s.links_accepted,
        }),
        None => serde_json::Value::Null,
    }
}

/// Sync publishes, one at a time; every measured publish → ack in `hist` (ns).
async fn sync_loop(
    js: &Context,
    subject: &str,
    payload: &Bytes,
    warmup: u64,
    n: u64,
) -> anyhow::Result<Histogram<u64>> {
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3)?;
    let subject = async_nats::Subject::from(subject);
    let started = Instant::now();
    for i in 0..warmup + n {
        let t0 = Instant::now();
        js.publish(subject.clone(), payload.clone()).await?.await?;
        let t1 = Instant::now();
        if i >= warmup {
            hist.saturating_record((t1 - t0).as_nanos() as u64);
        }
        anyhow::ensure!(
            t1 - started < PHASE_LIMIT,
            "sync loop exceeded {PHASE_LIMIT:?} after {i} publishes"
        );
    }
    Ok(hist)
}

/// Publishes `n` messages keeping up to WINDOW ack futures in flight; returns the time from the
/// first send to the last ack.
async fn window_loop(
    js: &Context,
    subject: &str,
    payload: &Bytes,
    n: u64,
    deadline: Instant,
) -> anyhow::Result<Duration> {
    let subject = async_nats::Subject::from(subject);
    let mut inflight = FuturesUnordered::new();
    let started = Instant::now();
    for i in 0..n {
        let fut = js.publish(subject.clone(), payload.clone()).await?;
        // Outside tokio's cooperative budget, as jsbench's publisher polls its ack futures: on a
        // current-thread runtime a budget-exhausted ack future returns Pending and wakes itself,
        // and a window of 10k of them then spends most of the thread re-polling (profiled here:
        // over half of the client's CPU in those wake-ups and re-polls), which would swamp what
        // the proxy costs.
        inflight.push(tokio::task::coop::unconstrained(fut.into_future()));
        while inflight.len() >= WINDOW {
            inflight.next().await.expect("non-empty")?;
        }
        if i % 1024 == 0 {
            anyhow::ensure!(
                Instant::now() < deadline,
                "async loop exceeded {PHASE_LIMIT:?} after {i} publishes"
            );
        }
    }
    let drain = async {
        while let Some(r) = inflight.next().await {
            r?;
        }
        anyhow::Ok(())
    };
    tokio::time::timeout_at(deadline.into(), drain)
        .await
        .map_err(|_| anyhow::anyhow!("async loop exceeded {PHASE_LIMIT:?} draining acks"))??;
    Ok(started.elapsed())
}

/// On an open connection: creates a fresh stream, measures, deletes the stream (also when the
/// measurement failed).
async fn measure_on(js: &Context, phase: Phase, n: u64, tag: &str) -> anyhow::Result<Sample> {
    let name = format!("JSB_PROXY_{tag}");
    let subject = format!("jsbp.{tag}");
    tokio::time::timeout(
        OP_TIMEOUT,
        js.create_stream(jetstream::stream::Config {
            name: name.clone(),
            subjects: vec![subject.clone()],
            storage: jetstream::stream::StorageType::File,
            num_replicas: 1,
            ..Default::default()
        }),
    )
    .await
    .context("create stream: timed out")?
    .context("create stream")?;
    let payload = jsbench::workload::payload(PAYLOAD_SIZE);
    let result = async {
        let (sample, expected) = match phase {
            Phase::Sync => {
                let h = sync_loop(js, &subject, &payload, SYNC_WARMUP, n).await?;
                (Sample::Sync(SyncFigures::from_hist(&h)), SYNC_WARMUP + n)
            }
            Phase::Async => {
                let deadline = Instant::now() + PHASE_LIMIT;
                window_loop(js, &subject, &payload, ASYNC_WARMUP, deadline).await?;
                let took = window_loop(js, &subject, &payload, n, deadline).await?;
                (
                    Sample::Async(n as f64 / took.as_secs_f64()),
                    ASYNC_WARMUP + n,
                )
            }
        };
        // Every ack was a success; the stream must hold exactly what was published.
        let mut stream = js.get_stream(&name).await?;
        let stored = stream.info().await?.state.messages;
        anyhow::ensure!(
            stored == expected,
            "stream {name} holds {stored} messages, expected {expected}"
        );
        anyhow::Ok(sample)
    }
    .await;
    let deleted = tokio::time::timeout(OP_TIMEOUT, js.delete_stream(&name)).await;
    let sample = result?;
    deleted
        .context("delete stream: timed out")?
        .context("delete stream")?;
    Ok(sample)
}

/// The bench's server: where it is and how to connect to it (with its per-run credential).
struct Target {
    url: String,
    options: async_nats::ConnectOptions,
    upstream: SocketAddr,
}

/// Finds the proxy's upstream and the server's version (which the header and report name).
async fn connect_target(server: &Server) -> anyhow::Result<(Target, String)> {
    let server_url = server.url().to_string();
    let upstream: SocketAddr = server
        .url()
        .trim_start_matches("nats://")
        .parse()
        .with_context(|| format!("server url {server_url} is not nats://host:port"))?;
    let options = server.connect_options().await?;
    let server_version = {
        let c = tokio::time::timeout(OP_TIMEOUT, options.clone().connect(&server_url))
            .await
            .context("connect: timed out")??;
        let v = c.server_info().version;
        let _ = tokio::time::timeout(Duration::from_secs(2), c.drain()).await;
        v
    };
    let target = Target {
        url: server_url,
        options,
        upstream,
    };
    Ok((target, server_version))
}

/// One run over `route`: a proxy (if any) and a client connection of its own, both closed
/// afterwards whatever happened.
async fn run_once(
    target: &Target,
    route: Route,
    phase: Phase,
    n: u64,
    tag: &str,
    seed: u64,
) -> anyhow::Result<Measured> {
    let proxy = match route {
        Route::Direct => None,
        Route::Proxy => Some(
            Proxy::start(target.upstream, seed)
                .await
                .context("start proxy")?,
        ),
    };
    let url = proxy
        .as_ref()
        .map_or_else(|| target.url.clone(), |p| p.url());
    let result = measure_via(target, &url, phase, n, tag).await;
    let stats = match proxy {
        Some(p) => Some(stop_proxy(p).await),
        None => None,
    };
    let sample = result?;
    if let Some(s) = stats {
        anyhow::ensure!(
            s.links_accepted == 1 && s.bytes_upstream > n * PAYLOAD_SIZE as u64,
            "the proxied run did not go through one proxy link: {s:?}"
        );
    }
    Ok(Measured {
        sample,
        proxy: stats,
    })
}

/// Measures on a client connection of its own to `url`, closed afterwards whatever happened.
async fn measure_via(
    target: &Target,
    url: &str,
    phase: Phase,
    n: u64,
    tag: &str,
) -> anyhow::Result<Sample> {
    let client = tokio::time::timeout(OP_TIMEOUT, target.options.clone().connect(url))
        .await
        .context("connect: timed out")?
        .with_context(|| format!("connect to {url}"))?;
    let js = jetstream::ContextBuilder::new()
        .timeout(OP_TIMEOUT)
        .max_ack_inflight(WINDOW + 1)
        .backpressure_on_inflight(true)
        .build(client.clone());
    let r = measure_on(&js, phase, n, tag).await;
    drop(js);
    // Close the connection now, so its task does not linger on the runtime (or, proxied,
    // try to reconnect once the proxy is gone) during the next run.
    let _ = tokio::time::timeout(Duration::from_secs(2), client.drain()).await;
    drop(client);
    r
}

/// Stops a proxy once its drained connection has closed, returning what the proxy saw.
async fn stop_proxy(p: Proxy) -> ProxyStats {
    // Let the drained connection close before tearing the proxy down (bounded).
    let until = Instant::now() + Duration::from_secs(2);
    while p.links() > 0 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let s = p.stats();
    p.stop().await;
    s
}

struct Config {
    rounds: u64,
    sync_msgs: u64,
    async_msgs: u64,
    results: PathBuf,
}

impl Config {
    /// How many messages a run of `phase` measures.
    fn msgs(&self, phase: Phase) -> u64 {
        match phase {
            Phase::Sync => self.sync_msgs,
            Phase::Async => self.async_msgs,
        }
    }
}

/// Prints what is measured and against which server, so a table is never read without it.
fn print_header(server: &Server, cfg: &Config, server_version: &str) {
    println!(
        "proxy overhead: sync {} msgs (+{SYNC_WARMUP} warm-up), async {} msgs (+{ASYNC_WARMUP} \
         warm-up, window {WINDOW}), {PAYLOAD_SIZE} B, file storage, R1, {} rounds, current_thread \
         runtime, nats-server {server_version} ({})",
        cfg.sync_msgs,
        cfg.async_msgs,
        cfg.rounds,
        server.source()
    );
}

/// What the rounds gave: per-route samples (`[direct, proxy]`, round order), each round's JSON.
#[derive(Default)]
struct Rounds {
    sync: [Vec<SyncFigures>; 2],
    rate: [Vec<f64>; 2],
    json: Vec<serde_json::Value>,
}

impl Rounds {
    /// Files one run's sample under its route; returns the run as its round's JSON has it.
    fn record(&mut self, route: Route, m: Measured) -> serde_json::Value {
        match m.sample {
            Sample::Sync(f) => {
                self.sync[route.index()].push(f);
                json!({"latency_us": f.json(), "proxy": stats_json(m.proxy)})
            }
            Sample::Async(r) => {
                self.rate[route.index()].push(r);
                json!({"msgs_per_sec": r, "proxy": stats_json(m.proxy)})
            }
        }
    }
}

/// Which route goes first in `round`: flipped every round (A B, B A, …), so drift hits both.
fn round_order(round: u64) -> [Route; 2] {
    if round.is_multiple_of(2) {
        [Route::Direct, Route::Proxy]
    } else {
        [Route::Proxy, Route::Direct]
    }
}

/// Every round: sync direct/proxy, then async direct/proxy, the order flipping each round.
async fn run_rounds(target: &Target, cfg: &Config) -> anyhow::Result<Rounds> {
    let run_id = format!("{:08x}", rand::random::<u32>());
    let mut rounds = Rounds::default();
    for round in 0..cfg.rounds {
        let order = round_order(round);
        let round_json = run_round(target, cfg, &run_id, round, order, &mut rounds).await?;
        print_round(round, order, &rounds);
        rounds.json.push(serde_json::Value::Object(round_json));
    }
    Ok(rounds)
}

/// One round: sync, then async, each over both routes in `order`; returns the round's JSON.
async fn run_round(
    target: &Target,
    cfg: &Config,
    run_id: &str,
    round: u64,
    order: [Route; 2],
    rounds: &mut Rounds,
) -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
    let mut round_json = serde_json::Map::new();
    round_json.insert("round".into(), json!(round));
    round_json.insert("order".into(), json!([order[0].name(), order[1].name()]));
    for phase in [Phase::Sync, Phase::Async] {
        let n = cfg.msgs(phase);
        for route in order {
            let key = format!("{}_{}", phase.name(), route.name());
            let tag = format!("{run_id}_{round}_{key}");
            let m = run_once(target, route, phase, n, &tag, round)
                .await
                .with_context(|| format!("round {round}, {key}"))?;
            round_json.insert(key, rounds.record(route, m));
        }
    }
    Ok(round_json)
}

/// Prints one round's figures as soon as it is done, so the drift between rounds shows.
fn print_round(round: u64, order: [Route; 2], rounds: &Rounds) {
    let i = round as usize;
    let (d, p) = (&rounds.sync[0][i], &rounds.sync[1][i]);
    let (rd, rp) = (rounds.rate[0][i], rounds.rate[1][i]);
    println!(
        "round {round} ({} first): sync p50/p99/p99.9 µs direct {:.1}/{:.1}/{:.1} proxy \
         {:.1}/{:.1}/{:.1} (added p50 {:+.1}) | async msgs/s direct {rd:.0} proxy {rp:.0} \
         (ratio {:.3})",
        order[0].name(),
        d.p50,
        d.p99,
        d.p999,
        p.p50,
        p.p99,
        p.p999,
        p.p50 - d.p50,
        rp / rd
    );
}

/// The whole bench against `server`: prints as it goes, returns the report to write.
async fn bench(server: &Server, cfg: &Config) -> anyhow::Result<serde_json::Value> {
    let (target, server_version) = connect_target(server).await?;
    print_header(server, cfg, &server_version);
    let rounds = run_rounds(&target, cfg).await?;
    let summary = Summary::from_rounds(&rounds);
    print_summary(cfg.rounds, &summary);
    Ok(report_json(
        server,
        cfg,
        &server_version,
        rounds.json,
        &summary,
    ))
}

fn main() -> anyhow::Result<()> {
    // `cargo test --benches` runs this without --bench: do nothing then.
    if !std::env::args().any(|a| a == "--bench") {
        return Ok(());
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default();
    let cfg = Config {
        rounds: env_or("JSB_PROXY_ROUNDS", profile::pick(2, 3)).max(1),
        sync_msgs: env_or("JSB_PROXY_SYNC_MSGS", profile::pick(5_000, 20_000)).max(1),
        async_msgs: env_or("JSB_PROXY_ASYNC_MSGS", profile::pick(100_000, 300_000)).max(1),
        results: std::env::var_os("JSBENCH_RESULTS")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("results")),
    };
    println!("proxy bench: profile {}", profile::name());
    let rt = RuntimeKind::CurrentThread.build()?;
    let server = rt.block_on(Server::start(&ServerSpec {
        backend: Backend::Process,
        ..ServerSpec::default()
    }))?;
    let outcome = rt.block_on(bench(&server, &cfg));
    // The server goes whatever happened (a panic above drops it, which kills it too).
    let stopped = rt.block_on(server.stop());
    let report = outcome?;
    stopped?;
    let path = cfg.results.join("proxy-overhead.json");
    let mut bytes = serde_json::to_vec_pretty(&report)?;
    bytes.push(b'\n');
    jsbench::result::write_atomic(&path, &bytes)
        .with_context(|| format!("write {}", path.display()))?;
    println!("wrote {}", path.display());
    Ok(())
}
