//! The parameters of fault kinds: how each is written in `[[faults]]` ([`PARAMS`]: its unit,
//! whether it is required, what it must stay below), and the validated values one fault carries
//! ([`Params`]). The scenario parser and validator are driven by the table, so a new fault kind
//! needs only its rows here (see `fault.rs`).

use std::fmt;
use std::time::Duration;

use super::kind::FaultKind;

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
    /// A TOML float in (0, 1], kept in millionths. Default: 0 (not given).
    Fraction,
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
/// Kinds that take a latency: the delaying links, and a slow disk.
const LATENCY: &[FaultKind] = &[
    FaultKind::Latency,
    FaultKind::RouteLatency,
    FaultKind::DiskLatency,
];
/// Disk faults on the files of one kind of a nats-server store (`crate::faultfs::FileKind`).
const ON_FILES: &[FaultKind] = &[FaultKind::DiskCorrupt, FaultKind::DiskTruncate];
/// The `files` words: `FileKind::as_str` of every kind, blocks first (the default).
pub const FILE_KINDS: &[&str] = &[
    "blocks",
    "index",
    "snapshot",
    "meta",
    "consumer_state",
    "raft_state",
];

/// Every fault parameter, in the order an "unknown field" error lists them.
pub const PARAMS: &[Param] = &[
    Param::required(LATENCY, "latency", Unit::Duration, "e.g. \"5ms\""),
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
    Param::optional(ON_FILES, "files", Unit::Choice(FILE_KINDS)),
    Param::required(
        &[FaultKind::DiskCorrupt],
        "bits",
        Unit::Count {
            min: 1,
            max: 1_000_000,
        },
        "how many bits to flip, e.g. 8",
    ),
    Param::optional(
        &[FaultKind::DiskTruncate],
        "bytes",
        Unit::Count {
            min: 0,
            max: 1 << 40,
        },
    ),
    Param::optional(&[FaultKind::DiskTruncate], "fraction", Unit::Fraction),
];

/// A validated parameter value: a duration, or a number (count or bytes per second).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ParamValue {
    Duration(Duration),
    Number(u64),
    Word(&'static str),
    /// A fraction in millionths (`Unit::Fraction`).
    Millionths(u64),
}

impl fmt::Display for ParamValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamValue::Duration(d) => write!(f, "{}", humantime::format_duration(*d)),
            ParamValue::Number(n) => write!(f, "{n}"),
            ParamValue::Word(w) => write!(f, "{w:?}"),
            ParamValue::Millionths(m) => write!(f, "{}", *m as f64 / 1e6),
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

    pub(super) fn duration(&self, name: &str) -> Duration {
        match self.get(name) {
            Some(ParamValue::Duration(d)) => d,
            _ => Duration::ZERO,
        }
    }

    pub(super) fn number(&self, name: &str) -> u64 {
        match self.get(name) {
            Some(ParamValue::Number(n)) => n,
            _ => 0,
        }
    }

    /// A fraction given in millionths; `None` when not given.
    pub(super) fn fraction(&self, name: &str) -> Option<f64> {
        match self.get(name) {
            Some(ParamValue::Millionths(m)) if m > 0 => Some(m as f64 / 1e6),
            _ => None,
        }
    }

    pub(super) fn word(&self, name: &str) -> &'static str {
        match self.get(name) {
            Some(ParamValue::Word(w)) => w,
            _ => "",
        }
    }
}
