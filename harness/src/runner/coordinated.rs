//! A run whose measured phase is published by other processes (`jsbench run --workers N`,
//! driven by `crate::coord`): the runner starts the server and opens the rig (the stream) as
//! for any run, hands the coordinator a [`Target`], and takes back the merged phase
//! ([`Distributed`]); then the read-back, every checker and result.json as for any run.

use std::future::Future;

use super::merge::{IndexMap, Merged};
use super::phases::Phases;
use super::{rig, Facts, Measured, RunError, RunOptions, RunOutput, RunStart};
use crate::cancel::Cancel;
use crate::record::observe::Clock;
use crate::record::usage::NodesSpan;
use crate::result::WorkerReport;
use crate::scenario::Plan;
use crate::server::Server;

/// What the coordinator publishes to: the system under test and the run.
#[derive(Debug, Clone)]
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
    let target = Target {
        seeds: server.seeds().to_vec(),
        token: server.credential().map(|c| c.token().to_string()),
        run_id: run_id.to_string(),
        stream: rig.stream.clone(),
        clock: Clock::start(),
        cancel: opts.cancel.clone(),
    };
    let pids = node_pids(server).await;
    // The nodes' CPU over the workers' whole stretch: which side was busy (`resources.bound`).
    let nodes_span = NodesSpan::start(&pids);
    let d = drive(target).await;
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
    let rb = phases.read_back(&d.merged.history).await;
    let m = Measured {
        history: d.merged.history,
        rec: d.merged.rec,
        stop: d.merged.stop,
        read_back: rb.read_back,
        read_back_check: rb.check,
        read_back_note: rb.note,
        nemesis: Default::default(),
        nemesis_origin_ns: 0,
        consume: None,
        cluster: None,
        disk_survey: None,
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

/// Each node's host pid (for its CPU time), when it has one.
async fn node_pids(server: &Server) -> Vec<Option<u32>> {
    let mut pids = Vec::new();
    for i in 0..server.nodes().len() {
        pids.push(server.node_host_pid(i).await);
    }
    pids
}
