//! The names and messages of the coordination protocol (see `mod.rs`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::scenario::{Overrides, Warmup};
use crate::server::Backend;

/// The KV bucket of a run's coordination.
pub const BUCKET: &str = "jsbench_coord";
/// The Object Store bucket the workers upload their results to.
pub const RESULTS: &str = "jsbench_results";
/// Request/reply: the coordinator's clock now, ns, as decimal text.
pub const CLOCK_SUBJECT: &str = "jsbench.clock";
/// The environment variable that carries the coordination server's credential to a worker.
pub const TOKEN_ENV: &str = "JSBENCH_COORDINATOR_TOKEN";
/// The environment variable a worker takes the coordinator's URL from without `--coordinator`.
pub const URL_ENV: &str = "JSBENCH_COORDINATOR";
/// The file `jsbench coordinate` writes its URL and generated credential to (under `--out`).
pub const ENV_FILE: &str = "coordinator.env";

/// The KV key a worker claims index `i` with (created, never overwritten: one owner).
pub fn claim_key(i: usize) -> String {
    format!("claim.{i}")
}

/// The KV key of worker `i`'s state.
pub fn worker_key(i: usize) -> String {
    format!("worker.{i}")
}

/// The object name of worker `i`'s result.
pub fn result_object(i: usize) -> String {
    format!("worker-{i}")
}

/// KV `plan`: everything a worker needs to rebuild the plan and reach the system under test.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanMsg {
    pub run_id: String,
    pub workers: usize,
    pub text: String,
    /// The scenario file's path (the plan's `file`, and what errors name).
    pub file: String,
    pub overrides: OverridesMsg,
    /// The coordinator's plan as result.json's `scenario.plan` has it: the worker's must equal it.
    pub plan: serde_json::Value,
    /// The system under test's client URLs.
    pub seeds: Vec<String>,
    /// The credential of a system under test jsbench started (a token); none for an external
    /// one, whose auth the worker takes from the scenario as the coordinator did.
    pub token: Option<String>,
}

/// `Overrides`, as they travel.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OverridesMsg {
    pub messages: Option<u64>,
    pub duration_ns: Option<u64>,
    pub backend: Option<Backend>,
    pub server_url: Option<String>,
    pub image: Option<String>,
    pub seed: Option<u64>,
    pub keep_stream: bool,
    pub warmup_messages: Option<u64>,
    pub warmup_ns: Option<u64>,
}

impl OverridesMsg {
    /// The overrides with the plan's seed fixed (a seed drawn at random is the coordinator's).
    pub fn of(o: &Overrides, seed: u64) -> OverridesMsg {
        OverridesMsg {
            messages: o.messages,
            duration_ns: o.duration.map(|d| d.as_nanos() as u64),
            backend: o.backend,
            server_url: o.server_url.clone(),
            image: o.image.clone(),
            seed: Some(seed),
            keep_stream: o.keep_stream,
            warmup_messages: match o.warmup {
                Some(Warmup::Messages(n)) => Some(n),
                _ => None,
            },
            warmup_ns: match o.warmup {
                Some(Warmup::Duration(d)) => Some(d.as_nanos() as u64),
                _ => None,
            },
        }
    }

    pub fn to_overrides(&self) -> Overrides {
        Overrides {
            messages: self.messages,
            duration: self.duration_ns.map(Duration::from_nanos),
            backend: self.backend,
            server_url: self.server_url.clone(),
            image: self.image.clone(),
            seed: self.seed,
            keep_stream: self.keep_stream,
            warmup: match (self.warmup_messages, self.warmup_ns) {
                (Some(n), _) => Some(Warmup::Messages(n)),
                (None, Some(ns)) => Some(Warmup::Duration(Duration::from_nanos(ns))),
                (None, None) => None,
            },
            // Workers never read the stream: the coordinator reads it back at the end.
            follow: None,
            cross_check: false,
        }
    }
}

/// KV `worker.<i>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum WorkerState {
    /// Connected to the system under test, clock measured: ready for the barrier.
    Registered {
        host: String,
        pid: u32,
        offset_ns: i64,
        uncertainty_ns: u64,
    },
    /// Its result is in the Object Store.
    Done,
    /// It could not run; why.
    Failed { error: String },
}

/// KV `claim.<i>`: who took index `i` (for the error a second claimant gets).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claim {
    pub host: String,
    pub pid: u32,
}

/// KV `start`: the barrier. Every worker starts its measured phase at `at_ns` on the
/// coordinator's clock (its own clock: `at_ns - offset`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Start {
    pub at_ns: u64,
    /// The indexes of the workers that registered in time: a worker not among them (it
    /// registered after the registration timeout, and is already judged lost) must not publish.
    #[serde(default)]
    pub workers: Option<Vec<usize>>,
}
