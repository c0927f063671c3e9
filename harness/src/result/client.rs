//! `client` in result.json: which client library published, through what, and what its adapter
//! process said and did (docs/adapters.md). Filled for every run: async-nats in-process has its
//! name and version and nulls for what only an adapter has.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What published the run's messages.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClientReport {
    /// The client library (`async-nats`, `nats.go`, … as the adapter's init_ok names it).
    pub name: String,
    /// Its version as it reports itself; empty when the adapter never answered init.
    pub version: String,
    /// `in-process`, a shipped adapter's name (`nats.go`, …), or `command`.
    pub adapter: String,
    /// The argv of `client.command`; null otherwise.
    pub command: Option<Vec<String>>,
    /// How the adapter applied the init's settings, in its own words.
    pub settings: Option<BTreeMap<String, String>>,
    /// The adapter's clock minus jsbench's, and half the best probe's round trip.
    pub clock_offset_ns: Option<i64>,
    pub clock_uncertainty_ns: Option<u64>,
    /// How far the offset moved between the probes before and after publishing.
    pub clock_drift_ns: Option<i64>,
    /// Reports for publishes jsbench had already recorded as unresolved.
    pub late_reports: Option<u64>,
    /// The adapter's exit status; null when it was killed or is unknown.
    pub exit: Option<i32>,
    /// True when jsbench had to kill the adapter.
    pub killed: Option<bool>,
    /// The adapter program itself (`{name, version}` from init_ok).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program: Option<String>,
    /// The last lines the adapter wrote to stderr, when it ended badly.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stderr_tail: Vec<String>,
}

impl ClientReport {
    /// async-nats in jsbench's own process, at the version this build links.
    pub fn in_process(version: &str) -> ClientReport {
        ClientReport {
            name: "async-nats".into(),
            version: version.into(),
            adapter: "in-process".into(),
            ..Default::default()
        }
    }
}
