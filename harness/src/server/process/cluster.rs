//! The process backend's server as a whole: one nats-server child, or a cluster of 2 or more
//! whose routes all run through the fault proxies of a [`RouteMesh`] (`mesh.rs`).
//!
//! The mesh is started before the nodes, because every node's config names the proxies it
//! dials; then the nodes start in parallel, each on a temp dir of its own.

use std::path::Path;

use futures::future::join_all;

use super::mesh::RouteMesh;
use super::node::ProcessServer;
use crate::server::config::{node_configs, node_name};
use crate::server::credential::Credential;
use crate::server::error::ServerError;
use crate::server::fault::Action;
use crate::server::spec::{Backend, Node, ServerSpec};

/// The nodes of one process-backend server and, for a cluster, the proxies between them.
pub(crate) struct ProcessCluster {
    // Declared before `mesh`: the nodes go first, then the proxies they dialled.
    nodes: Vec<ProcessServer>,
    /// The route proxies of a cluster; None for a single server.
    mesh: Option<RouteMesh>,
}

impl ProcessCluster {
    /// Starts `n` nodes (at least one) of `bin` admitting only `credential`, and waits until
    /// each accepts connections. `seed` drives the jitter of route latency faults. An early
    /// return drops the nodes that did start, which kills them.
    pub(crate) async fn start(
        bin: &Path,
        spec: &ServerSpec,
        credential: &Credential,
    ) -> Result<ProcessCluster, ServerError> {
        let (n, sync, seed) = (spec.nodes.max(1), spec.sync, spec.seed);
        let mesh = if n > 1 {
            Some(RouteMesh::start(n, seed).await?)
        } else {
            None
        };
        let configs = match &mesh {
            Some(m) => {
                let listen = |i| m.listen(i);
                let routes = |i| m.routes_of(i);
                node_configs(n, sync, credential, Some((&listen, &routes)))
            }
            None => node_configs(n, sync, credential, None),
        };
        let started = join_all(
            configs
                .iter()
                .enumerate()
                .map(|(i, c)| ProcessServer::start(bin, c, spec.faultfs.then_some(i))),
        )
        .await;
        let mut nodes = Vec::with_capacity(n);
        for s in started {
            nodes.push(s?);
        }
        Ok(ProcessCluster { nodes, mesh })
    }

    /// How the rest of jsbench addresses each node.
    pub(crate) fn nodes(&self) -> Vec<Node> {
        self.nodes
            .iter()
            .enumerate()
            .map(|(index, p)| Node {
                index,
                name: node_name(index),
                url: p.url().to_string(),
                monitor_url: Some(p.monitor_url().to_string()),
            })
            .collect()
    }

    /// Node `i`'s current nats-server pid.
    pub(crate) fn pid(&self, i: usize) -> Option<u32> {
        self.nodes.get(i).map(ProcessServer::pid)
    }

    /// Applies a fault action to node `i`.
    pub(crate) async fn act(&self, i: usize, action: Action) -> Result<(), ServerError> {
        let node = self.nodes.get(i).ok_or(ServerError::NoSuchNode {
            node: i,
            nodes: self.nodes.len(),
        })?;
        node.act(action).await
    }

    /// The fault filesystem under node `i`'s store (started with `ServerSpec::faultfs`).
    pub(crate) fn disk(&self, i: usize) -> Result<&crate::faultfs::Mount, ServerError> {
        let node = self.nodes.get(i).ok_or(ServerError::NoSuchNode {
            node: i,
            nodes: self.nodes.len(),
        })?;
        node.disk().ok_or(ServerError::NoFaultFs {
            backend: Backend::Process,
        })
    }

    /// The route proxies, when this is a cluster.
    pub(crate) fn mesh(&self) -> Option<&RouteMesh> {
        self.mesh.as_ref()
    }

    /// Stops every node (gracefully, then forcibly), then the route proxies; the first error
    /// is returned once everything was tried.
    pub(crate) async fn stop(self) -> Result<(), ServerError> {
        let mut first_err = None;
        for p in self.nodes {
            if let Err(e) = p.stop().await {
                first_err.get_or_insert(e);
            }
        }
        if let Some(m) = self.mesh {
            m.stop().await;
        }
        first_err.map_or(Ok(()), Err)
    }
}

impl std::fmt::Debug for ProcessCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessCluster")
            .field("nodes", &self.nodes)
            .field("routed", &self.mesh.is_some())
            .finish()
    }
}
