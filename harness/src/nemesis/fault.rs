//! What a fault is. Everything about one fault kind lives in this file:
//!
//! - `kind.rs` ([`FaultKind`](super::FaultKind)): its name, as written in scenarios and recorded
//!   in result.json;
//! - [`Fault`]: one variant per kind, carrying only the parameters that kind takes (a latency
//!   fault cannot carry a byte rate);
//! - `params.rs` ([`PARAMS`](super::PARAMS)): how each parameter is written in `[[faults]]`: its
//!   unit, whether it is required. The scenario parser and validator are driven by that table,
//!   so they need no edit for a new kind;
//! - [`Fault::toxic`]: what a network fault does to a proxy, and [`Fault::describe`]: how it
//!   reads in reports.
//!
//! Adding a network fault kind: the toxic itself in [`crate::proxy`], then here a `FaultKind`
//! variant (and its entry in `ALL`), a `Fault` variant with its parameters, their rows in
//! `PARAMS` (`params.rs`), and the arms the compiler asks for (the matches below have no catch-all arm for
//! that reason).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::faultfs::{FileKind, TruncateAmount};
use crate::proxy::{Direction, Toxic};

use super::kind::FaultKind;
use super::params::Params;

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
    /// The nodes killed (-9) and their unsynced writes dropped; started again after `duration`.
    PowerLoss,
    /// `bits` random bits flipped in the store files of kind `files`.
    DiskCorrupt { bits: u64, files: FileKind },
    /// The newest store file of kind `files` cut by `amount`.
    DiskTruncate {
        files: FileKind,
        amount: TruncateAmount,
    },
    /// Every write and sync of the nodes' stores delayed by `latency`.
    DiskLatency {
        #[serde(with = "humantime_str")]
        latency: Duration,
    },
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
            FaultKind::PowerLoss => Fault::PowerLoss,
            FaultKind::DiskCorrupt => Fault::DiskCorrupt {
                bits: p.number("bits"),
                files: file_kind(p.word("files")),
            },
            FaultKind::DiskTruncate => Fault::DiskTruncate {
                files: file_kind(p.word("files")),
                amount: match p.fraction("fraction") {
                    Some(f) => TruncateAmount::Fraction(f),
                    None => TruncateAmount::Bytes(p.number("bytes")),
                },
            },
            FaultKind::DiskLatency => Fault::DiskLatency {
                latency: p.duration("latency"),
            },
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
            Fault::PowerLoss => FaultKind::PowerLoss,
            Fault::DiskCorrupt { .. } => FaultKind::DiskCorrupt,
            Fault::DiskTruncate { .. } => FaultKind::DiskTruncate,
            Fault::DiskLatency { .. } => FaultKind::DiskLatency,
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
            | Fault::LeaderStepdown
            | Fault::PowerLoss
            | Fault::DiskCorrupt { .. }
            | Fault::DiskTruncate { .. }
            | Fault::DiskLatency { .. } => None,
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
            | Fault::LeaderStepdown
            | Fault::PowerLoss
            | Fault::DiskCorrupt { .. }
            | Fault::DiskTruncate { .. }
            | Fault::DiskLatency { .. } => return None,
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
            Fault::DiskCorrupt { bits, files } => format!(" {bits} bits in {files} files"),
            Fault::DiskTruncate {
                files,
                amount: TruncateAmount::Bytes(n),
            } => format!(" last {n} B of the newest {files} file"),
            Fault::DiskTruncate {
                files,
                amount: TruncateAmount::Fraction(f),
            } => format!(" last {f} of the newest {files} file"),
            Fault::DiskLatency { latency } => format!(" {}", h(latency)),
            Fault::Timeout { .. }
            | Fault::ResetPeer
            | Fault::Down
            | Fault::Pause
            | Fault::Kill
            | Fault::Restart
            | Fault::Partition { .. }
            | Fault::LeaderStepdown
            | Fault::PowerLoss => String::new(),
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

/// The file kind a `files` word names (validated against `FILE_KINDS`; blocks otherwise).
fn file_kind(word: &str) -> FileKind {
    FileKind::ALL
        .into_iter()
        .find(|k| k.as_str() == word)
        .unwrap_or(FileKind::Blocks)
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
    use crate::nemesis::{ParamValue, PARAMS};
    use crate::server::ServerFault;

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
