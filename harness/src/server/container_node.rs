//! Creating the container of one cluster node through the Docker API: created, given its config
//! and attached to both of its cluster's networks *before* it starts.
//!
//! Why not testcontainers, as for a single server: it creates and starts a container in one call,
//! so a node could join the routes network (and get the alias its peers dial) only after its
//! nats-server was running. Its first route attempts then fail to resolve and are retried a second
//! later, by which time JetStream's early meta-leader campaign has gone by without peers, and the
//! election falls back to Raft's election timeout: clusters took 2.5 to 10 s to elect their meta
//! leader instead of well under a second (measured here, Docker 20.10 engine). Created and attached
//! first, then started together, the nodes find each other from their first attempt, as on the
//! process backend.
//!
//! The container is what testcontainers would make: the same image, command, labels, config file
//! (copied in, never on a command line), anonymous store volume and explicit loopback bindings of
//! the host ports jsbench holds.

use std::collections::HashMap;

use testcontainers::bollard::models::{
    ContainerCreateBody, HostConfig, Mount, MountType, PortBinding,
};
use testcontainers::bollard::query_parameters::UploadToContainerOptionsBuilder;
use testcontainers::bollard::Docker;

use super::config::NodeConfig;
use super::container::{
    call, client, unique_instance_id, ContainerServer, SweepOnDrop, CONFIG_PATH,
    DOCKER_CALL_TIMEOUT, LABEL_APP, LABEL_INSTANCE, LABEL_PID, MONITOR_PORT, NATS_ARGS, NATS_PORT,
};
use super::network::{self, Attachment};
use super::port_hold::PortHold;
use super::ServerError;

/// Creates node `config.name`'s container of `image` on `attach`'s networks, not started
/// ([`ContainerServer::start_created`] starts it). If this fails or is cancelled midway,
/// the container is removed.
pub(crate) async fn create(
    image: &str,
    config: &NodeConfig,
    attach: Attachment,
) -> Result<ContainerServer, ServerError> {
    let hold = || {
        PortHold::bind(0)
            .map_err(|e| ServerError::io("cannot reserve a host port for the container", e))
    };
    let ports = [hold()?, hold()?];
    let instance = unique_instance_id();
    // Armed until the container is in a value whose Drop removes it.
    let mut sweep = SweepOnDrop(Some(instance.clone()));
    let docker = client().await?;
    let body = create_body(
        image,
        &attach,
        [ports[0].port(), ports[1].port()],
        &instance,
    );
    let created = call(
        format!(
            "creation of a container of image {image} for node {}",
            config.name
        ),
        DOCKER_CALL_TIMEOUT,
        docker.create_container(None, body),
    )
    .await?;
    let (routes, alias) = (attach.routes.clone(), attach.alias.clone());
    let server = ContainerServer::created(created.id, ports, attach);
    sweep.0 = None;
    upload_config(&docker, server.id(), config).await?;
    network::connect(&docker, &routes, server.id(), &alias).await?;
    Ok(server)
}

/// The container: on the clients network, its client and monitoring ports published on
/// 127.0.0.1 at `host_ports`, its store on an anonymous volume, labelled as every container
/// jsbench starts (`container.rs`).
fn create_body(
    image: &str,
    attach: &Attachment,
    host_ports: [u16; 2],
    instance: &str,
) -> ContainerCreateBody {
    let bindings = [NATS_PORT, MONITOR_PORT]
        .into_iter()
        .zip(host_ports)
        .map(|(container, host)| {
            let binding = PortBinding {
                host_ip: Some("127.0.0.1".into()),
                host_port: Some(host.to_string()),
            };
            (format!("{container}/tcp"), Some(vec![binding]))
        })
        .collect::<HashMap<_, _>>();
    let labels = HashMap::from([
        (LABEL_APP.to_string(), "1".to_string()),
        (LABEL_PID.to_string(), std::process::id().to_string()),
        (LABEL_INSTANCE.to_string(), instance.to_string()),
    ]);
    ContainerCreateBody {
        image: Some(image.to_string()),
        cmd: Some(NATS_ARGS.iter().map(|a| a.to_string()).collect()),
        labels: Some(labels),
        exposed_ports: Some(bindings.keys().cloned().collect()),
        host_config: Some(HostConfig {
            port_bindings: Some(bindings),
            network_mode: Some(attach.clients.clone()),
            // Removed with the container (`v: true`); see `container.rs` for why a volume.
            mounts: Some(vec![Mount {
                target: Some("/data".into()),
                typ: Some(MountType::VOLUME),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Copies the node's config file into the container (a tar archive, as the API takes it).
async fn upload_config(docker: &Docker, id: &str, config: &NodeConfig) -> Result<(), ServerError> {
    let archive = config_archive(&config.render())
        .map_err(|e| ServerError::io("cannot pack the node's config file", e))?;
    let options = UploadToContainerOptionsBuilder::new().path("/").build();
    call(
        format!("copy of the config file into container {id}"),
        DOCKER_CALL_TIMEOUT,
        docker.upload_to_container(
            id,
            Some(options),
            testcontainers::bollard::body_full(archive.into()),
        ),
    )
    .await
}

/// A tar archive holding `text` at [`CONFIG_PATH`]; Docker creates the missing directories.
fn config_archive(text: &str) -> std::io::Result<Vec<u8>> {
    let mut archive = tar::Builder::new(Vec::new());
    let mut header = tar::Header::new_gnu();
    header.set_size(text.len() as u64);
    // As testcontainers copies a single server's config; only root runs in the container.
    header.set_mode(0o644);
    header.set_cksum();
    let path = CONFIG_PATH.trim_start_matches('/');
    archive.append_data(&mut header, path, text.as_bytes())?;
    archive.into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_publishes_on_loopback_from_its_clients_network() {
        let attach = Attachment {
            clients: "c".into(),
            routes: "r".into(),
            alias: "n1".into(),
        };
        let body = create_body("img:1", &attach, [4000, 4001], "x");
        let host = body.host_config.unwrap();
        assert_eq!(host.network_mode.as_deref(), Some("c"));
        let bindings = host.port_bindings.unwrap();
        let client = bindings["4222/tcp"].as_ref().unwrap();
        assert_eq!(client[0].host_ip.as_deref(), Some("127.0.0.1"));
        assert_eq!(client[0].host_port.as_deref(), Some("4000"));
        assert_eq!(
            bindings["8222/tcp"].as_ref().unwrap()[0]
                .host_port
                .as_deref(),
            Some("4001")
        );
        assert_eq!(body.labels.unwrap()["jsbench"], "1");
    }

    #[test]
    fn the_config_lands_at_its_path() {
        let tar = config_archive("server_name: n0\n").unwrap();
        let mut archive = tar::Archive::new(tar.as_slice());
        let entry = archive.entries().unwrap().next().unwrap().unwrap();
        assert_eq!(
            entry.path().unwrap().display().to_string(),
            CONFIG_PATH.trim_start_matches('/')
        );
    }
}
