//! The Docker networks of a container cluster: created by jsbench for one run, removed with it.
//!
//! A cluster of containers gets two user-defined bridge networks of its own:
//! - *clients*: every node is created on it, and its client and monitoring ports are published
//!   from it (on 127.0.0.1, at host ports jsbench holds, see `container.rs`);
//! - *routes*: every node joins it after it is created and before it starts, under the alias
//!   `n<i>`, and the routes dial `n<j>:6222`. Route traffic therefore stays on a network
//!   jsbench created, and the alias resolves only there (Docker's embedded DNS answers aliases
//!   per network).
//!
//! Two networks rather than one, because a partition is made by taking a node off the routes
//! network: on a single network that would also take down its published ports, and with them
//! the client links the partition is meant to leave alone.
//!
//! Both carry the labels `jsbench=1`, `jsbench.pid=<our pid>` and `jsbench.instance=<unique id>`
//! (the containers' scheme). The instance label lets [`RunNetworks`]' Drop remove networks
//! whose creation was cut off midway; the pid label lets `kill_orphans` remove the networks of
//! jsbench processes that died without cleaning up. A network still has to be empty to be
//! removed, so removal first force-disconnects whatever is still attached (a container that a
//! cancelled start created late, say), rather than leaving the network behind.

use std::collections::HashMap;

use testcontainers::bollard::models::{
    EndpointSettings, NetworkConnectRequest, NetworkCreateRequest, NetworkDisconnectRequest,
};
use testcontainers::bollard::query_parameters::ListNetworksOptionsBuilder;
use testcontainers::bollard::Docker;

use super::container::{
    call, client, docker, run_to_completion, unique_instance_id, DOCKER_CALL_TIMEOUT, LABEL_APP,
    LABEL_INSTANCE, LABEL_PID, LATE_CREATE_GRACE,
};
use super::{pid_alive, ServerError};

/// Where one node of a cluster is attached: the network it is created on, and the routes
/// network it joins under `alias`.
#[derive(Debug, Clone)]
pub(crate) struct Attachment {
    pub(crate) clients: String,
    pub(crate) routes: String,
    pub(crate) alias: String,
}

/// The two networks of one cluster; removed by [`RunNetworks::remove`] or, failing that, Drop.
#[derive(Debug)]
pub(crate) struct RunNetworks {
    clients: String,
    routes: String,
    /// The `jsbench.instance` label value both networks carry; None once removed.
    instance: Option<String>,
    /// Whether both creations completed; if not, one may still complete in the daemon.
    created: bool,
}

impl RunNetworks {
    /// Creates both networks. If this fails or is cancelled midway, whatever was created is
    /// removed (the value exists, armed, before the first request is sent).
    pub(crate) async fn create() -> Result<RunNetworks, ServerError> {
        let instance = unique_instance_id();
        let mut networks = RunNetworks {
            clients: format!("jsbench-{instance}-clients"),
            routes: format!("jsbench-{instance}-routes"),
            instance: Some(instance.clone()),
            created: false,
        };
        let docker = client().await?;
        for name in [&networks.clients, &networks.routes] {
            let request = NetworkCreateRequest {
                name: name.clone(),
                driver: Some("bridge".into()),
                labels: Some(labels(&instance)),
                ..Default::default()
            };
            call(
                format!("creation of network {name}"),
                DOCKER_CALL_TIMEOUT,
                docker.create_network(request),
            )
            .await?;
        }
        networks.created = true;
        tracing::debug!(
            "created networks {} and {}",
            networks.clients,
            networks.routes
        );
        Ok(networks)
    }

    /// Where node `alias` is attached.
    pub(crate) fn attachment(&self, alias: &str) -> Attachment {
        Attachment {
            clients: self.clients.clone(),
            routes: self.routes.clone(),
            alias: alias.to_string(),
        }
    }

    /// Removes both networks; call it after the containers are gone.
    /// On failure the value is dropped still armed, so Drop tries once more.
    pub(crate) async fn remove(mut self) -> Result<(), ServerError> {
        let Some(instance) = self.instance.clone() else {
            return Ok(());
        };
        let docker = client().await?;
        let names = list_by_label(&docker, &format!("{LABEL_INSTANCE}={instance}"))
            .await
            .map_err(|reason| ServerError::DockerUnavailable { reason })?;
        for name in names {
            remove_network(&docker, &name).await?;
        }
        self.instance = None;
        Ok(())
    }
}

impl Drop for RunNetworks {
    fn drop(&mut self) {
        if let Some(instance) = self.instance.take() {
            let created = self.created;
            run_to_completion(async move {
                let label = format!("{LABEL_INSTANCE}={instance}");
                remove_by_label(&label).await;
                if !created {
                    // A create request cut off mid-flight can still complete in the daemon.
                    tokio::time::sleep(LATE_CREATE_GRACE).await;
                    remove_by_label(&label).await;
                }
            });
        }
    }
}

fn labels(instance: &str) -> HashMap<String, String> {
    HashMap::from([
        (LABEL_APP.to_string(), "1".to_string()),
        (LABEL_PID.to_string(), std::process::id().to_string()),
        (LABEL_INSTANCE.to_string(), instance.to_string()),
    ])
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
async fn remove_network(docker: &Docker, name: &str) -> Result<(), ServerError> {
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
    use testcontainers::bollard::errors::Error;
    matches!(
        e,
        ServerError::Docker {
            source: Error::DockerResponseServerError {
                status_code: 404,
                ..
            },
            ..
        }
    )
}

/// Names of the networks matching a `key=value` label filter, with their labels.
async fn list_labelled(
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

async fn list_by_label(docker: &Docker, label: &str) -> Result<Vec<String>, String> {
    Ok(list_labelled(docker, label)
        .await?
        .into_iter()
        .map(|(name, _)| name)
        .collect())
}

/// Best-effort removal of every network matching `label`.
async fn remove_by_label(label: &str) {
    let result = async {
        let docker = docker().await?;
        for name in list_by_label(&docker, label).await? {
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

/// Removes the networks labelled `jsbench.pid=<pid>` whose jsbench process is gone; call it
/// after their containers are removed. Returns how many were removed.
pub(crate) async fn remove_orphans(docker: &Docker) -> usize {
    let networks = match list_labelled(docker, &format!("{LABEL_APP}=1")).await {
        Ok(list) => list,
        Err(e) => {
            tracing::warn!("cannot look for orphaned jsbench networks: {e}");
            return 0;
        }
    };
    let mut removed = 0;
    for (name, labels) in networks {
        let Some(pid) = labels.get(LABEL_PID).and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid == std::process::id() || pid_alive(pid) {
            continue;
        }
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
