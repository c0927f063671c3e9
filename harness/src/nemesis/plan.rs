//! A fault as planned: which [`Fault`], where it acts, and when ([`Schedule`]). Built by the
//! scenario validator, run by the [`Nemesis`](super::Nemesis), recorded in result.json's plan.

use std::time::Duration;

use serde::Serialize;

use super::fault::humantime_str;
use super::Fault;

/// One validated fault of a plan.
///
/// Serialized flat, as result.json has always had it: `name`, `kind` and the kind's own
/// parameters (and `direction`), `connections`, `target`, then the schedule's fields.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaultPlan {
    pub name: String,
    #[serde(flatten)]
    pub fault: Fault,
    /// Network faults: the connection indexes it acts on (resolved from `target`, fractions
    /// drawn with the run's seed). Empty for server faults.
    pub connections: Vec<usize>,
    /// How the target was written, for reports: "all", "connection 1", "50% of connections",
    /// "server".
    pub target: String,
    #[serde(flatten)]
    pub schedule: Schedule,
}

/// When a fault acts: offsets from the start of the measured phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Schedule {
    /// Offset of the first occurrence. `None`: from the start.
    #[serde(serialize_with = "humantime_str::option")]
    pub start: Option<Duration>,
    /// How long each occurrence lasts (`kill`: downtime before the restart). `None`: until
    /// publishing stops.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "humantime_str::option"
    )]
    pub duration: Option<Duration>,
    /// Occurrences (1 = once).
    pub repeat: u32,
    /// Time between the starts of two occurrences.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "humantime_str::option"
    )]
    pub every: Option<Duration>,
}

impl Schedule {
    /// Start offsets of every occurrence.
    pub fn occurrences(&self) -> Vec<Duration> {
        let first = self.start.unwrap_or_default();
        let every = self.every.unwrap_or_default();
        (0..self.repeat).map(|k| first + every * k).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nemesis::FaultDirection;

    #[test]
    fn occurrences_follow_the_schedule() {
        let s = Schedule {
            start: Some(Duration::from_secs(1)),
            duration: Some(Duration::from_millis(500)),
            repeat: 3,
            every: Some(Duration::from_secs(2)),
        };
        assert_eq!(
            s.occurrences(),
            vec![
                Duration::from_secs(1),
                Duration::from_secs(3),
                Duration::from_secs(5)
            ]
        );
    }

    #[test]
    fn serialized_flat_as_in_result_json() {
        let plan = FaultPlan {
            name: "slow".into(),
            fault: Fault::Latency {
                latency: Duration::from_millis(5),
                jitter: Duration::ZERO,
                direction: FaultDirection::Upstream,
            },
            connections: vec![0, 2],
            target: "connections [0, 2]".into(),
            schedule: Schedule {
                start: None,
                duration: Some(Duration::from_millis(1500)),
                repeat: 1,
                every: None,
            },
        };
        assert_eq!(
            serde_json::to_value(&plan).unwrap(),
            serde_json::json!({
                "name": "slow",
                "kind": "latency",
                "latency": "5ms",
                "jitter": "0s",
                "direction": "upstream",
                "connections": [0, 2],
                "target": "connections [0, 2]",
                "start": null,
                "duration": "1s 500ms",
                "repeat": 1,
            })
        );
        let pause = FaultPlan {
            fault: Fault::Pause,
            ..plan
        };
        let v = serde_json::to_value(&pause).unwrap();
        assert_eq!(v["kind"], "pause");
        assert!(v.get("direction").is_none() && v.get("latency").is_none());
    }
}
