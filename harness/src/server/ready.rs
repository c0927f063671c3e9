//! When a cluster jsbench started is ready to be published to, judged the same way on every
//! backend: through each node's monitoring endpoint (`monitor.rs`), not through anything a
//! backend knows about its own processes or containers.
//!
//! Ready means every node sees the same meta leader of a cluster of all the nodes, and has a
//! route to every other node. The meta leader alone is not enough: it can be agreed through one
//! node while the route between two others is still being retried, and until it is up, messages
//! between those two go nowhere (routes are not transitive).

use std::time::Duration;

use super::error::ServerError;
use super::monitor;
use super::spec::Node;

/// How long a cluster may take to elect its meta leader after its nodes are up.
const CLUSTER_READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Waits until the cluster of `nodes` is ready (module docs), or fails after
/// [`CLUSTER_READY_TIMEOUT`] saying what it was still waiting for.
pub(crate) async fn wait_cluster_ready(nodes: &[Node]) -> Result<(), ServerError> {
    let deadline = tokio::time::Instant::now() + CLUSTER_READY_TIMEOUT;
    loop {
        let ready = match meta_leader(nodes).await {
            Ok(leader) => routes_complete(nodes).await.map(|()| leader),
            Err(why) => Err(why),
        };
        let why = match ready {
            Ok(leader) => {
                tracing::debug!(
                    "cluster of {} nodes ready, meta leader {leader}",
                    nodes.len()
                );
                return Ok(());
            }
            Err(why) => why,
        };
        if tokio::time::Instant::now() >= deadline {
            return Err(ServerError::ClusterNotReady {
                secs: CLUSTER_READY_TIMEOUT.as_secs(),
                what: why,
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Ok when every node reports a route to every other node, else which one is missing. A
/// server too old to name the far end of its routes (before 2.10) is taken at its word.
async fn routes_complete(nodes: &[Node]) -> Result<(), String> {
    for n in nodes {
        let Some(m) = &n.monitor_url else {
            return Err(format!("node {} has no monitoring endpoint", n.name));
        };
        let routez: monitor::Routez = monitor::get_json(m, "/routez").await?;
        if routez.routes.iter().any(|r| r.remote_name.is_empty()) {
            continue;
        }
        let missing = nodes
            .iter()
            .find(|o| o.name != n.name && !routez.routes.iter().any(|r| r.remote_name == o.name));
        if let Some(o) = missing {
            return Err(format!(
                "node {} has no route to node {} yet",
                n.name, o.name
            ));
        }
    }
    Ok(())
}

/// The meta leader every node agrees on, once it sees every other node online and current
/// (only then can a replicated stream be placed), or why there is none yet.
pub(crate) async fn meta_leader(nodes: &[Node]) -> Result<String, String> {
    let mut leaders = Vec::new();
    for n in nodes {
        let meta = meta_of(n).await?;
        if meta.leader.is_empty() || meta.cluster_size < nodes.len() {
            return Err(format!(
                "node {}: meta leader {:?}, cluster size {}",
                n.name, meta.leader, meta.cluster_size
            ));
        }
        if meta.leader == n.name {
            if let Some(p) = meta.replicas.iter().find(|p| p.offline || !p.current) {
                return Err(format!("the meta leader sees {} not current yet", p.name));
            }
        }
        leaders.push(meta.leader);
    }
    leaders.dedup();
    match leaders.as_slice() {
        [one] => Ok(one.clone()),
        many => Err(format!("nodes disagree on the meta leader: {many:?}")),
    }
}

async fn meta_of(n: &Node) -> Result<monitor::MetaCluster, String> {
    let Some(m) = &n.monitor_url else {
        return Err(format!("node {} has no monitoring endpoint", n.name));
    };
    let jsz: monitor::Jsz = monitor::get_json(m, "/jsz").await?;
    Ok(jsz.meta_cluster.unwrap_or_default())
}
