//! The kinds of fault a scenario can schedule ([`FaultKind`]: the name written in scenarios and
//! recorded in result.json, what it acts on, what a backend can do), apart from the faults
//! themselves (`fault.rs`) and their parameters (`params.rs`), which both name kinds.

use serde::{Deserialize, Serialize};

use crate::server::ServerFault;

/// The kinds of fault a scenario can schedule (Toxiproxy's names for the network ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Delay every chunk by `latency` ± `jitter`.
    Latency,
    /// Limit throughput to `bytes_per_sec`.
    Bandwidth,
    /// Split writes into small slices, `delay` apart.
    Slicer,
    /// Blackhole: stop forwarding (the connection stays open).
    Timeout,
    /// Close the connection with a TCP RST (one shot).
    ResetPeer,
    /// Refuse new connections and drop existing ones.
    Down,
    /// Freeze the server (SIGSTOP / docker pause).
    Pause,
    /// kill -9 the server, then start it again on the same store after `duration`.
    Kill,
    /// Graceful restart (SIGTERM, wait, start again on the same store).
    Restart,
    /// Cut the selected nodes off from the others (cluster).
    Partition,
    /// Latency on the routes between nodes (cluster, process backend).
    RouteLatency,
    /// Ask the stream's leader to step down (cluster; one shot).
    LeaderStepdown,
    /// kill -9 the nodes and drop what their disks had not synced; start again after
    /// `duration` (process backend, on the fault filesystem).
    PowerLoss,
    /// Flip `bits` random bits (seeded) in the store files of one kind (`files`).
    DiskCorrupt,
    /// Cut `bytes` or a `fraction` of the newest store file of one kind (`files`).
    DiskTruncate,
    /// A slow disk: `latency` before every write and sync, for `duration`.
    DiskLatency,
}

/// What a fault kind acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The client connections' fault proxies.
    Connections,
    /// The server's nodes themselves (processes or containers).
    Server,
    /// The links between a cluster's nodes, or its Raft groups.
    Cluster,
    /// The nodes' disks: the fault filesystem under each store (`crate::faultfs`).
    Disk,
}

impl FaultKind {
    pub const ALL: [FaultKind; 16] = [
        FaultKind::Latency,
        FaultKind::Bandwidth,
        FaultKind::Slicer,
        FaultKind::Timeout,
        FaultKind::ResetPeer,
        FaultKind::Down,
        FaultKind::Pause,
        FaultKind::Kill,
        FaultKind::Restart,
        FaultKind::Partition,
        FaultKind::RouteLatency,
        FaultKind::LeaderStepdown,
        FaultKind::PowerLoss,
        FaultKind::DiskCorrupt,
        FaultKind::DiskTruncate,
        FaultKind::DiskLatency,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::Latency => "latency",
            FaultKind::Bandwidth => "bandwidth",
            FaultKind::Slicer => "slicer",
            FaultKind::Timeout => "timeout",
            FaultKind::ResetPeer => "reset_peer",
            FaultKind::Down => "down",
            FaultKind::Pause => "pause",
            FaultKind::Kill => "kill",
            FaultKind::Restart => "restart",
            FaultKind::Partition => "partition",
            FaultKind::RouteLatency => "route_latency",
            FaultKind::LeaderStepdown => "leader_stepdown",
            FaultKind::PowerLoss => "power_loss",
            FaultKind::DiskCorrupt => "disk_corrupt",
            FaultKind::DiskTruncate => "disk_truncate",
            FaultKind::DiskLatency => "disk_latency",
        }
    }

    /// What the kind acts on.
    pub fn scope(self) -> Scope {
        match self {
            FaultKind::Latency
            | FaultKind::Bandwidth
            | FaultKind::Slicer
            | FaultKind::Timeout
            | FaultKind::ResetPeer
            | FaultKind::Down => Scope::Connections,
            FaultKind::Pause | FaultKind::Kill | FaultKind::Restart => Scope::Server,
            FaultKind::Partition | FaultKind::RouteLatency | FaultKind::LeaderStepdown => {
                Scope::Cluster
            }
            FaultKind::PowerLoss
            | FaultKind::DiskCorrupt
            | FaultKind::DiskTruncate
            | FaultKind::DiskLatency => Scope::Disk,
        }
    }

    /// Kinds that act on some of a server's nodes, chosen by the fault's `node`.
    pub fn targets_nodes(self) -> bool {
        matches!(
            self,
            FaultKind::Pause
                | FaultKind::Kill
                | FaultKind::Restart
                | FaultKind::Partition
                | FaultKind::RouteLatency
        ) || self.scope() == Scope::Disk
    }

    /// The server fault behind this kind, if it is one.
    pub fn server_fault(self) -> Option<ServerFault> {
        match self {
            FaultKind::Pause => Some(ServerFault::Pause),
            FaultKind::Kill => Some(ServerFault::Kill),
            FaultKind::Restart => Some(ServerFault::Restart),
            FaultKind::Latency
            | FaultKind::Bandwidth
            | FaultKind::Slicer
            | FaultKind::Timeout
            | FaultKind::ResetPeer
            | FaultKind::Down
            | FaultKind::Partition
            | FaultKind::RouteLatency
            | FaultKind::LeaderStepdown
            | FaultKind::PowerLoss
            | FaultKind::DiskCorrupt
            | FaultKind::DiskTruncate
            | FaultKind::DiskLatency => None,
        }
    }

    /// A fault on the client connections (through their proxies).
    pub fn is_network(self) -> bool {
        self.scope() == Scope::Connections
    }

    /// Faults that act in one direction of a link (the others act on whole connections).
    pub fn is_directional(self) -> bool {
        match self {
            FaultKind::Latency | FaultKind::Bandwidth | FaultKind::Slicer | FaultKind::Timeout => {
                true
            }
            FaultKind::ResetPeer
            | FaultKind::Down
            | FaultKind::Pause
            | FaultKind::Kill
            | FaultKind::Restart
            | FaultKind::Partition
            | FaultKind::RouteLatency
            | FaultKind::LeaderStepdown
            | FaultKind::PowerLoss
            | FaultKind::DiskCorrupt
            | FaultKind::DiskTruncate
            | FaultKind::DiskLatency => false,
        }
    }

    /// One-shot faults: an action, not a state that lasts (no `duration`).
    pub fn is_instant(self) -> bool {
        match self {
            FaultKind::ResetPeer | FaultKind::Restart | FaultKind::LeaderStepdown => true,
            FaultKind::Latency
            | FaultKind::Bandwidth
            | FaultKind::Slicer
            | FaultKind::Timeout
            | FaultKind::Down
            | FaultKind::Pause
            | FaultKind::Kill
            | FaultKind::Partition
            | FaultKind::RouteLatency
            | FaultKind::PowerLoss
            | FaultKind::DiskCorrupt
            | FaultKind::DiskTruncate
            | FaultKind::DiskLatency => false,
        }
    }

    /// Whether a scenario must say when to inject it. A network state may last the whole run
    /// (no `start`); an action, a server fault or a partition at the start of the run makes no
    /// sense.
    pub fn needs_start(self) -> bool {
        self.is_instant()
            || self.server_fault().is_some()
            || self == FaultKind::Partition
            || self.scope() == Scope::Disk
    }
}
