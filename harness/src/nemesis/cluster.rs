//! Cluster faults: a partition (the selected nodes cut off from the others, their client links
//! kept or cut), latency on the routes between nodes, and a stream leader step-down.
//!
//! A partition's route side is the server's business ([`Server::partition`]: blackholed route
//! proxies on the process backend, a left network on the container backend); its client side,
//! when cut, is the client proxies' (`Down` on every connection's proxy to a cut-off node, so
//! clients fail over to the other nodes).

use std::future::Future;
use std::time::Duration;

use super::{Clients, Fault, FaultKind, FaultPlan, FaultWindow, StreamRef};
use crate::proxy::{Direction, Proxy, Toxic};
use crate::server::Server;

/// What a cluster fault acts on.
pub(super) struct Cluster<'a> {
    pub(super) server: &'a Server,
    /// Per client connection, one proxy per node.
    pub(super) proxies: &'a [Vec<Proxy>],
    pub(super) stream: Option<StreamRef<'a>>,
}

impl Cluster<'_> {
    /// Injects one occurrence on `nodes` and heals it when `held` completes.
    pub(super) async fn inject(
        &self,
        f: &FaultPlan,
        nodes: &[usize],
        held: impl Future<Output = bool>,
        w: &mut FaultWindow,
        now_ms: impl Fn() -> f64,
    ) {
        match f.fault {
            Fault::LeaderStepdown => {
                if let Err(e) = self.step_down().await {
                    w.error = Some(e);
                }
                w.end_ms = now_ms();
                return;
            }
            Fault::Partition { clients } => {
                if let Err(e) = self.partition(nodes, clients, true).await {
                    w.error = Some(format!("partition failed: {e}"));
                }
            }
            Fault::RouteLatency { .. } => self.route_latency(f, nodes, true, w),
            _ => unreachable!("not a cluster fault: {:?}", f.fault),
        }
        w.truncated = !held.await && f.schedule.duration.is_some();
        match f.fault {
            Fault::Partition { clients } => {
                if let Err(e) = self.partition(nodes, clients, false).await {
                    w.error = Some(format!("healing the partition failed: {e}"));
                }
            }
            _ => self.route_latency(f, nodes, false, w),
        }
        w.end_ms = now_ms();
    }

    /// Cuts (or heals) the routes between `side` and the other nodes, and with
    /// `Clients::Cut` every client link to the nodes of `side`.
    async fn partition(&self, side: &[usize], clients: Clients, on: bool) -> Result<(), String> {
        if clients == Clients::Cut {
            for per_node in self.proxies {
                for &i in side {
                    if let Some(p) = per_node.get(i) {
                        if on {
                            p.set(Direction::Both, Toxic::Down);
                        } else {
                            p.heal(Direction::Both, Toxic::Down);
                        }
                    }
                }
            }
        }
        self.server
            .partition(side, on)
            .await
            .map_err(|e| e.to_string())
    }

    /// Sets (or heals) the latency on every route between `nodes` and the others (all routes
    /// when `nodes` is every node).
    fn route_latency(&self, f: &FaultPlan, nodes: &[usize], on: bool, w: &mut FaultWindow) {
        let Some(toxic) = f.fault.route_toxic() else {
            return;
        };
        let n = self.server.nodes().len();
        for a in 0..n {
            for b in (a + 1)..n {
                let crosses = nodes.len() == n || nodes.contains(&a) != nodes.contains(&b);
                if !crosses {
                    continue;
                }
                if let Err(e) = self.server.set_route_toxic(a, b, toxic, on) {
                    w.error = Some(format!("route latency failed: {e}"));
                    return;
                }
            }
        }
    }

    /// `$JS.API.STREAM.LEADER.STEPDOWN.<stream>`: the leader hands over to another replica.
    async fn step_down(&self) -> Result<(), String> {
        let Some(s) = self.stream else {
            return Err("leader_stepdown needs a replicated stream".into());
        };
        let subject = format!("STREAM.LEADER.STEPDOWN.{}", s.name);
        let reply: Result<serde_json::Value, _> = tokio::time::timeout(
            STEPDOWN_TIMEOUT,
            s.js.request(subject, &serde_json::json!({})),
        )
        .await
        .map_err(|_| format!("the step-down request got no answer within {STEPDOWN_TIMEOUT:?}"))?;
        match reply {
            Ok(v) if v.get("error").is_none() => Ok(()),
            Ok(v) => Err(format!("the step-down was refused: {}", v["error"])),
            Err(e) => Err(format!("the step-down request failed: {e}")),
        }
    }
}

const STEPDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// What a fault on nodes acted on, for its window: "leader n1", "nodes n0, n2".
pub(super) fn describe_nodes(server: &Server, nodes: &[usize], kind: FaultKind) -> String {
    if kind == FaultKind::LeaderStepdown {
        return "stream leader".into();
    }
    let names: Vec<&str> = nodes
        .iter()
        .map(|&i| server.nodes()[i].name.as_str())
        .collect();
    match names.as_slice() {
        [] => "no node".into(),
        [one] => format!("node {one}"),
        many => format!("nodes {}", many.join(", ")),
    }
}
