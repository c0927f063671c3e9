//! jsbench: measures what NATS JetStream publishing strategies do to throughput, latency and the
//! order of events — publish order, ack order (wire and completion), storage order — against a
//! real server the harness starts and removes itself.
//!
//! The shape of one run (see README "Architecture"):
//!
//! ```text
//! scenario (TOML) ─validate─▶ Plan ─▶ server::Server::start ─▶ connection::Pool
//!   ─▶ client::Publisher (workload, pacer) ─▶ history::History + observe::Recorder
//!   ─▶ readback ─▶ checker ─▶ report (result.json, hlog) ─▶ results/
//! ```
//!
//! Vocabulary follows Jepsen: the *client* publishes, the *workload* (generator) decides what,
//! the *history* records what happened, *checkers* judge it, the *report* tells it.

pub mod app;
pub mod cancel;

pub mod checker;
pub mod client;
pub mod compare;
pub mod consume;
pub mod nemesis;
pub mod proxy;
pub mod record;
pub mod render;
pub mod result;
pub mod runner;
pub mod scenario;
pub mod server;
pub mod workload;
