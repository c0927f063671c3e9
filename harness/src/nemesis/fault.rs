//! What a fault is. Everything about one fault kind lives in this file:
//!
//! - [`FaultKind`]: its name, as written in scenarios and recorded in result.json;
//! - [`Fault`]: one variant per kind, carrying only the parameters that kind takes (a latency
//!   fault cannot carry a byte rate);
//! - [`PARAMS`]: how each parameter is written in `[[faults]]`: its unit, whether it is
//!   required. The scenario parser and validator are driven by this table, so they need no edit
//!   for a new kind;
//! - [`Fault::toxic`]: what a network fault does to a proxy, and [`Fault::describe`]: how it
//!   reads in reports.
//!
//! Adding a network fault kind: the toxic itself in [`crate::proxy`], then here a `FaultKind`
//! variant (and its entry in `ALL`), a `Fault` variant with its parameters, their rows in
//! `PARAMS`, and the arms the compiler asks for (the matches below have no catch-all arm for
//! that reason).

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::proxy::{Direction, Toxic};
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
}

impl FaultKind {
    pub const ALL: [FaultKind; 12] = [
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
        )
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
            | FaultKind::LeaderStepdown => None,
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
            | FaultKind::LeaderStepdown => false,
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
            | FaultKind::RouteLatency => false,
        }
    }

    /// Whether a scenario must say when to inject it. A network state may last the whole run
    /// (no `start`); an action, a server fault or a partition at the start of the run makes no
    /// sense.
    pub fn needs_start(self) -> bool {
        self.is_instant() || self.server_fault().is_some() || self == FaultKind::Partition
    }
}

/// Direction of a network fault, as written in scenarios.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultDirection {
    /// Client → server.
    Upstream,
    /// Server → client.
    Downstream,
    /// Both ways.
    Both,
}

impl From<FaultDirection> for Direction {
    fn from(d: FaultDirection) -> Direction {
        match d {
            FaultDirection::Upstream => Direction::Upstream,
            FaultDirection::Downstream => Direction::Downstream,
            FaultDirection::Both => Direction::Both,
        }
    }
}

/// One fault with its parameters. Serialized into result.json's plan as `kind` plus the
/// parameters of that kind (durations as humantime strings), flattened into the fault plan.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fault {
    /// Every chunk delayed by `latency` ± a uniform `jitter`.
    Latency {
        #[serde(with = "humantime_str")]
        latency: Duration,
        #[serde(with = "humantime_str")]
        jitter: Duration,
        direction: FaultDirection,
    },
    /// Throughput limited to `bytes_per_sec` (0 holds the bytes).
    Bandwidth {
        bytes_per_sec: u64,
        direction: FaultDirection,
    },
    /// Writes split into slices of `average_size` ± `size_variation` bytes, `delay` apart.
    Slicer {
        average_size: usize,
        size_variation: usize,
        #[serde(with = "humantime_str")]
        delay: Duration,
        direction: FaultDirection,
    },
    /// Blackhole: nothing forwarded, the connection stays open.
    Timeout { direction: FaultDirection },
    /// Every link closed with a TCP RST (one shot).
    ResetPeer,
    /// New connections refused, existing ones dropped.
    Down,
    /// The server frozen.
    Pause,
    /// The server killed (-9), then started again on the same store.
    Kill,
    /// The server stopped gracefully and started again (one shot).
    Restart,
    /// The selected nodes cut off from the others; the client links to them kept or cut.
    Partition { clients: Clients },
    /// Every route between the selected nodes and the others delayed by `latency` ± `jitter`.
    RouteLatency {
        #[serde(with = "humantime_str")]
        latency: Duration,
        #[serde(with = "humantime_str")]
        jitter: Duration,
    },
    /// The stream's leader asked to step down (one shot).
    LeaderStepdown,
}

/// What a partition does to the client connections of the nodes it cuts off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Clients {
    /// Clients keep their links: a client of a cut-off node still talks to it.
    Keep,
    /// The client links to the cut-off nodes are cut too (clients fail over to other nodes).
    Cut,
}

/// How a fault parameter is written, and what it may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// A duration string, zero allowed ("0s", "5ms"). Default: zero.
    Duration,
    /// An integer in `min..=max`. Default: `min`.
    Count { min: i64, max: i64 },
    /// Bytes per second: an integer (0 or more) or a size string ("1MiB"). Default: 0.
    BytesPerSec,
    /// One of these words. Default: the first.
    Choice(&'static [&'static str]),
}

/// One parameter of one fault kind, as written in `[[faults]]`. A name means one thing (one
/// kind, one unit), so the parser can check its TOML type before it knows the kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param {
    /// The kinds that take it (a name means the same thing in each).
    pub kinds: &'static [FaultKind],
    pub name: &'static str,
    pub unit: Unit,
    /// `Some(hint)`: required; the error reads "is required for kind = "…" (hint)".
    pub required: Option<&'static str>,
    /// Must be smaller than this other parameter of the same kind (listed before it).
    pub below: Option<&'static str>,
}

impl Param {
    const fn optional(kinds: &'static [FaultKind], name: &'static str, unit: Unit) -> Param {
        Param {
            kinds,
            name,
            unit,
            required: None,
            below: None,
        }
    }

    const fn required(
        kinds: &'static [FaultKind],
        name: &'static str,
        unit: Unit,
        hint: &'static str,
    ) -> Param {
        Param {
            required: Some(hint),
            ..Param::optional(kinds, name, unit)
        }
    }

    /// Whether kind `k` takes this parameter.
    pub fn of(&self, k: FaultKind) -> bool {
        self.kinds.contains(&k)
    }

    const fn below(self, other: &'static str) -> Param {
        Param {
            below: Some(other),
            ..self
        }
    }
}

/// A slicer's slice size and its variation, in bytes (up to 1 MiB).
const SLICE_SIZE: Unit = Unit::Count {
    min: 1,
    max: 1 << 20,
};
const SLICE_VARIATION: Unit = Unit::Count {
    min: 0,
    max: 1 << 20,
};

/// Kinds that delay: a link between client and server, or the routes between nodes.
const DELAYING: &[FaultKind] = &[FaultKind::Latency, FaultKind::RouteLatency];

/// Every fault parameter, in the order an "unknown field" error lists them.
pub const PARAMS: &[Param] = &[
    Param::required(DELAYING, "latency", Unit::Duration, "e.g. \"5ms\""),
    Param::optional(DELAYING, "jitter", Unit::Duration),
    Param::required(
        &[FaultKind::Bandwidth],
        "bytes_per_sec",
        Unit::BytesPerSec,
        "bytes per second, e.g. 100000 or \"1MiB\"",
    ),
    Param::required(
        &[FaultKind::Slicer],
        "average_size",
        SLICE_SIZE,
        "bytes per slice",
    ),
    Param::optional(&[FaultKind::Slicer], "size_variation", SLICE_VARIATION).below("average_size"),
    Param::optional(&[FaultKind::Slicer], "delay", Unit::Duration),
    Param::optional(
        &[FaultKind::Partition],
        "clients",
        Unit::Choice(&["keep", "cut"]),
    ),
];

/// A validated parameter value: a duration, or a number (count or bytes per second).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ParamValue {
    Duration(Duration),
    Number(u64),
    Word(&'static str),
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Duration(d) => write!(f, "{}", humantime::format_duration(*d)),
            ParamValue::Number(n) => write!(f, "{n}"),
            ParamValue::Word(w) => write!(f, "{w:?}"),
        }
    }
}

/// The validated parameters of one fault, by name. A name that is missing reads as zero:
/// validation fills in every parameter of the kind, defaults included.
#[derive(Debug, Clone, Default)]
pub struct Params(Vec<(&'static str, ParamValue)>);

impl Params {
    pub fn insert(&mut self, name: &'static str, value: ParamValue) {
        self.0.push((name, value));
    }

    pub fn get(&self, name: &str) -> Option<ParamValue> {
        self.0.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
    }

    fn duration(&self, name: &str) -> Duration {
        match self.get(name) {
            Some(ParamValue::Duration(d)) => d,
            _ => Duration::ZERO,
        }
    }

    fn number(&self, name: &str) -> u64 {
        match self.get(name) {
            Some(ParamValue::Number(n)) => n,
            _ => 0,
        }
    }

    fn word(&self, name: &str) -> &'static str {
        match self.get(name) {
            Some(ParamValue::Word(w)) => w,
            _ => "",
        }
    }
}

impl Fault {
    /// Builds a fault of `kind` from its validated parameters ([`PARAMS`]). `direction` is
    /// used by directional kinds only.
    pub fn new(kind: FaultKind, direction: FaultDirection, p: &Params) -> Fault {
        match kind {
            FaultKind::Latency => Fault::Latency {
                latency: p.duration("latency"),
                jitter: p.duration("jitter"),
                direction,
            },
            FaultKind::Bandwidth => Fault::Bandwidth {
                bytes_per_sec: p.number("bytes_per_sec"),
                direction,
            },
            FaultKind::Slicer => Fault::Slicer {
                average_size: p.number("average_size") as usize,
                size_variation: p.number("size_variation") as usize,
                delay: p.duration("delay"),
                direction,
            },
            FaultKind::Timeout => Fault::Timeout { direction },
            FaultKind::ResetPeer => Fault::ResetPeer,
            FaultKind::Down => Fault::Down,
            FaultKind::Pause => Fault::Pause,
            FaultKind::Kill => Fault::Kill,
            FaultKind::Restart => Fault::Restart,
            FaultKind::Partition => Fault::Partition {
                clients: if p.word("clients") == "cut" {
                    Clients::Cut
                } else {
                    Clients::Keep
                },
            },
            FaultKind::RouteLatency => Fault::RouteLatency {
                latency: p.duration("latency"),
                jitter: p.duration("jitter"),
            },
            FaultKind::LeaderStepdown => Fault::LeaderStepdown,
        }
    }

    pub fn kind(&self) -> FaultKind {
        match self {
            Fault::Latency { .. } => FaultKind::Latency,
            Fault::Bandwidth { .. } => FaultKind::Bandwidth,
            Fault::Slicer { .. } => FaultKind::Slicer,
            Fault::Timeout { .. } => FaultKind::Timeout,
            Fault::ResetPeer => FaultKind::ResetPeer,
            Fault::Down => FaultKind::Down,
            Fault::Pause => FaultKind::Pause,
            Fault::Kill => FaultKind::Kill,
            Fault::Restart => FaultKind::Restart,
            Fault::Partition { .. } => FaultKind::Partition,
            Fault::RouteLatency { .. } => FaultKind::RouteLatency,
            Fault::LeaderStepdown => FaultKind::LeaderStepdown,
        }
    }

    /// The direction of a directional network fault.
    pub fn direction(&self) -> Option<FaultDirection> {
        match *self {
            Fault::Latency { direction, .. }
            | Fault::Bandwidth { direction, .. }
            | Fault::Slicer { direction, .. }
            | Fault::Timeout { direction } => Some(direction),
            Fault::ResetPeer
            | Fault::Down
            | Fault::Pause
            | Fault::Kill
            | Fault::Restart
            | Fault::Partition { .. }
            | Fault::RouteLatency { .. }
            | Fault::LeaderStepdown => None,
        }
    }

    /// The proxy toxic of a network fault; `None` for server faults.
    pub fn toxic(&self) -> Option<Toxic> {
        Some(match *self {
            Fault::Latency {
                latency, jitter, ..
            } => Toxic::Latency { latency, jitter },
            Fault::Bandwidth { bytes_per_sec, .. } => Toxic::Bandwidth { bytes_per_sec },
            Fault::Slicer {
                average_size,
                size_variation,
                delay,
                ..
            } => Toxic::Slicer {
                average_size,
                size_variation,
                delay,
            },
            Fault::Timeout { .. } => Toxic::Timeout,
            Fault::ResetPeer => Toxic::ResetPeer,
            Fault::Down => Toxic::Down,
            Fault::Pause
            | Fault::Kill
            | Fault::Restart
            | Fault::Partition { .. }
            | Fault::RouteLatency { .. }
            | Fault::LeaderStepdown => return None,
        })
    }

    /// The route-proxy toxic of a cluster fault: a partition is a blackhole on the routes
    /// (packets dropped; TCP retransmits once it heals), route latency a delay.
    pub fn route_toxic(&self) -> Option<Toxic> {
        match *self {
            Fault::Partition { .. } => Some(Toxic::Timeout),
            Fault::RouteLatency { latency, jitter } => Some(Toxic::Latency { latency, jitter }),
            _ => None,
        }
    }

    /// A short description of the parameters, e.g. "latency 5ms ± 1ms upstream" (recorded as
    /// each fault window's `detail`).
    pub fn describe(&self) -> String {
        let h = |d: Duration| humantime::format_duration(d).to_string();
        let params = match *self {
            Fault::Latency {
                latency, jitter, ..
            } if jitter.is_zero() => format!(" {}", h(latency)),
            Fault::Latency {
                latency, jitter, ..
            } => format!(" {} ± {}", h(latency), h(jitter)),
            Fault::Bandwidth { bytes_per_sec, .. } => format!(" {bytes_per_sec} B/s"),
            Fault::Slicer {
                average_size,
                size_variation,
                delay,
                ..
            } => format!(" {average_size}±{size_variation} B every {}", h(delay)),
            Fault::RouteLatency { latency, jitter } if jitter.is_zero() => {
                format!(" {}", h(latency))
            }
            Fault::RouteLatency { latency, jitter } => {
                format!(" {} ± {}", h(latency), h(jitter))
            }
            Fault::Partition {
                clients: Clients::Cut,
            } => " (client links cut too)".into(),
            Fault::Timeout { .. }
            | Fault::ResetPeer
            | Fault::Down
            | Fault::Pause
            | Fault::Kill
            | Fault::Restart
            | Fault::Partition { .. }
            | Fault::LeaderStepdown => String::new(),
        };
        let direction = match self.direction() {
            None => "",
            Some(FaultDirection::Upstream) => " upstream",
            Some(FaultDirection::Downstream) => " downstream",
            Some(FaultDirection::Both) => " both ways",
        };
        format!("{}{params}{direction}", self.kind().as_str())
    }
}

/// Serializes durations as humantime strings in result.json's plan.
pub(super) mod humantime_str {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    /// The same for an optional duration (`None` as null).
    pub fn option<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => serialize(d, s),
            None => s.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_parameter_name_means_one_thing() {
        for (i, p) in PARAMS.iter().enumerate() {
            assert!(
                PARAMS[..i].iter().all(|q| q.name != p.name),
                "{} is listed twice",
                p.name
            );
            if let Some(other) = p.below {
                assert!(
                    PARAMS[..i]
                        .iter()
                        .any(|q| q.name == other && q.kinds == p.kinds),
                    "{} must be below {other}, which is not an earlier parameter of its kind",
                    p.name
                );
            }
        }
    }

    #[test]
    fn kinds_and_faults_agree() {
        for kind in FaultKind::ALL {
            let f = Fault::new(kind, FaultDirection::Both, &Params::default());
            assert_eq!(f.kind(), kind);
            assert_eq!(f.toxic().is_some(), kind.is_network(), "{kind:?}");
            assert_eq!(
                f.route_toxic().is_some(),
                matches!(kind, FaultKind::Partition | FaultKind::RouteLatency),
                "{kind:?}"
            );
            assert_eq!(f.direction().is_some(), kind.is_directional(), "{kind:?}");
        }
        assert_eq!(FaultKind::Kill.server_fault(), Some(ServerFault::Kill));
        assert!(FaultKind::Latency.is_directional() && !FaultKind::Down.is_directional());
    }

    #[test]
    fn toxics_and_descriptions() {
        let mut p = Params::default();
        p.insert("latency", ParamValue::Duration(Duration::from_millis(5)));
        p.insert("jitter", ParamValue::Duration(Duration::from_millis(1)));
        let f = Fault::new(FaultKind::Latency, FaultDirection::Upstream, &p);
        assert_eq!(
            f.toxic(),
            Some(Toxic::Latency {
                latency: Duration::from_millis(5),
                jitter: Duration::from_millis(1)
            })
        );
        assert_eq!(f.describe(), "latency 5ms ± 1ms upstream");
        assert_eq!(Fault::Pause.toxic(), None);
    }
}
