//! Durability after disk faults (issue 23): what each node holds of the stream once every
//! fault has healed, what acknowledged data each lacks, and what became of the stream.
//!
//! Each node's own copy is read from its monitoring endpoint (`/jsz?streams=true`, asked of
//! that node, so it reports its own replica's state, not the leader's): its first and last
//! sequence, its message count and how many sequences inside that range it lacks
//! (`num_deleted`). A node's loss classes are then counted by the stream sequences the acks
//! reported: acked sequences below its first are lost as a prefix, above its last as a
//! postfix, and inside its range at most `num_deleted` are lost in the middle (exact when 0).
//! By sequence, so it is exact only while sequences were not reused: after a power loss that
//! dropped the tail of a stream, new messages take the lost sequences again (the run's overall
//! `acked_lost` comes from the read-back, which identifies every message by content).
//!
//! Pure: takes the history, the overall safety figures and the nodes' states.

use serde::{Deserialize, Serialize};

use super::Safety;
use crate::record::cluster::ReplicaSurvey;
use crate::record::history::{History, ReadBack};

/// What happened to the stream, judged after the heal. A run whose stream was deleted or could
/// not be read is still a completed run: this is its outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamOutcome {
    /// Every acknowledged message was read back.
    Intact,
    /// Acknowledged messages are missing (`acked_lost`).
    AckedLost,
    /// No node holds the stream any more.
    Deleted,
    /// Some node holds it, but it could not be read back.
    Unreadable,
}

/// `durability` in result.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Durability {
    pub outcome: StreamOutcome,
    /// Acknowledged messages of the measured phase.
    pub acked: u64,
    /// Acknowledged and not read back (the read-back's `safety.lost`); None without a read-back.
    pub acked_lost: Option<u64>,
    /// The overall read-back's loss classes (publish order, Jepsen's).
    pub lost_prefix: u64,
    pub lost_middle: u64,
    pub lost_postfix: u64,
    /// Per node, its own copy (module docs say how it is read).
    pub nodes: Vec<NodeCopy>,
    /// The nodes' copies differ (first, last, count or gaps).
    pub divergent: bool,
    /// What was made durable on purpose before the faults.
    pub synced_before_faults: String,
    /// The first power loss, and the acknowledged messages lost by then: how long before it they
    /// were acked (issue 23: "over what window"). None without a power loss or a read-back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_loss: Option<LossWindow>,
}

/// The acknowledged messages lost by the first power loss, by when they were acked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LossWindow {
    /// When the power was cut, ms since the measured phase started.
    pub at_ms: f64,
    /// Messages acked before that moment and not read back.
    pub lost: u64,
    /// How long before the cut the oldest of them was acked, ms: every message lost was acked
    /// within this window (0 when none was lost).
    pub window_ms: f64,
    /// Messages acked within that window, lost or not: `lost` of these.
    pub acked_in_window: u64,
}

/// When each power loss of the run started, on the run's clock (ns).
#[derive(Debug, Clone, Copy)]
pub struct PowerLossTimes<'a> {
    /// The measured phase's start (the fault windows' origin).
    pub origin_ns: u64,
    /// Each power loss's `start_ms`.
    pub starts_ms: &'a [f64],
}

/// One node's own copy of the stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeCopy {
    pub node: String,
    /// It holds a replica of the stream.
    pub holds: bool,
    pub first_seq: u64,
    pub last_seq: u64,
    pub messages: u64,
    /// Sequences inside first..=last it does not hold.
    pub num_deleted: u64,
    /// Acked sequences below its first.
    pub lost_prefix: u64,
    /// Acked sequences inside its range it may lack (at most its gaps).
    pub lost_middle_at_most: u64,
    /// Acked sequences above its last.
    pub lost_postfix: u64,
    /// How far its last sequence is behind the highest any node holds.
    pub behind_by: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What the runs checkpoints before the faults (the disks' sync(2) after the warm-up).
pub const SYNCED_BEFORE_FAULTS: &str = "the stream's creation and the warm-up were synced (a \
     checkpoint of every disk before the measured phase); what was written since depends on \
     sync_interval";

/// Judges durability from the history, the read-back's safety (None: no read-back) and each
/// node's copy (None: not surveyed).
pub fn durability(
    history: &History,
    safety: Option<&Safety>,
    survey: Option<&ReplicaSurvey>,
    read_back: Option<&ReadBack>,
    losses: PowerLossTimes<'_>,
) -> Durability {
    let published = (history.published as usize).min(history.planned());
    let mut acked: Vec<u64> = (0..published)
        .filter(|&i| history.outcome(i).is_acked())
        .map(|i| history.ack_seq(i))
        .filter(|&s| s > 0)
        .collect();
    acked.sort_unstable();
    let acked_count = (0..published)
        .filter(|&i| history.outcome(i).is_acked())
        .count() as u64;
    let nodes: Vec<NodeCopy> = survey
        .map(|s| s.nodes.iter().map(|n| copy_of(n, &acked)).collect())
        .unwrap_or_default();
    let top = nodes.iter().map(|n| n.last_seq).max().unwrap_or(0);
    let nodes: Vec<NodeCopy> = nodes
        .into_iter()
        .map(|n| NodeCopy {
            behind_by: if n.holds { top - n.last_seq } else { top },
            ..n
        })
        .collect();
    let key = |n: &NodeCopy| (n.holds, n.first_seq, n.last_seq, n.messages, n.num_deleted);
    let divergent = nodes.windows(2).any(|w| key(&w[0]) != key(&w[1]));
    let outcome = match safety {
        _ if !nodes.is_empty() && nodes.iter().all(|n| !n.holds && n.error.is_none()) => {
            StreamOutcome::Deleted
        }
        None => StreamOutcome::Unreadable,
        Some(s) if s.lost > 0 => StreamOutcome::AckedLost,
        Some(_) => StreamOutcome::Intact,
    };
    Durability {
        outcome,
        acked: acked_count,
        acked_lost: safety.map(|s| s.lost),
        lost_prefix: safety.map_or(0, |s| s.lost_prefix),
        lost_middle: safety.map_or(0, |s| s.lost_middle),
        lost_postfix: safety.map_or(0, |s| s.lost_postfix),
        nodes,
        divergent,
        synced_before_faults: SYNCED_BEFORE_FAULTS.to_string(),
        power_loss: read_back.and_then(|rb| loss_window(history, rb, losses)),
    }
}

/// The acknowledged messages missing from the read-back that were acked before the first power
/// loss, and the window before it in which they were acked.
fn loss_window(history: &History, rb: &ReadBack, losses: PowerLossTimes<'_>) -> Option<LossWindow> {
    let at_ms = losses.starts_ms.iter().copied().reduce(f64::min)?;
    let cut_ns = losses.origin_ns + (at_ms * 1e6) as u64;
    let published = (history.published as usize).min(history.planned());
    let mut stored = vec![false; published];
    for &i in &rb.order {
        if let Some(s) = stored.get_mut(i as usize) {
            *s = true;
        }
    }
    let acked_before = |i: usize| {
        let t = history.acked_at(i).unwrap_or(0);
        (history.outcome(i).is_acked() && t > 0 && t <= cut_ns).then_some(t)
    };
    let lost: Vec<u64> = (0..published)
        .filter(|&i| !stored[i])
        .filter_map(acked_before)
        .collect();
    let oldest = lost.iter().copied().min().unwrap_or(cut_ns);
    let acked_in_window = (0..published)
        .filter_map(acked_before)
        .filter(|&t| t >= oldest)
        .count() as u64;
    Some(LossWindow {
        at_ms,
        lost: lost.len() as u64,
        window_ms: (cut_ns - oldest) as f64 / 1e6,
        acked_in_window: if lost.is_empty() { 0 } else { acked_in_window },
    })
}

/// One node's copy against the acked sequences (sorted).
fn copy_of(n: &crate::record::cluster::NodeReplica, acked: &[u64]) -> NodeCopy {
    let below = |s: u64| acked.partition_point(|&a| a < s) as u64;
    let mut c = NodeCopy {
        node: n.node.clone(),
        holds: n.state.is_some(),
        first_seq: 0,
        last_seq: 0,
        messages: 0,
        num_deleted: 0,
        lost_prefix: 0,
        lost_middle_at_most: 0,
        lost_postfix: 0,
        behind_by: 0,
        error: n.error.clone().filter(|e| !e.contains("holds no replica")),
    };
    let Some(st) = n.state else {
        // Holds nothing: every acked message is missing from it.
        c.lost_postfix = acked.len() as u64;
        return c;
    };
    let total = acked.len() as u64;
    c.first_seq = st.first_seq;
    c.last_seq = st.last_seq;
    c.messages = st.messages;
    c.num_deleted = st.num_deleted;
    if st.messages == 0 {
        // An empty stream reports first = last + 1: everything acked is gone.
        c.lost_postfix = total;
        return c;
    }
    c.lost_prefix = below(st.first_seq);
    c.lost_postfix = total - below(st.last_seq + 1);
    let inside = total - c.lost_prefix - c.lost_postfix;
    c.lost_middle_at_most = inside.min(st.num_deleted);
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::cluster::NodeReplica;
    use crate::record::history::Outcome;
    use crate::server::monitor::StreamState;

    const NO_LOSS: PowerLossTimes<'static> = PowerLossTimes {
        origin_ns: 0,
        starts_ms: &[],
    };

    fn history(acked_seqs: &[u64]) -> History {
        let mut h = History::new(vec![0; acked_seqs.len()], 1);
        h.published = acked_seqs.len() as u64;
        for (i, &s) in acked_seqs.iter().enumerate() {
            h.record_ack(i as u32, s, false, i as u32);
            h.set_outcome(i, Outcome::Ok);
        }
        h
    }

    fn node(name: &str, state: Option<(u64, u64, u64, u64)>) -> NodeReplica {
        NodeReplica {
            node: name.into(),
            state: state.map(|(first_seq, last_seq, messages, num_deleted)| StreamState {
                messages,
                bytes: 0,
                first_seq,
                last_seq,
                num_deleted,
            }),
            error: state
                .is_none()
                .then(|| "holds no replica of the stream".to_string()),
        }
    }

    #[test]
    fn per_node_classes_by_sequence_and_divergence() {
        let h = history(&(1..=10).collect::<Vec<_>>());
        let survey = ReplicaSurvey {
            nodes: vec![
                node("n0", Some((1, 10, 10, 0))),
                node("n1", Some((3, 7, 4, 1))),
                node("n2", None),
            ],
            agree: false,
            waited_ms: 0.0,
        };
        let safety = Safety {
            lost: 0,
            ..Default::default()
        };
        let d = durability(&h, Some(&safety), Some(&survey), None, NO_LOSS);
        assert_eq!(d.outcome, StreamOutcome::Intact);
        assert_eq!(d.acked, 10);
        assert!(d.divergent);
        let n1 = &d.nodes[1];
        assert_eq!(
            (n1.lost_prefix, n1.lost_middle_at_most, n1.lost_postfix),
            (2, 1, 3)
        );
        assert_eq!(n1.behind_by, 3);
        assert_eq!((d.nodes[2].holds, d.nodes[2].lost_postfix), (false, 10));
        assert_eq!(d.nodes[0].lost_prefix + d.nodes[0].lost_postfix, 0);
    }

    #[test]
    fn a_stream_no_node_holds_is_deleted_and_a_lossy_one_says_so() {
        let h = history(&[1, 2, 3]);
        let gone = ReplicaSurvey {
            nodes: vec![node("n0", None)],
            agree: false,
            waited_ms: 0.0,
        };
        let d = durability(&h, None, Some(&gone), None, NO_LOSS);
        assert_eq!(d.outcome, StreamOutcome::Deleted);
        let lossy = Safety {
            lost: 2,
            lost_postfix: 2,
            ..Default::default()
        };
        let kept = ReplicaSurvey {
            nodes: vec![node("n0", Some((1, 1, 1, 0)))],
            agree: true,
            waited_ms: 0.0,
        };
        let d = durability(&h, Some(&lossy), Some(&kept), None, NO_LOSS);
        assert_eq!(
            (d.outcome, d.acked_lost),
            (StreamOutcome::AckedLost, Some(2))
        );
        assert_eq!(d.nodes[0].lost_postfix, 2);
        assert_eq!(
            durability(&h, None, Some(&kept), None, NO_LOSS).outcome,
            StreamOutcome::Unreadable
        );
    }

    #[test]
    fn the_first_power_loss_names_the_window_its_lost_acks_came_from() {
        // Acked at 1, 2, …, 10 ms after an origin of 1 s; the power is cut at 8.5 ms.
        // A fault run keeps ack times (a timed history).
        let mut h = history(&(1..=10).collect::<Vec<_>>()).timed();
        for i in 0..10 {
            h.record_ack_time(i, 1_000_000_000 + (i as u64 + 1) * 1_000_000);
        }
        // Stored: 1–5 and 9–10 (read back); lost: 6, 7, 8 (acked 6, 7, 8 ms in).
        let rb = ReadBack {
            order: vec![0, 1, 2, 3, 4, 8, 9],
            complete: true,
            ..Default::default()
        };
        let losses = PowerLossTimes {
            origin_ns: 1_000_000_000,
            starts_ms: &[20.0, 8.5],
        };
        let d = durability(&h, None, None, Some(&rb), losses);
        let w = d.power_loss.expect("a power loss");
        assert_eq!(w.at_ms, 8.5);
        assert_eq!(w.lost, 3);
        assert!((w.window_ms - 2.5).abs() < 1e-9, "{w:?}");
        assert_eq!(w.acked_in_window, 3);
        // Nothing lost: an empty window.
        let all = ReadBack {
            order: (0..10).collect(),
            complete: true,
            ..Default::default()
        };
        let w = durability(&h, None, None, Some(&all), losses)
            .power_loss
            .unwrap();
        assert_eq!((w.lost, w.window_ms, w.acked_in_window), (0, 0.0, 0));
        // No power loss, no window.
        assert!(durability(&h, None, None, Some(&rb), NO_LOSS)
            .power_loss
            .is_none());
    }
}
