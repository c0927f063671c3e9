//! What is observed of a cluster during and after a run: who leads the stream and from when (the
//! leader timeline), each node's own figures over time (`/varz`), and, once every fault has
//! healed, each node's own view of the stream (`/jsz`) — whether the replicas agree.
//!
//! The leader timeline comes from two sources, because either alone misses things: the
//! `LEADER_ELECTED` advisory tells the moment a leader is elected — every election, also one that
//! re-elects the same node after a brief step-down, which no poll would catch — and a poll tells
//! when there is none — no advisory says that. Polls are recorded when they see a change,
//! advisories always.
//!
//! The poll asks every node's monitoring endpoint (from the host, so no partition between the
//! nodes gets in the way) whom it follows, and takes the leader a majority of all nodes names:
//! during a partition a cut-off leader goes on naming itself, and a stream-info request through
//! one client connection only hears the side that connection is on. Advisories travel over the
//! routes, so the side the observer's connection is on may not hear them; the poll still sees
//! the majority's leader.

use std::time::Duration;

use async_nats::jetstream;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::server::monitor::{self, StreamState};
use crate::server::Node;

use super::observe::Clock;

/// How often the stream's leader is polled.
const LEADER_POLL: Duration = Duration::from_millis(250);
/// How long one stream-info request may take before the stream counts as leaderless.
const INFO_TIMEOUT: Duration = Duration::from_secs(1);
/// How often each node's `/varz` is sampled.
const VARZ_EVERY: Duration = Duration::from_secs(1);

/// The stream's leader from a moment on (`None`: no leader, or the question went unanswered).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeaderChange {
    /// ms since the measured phase started (negative: before it).
    pub at_ms: f64,
    pub leader: Option<String>,
    /// "advisory" or "poll".
    pub seen_by: String,
}

/// Watches the stream's leader until `stop` turns true; returns the changes in time order.
pub async fn watch_leader(
    nodes: Vec<Node>,
    client: async_nats::Client,
    stream: String,
    clock: Clock,
    origin_ns: u64,
    mut stop: watch::Receiver<bool>,
) -> Vec<LeaderChange> {
    let subject = format!("$JS.EVENT.ADVISORY.STREAM.LEADER_ELECTED.{stream}");
    let mut advisories = client.subscribe(subject).await.ok();
    let mut timeline: Vec<LeaderChange> = Vec::new();
    let at_ms = |clock: &Clock| (clock.now_ns() as f64 - origin_ns as f64) / 1e6;
    let push = |timeline: &mut Vec<LeaderChange>, leader: Option<String>, by: &str| {
        if by == "advisory" || timeline.last().map(|c| &c.leader) != Some(&leader) {
            timeline.push(LeaderChange {
                at_ms: at_ms(&clock),
                leader,
                seen_by: by.to_string(),
            });
        }
    };
    let mut tick = tokio::time::interval(LEADER_POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            _ = stopped(&mut stop) => break,
            Some(m) = next_advisory(&mut advisories) => {
                if let Some(leader) = advisory_leader(&m.payload) {
                    push(&mut timeline, Some(leader), "advisory");
                }
            }
            _ = tick.tick() => {
                let leader = majority_leader(&nodes, &stream).await;
                push(&mut timeline, leader, "poll");
            }
        }
    }
    timeline
}

/// Resolves once `stop` turns true (the borrow it takes is dropped inside, so the loops that
/// select on it stay `Send`).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

async fn next_advisory(sub: &mut Option<async_nats::Subscriber>) -> Option<async_nats::Message> {
    match sub {
        Some(s) => s.next().await,
        None => std::future::pending().await,
    }
}

fn advisory_leader(payload: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Elected {
        leader: String,
    }
    serde_json::from_slice::<Elected>(payload)
        .ok()
        .map(|e| e.leader)
}

/// The stream's leader as its info says, `None` when it names none or does not answer in time.
pub async fn poll_leader(js: &jetstream::Context, stream: &str) -> Option<String> {
    let info = async {
        let mut s = js.get_stream(stream).await.ok()?;
        let info = s.info().await.ok()?;
        info.cluster.as_ref()?.leader.clone()
    };
    tokio::time::timeout(INFO_TIMEOUT, info)
        .await
        .ok()
        .flatten()
}

/// The stream's leader as a majority of all the nodes sees it (each node's `/jsz`, asked at
/// once); `None` when no leader has a majority — an election, nodes down, a split with no
/// majority side — or too few nodes answered.
pub async fn majority_leader(nodes: &[Node], stream: &str) -> Option<String> {
    let views = futures::future::join_all(nodes.iter().map(|n| node_view(n, stream))).await;
    majority(&views, nodes.len())
}

/// Whom `n` names as the stream's leader; `None` when it names none or does not answer in time.
async fn node_view(n: &Node, stream: &str) -> Option<String> {
    let url = n.monitor_url.as_deref()?;
    let jsz = tokio::time::timeout(
        INFO_TIMEOUT,
        monitor::get_json::<monitor::Jsz>(url, "/jsz?streams=true"),
    )
    .await
    .ok()?
    .ok()?;
    let leader = jsz.stream(stream)?.cluster.as_ref()?.leader.clone();
    (!leader.is_empty()).then_some(leader)
}

/// The name more than half of `nodes` nodes give, if any.
fn majority(views: &[Option<String>], nodes: usize) -> Option<String> {
    let named = views.iter().flatten();
    named
        .clone()
        .find(|l| named.clone().filter(|m| m == l).count() > nodes / 2)
        .cloned()
}

/// One node's figures at one moment (`/varz`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct NodeSample {
    pub at_ms: f64,
    /// Percent of one core.
    pub cpu: f64,
    pub mem_bytes: u64,
    pub in_msgs: u64,
    pub out_msgs: u64,
}

/// Samples every node's `/varz` until `stop` turns true, and once more then (a short phase
/// still gets a sample from its end); one series per node (a node that does not answer —
/// paused, killed — has no sample for that moment).
pub async fn sample_nodes(
    nodes: Vec<Node>,
    clock: Clock,
    origin_ns: u64,
    mut stop: watch::Receiver<bool>,
) -> Vec<Vec<NodeSample>> {
    let mut series = vec![Vec::new(); nodes.len()];
    let mut tick = tokio::time::interval(VARZ_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            _ = stopped(&mut stop) => break,
            _ = tick.tick() => sample_once(&nodes, clock, origin_ns, &mut series).await,
        }
    }
    sample_once(&nodes, clock, origin_ns, &mut series).await;
    series
}

/// One `/varz` sample of every node that answers.
async fn sample_once(nodes: &[Node], clock: Clock, origin_ns: u64, series: &mut [Vec<NodeSample>]) {
    let at_ms = (clock.now_ns() as f64 - origin_ns as f64) / 1e6;
    for (i, n) in nodes.iter().enumerate() {
        let Some(url) = &n.monitor_url else { continue };
        if let Ok(v) = monitor::get_json::<monitor::Varz>(url, "/varz").await {
            series[i].push(NodeSample {
                at_ms,
                cpu: v.cpu,
                mem_bytes: v.mem,
                in_msgs: v.in_msgs,
                out_msgs: v.out_msgs,
            });
        }
    }
}

/// Each node's own replica of the stream after the run, and whether they agree.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReplicaSurvey {
    /// Per node: its name and its replica's state (`None`: it holds none, or did not answer).
    pub nodes: Vec<NodeReplica>,
    /// Every node answered and all states are equal.
    pub agree: bool,
    /// How long jsbench waited for them to agree, ms.
    pub waited_ms: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeReplica {
    pub node: String,
    pub state: Option<StreamState>,
    /// Why there is no state, when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Asks every node for its replica of `stream` until they all agree or `limit` has passed.
/// Replicas catch up after a fault heals, so disagreement is only reported once they had time.
pub async fn survey_replicas(nodes: &[Node], stream: &str, limit: Duration) -> ReplicaSurvey {
    let started = std::time::Instant::now();
    loop {
        let mut survey = ReplicaSurvey::default();
        for n in nodes {
            survey.nodes.push(replica_of(n, stream).await);
        }
        let states: Vec<Option<StreamState>> = survey.nodes.iter().map(|n| n.state).collect();
        survey.agree =
            states.iter().all(|s| s.is_some()) && states.windows(2).all(|w| w[0] == w[1]);
        survey.waited_ms = started.elapsed().as_secs_f64() * 1e3;
        if survey.agree || started.elapsed() >= limit {
            return survey;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn replica_of(n: &Node, stream: &str) -> NodeReplica {
    let mut r = NodeReplica {
        node: n.name.clone(),
        state: None,
        error: None,
    };
    let Some(url) = &n.monitor_url else {
        r.error = Some("no monitoring endpoint".into());
        return r;
    };
    match monitor::get_json::<monitor::Jsz>(url, "/jsz?streams=true").await {
        Ok(jsz) => match jsz.stream(stream) {
            Some(s) => r.state = Some(s.state),
            None => r.error = Some("holds no replica of the stream".into()),
        },
        Err(e) => r.error = Some(e),
    }
    r
}

/// Everything observed of a cluster in one run (`cluster` in result.json is built from it).
#[derive(Debug, Clone, Default)]
pub struct ClusterRecord {
    /// The nodes' names, by index.
    pub nodes: Vec<String>,
    /// Each connection's primary node, by name.
    pub primaries: Vec<String>,
    /// The stream's leader when publishing started.
    pub leader_at_start: Option<String>,
    pub leaders: Vec<LeaderChange>,
    /// Per node, its `/varz` samples.
    pub samples: Vec<Vec<NodeSample>>,
    /// Each node's replica after the run; `None` when the run did not get that far.
    pub replicas: Option<ReplicaSurvey>,
}

#[cfg(test)]
mod tests {
    use super::majority;

    #[test]
    fn the_leader_is_the_one_a_majority_of_all_nodes_names() {
        let v = |names: &[Option<&str>]| -> Vec<Option<String>> {
            names.iter().map(|n| n.map(String::from)).collect()
        };
        // A cut-off leader goes on naming itself; the other two have elected n1.
        assert_eq!(
            majority(&v(&[Some("n0"), Some("n1"), Some("n1")]), 3),
            Some("n1".into())
        );
        // Two of three unreachable: one view is no majority of the cluster.
        assert_eq!(majority(&v(&[Some("n0"), None, None]), 3), None);
        // An election in progress.
        assert_eq!(majority(&v(&[Some("n0"), Some("n1"), None]), 3), None);
        assert_eq!(majority(&v(&[Some("n2"); 3]), 3), Some("n2".into()));
        // 5 nodes: 3 needed.
        assert_eq!(
            majority(&v(&[Some("n0"), Some("n0"), Some("n4"), None, None]), 5),
            None
        );
    }
}
