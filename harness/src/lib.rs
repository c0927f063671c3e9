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
//! | `scenario/` | the TOML file (`raw/`), the validated `Plan` and the values of its fields (`Wire` too), validation one function per section (`validate/`), claims as written and what each needs (`expect.rs`) |
//! | `workload/` | the generator: keys from the seed, the message format on the wire (writing and reading tags), the pacer |
//! | `client/` | the publisher: the phase loop, one attempt and its outcome, the wire tap on ack futures, retries, the connection pool and routing |
//! | `adapter/` | the adapter contract (docs/adapters.md): the line protocol, one adapter process per run (`Session`: handshake, clock probes, publishes, reports validated), the shipped adapters built on first use |
//! | `consume/` | the consume side: a JetStream consumer feeding a keyed or shared worker pool |
//! | `nemesis/` | faults: the `Fault` enum (each variant with its parameters), the schedule, the random nemesis (a schedule drawn from a seed), applying them to proxies and servers |
//! | `proxy/` | the loopback TCP fault proxy with Toxiproxy's toxics |
//! | `faultfs/` | the fault filesystem: a FUSE pass-through mount over a node's store that can lose power (drop unsynced writes and entries), flip bits, truncate files and slow down, with the file kinds of a nats-server store |
//! | `server/` | servers and clusters jsbench starts (`process/`, `container/` with the Docker API) or attaches to (external); picking a backend and routing faults to it (`backend.rs`); the binary, credential, node config, monitoring |
//! | `record/` | the history (pre-sized columns, the key column in 1, 2 or 4 B by the key count: `keys.rs`, the attempt log in fixed chunks: `chunked.rs`; in a long run the per-message columns and the attempt log's full chunks in mapped, unlinked files whose pages the process lets go of: `column.rs`), observations (clock, histograms, timeline, wire tap), the read-back, the follower that reads the stream while the run goes on (`follow/`) and its spill file, what is seen of a cluster |
//! | `checker/` | pure checkers: order, safety, retries, fault windows, consume, replies, and how each claim is judged; the storage-side ones also streaming, copy by copy during the run (`stream/`, where `divergence` itself lives: every order is judged in bits per message) |
//! | `claims/` | claims files judged across runs (confirmed, refuted, inconclusive, not measured) and the order table |
//! | `split/` | one plan split across N workers (distributed load): each worker's keys, connections and share of the messages and rate, and why a plan cannot be split |
//! | `coord/` | a distributed run (`run --workers N`, `coordinate`, `worker`): the coordination server (a free loopback port, or `--listen` with the user's token: `server.rs`, `launch.rs`), its KV plan, index claims, registrations and barrier, the clock-offset probe, the worker processes, their uploads fetched and merged |
//! | `runner/` | one Plan end to end: rig, phases, the follower in a run (`streaming.rs`), status, analysis (pure), artifacts, the report, the progress bar and the live line |
//! | `result/` | result.json (`Report`, `RunStatus`), hlog files, loading recorded results |
//! | `render/` | one view model of a run and of a suite, and what draws from it: text, csv/json, HTML, the charts (one file each), a comparison's table and chart |
//! | `compare/` | the regression gate: metrics table, decisions, flips, statistics |
//! | `image/` | the jsbench container image (`jsbench image build`): the running binary, its shared libraries and loader, the pinned nats-server, `FROM scratch`, built through `server/container/`'s build machinery |
//! | `app/` | the commands (run, check, list, compare, report, baselines), shared by `main.rs` and `benches/suite.rs` |
//! | `cancel.rs` | Ctrl-C levels, shared by every long wait |
//! | `hash.rs` | FNV-1a, the one stable hash (key affinity, the keyed consume pool, the run tag, fault targets, compare's bootstrap) |
//! | `stats.rs` | the median and the bootstrap interval, shared by compare, claims, the charts and the benches |
//!
//! What a change touches:
//! - a network fault kind: `nemesis/fault.rs` (the variant, its toxic), `nemesis/params.rs` (its
//!   parameters) and
//!   `proxy/toxic.rs` (the toxic, when it is a new one);
//! - a chart: its own file in `render/chart/` and `render/chart/mod.rs` (one entry in `FIGURES`);
//! - a claim: `scenario/expect.rs` (the field, and its row in `CLAIMS`: how it is written, what
//!   it needs) and `checker/claims.rs` (its row in `CHECKS`, at the same place: how it is judged);
//! - an output format: its own file in `render/` and `render/mod.rs`;
//! - a disk fault kind: `nemesis/kind.rs` (the kind, `Scope::Disk`), `nemesis/fault.rs` (its
//!   variant), `nemesis/params.rs` (its parameters), `nemesis/disk.rs` (what it does to each
//!   node's fault filesystem and what it records) and `scenario/validate/faults/disk.rs`;
//! - a kind of store file for disk faults: `faultfs/kind.rs` (the variant and its path rule) and
//!   the kinds table in the `faultfs/mod.rs` header.
//!
//! Imports point one way, down this list of layers (a folder uses only those below it):
//! `app`, `image` · `render` · `claims` · `coord` · `runner`, `compare` · `result` · `checker` · `client`,
//! `consume`, `split` · `adapter` · `workload` · `scenario` · `nemesis` · `record` · `server` · `proxy`, `faultfs`,
//! `cancel.rs`, `hash.rs`. The workload reads the Plan's values (keys, rate, wire format), so it stands above
//! the scenario; the scenario validates faults into the nemesis's `FaultPlan` (the nemesis owns
//! what a fault is: kinds, parameters, schedule), so the nemesis stands below it, and the record
//! below the nemesis (fault windows are stamped on its clock): so the read-back is handed the
//! workload's tag decoder rather than importing it. compare and claims compute; render draws.
//!
//! Arrows that run back up, and why: none — every `use crate::…` of a folder names only folders
//! below it in this list.

pub mod adapter;
pub mod app;
pub mod cancel;

pub mod checker;
pub mod claims;
pub mod client;
pub mod compare;
pub mod consume;
pub mod coord;
pub mod faultfs;
pub mod hash;
pub mod image;
pub mod nemesis;
pub mod proxy;
pub mod record;
pub mod render;
pub mod result;
pub mod runner;
pub mod scenario;
pub mod server;
pub mod split;
pub mod stats;
pub mod workload;
