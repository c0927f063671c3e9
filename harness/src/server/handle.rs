//! [`Server`]: the server of one run as the rest of jsbench holds it. It starts through
//! `backend.rs` (which picks the backend), waits for a cluster to be ready (`ready.rs`), and
//! hands every action to the backend that was started (`backend::Started`); it never matches on a
//! backend itself.

use std::time::Duration;

use super::backend::{self, Launched, Started};
use super::container::{self, ImageChoice};
use super::credential::Credential;
use super::error::ServerError;
use super::fault::Action;
use super::ready;
use super::spec::{Backend, Node, ServerSpec};
use crate::proxy::Toxic;

/// The server of one run. Call [`Server::stop`] when done; dropping it instead removes
/// what was started too, forcibly.
#[derive(Debug)]
pub struct Server {
    source: String,
    /// The per-run credential of a server jsbench started (None for an external one).
    credential: Option<Credential>,
    nodes: Vec<Node>,
    /// The client URLs every connection is given (see [`Server::seeds`]).
    seeds: Vec<String>,
    started: Started,
}

impl Server {
    /// Provisions the server `spec` asks for and waits until it accepts connections (a
    /// cluster: until it has elected its meta leader).
    pub async fn start(spec: &ServerSpec) -> Result<Server, ServerError> {
        let Launched {
            source,
            credential,
            nodes,
            seeds,
            started,
        } = backend::launch(spec).await?;
        // From here on, an early return drops `server`, which removes what was started.
        let server = Server {
            source,
            credential,
            nodes,
            seeds,
            started,
        };
        if server.nodes.len() > 1 {
            ready::wait_cluster_ready(&server.nodes).await?;
        }
        Ok(server)
    }

    /// The image the container backend would run (see `container/image.rs`): `explicit`, else
    /// `$JSBENCH_NATS_IMAGE`, else the official image, else the local one, built if need be.
    pub async fn resolve_image(
        explicit: Option<&str>,
        pull_timeout: Duration,
    ) -> Result<ImageChoice, ServerError> {
        container::resolve(explicit, pull_timeout).await
    }

    /// The meta leader every node agrees on, once it sees every other node online and current
    /// (only then can a replicated stream be placed), or why there is none yet.
    pub async fn meta_leader(&self) -> Result<String, String> {
        ready::meta_leader(&self.nodes).await
    }

    /// The client URL of node 0, e.g. `nats://127.0.0.1:34567` (an external server: its first
    /// seed).
    pub fn url(&self) -> &str {
        &self.nodes[0].url
    }

    /// Every node: 1 for a single server (or an external one), `nodes` for a cluster.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The client URLs a connection is given, so it can fail over among them: every node's, in
    /// node order, for a server jsbench started; the seed list (`server.url`, comma-separated)
    /// for an external one, whose nodes jsbench does not know.
    pub fn seeds(&self) -> &[String] {
        &self.seeds
    }

    /// The backend actually used (never [`Backend::Auto`]).
    pub fn backend(&self) -> Backend {
        self.started.backend()
    }

    /// How the server was obtained, for reports and logs.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Node 0's nats-server child pid (process backend): after a restart the new child's,
    /// after a kill (until started again) the killed one's.
    pub fn pid(&self) -> Option<u32> {
        self.node_pid(0)
    }

    /// Node `i`'s pid (process backend).
    pub fn node_pid(&self, i: usize) -> Option<u32> {
        self.started.node_pid(i)
    }

    /// Node `i`'s nats-server as a process of this host (the process backend's child, or a
    /// container's main process), for its CPU time; `None` for an external server or when the
    /// container's pid is not a host pid.
    pub async fn node_host_pid(&self, i: usize) -> Option<u32> {
        self.started.node_host_pid(i).await
    }

    /// The per-run credential of a server jsbench started; None for an external server.
    pub fn credential(&self) -> Option<&Credential> {
        self.credential.as_ref()
    }

    /// Node 0's monitoring endpoint; None for an external server.
    pub fn monitor_url(&self) -> Option<&str> {
        self.nodes[0].monitor_url.as_deref()
    }

    /// Node 0's container id (container backend).
    pub fn container_id(&self) -> Option<String> {
        self.node_container_id(0)
    }

    /// Node `i`'s container id (container backend).
    pub fn node_container_id(&self, i: usize) -> Option<String> {
        self.started.node_container_id(i)
    }

    /// Options to connect to this server: auth and TLS applied for an external server, the
    /// per-run credential for the servers jsbench starts. Async because async-nats reads a
    /// credentials file asynchronously.
    pub async fn connect_options(&self) -> Result<async_nats::ConnectOptions, ServerError> {
        self.started
            .connect_options(&self.seeds, self.credential.as_ref())
            .await
    }

    /// Freezes node `i`: SIGSTOP to the process, `docker pause` for a container. Connections
    /// stay open, nothing is answered. Returns once the freeze is in effect.
    pub async fn pause_node(&self, i: usize) -> Result<(), ServerError> {
        self.started.act(i, Action::Pause).await
    }

    /// Undoes [`Server::pause_node`]: SIGCONT / `docker unpause`.
    pub async fn resume_node(&self, i: usize) -> Result<(), ServerError> {
        self.started.act(i, Action::Resume).await
    }

    /// kill -9 of node `i`: SIGKILL to the process / `docker kill` of the container (also when
    /// paused). The JetStream store is kept. Returns once the node is dead (reaped).
    pub async fn kill_node(&self, i: usize) -> Result<(), ServerError> {
        self.started.act(i, Action::Kill).await
    }

    /// Starts node `i` again after a kill, on the same store and the same client URL, and
    /// waits until it accepts connections.
    pub async fn start_again_node(&self, i: usize) -> Result<(), ServerError> {
        self.started.act(i, Action::StartAgain).await
    }

    /// Graceful restart of node `i`: SIGTERM and a bounded wait for the exit (then SIGKILL) /
    /// `docker stop` with a grace period; then as [`Server::start_again_node`].
    pub async fn restart_node(&self, i: usize) -> Result<(), ServerError> {
        self.started.act(i, Action::Restart).await
    }

    /// [`Server::pause_node`] of node 0.
    pub async fn pause(&self) -> Result<(), ServerError> {
        self.pause_node(0).await
    }

    /// [`Server::resume_node`] of node 0.
    pub async fn resume(&self) -> Result<(), ServerError> {
        self.resume_node(0).await
    }

    /// [`Server::kill_node`] of node 0.
    pub async fn kill(&self) -> Result<(), ServerError> {
        self.kill_node(0).await
    }

    /// [`Server::start_again_node`] of node 0.
    pub async fn start_again(&self) -> Result<(), ServerError> {
        self.start_again_node(0).await
    }

    /// [`Server::restart_node`] of node 0.
    pub async fn restart(&self) -> Result<(), ServerError> {
        self.restart_node(0).await
    }

    /// Sets (`on`) or heals `toxic` on the route links between nodes `a` and `b` (both ways):
    /// `Toxic::Timeout` cuts them (a blackhole, as a partition drops packets), `Toxic::Latency`
    /// slows them. Process-backend clusters only: there every route goes through a proxy.
    pub fn set_route_toxic(
        &self,
        a: usize,
        b: usize,
        toxic: Toxic,
        on: bool,
    ) -> Result<(), ServerError> {
        self.started.set_route_toxic(a, b, toxic, on)
    }

    /// Cuts (`on`) or heals every route between the nodes of `side` and the others: a network
    /// partition. Clients keep their links (cutting those is the client proxies' business).
    /// Process backend: a blackhole on each route proxy across the cut, which behaves like a
    /// partition that drops packets (TCP retransmits once it heals); any split. Container
    /// backend: the node alone on its side leaves the cluster's routes network (and joins it
    /// again), so one side must be a single node (any 2-way split of 3 nodes is); other splits
    /// fail with [`ServerError::ClusterUnsupported`]. A side that is empty or holds every node
    /// cuts nothing.
    pub async fn partition(&self, side: &[usize], on: bool) -> Result<(), ServerError> {
        if let Some(&bad) = side.iter().find(|&&i| i >= self.nodes.len()) {
            return Err(ServerError::NoSuchNode {
                node: bad,
                nodes: self.nodes.len(),
            });
        }
        self.started.partition(side, on).await
    }

    /// The fault filesystem under node `i`'s store: a process-backend server started with
    /// `ServerSpec::faultfs` (disk faults act on it).
    pub fn disk(&self, i: usize) -> Result<&crate::faultfs::Mount, ServerError> {
        self.started.disk(i)
    }

    /// Makes everything written so far durable on every node's fault filesystem (like sync(2)),
    /// so that a later power loss drops only what was written after this moment. Returns how
    /// many disks were checkpointed (0 without fault filesystems).
    pub fn checkpoint_disks(&self) -> Result<usize, ServerError> {
        let mut done = 0;
        for i in 0..self.nodes.len() {
            if let Ok(disk) = self.started.disk(i) {
                disk.checkpoint()
                    .map_err(|source| ServerError::FaultFs { node: i, source })?;
                done += 1;
            }
        }
        Ok(done)
    }

    /// Stops and removes what was started (gracefully, then forcibly), whatever state a
    /// fault left it in (paused, killed); a no-op for an external server.
    pub async fn stop(self) -> Result<(), ServerError> {
        self.started.stop().await
    }
}
