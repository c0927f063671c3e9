//! The Docker networks of a container cluster: created by jsbench for one run, removed with it.
//!
//! A cluster of containers gets two user-defined bridge networks of its own:
//! - *clients*: every node is created on it, and its client and monitoring ports are published
//!   from it (on 127.0.0.1, at host ports jsbench holds, see `node.rs`);
//! - *routes*: every node joins it after it is created and before it starts, under the alias
//!   `n<i>`, and the routes dial `n<j>:6222`. Route traffic therefore stays on a network
//!   jsbench created, and the alias resolves only there (Docker's embedded DNS answers aliases
//!   per network).
//!
//! Two networks rather than one, because a partition is made by taking a node off the routes
//! network: on a single network that would also take down its published ports, and with them
//! the client links the partition is meant to leave alone.
//!
//! Both carry jsbench's labels (`docker.rs`): the instance label lets [`RunNetworks`]' Drop
//! remove networks whose creation was cut off midway; the pid label lets `kill_orphans` remove
//! the networks of jsbench processes that died without cleaning up.

use testcontainers::bollard::models::NetworkCreateRequest;

use super::docker::{
    call, client, labels, network_names, remove_network, remove_networks_by_label,
    run_to_completion, unique_instance_id, DOCKER_CALL_TIMEOUT, LABEL_INSTANCE, LATE_CREATE_GRACE,
};
use crate::server::error::ServerError;

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
        let names = network_names(&docker, &format!("{LABEL_INSTANCE}={instance}"))
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
                remove_networks_by_label(&label).await;
                if !created {
                    // A create request cut off mid-flight can still complete in the daemon.
                    tokio::time::sleep(LATE_CREATE_GRACE).await;
                    remove_networks_by_label(&label).await;
                }
            });
        }
    }
}
