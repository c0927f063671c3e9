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

pub mod cancel;
pub mod chart;
pub mod checker;
pub mod client;
pub mod compare;
pub mod connection;
pub mod consumer;
pub mod history;
pub mod html;
pub mod nemesis;
pub mod observe;
pub mod output;
pub mod progress;
pub mod proxy;
pub mod readback;
pub mod report;
pub mod results;
pub mod runner;
pub mod scenario;
pub mod server;
pub mod suite;
pub mod workload;
