//! How a node's container comes to be. Two ways, because a single server and a cluster node
//! need different things:
//!
//! - a single server ([`start_single`]) is started through testcontainers, which creates and
//!   starts it in one call and waits for its ready line;
//! - a cluster node ([`create_cluster_node`]) is created through the Docker API, given its config
//!   and attached to both of its cluster's networks *before* it starts.
//!
//! Why not testcontainers for cluster nodes too: it creates and starts a container in one call,
//! so a node could join the routes network (and get the alias its peers dial) only after its
//! nats-server was running. Its first route attempts then fail to resolve and are retried a second
//! later, by which time JetStream's early meta-leader campaign has gone by without peers, and the
//! election falls back to Raft's election timeout: clusters took 2.5 to 10 s to elect their meta
//! leader instead of well under a second (measured here, Docker 20.10 engine). Created and attached
//! first, then started together, the nodes find each other from their first attempt, as on the
//! process backend.
//!
//! Either way the container is the same: the same image, command, labels (`docker.rs`), config
//! file (copied in, never on a command line), anonymous store volume and explicit loopback
//! bindings of host ports jsbench holds (`node.rs` says why they are chosen by jsbench). A port
//! can still be taken between our pick and Docker's bind only by a process binding that exact
//! port; a single server's start is then retried on another one (a cluster's start fails with
//! Docker's message instead).

use std::collections::HashMap;

use testcontainers::bollard::models::{
    ContainerCreateBody, HostConfig, Mount, MountType, PortBinding,
};
use testcontainers::bollard::query_parameters::UploadToContainerOptionsBuilder;
use testcontainers::bollard::Docker;
use testcontainers::core::{IntoContainerPort, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{GenericImage, ImageExt};

use super::docker::{
    call, client, connect, labels, remove_containers_by_label, unique_instance_id, SweepOnDrop,
    DOCKER_CALL_TIMEOUT, LABEL_INSTANCE,
};
use super::image::split_image;
use super::network::Attachment;
use super::node::{ContainerServer, MONITOR_PORT, NATS_PORT};
use crate::server::config::NodeConfig;
use crate::server::error::ServerError;
use crate::server::port_hold::PortHold;

/// Where the config holding the per-run credential is copied into the container.
const CONFIG_PATH: &str = "/etc/jsbench/nats-server.conf";
/// Arguments for the image's `/nats-server` entrypoint (the official image and ours).
const NATS_ARGS: [&str; 7] = ["-c", CONFIG_PATH, "-js", "-sd", "/data", "-m", "8222"];
/// What nats-server logs once it serves; testcontainers waits for it.
const READY_LINE: &str = "Server is ready";
const STARTUP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// Starts tried on fresh host ports when the chosen one turns out to be taken.
const PORT_ATTEMPTS: u32 = 3;

/// Two host ports (client, monitoring) reserved for a container.
fn hold_ports() -> Result<[PortHold; 2], ServerError> {
    let hold = || {
        PortHold::bind(0)
            .map_err(|e| ServerError::io("cannot reserve a host port for the container", e))
    };
    Ok([hold()?, hold()?])
}

/// Starts `image` with `config` (which holds the per-run credential) as a single server
/// and waits until the published client port greets.
pub(super) async fn start_single(
    image: &str,
    config: &NodeConfig,
) -> Result<ContainerServer, ServerError> {
    let mut attempt = 1;
    loop {
        let ports = hold_ports()?;
        let host_ports = [ports[0].port(), ports[1].port()];
        match start_on(image, config, ports).await {
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
        // Explicit host ports, the same on every start of this container (`node.rs`).
        .with_mapped_port(ports[0].port(), NATS_PORT.tcp())
        .with_mapped_port(ports[1].port(), MONITOR_PORT.tcp())
        // On loopback only: Docker publishes on every interface unless told otherwise.
        .with_host_config_modifier(bind_loopback)
        // The store on an anonymous volume, not the container's writable layer: on
        // overlay/fuse-overlayfs drivers the layer made file-storage runs ~6x slower than the
        // process backend. Removal (`v: true` in force_remove) frees the volume with it.
        .with_mount(testcontainers::core::Mount::volume_mount("", "/data"))
        .with_labels(labels(&instance))
        .with_startup_timeout(STARTUP_TIMEOUT);
    let container = match request.start().await {
        Ok(container) => container,
        Err(source) => {
            remove_containers_by_label(&format!("{LABEL_INSTANCE}={instance}")).await;
            sweep.0 = None;
            return Err(ServerError::Container {
                what: format!("start of image {image}"),
                source,
            });
        }
    };
    sweep.0 = None;
    ContainerServer::managed(container, ports, image).await
}

/// Publishes every port on 127.0.0.1 only (testcontainers leaves the host address empty,
/// which Docker reads as every interface, IPv6 included).
fn bind_loopback(config: &mut HostConfig) {
    for bindings in config.port_bindings.iter_mut().flat_map(|m| m.values_mut()) {
        for b in bindings.iter_mut().flatten() {
            b.host_ip = Some("127.0.0.1".to_string());
        }
    }
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

/// Creates node `config.name`'s container of `image` on `attach`'s networks, not started
/// ([`ContainerServer::start_created`] starts it). If this fails or is cancelled midway,
/// the container is removed.
pub(super) async fn create_cluster_node(
    image: &str,
    config: &NodeConfig,
    attach: Attachment,
) -> Result<ContainerServer, ServerError> {
    let ports = hold_ports()?;
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
    connect(&docker, &routes, server.id(), &alias).await?;
    Ok(server)
}

/// The container: on the clients network, its client and monitoring ports published on
/// 127.0.0.1 at `host_ports`, its store on an anonymous volume, labelled as every container
/// jsbench starts (`docker.rs`).
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
    ContainerCreateBody {
        image: Some(image.to_string()),
        cmd: Some(NATS_ARGS.iter().map(|a| a.to_string()).collect()),
        labels: Some(labels(instance)),
        exposed_ports: Some(bindings.keys().cloned().collect()),
        host_config: Some(HostConfig {
            port_bindings: Some(bindings),
            network_mode: Some(attach.clients.clone()),
            // Removed with the container (`v: true`); see `start_on` for why a volume.
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
