//! The Docker API as the container backend uses it: the client, every call with a time limit,
//! the labels on what jsbench creates, removal by label, and the sweep of what dead jsbench
//! processes left behind ([`kill_orphans`]).
//!
//! The client is the one testcontainers uses (same DOCKER_HOST / properties resolution), checked
//! with a ping. Every call is bounded ([`call`]), because an engine that stops answering must
//! fail a run with a message rather than hang it.
//!
//! Every container and network jsbench creates carries the labels `jsbench=1`,
//! `jsbench.pid=<our pid>` and `jsbench.instance=<unique id>` ([`labels`]). The instance label
//! lets a failed or cancelled creation remove what was created but never handed back to us
//! ([`SweepOnDrop`], the networks' Drop); the pid label lets [`kill_orphans`] remove containers
//! and networks whose jsbench died without cleaning up (SIGKILL, abort: no Drop runs, and there
//! is no process-death signal for containers).
//!
//! A network still has to be empty to be removed, so [`remove_network`] first force-disconnects
//! whatever is still attached (a container that a cancelled start created late, say), rather
//! than leaving the network behind.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use testcontainers::bollard::errors::Error as DockerError;
use testcontainers::bollard::models::{
    EndpointSettings, NetworkConnectRequest, NetworkDisconnectRequest,
};
use testcontainers::bollard::query_parameters::{
    ListContainersOptionsBuilder, ListNetworksOptionsBuilder, RemoveContainerOptionsBuilder,
};
use testcontainers::bollard::Docker;
use testcontainers::core::client::docker_client_instance;

use crate::server::error::ServerError;
use crate::server::probe::pid_alive;

const LABEL_APP: &str = "jsbench";
const LABEL_PID: &str = "jsbench.pid";
/// The label that tells one creation's containers and networks from all others.
pub(crate) const LABEL_INSTANCE: &str = "jsbench.instance";

const PING_TIMEOUT: Duration = Duration::from_secs(3);
/// The limit of one API call that is expected to answer at once.
pub(crate) const DOCKER_CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// How long after a cancelled creation a late container or network is still looked for.
pub(crate) const LATE_CREATE_GRACE: Duration = Duration::from_secs(1);

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

/// The Docker client, or why there is none.
pub(crate) async fn client() -> Result<Docker, ServerError> {
    docker()
        .await
        .map_err(|reason| ServerError::DockerUnavailable { reason })
}

/// Runs one Docker API call with a time limit, naming it in the error.
pub(crate) async fn call<T>(
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

/// The labels of everything one creation makes (module docs).
pub(crate) fn labels(instance: &str) -> HashMap<String, String> {
    HashMap::from([
        (LABEL_APP.to_string(), "1".to_string()),
        (LABEL_PID.to_string(), std::process::id().to_string()),
        (LABEL_INSTANCE.to_string(), instance.to_string()),
    ])
}

/// A value for the instance label, unique to this creation.
pub(crate) fn unique_instance_id() -> String {
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

/// Runs a cleanup future to completion from synchronous code (Drop), in any context: on a
/// fresh thread with its own small runtime, joined before returning. Unlike
/// `block_in_place` this cannot panic (inside a current-thread runtime, or with no runtime
/// at all), which matters because Drop also runs while unwinding a panic. The bollard
/// client opens a new connection per request, so it works from any runtime.
pub(crate) fn run_to_completion(cleanup: impl Future<Output = ()> + Send + 'static) {
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

/// Removes all containers carrying `jsbench.instance=<id>` when dropped while armed.
pub(crate) struct SweepOnDrop(pub(crate) Option<String>);

impl Drop for SweepOnDrop {
    fn drop(&mut self) {
        if let Some(instance) = self.0.take() {
            run_to_completion(async move {
                let label = format!("{LABEL_INSTANCE}={instance}");
                remove_containers_by_label(&label).await;
                // A create request cut off mid-flight can still complete in the daemon
                // after the first sweep looked; look once more a little later.
                tokio::time::sleep(LATE_CREATE_GRACE).await;
                remove_containers_by_label(&label).await;
            });
        }
    }
}

/// Lists containers (running or not) matching a `key=value` label filter.
async fn list_containers(
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

/// Forced removal of a container with its anonymous volumes; the error as text, for cleanup
/// that can only log it.
pub(crate) async fn force_remove(docker: &Docker, id: &str) -> Result<(), String> {
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

/// Forced removal of a container with its anonymous volumes, as a call whose error is returned.
pub(crate) async fn remove_container(docker: &Docker, id: &str) -> Result<(), ServerError> {
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

/// Best-effort forced removal of every container matching `label`; returns how many went.
pub(crate) async fn remove_containers_by_label(label: &str) -> usize {
    let docker = match docker().await {
        Ok(docker) => docker,
        Err(e) => {
            tracing::warn!("cannot remove containers labelled {label}: {e}");
            return 0;
        }
    };
    let containers = match list_containers(&docker, label).await {
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

/// Joins `container` to `network` under `alias` (the name its peers' routes dial).
pub(crate) async fn connect(
    docker: &Docker,
    network: &str,
    container: &str,
    alias: &str,
) -> Result<(), ServerError> {
    let request = NetworkConnectRequest {
        container: container.to_string(),
        endpoint_config: Some(EndpointSettings {
            aliases: Some(vec![alias.to_string()]),
            ..Default::default()
        }),
    };
    call(
        format!("connection of container {container} to network {network}"),
        DOCKER_CALL_TIMEOUT,
        docker.connect_network(network, request),
    )
    .await
}

/// Takes `container` off `network`; forced, so that it works whatever state it is in.
pub(crate) async fn disconnect(
    docker: &Docker,
    network: &str,
    container: &str,
) -> Result<(), ServerError> {
    let request = NetworkDisconnectRequest {
        container: container.to_string(),
        force: Some(true),
    };
    call(
        format!("disconnection of container {container} from network {network}"),
        DOCKER_CALL_TIMEOUT,
        docker.disconnect_network(network, request),
    )
    .await
}

/// Whether `container` is attached to `network`, as Docker reports it.
pub(crate) async fn is_connected(
    docker: &Docker,
    container: &str,
    network: &str,
) -> Result<bool, ServerError> {
    let info = call(
        format!("inspect of container {container}"),
        DOCKER_CALL_TIMEOUT,
        docker.inspect_container(container, None),
    )
    .await?;
    Ok(info
        .network_settings
        .and_then(|s| s.networks)
        .is_some_and(|n| n.contains_key(network)))
}

/// Force-disconnects whatever is still attached to `name`, then removes it. A network that is
/// already gone counts as removed.
pub(crate) async fn remove_network(docker: &Docker, name: &str) -> Result<(), ServerError> {
    let inspected = call(
        format!("inspect of network {name}"),
        DOCKER_CALL_TIMEOUT,
        docker.inspect_network(name, None),
    )
    .await;
    let info = match inspected {
        Ok(info) => info,
        Err(e) if is_not_found(&e) => return Ok(()),
        Err(e) => return Err(e),
    };
    for container in info.containers.unwrap_or_default().into_keys() {
        if let Err(e) = disconnect(docker, name, &container).await {
            // The removal below says whether it mattered.
            tracing::debug!("{e}");
        }
    }
    match call(
        format!("removal of network {name}"),
        DOCKER_CALL_TIMEOUT,
        docker.remove_network(name),
    )
    .await
    {
        Err(e) if is_not_found(&e) => Ok(()),
        result => result,
    }
}

fn is_not_found(e: &ServerError) -> bool {
    matches!(
        e,
        ServerError::Docker {
            source: DockerError::DockerResponseServerError {
                status_code: 404,
                ..
            },
            ..
        }
    )
}

/// Networks matching a `key=value` label filter, with their labels.
async fn list_networks(
    docker: &Docker,
    label: &str,
) -> Result<Vec<(String, HashMap<String, String>)>, String> {
    let filters = HashMap::from([("label", vec![label])]);
    let options = ListNetworksOptionsBuilder::new().filters(&filters).build();
    let list = tokio::time::timeout(DOCKER_CALL_TIMEOUT, docker.list_networks(Some(options)))
        .await
        .map_err(|_| format!("listing networks took over {DOCKER_CALL_TIMEOUT:?}"))?
        .map_err(|e| format!("listing networks: {e}"))?;
    Ok(list
        .into_iter()
        .filter_map(|n| Some((n.name?, n.labels.unwrap_or_default())))
        .collect())
}

/// Names of the networks matching a `key=value` label filter.
pub(crate) async fn network_names(docker: &Docker, label: &str) -> Result<Vec<String>, String> {
    Ok(list_networks(docker, label)
        .await?
        .into_iter()
        .map(|(name, _)| name)
        .collect())
}

/// Best-effort removal of every network matching `label`.
pub(crate) async fn remove_networks_by_label(label: &str) {
    let result = async {
        let docker = docker().await?;
        for name in network_names(&docker, label).await? {
            if let Err(e) = remove_network(&docker, &name).await {
                tracing::warn!("cannot remove network {name}: {e}");
            }
        }
        Ok::<(), String>(())
    };
    if let Err(e) = result.await {
        tracing::warn!("cannot remove networks labelled {label}: {e}");
    }
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
    containers + remove_orphan_networks(&docker).await
}

/// The pid in a `jsbench.pid` label when that jsbench is gone (and is not us).
fn dead_owner(labels: &HashMap<String, String>) -> Option<u32> {
    let pid = labels.get(LABEL_PID)?.parse::<u32>().ok()?;
    (pid != std::process::id() && !pid_alive(pid)).then_some(pid)
}

async fn remove_orphan_containers(docker: &Docker) -> usize {
    let containers = match list_containers(docker, &format!("{LABEL_APP}=1")).await {
        Ok(list) => list,
        Err(e) => {
            tracing::warn!("cannot look for orphaned jsbench containers: {e}");
            return 0;
        }
    };
    let mut removed = 0;
    for (id, labels) in containers {
        let Some(pid) = dead_owner(&labels) else {
            continue;
        };
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

/// Removes the networks of jsbench processes that are gone; call it after their containers
/// are removed. Returns how many were removed.
async fn remove_orphan_networks(docker: &Docker) -> usize {
    let networks = match list_networks(docker, &format!("{LABEL_APP}=1")).await {
        Ok(list) => list,
        Err(e) => {
            tracing::warn!("cannot look for orphaned jsbench networks: {e}");
            return 0;
        }
    };
    let mut removed = 0;
    for (name, labels) in networks {
        let Some(pid) = dead_owner(&labels) else {
            continue;
        };
        match remove_network(docker, &name).await {
            Ok(()) => {
                tracing::info!("removed orphaned network {name} of dead jsbench pid {pid}");
                removed += 1;
            }
            Err(e) => tracing::warn!("cannot remove orphaned network {name}: {e}"),
        }
    }
    removed
}
