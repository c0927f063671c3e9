//! A TCP fault proxy on loopback, owned by the harness, for injecting network faults between a
//! NATS client connection and the server.
//!
//! Why it exists: chaos scenarios need to degrade the network in controlled, repeatable ways
//! (slow links, stalls, resets, outages) without an external daemon. The vocabulary follows
//! Toxiproxy (latency, bandwidth, slicer, timeout, reset_peer, down) so scenarios read the same
//! as the tool people already know.
//!
//! Why one proxy per client connection: jsbench starts one [`Proxy`] in front of the server for
//! each client connection, so a fault can target connection indexes ("stall connection 2")
//! rather than every client at once. A proxy may still see several TCP links over time (the
//! client reconnects); a toxic applies to all its current and future links.
//!
//! Why seeded jitter: a measured fault must be reproducible, so the latency jitter is drawn from
//! a ChaCha RNG seeded from the proxy seed, the link index and the direction.
//!
//! Shape of the hot path: each link runs one task that drives two copy loops (one per direction)
//! concurrently. A loop reads into a reusable buffer and, when no toxic is set, writes straight
//! to the other socket (no queue, no allocation, no lock). When a toxic is set, chunks go through
//! a small FIFO queue with a due time, so delays never reorder bytes. The toxics live in a
//! `tokio::sync::watch` channel: the loops keep a local copy and only re-read it when the
//! channel's version changes, so a `set` takes effect on live links promptly and nothing holds a
//! lock across an await.
//!
//! Where things are:
//! - `handle.rs`: the public [`Proxy`] handle and its [`ProxyStats`];
//! - `control.rs`: the state the handle shares with its tasks (toxics, outage, resets, stop)
//!   and the counters;
//! - `link.rs`: the accept loop and one task per link (connect upstream, tear down on faults);
//! - `pump.rs`: the copy loop of one direction (the hot path) and the bytes a toxic holds;
//! - `toxic.rs`: [`Toxic`], [`Direction`] and their scheduling (due times, slices, pacing).

mod control;
mod handle;
mod link;
mod pump;
mod toxic;

pub use handle::{Proxy, ProxyStats};
pub use toxic::{Direction, Toxic};
