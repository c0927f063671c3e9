//! The runner: one Plan in, one result directory out.
//!
//! Order of a run: start the server → open the rig (fault proxies, connections, the run's
//! stream) → warm-up → measured phase (with the nemesis when there are faults, and the consume
//! side) → drain acks → read the stream back → analyse → write the artifacts and result.json →
//! delete the stream → remove the server. Whatever fails midway, the server is removed and a
//! result is still written with `status = "failed"` and the reason; on Ctrl-C the result says
//! `incomplete`. A `[nemesis]` run writes its drawn schedule (`schedule.toml`) first of all.
//!
//! A distributed run (`jsbench run --workers N`) is the same run with its measured phase
//! published by worker processes: `segment.rs` (a worker's connections and phases),
//! `part.rs` (what a worker uploads), `merge.rs` (the parts into one history and recorder),
//! `coordinated.rs` (the run around them; `crate::coord` drives the workers).
//!
//! Files: `rig.rs` (proxies, connections, stream), `phases.rs` (warm-up, measured phase,
//! consume side, read-back), `streaming.rs` (the follower: started with the measured phase, its
//! tail in place of the read-back, where the storage figures come from), `status.rs`,
//! `analysis.rs` (pure figures), `artifacts.rs` (hlog, attempts.csv), `report.rs` (result.json), `ids.rs` (run id, names), `runtime.rs`,
//! `progress.rs` (the terminal bar and the live line's task), `live.rs` (the live line: when,
//! and its fields from two snapshots of the counters).

mod adapter;
mod analysis;
mod artifacts;
mod coordinated;
mod ids;
pub mod live;
pub mod merge;
mod observers;
pub mod part;
mod phases;
pub mod progress;
mod report;
mod rig;
mod runtime;
pub mod segment;
mod status;
mod streaming;

use std::path::PathBuf;
use std::time::SystemTime;

use crate::cancel::Cancel;
use crate::client::Stop;
use crate::consume::ConsumeLog;
use crate::nemesis::NemesisLog;
use crate::record::history::{History, ReadBack};
use crate::record::observe::Recorder;
use crate::record::readback::ReadBackCheck;
use crate::result::{self, Environment, Host, Report};
use crate::scenario::Plan;
use crate::server::{Backend, Server};

pub use coordinated::{run_coordinated, Distributed, FaultCues, Target};
pub use runtime::RuntimeKind;

/// A `[nemesis]` run's drawn schedule as a scenario (`jsbench run <dir>/schedule.toml`
/// replays it).
pub const SCHEDULE: &str = "schedule.toml";

/// How a run is carried out (not what it measures: that is the Plan).
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Results go to `<out_root>/<UTC timestamp>-<scenario>/`.
    pub out_root: PathBuf,
    pub cancel: Cancel,
    /// Draw a progress bar (only when stdout is a terminal).
    pub progress: bool,
    /// When to print the live line on stderr (`--live`).
    pub live: live::LiveMode,
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
    read_back_check: Option<ReadBackCheck>,
    read_back_note: Option<String>,
    /// What the follower read and judged (a following run: `observe.follow`).
    streaming: Option<streaming::Streamed>,
    /// What the nemesis did, and the clock time its schedule started from.
    nemesis: NemesisLog,
    nemesis_origin_ns: u64,
    /// What the consume side did (`[consume]`).
    consume: Option<ConsumeLog>,
    /// What was seen of a cluster (several nodes).
    cluster: Option<crate::record::cluster::ClusterRecord>,
    /// A single node's copy after disk faults (a cluster's is in `cluster`).
    disk_survey: Option<crate::record::cluster::ReplicaSurvey>,
    /// jsbench's CPU and wall time while publishing.
    client: Option<crate::record::usage::Usage>,
    /// A single server's node names and `/varz` samples while publishing.
    server_samples: (Vec<String>, Vec<Vec<crate::record::cluster::NodeSample>>),
    /// Each node's CPU use in cores while publishing, from its process (when it is one here).
    server_cores: Vec<Option<f64>>,
    /// The adapter process's CPU use in cores while publishing (runs through an adapter).
    adapter_cores: Option<f64>,
    /// The cores this machine offers jsbench, read when the run was measured: which side was
    /// busy is judged against it, and the analysis reads no machine state itself.
    cpus: usize,
    /// A distributed run's workers (result.json `workers`); empty for one process.
    workers: Vec<result::WorkerReport>,
    /// Messages below `history.published` that their worker never sent (a lost worker's):
    /// "not published", so neither published nor in flight.
    unsent: u64,
}

/// Facts gathered along the way, for the report.
#[derive(Default, Clone)]
struct Facts {
    environment: Environment,
    stream_name: String,
    subjects: Vec<String>,
    stream_kept: bool,
    notes: Vec<String>,
    /// Which client published (result.json `client`): known from the plan at the start, the
    /// rest from the adapter's answer and its end.
    client: result::ClientReport,
}

/// Runs one validated scenario on a server of its own, started for it and removed after it.
pub async fn run(plan: &Plan, opts: &RunOptions) -> Result<RunOutput, RunError> {
    let (start, mut facts) = RunStart::new(plan, opts)?;
    if matches!(plan.server.backend, Backend::Container | Backend::Auto) {
        // Containers of jsbench processes that were killed before they could clean up.
        let removed = crate::server::kill_orphans().await;
        if removed > 0 {
            tracing::info!(
                "removed {removed} container(s) and network(s) left behind by dead jsbench runs"
            );
        }
    }
    // Fault filesystems of jsbench processes that were killed with their mounts up.
    match crate::faultfs::sweep_stale_mounts() {
        Ok(swept) if !swept.is_empty() => {
            tracing::info!(
                "unmounted {} stale fault filesystem(s) of dead jsbench runs",
                swept.len()
            )
        }
        Ok(_) => {}
        Err(e) => tracing::warn!("cannot sweep stale fault filesystem mounts: {e}"),
    }
    let mut server_pid = None;
    let outcome = match Server::start(&plan.server_spec()).await {
        Err(e) => Err(format!("server did not start: {e}")),
        Ok(server) => {
            server_pid = server.pid();
            let outcome = measure(plan, opts, &server, &start.run_id, &mut facts).await;
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
    let outcome = measure(plan, opts, server, &start.run_id, &mut facts).await;
    start.finish(plan, facts, outcome, server.pid())
}

/// Opens the rig, runs the phases, closes the rig. Errors are strings: they end up in the
/// report.
async fn measure(
    plan: &Plan,
    opts: &RunOptions,
    server: &Server,
    run_id: &str,
    facts: &mut Facts,
) -> Result<Measured, String> {
    facts.environment.backend = server.backend().as_str().to_string();
    facts.environment.server_source = server.source().to_string();
    let proxies = rig::start_proxies(plan, server).await;
    let result = match &proxies {
        Err(e) => Err(e.clone()),
        Ok(proxies) => match rig::Rig::open(plan, server, proxies, run_id, facts).await {
            Err(e) => Err(e),
            Ok(rig) => {
                let clock = crate::record::observe::Clock::start();
                let started =
                    adapter::start(plan, server, &rig, run_id, clock, &mut facts.client).await;
                match started {
                    Err(e) => {
                        rig.close(plan, facts).await;
                        Err(e)
                    }
                    Ok(link) => {
                        if !plan.client.is_in_process() {
                            facts.environment.client =
                                format!("{} {}", facts.client.name, facts.client.version);
                        }
                        let phases = phases::Phases {
                            plan,
                            opts,
                            server,
                            proxies,
                            rig: &rig,
                            run_id,
                            remap: None,
                        };
                        let (measured, end) = phases.run(clock, link).await;
                        if let Some(end) = &end {
                            adapter::record_end(&mut facts.client, end);
                            facts.notes.extend(end.violation.clone());
                        }
                        rig.close(plan, facts).await;
                        Ok(measured)
                    }
                }
            }
        },
    };
    for p in proxies.into_iter().flatten().flatten() {
        p.stop().await;
    }
    result
}

/// `client` as the plan says it: async-nats in-process, or an adapter not started yet.
fn client_of(plan: &Plan) -> result::ClientReport {
    let version = env!("JSBENCH_ASYNC_NATS_VERSION");
    if plan.client.is_in_process() {
        return result::ClientReport::in_process(version);
    }
    result::ClientReport {
        name: plan.client.adapter.as_str().to_string(),
        adapter: plan.client.adapter.as_str().to_string(),
        command: plan.client.command.clone(),
        ..Default::default()
    }
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
        let (stamp, started_iso) = ids::utc_stamp(started);
        let run_id = ids::new_run_id(started);
        let dir_name = match plan.repetition {
            Some(k) => format!("{}-r{k}", plan.name),
            None => plan.name.clone(),
        };
        let dir = ids::result_dir(&opts.out_root, &stamp, &dir_name);
        std::fs::create_dir_all(&dir).map_err(|source| RunError::Write {
            path: dir.clone(),
            source,
        })?;
        let mut facts = Facts {
            environment: Environment {
                backend: plan.server.backend.as_str().to_string(),
                // The version this build links (build.rs reads it from Cargo.lock).
                client: format!("async-nats {}", env!("JSBENCH_ASYNC_NATS_VERSION")),
                jsbench_version: env!("CARGO_PKG_VERSION").to_string(),
                connections: plan.connections.count,
                runtime: runtime::runtime_name(),
                host: Host::current(),
                ..Default::default()
            },
            stream_name: ids::stream_name(&plan.name, &run_id),
            client: client_of(plan),
            ..Default::default()
        };
        // Written first, so even a run that never ends can be replayed.
        if let Some(n) = &plan.nemesis {
            if let Err(e) = result::write_atomic(&dir.join(SCHEDULE), n.schedule.as_bytes()) {
                facts.notes.push(format!("could not write {SCHEDULE}: {e}"));
            }
        }
        let start = RunStart {
            started,
            started_iso,
            run_id,
            dir,
        };
        Ok((start, facts))
    }

    fn finished_iso(&self) -> String {
        ids::utc_stamp(SystemTime::now()).1
    }

    /// Builds the report from what happened and writes it.
    fn finish(
        self,
        plan: &Plan,
        facts: Facts,
        outcome: Result<Measured, String>,
        server_pid: Option<u32>,
    ) -> Result<RunOutput, RunError> {
        let mut report = report::assemble(&self, plan, facts, outcome);
        if plan.nemesis.is_some() && self.dir.join(SCHEDULE).is_file() {
            report.files.insert("schedule".into(), SCHEDULE.into());
        }
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
