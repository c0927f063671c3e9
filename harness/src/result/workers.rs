//! result.json `workers`: each worker of a distributed run (`jsbench run --workers N`,
//! `jsbench coordinate`), its segment of the plan, its clock offset to the coordinator, its own
//! figures, and why it was lost when it was ([`Lost`], the typed reason a run with a lost
//! worker is incomplete).

use std::fmt;

use serde::{Deserialize, Serialize};

/// One worker of a distributed run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerReport {
    /// Its number, from 0 (`jsbench worker --index`).
    pub index: usize,
    /// The host it ran on (its hostname).
    pub host: String,
    /// Its process id on that host, when it registered.
    pub pid: Option<u32>,
    pub segment: WorkerSegment,
    /// Its clock minus the coordinator's, ns (a worker time `t` is `t + clock_offset_ns` on
    /// the coordinator's clock), from the probe with the least round trip; null when lost
    /// before measuring it.
    pub clock_offset_ns: Option<i64>,
    /// Half that probe's round trip, ns: the offset is right to within ± this.
    pub clock_uncertainty_ns: Option<u64>,
    /// Its own figures; null when nothing of it arrived.
    pub published: Option<u64>,
    pub acked: Option<u64>,
    /// Acked per second of its own publishing wall time.
    pub msgs_per_sec: Option<f64>,
    /// Its process's CPU time (user + system) per published message, ns.
    pub client_cpu_ns_per_msg: Option<f64>,
    /// Why it was lost (the run is then incomplete); null when its result arrived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost: Option<Lost>,
}

/// A worker's part of the plan (`split::Segment`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkerSegment {
    /// How many keys it owns, and which (numbers: `k<n>` on the wire).
    pub keys: usize,
    pub key_list: Vec<u32>,
    /// The plan's connection indexes it opened: `[start, end)`.
    pub connections: [usize; 2],
    /// Its measured messages.
    pub messages: u64,
}

/// Why a worker's result never arrived.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Lost {
    /// It did not register within the registration timeout.
    NotRegistered { timeout_s: u64 },
    /// Its process ended before it uploaded a result (`status`: how it ended).
    Exited { status: String },
    /// It reported an error instead of a result.
    Failed { error: String },
    /// The run was interrupted (Ctrl-C) before its result arrived.
    Interrupted,
    /// A worker the coordinator did not start (`jsbench coordinate`) said neither done nor
    /// failed within `after_s` seconds after the start barrier.
    TimedOut { after_s: u64 },
}

impl fmt::Display for Lost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Lost::NotRegistered { timeout_s } => {
                write!(f, "did not register within {timeout_s} s")
            }
            Lost::Exited { status } => write!(f, "exited ({status}) before uploading its result"),
            Lost::Failed { error } => write!(f, "failed: {error}"),
            Lost::Interrupted => f.write_str("interrupted before its result arrived"),
            Lost::TimedOut { after_s } => {
                write!(
                    f,
                    "said neither done nor failed within {after_s} s of the start"
                )
            }
        }
    }
}
