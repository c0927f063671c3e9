//! One node of the container backend: a NATS server container ([`ContainerServer`]), however
//! it was made (`create.rs`), with its client and monitoring ports published on loopback, and the
//! faults it can suffer.
//!
//! The host port is chosen by jsbench, not by Docker, and held (see [`PortHold`]) for the
//! container's whole life. With a randomly published port (`-P`, `HostPort: ""`) Docker
//! picks a *new* host port every time the container starts (seen with Docker 20.10: kill +
//! start moved 32770 to 32773), so clients holding the old URL could never reconnect after
//! a kill or restart fault. An explicit binding survives restarts, and holding the port
//! while the container is down keeps the kernel from handing it to someone else meanwhile.
//!
//! Removal does not rely on testcontainers' own Drop, which is skipped when
//! `TESTCONTAINERS_COMMAND=keep` and needs a Tokio runtime to be current: [`stop`] and Drop
//! remove the container explicitly.
//!
//! Faults are Docker API calls on the same container ([`ContainerServer::act`] lists them):
//! pause/unpause, kill (SIGKILL), stop, start; a cluster node can also leave its routes network
//! and rejoin it (a partition). The store lives on the container's anonymous volume, which a
//! start reuses. The state (running, paused, down) is read from Docker rather than remembered,
//! so a fault call that was cancelled midway cannot leave us believing the wrong thing.
//!
//! [`stop`]: ContainerServer::stop

use std::time::Duration;

use futures::StreamExt;
use testcontainers::bollard::errors::Error as DockerError;
use testcontainers::bollard::query_parameters::{
    KillContainerOptionsBuilder, LogsOptionsBuilder, StopContainerOptionsBuilder,
};
use testcontainers::bollard::Docker;
use testcontainers::core::IntoContainerPort;
use testcontainers::{ContainerAsync, GenericImage};

use super::docker::{
    call, client, connect, disconnect, docker, force_remove, is_connected, remove_container,
    run_to_completion, DOCKER_CALL_TIMEOUT,
};
use super::network::Attachment;
use crate::server::error::{tail_lines, ServerError};
use crate::server::fault::{Action, Status};
use crate::server::port_hold::PortHold;
use crate::server::probe;
use crate::server::spec::Backend;

/// The client port inside every container.
pub(super) const NATS_PORT: u16 = 4222;
/// The monitoring port inside every container.
pub(super) const MONITOR_PORT: u16 = 8222;
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// Docker's own stop grace (SIGTERM, then SIGKILL after this many seconds).
const STOP_GRACE_SECS: i32 = 5;
/// How long a killed or stopped container may take to show as no longer running.
const DOWN_TIMEOUT: Duration = Duration::from_secs(10);

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
    /// Created through the Docker API (a cluster node, `create.rs`).
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

    /// A single server's container, started by testcontainers (`create.rs`): looks up its
    /// published ports and waits until it greets. From here on, an early return drops the
    /// value, which removes the container.
    pub(super) async fn managed(
        container: ContainerAsync<GenericImage>,
        ports: [PortHold; 2],
        image: &str,
    ) -> Result<ContainerServer, ServerError> {
        let mut server = ContainerServer {
            id: container.id().to_string(),
            container: Some(Handle::Managed(Box::new(container))),
            url: String::new(),
            monitor_url: String::new(),
            faults: tokio::sync::Mutex::new(()),
            attach: None,
            _ports: ports,
        };
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
            // Published on 127.0.0.1 (`create.rs`), on the engine of this machine.
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
            Ok(bytes) => tail_lines(&String::from_utf8_lossy(&bytes), 20),
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

    /// Applies one fault action (the module docs say what each does).
    pub(crate) async fn act(&self, action: Action) -> Result<(), ServerError> {
        match action {
            Action::Pause => self.pause().await,
            Action::Resume => self.resume().await,
            Action::Kill => self.kill().await,
            Action::StartAgain => self.start_again().await,
            Action::Restart => self.restart().await,
        }
    }

    /// `docker pause` (the cgroup freezer); returns once the container is frozen.
    async fn pause(&self) -> Result<(), ServerError> {
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
    async fn resume(&self) -> Result<(), ServerError> {
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
    async fn kill(&self) -> Result<(), ServerError> {
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
    async fn start_again(&self) -> Result<(), ServerError> {
        let _serial = self.faults.lock().await;
        let docker = client().await?;
        self.status(&docker).await?.check(Action::StartAgain)?;
        self.start_existing(&docker).await
    }

    /// `docker stop` (SIGTERM, SIGKILL after [`STOP_GRACE_SECS`]), then as start_again.
    async fn restart(&self) -> Result<(), ServerError> {
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
        if is_connected(&docker, &self.id, &a.routes).await? == connected {
            return Ok(());
        }
        if connected {
            connect(&docker, &a.routes, &self.id, &a.alias).await
        } else {
            disconnect(&docker, &a.routes, &self.id).await
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
                remove_container(&docker?, &self.id).await?;
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

/// `docker stop` answers only after the grace period in the worst case.
fn stop_call_timeout() -> Duration {
    Duration::from_secs(STOP_GRACE_SECS.unsigned_abs().into()) + DOCKER_CALL_TIMEOUT
}
