//! A worker's side of a distributed run (`jsbench worker`): reach the coordinator (retrying:
//! a container may start before it), read the plan, take an index (given, or claimed: the
//! lowest free one), rebuild and check the plan, connect to the system under test, measure the
//! clock, register, wait for the barrier, publish the segment, upload the result. Any failure
//! after the index is taken is reported in the worker's KV key, so the coordinator can name it;
//! a worker that could not take its index writes nothing (the index is another worker's).

use std::path::PathBuf;
use std::time::Duration;

use async_nats::jetstream::{self, kv};

use super::clock;
use super::protocol::{
    claim_key, result_object, worker_key, Claim, PlanMsg, Start, WorkerState, BUCKET, RESULTS,
};
use crate::cancel::Cancel;
use crate::record::observe::Clock;
use crate::runner::part::Part;
use crate::runner::segment::SegmentRig;
use crate::scenario::{self, Plan};
use crate::server::{Backend, Server};
use crate::split::{split, Segment};

/// How long a worker waits for the coordinator, its bucket, plan and barrier.
const WAIT: Duration = Duration::from_secs(120);

/// Which index a worker takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexChoice {
    /// `--index` or `$JOB_COMPLETION_INDEX`: this one, or none.
    Given(usize),
    /// The lowest one no other worker claimed.
    Claim,
}

/// Why a worker could not do its part.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("cannot reach the coordinator at {url}: {why}")]
    Coordinator { url: String, why: String },
    /// Its `--of` or `--index` does not fit the coordinator's run.
    #[error("{why}")]
    Mismatch { why: String },
    #[error("index {index} is taken: another worker claimed it ({by})")]
    IndexTaken { index: usize, by: String },
    #[error("all {n} indexes are taken: the coordinator runs {n} workers, all claimed")]
    AllTaken { n: usize },
    #[error("worker {index} of {of}: {why}")]
    Run {
        index: usize,
        of: usize,
        why: String,
    },
}

impl WorkerError {
    /// The worker was refused (a wrong `--of` or `--index`, an index taken): bad usage, as
    /// opposed to a run that failed.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            WorkerError::Mismatch { .. }
                | WorkerError::IndexTaken { .. }
                | WorkerError::AllTaken { .. }
        )
    }
}

/// Does a worker's part of the run the coordinator at `url` coordinates: index `choice`, of
/// `of` workers when given (it must be the coordinator's number).
pub async fn work(
    url: &str,
    token: &str,
    choice: IndexChoice,
    of: Option<usize>,
    cancel: Cancel,
) -> Result<(), WorkerError> {
    let clock = Clock::start();
    let unreachable = |why: String| WorkerError::Coordinator {
        url: url.to_string(),
        why,
    };
    let client = connect(url, token).await.map_err(unreachable)?;
    let js = jetstream::new(client.clone());
    let kv = wait_for(|| js.get_key_value(BUCKET))
        .await
        .map_err(|e| unreachable(format!("no bucket {BUCKET}: {e}")))?;
    let msg: PlanMsg = read(&kv, "plan").await.map_err(unreachable)?;
    let n = msg.workers;
    if let Some(of) = of.filter(|&of| of != n) {
        return Err(WorkerError::Mismatch {
            why: format!("--of {of}, but the coordinator runs {n} workers"),
        });
    }
    let index = claim(&kv, choice, n).await.map_err(|e| match e {
        Claimed::Refused(e) => e,
        Claimed::Unanswered(why) => unreachable(why),
    })?;
    let failed = |why: String| WorkerError::Run { index, of: n, why };
    let outcome = run(&client, &js, &kv, clock, index, &msg, &cancel).await;
    if let Err(why) = &outcome {
        let state = WorkerState::Failed { error: why.clone() };
        let _ = kv
            .put(
                worker_key(index),
                serde_json::to_vec(&state).unwrap_or_default().into(),
            )
            .await;
    }
    let _ = client.flush().await;
    outcome.map_err(failed)
}

/// Connects to the coordination server, retrying for [`WAIT`] while it is not there yet (not
/// when it refuses the token or the URL is wrong: waiting would not help).
async fn connect(url: &str, token: &str) -> Result<async_nats::Client, String> {
    use async_nats::ConnectErrorKind as K;
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let options = async_nats::ConnectOptions::new()
            .token(token.to_string())
            .name("jsbench-worker");
        match options.connect(url).await {
            Ok(c) => return Ok(c),
            Err(e) if !matches!(e.kind(), K::Io | K::Dns | K::TimedOut) => {
                return Err(e.to_string())
            }
            Err(e) if tokio::time::Instant::now() >= deadline => {
                return Err(format!("{e} (tried for {WAIT:?})"))
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
}

/// How taking an index went wrong.
enum Claimed {
    Refused(WorkerError),
    /// The bucket did not answer.
    Unanswered(String),
}

/// Takes index `choice` of `n` by creating KV `claim.<i>` (which fails when it exists).
async fn claim(kv: &kv::Store, choice: IndexChoice, n: usize) -> Result<usize, Claimed> {
    use async_nats::jetstream::kv::CreateErrorKind;
    let me = Claim {
        host: hostname(),
        pid: std::process::id(),
    };
    let value: bytes::Bytes = serde_json::to_vec(&me).unwrap_or_default().into();
    let candidates = match choice {
        IndexChoice::Given(i) if i >= n => {
            return Err(Claimed::Refused(WorkerError::Mismatch {
                why: format!("--index {i} is not below the coordinator's {n} workers"),
            }))
        }
        IndexChoice::Given(i) => i..i + 1,
        IndexChoice::Claim => 0..n,
    };
    for i in candidates {
        match kv.create(claim_key(i), value.clone()).await {
            Ok(_) => return Ok(i),
            Err(e) if e.kind() == CreateErrorKind::AlreadyExists => {
                if let IndexChoice::Given(_) = choice {
                    let by = claimant(kv, i).await;
                    return Err(Claimed::Refused(WorkerError::IndexTaken { index: i, by }));
                }
            }
            Err(e) => return Err(Claimed::Unanswered(format!("cannot claim index {i}: {e}"))),
        }
    }
    Err(Claimed::Refused(WorkerError::AllTaken { n }))
}

/// Who holds index `i`, as an error message names it.
async fn claimant(kv: &kv::Store, i: usize) -> String {
    match kv.get(claim_key(i)).await {
        Ok(Some(v)) => match serde_json::from_slice::<Claim>(&v) {
            Ok(c) => format!("host {}, pid {}", c.host, c.pid),
            Err(_) => "unknown claimant".into(),
        },
        _ => "unknown claimant".into(),
    }
}

async fn run(
    client: &async_nats::Client,
    js: &jetstream::Context,
    kv: &kv::Store,
    clock: Clock,
    index: usize,
    msg: &PlanMsg,
    cancel: &Cancel,
) -> Result<(), String> {
    let (plan, seg) = rebuild(msg, index, msg.workers)?;
    let (seeds, options) = target(&plan, msg).await?;
    let rig = SegmentRig::open(&plan, &seg, &seeds, options, &msg.run_id).await?;
    let offset = clock::measure(client, clock).await?;
    let state = WorkerState::Registered {
        host: hostname(),
        pid: std::process::id(),
        offset_ns: offset.offset_ns,
        uncertainty_ns: offset.uncertainty_ns,
    };
    put(kv, &worker_key(index), &state).await?;
    let start: Start = read(kv, "start").await?;
    if start.workers.as_ref().is_some_and(|w| !w.contains(&index)) {
        rig.close().await;
        return Err(
            "it registered after the coordinator's registration timeout: the run \
                    started without it"
                .into(),
        );
    }
    let local_ns = (start.at_ns as i64 - offset.offset_ns).max(0) as u64;
    let record = rig
        .publish(
            &plan,
            &seg,
            &msg.run_id,
            clock,
            cancel,
            clock.instant_at(local_ns),
        )
        .await;
    rig.close().await;
    let part = serde_json::to_vec(&Part::of(index, &record)).map_err(|e| e.to_string())?;
    let store = js
        .get_object_store(RESULTS)
        .await
        .map_err(|e| format!("no object store {RESULTS}: {e}"))?;
    store
        .put(result_object(index).as_str(), &mut part.as_slice())
        .await
        .map_err(|e| format!("cannot upload the result: {e}"))?;
    put(kv, &worker_key(index), &WorkerState::Done).await
}

/// The plan rebuilt from the coordinator's text and overrides, checked against its own, and
/// this worker's segment of it.
fn rebuild(msg: &PlanMsg, index: usize, of: usize) -> Result<(Plan, Segment), String> {
    if msg.workers != of || index >= of {
        return Err(format!(
            "the coordinator runs {} workers; this is --index {index} --of {of}",
            msg.workers
        ));
    }
    let mut plan = scenario::parse(&msg.text, &msg.file, &msg.overrides.to_overrides())
        .map_err(|e| format!("the plan does not validate here: {e}"))?;
    plan.file = Some(PathBuf::from(&msg.file));
    let mine = serde_json::to_value(&plan).map_err(|e| e.to_string())?;
    if mine != msg.plan {
        return Err(
            "the plan rebuilt here differs from the coordinator's (another jsbench \
             version?): refusing to publish a different plan"
                .into(),
        );
    }
    let seg = split(&plan, of)
        .map_err(|e| e.to_string())?
        .into_iter()
        .nth(index)
        .ok_or("no such segment")?;
    Ok((plan, seg))
}

/// The system under test's seeds and connect options: the coordinator's server with its
/// credential, or an external one with the scenario's own auth (as the coordinator reached it).
async fn target(
    plan: &Plan,
    msg: &PlanMsg,
) -> Result<(Vec<String>, async_nats::ConnectOptions), String> {
    if plan.server.backend == Backend::External {
        let server = Server::start(&plan.server_spec())
            .await
            .map_err(|e| format!("external server: {e}"))?;
        let options = server.connect_options().await.map_err(|e| e.to_string())?;
        return Ok((server.seeds().to_vec(), options));
    }
    let mut options = async_nats::ConnectOptions::new();
    if let Some(t) = &msg.token {
        options = options.token(t.clone());
    }
    Ok((msg.seeds.clone(), options))
}

/// Waits for KV `key` and parses it.
async fn read<T: serde::de::DeserializeOwned>(kv: &kv::Store, key: &str) -> Result<T, String> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Ok(Some(v)) = kv.get(key).await {
            return serde_json::from_slice(&v).map_err(|e| format!("KV {key}: {e}"));
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!("no {key} from the coordinator within {WAIT:?}"));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn put<T: serde::Serialize>(kv: &kv::Store, key: &str, v: &T) -> Result<(), String> {
    let bytes = serde_json::to_vec(v).map_err(|e| e.to_string())?;
    kv.put(key, bytes.into())
        .await
        .map(|_| ())
        .map_err(|e| format!("cannot write KV {key}: {e}"))
}

/// Retries `op` until it succeeds or [`WAIT`] passed.
async fn wait_for<T, E, F, Fut>(mut op: F) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match op().await {
            Err(_) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            done => return done,
        }
    }
}

/// This host's name, as result.json `workers[].host` gives it.
pub(super) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}
