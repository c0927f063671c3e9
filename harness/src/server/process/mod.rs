//! The process backend: every node a `nats-server` child process of jsbench, on loopback
//! ports, with JetStream storing into a temp dir of its own that is removed with the server.
//!
//! Split by what changes together:
//! - `cluster.rs`: [`ProcessCluster`], the server as a whole (one node or several) — what the
//!   rest of the server module drives;
//! - `mesh.rs`: a cluster's routes, each through a fault proxy of its own, so that a link can be
//!   cut or slowed alone (partitions, route latency);
//! - `node.rs`: one node and its faults: pause, kill (-9) and start again, graceful restart;
//! - `child.rs`: the child process itself: command line, spawn (so that it dies with jsbench),
//!   readiness, signals, graceful and forced ends;
//! - `dir.rs`: the node's temp dir: its JetStream store, log, ports file and config.
//!
//! Where to hook into a node's disk and its life: its JetStream store is `dir::Paths::store`
//! (created before the first start, kept across kills and restarts, removed by stop), and its
//! kill -9 and start-again sequence is `ProcessServer::kill` then `ProcessServer::start_again`
//! in `node.rs` (`ProcessServer::act` lists every fault action). With `ServerSpec::faultfs`
//! (a scenario with disk faults) each node's store is a fault filesystem mount
//! (`dir::mount_store`: backing data in `<temp dir>/backing`), unmounted before the temp dir
//! is removed, on drop too; `ProcessServer::disk` hands it to the nemesis.
//!
//! Where the binary comes from is `server/binary.rs` (the container backend builds its local
//! image from it too); the ports a node holds while it is down are `server/port_hold.rs`.

mod child;
mod cluster;
mod dir;
mod mesh;
mod node;

pub(crate) use child::{on_spawner_thread, set_parent_death_signal};
pub(crate) use cluster::ProcessCluster;
pub(crate) use mesh::RouteMesh;
