//! The container backend: every node a NATS server container on the local Docker engine, its
//! client and monitoring ports published on loopback at host ports jsbench holds, its store on
//! an anonymous volume removed with it.
//!
//! Split by what changes together:
//! - `cluster.rs`: [`ContainerCluster`], the server as a whole (one container or several) and
//!   its partitions — what the rest of the server module drives;
//! - `network.rs`: a cluster's two Docker networks (clients, routes) and why two;
//! - `create.rs`: how a node's container comes to be (a single server through testcontainers, a
//!   cluster node through the Docker API, and why the two differ);
//! - `node.rs`: one container once it exists: its URLs, state, faults and removal;
//! - `image.rs`: which image runs, and how jsbench gets one by itself (pull or local build);
//! - `build.rs`: building an image through the Docker API from an in-memory context, shared by
//!   `image.rs` and the jsbench image (`crate::image`);
//! - `docker.rs`: the Docker API underneath all of them: the client, calls with time limits,
//!   labels, removal by label and the sweep of what dead jsbench processes left behind.
//!
//! Everything Docker-specific stays in this folder. The other files make their own API calls on
//! the containers and networks they own, always through `docker.rs`'s client and bounded `call`.

mod build;
mod cluster;
mod create;
mod docker;
mod image;
mod network;
mod node;

pub(crate) use build::{build, image_id, remove_replaced, Context as BuildContext, Recipe};
pub(crate) use cluster::ContainerCluster;
pub(crate) use docker::client;
pub use docker::{docker_available, kill_orphans};
pub(crate) use image::{resolve, AUTO_PULL_TIMEOUT, PULL_TIMEOUT};
pub use image::{ImageChoice, DEFAULT_IMAGE, IMAGE_ENV, LOCAL_IMAGE};
