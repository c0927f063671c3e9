//! A run whose measured phase is published by other processes (`jsbench run --workers N`,
//! driven by `crate::coord`): the runner starts the server and opens the rig (the stream) as
//! for any run, hands the coordinator a [`Target`], and takes back the merged phase
//! ([`Distributed`]); then the read-back, every checker and result.json as for any run.
//!
//! Faults (issue 25, item 2): the server, cluster and disk faults are the coordinator's, since
//! the runner here owns the servers; network faults are refused before (`split::not_yet`). The
//! nemesis runs beside the coordination, borrowing the server as in one process, cued by the
//! coordinator ([`FaultCues`]): its origin is the barrier (`start_ns`, on the coordinator's
//! clock, where the merge puts every worker's times), and publishing has stopped once every
//! worker is done or lost. So the windows in result.json are on the merged history's clock and
//! the checkers split it by them as they split one process's. On a cluster the leader watch and
//! the replica survey run as in one process too (the read-back waits for the replicas to agree).

use std::future::Future;

use tokio::sync::watch;

use super::merge::{IndexMap, Merged};
use super::observers::{self, Observers};
use super::phases::Phases;
use super::{rig, Facts, Measured, RunError, RunOptions, RunOutput, RunStart};
use crate::cancel::Cancel;
use crate::nemesis::{Nemesis, NemesisLog, StreamRef};
use crate::record::cluster::ClusterRecord;
use crate::record::observe::Clock;
use crate::record::usage::NodesSpan;
use crate::result::WorkerReport;
use crate::scenario::Plan;
use crate::server::Server;

/// What the coordinator publishes to: the system under test and the run.
#[derive(Debug)]
pub struct Target {
    /// The server's client URLs (every connection gets all of them).
    pub seeds: Vec<String>,
    /// The per-run credential of a server jsbench started (never logged).
    pub token: Option<String>,
    pub run_id: String,
    /// The run's stream, created already.
    pub stream: String,
    /// The coordinator's clock: workers measure their offsets to it, the merge uses it.
    pub clock: Clock,
    pub cancel: Cancel,
    /// Tells the runner's nemesis and observers when the run starts and stops.
    pub cues: FaultCues,
}

impl Target {
    /// The target of `server` and its `rig`.
    fn of(
        server: &Server,
        rig: &rig::Rig,
        run_id: &str,
        (clock, cancel): (Clock, Cancel),
        cues: FaultCues,
    ) -> Target {
        Target {
            seeds: server.seeds().to_vec(),
            token: server.credential().map(|c| c.token().to_string()),
            run_id: run_id.to_string(),
            stream: rig.stream.clone(),
            clock,
            cancel,
            cues,
        }
    }
}

/// The coordinator's cues to the runner's nemesis: the barrier (its origin) and the end of
/// publishing (it heals what is active and starts nothing new). Dropped unsaid (a coordination
/// that failed): no barrier means nothing starts; no end means the end is now.
#[derive(Debug)]
pub struct FaultCues {
    barrier: watch::Sender<Option<u64>>,
    stopped: watch::Sender<bool>,
}

impl FaultCues {
    /// The workers start publishing at `start_ns` (the coordinator's clock).
    pub fn barrier(&self, start_ns: u64) {
        let _ = self.barrier.send(Some(start_ns));
    }

    /// Every worker is done or lost: publishing has stopped.
    pub fn stopped(&self) {
        let _ = self.stopped.send(true);
    }
}

/// The runner's ends of the [`FaultCues`].
struct Cued {
    barrier: watch::Receiver<Option<u64>>,
    stopped: watch::Receiver<bool>,
}

fn cues() -> (FaultCues, Cued) {
    let (barrier, barrier_rx) = watch::channel(None);
    let (stopped, stopped_rx) = watch::channel(false);
    (
        FaultCues { barrier, stopped },
        Cued {
            barrier: barrier_rx,
            stopped: stopped_rx,
        },
    )
}

/// What ran beside the workers: the nemesis's windows from `origin_ns` (the barrier), and on a
/// cluster what the observers saw.
#[derive(Default)]
struct Beside {
    nemesis: NemesisLog,
    origin_ns: u64,
    cluster: Option<ClusterRecord>,
}

/// What the coordinator hands back: the merged phase, the workers, and how to map a stored
/// message to the plan's index.
pub struct Distributed {
    pub merged: Merged,
    pub workers: Vec<WorkerReport>,
    pub index: IndexMap,
}

/// Runs `plan` with its measured phase driven by `drive` (see the module docs).
pub async fn run_coordinated<F, Fut>(
    plan: &Plan,
    opts: &RunOptions,
    drive: F,
) -> Result<RunOutput, RunError>
where
    F: FnOnce(Target) -> Fut,
    Fut: Future<Output = Result<Distributed, String>>,
{
    let (start, mut facts) = RunStart::new(plan, opts)?;
    let mut server_pid = None;
    let outcome = match Server::start(&plan.server_spec()).await {
        Err(e) => Err(format!("server did not start: {e}")),
        Ok(server) => {
            server_pid = server.pid();
            let outcome = measure(plan, opts, &server, &start.run_id, &mut facts, drive).await;
            if let Err(e) = server.stop().await {
                facts.notes.push(format!("server removal reported: {e}"));
            }
            outcome
        }
    };
    start.finish(plan, facts, outcome, server_pid)
}

async fn measure<F, Fut>(
    plan: &Plan,
    opts: &RunOptions,
    server: &Server,
    run_id: &str,
    facts: &mut Facts,
    drive: F,
) -> Result<Measured, String>
where
    F: FnOnce(Target) -> Fut,
    Fut: Future<Output = Result<Distributed, String>>,
{
    facts.environment.backend = server.backend().as_str().to_string();
    facts.environment.server_source = server.source().to_string();
    let rig = rig::Rig::open(plan, server, &[], run_id, facts).await?;
    let clock = Clock::start();
    let (cues, cued) = cues();
    let target = Target::of(server, &rig, run_id, (clock, opts.cancel.clone()), cues);
    let pids = node_pids(server).await;
    // The nodes' CPU over the workers' whole stretch: which side was busy (`resources.bound`).
    let nodes_span = NodesSpan::start(&pids);
    let nemesis = nemesis(plan, server, &rig, clock);
    let (d, beside) = tokio::join!(drive(target), beside(plan, &rig, &nemesis, cued));
    let server_cores = nodes_span.end(&node_pids(server).await);
    let d = match d {
        Ok(d) => d,
        Err(e) => {
            rig.close(plan, facts).await;
            return Err(e);
        }
    };
    let global = |hash: u64, local: u32| d.index.global(hash, local);
    let phases = Phases {
        plan,
        opts,
        server,
        proxies: &[],
        rig: &rig,
        run_id,
        remap: Some(&global),
    };
    let mut cluster = beside.cluster;
    // As in one process: the read-back reads one node's replica, so the replicas agree first.
    if let (Some(c), true) = (cluster.as_mut(), plan.observe.read_back) {
        observers::survey(server, &rig, c).await;
    }
    let disk_survey = phases
        .disk_survey(cluster.as_ref(), plan.server_spec().faultfs)
        .await;
    let rb = phases.read_back(&d.merged.history, None).await;
    let m = Measured {
        history: d.merged.history,
        rec: d.merged.rec,
        stop: d.merged.stop,
        read_back: rb.read_back,
        read_back_check: rb.check,
        read_back_note: rb.note,
        streaming: None,
        nemesis: beside.nemesis,
        nemesis_origin_ns: beside.origin_ns,
        consume: None,
        cluster,
        disk_survey,
        client: d.merged.client,
        // No `/varz` sampling while workers publish: the nodes' names, for their CPU figures.
        server_samples: (
            server.nodes().iter().map(|n| n.name.clone()).collect(),
            vec![Vec::new(); server.nodes().len()],
        ),
        server_cores,
        adapter_cores: None,
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        workers: d.workers,
        unsent: d.merged.unsent,
    };
    rig.close(plan, facts).await;
    Ok(m)
}

/// The nemesis of a distributed run: the plan's faults on the server the runner started (no
/// client proxies: network faults are refused before), as one process builds it.
fn nemesis<'a>(plan: &'a Plan, server: &'a Server, rig: &'a rig::Rig, clock: Clock) -> Nemesis<'a> {
    Nemesis {
        faults: &plan.faults,
        server,
        proxies: &[],
        clock,
        stream: (server.nodes().len() > 1).then_some(StreamRef {
            js: &rig.admin,
            name: &rig.stream,
        }),
        seed: plan.seed,
        progress: None,
    }
}

/// Beside the coordination, from the barrier until publishing stopped: the nemesis and, on a
/// cluster, the observers. Nothing when the coordination failed before its barrier.
async fn beside(plan: &Plan, rig: &rig::Rig, nemesis: &Nemesis<'_>, mut cued: Cued) -> Beside {
    let Ok(start_ns) = cued
        .barrier
        .wait_for(Option::is_some)
        .await
        .map(|b| b.unwrap_or(0))
    else {
        return Beside::default();
    };
    let server = nemesis.server;
    if plan.server_spec().faultfs {
        // The durability rule of disk-fault runs (`checker/durability.rs`), as in one process.
        if let Err(e) = server.checkpoint_disks() {
            tracing::warn!("cannot checkpoint the fault filesystems: {e}");
        }
    }
    // The cue comes ahead of the barrier (the workers' lead): the leader watch starts with the
    // phase, as in one process (the nemesis waits for each fault's own time anyway).
    tokio::time::sleep_until(nemesis.clock.instant_at(start_ns).into()).await;
    let observers = Observers::start(server, rig, nemesis.clock, start_ns).await;
    let log = if plan.faults.is_empty() {
        let _ = cued.stopped.wait_for(|s| *s).await;
        NemesisLog::default()
    } else {
        nemesis.run(start_ns, cued.stopped).await
    };
    let cluster = match observers {
        Some(o) => Some(o.stop().await),
        None => None,
    };
    Beside {
        nemesis: log,
        origin_ns: start_ns,
        cluster,
    }
}

/// Each node's host pid (for its CPU time), when it has one.
async fn node_pids(server: &Server) -> Vec<Option<u32>> {
    let mut pids = Vec::new();
    for i in 0..server.nodes().len() {
        pids.push(server.node_host_pid(i).await);
    }
    pids
}
