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
    /// Faults on nodes: which node(s), resolved against the stream's leader when the fault
    /// fires. `None` for faults on connections and for `leader_stepdown`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<NodeTarget>,
    #[serde(flatten)]
    pub schedule: Schedule,
}

/// Which nodes a fault acts on, as written (`node = "leader"`, `node = 2`, `node = [0, 1]`).
/// Roles are resolved against the stream's leader at the moment the fault fires; "follower"
/// and "minority" pick among the followers with the run's seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeTarget {
    /// The stream's leader.
    Leader,
    /// One follower of the stream.
    Follower,
    /// floor((n-1)/2) followers: the leader keeps a quorum.
    Minority,
    /// The others: the leader and enough followers for a majority.
    Majority,
    /// Every node.
    All,
    /// These node indexes.
    Nodes(Vec<usize>),
}

impl NodeTarget {
    /// As written in a scenario: a role, an index or a list of indexes.
    pub fn written(&self) -> serde_json::Value {
        match self {
            NodeTarget::Leader => "leader".into(),
            NodeTarget::Follower => "follower".into(),
            NodeTarget::Minority => "minority".into(),
            NodeTarget::Majority => "majority".into(),
            NodeTarget::All => "all".into(),
            NodeTarget::Nodes(n) if n.len() == 1 => n[0].into(),
            NodeTarget::Nodes(n) => n.clone().into(),
        }
    }

    /// Resolves to node indexes, given the stream's `leader` (when known) among `n` nodes.
    /// `pick` chooses among candidates (seeded by the caller).
    pub fn resolve(
        &self,
        n: usize,
        leader: Option<usize>,
        pick: &mut impl FnMut(&[usize]) -> usize,
    ) -> Vec<usize> {
        let followers: Vec<usize> = (0..n).filter(|&i| Some(i) != leader).collect();
        let mut chosen = match self {
            NodeTarget::Leader => leader.into_iter().collect(),
            NodeTarget::Follower => match followers.as_slice() {
                [] => Vec::new(),
                f => vec![f[pick(f)]],
            },
            NodeTarget::Minority => minority(&followers, (n - 1) / 2, pick),
            NodeTarget::Majority => {
                let minority = minority(&followers, (n - 1) / 2, pick);
                (0..n).filter(|i| !minority.contains(i)).collect()
            }
            NodeTarget::All => (0..n).collect(),
            NodeTarget::Nodes(list) => list.clone(),
        };
        chosen.sort_unstable();
        chosen.dedup();
        chosen
    }
}

/// `size` of the `followers`, picked one by one.
fn minority(
    followers: &[usize],
    size: usize,
    pick: &mut impl FnMut(&[usize]) -> usize,
) -> Vec<usize> {
    let mut left = followers.to_vec();
    let mut out = Vec::new();
    while out.len() < size && !left.is_empty() {
        out.push(left.remove(pick(&left)));
    }
    out
}

impl Serialize for NodeTarget {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.written().serialize(s)
    }
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
            node: None,
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
        let leader = FaultPlan {
            node: Some(NodeTarget::Leader),
            ..pause
        };
        assert_eq!(serde_json::to_value(&leader).unwrap()["node"], "leader");
    }

    #[test]
    fn node_targets_resolve_against_the_leader() {
        let mut first = |c: &[usize]| {
            assert!(!c.is_empty());
            0
        };
        assert_eq!(NodeTarget::Leader.resolve(3, Some(1), &mut first), vec![1]);
        assert_eq!(
            NodeTarget::Follower.resolve(3, Some(1), &mut first),
            vec![0]
        );
        assert_eq!(
            NodeTarget::Minority.resolve(3, Some(1), &mut first),
            vec![0]
        );
        assert_eq!(
            NodeTarget::Majority.resolve(3, Some(1), &mut first),
            vec![1, 2]
        );
        assert_eq!(
            NodeTarget::Minority.resolve(5, Some(0), &mut first),
            vec![1, 2]
        );
        assert_eq!(
            NodeTarget::Majority.resolve(5, Some(0), &mut first),
            vec![0, 3, 4]
        );
        assert_eq!(NodeTarget::All.resolve(3, None, &mut first), vec![0, 1, 2]);
        assert_eq!(
            NodeTarget::Nodes(vec![2, 0, 2]).resolve(3, None, &mut first),
            vec![0, 2]
        );
        // No leader known: "leader" resolves to nothing (the fault says so).
        assert!(NodeTarget::Leader.resolve(3, None, &mut first).is_empty());
    }
}
