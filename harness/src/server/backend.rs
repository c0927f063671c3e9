//! Picking a backend and driving it: the one place that knows the backends side by side.
//!
//! [`launch`] starts what a [`ServerSpec`] asks for. `auto` resolves here: to `container` when a
//! Docker engine answers and the image is present (or pullable), else to `process`; and a
//! container that fails to start falls back to `process` too, because `auto` promises a server,
//! not a particular backend.
//!
//! [`Started`] is what was started, one variant per backend, and every action on a server
//! (faults, partitions, route faults, stop, what its nodes are on the host) is routed to its
//! backend in a method of it. So adding a backend, or an action, is one variant or one method
//! here plus the backend's own folder; `handle.rs` never matches on a backend.

use async_nats::ConnectOptions;

use super::binary::find_or_fetch_binary;
use super::container::{self, ContainerCluster, ImageChoice, AUTO_PULL_TIMEOUT, PULL_TIMEOUT};
use super::credential::Credential;
use super::error::ServerError;
use super::external;
use super::fault::Action;
use super::process::{ProcessCluster, RouteMesh};
use super::spec::{Auth, Backend, Node, ServerSpec};
use crate::proxy::Toxic;

/// A server just provided: how it was obtained (for reports), the credential of a server
/// jsbench started, its nodes, the client URLs a connection is given (`seeds`: every node's,
/// or an external server's seed list), and what was started.
pub(crate) struct Launched {
    pub(crate) source: String,
    pub(crate) credential: Option<Credential>,
    pub(crate) nodes: Vec<Node>,
    pub(crate) seeds: Vec<String>,
    pub(crate) started: Started,
}

/// Provisions the server `spec` asks for (module docs); each node accepts connections when
/// this returns, but a cluster may not have elected its meta leader yet.
pub(crate) async fn launch(spec: &ServerSpec) -> Result<Launched, ServerError> {
    if spec.backend != Backend::External && spec.auth != Auth::default() {
        tracing::warn!(
            "authentication/TLS settings apply to the external backend only; the {} \
             server jsbench starts runs without them",
            spec.backend
        );
    }
    match spec.backend {
        Backend::External => attach_external(spec),
        Backend::Process => launch_process(spec).await,
        Backend::Container => {
            let choice = container::resolve(spec.image.as_deref(), PULL_TIMEOUT).await?;
            launch_container(spec, &choice).await
        }
        // Disk faults need the fault filesystem, which only the process backend mounts.
        Backend::Auto if spec.faultfs => launch_process(spec).await,
        Backend::Auto => launch_auto(spec).await,
    }
}

async fn launch_auto(spec: &ServerSpec) -> Result<Launched, ServerError> {
    if !container::docker_available().await {
        tracing::info!("server backend auto: no Docker engine answers; using process");
        return launch_process(spec).await;
    }
    let choice = match container::resolve(spec.image.as_deref(), AUTO_PULL_TIMEOUT).await {
        Ok(choice) => choice,
        Err(e) => {
            tracing::info!("server backend auto: Docker answers but {e}; using process");
            return launch_process(spec).await;
        }
    };
    tracing::info!(
        "server backend auto: using container (Docker answers, image {} {})",
        choice.image,
        choice.how
    );
    match launch_container(spec, &choice).await {
        Ok(launched) => Ok(launched),
        Err(e) => {
            // `auto` promises a server, not a particular backend.
            tracing::warn!("server backend auto: the container failed ({e}); using process");
            launch_process(spec).await
        }
    }
}

/// An external server or cluster: one node as far as jsbench knows (it watches no node of it),
/// reached through its seed list.
fn attach_external(spec: &ServerSpec) -> Result<Launched, ServerError> {
    let seeds = external::check_url(spec.url.as_deref())?;
    Ok(Launched {
        source: format!("external: {}", seeds.join(", ")),
        credential: None,
        nodes: vec![Node {
            index: 0,
            name: String::new(),
            url: seeds[0].clone(),
            monitor_url: None,
        }],
        seeds,
        started: Started::External {
            auth: spec.auth.clone(),
        },
    })
}

/// One nats-server child, or a cluster of them whose routes run through jsbench's proxies.
async fn launch_process(spec: &ServerSpec) -> Result<Launched, ServerError> {
    let (bin, origin) = find_or_fetch_binary().await?;
    let credential = Credential::generate();
    let cluster = ProcessCluster::start(&bin, spec, &credential).await?;
    Ok(Launched {
        source: format!("process: {} ({origin}){}", bin.display(), size(spec.nodes)),
        credential: Some(credential),
        seeds: node_urls(&cluster.nodes()),
        nodes: cluster.nodes(),
        started: Started::Process(cluster),
    })
}

/// One container, or a cluster of containers on networks of its own.
async fn launch_container(
    spec: &ServerSpec,
    choice: &ImageChoice,
) -> Result<Launched, ServerError> {
    let credential = Credential::generate();
    let cluster =
        ContainerCluster::start(&choice.image, spec.nodes, spec.sync, &credential).await?;
    Ok(Launched {
        source: format!(
            "container: image {} ({}){}",
            choice.image,
            choice.how,
            size(spec.nodes)
        ),
        credential: Some(credential),
        seeds: node_urls(&cluster.nodes()),
        nodes: cluster.nodes(),
        started: Started::Container(cluster),
    })
}

/// The client URL of every node, in node order: the seeds of a server jsbench started.
fn node_urls(nodes: &[Node]) -> Vec<String> {
    nodes.iter().map(|n| n.url.clone()).collect()
}

/// `", N nodes"` for a cluster, nothing for a single server.
fn size(nodes: usize) -> String {
    if nodes > 1 {
        format!(", {nodes} nodes")
    } else {
        String::new()
    }
}

/// What jsbench started for a server, per backend; removed when dropped (each backend's Drop
/// kills or removes what it started, also on panic).
pub(crate) enum Started {
    Process(ProcessCluster),
    Container(ContainerCluster),
    /// Nothing started: an existing server, reached with `auth`.
    External {
        auth: Auth,
    },
}

impl Started {
    /// The backend actually used (never [`Backend::Auto`]).
    pub(crate) fn backend(&self) -> Backend {
        match self {
            Started::Process(_) => Backend::Process,
            Started::Container(_) => Backend::Container,
            Started::External { .. } => Backend::External,
        }
    }

    /// Node `i`'s nats-server child pid (process backend).
    pub(crate) fn node_pid(&self, i: usize) -> Option<u32> {
        match self {
            Started::Process(c) => c.pid(i),
            _ => None,
        }
    }

    /// Node `i`'s nats-server as a process of this host: the child, or the container's main
    /// process when its pid is a host pid.
    pub(crate) async fn node_host_pid(&self, i: usize) -> Option<u32> {
        match self {
            Started::Process(c) => c.pid(i),
            Started::Container(c) => c.node(i)?.host_pid().await,
            Started::External { .. } => None,
        }
    }

    /// Node `i`'s container id (container backend).
    pub(crate) fn node_container_id(&self, i: usize) -> Option<String> {
        match self {
            Started::Container(c) => c.node(i).map(|c| c.id().to_string()),
            _ => None,
        }
    }

    /// Options to connect to `seeds`: auth and TLS applied for an external server,
    /// `credential` for the servers jsbench starts.
    pub(crate) async fn connect_options(
        &self,
        seeds: &[String],
        credential: Option<&Credential>,
    ) -> Result<ConnectOptions, ServerError> {
        match (self, credential) {
            (Started::External { auth }, _) => external::connect_options(seeds, auth).await,
            (_, Some(c)) => Ok(c.apply(ConnectOptions::new())),
            (_, None) => Ok(ConnectOptions::new()),
        }
    }

    /// Applies a fault action to node `i`.
    pub(crate) async fn act(&self, i: usize, action: Action) -> Result<(), ServerError> {
        match self {
            Started::Process(c) => c.act(i, action).await,
            Started::Container(c) => c.act(i, action).await,
            Started::External { .. } => Err(ServerError::FaultUnsupported {
                fault: action.fault(),
                backend: Backend::External,
            }),
        }
    }

    /// The fault filesystem under node `i`'s store: the process backend started with
    /// `ServerSpec::faultfs` only.
    pub(crate) fn disk(&self, i: usize) -> Result<&crate::faultfs::Mount, ServerError> {
        match self {
            Started::Process(c) => c.disk(i),
            _ => Err(ServerError::NoFaultFs {
                backend: self.backend(),
            }),
        }
    }

    /// The route proxies of a process-backend cluster.
    fn route_mesh(&self) -> Option<&RouteMesh> {
        match self {
            Started::Process(c) => c.mesh(),
            _ => None,
        }
    }

    /// Sets or heals `toxic` on the route links between nodes `a` and `b`: process-backend
    /// clusters only, whose routes go through jsbench's proxies.
    pub(crate) fn set_route_toxic(
        &self,
        a: usize,
        b: usize,
        toxic: Toxic,
        on: bool,
    ) -> Result<(), ServerError> {
        let Some(mesh) = self.route_mesh() else {
            return Err(ServerError::ClusterUnsupported {
                backend: self.backend(),
                reason: "route faults need a cluster on the process backend, whose routes go \
                         through jsbench's proxies (a container cluster's routes can be cut with \
                         a partition, not slowed)"
                    .into(),
            });
        };
        mesh.set(a, b, toxic, on);
        Ok(())
    }

    /// Cuts or heals every route between the nodes of `side` (checked indices) and the others:
    /// on each route proxy across the cut (process), or by taking the lone node of a side off
    /// the routes network (container).
    pub(crate) async fn partition(&self, side: &[usize], on: bool) -> Result<(), ServerError> {
        if let Some(mesh) = self.route_mesh() {
            mesh.partition(side, on);
            return Ok(());
        }
        match self {
            Started::Container(c) => c.partition(side, on).await,
            _ => Err(ServerError::ClusterUnsupported {
                backend: self.backend(),
                reason: "partitions need a cluster jsbench started".into(),
            }),
        }
    }

    /// Stops and removes what was started, whatever state a fault left it in; a no-op for an
    /// external server.
    pub(crate) async fn stop(self) -> Result<(), ServerError> {
        match self {
            Started::Process(c) => c.stop().await,
            Started::Container(c) => c.stop().await,
            Started::External { .. } => Ok(()),
        }
    }
}

impl std::fmt::Debug for Started {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Started::Process(c) => f.debug_tuple("Process").field(c).finish(),
            Started::Container(c) => f.debug_tuple("Container").field(c).finish(),
            // Not the auth settings: they may hold a password or a token.
            Started::External { .. } => f.write_str("External"),
        }
    }
}
