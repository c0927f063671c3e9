//! The container backend's server as a whole: one container, or a cluster of 2 to
//! [`MAX_NODES`] containers of the same image on Docker networks of its own (`network.rs`), with
//! the partitions that can be made between them.
//!
//! Every node runs the same kind of config as on the process backend (`server/config.rs`, copied
//! into the container, never on a command line), listens for routes on `0.0.0.0:6222` inside its
//! container and dials the others as `n<j>:6222`, the aliases they have on the cluster's routes
//! network. Only the client and monitoring ports are published, on 127.0.0.1 (`node.rs`); the
//! route port is reachable on the routes network only.
//!
//! A partition takes a node off the routes network (its routes break; nothing else changes, its
//! published ports included, so clients keep their links) and heals by putting it back under its
//! alias. That isolates exactly one node from all others, so a partition is supported when one of
//! its two sides is a single node; for other splits both sides would need a network of their own.

use futures::future::join_all;

use super::create::{create_cluster_node, start_single};
use super::network::RunNetworks;
use super::node::ContainerServer;
use crate::server::config::{node_configs, node_name, NodeConfig, SyncInterval};
use crate::server::credential::Credential;
use crate::server::error::ServerError;
use crate::server::fault::Action;
use crate::server::spec::{Backend, Node, MAX_NODES};

/// The port nodes listen on for routes, inside their containers.
const ROUTE_PORT: u16 = 6222;

/// The containers of one server and, for a cluster, its networks.
#[derive(Debug)]
pub(crate) struct ContainerCluster {
    // Declared before `networks`: fields drop in declaration order, and a network can only be
    // removed once its containers are gone.
    nodes: Vec<ContainerServer>,
    networks: Option<RunNetworks>,
}

impl ContainerCluster {
    /// Starts `n` containers (at least one) of `image` admitting only `credential`: a cluster
    /// whose routes dial the other nodes by their aliases when there are several.
    pub(crate) async fn start(
        image: &str,
        n: usize,
        sync: SyncInterval,
        credential: &Credential,
    ) -> Result<ContainerCluster, ServerError> {
        let n = n.max(1);
        let configs = if n > 1 {
            let listen = |_: usize| format!("0.0.0.0:{ROUTE_PORT}");
            let routes = |i: usize| routes_of(n, i);
            node_configs(n, sync, credential, Some((&listen, &routes)))
        } else {
            node_configs(n, sync, credential, None)
        };
        Self::start_configs(image, &configs).await
    }

    /// Starts one container per config (a cluster on networks of its own when there are
    /// several) and waits until each greets on its published client port. Whatever was
    /// created is removed if this fails or is cancelled midway.
    async fn start_configs(
        image: &str,
        configs: &[NodeConfig],
    ) -> Result<ContainerCluster, ServerError> {
        if configs.len() > MAX_NODES {
            return Err(ServerError::ClusterUnsupported {
                backend: Backend::Container,
                reason: format!(
                    "{} nodes asked for, but jsbench starts clusters of at most {MAX_NODES}; \
                     ask for fewer nodes",
                    configs.len()
                ),
            });
        }
        let mut cluster = ContainerCluster {
            nodes: Vec::with_capacity(configs.len()),
            networks: None,
        };
        if let [single] = configs {
            cluster.nodes.push(start_single(image, single).await?);
            return Ok(cluster);
        }
        let networks = cluster.networks.insert(RunNetworks::create().await?);
        // Every node created and attached before any starts (`create.rs`), in parallel.
        let created = join_all(
            configs
                .iter()
                .map(|c| create_cluster_node(image, c, networks.attachment(&c.name)))
                .collect::<Vec<_>>(),
        )
        .await;
        for node in created {
            // An early return drops `cluster`: the nodes created so far, then the networks.
            cluster.nodes.push(node?);
        }
        // Started together, so that their routes connect from the first attempt.
        let started = join_all(cluster.nodes.iter().map(ContainerServer::start_created)).await;
        started.into_iter().collect::<Result<(), _>>()?;
        Ok(cluster)
    }

    /// How the rest of jsbench addresses each node.
    pub(crate) fn nodes(&self) -> Vec<Node> {
        self.nodes
            .iter()
            .enumerate()
            .map(|(index, c)| Node {
                index,
                name: node_name(index),
                url: c.url().to_string(),
                monitor_url: Some(c.monitor_url().to_string()),
            })
            .collect()
    }

    /// Node `i`'s container.
    pub(crate) fn node(&self, i: usize) -> Option<&ContainerServer> {
        self.nodes.get(i)
    }

    /// Applies a fault action to node `i`.
    pub(crate) async fn act(&self, i: usize, action: Action) -> Result<(), ServerError> {
        let node = self.nodes.get(i).ok_or(ServerError::NoSuchNode {
            node: i,
            nodes: self.nodes.len(),
        })?;
        node.act(action).await
    }

    /// Cuts (`on`) or heals the routes between the nodes of `side` and the others (indices
    /// already checked): the one node on its own side leaves the routes network, or rejoins it.
    pub(crate) async fn partition(&self, side: &[usize], on: bool) -> Result<(), ServerError> {
        if self.networks.is_none() {
            return Err(ServerError::ClusterUnsupported {
                backend: Backend::Container,
                reason: "partitions need a cluster; start the server with 2 or more nodes".into(),
            });
        }
        match lone_node(self.nodes.len(), side)? {
            Some(i) => self.nodes[i].set_routes(!on).await,
            // One side is empty: there is nothing between the sides to cut.
            None => Ok(()),
        }
    }

    /// Stops and removes every container (in parallel), then the networks.
    pub(crate) async fn stop(mut self) -> Result<(), ServerError> {
        let nodes = std::mem::take(&mut self.nodes);
        let stopped = join_all(nodes.into_iter().map(ContainerServer::stop)).await;
        let mut first_err = stopped.into_iter().find_map(Result::err);
        if let Some(networks) = self.networks.take() {
            if let Err(e) = networks.remove().await {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}

/// The route addresses node `i` of `n` dials: every other node by its alias (its name).
fn routes_of(n: usize, i: usize) -> Vec<String> {
    (0..n)
        .filter(|&j| j != i)
        .map(|j| format!("{}:{ROUTE_PORT}", node_name(j)))
        .collect()
}

/// The node that is alone on its side of a partition of `side` from the rest of `n` nodes
/// (the one in `side` when both sides are single nodes); None when a side is empty. An error
/// when neither side is a single node: taking several nodes off the routes network would cut
/// them from each other too, which is not the partition asked for.
fn lone_node(n: usize, side: &[usize]) -> Result<Option<usize>, ServerError> {
    let mut inside: Vec<usize> = side.to_vec();
    inside.sort_unstable();
    inside.dedup();
    let outside: Vec<usize> = (0..n).filter(|i| !inside.contains(i)).collect();
    match (inside.as_slice(), outside.as_slice()) {
        ([], _) | (_, []) => Ok(None),
        ([one], _) | (_, [one]) => Ok(Some(*one)),
        _ => Err(ServerError::ClusterUnsupported {
            backend: Backend::Container,
            reason: format!(
                "cannot partition nodes {inside:?} from {outside:?}: on containers one side \
                 of a partition must be a single node (it leaves the cluster's routes \
                 network); isolate one node at a time, or use the process backend for this split"
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_name_every_other_node_by_alias() {
        assert_eq!(routes_of(3, 1), ["n0:6222", "n2:6222"]);
        assert_eq!(routes_of(2, 0), ["n1:6222"]);
    }

    #[test]
    fn a_partition_isolates_the_single_node_side() {
        assert_eq!(lone_node(3, &[1]).unwrap(), Some(1));
        assert_eq!(lone_node(3, &[0, 2]).unwrap(), Some(1));
        assert_eq!(lone_node(3, &[2, 0, 2]).unwrap(), Some(1));
        assert_eq!(lone_node(2, &[1]).unwrap(), Some(1));
        assert_eq!(lone_node(5, &[0, 1, 2, 4]).unwrap(), Some(3));
        assert_eq!(lone_node(3, &[]).unwrap(), None);
        assert_eq!(lone_node(3, &[0, 1, 2]).unwrap(), None);
        let err = lone_node(5, &[0, 1]).unwrap_err().to_string();
        assert!(err.contains("single node"), "{err}");
    }
}
