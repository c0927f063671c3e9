//! The nemesis (Jepsen's word for the fault injector): injects the faults of a scenario on
//! schedule while the client publishes, heals them, and records each fault window as it really
//! happened.
//!
//! Two families of faults:
//! - network faults act on the harness's fault proxies ([`crate::proxy`]), one per client
//!   connection, so a fault can target some connections and not others (`network.rs`);
//! - server faults act on the server itself (pause, kill -9 + restart, graceful restart) through
//!   the [`Server`] handle, so only backends jsbench controls can suffer them (`server.rs`);
//! - disk faults (power loss, bit flips, truncation, a slow disk) act on the fault filesystem
//!   the process backend mounts under each node's store (`disk.rs`, [`crate::faultfs`]).
//!
//! Times are offsets from the start of the measured phase. A window records the time the fault
//! was actually injected and healed (not the scheduled time): the checkers split the history by
//! these windows, so they must be what the system saw. When publishing stops, every active fault
//! is healed at once (the window is then marked `truncated`), so the drain and the read-back run
//! against a healthy system and the run ends by its own bound.
//!
//! What a fault is lives in `fault.rs`, how it is scheduled in `plan.rs`, the random nemesis
//! (a schedule drawn from a seed, `[nemesis]`) in `random.rs`; this file only runs the schedule.
//!
//! Adding a network fault kind touches two files:
//! - `proxy/toxic.rs`: the toxic itself (a `Toxic` variant and how it delays, slices or holds
//!   bytes), when no existing toxic does what the fault needs;
//! - `nemesis/fault.rs`: the kind's name, its `Fault` variant with its parameters, their rows
//!   in `PARAMS` (which the scenario parser and validator read, so `scenario/` needs no edit),
//!   the toxic it sets and how it reads in reports.

use std::sync::atomic::Ordering;
use std::time::Duration;

use futures::stream::FuturesUnordered;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use rand::{Rng, SeedableRng};

use crate::proxy::Proxy;
use crate::record::observe::Clock;
use crate::server::Server;

mod cluster;
mod disk;
mod fault;
mod kind;
mod network;
mod params;
mod plan;
mod random;
mod server;

pub use disk::{DiskEffect, FlippedBit, PowerLossCounts, Truncation};
pub use fault::{Clients, Fault, FaultDirection};
pub use kind::{FaultKind, Scope};
pub use params::{Param, ParamValue, Params, Unit, PARAMS};
pub use plan::{FaultPlan, NodeTarget, Schedule};
pub use random::{drawn_range, generate, Drawable, Drawn, NemesisSpec};

/// One occurrence of a fault, as it happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultWindow {
    pub name: String,
    pub kind: FaultKind,
    /// 1 for the first occurrence of a repeated fault.
    pub occurrence: u32,
    /// What it acted on: "server", "connection 2", "connections [0, 1]".
    pub target: String,
    /// Parameters in words, e.g. "latency 5ms upstream".
    pub detail: String,
    /// When it was injected, ms since the measured phase started.
    pub start_ms: f64,
    /// When it was healed (server faults: when the server answered again). Equal to
    /// `start_ms` for one-shot network faults.
    pub end_ms: f64,
    /// Healed early because publishing stopped before its scheduled end.
    #[serde(default)]
    pub truncated: bool,
    /// Injecting or healing failed; the window may not reflect a real fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Faults on a cluster's nodes: the nodes it acted on, by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nodes: Vec<String>,
    /// Cluster: the stream's leader when the fault was injected…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader_before: Option<String>,
    /// …and once it had healed (the first leader seen within a few seconds after).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader_after: Option<String>,
    /// Disk faults: what each node's disk suffered (bytes dropped, bits flipped, cuts).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disk: Vec<DiskEffect>,
}

/// What the nemesis did in one run.
#[derive(Debug, Default)]
pub struct NemesisLog {
    /// Windows in order of injection.
    pub windows: Vec<FaultWindow>,
    /// Occurrences that never started (publishing ended first), and similar remarks.
    pub notes: Vec<String>,
}

/// Injects the faults of a plan; see the module comment.
pub struct Nemesis<'a> {
    pub faults: &'a [FaultPlan],
    pub server: &'a Server,
    /// Per client connection, one proxy per node (empty when no connection is proxied).
    pub proxies: &'a [Vec<Proxy>],
    pub clock: Clock,
    /// The run's stream on a cluster: faults find its leader when they fire.
    pub stream: Option<StreamRef<'a>>,
    /// Picks followers for "follower", "minority" and "majority".
    pub seed: u64,
    /// Counts windows opened and closed for the live line, when it is on.
    pub progress: Option<&'a crate::record::observe::Progress>,
}

/// The run's stream, as the nemesis asks about it.
#[derive(Clone, Copy)]
pub struct StreamRef<'a> {
    pub js: &'a async_nats::jetstream::Context,
    pub name: &'a str,
}

impl Nemesis<'_> {
    /// Runs the schedule from `phase_start_ns` (clock time) until every occurrence has ended;
    /// when `stopped` turns true (publishing ended), heals what is active and starts nothing new.
    pub async fn run(&self, phase_start_ns: u64, stopped: watch::Receiver<bool>) -> NemesisLog {
        let mut jobs = FuturesUnordered::new();
        for f in self.faults {
            for (k, offset) in f.schedule.occurrences().into_iter().enumerate() {
                jobs.push(self.occurrence(
                    f,
                    k as u32 + 1,
                    phase_start_ns,
                    offset,
                    stopped.clone(),
                ));
            }
        }
        let mut log = NemesisLog::default();
        while let Some(r) = jobs.next().await {
            match r {
                Ok(w) => log.windows.push(w),
                Err(note) => log.notes.push(note),
            }
        }
        log.windows
            .sort_by(|a, b| a.start_ms.total_cmp(&b.start_ms));
        log
    }

    fn ms(&self, phase_start_ns: u64) -> f64 {
        self.clock.now_ns().saturating_sub(phase_start_ns) as f64 / 1e6
    }

    /// Waits for an occurrence's start; `Err` when publishing ended first.
    async fn start_of(
        &self,
        f: &FaultPlan,
        occurrence: u32,
        phase_start_ns: u64,
        offset: Duration,
        stopped: &mut watch::Receiver<bool>,
    ) -> Result<(), String> {
        let at = self
            .clock
            .instant_at(phase_start_ns + offset.as_nanos() as u64);
        // A fault due now (whole-run faults) is set on the first poll, before the publisher's
        // first message: the runner polls the nemesis first.
        let due_now = self.clock.now_ns() >= phase_start_ns + offset.as_nanos() as u64;
        tokio::select! {
            biased;
            _ = std::future::ready(()), if due_now => Ok(()),
            _ = stopped.wait_for(|s| *s) => {
                Err(format!(
                    "fault {} (occurrence {occurrence}) scheduled at {} never started: publishing ended first",
                    f.name,
                    humantime::format_duration(offset)
                ))
            }
            _ = tokio::time::sleep_until(at.into()) => Ok(()),
        }
    }

    /// One occurrence: wait for its start, inject, hold, heal. `Err` when it never started.
    async fn occurrence(
        &self,
        f: &FaultPlan,
        occurrence: u32,
        phase_start_ns: u64,
        offset: Duration,
        mut stopped: watch::Receiver<bool>,
    ) -> Result<FaultWindow, String> {
        self.start_of(f, occurrence, phase_start_ns, offset, &mut stopped)
            .await?;
        let kind = f.fault.kind();
        let leader_before = self.leader().await;
        let nodes = self.nodes_of(f, leader_before.as_deref(), occurrence);
        let target = match kind.scope() {
            Scope::Connections => network::describe_connections(&f.connections),
            _ if self.server.nodes().len() > 1 => {
                cluster::describe_nodes(self.server, &nodes, kind)
            }
            _ => "server".to_string(),
        };
        let mut w = FaultWindow {
            name: f.name.clone(),
            kind,
            occurrence,
            target,
            detail: f.fault.describe(),
            start_ms: self.ms(phase_start_ns),
            end_ms: 0.0,
            truncated: false,
            error: None,
            nodes: nodes
                .iter()
                .map(|&i| self.server.nodes()[i].name.clone())
                .collect(),
            leader_before,
            leader_after: None,
            disk: Vec::new(),
        };
        let hold_until = f.schedule.duration.map(|d| {
            tokio::time::Instant::from_std(
                self.clock
                    .instant_at(phase_start_ns + (offset + d).as_nanos() as u64),
            )
        });
        let held = hold(hold_until, &mut stopped);
        let now_ms = || self.ms(phase_start_ns);
        if let Some(p) = self.progress {
            p.live.faults_started.fetch_add(1, Ordering::Relaxed);
        }
        match kind.scope() {
            Scope::Server => {
                let fault = kind.server_fault().expect("a server fault");
                server::inject(self.server, &nodes, fault, held, &mut w, now_ms).await
            }
            Scope::Connections => network::inject(self.proxies, f, held, &mut w, now_ms).await,
            Scope::Disk => {
                let seed = self.seed ^ crate::hash::fnv1a(f.name.as_bytes()) ^ occurrence as u64;
                disk::inject(self.server, f, &nodes, seed, held, &mut w, now_ms).await
            }
            Scope::Cluster => {
                let c = cluster::Cluster {
                    server: self.server,
                    proxies: self.proxies,
                    stream: self.stream,
                };
                c.inject(f, &nodes, held, &mut w, now_ms).await
            }
        }
        if let Some(p) = self.progress {
            p.live.faults_ended.fetch_add(1, Ordering::Relaxed);
        }
        if self.stream.is_some() {
            w.leader_after = self.leader_after(w.leader_before.as_deref()).await;
        }
        Ok(w)
    }

    /// The stream's current leader, when the run has a cluster: the one a majority of the
    /// nodes follows (an earlier partition may have left a cut-off node naming itself).
    async fn leader(&self) -> Option<String> {
        let s = self.stream?;
        crate::record::cluster::majority_leader(self.server.nodes(), s.name).await
    }

    /// The leader once the fault has healed: a few seconds for an election to end (the first
    /// leader seen; the old one if it stayed or came back).
    async fn leader_after(&self, before: Option<&str>) -> Option<String> {
        let deadline = tokio::time::Instant::now() + LEADER_AFTER_WAIT;
        loop {
            let now = self.leader().await;
            if now.is_some()
                && (now.as_deref() != before || tokio::time::Instant::now() >= deadline)
            {
                return now;
            }
            if tokio::time::Instant::now() >= deadline {
                return now;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The node indexes a fault acts on, resolved against `leader` (names → indexes).
    fn nodes_of(&self, f: &FaultPlan, leader: Option<&str>, occurrence: u32) -> Vec<usize> {
        let Some(target) = &f.node else {
            return Vec::new();
        };
        let nodes = self.server.nodes();
        let leader = leader.and_then(|l| nodes.iter().position(|n| n.name == l));
        // Seeded per fault and occurrence, so a rerun picks the same followers.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(
            self.seed ^ crate::hash::fnv1a(f.name.as_bytes()) ^ occurrence as u64,
        );
        let mut pick = |c: &[usize]| rng.random_range(0..c.len());
        target.resolve(nodes.len(), leader, &mut pick)
    }
}

/// How long a fault's window waits, after it healed, to see who leads the stream.
pub const LEADER_AFTER_WAIT: Duration = Duration::from_secs(3);

/// Waits until `until` (or forever when `None`) unless publishing stops first. True when the
/// full time was held. Lazy, like every future: nothing waits until the fault awaits it.
async fn hold(until: Option<tokio::time::Instant>, stopped: &mut watch::Receiver<bool>) -> bool {
    let stop = stopped.wait_for(|s| *s);
    match until {
        Some(t) => tokio::select! {
            biased;
            _ = tokio::time::sleep_until(t) => true,
            _ = stop => false,
        },
        None => {
            let _ = stop.await;
            false
        }
    }
}
