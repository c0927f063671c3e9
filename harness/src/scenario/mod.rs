//! Scenario files: the declarative TOML a user writes, and the validated [`Plan`] built from it.
//!
//! A scenario is parsed strictly (unknown fields are errors) and then validated as a whole, so
//! one pass over a file reports every problem, each naming the file, the field path and what is
//! allowed. The runner accepts only a [`Plan`]: every default filled in and every value checked,
//! so nothing downstream re-validates or guesses. The Plan is recorded in result.json.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::nemesis::{FaultDirection, FaultKind, FaultPlan};
use crate::server::{Auth, Backend, ServerSpec};

/// A scenario as written in its TOML file. Loose types (strings for durations, raw values for
/// fields that accept several forms) so that validation can name the field in its message.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: Option<String>,
    #[serde(default)]
    pub description: String,
    pub seed: Option<u64>,
    #[serde(default)]
    pub server: ServerSection,
    #[serde(default)]
    pub stream: StreamSection,
    #[serde(default)]
    pub connections: ConnectionsSection,
    #[serde(default)]
    pub publish: PublishSection,
    #[serde(default)]
    pub workload: WorkloadSection,
    #[serde(default)]
    pub observe: ObserveSection,
    #[serde(default)]
    pub expect: Expect,
    /// `[[faults]]`: network and server faults, scheduled from the start of the measured phase.
    #[serde(default)]
    pub faults: Vec<FaultSection>,
    /// `[consume]`: a consumer and a worker pool processing the run's messages.
    pub consume: Option<ConsumeSection>,
}

/// `[consume]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsumeSection {
    pub consumer: Option<ConsumerKind>,
    pub when: Option<ConsumeWhen>,
    pub model: Option<PoolModel>,
    pub workers: Option<i64>,
    pub processing: Option<String>,
    pub processing_max: Option<String>,
    pub processing_distribution: Option<ProcessingDistribution>,
    pub fail_rate: Option<f64>,
    pub on_fail: Option<OnFail>,
    pub max_ack_pending: Option<i64>,
    pub ack_wait: Option<String>,
    pub fetch_batch: Option<i64>,
    pub drain_timeout: Option<String>,
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

/// One `[[faults]]` entry as written. Which parameters apply depends on `kind`; validation
/// names any that do not.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSection {
    pub name: Option<String>,
    pub kind: Option<FaultKind>,
    /// Network faults: "all", a connection index, a list of indexes, or a fraction in (0, 1].
    pub target: Option<toml::Value>,
    pub direction: Option<FaultDirection>,
    pub latency: Option<String>,
    pub jitter: Option<String>,
    pub bytes_per_sec: Option<toml::Value>,
    pub average_size: Option<i64>,
    pub size_variation: Option<i64>,
    pub delay: Option<String>,
    pub start: Option<String>,
    pub duration: Option<String>,
    pub repeat: Option<i64>,
    pub every: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    pub backend: Option<Backend>,
    pub url: Option<String>,
    pub image: Option<String>,
    pub creds: Option<PathBuf>,
    pub tls_ca: Option<PathBuf>,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub token: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Storage {
    File,
    Memory,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamSection {
    pub storage: Option<Storage>,
    pub replicas: Option<i64>,
    pub duplicate_window: Option<String>,
    pub max_bytes: Option<toml::Value>,
}

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

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionsSection {
    pub strategy: Option<Strategy>,
    pub count: Option<i64>,
    /// Route every connection through a fault proxy even without network faults (to measure
    /// the proxy itself). Network faults turn this on.
    pub proxy: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Await each ack before the next publish.
    Sync,
    /// Keep up to `max_in_flight` acks outstanding.
    Async,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Sync => "sync",
            Mode::Async => "async",
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishSection {
    pub mode: Option<Mode>,
    pub max_in_flight: Option<i64>,
    pub msg_id: Option<bool>,
    pub ack_timeout: Option<String>,
    pub retry: Option<RetrySection>,
}

/// `[publish.retry]`: what the application does when an attempt fails or times out.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetrySection {
    /// Attempts in all, the first included (1 = no retry).
    pub attempts: Option<i64>,
    /// Wait before the second attempt; doubles for each further attempt.
    pub backoff: Option<String>,
    /// Upper bound of the wait.
    pub max_backoff: Option<String>,
}

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

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSection {
    pub messages: Option<i64>,
    pub duration: Option<String>,
    pub max_messages: Option<i64>,
    pub warmup: Option<toml::Value>,
    pub keys: Option<i64>,
    pub key_distribution: Option<KeyDistribution>,
    pub zipf_exponent: Option<f64>,
    pub payload_size: Option<i64>,
    pub rate: Option<toml::Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObserveSection {
    pub read_back: Option<bool>,
    pub timeline_bucket: Option<String>,
}

/// What an order is claimed to do; becomes a pass/fail verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderClaim {
    /// No message comes after a later-published one (globally).
    Preserved,
    /// Within every key, no message comes after a later-published one of the same key.
    PreservedPerKey,
    /// At least one message comes after a later-published one (globally).
    Broken,
    /// At least one message comes after a later-published one of its own key.
    BrokenPerKey,
}

impl OrderClaim {
    pub fn describe(self) -> &'static str {
        match self {
            OrderClaim::Preserved => "preserved",
            OrderClaim::PreservedPerKey => "preserved per key",
            OrderClaim::Broken => "broken",
            OrderClaim::BrokenPerKey => "broken per key",
        }
    }
}

/// Optional claims, each turned into a verdict.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack_wire_order: Option<OrderClaim>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack_completion_order: Option<OrderClaim>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_order: Option<OrderClaim>,
    /// Nothing acknowledged is missing from the stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_loss: Option<bool>,
    /// No key+seq is stored twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_duplicates: Option<bool>,
    /// Every published message was acknowledged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all_acked: Option<bool>,
    /// Extra stored copies of a key+seq: "none" or "some".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicates: Option<Presence>,
    /// Stored copies from a retry (attempt > 1) that landed after a later message of their key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_reorders: Option<Presence>,
    /// Messages whose final outcome is unknown (timed out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown: Option<Presence>,
    /// Acknowledged messages missing from the stream: "none" (as `no_loss = true`) or "some".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost: Option<Presence>,
    /// Published messages never acknowledged: "none" (as `all_acked = true`) or "some".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unacked: Option<Presence>,
    /// The order messages were processed in by the consume side (`[consume]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consume_order: Option<OrderClaim>,
    /// Every stored message of the run was processed at least once (`[consume]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all_processed: Option<bool>,
    /// Deliveries after the first (nak, ack_wait expiry): "none" or "some" (`[consume]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redelivered: Option<Presence>,
    /// Stored messages never processed: "none" (as `all_processed = true`) or "some"
    /// (`[consume]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unprocessed: Option<Presence>,
}

/// A claim that something happens at least once ("some") or never ("none").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    None,
    Some,
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

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Warmup {
    Messages(u64),
    Duration(#[serde(with = "duration_str")] Duration),
}

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
    /// The consume side, when the scenario has one.
    pub consume: Option<ConsumePlan>,
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
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerPlan {
    pub backend: Backend,
    pub url: Option<String>,
    pub image: Option<String>,
    #[serde(skip)]
    pub auth: Auth,
}

impl ServerPlan {
    pub fn spec(&self) -> ServerSpec {
        ServerSpec {
            backend: self.backend,
            url: self.url.clone(),
            image: self.image.clone(),
            auth: self.auth.clone(),
            ..ServerSpec::default()
        }
    }
}

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
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConnectionsPlan {
    pub strategy: Strategy,
    pub count: usize,
    /// Every connection goes through its own fault proxy.
    #[serde(default)]
    pub proxy: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublishPlan {
    pub mode: Mode,
    pub max_in_flight: usize,
    pub msg_id: bool,
    #[serde(with = "duration_str")]
    pub ack_timeout: Duration,
    pub retry: RetryPlan,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RetryPlan {
    /// Attempts in all (1 = no retry).
    pub attempts: u32,
    #[serde(with = "duration_str")]
    pub backoff: Duration,
    #[serde(with = "duration_str")]
    pub max_backoff: Duration,
}

impl RetryPlan {
    pub const NONE: RetryPlan = RetryPlan {
        attempts: 1,
        backoff: Duration::ZERO,
        max_backoff: Duration::ZERO,
    };

    /// The wait after attempt `failed` (1-based) failed: backoff × 2^(failed-1), capped.
    pub fn backoff_after(&self, failed: u32) -> Duration {
        let factor = 1u32 << failed.saturating_sub(1).min(20);
        (self.backoff * factor).min(self.max_backoff)
    }
}

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

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ObservePlan {
    pub read_back: bool,
    #[serde(with = "duration_str")]
    pub timeline_bucket: Duration,
}

/// Command-line overrides, applied before validation so they are checked like file values.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub messages: Option<u64>,
    pub duration: Option<Duration>,
    pub backend: Option<Backend>,
    pub server_url: Option<String>,
    pub image: Option<String>,
    pub seed: Option<u64>,
    pub keep_stream: bool,
    pub warmup: Option<Warmup>,
}

/// One problem in a scenario file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub file: String,
    pub line: Option<usize>,
    /// Dotted field path, e.g. `publish.max_in_flight`; empty for the whole file.
    pub field: String,
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Every problem found in one scenario file.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ScenarioError {
    pub errors: Vec<FieldError>,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

pub const DEFAULT_MAX_MESSAGES: u64 = 50_000_000;

/// Reads, parses and validates one scenario file.
pub fn load(path: &Path, overrides: &Overrides) -> Result<Plan, ScenarioError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ScenarioError {
        errors: vec![FieldError {
            file: file.clone(),
            line: None,
            field: String::new(),
            message: format!("cannot read file: {e}"),
        }],
    })?;
    let mut plan = parse(&text, &file, overrides)?;
    plan.file = Some(path.to_path_buf());
    Ok(plan)
}

/// Parses and validates scenario text; `file` names it in errors.
pub fn parse(text: &str, file: &str, overrides: &Overrides) -> Result<Plan, ScenarioError> {
    let scenario = parse_raw(text, file)?;
    validate(&scenario, file, overrides)
}

fn parse_raw(text: &str, file: &str) -> Result<Scenario, ScenarioError> {
    let one = |line, field: String, message: String| ScenarioError {
        errors: vec![FieldError {
            file: file.to_string(),
            line,
            field,
            message,
        }],
    };
    let de = toml::de::Deserializer::parse(text).map_err(|e| {
        let line = e.span().map(|s| line_of(text, s.start));
        one(line, String::new(), e.message().trim().to_string())
    })?;
    serde_path_to_error::deserialize::<_, Scenario>(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.inner();
        let line = inner.span().map(|s| line_of(text, s.start));
        let field = if path == "." { String::new() } else { path };
        one(line, field, inner.message().trim().to_string())
    })
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Collects field errors while validating.
struct Checker<'a> {
    file: &'a str,
    errors: Vec<FieldError>,
}

impl Checker<'_> {
    fn err(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError {
            file: self.file.to_string(),
            line: None,
            field: field.to_string(),
            message: message.into(),
        });
    }

    fn duration(&mut self, field: &str, value: Option<&str>, default: Duration) -> Duration {
        match value {
            None => default,
            Some(s) => {
                match humantime::parse_duration(s) {
                    Ok(d) if !d.is_zero() => d,
                    Ok(_) => {
                        self.err(field, "must be greater than zero");
                        default
                    }
                    Err(e) => {
                        self.err(
                        field,
                        format!("{s:?} is not a duration ({e}); write e.g. \"500ms\", \"10s\", \"2m\""),
                    );
                        default
                    }
                }
            }
        }
    }

    /// A duration that may be zero ("0s").
    fn duration0(&mut self, field: &str, value: Option<&str>, default: Duration) -> Duration {
        match value {
            None => default,
            Some(s) => {
                match humantime::parse_duration(s) {
                    Ok(d) => d,
                    Err(e) => {
                        self.err(
                        field,
                        format!("{s:?} is not a duration ({e}); write e.g. \"0s\", \"500ms\", \"2s\""),
                    );
                        default
                    }
                }
            }
        }
    }

    fn range(&mut self, field: &str, value: Option<i64>, default: i64, min: i64, max: i64) -> i64 {
        match value {
            None => default,
            Some(v) if v < min || v > max => {
                self.err(field, format!("must be between {min} and {max} (got {v})"));
                default
            }
            Some(v) => v,
        }
    }
}

fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Turns a parsed scenario into a Plan, reporting every problem at once.
pub fn validate(s: &Scenario, file: &str, o: &Overrides) -> Result<Plan, ScenarioError> {
    let mut c = Checker {
        file,
        errors: Vec::new(),
    };

    let name = match &s.name {
        None => {
            c.err(
                "name",
                "is required (letters, digits, '-' and '_', at most 64)",
            );
            String::new()
        }
        Some(n) if !is_valid_name(n) => {
            c.err(
                "name",
                format!("{n:?} is not allowed: use letters, digits, '-' and '_' (at most 64)"),
            );
            n.clone()
        }
        Some(n) => n.clone(),
    };

    // --- server
    let mut backend = s.server.backend.unwrap_or(Backend::Auto);
    let mut url = s.server.url.clone();
    if let Some(b) = o.backend {
        backend = b;
    }
    if let Some(u) = &o.server_url {
        url = Some(u.clone());
        if o.backend.is_none() {
            backend = Backend::External;
        }
    }
    if backend == Backend::External && url.is_none() {
        c.err(
            "server.url",
            "is required with backend = \"external\" (e.g. \"nats://127.0.0.1:4222\")",
        );
    }
    if backend != Backend::External && url.is_some() && o.server_url.is_none() {
        c.err(
            "server.url",
            format!(
                "is only used with backend = \"external\" (backend is {:?})",
                backend.as_str()
            ),
        );
    }
    if let Some(u) = &url {
        let ok = ["nats://", "tls://", "ws://", "wss://"]
            .iter()
            .any(|p| u.starts_with(p))
            || !u.contains("://");
        if !ok {
            c.err(
                "server.url",
                format!("{u:?}: scheme must be nats://, tls://, ws:// or wss://"),
            );
        }
    }
    let auth = Auth {
        creds: s.server.creds.clone(),
        tls_ca: s.server.tls_ca.clone(),
        tls_cert: s.server.tls_cert.clone(),
        tls_key: s.server.tls_key.clone(),
        user: s.server.user.clone(),
        password: s.server.password.clone(),
        token: s.server.token.clone(),
    };
    if backend != Backend::External && auth != Auth::default() {
        c.err(
            "server",
            "creds, tls_*, user, password and token apply only to backend = \"external\"",
        );
    }
    if auth.tls_cert.is_some() != auth.tls_key.is_some() {
        c.err(
            "server.tls_cert",
            "tls_cert and tls_key must be given together",
        );
    }
    if auth.user.is_some() != auth.password.is_some() {
        c.err("server.user", "user and password must be given together");
    }
    let image = o.image.clone().or_else(|| s.server.image.clone());
    if image.is_some() && matches!(backend, Backend::Process | Backend::External) {
        c.err(
            "server.image",
            format!(
                "is only used with backend = \"container\" or \"auto\" (backend is {:?})",
                backend.as_str()
            ),
        );
    }

    // --- stream
    let storage = s.stream.storage.unwrap_or(Storage::File);
    let replicas = c.range("stream.replicas", s.stream.replicas, 1, 1, 5) as usize;
    if replicas > 1 && backend != Backend::External {
        c.err(
            "stream.replicas",
            format!(
                "{replicas} replicas need a cluster: use backend = \"external\" with a cluster url (the {} backend starts one server)",
                backend.as_str()
            ),
        );
    }
    let duplicate_window = c.duration(
        "stream.duplicate_window",
        s.stream.duplicate_window.as_deref(),
        Duration::from_secs(120),
    );
    let max_bytes = match &s.stream.max_bytes {
        None => -1,
        Some(toml::Value::Integer(v)) if *v == -1 || *v > 0 => *v,
        Some(toml::Value::String(v)) => match parse_bytes(v) {
            Some(b) => b as i64,
            None => {
                c.err(
                    "stream.max_bytes",
                    format!("{v:?} is not a size: use bytes (integer) or e.g. \"512MiB\", \"2GB\""),
                );
                -1
            }
        },
        Some(v) => {
            c.err(
                "stream.max_bytes",
                format!("{v} is not allowed: a positive number of bytes, -1 (unlimited) or a size like \"1GiB\""),
            );
            -1
        }
    };

    // --- connections
    let strategy = s.connections.strategy.unwrap_or(Strategy::Single);
    let default_count = if strategy == Strategy::Single { 1 } else { 4 };
    let count = c.range(
        "connections.count",
        s.connections.count,
        default_count,
        1,
        256,
    ) as usize;
    if strategy == Strategy::Single && count != 1 {
        c.err(
            "connections.count",
            format!("must be 1 with strategy = \"single\" (got {count}); use round_robin or key_affine for a pool"),
        );
    }

    // --- publish
    let mode = s.publish.mode.unwrap_or(Mode::Async);
    let max_in_flight = if mode == Mode::Sync {
        if let Some(v) = s.publish.max_in_flight {
            if v != 1 {
                c.err(
                    "publish.max_in_flight",
                    format!("is 1 in sync mode (got {v}); remove it or use mode = \"async\""),
                );
            }
        }
        1
    } else {
        c.range(
            "publish.max_in_flight",
            s.publish.max_in_flight,
            10_000,
            1,
            1_000_000,
        ) as usize
    };
    let msg_id = s.publish.msg_id.unwrap_or(false);
    let ack_timeout = c.duration(
        "publish.ack_timeout",
        s.publish.ack_timeout.as_deref(),
        Duration::from_secs(5),
    );
    let retry = match &s.publish.retry {
        None => RetryPlan::NONE,
        Some(r) => {
            let attempts = c.range("publish.retry.attempts", r.attempts, 3, 1, 100) as u32;
            let backoff = c.duration0(
                "publish.retry.backoff",
                r.backoff.as_deref(),
                Duration::from_millis(100),
            );
            let max_backoff = c.duration0(
                "publish.retry.max_backoff",
                r.max_backoff.as_deref(),
                Duration::from_secs(5).max(backoff),
            );
            if max_backoff < backoff {
                c.err(
                    "publish.retry.max_backoff",
                    "must be at least publish.retry.backoff",
                );
            }
            RetryPlan {
                attempts,
                backoff,
                max_backoff,
            }
        }
    };

    // --- workload
    let w = &s.workload;
    let mut messages = w.messages;
    let mut duration = w.duration.clone();
    if let Some(m) = o.messages {
        messages = Some(m as i64);
        duration = None;
    }
    if let Some(d) = o.duration {
        duration = Some(humantime::format_duration(d).to_string());
        messages = None;
    }
    let max_messages = c.range(
        "workload.max_messages",
        w.max_messages,
        DEFAULT_MAX_MESSAGES as i64,
        1,
        1_000_000_000,
    ) as u64;
    let amount = match (messages, duration.as_deref()) {
        (Some(_), Some(_)) => {
            c.err("workload", "give either messages or duration, not both");
            Amount::Messages(1)
        }
        (None, None) => {
            c.err(
                "workload.messages",
                "is required (or workload.duration): how much to publish",
            );
            Amount::Messages(1)
        }
        (Some(m), None) => {
            Amount::Messages(
                c.range("workload.messages", Some(m), 1, 1, max_messages as i64) as u64,
            )
        }
        (None, Some(d)) => {
            Amount::Duration(c.duration("workload.duration", Some(d), Duration::from_secs(1)))
        }
    };
    if let Amount::Duration(d) = amount {
        if d > Duration::from_secs(24 * 3600) {
            c.err("workload.duration", "must be at most 24h");
        }
    }
    let warmup = if let Some(wu) = o.warmup {
        wu
    } else {
        match &w.warmup {
            None => Warmup::Messages(0),
            Some(toml::Value::Integer(v)) if *v >= 0 => Warmup::Messages(*v as u64),
            Some(toml::Value::String(v)) => {
                Warmup::Duration(c.duration("workload.warmup", Some(v), Duration::ZERO))
            }
            Some(v) => {
                c.err(
                    "workload.warmup",
                    format!("{v} is not allowed: a message count (e.g. 1000) or a duration (e.g. \"2s\")"),
                );
                Warmup::Messages(0)
            }
        }
    };
    let keys = c.range("workload.keys", w.keys, 16, 1, 10_000_000) as u32;
    let key_distribution = w.key_distribution.unwrap_or(KeyDistribution::Uniform);
    let zipf_exponent = match (key_distribution, w.zipf_exponent) {
        (KeyDistribution::Zipf, None) => 1.0,
        (KeyDistribution::Zipf, Some(e)) if e > 0.0 && e <= 10.0 => e,
        (KeyDistribution::Zipf, Some(e)) => {
            c.err(
                "workload.zipf_exponent",
                format!("must be in (0, 10] (got {e})"),
            );
            1.0
        }
        (_, Some(_)) => {
            c.err(
                "workload.zipf_exponent",
                "is only used with key_distribution = \"zipf\"",
            );
            0.0
        }
        (_, None) => 0.0,
    };
    let payload_size = c.range(
        "workload.payload_size",
        w.payload_size,
        128,
        0,
        8 * 1024 * 1024,
    ) as usize;
    let rate = match &w.rate {
        None => Rate::Max,
        Some(toml::Value::String(v)) if v == "max" => Rate::Max,
        Some(toml::Value::Integer(v)) if *v > 0 && *v <= 100_000_000 => Rate::PerSec(*v as u64),
        Some(v) => {
            c.err(
                "workload.rate",
                format!("{v} is not allowed: \"max\" (closed loop) or a target rate in msgs/s between 1 and 100000000 (open loop)"),
            );
            Rate::Max
        }
    };
    if let (Amount::Duration(d), Rate::PerSec(r)) = (amount, rate) {
        let n = d.as_secs_f64() * r as f64;
        if n > max_messages as f64 {
            c.err(
                "workload.rate",
                format!("rate x duration = {n:.0} messages exceeds workload.max_messages ({max_messages})"),
            );
        }
    }

    // --- observe
    let read_back = s.observe.read_back.unwrap_or(true);
    let timeline_bucket = c.duration(
        "observe.timeline_bucket",
        s.observe.timeline_bucket.as_deref(),
        Duration::from_millis(100),
    );
    if timeline_bucket < Duration::from_millis(10) {
        c.err("observe.timeline_bucket", "must be at least 10ms");
    }

    // --- expect: a boolean claim set to false would claim nothing; say what to write instead.
    for (field, value, instead, what) in [
        (
            "no_loss",
            s.expect.no_loss,
            "lost",
            "acknowledged messages are lost",
        ),
        (
            "no_duplicates",
            s.expect.no_duplicates,
            "duplicates",
            "some key+seq is stored twice",
        ),
        (
            "all_acked",
            s.expect.all_acked,
            "unacked",
            "some messages are never acknowledged",
        ),
        (
            "all_processed",
            s.expect.all_processed,
            "unprocessed",
            "some stored messages are never processed",
        ),
    ] {
        if value == Some(false) {
            c.err(
                &format!("expect.{field}"),
                format!(
                    "`false` claims nothing: remove the line, or write {instead} = \"some\" to claim that {what}"
                ),
            );
        }
    }
    // Claims about the storage read-back need the read-back.
    if !read_back
        && (s.expect.no_loss.is_some()
            || s.expect.no_duplicates.is_some()
            || s.expect.lost.is_some())
    {
        c.err(
            "expect",
            "no_loss, lost and no_duplicates need observe.read_back = true",
        );
    }

    let consume = s.consume.as_ref().map(|cs| validate_consume(&mut c, cs));
    if consume.is_none()
        && (s.expect.consume_order.is_some()
            || s.expect.all_processed.is_some()
            || s.expect.unprocessed.is_some()
            || s.expect.redelivered.is_some())
    {
        c.err(
            "expect",
            "consume_order, all_processed, unprocessed and redelivered need a [consume] section",
        );
    }
    if consume.is_some() && !read_back {
        c.err(
            "consume",
            "the consume side is judged against the stream: it needs observe.read_back = true",
        );
    }

    // --- faults (the seed is fixed first: fractional targets are drawn from it)
    let seed = o.seed.or(s.seed).unwrap_or_else(rand::random);
    let faults = validate_faults(&mut c, &s.faults, backend, count, seed);
    let proxy = s.connections.proxy.unwrap_or(false) || faults.iter().any(|f| f.kind.is_network());
    if s.connections.proxy == Some(false) && faults.iter().any(|f| f.kind.is_network()) {
        c.err(
            "connections.proxy",
            "network faults need the fault proxy: remove proxy = false",
        );
    }

    if !c.errors.is_empty() {
        return Err(ScenarioError { errors: c.errors });
    }
    Ok(Plan {
        name,
        description: s.description.clone(),
        file: None,
        seed,
        server: ServerPlan {
            backend,
            url,
            image,
            auth,
        },
        stream: StreamPlan {
            storage,
            replicas,
            duplicate_window,
            max_bytes,
            keep: o.keep_stream,
        },
        connections: ConnectionsPlan {
            strategy,
            count,
            proxy,
        },
        publish: PublishPlan {
            mode,
            max_in_flight,
            msg_id,
            ack_timeout,
            retry,
        },
        workload: WorkloadPlan {
            amount,
            max_messages,
            warmup,
            keys,
            key_distribution,
            zipf_exponent,
            payload_size,
            rate,
        },
        observe: ObservePlan {
            read_back,
            timeline_bucket,
        },
        expect: s.expect.clone(),
        faults,
        consume,
        repetition: None,
    })
}

/// Validates `[consume]`; errors name `consume.field` and what is allowed.
fn validate_consume(c: &mut Checker, s: &ConsumeSection) -> ConsumePlan {
    let consumer = s.consumer.unwrap_or(ConsumerKind::Durable);
    let processing = c.duration0(
        "consume.processing",
        s.processing.as_deref(),
        Duration::ZERO,
    );
    let distribution = s
        .processing_distribution
        .unwrap_or(ProcessingDistribution::Fixed);
    let processing_max = match (distribution, s.processing_max.as_deref()) {
        (ProcessingDistribution::Uniform, None) => {
            c.err(
                "consume.processing_max",
                "processing_distribution = \"uniform\" needs processing_max (the upper bound)",
            );
            processing
        }
        (ProcessingDistribution::Uniform, Some(v)) => {
            let m = c.duration0("consume.processing_max", Some(v), processing);
            if m < processing {
                c.err(
                    "consume.processing_max",
                    "must be at least consume.processing",
                );
            }
            m
        }
        (_, Some(_)) => {
            c.err(
                "consume.processing_max",
                "is only used with processing_distribution = \"uniform\"",
            );
            processing
        }
        (_, None) => processing,
    };
    let fail_rate = match s.fail_rate {
        None => 0.0,
        Some(f) if (0.0..1.0).contains(&f) => f,
        Some(f) => {
            c.err(
                "consume.fail_rate",
                format!("must be at least 0 and below 1 (got {f})"),
            );
            0.0
        }
    };
    if consumer == ConsumerKind::Ordered {
        // An ordered consumer has no acks: nothing can be redelivered.
        for (field, set) in [
            ("fail_rate", s.fail_rate.is_some_and(|f| f > 0.0)),
            ("on_fail", s.on_fail.is_some()),
            ("max_ack_pending", s.max_ack_pending.is_some()),
            ("ack_wait", s.ack_wait.is_some()),
        ] {
            if set {
                c.err(
                    &format!("consume.{field}"),
                    "needs consumer = \"durable\" (an ordered consumer does not ack)",
                );
            }
        }
    }
    ConsumePlan {
        consumer,
        when: s.when.unwrap_or(ConsumeWhen::Concurrent),
        model: s.model.unwrap_or(PoolModel::Keyed),
        workers: c.range("consume.workers", s.workers, 4, 1, 1024) as usize,
        processing,
        processing_max,
        processing_distribution: distribution,
        fail_rate,
        on_fail: s.on_fail.unwrap_or(OnFail::Nak),
        max_ack_pending: c.range(
            "consume.max_ack_pending",
            s.max_ack_pending,
            1000,
            1,
            1_000_000,
        ),
        ack_wait: c.duration(
            "consume.ack_wait",
            s.ack_wait.as_deref(),
            Duration::from_secs(30),
        ),
        fetch_batch: c.range("consume.fetch_batch", s.fetch_batch, 100, 1, 10_000) as usize,
        drain_timeout: c.duration(
            "consume.drain_timeout",
            s.drain_timeout.as_deref(),
            Duration::from_secs(30),
        ),
    }
}

/// Which optional parameters each fault kind takes.
fn fault_params(kind: FaultKind) -> &'static [&'static str] {
    match kind {
        FaultKind::Latency => &["latency", "jitter"],
        FaultKind::Bandwidth => &["bytes_per_sec"],
        FaultKind::Slicer => &["average_size", "size_variation", "delay"],
        _ => &[],
    }
}

/// Validates `[[faults]]` into fault plans; errors name `faults[i].field`.
fn validate_faults(
    c: &mut Checker,
    faults: &[FaultSection],
    backend: Backend,
    connections: usize,
    seed: u64,
) -> Vec<FaultPlan> {
    let mut out = Vec::new();
    let mut names = std::collections::BTreeSet::new();
    for (i, f) in faults.iter().enumerate() {
        let field = |name: &str| format!("faults[{i}].{name}");
        let Some(kind) = f.kind else {
            let allowed: Vec<&str> = FaultKind::ALL.iter().map(|k| k.as_str()).collect();
            c.err(
                &field("kind"),
                format!("is required: one of {}", allowed.join(", ")),
            );
            continue;
        };
        let name = f
            .name
            .clone()
            .unwrap_or_else(|| format!("{}-{}", kind.as_str(), i + 1));
        if !is_valid_name(&name) {
            c.err(
                &field("name"),
                format!("{name:?} is not allowed: use letters, digits, '-' and '_'"),
            );
        }
        if !names.insert(name.clone()) {
            c.err(&field("name"), format!("{name:?} is used by another fault"));
        }

        // Parameters that do not apply to this kind.
        let given: [(&str, bool); 6] = [
            ("latency", f.latency.is_some()),
            ("jitter", f.jitter.is_some()),
            ("bytes_per_sec", f.bytes_per_sec.is_some()),
            ("average_size", f.average_size.is_some()),
            ("size_variation", f.size_variation.is_some()),
            ("delay", f.delay.is_some()),
        ];
        let allowed = fault_params(kind);
        for (p, present) in given {
            if present && !allowed.contains(&p) {
                let owner = FaultKind::ALL
                    .iter()
                    .find(|k| fault_params(**k).contains(&p))
                    .map_or("", |k| k.as_str());
                c.err(
                    &field(p),
                    format!(
                        "is a parameter of kind = \"{owner}\", not of \"{}\"",
                        kind.as_str()
                    ),
                );
            }
        }

        // Where it acts.
        let mut conns = Vec::new();
        let mut target = "server".to_string();
        let mut direction = None;
        if let Some(sf) = kind.server_fault() {
            if f.target.is_some() {
                c.err(
                    &field("target"),
                    format!(
                        "server faults act on the server: remove target from kind = \"{}\"",
                        kind.as_str()
                    ),
                );
            }
            if f.direction.is_some() {
                c.err(&field("direction"), "applies to network faults only");
            }
            if !backend.supports(sf) {
                c.err(
                    &field("kind"),
                    format!(
                        "\"{}\" cannot be injected on backend \"{}\": jsbench does not control that server (use backend = \"process\", \"container\" or \"auto\")",
                        kind.as_str(),
                        backend.as_str()
                    ),
                );
            }
        } else {
            (conns, target) = fault_target(
                c,
                &field("target"),
                f.target.as_ref(),
                connections,
                seed ^ (i as u64 + 1),
            );
            if kind.is_directional() {
                direction = Some(f.direction.unwrap_or(FaultDirection::Both));
            } else if f.direction.is_some() {
                c.err(
                    &field("direction"),
                    format!(
                        "does not apply to kind = \"{}\" (it acts on whole connections); direction applies to latency, bandwidth, slicer and timeout",
                        kind.as_str()
                    ),
                );
            }
        }

        // Parameters.
        let mut latency = None;
        let mut jitter = None;
        let mut bytes_per_sec = None;
        let mut average_size = None;
        let mut size_variation = None;
        let mut delay = None;
        match kind {
            FaultKind::Latency => {
                if f.latency.is_none() {
                    c.err(
                        &field("latency"),
                        "is required for kind = \"latency\" (e.g. \"5ms\")",
                    );
                }
                latency =
                    Some(c.duration0(&field("latency"), f.latency.as_deref(), Duration::ZERO));
                jitter = Some(c.duration0(&field("jitter"), f.jitter.as_deref(), Duration::ZERO));
            }
            FaultKind::Bandwidth => {
                bytes_per_sec = Some(match &f.bytes_per_sec {
                    None => {
                        c.err(&field("bytes_per_sec"), "is required for kind = \"bandwidth\" (bytes per second, e.g. 100000 or \"1MiB\")");
                        0
                    }
                    Some(toml::Value::Integer(v)) if *v >= 0 => *v as u64,
                    Some(toml::Value::String(v)) => parse_bytes(v).unwrap_or_else(|| {
                        c.err(
                            &field("bytes_per_sec"),
                            format!(
                                "{v:?} is not a size: bytes per second, e.g. 100000 or \"1MiB\""
                            ),
                        );
                        0
                    }),
                    Some(v) => {
                        c.err(&field("bytes_per_sec"), format!("{v} is not allowed: bytes per second (0 or more), e.g. 100000 or \"1MiB\""));
                        0
                    }
                });
            }
            FaultKind::Slicer => {
                if f.average_size.is_none() {
                    c.err(
                        &field("average_size"),
                        "is required for kind = \"slicer\" (bytes per slice)",
                    );
                }
                let avg = c.range(&field("average_size"), f.average_size, 1, 1, 1 << 20) as usize;
                let var =
                    c.range(&field("size_variation"), f.size_variation, 0, 0, 1 << 20) as usize;
                if var >= avg && f.size_variation.is_some() {
                    c.err(
                        &field("size_variation"),
                        format!("must be smaller than average_size ({avg})"),
                    );
                }
                average_size = Some(avg);
                size_variation = Some(var);
                delay = Some(c.duration0(&field("delay"), f.delay.as_deref(), Duration::ZERO));
            }
            _ => {}
        }

        // Schedule.
        let start = f
            .start
            .as_deref()
            .map(|s| c.duration0(&field("start"), Some(s), Duration::ZERO));
        let duration = f
            .duration
            .as_deref()
            .map(|s| c.duration0(&field("duration"), Some(s), Duration::ZERO));
        if start.is_none() && (kind.server_fault().is_some() || kind == FaultKind::ResetPeer) {
            c.err(
                &field("start"),
                format!(
                    "is required for kind = \"{}\": when to inject it, from the start of the measured phase (e.g. \"2s\")",
                    kind.as_str()
                ),
            );
        }
        if kind.is_instant() && duration.is_some() {
            c.err(
                &field("duration"),
                format!(
                    "does not apply to kind = \"{}\" (a one-shot action)",
                    kind.as_str()
                ),
            );
        }
        if matches!(kind, FaultKind::Pause | FaultKind::Kill) && duration.is_none() {
            c.err(
                &field("duration"),
                if kind == FaultKind::Kill {
                    "is required for kind = \"kill\": how long the server stays dead before it is started again (\"0s\" = at once)"
                } else {
                    "is required for kind = \"pause\": how long the server stays frozen"
                },
            );
        }
        if kind == FaultKind::Pause && duration == Some(Duration::ZERO) {
            c.err(&field("duration"), "must be greater than zero");
        }
        let repeat = c.range(&field("repeat"), f.repeat, 1, 1, 1000) as u32;
        let every = f
            .every
            .as_deref()
            .map(|s| c.duration(&field("every"), Some(s), Duration::from_secs(1)));
        if repeat > 1 {
            match (every, duration) {
                (None, _) => c.err(
                    &field("every"),
                    "is required with repeat > 1: the time between the starts of two occurrences",
                ),
                (Some(_), None) if !kind.is_instant() => c.err(
                    &field("duration"),
                    "is required with repeat > 1: each occurrence must end before the next",
                ),
                (Some(e), Some(d)) if e <= d => c.err(
                    &field("every"),
                    format!(
                        "must be longer than duration ({}): occurrences may not overlap",
                        humantime::format_duration(d)
                    ),
                ),
                _ => {}
            }
        } else if every.is_some() {
            c.err(&field("every"), "is only used with repeat > 1");
        }

        out.push(FaultPlan {
            name,
            kind,
            connections: conns,
            target,
            direction,
            latency,
            jitter,
            bytes_per_sec,
            average_size,
            size_variation,
            delay,
            start,
            duration,
            repeat,
            every,
        });
    }
    out
}

/// Resolves a network fault's `target` to connection indexes (and a description).
fn fault_target(
    c: &mut Checker,
    field: &str,
    value: Option<&toml::Value>,
    connections: usize,
    seed: u64,
) -> (Vec<usize>, String) {
    let all: Vec<usize> = (0..connections).collect();
    let bad = |c: &mut Checker, what: String| {
        c.err(
            field,
            format!("{what}: use \"all\", a connection index (0..{connections}), a list of indexes, or a fraction in (0, 1]"),
        );
        (all.clone(), "all".to_string())
    };
    match value {
        None => (all.clone(), "all connections".into()),
        Some(toml::Value::String(s)) if s == "all" => (all.clone(), "all connections".into()),
        Some(toml::Value::Integer(i)) if *i >= 0 && (*i as usize) < connections => {
            (vec![*i as usize], format!("connection {i}"))
        }
        Some(toml::Value::Array(items)) if !items.is_empty() => {
            let mut v = Vec::new();
            for it in items {
                match it {
                    toml::Value::Integer(i) if *i >= 0 && (*i as usize) < connections => {
                        if !v.contains(&(*i as usize)) {
                            v.push(*i as usize);
                        }
                    }
                    other => return bad(c, format!("{other} is not a connection index")),
                }
            }
            v.sort_unstable();
            let d = format!("connections {v:?}");
            (v, d)
        }
        Some(toml::Value::Float(f)) if *f > 0.0 && *f <= 1.0 => {
            use rand::seq::SliceRandom;
            use rand::SeedableRng;
            let n = ((*f * connections as f64).ceil() as usize).clamp(1, connections);
            let mut v = all.clone();
            v.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
            v.truncate(n);
            v.sort_unstable();
            let d = format!("{}% of connections {v:?}", (f * 100.0).round());
            (v, d)
        }
        Some(other) => bad(c, format!("{other} is not allowed")),
    }
}

/// "512MiB", "2GB", "1024" → bytes.
fn parse_bytes(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    let mult: u64 = match unit.trim() {
        "" | "B" => 1,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mult).filter(|b| *b > 0)
}

/// Lists the scenario files of a path: the file itself, or a directory's `*.toml` sorted by name.
pub fn files_in(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        files.sort();
        Ok(files)
    } else if path.exists() {
        Ok(vec![path.to_path_buf()])
    } else {
        Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{}: no such file or directory", path.display()),
        ))
    }
}

/// Serializes durations as humantime strings ("2m", "500ms") in result.json.
mod duration_str {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errs(text: &str) -> Vec<FieldError> {
        parse(text, "t.toml", &Overrides::default())
            .expect_err("should fail")
            .errors
    }

    const MIN: &str = "name = \"x\"\n[workload]\nmessages = 10\n";

    #[test]
    fn minimal_scenario_gets_defaults() {
        let p = parse(MIN, "t.toml", &Overrides::default()).unwrap();
        assert_eq!(p.connections.strategy, Strategy::Single);
        assert_eq!(p.connections.count, 1);
        assert_eq!(p.publish.mode, Mode::Async);
        assert_eq!(p.publish.max_in_flight, 10_000);
        assert_eq!(p.workload.amount, Amount::Messages(10));
        assert_eq!(p.workload.keys, 16);
        assert_eq!(p.stream.duplicate_window, Duration::from_secs(120));
        assert_eq!(p.server.backend, Backend::Auto);
    }

    #[test]
    fn unknown_field_names_path_and_line() {
        let e = errs(
            "name = \"x\"\n[publish]\nmode = \"async\"\nwindow = 3\n[workload]\nmessages = 1\n",
        );
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].field, "publish.window");
        assert_eq!(e[0].line, Some(4));
        assert!(e[0].message.contains("max_in_flight"), "{}", e[0].message);
        assert!(e[0].to_string().starts_with("t.toml:4: publish.window: "));
    }

    #[test]
    fn bad_enum_value_lists_allowed() {
        let e = errs("name = \"x\"\n[publish]\nmode = \"asyn\"\n[workload]\nmessages = 1\n");
        assert_eq!(e[0].field, "publish.mode");
        assert!(e[0].message.contains("sync") && e[0].message.contains("async"));
    }

    #[test]
    fn semantic_errors_are_all_reported() {
        let e = errs(
            "name = \"bad name\"\n[connections]\nstrategy = \"single\"\ncount = 4\n[publish]\nack_timeout = \"soon\"\n[workload]\nmessages = 1\nduration = \"1s\"\nrate = -5\n",
        );
        let fields: Vec<&str> = e.iter().map(|e| e.field.as_str()).collect();
        assert!(fields.contains(&"name"), "{fields:?}");
        assert!(fields.contains(&"connections.count"), "{fields:?}");
        assert!(fields.contains(&"publish.ack_timeout"), "{fields:?}");
        assert!(fields.contains(&"workload"), "{fields:?}");
        assert!(fields.contains(&"workload.rate"), "{fields:?}");
    }

    #[test]
    fn external_needs_url_and_replicas_need_cluster() {
        let e = errs("name = \"x\"\n[server]\nbackend = \"external\"\n[workload]\nmessages = 1\n");
        assert_eq!(e[0].field, "server.url");
        let e = errs("name = \"x\"\n[stream]\nreplicas = 3\n[workload]\nmessages = 1\n");
        assert_eq!(e[0].field, "stream.replicas");
    }

    #[test]
    fn overrides_replace_amount_and_backend() {
        let o = Overrides {
            duration: Some(Duration::from_secs(3)),
            server_url: Some("nats://127.0.0.1:4222".into()),
            ..Default::default()
        };
        let p = parse(MIN, "t.toml", &o).unwrap();
        assert_eq!(p.workload.amount, Amount::Duration(Duration::from_secs(3)));
        assert_eq!(p.server.backend, Backend::External);
    }

    #[test]
    fn rate_warmup_and_sizes() {
        let p = parse(
            "name = \"x\"\n[stream]\nmax_bytes = \"1GiB\"\n[workload]\nmessages = 5\nrate = 1000\nwarmup = \"2s\"\n",
            "t.toml",
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(p.workload.rate, Rate::PerSec(1000));
        assert_eq!(p.workload.warmup, Warmup::Duration(Duration::from_secs(2)));
        assert_eq!(p.stream.max_bytes, 1 << 30);
    }

    #[test]
    fn seed_is_fixed_when_absent() {
        let a = parse(MIN, "t.toml", &Overrides::default()).unwrap();
        let with = format!("seed = 7\n{MIN}");
        let b = parse(&with, "t.toml", &Overrides::default()).unwrap();
        assert_eq!(b.seed, 7);
        let _ = a.seed; // drawn at random, but present
    }

    #[test]
    fn faults_and_retry_validate() {
        let p = parse(
            "name = \"x\"\n[publish]\nmsg_id = true\n[publish.retry]\nattempts = 4\nbackoff = \"50ms\"\n\
             [connections]\nstrategy = \"round_robin\"\ncount = 4\n[workload]\nduration = \"5s\"\n\
             [[faults]]\nkind = \"latency\"\ntarget = [1, 3]\ndirection = \"upstream\"\nlatency = \"2ms\"\n\
             [[faults]]\nname = \"freeze\"\nkind = \"pause\"\nstart = \"1s\"\nduration = \"500ms\"\nrepeat = 3\nevery = \"1s\"\n\
             [[faults]]\nkind = \"down\"\ntarget = 0.5\nstart = \"2s\"\nduration = \"1s\"\n",
            "t.toml",
            &Overrides::default(),
        )
        .unwrap();
        assert!(
            p.connections.proxy,
            "network faults route connections through proxies"
        );
        assert_eq!(p.publish.retry.attempts, 4);
        assert_eq!(p.publish.retry.backoff_after(1), Duration::from_millis(50));
        assert_eq!(p.publish.retry.backoff_after(3), Duration::from_millis(200));
        assert_eq!(p.faults.len(), 3);
        assert_eq!(p.faults[0].name, "latency-1");
        assert_eq!(p.faults[0].connections, vec![1, 3]);
        assert_eq!(p.faults[0].direction, Some(FaultDirection::Upstream));
        assert_eq!(p.faults[1].occurrences().len(), 3);
        assert_eq!(p.faults[2].connections.len(), 2, "half of 4 connections");
        // Fractions are drawn from the seed: the same seed picks the same connections.
        let again = parse(
            "name = \"x\"\nseed = 5\n[connections]\nstrategy = \"round_robin\"\ncount = 8\n[workload]\nmessages = 1\n[[faults]]\nkind = \"timeout\"\ntarget = 0.25\n",
            "t.toml",
            &Overrides::default(),
        )
        .unwrap();
        let twice = parse(
            "name = \"x\"\nseed = 5\n[connections]\nstrategy = \"round_robin\"\ncount = 8\n[workload]\nmessages = 1\n[[faults]]\nkind = \"timeout\"\ntarget = 0.25\n",
            "t.toml",
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(again.faults[0].connections, twice.faults[0].connections);
        assert_eq!(again.faults[0].connections.len(), 2);
    }

    #[test]
    fn a_boolean_claim_set_to_false_says_what_to_write_instead() {
        let e = errs(
            "name = \"x\"\n[workload]\nmessages = 1\n[consume]\n\
             [expect]\nno_loss = false\nno_duplicates = false\nall_acked = false\nall_processed = false\n",
        );
        let find = |field: &str| {
            e.iter()
                .find(|x| x.field == field)
                .unwrap_or_else(|| panic!("no error for {field}: {e:?}"))
                .message
                .clone()
        };
        assert!(find("expect.no_loss").contains("lost = \"some\""));
        assert!(find("expect.no_duplicates").contains("duplicates = \"some\""));
        assert!(find("expect.all_acked").contains("unacked = \"some\""));
        assert!(find("expect.all_processed").contains("unprocessed = \"some\""));
        assert_eq!(e.len(), 4, "{e:?}");
        // The claims it points to are accepted.
        let ok = "name = \"x\"\n[workload]\nmessages = 1\n[consume]\n\
                  [expect]\nlost = \"some\"\nunacked = \"none\"\nunprocessed = \"some\"\n";
        let plan = parse(ok, "x.toml", &Overrides::default()).expect("valid");
        assert_eq!(plan.expect.lost, Some(Presence::Some));
    }

    #[test]
    fn fault_errors_name_the_field_and_what_is_allowed() {
        let e = errs(
            "name = \"x\"\n[server]\nbackend = \"external\"\nurl = \"nats://127.0.0.1:4222\"\n[workload]\nmessages = 1\n\
             [[faults]]\nkind = \"kill\"\nstart = \"1s\"\nduration = \"1s\"\n\
             [[faults]]\nkind = \"reset_peer\"\ndirection = \"upstream\"\n\
             [[faults]]\nkind = \"latency\"\ntarget = 9\n\
             [[faults]]\nkind = \"pause\"\nstart = \"1s\"\nduration = \"1s\"\nrepeat = 2\n\
             [[faults]]\nkind = \"timeout\"\nlatency = \"1ms\"\n",
        );
        let find = |field: &str| {
            e.iter()
                .find(|x| x.field == field)
                .unwrap_or_else(|| panic!("no error for {field}: {e:?}"))
                .message
                .clone()
        };
        let kill = find("faults[0].kind");
        assert!(kill.contains("kill") && kill.contains("external"), "{kill}");
        assert!(find("faults[1].direction").contains("latency, bandwidth, slicer and timeout"));
        assert!(find("faults[1].start").contains("required"));
        assert!(find("faults[2].latency").contains("required"));
        assert!(find("faults[2].target").contains("connection index"));
        assert!(find("faults[3].every").contains("repeat > 1"));
        assert!(find("faults[4].latency").contains("kind = \"latency\""));
        let e = errs("name = \"x\"\n[workload]\nmessages = 1\n[[faults]]\nkind = \"quake\"\n");
        assert_eq!(e[0].field, "faults[0].kind");
        assert!(e[0].message.contains("reset_peer"), "{}", e[0].message);
    }

    #[test]
    fn consume_errors_name_the_field_and_what_is_allowed() {
        let e = errs(
            "name = \"x\"\n[workload]\nmessages = 1\n[consume]\nconsumer = \"ordered\"\n\
             fail_rate = 0.1\nworkers = 0\nprocessing_distribution = \"uniform\"\nack_wait = \"1s\"\n",
        );
        let find = |field: &str| {
            e.iter()
                .find(|x| x.field == field)
                .unwrap_or_else(|| panic!("no error for {field}: {e:?}"))
                .message
                .clone()
        };
        assert!(find("consume.fail_rate").contains("consumer = \"durable\""));
        assert!(find("consume.ack_wait").contains("does not ack"));
        assert!(find("consume.workers").contains("between 1 and 1024"));
        assert!(find("consume.processing_max").contains("needs processing_max"));
        let e = errs("name = \"x\"\n[workload]\nmessages = 1\n[consume]\nfail_rate = 1.5\nmodel = \"pool\"\n");
        assert_eq!(e[0].field, "consume.model", "{e:?}");
        assert!(e[0].message.contains("keyed"), "{}", e[0].message);
        let e = errs("name = \"x\"\n[workload]\nmessages = 1\n[consume]\nfail_rate = 1.5\n");
        assert_eq!(e[0].field, "consume.fail_rate");
        assert!(e[0].message.contains("below 1"), "{}", e[0].message);
        let e = errs(
            "name = \"x\"\n[workload]\nmessages = 1\n[expect]\nconsume_order = \"preserved\"\n",
        );
        assert!(e[0].message.contains("need a [consume] section"), "{e:?}");
        // Defaults: a durable consumer, concurrent, keyed ×4, no processing time, no failures.
        let p = parse(
            "name = \"x\"\n[workload]\nmessages = 1\n[consume]\n",
            "x.toml",
            &Overrides::default(),
        )
        .unwrap();
        let c = p.consume.unwrap();
        assert_eq!(c.consumer, ConsumerKind::Durable);
        assert_eq!(c.when, ConsumeWhen::Concurrent);
        assert_eq!(c.model, PoolModel::Keyed);
        assert_eq!(c.workers, 4);
        assert_eq!(c.fail_rate, 0.0);
    }
}
