//! The container backend: a NATS server container started through testcontainers, with
//! its client port published on a free host port. The nodes of a cluster are the same
//! [`ContainerServer`]s, created through the Docker API instead (`container_node.rs` says why)
//! on networks of their own (`network.rs`); `container_cluster.rs` puts them together.
//!
//! The host port is chosen by jsbench, not by Docker, and held (see [`PortHold`]) for the
//! container's whole life. With a randomly published port (`-P`, `HostPort: ""`) Docker
//! picks a *new* host port every time the container starts (seen with Docker 20.10: kill +
//! start moved 32770 to 32773), so clients holding the old URL could never reconnect after
//! a kill or restart fault. An explicit binding survives restarts, and holding the port
//! while the container is down keeps the kernel from handing it to someone else meanwhile.
//! A port can still be taken between our pick and Docker's bind only by a process binding
//! that exact port; the start is then retried on another one (single server; a cluster's
//! start fails with Docker's message instead).
//!
//! Every container (and every network, `network.rs`) carries the labels `jsbench=1`,
//! `jsbench.pid=<our pid>` and `jsbench.instance=<unique id>`. The instance label lets a
//! failed or cancelled start remove a container that was created but never handed back to
//! us; the pid label lets [`kill_orphans`] remove containers and networks whose jsbench died
//! without cleaning up (SIGKILL, abort: no Drop runs, and there is no process-death signal
//! for containers).
//!
//! Removal does not rely on testcontainers' own Drop, which is skipped when
//! `TESTCONTAINERS_COMMAND=keep` and needs a Tokio runtime to be current: [`stop`] and Drop
//! remove the container explicitly.
//!
//! Faults are Docker API calls on the same container: pause/unpause, kill (SIGKILL), stop,
//! start; a cluster node can also leave its routes network and rejoin it (a partition). The
//! store lives on the container's anonymous volume, which a start reuses. The
//! state (running, paused, down) is read from Docker rather than remembered, so a fault call
//! that was cancelled midway cannot leave us believing the wrong thing.
//!
//! [`stop`]: ContainerServer::stop

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures::StreamExt;
use testcontainers::bollard::errors::Error as DockerError;
use testcontainers::bollard::query_parameters::{
    KillContainerOptionsBuilder, ListContainersOptionsBuilder, LogsOptionsBuilder,
    RemoveContainerOptionsBuilder, StopContainerOptionsBuilder,
};
use testcontainers::bollard::Docker;
use testcontainers::core::client::docker_client_instance;
use testcontainers::core::{IntoContainerPort, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};

use super::config::NodeConfig;
use super::fault::{Action, Status};
use super::image::split_image;
use super::network::{self, Attachment};
use super::port_hold::PortHold;
use super::{pid_alive, probe, Backend, ServerError};

pub(super) const NATS_PORT: u16 = 4222;
pub(super) const MONITOR_PORT: u16 = 8222;
/// Where the config holding the per-run credential is copied into the container.
pub(super) const CONFIG_PATH: &str = "/etc/jsbench/nats-server.conf";
/// Arguments for the image's `/nats-server` entrypoint (the official image and ours).
pub(super) const NATS_ARGS: [&str; 7] = ["-c", CONFIG_PATH, "-js", "-sd", "/data", "-m", "8222"];
const READY_LINE: &str = "Server is ready";
pub(super) const LABEL_APP: &str = "jsbench";
pub(super) const LABEL_PID: &str = "jsbench.pid";
pub(super) const LABEL_INSTANCE: &str = "jsbench.instance";

const PING_TIMEOUT: Duration = Duration::from_secs(3);
pub(super) const DOCKER_CALL_TIMEOUT: Duration = Duration::from_secs(10);
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long after a cancelled create (a container, or a run's network in `network.rs`) a late
/// one is still looked for: the daemon can complete a request cut off mid-flight.
pub(super) const LATE_CREATE_GRACE: Duration = Duration::from_secs(1);
/// Docker's own stop grace (SIGTERM, then SIGKILL after this many seconds).
const STOP_GRACE_SECS: i32 = 5;
/// How long a killed or stopped container may take to show as no longer running.
const DOWN_TIMEOUT: Duration = Duration::from_secs(10);
/// Starts tried on fresh host ports when the chosen one turns out to be taken.
const PORT_ATTEMPTS: u32 = 3;
/// Pull budgets: generous when the user asked for containers, short when `auto` probes.
pub(crate) const PULL_TIMEOUT: Duration = Duration::from_secs(120);
pub(crate) const AUTO_PULL_TIMEOUT: Duration = Duration::from_secs(15);

/// True when a Docker engine answers a ping within a few seconds.
pub async fn docker_available() -> bool {
    match docker().await {
        Ok(_) => true,
        Err(reason) => {
            tracing::debug!("Docker is not available: {reason}");
            false
        }
    }
}

/// The Docker client testcontainers uses (same DOCKER_HOST / properties resolution), after
/// checking that the engine answers.
pub(crate) async fn docker() -> Result<Docker, String> {
    tokio::time::timeout(PING_TIMEOUT, async {
        let docker = docker_client_instance()
            .await
            .map_err(|e| format!("no Docker client: {e}"))?;
        docker
            .ping()
            .await
            .map_err(|e| format!("Docker ping failed: {e}"))?;
        Ok(docker)
    })
    .await
    .map_err(|_| format!("Docker did not answer within {PING_TIMEOUT:?}"))?
}

/// A running NATS container; removed by [`ContainerServer::stop`] or, failing that, Drop.
pub(crate) struct ContainerServer {
    /// None once removed.
    container: Option<Handle>,
    id: String,
    url: String,
    monitor_url: String,
    /// Serialises fault actions, which read the state and then act on it.
    faults: tokio::sync::Mutex<()>,
    /// The networks of a cluster node (None: a single server on Docker's default network).
    attach: Option<Attachment>,
    /// The published host ports (client, monitoring), held for the container's life (module
    /// docs); released only after Drop::drop has removed the container.
    _ports: [PortHold; 2],
}

/// How a container was made, which decides how it is removed.
enum Handle {
    /// Started through testcontainers (a single server).
    /// Boxed: the handle is large, and a cluster holds several servers.
    Managed(Box<ContainerAsync<GenericImage>>),
    /// Created through the Docker API (a cluster node, `container_node.rs`).
    Direct,
}

impl ContainerServer {
    /// A cluster node's container, created (and attached to its networks) but not started:
    /// from here on, dropping the value removes the container.
    pub(super) fn created(id: String, ports: [PortHold; 2], attach: Attachment) -> Self {
        ContainerServer {
            container: Some(Handle::Direct),
            url: format!("nats://127.0.0.1:{}", ports[0].port()),
            monitor_url: format!("http://127.0.0.1:{}", ports[1].port()),
            id,
            faults: tokio::sync::Mutex::new(()),
            attach: Some(attach),
            _ports: ports,
        }
    }

    /// Starts a container made by [`ContainerServer::created`] and waits until it greets on
    /// its published client port.
    pub(crate) async fn start_created(&self) -> Result<(), ServerError> {
        let _serial = self.faults.lock().await;
        let docker = client().await?;
        self.start_existing(&docker).await
    }

    /// Starts `image` with `config` (which holds the per-run credential) as a single server
    /// and waits until the published client port greets. (Cluster nodes are created by
    /// `container_node.rs` instead.)
    pub(crate) async fn start(
        image: &str,
        config: &NodeConfig,
    ) -> Result<ContainerServer, ServerError> {
        let mut attempt = 1;
        loop {
            let hold = || {
                PortHold::bind(0)
                    .map_err(|e| ServerError::io("cannot reserve a host port for the container", e))
            };
            let ports = [hold()?, hold()?];
            let host_ports = [ports[0].port(), ports[1].port()];
            match Self::start_on(image, config, ports).await {
                Err(e) if attempt < PORT_ATTEMPTS && is_port_conflict(&e) => {
                    tracing::info!(
                        "host ports {host_ports:?} were taken meanwhile ({e}); trying others"
                    );
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    async fn start_on(
        image: &str,
        config: &NodeConfig,
        ports: [PortHold; 2],
    ) -> Result<ContainerServer, ServerError> {
        let instance = unique_instance_id();
        // Removes whatever this start created if it fails or is cancelled midway
        // (testcontainers can create a container and then fail before returning it).
        let mut sweep = SweepOnDrop(Some(instance.clone()));
        let (name, tag) = split_image(image);
        let request = GenericImage::new(name, tag)
            .with_wait_for(WaitFor::message_on_stderr(READY_LINE))
            .with_cmd(NATS_ARGS)
            .with_copy_to(CONFIG_PATH, config.render().into_bytes())
            // Explicit host ports, the same on every start of this container (module docs).
            .with_mapped_port(ports[0].port(), NATS_PORT.tcp())
            .with_mapped_port(ports[1].port(), MONITOR_PORT.tcp())
            // On loopback only: Docker publishes on every interface unless told otherwise.
            .with_host_config_modifier(bind_loopback)
            // The store on an anonymous volume, not the container's writable layer: on
            // overlay/fuse-overlayfs drivers the layer made file-storage runs ~6x slower than the
            // process backend. Removal (`v: true` in force_remove) frees the volume with it.
            .with_mount(testcontainers::core::Mount::volume_mount("", "/data"))
            .with_label(LABEL_APP, "1")
            .with_label(LABEL_PID, std::process::id().to_string())
            .with_label(LABEL_INSTANCE, instance.clone())
            .with_startup_timeout(STARTUP_TIMEOUT);
        let container = match request.start().await {
            Ok(container) => container,
            Err(source) => {
                remove_by_label(&format!("{LABEL_INSTANCE}={instance}")).await;
                sweep.0 = None;
                return Err(ServerError::Container {
                    what: format!("start of image {image}"),
                    source,
                });
            }
        };
        sweep.0 = None;
        let mut server = ContainerServer {
            id: container.id().to_string(),
            container: Some(Handle::Managed(Box::new(container))),
            url: String::new(),
            monitor_url: String::new(),
            faults: tokio::sync::Mutex::new(()),
            attach: None,
            _ports: ports,
        };
        // From here on, an early return drops `server`, which removes the container.
        server.url = server.client_url().await?;
        server.monitor_url = server.host_url("http", MONITOR_PORT).await?;
        server.wait_ready().await?;
        tracing::debug!(
            "started container {} ({image}) at {}",
            server.id,
            server.url
        );
        Ok(server)
    }

    async fn client_url(&self) -> Result<String, ServerError> {
        self.host_url("nats", NATS_PORT).await
    }

    /// `<scheme>://<host>:<published port of container_port>`, as Docker reports it.
    async fn host_url(&self, scheme: &str, container_port: u16) -> Result<String, ServerError> {
        match self.container.as_ref() {
            None => Err(ServerError::DockerUnavailable {
                reason: "container already removed".into(),
            }),
            Some(Handle::Managed(container)) => {
                managed_host_url(container, scheme, container_port).await
            }
            // Published on 127.0.0.1 (`container_node.rs`), on the engine of this machine.
            Some(Handle::Direct) => {
                let port = published_port(&client().await?, &self.id, container_port).await?;
                Ok(format!("{scheme}://127.0.0.1:{port}"))
            }
        }
    }

    /// "Server is ready" is logged inside the container; the published port can still lag
    /// behind (docker-proxy), so wait for the greeting through it.
    async fn wait_ready(&self) -> Result<(), ServerError> {
        let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
        loop {
            match probe::nats_greeting(&self.url).await {
                Ok(()) => return Ok(()),
                Err(e) if tokio::time::Instant::now() >= deadline => {
                    return Err(ServerError::StartTimeout {
                        secs: READY_TIMEOUT.as_secs(),
                        what: format!("container {} at {}: {e}", self.id, self.url),
                        log_tail: self.log_tail().await,
                    })
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    async fn log_tail(&self) -> String {
        let bytes = match self.container.as_ref() {
            None => return String::new(),
            Some(Handle::Managed(container)) => {
                container.stderr_to_vec().await.map_err(|e| e.to_string())
            }
            Some(Handle::Direct) => direct_log(&self.id).await,
        };
        match bytes {
            Ok(bytes) => super::tail_lines(&String::from_utf8_lossy(&bytes), 20),
            Err(e) => format!("(cannot read the container's log: {e})"),
        }
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    pub(crate) fn monitor_url(&self) -> &str {
        &self.monitor_url
    }

    /// The state, as Docker reports it.
    async fn status(&self, docker: &Docker) -> Result<Status, ServerError> {
        let info = call(
            format!("inspect of container {}", self.id),
            DOCKER_CALL_TIMEOUT,
            docker.inspect_container(&self.id, None),
        )
        .await?;
        let state = info.state.unwrap_or_default();
        Ok(if state.paused == Some(true) {
            Status::Paused
        } else if state.running == Some(true) {
            Status::Running
        } else {
            Status::Down
        })
    }

    /// The host pid of the container's main process (its nats-server): on a local engine the
    /// container shares the host's kernel, so `/proc/<pid>` has its CPU time. `None` when the
    /// engine cannot say (or runs in a VM, where that pid means nothing here).
    pub(crate) async fn host_pid(&self) -> Option<u32> {
        let docker = client().await.ok()?;
        let info = call(
            format!("inspect of container {}", self.id),
            DOCKER_CALL_TIMEOUT,
            docker.inspect_container(&self.id, None),
        )
        .await
        .ok()?;
        let pid = info.state?.pid.filter(|p| *p > 0)? as u32;
        std::path::Path::new(&format!("/proc/{pid}/stat"))
            .exists()
            .then_some(pid)
    }

    /// `docker pause` (the cgroup freezer); returns once the container is frozen.
    pub(crate) async fn pause(&self) -> Result<(), ServerError> {
        let _serial = self.faults.lock().await;
        let docker = client().await?;
        self.status(&docker).await?.check(Action::Pause)?;
        call(
            format!("pause of container {}", self.id),
            DOCKER_CALL_TIMEOUT,
            docker.pause_container(&self.id),
        )
        .await
    }

    /// `docker unpause`.
    pub(crate) async fn resume(&self) -> Result<(), ServerError> {
        let _serial = self.faults.lock().await;
        let docker = client().await?;
        self.status(&docker).await?.check(Action::Resume)?;
        call(
            format!("unpause of container {}", self.id),
            DOCKER_CALL_TIMEOUT,
            docker.unpause_container(&self.id),
        )
        .await
    }

    /// `docker kill` with SIGKILL (Docker also kills a paused container); returns once the
    /// container is no longer running. The container and its volume stay.
    pub(crate) async fn kill(&self) -> Result<(), ServerError> {
        let _serial = self.faults.lock().await;
        let docker = client().await?;
        self.status(&docker).await?.check(Action::Kill)?;
        let options = KillContainerOptionsBuilder::new().signal("SIGKILL").build();
        call(
            format!("kill of container {}", self.id),
            DOCKER_CALL_TIMEOUT,
            docker.kill_container(&self.id, Some(options)),
        )
        .await?;
        self.wait_down(&docker).await
    }

    /// `docker start` of the same container (same volume, same host port), then waits
    /// until it greets on the same URL.
    pub(crate) async fn start_again(&self) -> Result<(), ServerError> {
        let _serial = self.faults.lock().await;
        let docker = client().await?;
        self.status(&docker).await?.check(Action::StartAgain)?;
        self.start_existing(&docker).await
    }

    /// `docker stop` (SIGTERM, SIGKILL after [`STOP_GRACE_SECS`]), then as start_again.
    pub(crate) async fn restart(&self) -> Result<(), ServerError> {
        let _serial = self.faults.lock().await;
        let docker = client().await?;
        let status = self.status(&docker).await?;
        status.check(Action::Restart)?;
        if status == Status::Paused {
            // A frozen server cannot act on SIGTERM; thawed, it shuts down cleanly.
            call(
                format!("unpause of container {}", self.id),
                DOCKER_CALL_TIMEOUT,
                docker.unpause_container(&self.id),
            )
            .await?;
        }
        let options = StopContainerOptionsBuilder::new()
            .t(STOP_GRACE_SECS)
            .build();
        call(
            format!("stop of container {}", self.id),
            stop_call_timeout(),
            docker.stop_container(&self.id, Some(options)),
        )
        .await?;
        self.wait_down(&docker).await?;
        self.start_existing(&docker).await
    }

    /// Takes this cluster node off its routes network (`connected` false) or puts it back
    /// under its alias (true). Idempotent: the attachment is read from Docker, so a heal
    /// without a cut, or a second cut, does nothing. Works whatever state the node is in:
    /// a node that is down keeps its attachments, and gets them back when started again.
    pub(crate) async fn set_routes(&self, connected: bool) -> Result<(), ServerError> {
        let Some(a) = &self.attach else {
            return Err(ServerError::ClusterUnsupported {
                backend: Backend::Container,
                reason: "partitions need a cluster of 2 or more containers".into(),
            });
        };
        let _serial = self.faults.lock().await;
        let docker = client().await?;
        if network::is_connected(&docker, &self.id, &a.routes).await? == connected {
            return Ok(());
        }
        if connected {
            network::connect(&docker, &a.routes, &self.id, &a.alias).await
        } else {
            network::disconnect(&docker, &a.routes, &self.id).await
        }
    }

    async fn start_existing(&self, docker: &Docker) -> Result<(), ServerError> {
        call(
            format!("start of container {}", self.id),
            DOCKER_CALL_TIMEOUT,
            docker.start_container(&self.id, None),
        )
        .await?;
        // The binding is explicit, so this holds; checked because clients depend on it.
        let url = self.client_url().await?;
        if url != self.url {
            return Err(ServerError::UrlChanged {
                before: self.url.clone(),
                after: url,
            });
        }
        self.wait_ready().await
    }

    /// Polls until Docker no longer reports the container running: the kill and stop calls
    /// can return before the runtime has reaped the container's process.
    async fn wait_down(&self, docker: &Docker) -> Result<(), ServerError> {
        let deadline = tokio::time::Instant::now() + DOWN_TIMEOUT;
        loop {
            if self.status(docker).await? == Status::Down {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ServerError::Docker {
                    what: format!(
                        "wait for container {} to stop running (over {DOWN_TIMEOUT:?})",
                        self.id
                    ),
                    source: DockerError::RequestTimeoutError,
                });
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Graceful stop (`docker stop`: SIGTERM, then SIGKILL after a grace period), then
    /// forced removal with its anonymous volumes. A paused container is unpaused first, so
    /// that it can shut down cleanly; a killed one is just removed.
    pub(crate) async fn stop(mut self) -> Result<(), ServerError> {
        let docker = client().await;
        if let Ok(docker) = &docker {
            self.stop_gracefully(docker).await;
        }
        match self.container.take() {
            Some(Handle::Managed(container)) => {
                container
                    .rm()
                    .await
                    .map_err(|source| ServerError::Container {
                        what: format!("removal of {}", self.id),
                        source,
                    })?
            }
            Some(Handle::Direct) => {
                // Kept until Docker confirms the removal: if it fails, Drop tries once more.
                self.container = Some(Handle::Direct);
                remove_direct(&docker?, &self.id).await?;
                self.container = None;
            }
            None => {}
        }
        Ok(())
    }

    /// Best effort (the forced removal that follows ends the container anyway): unpause,
    /// then `docker stop` unless it is down already.
    async fn stop_gracefully(&self, docker: &Docker) {
        let status = match self.status(docker).await {
            Ok(Status::Paused) => {
                let unpause = call(
                    format!("unpause of container {}", self.id),
                    DOCKER_CALL_TIMEOUT,
                    docker.unpause_container(&self.id),
                );
                if let Err(e) = unpause.await {
                    tracing::warn!("{e}");
                }
                Status::Running
            }
            Ok(status) => status,
            Err(e) => {
                tracing::warn!("cannot inspect container {}: {e}", self.id);
                Status::Running
            }
        };
        if status == Status::Down {
            return;
        }
        let options = StopContainerOptionsBuilder::new()
            .t(STOP_GRACE_SECS)
            .build();
        let stop = call(
            format!("graceful stop of container {}", self.id),
            stop_call_timeout(),
            docker.stop_container(&self.id, Some(options)),
        );
        if let Err(e) = stop.await {
            tracing::warn!("{e}");
        }
    }
}

impl Drop for ContainerServer {
    fn drop(&mut self) {
        // Forced removal kills the container whatever its state, paused included.
        let Some(handle) = self.container.take() else {
            return;
        };
        let id = self.id.clone();
        run_to_completion(async move {
            let removed = match handle {
                Handle::Managed(container) => container.rm().await.map_err(|e| e.to_string()),
                Handle::Direct => match docker().await {
                    Ok(docker) => force_remove(&docker, &id).await,
                    Err(e) => Err(e),
                },
            };
            if let Err(e) = removed {
                tracing::warn!("cannot remove container {id}: {e}");
            }
        });
    }
}

impl std::fmt::Debug for ContainerServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContainerServer")
            .field("id", &self.id)
            .field("url", &self.url)
            .finish()
    }
}

/// The published address of a container testcontainers started, through its own lookups
/// (which also know a remote engine's host).
async fn managed_host_url(
    container: &ContainerAsync<GenericImage>,
    scheme: &str,
    container_port: u16,
) -> Result<String, ServerError> {
    let id = container.id();
    let port = container
        .get_host_port_ipv4(container_port.tcp())
        .await
        .map_err(|source| ServerError::Container {
            what: format!("port lookup of {id}"),
            source,
        })?;
    let host = container
        .get_host()
        .await
        .map_err(|source| ServerError::Container {
            what: format!("host lookup of {id}"),
            source,
        })?
        .to_string();
    // A local engine reports "localhost"; the IPv4 literal avoids a resolver detour to
    // ::1 for a port we asked for on IPv4.
    let host = if host == "localhost" {
        "127.0.0.1".to_string()
    } else {
        host
    };
    Ok(format!("{scheme}://{host}:{port}"))
}

/// The host port Docker publishes `container_port` of a running container on.
async fn published_port(
    docker: &Docker,
    id: &str,
    container_port: u16,
) -> Result<String, ServerError> {
    let info = call(
        format!("inspect of container {id}"),
        DOCKER_CALL_TIMEOUT,
        docker.inspect_container(id, None),
    )
    .await?;
    let key = format!("{container_port}/tcp");
    info.network_settings
        .and_then(|s| s.ports)
        .and_then(|mut ports| ports.remove(&key))
        .flatten()
        .and_then(|bindings| bindings.into_iter().find_map(|b| b.host_port))
        .ok_or_else(|| {
            ServerError::io(
                format!(
                    "container {id} publishes no host port for {key}; see `docker inspect {id}` \
                     and the engine's log"
                ),
                std::io::ErrorKind::NotFound.into(),
            )
        })
}

/// The stderr of a container created through the Docker API (nats-server logs there).
async fn direct_log(id: &str) -> Result<Vec<u8>, String> {
    let docker = docker().await?;
    let options = LogsOptionsBuilder::new().stderr(true).tail("50").build();
    let mut stream = docker.logs(id, Some(options));
    let mut bytes = Vec::new();
    let read = async {
        while let Some(chunk) = stream.next().await {
            bytes.extend_from_slice(&chunk.map_err(|e| e.to_string())?.into_bytes());
        }
        Ok::<(), String>(())
    };
    tokio::time::timeout(DOCKER_CALL_TIMEOUT, read)
        .await
        .map_err(|_| format!("reading the log took over {DOCKER_CALL_TIMEOUT:?}"))??;
    Ok(bytes)
}

/// Forced removal, with its anonymous volumes, of a container created through the Docker API.
async fn remove_direct(docker: &Docker, id: &str) -> Result<(), ServerError> {
    let options = RemoveContainerOptionsBuilder::new()
        .force(true)
        .v(true)
        .build();
    call(
        format!("removal of container {id}"),
        DOCKER_CALL_TIMEOUT,
        docker.remove_container(id, Some(options)),
    )
    .await
}

/// The Docker client, or why there is none.
pub(super) async fn client() -> Result<Docker, ServerError> {
    docker()
        .await
        .map_err(|reason| ServerError::DockerUnavailable { reason })
}

/// Runs one Docker API call with a time limit, naming it in the error.
pub(super) async fn call<T>(
    what: String,
    limit: Duration,
    request: impl Future<Output = Result<T, DockerError>>,
) -> Result<T, ServerError> {
    match tokio::time::timeout(limit, request).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(source)) => Err(ServerError::Docker { what, source }),
        Err(_) => Err(ServerError::Docker {
            what: format!("{what} (no answer within {limit:?})"),
            source: DockerError::RequestTimeoutError,
        }),
    }
}

/// Publishes every port on 127.0.0.1 only (testcontainers leaves the host address empty,
/// which Docker reads as every interface, IPv6 included).
fn bind_loopback(config: &mut testcontainers::bollard::models::HostConfig) {
    for bindings in config.port_bindings.iter_mut().flat_map(|m| m.values_mut()) {
        for b in bindings.iter_mut().flatten() {
            b.host_ip = Some("127.0.0.1".to_string());
        }
    }
}

/// `docker stop` answers only after the grace period in the worst case.
fn stop_call_timeout() -> Duration {
    Duration::from_secs(STOP_GRACE_SECS.unsigned_abs().into()) + DOCKER_CALL_TIMEOUT
}

/// Whether a failed start failed because the host port was taken (by another container:
/// "port is already allocated"; by another process: "address already in use").
fn is_port_conflict(e: &ServerError) -> bool {
    let ServerError::Container { source, .. } = e else {
        return false;
    };
    let mut text = source.to_string();
    let mut cause = std::error::Error::source(source);
    while let Some(c) = cause {
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text.contains("port is already allocated") || text.contains("address already in use")
}

/// Removes all containers carrying `jsbench.instance=<id>` when dropped while armed.
pub(super) struct SweepOnDrop(pub(super) Option<String>);

impl Drop for SweepOnDrop {
    fn drop(&mut self) {
        if let Some(instance) = self.0.take() {
            run_to_completion(async move {
                let label = format!("{LABEL_INSTANCE}={instance}");
                remove_by_label(&label).await;
                // A create request cut off mid-flight can still complete in the daemon
                // after the first sweep looked; look once more a little later.
                tokio::time::sleep(LATE_CREATE_GRACE).await;
                remove_by_label(&label).await;
            });
        }
    }
}

/// Runs a cleanup future to completion from synchronous code (Drop), in any context: on a
/// fresh thread with its own small runtime, joined before returning. Unlike
/// `block_in_place` this cannot panic (inside a current-thread runtime, or with no runtime
/// at all), which matters because Drop also runs while unwinding a panic. The bollard
/// client opens a new connection per request, so it works from any runtime.
pub(super) fn run_to_completion(cleanup: impl Future<Output = ()> + Send + 'static) {
    let thread = std::thread::Builder::new()
        .name("jsbench-cleanup".into())
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime.block_on(cleanup),
                Err(e) => tracing::warn!("cannot build a runtime for container cleanup: {e}"),
            }
        });
    match thread {
        Ok(handle) => {
            if handle.join().is_err() {
                tracing::warn!("container cleanup panicked");
            }
        }
        Err(e) => tracing::warn!("cannot start a thread for container cleanup: {e}"),
    }
}

pub(super) fn unique_instance_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Lists containers (running or not) matching a `key=value` label filter.
async fn list_by_label(
    docker: &Docker,
    label: &str,
) -> Result<Vec<(String, HashMap<String, String>)>, String> {
    let filters = HashMap::from([("label", vec![label])]);
    let options = ListContainersOptionsBuilder::new()
        .all(true)
        .filters(&filters)
        .build();
    let list = tokio::time::timeout(DOCKER_CALL_TIMEOUT, docker.list_containers(Some(options)))
        .await
        .map_err(|_| format!("listing containers took over {DOCKER_CALL_TIMEOUT:?}"))?
        .map_err(|e| format!("listing containers: {e}"))?;
    Ok(list
        .into_iter()
        .filter_map(|c| Some((c.id?, c.labels.unwrap_or_default())))
        .collect())
}

async fn force_remove(docker: &Docker, id: &str) -> Result<(), String> {
    let options = RemoveContainerOptionsBuilder::new()
        .force(true)
        .v(true)
        .build();
    tokio::time::timeout(
        DOCKER_CALL_TIMEOUT,
        docker.remove_container(id, Some(options)),
    )
    .await
    .map_err(|_| format!("removal took over {DOCKER_CALL_TIMEOUT:?}"))?
    .map_err(|e| e.to_string())
}

/// Best-effort forced removal of every container matching `label`; returns how many went.
async fn remove_by_label(label: &str) -> usize {
    let docker = match docker().await {
        Ok(docker) => docker,
        Err(e) => {
            tracing::warn!("cannot remove containers labelled {label}: {e}");
            return 0;
        }
    };
    let containers = match list_by_label(&docker, label).await {
        Ok(list) => list,
        Err(e) => {
            tracing::warn!("cannot remove containers labelled {label}: {e}");
            return 0;
        }
    };
    let mut removed = 0;
    for (id, _) in containers {
        match force_remove(&docker, &id).await {
            Ok(()) => removed += 1,
            Err(e) => tracing::warn!("cannot remove container {id}: {e}"),
        }
    }
    removed
}

/// Best effort: removes containers labelled `jsbench.pid=<pid>` whose jsbench process is
/// gone (it was killed before it could clean up), then the networks of such processes
/// (clusters). Returns how many containers and networks were removed; does nothing (returns
/// 0) when no Docker engine answers.
pub async fn kill_orphans() -> usize {
    let Ok(docker) = docker().await else {
        return 0;
    };
    // Containers first: a network still in use cannot be removed.
    let containers = remove_orphan_containers(&docker).await;
    containers + network::remove_orphans(&docker).await
}

async fn remove_orphan_containers(docker: &Docker) -> usize {
    let containers = match list_by_label(docker, &format!("{LABEL_APP}=1")).await {
        Ok(list) => list,
        Err(e) => {
            tracing::warn!("cannot look for orphaned jsbench containers: {e}");
            return 0;
        }
    };
    let mut removed = 0;
    for (id, labels) in containers {
        let Some(pid) = labels.get(LABEL_PID).and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid == std::process::id() || pid_alive(pid) {
            continue;
        }
        match force_remove(docker, &id).await {
            Ok(()) => {
                tracing::info!("removed orphaned container {id} of dead jsbench pid {pid}");
                removed += 1;
            }
            Err(e) => tracing::warn!("cannot remove orphaned container {id}: {e}"),
        }
    }
    removed
}
