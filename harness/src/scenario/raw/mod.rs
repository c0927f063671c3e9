//! The scenario as written: one `*Section` struct per TOML table, parsed strictly.
//!
//! Unknown fields and values of the wrong TOML type are parse errors, reported with the field
//! path and line number (`serde_path_to_error` for the path, toml's span for the line). Types
//! are loose here (strings for durations, raw values for fields that accept several forms) so
//! that validation can say which field is wrong and what is allowed.

use std::path::PathBuf;

use serde::Deserialize;

use super::plan::{
    ConsumeWhen, ConsumerKind, KeyDistribution, Mode, OnFail, PersistMode, PoolModel,
    ProcessingDistribution, Storage, Strategy,
};
use super::{Expect, ScenarioError};
use crate::server::Backend;

mod fault;
mod nemesis;

pub use fault::FaultSection;
pub use nemesis::NemesisSection;

/// Parses scenario text into its sections; `file` names it in errors. Only the first problem
/// is reported: past a syntax or type error the rest of the file cannot be trusted.
pub fn parse(text: &str, file: &str) -> Result<Scenario, ScenarioError> {
    parse_strict(text, file)
}

/// Parses TOML text into `T` (strict: unknown fields are errors), naming the file, the field
/// path and the line in the one error it reports. Scenario and claims files share it.
pub(crate) fn parse_strict<T: serde::de::DeserializeOwned>(
    text: &str,
    file: &str,
) -> Result<T, ScenarioError> {
    let de = toml::de::Deserializer::parse(text).map_err(|e| {
        let line = e.span().map(|s| line_of(text, s.start));
        ScenarioError::one(file, line, String::new(), e.message().trim().to_string())
    })?;
    serde_path_to_error::deserialize::<_, T>(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.inner();
        let line = inner.span().map(|s| line_of(text, s.start));
        let field = if path == "." { String::new() } else { path };
        ScenarioError::one(file, line, field, inner.message().trim().to_string())
    })
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

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
    /// `[nemesis]`: a random schedule of faults drawn from a seed (instead of `[[faults]]`).
    pub nemesis: Option<NemesisSection>,
    /// `[consume]`: a consumer and a worker pool processing the run's messages.
    pub consume: Option<ConsumeSection>,
    /// `[client]`: which client library publishes (async-nats in-process by default).
    #[serde(default)]
    pub client: ClientSection,
}

/// `[client]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSection {
    /// A shipped client's name (a string here, so an unknown one gets the list of names).
    pub adapter: Option<String>,
    /// The scenario's own adapter program and its arguments.
    pub command: Option<Vec<String>>,
    pub max_pending: Option<i64>,
    pub resolve_timeout: Option<String>,
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

/// `[server]` as written.
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
    /// Nodes of the cluster jsbench starts (1: a single server).
    pub nodes: Option<i64>,
    /// JetStream's fsync: "default", "always" or a duration.
    pub sync_interval: Option<String>,
}

/// `[stream]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamSection {
    pub storage: Option<Storage>,
    pub replicas: Option<i64>,
    pub duplicate_window: Option<String>,
    pub max_bytes: Option<toml::Value>,
    pub persist_mode: Option<PersistMode>,
}

/// `[connections]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionsSection {
    pub strategy: Option<Strategy>,
    pub count: Option<i64>,
    /// Route every connection through a fault proxy even without network faults (to measure
    /// the proxy itself). Network faults turn this on.
    pub proxy: Option<bool>,
    /// Which node the connections talk to: "any", "leader", "follower" or a node index.
    pub connect_to: Option<toml::Value>,
}

/// `[publish]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishSection {
    pub mode: Option<Mode>,
    /// "jetstream" (default) or "lean": which publish path of the in-process client.
    pub api: Option<crate::scenario::Api>,
    pub max_in_flight: Option<i64>,
    /// Messages per atomic batch (batch mode) or per fast batch (fast mode).
    pub batch_size: Option<i64>,
    /// Fast mode: the ack interval asked of the server.
    pub flow: Option<i64>,
    /// Fast mode: flow acks outstanding before the publisher waits.
    pub max_outstanding_acks: Option<i64>,
    /// Fast mode: "fail" (a missing message ends the batch) or "ok" (reported, the batch goes on).
    pub gap: Option<crate::scenario::GapMode>,
    pub msg_id: Option<bool>,
    /// Where each message's tag goes: "payload" (default) or "headers".
    pub wire: Option<crate::scenario::Wire>,
    /// Every message carries Nats-Expected-Last-Subject-Sequence (its key's previous message).
    pub expect_last_subject_seq: Option<bool>,
    pub ack_timeout: Option<String>,
    pub retry: Option<RetrySection>,
    /// Every N-th message is followed at once by a repeat with the same Msg-Id.
    pub repeat_msg_id_every: Option<i64>,
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
    /// After a "duplicate message id is in process" reply: "retry" (default) or "trust".
    pub on_in_process: Option<crate::scenario::OnInProcess>,
}

/// `[workload]` as written.
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

/// `[observe]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObserveSection {
    pub read_back: Option<bool>,
    pub follow: Option<super::Follow>,
    pub timeline_bucket: Option<String>,
}
