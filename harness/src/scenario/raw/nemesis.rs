//! `[nemesis]` as written: a random schedule of faults drawn from a seed (see
//! `nemesis/random.rs`). Ranges are lists of two duration strings, so validation can name a
//! list of the wrong length or a minimum above its maximum.

use serde::Deserialize;

use crate::nemesis::FaultKind;

/// `[nemesis]` as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NemesisSection {
    /// The fault kinds drawn from (any `[[faults]]` kind).
    pub kinds: Option<Vec<FaultKind>>,
    /// Node targets drawn for kinds that act on nodes: "leader", "follower", "minority",
    /// "majority", "all" or a node index.
    pub targets: Option<Vec<toml::Value>>,
    /// `["10s", "30s"]`: time between the starts of two faults.
    pub interval: Option<Vec<String>>,
    /// `["2s", "8s"]`: how long a lasting fault lasts.
    pub duration: Option<Vec<String>>,
    pub max_concurrent: Option<i64>,
    /// Default: derived from the run's seed.
    pub seed: Option<u64>,
}
