//! The observers of a run: on a cluster, tasks that watch the stream's leader and sample every
//! node's `/varz` while the measured phase lasts, and the survey of the replicas once it is
//! over; on a single server, the `/varz` sampler alone (its CPU and memory). Nothing here is on
//! the publisher's path (the tasks share the runtime, waking about once a second).

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::rig::Rig;
use crate::record::cluster::{self, ClusterRecord, LeaderChange, NodeSample};
use crate::record::observe::Clock;
use crate::server::Server;

/// How long the replicas get to agree after the run before a disagreement is reported.
const AGREE_WITHIN: std::time::Duration = std::time::Duration::from_secs(30);

/// The running observers.
pub(super) struct Observers {
    stop: watch::Sender<bool>,
    leaders: JoinHandle<Vec<LeaderChange>>,
    nodes: JoinHandle<Vec<Vec<NodeSample>>>,
    record: ClusterRecord,
}

impl Observers {
    /// Starts them on a cluster (`None` on a single server); times are ms since `origin_ns`.
    pub(super) async fn start(
        server: &Server,
        rig: &Rig,
        clock: Clock,
        origin_ns: u64,
    ) -> Option<Observers> {
        if server.nodes().len() < 2 {
            return None;
        }
        let names: Vec<String> = server.nodes().iter().map(|n| n.name.clone()).collect();
        let record = ClusterRecord {
            primaries: rig.primaries.iter().map(|&i| names[i].clone()).collect(),
            leader_at_start: super::rig::current_leader(&rig.admin, &rig.stream).await,
            nodes: names,
            ..Default::default()
        };
        let (stop, rx) = watch::channel(false);
        let leaders = tokio::spawn(cluster::watch_leader(
            server.nodes().to_vec(),
            rig.admin_client.clone(),
            rig.stream.clone(),
            clock,
            origin_ns,
            rx.clone(),
        ));
        let nodes = tokio::spawn(cluster::sample_nodes(
            server.nodes().to_vec(),
            clock,
            origin_ns,
            rx,
        ));
        Some(Observers {
            stop,
            leaders,
            nodes,
            record,
        })
    }

    /// Stops the tasks and hands over what they saw.
    pub(super) async fn stop(self) -> ClusterRecord {
        let _ = self.stop.send(true);
        let mut record = self.record;
        record.leaders = self.leaders.await.unwrap_or_default();
        record.samples = self.nodes.await.unwrap_or_default();
        record
    }
}

/// The `/varz` sampler of a single server (a cluster's is part of [`Observers`]).
pub(super) struct Sampler {
    stop: watch::Sender<bool>,
    task: JoinHandle<Vec<Vec<NodeSample>>>,
    names: Vec<String>,
}

impl Sampler {
    /// Starts on a single server whose monitoring endpoint jsbench knows; `None` otherwise.
    pub(super) fn start(server: &Server, clock: Clock, origin_ns: u64) -> Option<Sampler> {
        let nodes = server.nodes();
        if nodes.len() != 1 || nodes[0].monitor_url.is_none() {
            return None;
        }
        let (stop, rx) = watch::channel(false);
        Some(Sampler {
            stop,
            task: tokio::spawn(cluster::sample_nodes(nodes.to_vec(), clock, origin_ns, rx)),
            names: vec![nodes[0].name.clone()],
        })
    }

    /// Stops it: the node names and their samples.
    pub(super) async fn stop(self) -> (Vec<String>, Vec<Vec<NodeSample>>) {
        let _ = self.stop.send(true);
        (self.names, self.task.await.unwrap_or_default())
    }
}

/// Each node's replica of the stream, once every fault has healed: whether they agree.
pub(super) async fn survey(server: &Server, rig: &Rig, record: &mut ClusterRecord) {
    record.replicas =
        Some(cluster::survey_replicas(server.nodes(), &rig.stream, AGREE_WITHIN).await);
}
