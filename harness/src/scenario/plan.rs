//! The validated scenario: [`Plan`] and one `*Plan` per section, every default filled in and
//! every value checked. The enums here (modes, strategies, distributions) are both how a value
//! is written in TOML (snake_case) and what the plan holds.
//!
//! A Plan is recorded in result.json (`scenario.plan`), durations as humantime strings
//! ("2m", "500ms"); changing a field's name or form changes result.json.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Expect;
use crate::nemesis::FaultPlan;
use crate::server::{Auth, Backend, ServerSpec, SyncInterval};

/// A validated scenario: the only thing the runner accepts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub name: String,
    pub description: String,
    pub file: Option<PathBuf>,
    pub seed: u64,
    pub server: ServerPlan,
    pub stream: StreamPlan,
    pub connections: ConnectionsPlan,
    pub publish: PublishPlan,
    pub workload: WorkloadPlan,
    pub observe: ObservePlan,
    pub expect: Expect,
    pub faults: Vec<FaultPlan>,
    /// `[nemesis]`: what the random schedule was drawn from (its faults are `faults`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nemesis: Option<super::NemesisPlan>,
    /// The consume side, when the scenario has one.
    pub consume: Option<ConsumePlan>,
    /// Which client library publishes: async-nats in-process, or an adapter (`[client]`).
    pub client: ClientPlan,
    /// Which repetition of this scenario a run is (1-based; `None` when not repeated). Set by
    /// the suite for `--repeat N`, recorded in result.json so a comparison can tell repeats
    /// from distinct scenarios.
    #[serde(skip)]
    pub repetition: Option<u32>,
}

impl Plan {
    /// True when client connections go through fault proxies.
    pub fn proxied(&self) -> bool {
        self.connections.proxy
    }

    /// The server this plan asks for, with the run's seed (it drives route-fault jitter).
    pub fn server_spec(&self) -> ServerSpec {
        ServerSpec {
            seed: self.seed,
            // Disk faults act on the fault filesystem under each node's store.
            faultfs: self
                .faults
                .iter()
                .any(|f| f.fault.kind().scope() == crate::nemesis::Scope::Disk),
            ..self.server.spec()
        }
    }

    /// True when the plan starts a cluster (more than one node).
    pub fn is_cluster(&self) -> bool {
        self.server.nodes > 1
    }
}

/// `[server]`: which server the run talks to and how it authenticates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerPlan {
    pub backend: Backend,
    pub url: Option<String>,
    pub image: Option<String>,
    #[serde(skip)]
    pub auth: Auth,
    /// Nodes jsbench starts (1: a single server; up to 5: a cluster).
    pub nodes: usize,
    /// JetStream's fsync setting on every node jsbench starts.
    pub sync_interval: SyncInterval,
}

impl ServerPlan {
    pub fn spec(&self) -> ServerSpec {
        ServerSpec {
            backend: self.backend,
            url: self.url.clone(),
            image: self.image.clone(),
            auth: self.auth.clone(),
            nodes: self.nodes,
            sync: self.sync_interval,
            seed: 0,
            faultfs: false,
        }
    }
}

/// `[stream]`: the stream the run creates (and deletes, unless kept).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StreamPlan {
    pub storage: Storage,
    pub replicas: usize,
    #[serde(with = "duration_str")]
    pub duplicate_window: Duration,
    /// -1: unlimited.
    pub max_bytes: i64,
    /// Keep the stream after the run (default: delete it).
    pub keep: bool,
    /// The stream's `persist_mode` (server 2.12+); `None`: the server's default, not sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub persist_mode: Option<PersistMode>,
}

/// When a stream's writes are flushed, relative to the ack (`persist_mode`, server 2.12+).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PersistMode {
    /// Flushed before the ack.
    Default,
    /// Flushed asynchronously: the ack may come before the write is persisted.
    Async,
}

/// Where the stream keeps its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Storage {
    File,
    Memory,
}

/// `[connections]`: how many client connections carry the messages, and how they share them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConnectionsPlan {
    pub strategy: Strategy,
    pub count: usize,
    /// Every connection goes through its own fault proxy.
    #[serde(default)]
    pub proxy: bool,
    /// Which node the connections talk to first (clusters).
    pub connect_to: ConnectTo,
}

/// Which node a connection talks to first, resolved against the stream's leader once the
/// stream exists. A connection knows every node (primary first), so it can fail over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConnectTo {
    /// Connections spread over the nodes: connection i → node i mod n.
    #[default]
    Any,
    /// The stream's leader.
    Leader,
    /// The stream's followers (connections spread over them).
    Follower,
    /// This node.
    Node(usize),
}

impl Serialize for ConnectTo {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ConnectTo::Any => s.serialize_str("any"),
            ConnectTo::Leader => s.serialize_str("leader"),
            ConnectTo::Follower => s.serialize_str("follower"),
            ConnectTo::Node(i) => s.serialize_u64(*i as u64),
        }
    }
}

/// How messages are spread over the connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// One connection carries every message.
    Single,
    /// A pool of N connections; message i goes to connection i mod N.
    RoundRobin,
    /// A pool of N connections; a key always goes to the same connection (by hash).
    KeyAffine,
}

impl Strategy {
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Single => "single",
            Strategy::RoundRobin => "round_robin",
            Strategy::KeyAffine => "key_affine",
        }
    }
}

/// `[publish]`: how the client publishes and waits for acks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublishPlan {
    pub mode: Mode,
    /// Which publish path of the in-process client carries sync and async publishes
    /// (`publish.api`): async-nats' JetStream API, or the lean path (`client/lean/`).
    pub api: Api,
    /// Acks in flight (async; 1 in sync and fast mode), or batches awaiting their commit (batch).
    pub max_in_flight: usize,
    /// Messages per atomic batch (batch mode) or per fast batch (fast mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<usize>,
    /// Fast mode: the ack interval asked of the server (messages per flow ack, at most 500).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow: Option<u16>,
    /// Fast mode: flow acks that may be outstanding before the publisher waits (1..=3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_outstanding_acks: Option<u16>,
    /// Fast mode: what the server does about a missing message ("fail" ends the batch there).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gap: Option<GapMode>,
    pub msg_id: bool,
    /// Where each message's identity travels (README "Message format").
    pub wire: Wire,
    /// Every message expects its key's subject to end at the key's previous message
    /// (`Nats-Expected-Last-Subject-Sequence`); a key has one message in flight at a time.
    pub expect_last_subject_seq: bool,
    #[serde(with = "duration_str")]
    pub ack_timeout: Duration,
    pub retry: RetryPlan,
    /// Every N-th message is followed at once by a repeat of it with the same Msg-Id (what an
    /// application does when it publishes twice): the server answers a duplicate — on a
    /// cluster, often "duplicate message id is in process" before the original's ack.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repeat_msg_id_every: Option<u32>,
}

/// `[client]`: which client library publishes. The default is async-nats in-process; any other
/// publishes through an adapter program (docs/adapters.md), which jsbench drives the same way.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClientPlan {
    pub adapter: ClientAdapter,
    /// `client.command`: a user's own adapter (its argv as written); `None` otherwise.
    pub command: Option<Vec<String>>,
    /// The client's own limit of unacknowledged async publishes (the adapter's `max_pending`).
    pub max_pending: u64,
    /// How long after its publish call returned jsbench waits for the client to resolve a
    /// publish before recording it as unresolved by the client.
    #[serde(with = "duration_str")]
    pub resolve_timeout: Duration,
}

impl ClientPlan {
    /// True for async-nats in jsbench's own process (no adapter).
    pub fn is_in_process(&self) -> bool {
        self.adapter == ClientAdapter::AsyncNats
    }
}

/// `client.adapter`: a shipped client, or `command` for the scenario's own program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClientAdapter {
    /// async-nats in jsbench's own process (the default).
    #[serde(rename = "async-nats")]
    AsyncNats,
    /// async-nats through the adapter contract (the contract's own cost).
    #[serde(rename = "async-nats-stdio")]
    AsyncNatsStdio,
    #[serde(rename = "nats.go")]
    NatsGo,
    #[serde(rename = "nats.c")]
    NatsC,
    #[serde(rename = "nats.py")]
    NatsPy,
    /// `client.command`: the scenario's own adapter program.
    #[serde(rename = "command")]
    Command,
}

impl ClientAdapter {
    /// The names a scenario may write in `client.adapter` (`command` is written as
    /// `client.command`).
    pub const NAMES: [ClientAdapter; 5] = [
        ClientAdapter::AsyncNats,
        ClientAdapter::AsyncNatsStdio,
        ClientAdapter::NatsGo,
        ClientAdapter::NatsC,
        ClientAdapter::NatsPy,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ClientAdapter::AsyncNats => "async-nats",
            ClientAdapter::AsyncNatsStdio => "async-nats-stdio",
            ClientAdapter::NatsGo => "nats.go",
            ClientAdapter::NatsC => "nats.c",
            ClientAdapter::NatsPy => "nats.py",
            ClientAdapter::Command => "command",
        }
    }

    /// The adapter a scenario names; `None` for any other word.
    pub fn from_name(name: &str) -> Option<ClientAdapter> {
        ClientAdapter::NAMES
            .into_iter()
            .find(|a| a.as_str() == name)
    }
}

/// How the publisher waits for acks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Await each ack before the next publish.
    Sync,
    /// Keep up to `max_in_flight` acks outstanding.
    Async,
    /// Atomic batches of `batch_size` messages, up to `max_in_flight` batches awaiting their
    /// commit (nats-server 2.12+).
    Batch,
    /// Fast-ingest batches of `batch_size` messages, one at a time, paced by the server's flow
    /// acks (nats-server 2.14+).
    Fast,
}

impl Mode {
    /// Every mode, in the order outputs list them (sync first: the others are measured
    /// against it).
    pub const ALL: [Mode; 4] = [Mode::Sync, Mode::Async, Mode::Batch, Mode::Fast];

    /// The mode a scenario or a claims file names ("sync"); `None` for any other word.
    pub fn from_name(name: &str) -> Option<Mode> {
        Mode::ALL.into_iter().find(|m| m.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Sync => "sync",
            Mode::Async => "async",
            Mode::Batch => "batch",
            Mode::Fast => "fast",
        }
    }
}

/// `publish.gap` (fast mode): what the server does when a batch sequence is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GapMode {
    /// Report the gap and end the batch there: what is stored is gap-free and in order.
    #[default]
    Fail,
    /// Report the gap and go on.
    Ok,
}

/// Which publish path the in-process client takes (`publish.api`; README "Publish paths").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Api {
    /// async-nats' JetStream context (`send_publish` and its ack futures): what applications
    /// write, and what the claims about async-nats are judged on.
    #[default]
    Jetstream,
    /// The lean path: core publishes with a reply subject of their own under one wildcard
    /// subscription per connection, acks read in wire order (`client/lean/`).
    Lean,
}

impl Api {
    /// Every path, in the order outputs list them.
    pub const ALL: [Api; 2] = [Api::Jetstream, Api::Lean];

    /// The path a scenario or a claims file names ("lean"); `None` for any other word.
    pub fn from_name(name: &str) -> Option<Api> {
        Api::ALL.into_iter().find(|a| a.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Api::Jetstream => "jetstream",
            Api::Lean => "lean",
        }
    }
}

/// Which format carries each message's tag (`publish.wire`; README "Message format"). How a
/// tag is written and read is the workload's (`workload/wire.rs`); the value is here because
/// the scenario names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Wire {
    /// A 24-byte binary tag at the start of the payload ([`TAG_LEN`]).
    #[default]
    Payload,
    /// The six `Jsb-*` headers.
    Headers,
}

impl Wire {
    pub fn as_str(self) -> &'static str {
        match self {
            Wire::Payload => "payload",
            Wire::Headers => "headers",
        }
    }
}

/// Bytes of the payload tag ([`Wire::Payload`]), so the smallest `workload.payload_size` that
/// format allows. The layout is the workload's (`workload/wire.rs`); the size is here because
/// validation holds payloads to it.
pub const TAG_LEN: usize = 24;

/// `[publish.retry]`: what the application does when an attempt fails or times out.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RetryPlan {
    /// Attempts in all (1 = no retry).
    pub attempts: u32,
    #[serde(with = "duration_str")]
    pub backoff: Duration,
    #[serde(with = "duration_str")]
    pub max_backoff: Duration,
    /// What a "duplicate message id is in process" reply (10158) to a retry means.
    pub on_in_process: OnInProcess,
}

/// What a retry answered "duplicate message id is in process" (10158) does. The reply says an
/// earlier attempt with the same Msg-Id is proposed but not yet committed; whether it ever will
/// be is not known (a leader that loses its leadership drops what it had not committed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnInProcess {
    /// Retry later, like any other error (default): the retry then gets a duplicate ack when
    /// the earlier attempt was committed, and stores the message when it was dropped.
    #[default]
    Retry,
    /// Take the reply as "it will be stored" and stop: the message's outcome stays unknown.
    Trust,
}

impl RetryPlan {
    pub const NONE: RetryPlan = RetryPlan {
        attempts: 1,
        backoff: Duration::ZERO,
        max_backoff: Duration::ZERO,
        on_in_process: OnInProcess::Retry,
    };

    /// The wait after attempt `failed` (1-based) failed: backoff × 2^(failed-1), capped.
    pub fn backoff_after(&self, failed: u32) -> Duration {
        let factor = 1u32 << failed.saturating_sub(1).min(20);
        (self.backoff * factor).min(self.max_backoff)
    }
}

/// `[workload]`: how much is published, how fast, with which keys and payloads.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkloadPlan {
    pub amount: Amount,
    /// Hard bound on messages for duration-bound runs (every load loop is bounded).
    pub max_messages: u64,
    pub warmup: Warmup,
    pub keys: u32,
    pub key_distribution: KeyDistribution,
    pub zipf_exponent: f64,
    pub payload_size: usize,
    pub rate: Rate,
}

/// How much is published.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Amount {
    Messages(u64),
    Duration(#[serde(with = "duration_str")] Duration),
}

/// The pacer: closed loop (as fast as acks allow) or open loop at a target rate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rate {
    Max,
    PerSec(u64),
}

/// What is published before the measured phase starts (not counted).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Warmup {
    Messages(u64),
    Duration(#[serde(with = "duration_str")] Duration),
}

/// How messages pick their key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyDistribution {
    /// Each message picks a key uniformly at random (seeded).
    Uniform,
    /// Message i gets key i mod K.
    RoundRobin,
    /// Key k is picked with probability proportional to 1/(k+1)^s (hot aggregates).
    Zipf,
}

/// `[observe]`: whether the stream is read back, whether it is read while the run goes on (the
/// follower), and the timeline's bucket width.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ObservePlan {
    pub read_back: bool,
    /// `observe.follow` as written (or `--follow`).
    pub follow: super::follow::Follow,
    /// Whether this run reads the stream while it goes on: `follow` resolved against the run's
    /// length (`Follow::AUTO_DURATION`, `Follow::AUTO_MESSAGES`).
    pub following: bool,
    /// `--cross-check` (no scenario field): a following run also reads the whole stream back at
    /// the end, judges it with the end-of-run checkers and says whether both agree.
    pub cross_check: bool,
    #[serde(with = "duration_str")]
    pub timeline_bucket: Duration,
}

/// The validated `[consume]` section.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConsumePlan {
    pub consumer: ConsumerKind,
    pub when: ConsumeWhen,
    pub model: PoolModel,
    pub workers: usize,
    #[serde(with = "duration_str")]
    pub processing: Duration,
    #[serde(with = "duration_str")]
    pub processing_max: Duration,
    pub processing_distribution: ProcessingDistribution,
    pub fail_rate: f64,
    pub on_fail: OnFail,
    pub max_ack_pending: i64,
    #[serde(with = "duration_str")]
    pub ack_wait: Duration,
    pub fetch_batch: usize,
    /// How long the consumer may keep going after publishing ended before the run stops it.
    #[serde(with = "duration_str")]
    pub drain_timeout: Duration,
}

/// Which JetStream consumer feeds the workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsumerKind {
    /// A durable pull consumer, explicit acks: failures lead to redelivery.
    Durable,
    /// An ordered consumer: no acks, no redelivery, delivered in stream order.
    Ordered,
}

/// When the consumer runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsumeWhen {
    /// Alongside the publishers, from the start of the measured phase.
    Concurrent,
    /// After publishing ended: drains the stream.
    After,
}

/// How the workers share the messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PoolModel {
    /// Key → worker by hash; each worker processes its messages in arrival order.
    Keyed,
    /// Any free worker takes the next message.
    Shared,
}

/// How long processing one message takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProcessingDistribution {
    /// Always `processing`.
    Fixed,
    /// Uniform between `processing` and `processing_max` (seeded).
    Uniform,
    /// Exponential with mean `processing` (seeded), capped at 20 × the mean.
    Exponential,
}

/// What a worker does with a message whose processing failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnFail {
    /// Negative acknowledgement: the server redelivers at once.
    Nak,
    /// No ack at all: the server redelivers once `ack_wait` has passed.
    NoAck,
}

/// Serializes durations as humantime strings ("2m", "500ms") in result.json.
mod duration_str {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }
}
