//! Cluster checkers: how long the stream was unavailable to the publisher (the longest stretch
//! without a successful ack), how long a fault took to give the stream a new leader, and a
//! summary of each node's figures. Pure functions over what the run recorded.

use serde::{Deserialize, Serialize};

use crate::record::cluster::{LeaderChange, NodeSample};
use crate::record::history::History;

/// The longest stretch with no successful ack.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Unavailability {
    /// Its length, ms.
    pub longest_ms: f64,
    /// When it began, ms since the measured phase started.
    pub from_ms: f64,
    /// "acks" (exact, from every ack's arrival time) or "timeline" (from the per-bucket ack
    /// counts, to the bucket).
    pub measured_by: String,
}

/// The longest gap between successful acks within the measured phase `[start_ns, end_ns]`
/// (run clock), the gaps before the first and after the last ack included. Exact when the
/// history kept ack times; from the timeline's buckets otherwise.
pub fn unavailability(
    h: &History,
    (start_ns, end_ns): (u64, u64),
    bucket_ms: f64,
    acked_per_bucket: &[u64],
) -> Unavailability {
    if h.is_timed() {
        let mut acks: Vec<u64> = (0..h.planned())
            .filter_map(|i| h.acked_at(i))
            .filter(|&t| t > 0)
            .collect();
        acks.sort_unstable();
        let mut best = (0u64, start_ns);
        let mut prev = start_ns;
        for &t in acks.iter().chain(std::iter::once(&end_ns)) {
            let gap = t.saturating_sub(prev);
            if gap > best.0 {
                best = (gap, prev);
            }
            prev = prev.max(t);
        }
        return Unavailability {
            longest_ms: best.0 as f64 / 1e6,
            from_ms: best.1.saturating_sub(start_ns) as f64 / 1e6,
            measured_by: "acks".into(),
        };
    }
    let (mut run, mut best, mut best_from) = (0usize, 0usize, 0usize);
    for (i, &n) in acked_per_bucket.iter().enumerate() {
        if n == 0 {
            run += 1;
            if run > best {
                best = run;
                best_from = i + 1 - run;
            }
        } else {
            run = 0;
        }
    }
    Unavailability {
        longest_ms: best as f64 * bucket_ms,
        from_ms: best_from as f64 * bucket_ms,
        measured_by: "timeline".into(),
    }
}

/// From `at_ms` to the first leader elected after it (ms): a node other than `before`, or
/// `before` itself once the stream had been without a leader (killed with the rest of the
/// cluster, or deposed for a moment and re-elected). `None` when neither happened in the
/// timeline: the leader was kept throughout, or no leader came back.
pub fn new_leader_ms(leaders: &[LeaderChange], at_ms: f64, before: Option<&str>) -> Option<f64> {
    let mut leaderless = false;
    leaders
        .iter()
        .filter(|c| c.at_ms >= at_ms)
        .find_map(|c| match c.leader.as_deref() {
            None => {
                leaderless = true;
                None
            }
            Some(l) if leaderless || Some(l) != before => Some(c.at_ms - at_ms),
            Some(_) => None,
        })
}

/// One node's figures over the run, from its `/varz` samples.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeFigures {
    pub node: String,
    /// Samples taken (a node that did not answer — paused, killed — has fewer).
    pub samples: usize,
    /// Percent of one core.
    pub cpu_mean: f64,
    pub cpu_peak: f64,
    pub mem_peak_bytes: u64,
    /// Messages the node received and sent over the run (clients and routes).
    pub in_msgs: u64,
    pub out_msgs: u64,
}

/// Summarises each node's samples.
pub fn node_figures(names: &[String], samples: &[Vec<NodeSample>]) -> Vec<NodeFigures> {
    names
        .iter()
        .zip(samples)
        .map(|(name, s)| {
            let n = s.len();
            let delta = |f: fn(&NodeSample) -> u64| match (s.first(), s.last()) {
                (Some(a), Some(b)) => f(b).saturating_sub(f(a)),
                _ => 0,
            };
            NodeFigures {
                node: name.clone(),
                samples: n,
                cpu_mean: if n > 0 {
                    s.iter().map(|x| x.cpu).sum::<f64>() / n as f64
                } else {
                    0.0
                },
                cpu_peak: s.iter().map(|x| x.cpu).fold(0.0, f64::max),
                mem_peak_bytes: s.iter().map(|x| x.mem_bytes).max().unwrap_or(0),
                in_msgs: delta(|x| x.in_msgs),
                out_msgs: delta(|x| x.out_msgs),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_gap_between_acks_counts_the_edges() {
        let ms = 1_000_000u64;
        let mut h = History::new(vec![0; 4], 1).timed();
        h.published = 4;
        for (i, t) in [100, 200, 1700, 1800].into_iter().enumerate() {
            h.record_ack(i as u32, i as u64 + 1, false, i as u32);
            h.record_ack_time(i as u32, t * ms);
        }
        let u = unavailability(&h, (0, 2000 * ms), 100.0, &[]);
        assert_eq!((u.longest_ms, u.from_ms), (1500.0, 200.0));
        assert_eq!(u.measured_by, "acks");
        // Untimed: the timeline's empty buckets.
        let h = History::new(vec![0; 4], 1);
        let u = unavailability(&h, (0, 0), 100.0, &[5, 0, 0, 3, 0, 0, 0, 2]);
        assert_eq!((u.longest_ms, u.from_ms), (300.0, 400.0));
    }

    #[test]
    fn a_new_leader_is_another_node_or_the_same_one_after_a_leaderless_stretch() {
        let c = |at_ms: f64, l: Option<&str>| LeaderChange {
            at_ms,
            leader: l.map(String::from),
            seen_by: "poll".into(),
        };
        let t = [c(0.0, Some("n0")), c(1000.0, None), c(3500.0, Some("n2"))];
        assert_eq!(new_leader_ms(&t, 900.0, Some("n0")), Some(2600.0));
        // The same node, after a stretch without a leader: elected again.
        assert_eq!(new_leader_ms(&t, 900.0, Some("n2")), Some(2600.0));
        // Kept throughout: no election after the fault.
        let kept = [c(0.0, Some("n0")), c(2000.0, Some("n0"))];
        assert_eq!(new_leader_ms(&kept, 900.0, Some("n0")), None);
        // Nothing after the leaderless stretch: no leader came back.
        assert_eq!(new_leader_ms(&t[..2], 900.0, Some("n0")), None);
    }
}
