//! The runner: one Plan in, one result directory out.
//!
//! Order of a run: start the server → connect → create a fresh stream → warm-up → measured
//! phase → drain acks → read the stream back → check → write the report → delete the stream →
//! remove the server. Whatever fails midway, the server is removed and a result is still written
//! with `status = "failed"` and the reason; on Ctrl-C the result says `incomplete`.

pub mod progress;

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_nats::jetstream;
use serde_json::json;

use crate::cancel::Cancel;
use crate::checker::{self, Evidence, OrderFigures, Safety, Verdict};
use crate::client::pool::{Pool, Router};
use crate::client::{Limit, Publisher, Stop};
use crate::consume::{self, ConsumeLog, ConsumeSetup};
use crate::nemesis::{Nemesis, NemesisLog};
use crate::proxy::Proxy;
use crate::record::history::{History, ReadBack};
use crate::record::observe::{Clock, LatencyLog, Progress, Recorder, WireTap};
use crate::record::readback::read_back;
use crate::result::{
    self, Counts, Environment, Host, LatencySummary, Orders, Report, RunStatus, ScenarioInfo,
    StreamInfo, Throughput, TimelineReport,
};
use crate::scenario::{Amount, ConsumeWhen, Plan, Storage, Warmup};
use crate::server::{Backend, Server};
use crate::workload::{key_name, payload, KeyGen, Pacer, Subjects};

/// The tokio runtime a run is driven by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RuntimeKind {
    /// One thread for the publisher and the client's connection tasks (default). On a 2-core
    /// machine the server needs the other core: measured ~15% more msgs/s than two workers,
    /// which spend their time waking each other.
    #[default]
    CurrentThread,
    /// Two worker threads.
    MultiThread,
}

impl RuntimeKind {
    pub fn parse(s: &str) -> Option<RuntimeKind> {
        match s {
            "current_thread" | "current-thread" => Some(RuntimeKind::CurrentThread),
            "multi_thread" | "multi-thread" => Some(RuntimeKind::MultiThread),
            _ => None,
        }
    }

    /// Builds the runtime (timers and I/O enabled).
    pub fn build(self) -> std::io::Result<tokio::runtime::Runtime> {
        match self {
            RuntimeKind::CurrentThread => tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build(),
            RuntimeKind::MultiThread => tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build(),
        }
    }
}

fn runtime_name() -> String {
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::CurrentThread) => "current_thread".into(),
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => "multi_thread".into(),
        _ => "unknown".into(),
    }
}

/// How a run is carried out (not what it measures: that is the Plan).
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Results go to `<out_root>/<UTC timestamp>-<scenario>/`.
    pub out_root: PathBuf,
    pub cancel: Cancel,
    /// Draw a progress bar (only when stdout is a terminal).
    pub progress: bool,
}

/// What a run left behind.
#[derive(Debug)]
pub struct RunOutput {
    pub dir: PathBuf,
    pub report: Report,
    /// The pid of the nats-server child (process backend), already gone when this is returned.
    pub server_pid: Option<u32>,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot write results to {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Everything measured before something possibly went wrong.
struct Measured {
    history: History,
    rec: Recorder,
    stop: Stop,
    read_back: Option<ReadBack>,
    /// How the read-back made sure it saw everything.
    read_back_check: Option<crate::record::readback::ReadBackCheck>,
    read_back_note: Option<String>,
    /// What the nemesis did, and the clock time its schedule started from.
    nemesis: NemesisLog,
    nemesis_origin_ns: u64,
    /// What the consume side did (`[consume]`).
    consume: Option<ConsumeLog>,
}

/// Facts gathered along the way, for the report.
#[derive(Default)]
struct Facts {
    environment: Environment,
    stream_name: String,
    subjects: Vec<String>,
    stream_kept: bool,
    notes: Vec<String>,
}

fn utc_stamp(t: SystemTime) -> (String, String) {
    let t = time::OffsetDateTime::from(t);
    let stamp = t
        .format(time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .unwrap_or_default();
    let iso = t
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    (stamp, iso)
}

fn new_run_id(t: SystemTime) -> String {
    let nanos = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let mut x = nanos ^ ((std::process::id() as u64) << 32);
    // splitmix64: spread the bits so ids of close runs differ everywhere.
    x = x.wrapping_add(0x9E3779B97F4A7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D049BB133111EB);
    format!("{:08x}", (x ^ (x >> 31)) as u32)
}

fn result_dir(root: &Path, stamp: &str, name: &str) -> PathBuf {
    let base = root.join(format!("{stamp}-{name}"));
    let mut dir = base.clone();
    let mut n = 2;
    while dir.exists() {
        dir = PathBuf::from(format!("{}-{n}", base.display()));
        n += 1;
    }
    dir
}

/// Stream names may not contain '.', '*', '>' or whitespace; keep them short and recognisable.
fn stream_name(scenario: &str, run_id: &str) -> String {
    let s: String = scenario
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    format!("JSB_{s}_{run_id}")
}

/// Runs one validated scenario on a server of its own, started for it and removed after it.
pub async fn run(plan: &Plan, opts: &RunOptions) -> Result<RunOutput, RunError> {
    let (start, mut facts) = RunStart::new(plan, opts)?;
    if matches!(plan.server.backend, Backend::Container | Backend::Auto) {
        // Containers of jsbench processes that were killed before they could clean up.
        let removed = crate::server::kill_orphans().await;
        if removed > 0 {
            tracing::info!("removed {removed} container(s) left behind by dead jsbench runs");
        }
    }
    let mut server_pid = None;
    let outcome = match Server::start(&plan.server.spec()).await {
        Err(e) => Err(format!("server did not start: {e}")),
        Ok(server) => {
            server_pid = server.pid();
            let outcome = measure_on(plan, opts, &server, &start.run_id, &mut facts).await;
            if let Err(e) = server.stop().await {
                facts.notes.push(format!("server removal reported: {e}"));
            }
            outcome
        }
    };
    start.finish(plan, facts, outcome, server_pid)
}

/// Runs one validated scenario on a server the caller started and keeps (its `[server]`
/// section is not used). Server faults act on that server; the caller stops it afterwards, so
/// a kept stream (`--keep-stream`) can still be read after the run.
pub async fn run_on(
    plan: &Plan,
    opts: &RunOptions,
    server: &Server,
) -> Result<RunOutput, RunError> {
    let (start, mut facts) = RunStart::new(plan, opts)?;
    let outcome = measure_on(plan, opts, server, &start.run_id, &mut facts).await;
    start.finish(plan, facts, outcome, server.pid())
}

/// What a run knows from its first moment: its id, its times and its result directory.
struct RunStart {
    started: SystemTime,
    started_iso: String,
    run_id: String,
    dir: PathBuf,
}

impl RunStart {
    fn new(plan: &Plan, opts: &RunOptions) -> Result<(RunStart, Facts), RunError> {
        let started = SystemTime::now();
        let (stamp, started_iso) = utc_stamp(started);
        let run_id = new_run_id(started);
        let dir_name = match plan.repetition {
            Some(k) => format!("{}-r{k}", plan.name),
            None => plan.name.clone(),
        };
        let dir = result_dir(&opts.out_root, &stamp, &dir_name);
        std::fs::create_dir_all(&dir).map_err(|source| RunError::Write {
            path: dir.clone(),
            source,
        })?;
        let facts = Facts {
            environment: Environment {
                backend: plan.server.backend.as_str().to_string(),
                // The version this build links (build.rs reads it from Cargo.lock).
                client: format!("async-nats {}", env!("JSBENCH_ASYNC_NATS_VERSION")),
                jsbench_version: env!("CARGO_PKG_VERSION").to_string(),
                connections: plan.connections.count,
                runtime: runtime_name(),
                host: Host::current(),
                ..Default::default()
            },
            stream_name: stream_name(&plan.name, &run_id),
            ..Default::default()
        };
        let start = RunStart {
            started,
            started_iso,
            run_id,
            dir,
        };
        Ok((start, facts))
    }

    /// Builds the report from what happened and writes it.
    fn finish(
        self,
        plan: &Plan,
        facts: Facts,
        outcome: Result<Measured, String>,
        server_pid: Option<u32>,
    ) -> Result<RunOutput, RunError> {
        let finished_iso = utc_stamp(SystemTime::now()).1;
        let report = assemble(
            plan,
            &self.run_id,
            self.started,
            &self.started_iso,
            &finished_iso,
            facts,
            outcome,
            &self.dir,
        );
        result::write_report(&self.dir, &report).map_err(|source| RunError::Write {
            path: self.dir.join("result.json"),
            source,
        })?;
        Ok(RunOutput {
            dir: self.dir,
            report,
            server_pid,
        })
    }
}

/// Records which server the run used, then measures on it.
async fn measure_on(
    plan: &Plan,
    opts: &RunOptions,
    server: &Server,
    run_id: &str,
    facts: &mut Facts,
) -> Result<Measured, String> {
    facts.environment.backend = server.backend().as_str().to_string();
    facts.environment.server_source = server.source().to_string();
    measure(plan, opts, server, run_id, facts).await
}

/// How long the round trip that proves a connection drained may take (a reconnect after a
/// fault included).
const ROUND_TRIP_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects, publishes, reads back. Errors are strings: they end up in the report.
async fn measure(
    plan: &Plan,
    opts: &RunOptions,
    server: &Server,
    run_id: &str,
    facts: &mut Facts,
) -> Result<Measured, String> {
    let options = server
        .connect_options()
        .await
        .map_err(|e| format!("connection options: {e}"))?;

    // Fault proxies: one per client connection, each in front of the server.
    let proxies = if plan.proxied() {
        start_proxies(server.url(), plan.connections.count, plan.seed).await?
    } else {
        Vec::new()
    };
    let urls: Vec<String> = if proxies.is_empty() {
        vec![server.url().to_string()]
    } else {
        proxies.iter().map(|p| p.url()).collect()
    };
    // With faults the server may be gone for a while: allow reconnecting for about three
    // minutes (async-nats' backoff reaches 4 s per attempt), not ~1 s.
    let max_reconnects = if plan.faults.is_empty() { 10 } else { 60 };
    let result = async {
        let pool = Pool::connect(
            &urls,
            || options.clone(),
            plan.connections.count,
            &plan.name,
            plan.publish.ack_timeout,
            plan.publish.max_in_flight,
            max_reconnects,
        )
        .await
        .map_err(|e| format!("cannot connect to {}: {e}", urls.join(", ")))?;
        facts.environment.server_version = pool.clients[0].server_info().version.clone();

        // Stream admin and read-back go straight to the server on their own connection, so
        // network faults on the publishing connections never touch them.
        let admin_client = options
            .clone()
            .name(format!("jsbench-{}-admin", plan.name))
            .max_reconnects(Some(max_reconnects))
            .connect(server.url())
            .await
            .map_err(|e| format!("cannot connect to {}: {e}", server.url()))?;
        let admin = jetstream::ContextBuilder::new()
            .timeout(Duration::from_secs(10))
            .build(admin_client.clone());
        let subjects = Subjects::new(run_id, plan.workload.keys);
        facts.subjects = vec![subjects.stream_filter.clone()];
        let config = jetstream::stream::Config {
            name: facts.stream_name.clone(),
            subjects: facts.subjects.clone(),
            storage: match plan.stream.storage {
                Storage::File => jetstream::stream::StorageType::File,
                Storage::Memory => jetstream::stream::StorageType::Memory,
            },
            num_replicas: plan.stream.replicas,
            duplicate_window: plan.stream.duplicate_window,
            max_bytes: plan.stream.max_bytes,
            ..Default::default()
        };
        admin
            .create_stream(config)
            .await
            .map_err(|e| format!("cannot create stream {}: {e}", facts.stream_name))?;

        let result = publish_and_read(
            plan,
            opts,
            server,
            &proxies,
            &pool,
            &admin,
            &subjects,
            &facts.stream_name,
            run_id,
        )
        .await;

        if plan.stream.keep {
            facts.stream_kept = true;
        } else if let Err(e) = admin.delete_stream(&facts.stream_name).await {
            facts
                .notes
                .push(format!("stream {} not deleted: {e}", facts.stream_name));
        }
        pool.close().await;
        let _ = tokio::time::timeout(Duration::from_secs(2), admin_client.drain()).await;
        result
    }
    .await;
    for p in proxies {
        p.stop().await;
    }
    result
}

/// Starts one fault proxy per connection in front of the server at `url`.
async fn start_proxies(url: &str, count: usize, seed: u64) -> Result<Vec<Proxy>, String> {
    let hostport = url.split("://").nth(1).unwrap_or(url);
    let hostport = hostport.rsplit('@').next().unwrap_or(hostport);
    let hostport = hostport.split(',').next().unwrap_or(hostport);
    let upstream = tokio::net::lookup_host(hostport)
        .await
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| format!("cannot resolve {hostport} for the fault proxy"))?;
    let mut proxies = Vec::with_capacity(count);
    for i in 0..count {
        let p = Proxy::start(upstream, seed ^ (0x5052_4f58_5900 + i as u64))
            .await
            .map_err(|e| format!("cannot start the fault proxy for connection {i}: {e}"))?;
        proxies.push(p);
    }
    Ok(proxies)
}

#[allow(clippy::too_many_arguments)]
async fn publish_and_read(
    plan: &Plan,
    opts: &RunOptions,
    server: &Server,
    proxies: &[Proxy],
    pool: &Pool,
    admin: &jetstream::Context,
    subjects: &Subjects,
    stream: &str,
    run_id: &str,
) -> Result<Measured, String> {
    let w = &plan.workload;
    let clock = Clock::start();
    let tap = WireTap::new(clock);
    let key_names: Vec<String> = (0..w.keys).map(key_name).collect();
    let router = Router::new(&plan.connections, w.keys);
    let pacer = Pacer::new(w.rate);
    let progress = Arc::new(Progress::default());
    let mut publisher = Publisher {
        contexts: &pool.contexts,
        router: &router,
        subjects,
        run_id,
        key_names: &key_names,
        payload: payload(w.payload_size),
        mode: plan.publish.mode,
        window: plan.publish.max_in_flight,
        msg_id: plan.publish.msg_id,
        pacer,
        tap: tap.clone(),
        cancel: &opts.cancel,
        progress: Some(&progress),
        retry: plan.publish.retry,
        stopped: None,
    };

    // Warm-up: same code path, its own keys and a throwaway history; excluded from all figures.
    let warm_limit = match w.warmup {
        Warmup::Messages(0) => None,
        Warmup::Messages(n) => Some(Limit::Messages(n)),
        Warmup::Duration(d) => Some(Limit::Duration {
            duration: d,
            max: w.max_messages,
        }),
    };
    if let Some(limit) = warm_limit {
        let mut keygen = KeyGen::new(w, plan.seed ^ 0x5741_524d_5550);
        let first = match limit {
            Limit::Messages(n) => keygen.take(n as usize),
            Limit::Duration { .. } => Vec::new(),
        };
        let mut h = History::new(first, w.keys);
        let mut r = Recorder::new(false, plan.observe.timeline_bucket, None);
        publisher
            .run_phase(true, limit, &mut keygen, &mut h, &mut r)
            .await;
    }

    // Measured phase.
    let (limit, expected, planned) = match w.amount {
        Amount::Messages(n) => (Limit::Messages(n), None, n),
        Amount::Duration(d) => (
            Limit::Duration {
                duration: d,
                max: w.max_messages,
            },
            Some(d),
            0,
        ),
    };
    let mut keygen = KeyGen::new(w, plan.seed);
    let first = match (w.amount, w.rate) {
        (Amount::Messages(n), _) => n as usize,
        (Amount::Duration(d), crate::scenario::Rate::PerSec(r)) => {
            ((d.as_secs_f64() * r as f64) as usize + 1).min(w.max_messages as usize)
        }
        (Amount::Duration(_), crate::scenario::Rate::Max) => 1 << 20,
    };
    let mut history = History::new(keygen.take(first), w.keys);
    if !plan.faults.is_empty() || plan.publish.retry.attempts > 1 || plan.consume.is_some() {
        // Send and ack times per message: the fault-window checkers split by them.
        history = history.timed();
    }
    let mut rec = Recorder::new(pacer.is_open_loop(), plan.observe.timeline_bucket, expected);
    progress.planned.store(planned, Ordering::Relaxed);
    let bar = opts
        .progress
        .then(|| crate::runner::progress::spawn(progress.clone(), expected, plan.name.clone()));
    // The consume side: started now when concurrent, after publishing otherwise.
    let (published_tx, published_rx) = tokio::sync::watch::channel(false);
    let consume_setup = plan.consume.as_ref().map(|cp| ConsumeSetup {
        js: admin.clone(),
        stream: stream.to_string(),
        filter: subjects.measured_filter.clone(),
        run_id: run_id.to_string(),
        name: format!("jsb-consume-{run_id}"),
        plan: cp.clone(),
        seed: plan.seed,
        clock,
    });
    // Concurrent: spawned now; after: kept until publishing has ended.
    let (mut consuming, deferred) = match consume_setup {
        Some(setup) if setup.plan.when == ConsumeWhen::Concurrent => (
            Some(tokio::spawn(consume::run(
                setup,
                published_rx.clone(),
                opts.cancel.clone(),
            ))),
            None,
        ),
        setup => (None, setup),
    };
    let (stopped_tx, stopped_rx) = tokio::sync::watch::channel(false);
    publisher.stopped = Some(&stopped_tx);
    let nemesis_origin_ns = clock.now_ns();
    let (stop, nemesis) = if plan.faults.is_empty() {
        let stop = publisher
            .run_phase(false, limit, &mut keygen, &mut history, &mut rec)
            .await;
        (stop, NemesisLog::default())
    } else {
        // Same task, so the nemesis borrows the server and proxies; the publisher yields at
        // every await, which is often enough for fault times to be kept to a millisecond or so
        // (the windows record the real times anyway).
        let nemesis = Nemesis {
            faults: &plan.faults,
            server,
            proxies,
            clock,
        };
        // The nemesis first: faults due at once are set before the first message goes out.
        let (log, stop) = tokio::join!(
            nemesis.run(nemesis_origin_ns, stopped_rx),
            publisher.run_phase(false, limit, &mut keygen, &mut history, &mut rec)
        );
        (stop, log)
    };
    if let Some(bar) = bar {
        bar.finish().await;
    }
    let _ = published_tx.send(true);
    if let Some(setup) = deferred {
        consuming = Some(tokio::spawn(consume::run(
            setup,
            published_rx,
            opts.cancel.clone(),
        )));
    }
    let consume = match consuming {
        Some(task) => Some(task.await.unwrap_or_else(|e| ConsumeLog {
            error: Some(format!("the consumer task failed: {e}")),
            ..Default::default()
        })),
        None => None,
    };

    // Read-back: the stream's own account of what was stored, in which order. Every fault is
    // healed by now (the nemesis heals when publishing stops); each publishing connection is
    // proven drained through its own path, proxy included, so that nothing still queued
    // reaches the stream after it was read.
    let (read_back, read_back_check, read_back_note) =
        if !plan.observe.read_back || opts.cancel.is_urgent() {
            (None, None, None)
        } else {
            let mut notes = Vec::new();
            let mut flushed = 0;
            for (i, c) in pool.clients.iter().enumerate() {
                match crate::record::readback::round_trip(c, ROUND_TRIP_TIMEOUT).await {
                    Ok(()) => flushed += 1,
                    Err(e) => notes.push(format!(
                        "connection {i} could not be proven drained before the read-back: {e}"
                    )),
                }
            }
            let spec = crate::record::readback::ReadSpec {
                js: admin,
                stream,
                filter: &subjects.measured_filter,
                run_id,
                expected_hint: history.published as usize,
                idle: Duration::from_secs(10),
                cancel: &opts.cancel,
            };
            match read_back(&spec).await {
                Ok((rb, mut check)) => {
                    check.connections = pool.clients.len();
                    check.connections_flushed = flushed;
                    if !rb.complete {
                        notes.push(match check.stream_count {
                            Some(n) => format!(
                                "read-back incomplete: {} messages read, the stream holds {n}",
                                check.read
                            ),
                            None => format!("read-back incomplete: {} messages read", check.read),
                        });
                    }
                    (
                        Some(rb),
                        Some(check),
                        (!notes.is_empty()).then(|| notes.join("; ")),
                    )
                }
                Err(e) => {
                    notes.push(format!("read-back failed: {e}"));
                    (None, None, Some(notes.join("; ")))
                }
            }
        };
    Ok(Measured {
        history,
        rec,
        stop,
        read_back,
        read_back_check,
        read_back_note,
        nemesis,
        nemesis_origin_ns,
        consume,
    })
}

fn order_figs(order: &[u32], h: &History) -> OrderFigures {
    checker::divergence(order, &h.keys, h.num_keys)
}

#[allow(clippy::too_many_arguments)]
fn assemble(
    plan: &Plan,
    run_id: &str,
    started: SystemTime,
    started_iso: &str,
    finished_iso: &str,
    facts: Facts,
    outcome: Result<Measured, String>,
    dir: &Path,
) -> Report {
    let mut notes = facts.notes;
    let mut report = Report {
        schema: result::SCHEMA.to_string(),
        status: RunStatus::Complete,
        status_reason: None,
        run_id: run_id.to_string(),
        started_at: started_iso.to_string(),
        finished_at: finished_iso.to_string(),
        scenario: ScenarioInfo {
            name: plan.name.clone(),
            description: plan.description.clone(),
            file: plan.file.as_ref().map(|f| f.display().to_string()),
            repetition: plan.repetition,
            plan: serde_json::to_value(plan).unwrap_or(json!(null)),
        },
        stream: StreamInfo {
            name: facts.stream_name,
            subjects: facts.subjects,
            storage: format!("{:?}", plan.stream.storage).to_lowercase(),
            replicas: plan.stream.replicas,
            kept: facts.stream_kept,
        },
        seed: plan.seed,
        environment: facts.environment,
        counts: Counts::default(),
        throughput: Throughput::default(),
        latency_us: Default::default(),
        order: Orders::default(),
        safety: None,
        errors: Default::default(),
        verdicts: Vec::new(),
        verdict: Verdict::Unknown,
        files: Default::default(),
        resources: result::Resources::current(),
        faults: Vec::new(),
        retry: None,
        consume: None,
        read_back: None,
    };

    let m = match outcome {
        Err(reason) => {
            report.status = RunStatus::Failed;
            notes.insert(0, reason);
            report.status_reason = Some(notes.join("; "));
            report.verdicts = checker::judge(
                &plan.expect,
                &Evidence {
                    ack_wire: None,
                    ack_completion: None,
                    storage: None,
                    safety: None,
                    published: 0,
                    acked: 0,
                    unknown: 0,
                    retry: None,
                    consume: None,
                    consume_figures: None,
                    complete: false,
                },
            );
            // Claims over a run that failed are unknown (each says "not measured"); a run
            // without claims has nothing to judge.
            report.verdict = Verdict::combine(report.verdicts.iter().map(|v| v.verdict));
            return report;
        }
        Ok(m) => m,
    };

    let h = &m.history;
    let oc = h.outcome_counts();
    let read_back_ok =
        !plan.observe.read_back || m.read_back.as_ref().is_some_and(|rb| rb.complete);
    let complete =
        matches!(m.stop, Stop::Done | Stop::Elapsed) && oc.in_flight == 0 && read_back_ok;
    match &m.stop {
        Stop::Cancelled => {
            report.status = RunStatus::Incomplete;
            notes.insert(0, "interrupted (Ctrl-C): publishing stopped early".into());
        }
        Stop::MaxMessages => {
            report.status = RunStatus::Incomplete;
            notes.insert(
                0,
                format!(
                    "stopped at workload.max_messages ({}) before the duration elapsed",
                    plan.workload.max_messages
                ),
            );
        }
        Stop::ClientFailed(why) => {
            report.status = RunStatus::Incomplete;
            notes.insert(0, format!("publishing stopped: {why}"));
        }
        Stop::Done | Stop::Elapsed => {}
    }
    if !read_back_ok {
        // Without the stream's own account, storage order and safety are not measured.
        report.status = RunStatus::Incomplete;
    }
    if oc.in_flight > 0 {
        report.status = RunStatus::Incomplete;
        notes.push(format!(
            "{} acks still outstanding when the run stopped",
            oc.in_flight
        ));
    }
    if let Some(n) = &m.read_back_note {
        notes.push(n.clone());
    }

    // Orders.
    let ack_wire = order_figs(&h.wire_order(), h);
    let ack_completion = order_figs(&h.completion, h);
    let from_acks = order_figs(&h.ack_storage_order(), h);
    let (storage, source) = match &m.read_back {
        Some(rb) if rb.complete => (order_figs(&rb.order, h), "read_back"),
        _ => (from_acks, "acks"),
    };
    let safety: Option<Safety> = m
        .read_back
        .as_ref()
        .filter(|rb| rb.complete)
        .map(|rb| checker::safety(h, rb));

    let rb_complete = m.read_back.as_ref().filter(|rb| rb.complete);
    let per_msg = rb_complete.map(|rb| checker::per_message(h, rb));
    if plan.publish.retry.attempts > 1 || h.retried() > 0 {
        report.retry = Some(checker::retry_figures(h, rb_complete.zip(per_msg.as_ref())));
    }
    notes.extend(m.nemesis.notes.iter().cloned());
    for w in &m.nemesis.windows {
        if let Some(e) = &w.error {
            notes.push(format!("fault {} #{}: {e}", w.name, w.occurrence));
        }
        let split = h.is_timed().then(|| {
            let at = |ms: f64| m.nemesis_origin_ns + (ms * 1e6) as u64;
            checker::split_by_window(
                h,
                per_msg.as_ref(),
                (m.rec.started_ns, m.rec.ended_ns),
                (at(w.start_ms), at(w.end_ms)),
            )
        });
        report.faults.push(result::FaultReport {
            window: w.clone(),
            split,
        });
    }
    if !h.attempt_log.is_empty() {
        let file = "attempts.csv";
        match write_attempts(&dir.join(file), h, m.rec.started_ns) {
            Ok(()) => {
                report.files.insert("attempts".into(), file.into());
            }
            Err(e) => notes.push(format!("could not write {file}: {e}")),
        }
    }

    report.counts = Counts {
        published: h.published,
        acked: oc.ok + oc.duplicate_acks,
        duplicate_acks: oc.duplicate_acks,
        failed: oc.failed,
        unknown: oc.unknown,
        in_flight: oc.in_flight,
        stored: safety.map(|s| s.stored),
        lost: safety.map(|s| s.lost),
        duplicates: safety.map(|s| s.duplicates),
        unexpected: safety.map(|s| s.unexpected),
        recovered: safety.map(|s| s.unknown_stored),
        redelivered: m.consume.as_ref().map(|c| c.redeliveries),
    };
    if let Some(s) = &safety {
        if s.ack_seq_mismatches > 0 {
            notes.push(format!(
                "{} acks reported a stream sequence that differs from the read-back",
                s.ack_seq_mismatches
            ));
        }
    }

    let duration_ns = m.rec.ended_ns.saturating_sub(m.rec.started_ns);
    let duration_s = duration_ns as f64 / 1e9;
    report.throughput = Throughput {
        msgs_per_sec: if duration_s > 0.0 {
            report.counts.acked as f64 / duration_s
        } else {
            0.0
        },
        duration_s,
        timeline: TimelineReport {
            bucket_ms: m.rec.timeline.bucket_ns as f64 / 1e6,
            acked: m.rec.timeline.acked.clone(),
            published: m.rec.timeline.published.clone(),
        },
    };

    let mut hists = vec![("publish_ack", &m.rec.publish_ack)];
    if let Some(hh) = &m.rec.send_delay {
        hists.push(("send_delay", hh));
    }
    if let Some(hh) = &m.rec.intended_ack {
        hists.push(("intended_ack", hh));
    }
    for (name, hist) in hists {
        report
            .latency_us
            .insert(name.to_string(), LatencySummary::from_ns(&hist.total));
        let file = format!("latency-{name}.hlog");
        let start = started + Duration::from_nanos(m.rec.started_ns);
        match result::hlog::write_hlog(&dir.join(&file), hist, name, start) {
            Ok(()) => {
                report.files.insert(format!("latency_{name}"), file);
            }
            Err(e) => notes.push(format!("could not write {file}: {e}")),
        }
    }

    // The consume side: the order of first processings, redeliveries, end-to-end latency.
    let mut consume_order = None;
    let mut complete = complete;
    if let (Some(log), Some(cp)) = (&m.consume, &plan.consume) {
        let (order, delivered) = checker::consume_order(&log.processed);
        consume_order = Some(order_figs(&order, h));
        let figures =
            checker::consume_figures(log, &order, &delivered, &h.keys, h.num_keys, rb_complete);
        if !log.complete {
            complete = false;
            report.status = RunStatus::Incomplete;
            notes.push(format!(
                "consume side: {}",
                log.error.as_deref().unwrap_or("stopped before it drained")
            ));
        }
        let e2e = end_to_end(log, h, m.rec.started_ns);
        if !e2e.total.is_empty() {
            report
                .latency_us
                .insert("end_to_end".into(), LatencySummary::from_ns(&e2e.total));
            let file = "latency-end_to_end.hlog";
            let start = started + Duration::from_nanos(m.rec.started_ns);
            match result::hlog::write_hlog(&dir.join(file), &e2e, "end_to_end", start) {
                Ok(()) => {
                    report
                        .files
                        .insert("latency_end_to_end".into(), file.into());
                }
                Err(e) => notes.push(format!("could not write {file}: {e}")),
            }
        }
        report.consume = Some(consume_report(
            cp,
            log,
            figures,
            &m.rec,
            plan.observe.timeline_bucket,
        ));
    }

    report.order = Orders {
        ack_wire: Some(ack_wire),
        ack_completion: Some(ack_completion),
        storage: Some(storage),
        consume: consume_order,
        storage_source: source.to_string(),
        storage_from_acks: Some(from_acks),
    };
    report.safety = safety;
    report.read_back = m.read_back_check.clone();
    report.errors = h.errors.clone();
    report.verdicts = checker::judge(
        &plan.expect,
        &Evidence {
            ack_wire: report.order.ack_wire.as_ref(),
            ack_completion: report.order.ack_completion.as_ref(),
            storage: report.order.storage.as_ref(),
            safety: report.safety.as_ref(),
            published: report.counts.published,
            acked: report.counts.acked,
            unknown: report.counts.unknown,
            retry: report.retry.as_ref(),
            consume: report.order.consume.as_ref(),
            consume_figures: report.consume.as_ref().map(|c| &c.figures),
            complete,
        },
    );
    report.verdict = Verdict::combine(report.verdicts.iter().map(|v| v.verdict));
    if !notes.is_empty() {
        report.status_reason = Some(notes.join("; "));
    }
    // After the checkers: their working memory is part of the peak.
    report.resources = result::Resources::current();
    report
}

/// Each message's first successful processing, in finish order (indexes are dense: a bitmap).
fn first_processings(log: &ConsumeLog) -> impl Iterator<Item = &consume::Processed> {
    let len = log
        .processed
        .iter()
        .map(|p| p.idx as usize + 1)
        .max()
        .unwrap_or(0);
    let mut seen = vec![false; len];
    log.processed.iter().filter(move |p| {
        let s = &mut seen[p.idx as usize];
        !std::mem::replace(s, true)
    })
}

/// End-to-end latency: first send of a message → its first successful processing, recorded by
/// processing time (so the interval log shows how it grew with the backlog).
fn end_to_end(log: &ConsumeLog, h: &History, origin_ns: u64) -> LatencyLog {
    let mut l = LatencyLog::new(crate::record::observe::LOG_INTERVAL);
    l.set_origin(origin_ns);
    for p in first_processings(log) {
        let Some(&sent) = h.first_send_ns.get(p.idx as usize) else {
            continue;
        };
        if sent > 0 {
            l.record(p.at_ns, p.at_ns.saturating_sub(sent).max(1));
        }
    }
    l.finish();
    l
}

/// `consume` of result.json: figures, rate, and processed/backlog per timeline bucket.
fn consume_report(
    cp: &crate::scenario::ConsumePlan,
    log: &ConsumeLog,
    figures: checker::ConsumeFigures,
    rec: &Recorder,
    bucket: Duration,
) -> result::ConsumeReport {
    let bucket_ns = bucket.as_nanos().max(1) as u64;
    // First processings only: the backlog is what has not been processed yet.
    let firsts: Vec<u64> = first_processings(log).map(|p| p.at_ns).collect();
    let mut processed: Vec<u64> = Vec::new();
    for &at in &firsts {
        let i = (at.saturating_sub(rec.started_ns) / bucket_ns) as usize;
        if i >= processed.len() {
            processed.resize(i + 1, 0);
        }
        processed[i] += 1;
    }
    let published = &rec.timeline.published;
    let n = processed.len().max(published.len());
    let (mut pubs, mut done) = (0u64, 0u64);
    let mut backlog = Vec::with_capacity(n);
    for i in 0..n {
        pubs += published.get(i).copied().unwrap_or(0);
        done += processed.get(i).copied().unwrap_or(0);
        backlog.push(pubs.saturating_sub(done));
    }
    processed.resize(n, 0);
    let span_ns = match (firsts.first(), firsts.last()) {
        (Some(a), Some(b)) if b > a => b - a,
        _ => 0,
    };
    let duration_s = span_ns as f64 / 1e9;
    let as_str = |v: serde_json::Value| v.as_str().unwrap_or_default().to_string();
    result::ConsumeReport {
        consumer: as_str(serde_json::json!(cp.consumer)),
        model: as_str(serde_json::json!(cp.model)),
        workers: cp.workers,
        when: as_str(serde_json::json!(cp.when)),
        figures,
        msgs_per_sec: if duration_s > 0.0 {
            firsts.len() as f64 / duration_s
        } else {
            0.0
        },
        duration_s,
        complete: log.complete,
        error: log.error.clone(),
        timeline: result::ConsumeTimeline {
            bucket_ms: bucket_ns as f64 / 1e6,
            processed,
            backlog,
        },
    }
}

/// Writes every recorded attempt (failed ones, and the last of each retried message) as CSV:
/// times in ms since the measured phase started.
fn write_attempts(path: &Path, h: &History, origin_ns: u64) -> std::io::Result<()> {
    use std::fmt::Write as _;
    let seqs = h.key_seqs();
    let mut out = String::from("idx,key,seq,attempt,conn,send_ms,end_ms,outcome,error\n");
    let ms = |t: u64| t.saturating_sub(origin_ns) as f64 / 1e6;
    for a in &h.attempt_log {
        let i = a.idx as usize;
        let _ = writeln!(
            out,
            "{},{},{},{},{},{:.3},{:.3},{},{}",
            a.idx,
            crate::workload::key_name(h.keys[i]),
            seqs[i],
            a.attempt,
            a.conn,
            ms(a.send_ns),
            ms(a.end_ns),
            a.outcome.as_str(),
            a.error
        );
    }
    result::write_atomic(path, out.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(stream_name("rr-async.x", "ab12"), "JSB_RR_ASYNC_X_ab12");
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert_eq!(utc_stamp(t).0, "20270115T080000Z");
        assert_ne!(new_run_id(t), new_run_id(t + Duration::from_nanos(1)));
    }
}
