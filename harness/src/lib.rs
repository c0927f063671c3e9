//! jsbench: measures what NATS JetStream publishing strategies do to throughput, latency and the
//! order of events — publish order, ack order (wire and completion), storage order, consume
//! order — against a real server (or cluster) the harness starts and removes itself, with faults
//! injected on schedule.
//!
//! The shape of one run:
//!
//! ```text
//! scenario (TOML) ─validate─▶ Plan ─▶ server::Server::start ─▶ runner (rig: proxies, connections, stream)
//!   ─▶ client::Publisher (workload, pacer)  ║  nemesis (faults)  ║  consume (worker pool)
//!   ─▶ record (history, observations, read-back, cluster views)
//!   ─▶ checker (pure figures and claims) ─▶ result (result.json, hlog) ─▶ render (text, csv/json, HTML, charts)
//!   ─▶ compare (baseline vs candidate)                       app: the commands that drive all of it
//! ```
//!
//! Vocabulary follows Jepsen: the *client* publishes, the *workload* (generator) decides what,
//! the *nemesis* injects faults, the *history* records what happened, *checkers* judge it.
//!
//! Layout, one folder per concern (each `mod.rs` says what it owns):
//!
//! | folder | owns |
//! |---|---|
//! | `scenario/` | the TOML file (`raw/`), the validated `Plan`, validation one function per section (`validate/`), claims as written (`expect.rs`) |
//! | `workload/` | the generator: keys from the seed, the message format on the wire, the pacer |
//! | `client/` | the publisher: the phase loop, one attempt and its outcome, the wire tap on ack futures, retries, the connection pool and routing |
//! | `consume/` | the consume side: a JetStream consumer feeding a keyed or shared worker pool |
//! | `nemesis/` | faults: the `Fault` enum (each variant with its parameters), the schedule, applying them to proxies and servers |
//! | `proxy/` | the loopback TCP fault proxy with Toxiproxy's toxics |
//! | `server/` | servers and clusters jsbench starts (process, container) or attaches to (external), their image, binary, credential, monitoring |
//! | `record/` | the history, observations (clock, histograms, timeline, wire tap), the read-back, what is seen of a cluster |
//! | `checker/` | pure checkers: order, safety, retries, fault windows, consume, replies, and the claims table |
//! | `claims/` | claims files judged across runs (confirmed, refuted, inconclusive, not measured) and the order table |
//! | `runner/` | one Plan end to end: rig, phases, status, analysis (pure), artifacts, the report |
//! | `result/` | result.json (`Report`, `RunStatus`), hlog files, loading recorded results |
//! | `render/` | one view model of a run and of a suite, and what draws from it: text, csv/json, HTML, the charts (one file each) |
//! | `compare/` | the regression gate: metrics table, decisions, flips, its table |
//! | `app/` | the commands (run, check, list, compare, report, baselines), shared by `main.rs` and `benches/suite.rs` |
//! | `cancel.rs` | Ctrl-C levels, shared by every long wait |
//! | `stats.rs` | the median and the bootstrap interval, shared by compare, claims, the charts and the benches |
//!
//! What a change touches:
//! - a network fault kind: `nemesis/fault.rs` (the variant, its parameter table, its toxic) and
//!   `proxy/toxic.rs` (the toxic, when it is a new one);
//! - a chart: its own file in `render/chart/` and `render/chart/mod.rs` (one entry in `FIGURES`);
//! - a claim: `scenario/expect.rs` (the field) and `checker/claims.rs` (one row in `CLAIMS`);
//! - an output format: its own file in `render/` and `render/mod.rs`.

pub mod app;
pub mod cancel;

pub mod checker;
pub mod claims;
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
pub mod stats;
pub mod workload;
