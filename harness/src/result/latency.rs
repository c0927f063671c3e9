//! The latencies a run measures: which ones there are ([`LatencyKind`]: the key of
//! result.json's `latency_us`, the name of its `latency-<name>.hlog`, the words outputs use) and
//! the summary result.json keeps of each ([`LatencySummary`], in µs, its statistics named by
//! [`LatencyStat`]).
//!
//! `latency_us` stays a map keyed by [`LatencyKind::label`] rather than by the enum: a result
//! written by another version may hold a latency this one does not know, and loading it must
//! neither fail nor drop it (outputs show such a name with spaces for underscores).

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// One latency a run can measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LatencyKind {
    /// Actual send → ack arrival: the headline latency.
    PublishAck,
    /// How long the application's publish call blocked (sync: until its ack; async: until
    /// queued with a free slot in the window).
    PublishCall,
    /// Open loop: intended send time → actual send (how far the publisher fell behind).
    SendDelay,
    /// Open loop: intended send time → ack arrival (corrected for coordinated omission).
    IntendedAck,
    /// Consume side: first send → end of the first successful processing.
    EndToEnd,
}

impl LatencyKind {
    /// Every latency, in the order claims files list them.
    pub const ALL: [LatencyKind; 5] = [
        LatencyKind::PublishAck,
        LatencyKind::PublishCall,
        LatencyKind::SendDelay,
        LatencyKind::IntendedAck,
        LatencyKind::EndToEnd,
    ];

    /// The name in files: the key of `latency_us`, the tag and name of its hlog
    /// (`latency-<label>.hlog`), the name a claims file writes (`latency.<label>.p99`).
    pub fn label(self) -> &'static str {
        match self {
            LatencyKind::PublishAck => "publish_ack",
            LatencyKind::PublishCall => "publish_call",
            LatencyKind::SendDelay => "send_delay",
            LatencyKind::IntendedAck => "intended_ack",
            LatencyKind::EndToEnd => "end_to_end",
        }
    }

    /// The name people read, the same in every output ("publish → ack").
    pub fn human(self) -> &'static str {
        match self {
            LatencyKind::PublishAck => "publish → ack",
            LatencyKind::PublishCall => "publish call",
            LatencyKind::SendDelay => "send delay",
            LatencyKind::IntendedAck => "intended → ack",
            LatencyKind::EndToEnd => "publish → processed",
        }
    }

    /// The latency of a label ("publish_ack"); `None` for a name this version does not know.
    pub fn from_label(label: &str) -> Option<LatencyKind> {
        LatencyKind::ALL.into_iter().find(|k| k.label() == label)
    }

    /// The key of result.json's `files` that names its hlog (`latency_publish_ack`).
    pub fn file_key(self) -> String {
        format!("latency_{}", self.label())
    }

    /// The file name of its hlog (`latency-publish_ack.hlog`).
    pub fn hlog_file(self) -> String {
        format!("latency-{}.hlog", self.label())
    }
}

/// How a `latency_us` key reads for people: the [`LatencyKind::human`] name, or for a key this
/// version does not know, the key with spaces for underscores.
pub fn latency_name(key: &str) -> String {
    match LatencyKind::from_label(key) {
        Some(k) => k.human().to_string(),
        None => key.replace('_', " "),
    }
}

/// One statistic of a [`LatencySummary`], named as its field is ("p99").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LatencyStat {
    P50,
    P90,
    P99,
    P999,
    Mean,
    Max,
}

impl LatencyStat {
    pub const ALL: [LatencyStat; 6] = [
        LatencyStat::P50,
        LatencyStat::P90,
        LatencyStat::P99,
        LatencyStat::P999,
        LatencyStat::Mean,
        LatencyStat::Max,
    ];

    /// The field's name in result.json, and what a claims file writes.
    pub fn as_str(self) -> &'static str {
        match self {
            LatencyStat::P50 => "p50",
            LatencyStat::P90 => "p90",
            LatencyStat::P99 => "p99",
            LatencyStat::P999 => "p999",
            LatencyStat::Mean => "mean",
            LatencyStat::Max => "max",
        }
    }

    pub fn from_name(name: &str) -> Option<LatencyStat> {
        LatencyStat::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

/// One latency's percentiles in µs, and how many values it has (0: it measured nothing).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct LatencySummary {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub mean: f64,
    pub count: u64,
}

impl LatencySummary {
    /// The value of one statistic, µs.
    pub fn stat(&self, stat: LatencyStat) -> f64 {
        match stat {
            LatencyStat::P50 => self.p50,
            LatencyStat::P90 => self.p90,
            LatencyStat::P99 => self.p99,
            LatencyStat::P999 => self.p999,
            LatencyStat::Mean => self.mean,
            LatencyStat::Max => self.max,
        }
    }

    /// Summarizes a histogram recorded in nanoseconds, in microseconds.
    pub fn from_ns(h: &Histogram<u64>) -> LatencySummary {
        let us = |v: u64| v as f64 / 1000.0;
        if h.is_empty() {
            return LatencySummary::default();
        }
        LatencySummary {
            p50: us(h.value_at_quantile(0.50)),
            p90: us(h.value_at_quantile(0.90)),
            p99: us(h.value_at_quantile(0.99)),
            p999: us(h.value_at_quantile(0.999)),
            max: us(h.max()),
            mean: h.mean() / 1000.0,
            count: h.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_round_trip_and_match_serde() {
        for k in LatencyKind::ALL {
            assert_eq!(LatencyKind::from_label(k.label()), Some(k));
            assert_eq!(serde_json::to_value(k).unwrap(), k.label());
        }
        assert_eq!(LatencyKind::from_label("publish→ack"), None);
        assert_eq!(LatencyKind::EndToEnd.file_key(), "latency_end_to_end");
        assert_eq!(
            LatencyKind::SendDelay.hlog_file(),
            "latency-send_delay.hlog"
        );
    }

    #[test]
    fn stats_are_named_as_their_fields() {
        let l = LatencySummary {
            p50: 1.0,
            p90: 2.0,
            p99: 3.0,
            p999: 4.0,
            max: 6.0,
            mean: 5.0,
            count: 9,
        };
        let json = serde_json::to_value(l).unwrap();
        for s in LatencyStat::ALL {
            assert_eq!(LatencyStat::from_name(s.as_str()), Some(s));
            assert_eq!(json[s.as_str()].as_f64(), Some(l.stat(s)), "{s:?}");
        }
    }

    #[test]
    fn names_for_people() {
        assert_eq!(latency_name("send_delay"), "send delay");
        assert_eq!(latency_name("end_to_end"), "publish → processed");
        assert_eq!(latency_name("some_new"), "some new");
    }
}
