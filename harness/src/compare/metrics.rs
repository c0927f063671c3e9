//! The metrics a comparison looks at, as a table: adding a metric is one row in [`METRICS`].

use crate::result::{LatencyKind, LatencyStat, Report, Unit};

/// One metric the comparison looks at. Adding a metric is one line in [`METRICS`].
pub struct MetricDef {
    /// The name used in the table, in `--threshold NAME=PCT` and in the gh-bench names.
    pub name: &'static str,
    pub unit: Unit,
    pub bigger_is_better: bool,
    pub default_threshold_pct: f64,
    /// The metric's value in one run; `None` when the run did not measure it.
    pub extract: fn(&Report) -> Option<f64>,
}

fn latency(r: &Report, kind: LatencyKind, stat: LatencyStat) -> Option<f64> {
    r.measured_latency(kind).map(|l| l.stat(stat))
}

/// Every metric compared, in table order.
pub const METRICS: &[MetricDef] = &[
    MetricDef {
        name: "msgs_per_sec",
        unit: Unit::MsgsPerSec,
        bigger_is_better: true,
        default_threshold_pct: 10.0,
        extract: |r| Some(r.throughput.msgs_per_sec).filter(|v| *v > 0.0),
    },
    MetricDef {
        name: "p50",
        unit: Unit::Micros,
        bigger_is_better: false,
        default_threshold_pct: 10.0,
        extract: |r| latency(r, LatencyKind::PublishAck, LatencyStat::P50),
    },
    MetricDef {
        name: "p99",
        unit: Unit::Micros,
        bigger_is_better: false,
        default_threshold_pct: 20.0,
        extract: |r| latency(r, LatencyKind::PublishAck, LatencyStat::P99),
    },
    MetricDef {
        name: "p999",
        unit: Unit::Micros,
        bigger_is_better: false,
        default_threshold_pct: 30.0,
        extract: |r| latency(r, LatencyKind::PublishAck, LatencyStat::P999),
    },
    MetricDef {
        name: "end_to_end_p99",
        unit: Unit::Micros,
        bigger_is_better: false,
        default_threshold_pct: 20.0,
        extract: |r| latency(r, LatencyKind::EndToEnd, LatencyStat::P99),
    },
];

/// The metric of that name (`p99.9` is accepted for `p999`).
pub fn metric(name: &str) -> Option<&'static MetricDef> {
    let name = if name == "p99.9" { "p999" } else { name };
    METRICS.iter().find(|m| m.name == name)
}

pub(super) fn metric_names() -> String {
    METRICS
        .iter()
        .map(|m| m.name)
        .collect::<Vec<_>>()
        .join(", ")
}
