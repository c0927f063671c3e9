//! The adapter contract's own cost: async-nats in-process (jsbench's client) against the same
//! client behind the contract (`async-nats-stdio`, adapters/async-nats-stdio: a process of its own,
//! lines on pipes, every report validated by `jsbench::adapter::Session`).
//!
//!     cargo bench --bench adapter                     # 3 rounds each, 100k msgs
//!     JSBENCH_MICRO=full cargo bench --bench adapter  # 5 rounds each, 500k msgs
//!     JSB_ADAPTER_ROUNDS=7 JSB_ADAPTER_MSGS=1000000 cargo bench --bench adapter
//!
//! Each measurement: one connection, a fresh stream (file storage, R1, deleted afterwards),
//! 128-byte payloads, async publishing with a window of 10k acks in flight — a window's worth
//! of warm-up, then the measured messages, timed from the first publish to the last ack — and
//! the stream checked to hold every message. In-process and contract runs alternate, the first
//! of each round flipping (A B, B A, …), because this machine drifts; the figures are medians
//! over the rounds, and the ratio contract / in-process is reported against the goal of issue
//! 22 (≥ 0.85), never asserted. Writes `$JSBENCH_RESULTS/adapter-overhead.json` (default
//! `results/`).

use std::future::IntoFuture;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use async_nats::jetstream::{self, Context};
use bytes::Bytes;
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use serde_json::json;

mod profile;

use jsbench::adapter::{protocol, Init, InitMode, Report, Session, Shipped, TAG_LEN};
use jsbench::record::observe::Clock;
use jsbench::runner::RuntimeKind;
use jsbench::server::{Backend, Server, ServerSpec};
use jsbench::stats::median;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PAYLOAD_SIZE: usize = 128;
const WINDOW: usize = 10_000;
const WARMUP: u64 = WINDOW as u64;
const PHASE_LIMIT: Duration = Duration::from_secs(300);
const OP_TIMEOUT: Duration = Duration::from_secs(10);
/// Issue 22's goal for contract / in-process msgs/s.
const RATIO_GOAL: f64 = 0.85;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    InProcess,
    Contract,
}

impl Route {
    fn name(self) -> &'static str {
        match self {
            Route::InProcess => "in_process",
            Route::Contract => "contract",
        }
    }
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn tag(i: u64) -> [u8; TAG_LEN] {
    let mut t = [0u8; TAG_LEN];
    t[..4].copy_from_slice(b"JSB1");
    t[8..16].copy_from_slice(&i.to_be_bytes());
    t
}

/// In-process: `n` publishes with up to WINDOW ack futures in a FuturesUnordered (as the
/// proxy bench and jsbench's client do); the time from the first send to the last ack.
async fn in_process(
    js: &Context,
    subject: &str,
    payload: &Bytes,
    n: u64,
) -> anyhow::Result<Duration> {
    let subject = async_nats::Subject::from(subject);
    let mut inflight = FuturesUnordered::new();
    let started = Instant::now();
    for _ in 0..n {
        let fut = js.publish(subject.clone(), payload.clone()).await?;
        inflight.push(tokio::task::coop::unconstrained(fut.into_future()));
        while inflight.len() >= WINDOW {
            inflight.next().await.expect("non-empty")?;
        }
    }
    while let Some(r) = inflight.next().await {
        r?;
    }
    anyhow::ensure!(
        started.elapsed() < PHASE_LIMIT,
        "in-process loop exceeded {PHASE_LIMIT:?}"
    );
    Ok(started.elapsed())
}

/// Through the contract: ids `first..first + n`, up to WINDOW unresolved; publishes are flushed
/// once the window is full or reports are awaited; the time from the first publish to the last
/// ack.
async fn contract(s: &mut Session, subject: &str, first: u64, n: u64) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let (mut next, mut acked) = (first, 0u64);
    let end = first + n;
    let mut handle = |r: Report| -> anyhow::Result<()> {
        match r {
            Report::Sent { .. } => Ok(()),
            Report::Acked {
                duplicate: false, ..
            } => {
                acked += 1;
                Ok(())
            }
            other => anyhow::bail!("unexpected report {other:?}"),
        }
    };
    loop {
        while next < end && s.outstanding() < WINDOW {
            s.publish(next, 0, subject, None, &tag(next))?;
            next += 1;
        }
        if next == end && s.outstanding() == 0 {
            break;
        }
        s.flush().await?;
        let r = tokio::time::timeout(OP_TIMEOUT, s.next_report())
            .await
            .context("no report within 10 s")??;
        handle(r)?;
        // Whatever else is there already, without waiting (next_report is cancel-safe).
        while let Some(r) = s.next_report().now_or_never() {
            handle(r?)?;
        }
    }
    anyhow::ensure!(acked == n, "{acked} of {n} acked");
    Ok(started.elapsed())
}

struct Target {
    url: String,
    token: Option<String>,
    options: async_nats::ConnectOptions,
}

/// One measurement over `route` on a fresh stream; msgs/s and, through the contract, the
/// adapter's clock fit and hello.
async fn measure(
    t: &Target,
    route: Route,
    n: u64,
    tag_: &str,
) -> anyhow::Result<(f64, serde_json::Value)> {
    let client = tokio::time::timeout(OP_TIMEOUT, t.options.clone().connect(&t.url)).await??;
    let js = jetstream::ContextBuilder::new()
        .timeout(OP_TIMEOUT)
        .max_ack_inflight(WINDOW + 1)
        .backpressure_on_inflight(true)
        .build(client.clone());
    let name = format!("JSB_ADAPTER_{tag_}");
    let subject = format!("jsba.{tag_}");
    js.create_stream(jetstream::stream::Config {
        name: name.clone(),
        subjects: vec![subject.clone()],
        storage: jetstream::stream::StorageType::File,
        num_replicas: 1,
        ..Default::default()
    })
    .await
    .context("create stream")?;
    let result = async {
        let (took, extra) = match route {
            Route::InProcess => {
                let payload = jsbench::workload::payload(PAYLOAD_SIZE);
                in_process(&js, &subject, &payload, WARMUP).await?;
                (in_process(&js, &subject, &payload, n).await?, json!(null))
            }
            Route::Contract => through_contract(t, &name, &subject, n).await?,
        };
        let stored = js.get_stream(&name).await?.info().await?.state.messages;
        anyhow::ensure!(
            stored == WARMUP + n,
            "stream {name} holds {stored}, expected {}",
            WARMUP + n
        );
        anyhow::Ok((n as f64 / took.as_secs_f64(), extra))
    }
    .await;
    let _ = tokio::time::timeout(OP_TIMEOUT, js.delete_stream(&name)).await;
    let _ = tokio::time::timeout(Duration::from_secs(2), client.drain()).await;
    result
}

async fn through_contract(
    t: &Target,
    stream: &str,
    subject: &str,
    n: u64,
) -> anyhow::Result<(Duration, serde_json::Value)> {
    let cmd = Shipped::AsyncNatsStdio.command().await?;
    let payload = jsbench::workload::payload(PAYLOAD_SIZE);
    let init = Init {
        run: "bench".into(),
        connections: vec![vec![t.url.clone()]],
        token: t.token.clone(),
        user: None,
        password: None,
        stream: stream.into(),
        subjects: subject.into(),
        mode: InitMode::Async,
        max_pending: WINDOW as u64 + 1,
        ack_timeout_ms: OP_TIMEOUT.as_millis() as u64,
        msg_id: false,
        payload_size: PAYLOAD_SIZE,
        filler: protocol::hex(&payload[TAG_LEN..]),
    };
    let mut s = Session::start(&cmd, &init, Clock::start()).await?;
    let r = async {
        contract(&mut s, subject, 0, WARMUP).await?;
        contract(&mut s, subject, WARMUP, n).await
    }
    .await;
    let hello = s.hello().clone();
    let end = match r {
        Ok(_) => s.finish().await,
        Err(_) => s.abort().await,
    };
    let took = r?;
    anyhow::ensure!(end.violation.is_none(), "adapter: {:?}", end.violation);
    Ok((
        took,
        json!({"client": hello.client, "adapter": hello.adapter, "clock_uncertainty_ns": end.clock_uncertainty_ns, "clock_drift_ns": end.clock_drift_ns}),
    ))
}

fn main() -> anyhow::Result<()> {
    if !std::env::args().any(|a| a == "--bench") {
        return Ok(());
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default();
    let rounds = env_or("JSB_ADAPTER_ROUNDS", profile::pick(3, 5)).max(1);
    let n = env_or("JSB_ADAPTER_MSGS", profile::pick(100_000, 500_000)).max(1);
    let results = std::env::var_os("JSBENCH_RESULTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("results"));
    println!("adapter bench: profile {}", profile::name());
    let rt = RuntimeKind::CurrentThread.build()?;
    let server = rt.block_on(Server::start(&ServerSpec {
        backend: Backend::Process,
        ..ServerSpec::default()
    }))?;
    let outcome = rt.block_on(bench(&server, rounds, n));
    let stopped = rt.block_on(server.stop());
    let report = outcome?;
    stopped?;
    let path = results.join("adapter-overhead.json");
    let mut bytes = serde_json::to_vec_pretty(&report)?;
    bytes.push(b'\n');
    jsbench::result::write_atomic(&path, &bytes)
        .with_context(|| format!("write {}", path.display()))?;
    println!("wrote {}", path.display());
    Ok(())
}

async fn bench(server: &Server, rounds: u64, n: u64) -> anyhow::Result<serde_json::Value> {
    let t = Target {
        url: server.url().to_string(),
        token: server.credential().map(|c| c.token().to_string()),
        options: server.connect_options().await?,
    };
    let version = {
        let c = t.options.clone().connect(&t.url).await?;
        let v = c.server_info().version;
        let _ = c.drain().await;
        v
    };
    println!(
        "adapter overhead: async, window {WINDOW}, {n} msgs (+{WARMUP} warm-up), {PAYLOAD_SIZE} B, file, R1, one connection, {rounds} rounds, current_thread runtime, nats-server {version} ({})",
        server.source()
    );
    let run_id = format!("{:08x}", rand::random::<u32>());
    let mut rates: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    let mut rounds_json = Vec::new();
    for round in 0..rounds {
        let order = if round % 2 == 0 {
            [Route::InProcess, Route::Contract]
        } else {
            [Route::Contract, Route::InProcess]
        };
        let mut rj = serde_json::Map::new();
        rj.insert("round".into(), json!(round));
        rj.insert("order".into(), json!([order[0].name(), order[1].name()]));
        for route in order {
            let tag_ = format!("{run_id}_{round}_{}", route.name());
            let (rate, extra) = measure(&t, route, n, &tag_)
                .await
                .with_context(|| format!("round {round}, {}", route.name()))?;
            rates[(route == Route::Contract) as usize].push(rate);
            rj.insert(
                route.name().into(),
                json!({"msgs_per_sec": rate, "adapter": extra}),
            );
        }
        let (a, b) = (rates[0][round as usize], rates[1][round as usize]);
        println!("round {round} ({} first): in-process {a:.0} msgs/s, contract {b:.0} msgs/s (ratio {:.3})", order[0].name(), b / a);
        rounds_json.push(serde_json::Value::Object(rj));
    }
    let med = [median(&rates[0]), median(&rates[1])];
    let ratio = med[1] / med[0];
    println!();
    println!(
        "medians of {rounds} rounds: in-process {:.0} msgs/s, contract {:.0} msgs/s",
        med[0], med[1]
    );
    println!(
        "contract / in-process = {ratio:.3} (goal >= {RATIO_GOAL}): {}",
        if ratio >= RATIO_GOAL {
            "goal met"
        } else {
            "goal NOT met"
        }
    );
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    Ok(json!({
        "schema": "jsbench.adapter-overhead/1",
        "generated_at": now,
        "command": "cargo bench --bench adapter",
        "profile": profile::name(),
        "server": {"version": version, "source": server.source()},
        "config": {"messages": n, "warmup": WARMUP, "window": WINDOW, "payload_size": PAYLOAD_SIZE, "storage": "file", "replicas": 1, "connections": 1, "rounds": rounds, "runtime": "current_thread", "mode": "async"},
        "rounds": rounds_json,
        "medians": {"in_process_msgs_per_sec": med[0], "contract_msgs_per_sec": med[1]},
        "ratio": ratio,
        "ratio_goal": RATIO_GOAL,
        "goal_met": ratio >= RATIO_GOAL,
    }))
}
