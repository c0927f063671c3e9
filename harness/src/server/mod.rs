//! Server provisioning: starts (or attaches to) the NATS server a run publishes to.
//!
//! Every run gets its own ephemeral server unless the user points jsbench at an
//! external URL. Three backends:
//! - `process`: a `nats-server` child process on a free loopback port with a temp store dir
//!   (see [`find_or_fetch_binary`] for where the binary comes from);
//! - `container`: a container on the local Docker engine;
//! - `external`: an existing server or cluster, reached through a seed list (one URL or several,
//!   comma-separated; every connection gets all of them); nothing is started or stopped.
//!
//! `auto` resolves to `container` when a Docker engine answers and the image is present
//! (or pullable), else to `process`. The returned [`Server`] records which backend was used
//! and how the server was obtained, and removes what it started when stopped or dropped
//! (also on panic). If jsbench itself is killed, the kernel kills a process server
//! (`PR_SET_PDEATHSIG`), and [`kill_orphans`] removes containers left behind.
//!
//! A server jsbench starts may be a cluster of `nodes` (up to [`MAX_NODES`]): nodes named `n0`…,
//! with routes between them (process backend: every route through a fault proxy of its own;
//! container backend: Docker networks of their own). Every node listens on loopback only (a
//! container: publishes there) and admits only the run's credential; its monitoring endpoint is
//! known ([`Node`]).
//!
//! A server jsbench started can also be made to fail ([`ServerFault`]), node by node: paused,
//! killed (kill -9) and started again, or restarted gracefully. A node keeps its JetStream store
//! and its client URL through all of them, so clients under test can reconnect, and stopping or
//! dropping the server cleans up whatever state a fault left it in. The links between nodes can
//! be cut ([`Server::partition`], both backends) or slowed ([`Server::set_route_toxic`], process
//! backend).
//!
//! Where things are. One plan through a run reads top down: `spec.rs` (what is asked) →
//! `handle.rs` ([`Server`]) → `backend.rs` (the backend picked, and every action routed to it)
//! → `process/` or `container/` (each `mod.rs` says how it is split) → `ready.rs` (a cluster
//! ready to publish to).
//! - `spec.rs`: [`ServerSpec`], [`Backend`], [`Auth`], [`Node`]: plain data;
//! - `handle.rs`: [`Server`], the public handle; it never matches on a backend;
//! - `backend.rs`: `auto` resolved, the backend started, and `Started`, whose methods are the
//!   one place where faults, partitions, route faults and stop are dispatched per backend;
//! - `process/`: the nats-server child process backend (nodes, cluster, route proxies, temp dirs);
//! - `container/`: the container backend (nodes, cluster, networks, image) and the Docker API;
//! - `external.rs`: an existing server: its seed list ([`seed_urls`]) and the [`Auth`] settings;
//! - used by both backends: `config.rs` (a node's config file, [`SyncInterval`]),
//!   `credential.rs` ([`Credential`]), `binary.rs` (the nats-server binary: the process backend
//!   runs it, the local image is built from it), `fault.rs` ([`ServerFault`] and the state
//!   machine of pause, kill and restart), `port_hold.rs` (ports held while a node is down),
//!   `probe.rs` (is it serving, is a pid alive), `monitor.rs` (a node's monitoring endpoint),
//!   `error.rs` ([`ServerError`]).
//!
//! No file of the folder imports this one: they name each other directly, and this file only
//! hands the public names on, so the imports run one way (no circles).

mod backend;
mod binary;
mod config;
mod container;
mod credential;
mod error;
mod external;
mod fault;
mod handle;
pub mod monitor;
mod port_hold;
mod probe;
mod process;
mod ready;
mod spec;

// The child-process rules (PR_SET_PDEATHSIG from one long-lived thread), shared with adapters.
pub use binary::{cache_dir, find_or_fetch_binary, pinned_binary, BIN_ENV, NATS_VERSION};
pub use config::SyncInterval;
pub use container::{
    docker_available, kill_orphans, ImageChoice, DEFAULT_IMAGE, IMAGE_ENV, LOCAL_IMAGE,
};
// Building an image through the Docker API, shared with the jsbench image (`crate::image`).
pub(crate) use container::{
    build as build_image, client as docker_client, image_id, remove_replaced, BuildContext, Recipe,
};
pub use credential::Credential;
pub use error::ServerError;
pub use external::seed_urls;
pub use fault::ServerFault;
pub use handle::Server;
pub(crate) use process::{on_spawner_thread, set_parent_death_signal};
pub use spec::{Auth, Backend, Node, ServerSpec, MAX_NODES};
