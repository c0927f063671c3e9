//! Server provisioning: starts (or attaches to) the NATS server a run publishes to.
//!
//! Every run gets its own ephemeral server unless the user points jsbench at an
//! external URL. Three backends:
//! - `process`: a `nats-server` child process on a free loopback port with a temp store dir
//!   (see [`find_or_fetch_binary`] for where the binary comes from);
//! - `container`: a container started through testcontainers;
//! - `external`: an existing server or cluster; nothing is started or stopped.
//!
//! `auto` resolves to `container` when a Docker engine answers and the image is present
//! (or pullable), else to `process`. The returned [`Server`] records which backend was used
//! and how the server was obtained, and removes what it started when stopped or dropped
//! (also on panic). If jsbench itself is killed, the kernel kills a process server
//! (`PR_SET_PDEATHSIG`), and [`kill_orphans`] removes containers left behind.
//!
//! A server jsbench starts may be a cluster of `nodes` (up to [`MAX_NODES`]): nodes named `n0`…,
//! with routes between them (process backend: every route through a fault proxy of its own,
//! `cluster.rs`; container backend: Docker networks of their own, `container_cluster.rs` and
//! `network.rs`). Every node listens on loopback only (a container: publishes there) and admits
//! only the run's credential; its monitoring endpoint is known ([`Node`]).
//!
//! A server jsbench started can also be made to fail ([`ServerFault`]), node by node: paused,
//! killed (kill -9) and started again, or restarted gracefully. A node keeps its JetStream store
//! and its client URL through all of them, so clients under test can reconnect, and stopping or
//! dropping the server cleans up whatever state a fault left it in. The links between nodes can
//! be cut ([`Server::partition`], both backends) or slowed ([`Server::set_route_toxic`], process
//! backend).

mod binary;
mod cluster;
mod config;
mod container;
mod container_cluster;
mod container_node;
mod credential;
mod error;
mod external;
mod fault;
mod image;
pub mod monitor;
mod network;
mod port_hold;
mod probe;
mod process;

use std::path::PathBuf;
use std::time::Duration;

use crate::proxy::Toxic;
use cluster::RouteMesh;
use config::{ClusterConfig, NodeConfig};
use container_cluster::ContainerCluster;

pub use binary::{cache_dir, find_or_fetch_binary, pinned_binary, BIN_ENV};
pub use config::SyncInterval;
pub use container::{docker_available, kill_orphans};
pub use credential::Credential;
pub use error::ServerError;
pub use fault::ServerFault;
pub use image::ImageChoice;

use fault::Action;

/// The nats-server version jsbench pins (fetched binary, images).
pub const NATS_VERSION: &str = "2.15.1";
/// The official image real users get from Docker Hub.
pub const DEFAULT_IMAGE: &str = "nats:2.15.1";
/// The image jsbench builds locally FROM scratch when the official one cannot be had (also
/// what `docker/build-nats-image.sh` builds).
pub const LOCAL_IMAGE: &str = "jsbench/nats-server:2.15.1";
/// Environment variable overriding the default image when none is given explicitly.
pub const IMAGE_ENV: &str = "JSBENCH_NATS_IMAGE";
/// The largest cluster jsbench starts.
pub const MAX_NODES: usize = 5;
/// How long a cluster may take to elect its meta leader after its nodes are up.
const CLUSTER_READY_TIMEOUT: Duration = Duration::from_secs(30);

/// How the server for a run is provided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// Container if Docker and the image are usable, else process.
    #[default]
    Auto,
    /// A container started through testcontainers.
    Container,
    /// A `nats-server` child process.
    Process,
    /// An existing server at a given URL; nothing is started or stopped.
    External,
}

impl Backend {
    /// The lowercase name, as in configs and on the command line.
    pub fn as_str(&self) -> &'static str {
        match self {
            Backend::Auto => "auto",
            Backend::Container => "container",
            Backend::Process => "process",
            Backend::External => "external",
        }
    }

    /// Whether this backend can inject `fault`: all of them for the servers jsbench starts
    /// (auto, process, container), none for an external server it does not control.
    pub fn supports(&self, fault: ServerFault) -> bool {
        match fault {
            ServerFault::Pause | ServerFault::Kill | ServerFault::Restart => {
                *self != Backend::External
            }
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Backend {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Backend::Auto),
            "container" => Ok(Backend::Container),
            "process" => Ok(Backend::Process),
            "external" => Ok(Backend::External),
            other => Err(format!(
                "unknown server backend {other:?} (expected auto, container, process or external)"
            )),
        }
    }
}

/// Authentication and TLS for an external server (ignored by the other backends).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Auth {
    /// NATS credentials file (JWT + nkey seed).
    pub creds: Option<PathBuf>,
    /// CA certificate(s) to trust for the server's TLS certificate.
    pub tls_ca: Option<PathBuf>,
    /// Client certificate for mutual TLS (needs `tls_key`).
    pub tls_cert: Option<PathBuf>,
    /// Client key for mutual TLS (needs `tls_cert`).
    pub tls_key: Option<PathBuf>,
    /// User name (needs `password`).
    pub user: Option<String>,
    /// Password (needs `user`).
    pub password: Option<String>,
    /// Authentication token.
    pub token: Option<String>,
}

/// What server a run wants.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ServerSpec {
    /// Which backend to use; [`Backend::Auto`] picks one.
    pub backend: Backend,
    /// External only.
    pub url: Option<String>,
    /// Container only; default `$JSBENCH_NATS_IMAGE`, else [`DEFAULT_IMAGE`] (or
    /// [`LOCAL_IMAGE`] when only that one is present).
    pub image: Option<String>,
    /// External only.
    pub auth: Auth,
    /// Nodes to start (0 and 1: a single server). Not for external servers.
    pub nodes: usize,
    /// JetStream's fsync setting on every node jsbench starts.
    pub sync: SyncInterval,
    /// Drives the jitter of route latency faults.
    pub seed: u64,
}

/// For each node index: where it listens for routes, and the routes it dials.
type RoutesOf<'a> = (
    &'a dyn Fn(usize) -> String,
    &'a dyn Fn(usize) -> Vec<String>,
);

/// One node of a server: its name (the `server_name` streams report their leader by), its
/// client URL and its monitoring endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub index: usize,
    pub name: String,
    pub url: String,
    /// `http://127.0.0.1:PORT`; None for an external server.
    pub monitor_url: Option<String>,
}

/// The server of one run. Call [`Server::stop`] when done; dropping it instead removes
/// what was started too, forcibly.
#[derive(Debug)]
pub struct Server {
    backend: Backend,
    source: String,
    auth: Auth,
    /// The per-run credential of a server jsbench started (None for an external one).
    credential: Option<Credential>,
    nodes: Vec<Node>,
    kind: Kind,
}

enum Kind {
    Process {
        nodes: Vec<process::ProcessServer>,
        /// The route proxies of a cluster.
        mesh: Option<RouteMesh>,
    },
    Container(ContainerCluster),
    External,
}

impl std::fmt::Debug for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Kind::Process { nodes, mesh } => f
                .debug_struct("Process")
                .field("nodes", nodes)
                .field("routed", &mesh.is_some())
                .finish(),
            Kind::Container(c) => f.debug_tuple("Container").field(c).finish(),
            Kind::External => f.write_str("External"),
        }
    }
}

impl Server {
    /// Provisions the server `spec` asks for and waits until it accepts connections (a
    /// cluster: until it has elected its meta leader).
    pub async fn start(spec: &ServerSpec) -> Result<Server, ServerError> {
        if spec.backend != Backend::External && spec.auth != Auth::default() {
            tracing::warn!(
                "authentication/TLS settings apply to the external backend only; the {} \
                 server jsbench starts runs without them",
                spec.backend
            );
        }
        let server = match spec.backend {
            Backend::External => Self::external(spec)?,
            Backend::Process => Self::start_process(spec).await?,
            Backend::Container => {
                let choice =
                    Self::resolve_image(spec.image.as_deref(), container::PULL_TIMEOUT).await?;
                Self::start_container(spec, &choice).await?
            }
            Backend::Auto => Self::start_auto(spec).await?,
        };
        if server.nodes.len() > 1 {
            server.wait_cluster_ready().await?;
        }
        Ok(server)
    }

    fn external(spec: &ServerSpec) -> Result<Server, ServerError> {
        let url = external::check_url(spec.url.as_deref())?;
        Ok(Server {
            source: format!("external: {url}"),
            nodes: vec![Node {
                index: 0,
                name: String::new(),
                url,
                monitor_url: None,
            }],
            backend: Backend::External,
            auth: spec.auth.clone(),
            credential: None,
            kind: Kind::External,
        })
    }

    /// The image the container backend would run (see `image.rs`): `explicit`, else
    /// `$JSBENCH_NATS_IMAGE`, else the official image, else the local one, built if need be.
    pub async fn resolve_image(
        explicit: Option<&str>,
        pull_timeout: Duration,
    ) -> Result<ImageChoice, ServerError> {
        let docker = container::docker()
            .await
            .map_err(|reason| ServerError::DockerUnavailable { reason })?;
        image::resolve_image(&docker, explicit, pull_timeout).await
    }

    async fn start_auto(spec: &ServerSpec) -> Result<Server, ServerError> {
        if !docker_available().await {
            tracing::info!("server backend auto: no Docker engine answers; using process");
            return Self::start_process(spec).await;
        }
        let choice =
            match Self::resolve_image(spec.image.as_deref(), container::AUTO_PULL_TIMEOUT).await {
                Ok(choice) => choice,
                Err(e) => {
                    tracing::info!("server backend auto: Docker answers but {e}; using process");
                    return Self::start_process(spec).await;
                }
            };
        tracing::info!(
            "server backend auto: using container (Docker answers, image {} {})",
            choice.image,
            choice.how
        );
        match Self::start_container(spec, &choice).await {
            Ok(server) => Ok(server),
            Err(e) => {
                // `auto` promises a server, not a particular backend.
                tracing::warn!("server backend auto: the container failed ({e}); using process");
                Self::start_process(spec).await
            }
        }
    }

    /// The configs of `n` nodes: one without routes, or a cluster whose routes `route_of`
    /// names (the process backend's proxies, the container backend's node names).
    fn node_configs(
        spec: &ServerSpec,
        credential: &Credential,
        cluster: Option<RoutesOf<'_>>,
    ) -> Vec<NodeConfig> {
        let n = spec.nodes.max(1);
        let cluster_name = format!("jsb-{}", &Credential::generate().token()[..12]);
        let route_password = Credential::generate().token().to_string();
        (0..n)
            .map(|i| NodeConfig {
                name: format!("n{i}"),
                credential: credential.clone(),
                sync: spec.sync,
                cluster: cluster.map(|(listen, routes)| ClusterConfig {
                    name: cluster_name.clone(),
                    listen: listen(i),
                    routes: routes(i),
                    route_password: route_password.clone(),
                }),
            })
            .collect()
    }

    async fn start_process(spec: &ServerSpec) -> Result<Server, ServerError> {
        let (bin, origin) = find_or_fetch_binary().await?;
        let credential = Credential::generate();
        let n = spec.nodes.max(1);
        let mesh = if n > 1 {
            Some(RouteMesh::start(n, spec.seed).await?)
        } else {
            None
        };
        let configs = match &mesh {
            Some(m) => {
                let listen = |i| m.listen(i);
                let routes = |i| m.routes_of(i);
                Self::node_configs(spec, &credential, Some((&listen, &routes)))
            }
            None => Self::node_configs(spec, &credential, None),
        };
        let started = futures::future::join_all(
            configs
                .iter()
                .map(|c| process::ProcessServer::start(&bin, c)),
        )
        .await;
        let mut procs = Vec::with_capacity(n);
        for s in started {
            // An early return drops the nodes that did start, which kills them.
            procs.push(s?);
        }
        let nodes = procs
            .iter()
            .zip(&configs)
            .enumerate()
            .map(|(index, (p, c))| Node {
                index,
                name: c.name.clone(),
                url: p.url().to_string(),
                monitor_url: Some(p.monitor_url().to_string()),
            })
            .collect();
        let cluster = if n > 1 {
            format!(", {n} nodes")
        } else {
            String::new()
        };
        Ok(Server {
            backend: Backend::Process,
            source: format!("process: {} ({origin}){cluster}", bin.display()),
            auth: Auth::default(),
            credential: Some(credential),
            nodes,
            kind: Kind::Process { nodes: procs, mesh },
        })
    }

    /// One container, or a cluster of containers on networks of its own
    /// (`container_cluster.rs`): routes listen on the route port inside each container and dial
    /// the other nodes by their aliases on the routes network.
    async fn start_container(
        spec: &ServerSpec,
        choice: &ImageChoice,
    ) -> Result<Server, ServerError> {
        let credential = Credential::generate();
        let n = spec.nodes.max(1);
        let configs = if n > 1 {
            let listen = |_: usize| format!("0.0.0.0:{}", container_cluster::ROUTE_PORT);
            let routes = |i: usize| container_cluster::routes_of(n, i);
            Self::node_configs(spec, &credential, Some((&listen, &routes)))
        } else {
            Self::node_configs(spec, &credential, None)
        };
        let cluster = ContainerCluster::start(&choice.image, &configs).await?;
        let nodes = cluster
            .nodes()
            .iter()
            .zip(&configs)
            .enumerate()
            .map(|(index, (c, config))| Node {
                index,
                name: config.name.clone(),
                url: c.url().to_string(),
                monitor_url: Some(c.monitor_url().to_string()),
            })
            .collect();
        let size = if n > 1 {
            format!(", {n} nodes")
        } else {
            String::new()
        };
        Ok(Server {
            backend: Backend::Container,
            source: format!("container: image {} ({}){size}", choice.image, choice.how),
            auth: Auth::default(),
            credential: Some(credential),
            nodes,
            kind: Kind::Container(cluster),
        })
    }

    /// Waits until every node sees the same meta leader of a cluster of all the nodes, and
    /// has a route to every other node. The meta leader alone is not enough: it can be agreed
    /// through one node while the route between two others is still being retried, and
    /// until it is up, messages between those two go nowhere (routes are not transitive).
    async fn wait_cluster_ready(&self) -> Result<(), ServerError> {
        let deadline = tokio::time::Instant::now() + CLUSTER_READY_TIMEOUT;
        loop {
            let ready = match self.meta_leader().await {
                Ok(leader) => self.routes_complete().await.map(|()| leader),
                Err(why) => Err(why),
            };
            let why = match ready {
                Ok(leader) => {
                    tracing::debug!(
                        "cluster of {} nodes ready, meta leader {leader}",
                        self.nodes.len()
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
    async fn routes_complete(&self) -> Result<(), String> {
        for n in &self.nodes {
            let Some(m) = &n.monitor_url else {
                return Err(format!("node {} has no monitoring endpoint", n.name));
            };
            let routez: monitor::Routez = monitor::get_json(m, "/routez").await?;
            if routez.routes.iter().any(|r| r.remote_name.is_empty()) {
                continue;
            }
            let missing = self.nodes.iter().find(|o| {
                o.name != n.name && !routez.routes.iter().any(|r| r.remote_name == o.name)
            });
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
    pub async fn meta_leader(&self) -> Result<String, String> {
        let mut leaders = Vec::new();
        for n in &self.nodes {
            let meta = Self::meta_of(n).await?;
            if meta.leader.is_empty() || meta.cluster_size < self.nodes.len() {
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

    /// The client URL of node 0, e.g. `nats://127.0.0.1:34567`.
    pub fn url(&self) -> &str {
        &self.nodes[0].url
    }

    /// Every node: 1 for a single server (or an external one), `nodes` for a cluster.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The backend actually used (never [`Backend::Auto`]).
    pub fn backend(&self) -> Backend {
        self.backend
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
        match &self.kind {
            Kind::Process { nodes, .. } => nodes.get(i).map(|p| p.pid()),
            _ => None,
        }
    }

    /// Node `i`'s nats-server as a process of this host (the process backend's child, or a
    /// container's main process), for its CPU time; `None` for an external server or when the
    /// container's pid is not a host pid.
    pub async fn node_host_pid(&self, i: usize) -> Option<u32> {
        match &self.kind {
            Kind::Process { nodes, .. } => nodes.get(i).map(|p| p.pid()),
            Kind::Container(c) => c.nodes().get(i)?.host_pid().await,
            _ => None,
        }
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
        match &self.kind {
            Kind::Container(c) => c.nodes().get(i).map(|c| c.id().to_string()),
            _ => None,
        }
    }

    /// Options to connect to this server: auth and TLS applied for an external server, the
    /// per-run credential for the servers jsbench starts. Async because async-nats reads a
    /// credentials file asynchronously.
    pub async fn connect_options(&self) -> Result<async_nats::ConnectOptions, ServerError> {
        match (&self.kind, &self.credential) {
            (Kind::External, _) => external::connect_options(self.url(), &self.auth).await,
            (_, Some(c)) => Ok(c.apply(async_nats::ConnectOptions::new())),
            (_, None) => Ok(async_nats::ConnectOptions::new()),
        }
    }

    /// Applies a fault action to node `i`.
    async fn act(&self, i: usize, action: Action) -> Result<(), ServerError> {
        let missing = || ServerError::NoSuchNode {
            node: i,
            nodes: self.nodes.len(),
        };
        match &self.kind {
            Kind::Process { nodes, .. } => {
                let p = nodes.get(i).ok_or_else(missing)?;
                match action {
                    Action::Pause => p.pause().await,
                    Action::Resume => p.resume().await,
                    Action::Kill => p.kill().await,
                    Action::StartAgain => p.start_again().await,
                    Action::Restart => p.restart().await,
                }
            }
            Kind::Container(cluster) => {
                let c = cluster.nodes().get(i).ok_or_else(missing)?;
                match action {
                    Action::Pause => c.pause().await,
                    Action::Resume => c.resume().await,
                    Action::Kill => c.kill().await,
                    Action::StartAgain => c.start_again().await,
                    Action::Restart => c.restart().await,
                }
            }
            Kind::External => Err(self.unsupported(action)),
        }
    }

    /// Freezes node `i`: SIGSTOP to the process, `docker pause` for a container. Connections
    /// stay open, nothing is answered. Returns once the freeze is in effect.
    pub async fn pause_node(&self, i: usize) -> Result<(), ServerError> {
        self.act(i, Action::Pause).await
    }

    /// Undoes [`Server::pause_node`]: SIGCONT / `docker unpause`.
    pub async fn resume_node(&self, i: usize) -> Result<(), ServerError> {
        self.act(i, Action::Resume).await
    }

    /// kill -9 of node `i`: SIGKILL to the process / `docker kill` of the container (also when
    /// paused). The JetStream store is kept. Returns once the node is dead (reaped).
    pub async fn kill_node(&self, i: usize) -> Result<(), ServerError> {
        self.act(i, Action::Kill).await
    }

    /// Starts node `i` again after a kill, on the same store and the same client URL, and
    /// waits until it accepts connections.
    pub async fn start_again_node(&self, i: usize) -> Result<(), ServerError> {
        self.act(i, Action::StartAgain).await
    }

    /// Graceful restart of node `i`: SIGTERM and a bounded wait for the exit (then SIGKILL) /
    /// `docker stop` with a grace period; then as [`Server::start_again_node`].
    pub async fn restart_node(&self, i: usize) -> Result<(), ServerError> {
        self.act(i, Action::Restart).await
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
        match &self.kind {
            Kind::Process {
                mesh: Some(mesh), ..
            } => {
                mesh.set(a, b, toxic, on);
                Ok(())
            }
            _ => Err(ServerError::ClusterUnsupported {
                backend: self.backend,
                reason: "route faults need a cluster on the process backend, whose routes go \
                         through jsbench's proxies (a container cluster's routes can be cut with \
                         a partition, not slowed)"
                    .into(),
            }),
        }
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
        match &self.kind {
            Kind::Process { mesh: Some(_), .. } => {
                for &a in side {
                    for b in (0..self.nodes.len()).filter(|b| !side.contains(b)) {
                        self.set_route_toxic(a, b, Toxic::Timeout, on)?;
                    }
                }
                Ok(())
            }
            Kind::Container(cluster) => cluster.partition(side, on).await,
            _ => Err(ServerError::ClusterUnsupported {
                backend: self.backend,
                reason: "partitions need a cluster jsbench started".into(),
            }),
        }
    }

    fn unsupported(&self, action: Action) -> ServerError {
        ServerError::FaultUnsupported {
            fault: action.fault(),
            backend: self.backend,
        }
    }

    /// Stops and removes what was started (gracefully, then forcibly), whatever state a
    /// fault left it in (paused, killed); a no-op for an external server.
    pub async fn stop(self) -> Result<(), ServerError> {
        let mut first_err = None;
        match self.kind {
            Kind::Process { nodes, mesh } => {
                for p in nodes {
                    if let Err(e) = p.stop().await {
                        first_err.get_or_insert(e);
                    }
                }
                if let Some(m) = mesh {
                    m.stop().await;
                }
            }
            Kind::Container(cluster) => {
                if let Err(e) = cluster.stop().await {
                    first_err.get_or_insert(e);
                }
            }
            Kind::External => {}
        }
        first_err.map_or(Ok(()), Err)
    }
}

/// The last `n` lines of `text`, for error messages quoting a log.
fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Whether a process with this pid exists (EPERM means it exists but is not ours).
fn pid_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: kill(2) with signal 0 only checks for existence and permission.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}
