//! The result of one run: the versioned `Report` (`result.json`, schema "jsbench.result/1") and
//! its typed status, how a following run read its stream (`streaming.rs`), the latencies it measures and their summaries (`latency.rs`), the units of
//! its figures (`unit.rs`), the latency logs in HdrHistogram's interval-log format ([`hlog`]),
//! and finding recorded results again ([`load`]). How a result reads to people is `render`'s.
//!
//! result.json is the contract with every other tool (charts, compare, CI), so field names here
//! are documented in the README and only ever added to. Files are written atomically (temp file
//! + rename): a reader never sees half a result.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::checker::{
    ClaimResult, ConsumeFigures, OrderFigures, RetryFigures, Safety, Verdict, WindowSplit,
};
use crate::nemesis::FaultWindow;

mod client;
pub mod hlog;
mod latency;
pub mod load;
mod status;
mod streaming;
mod unit;
mod workers;

pub use client::ClientReport;
pub use latency::{latency_name, LatencyKind, LatencyStat, LatencySummary};
pub use status::RunStatus;
pub use streaming::{CheckedAgainst, CrossCheck, FiguresFrom, StreamingReport};
pub use unit::Unit;
pub use workers::{Lost, WorkerReport, WorkerSegment};

pub const SCHEMA: &str = "jsbench.result/1";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub schema: String,
    /// complete | incomplete (interrupted or stopped early) | failed
    pub status: RunStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    pub run_id: String,
    pub started_at: String,
    pub finished_at: String,
    pub scenario: ScenarioInfo,
    pub stream: StreamInfo,
    pub seed: u64,
    pub environment: Environment,
    /// Which client library published, and through what (null in results from before it).
    #[serde(default)]
    pub client: Option<ClientReport>,
    pub counts: Counts,
    pub throughput: Throughput,
    /// Keyed by [`LatencyKind::label`]; read through [`Report::latency`].
    pub latency_us: BTreeMap<String, LatencySummary>,
    pub order: Orders,
    #[serde(default)]
    pub safety: Option<Safety>,
    /// Failures by error kind.
    pub errors: BTreeMap<String, u64>,
    pub verdicts: Vec<ClaimResult>,
    /// All verdicts combined: fail beats unknown beats pass; `none` when nothing was claimed.
    pub verdict: Verdict,
    /// Other files of this result, relative to result.json.
    pub files: BTreeMap<String, String>,
    /// What the jsbench process itself used (not the server).
    #[serde(default)]
    pub resources: Resources,
    /// Every fault occurrence as it happened, with the figures before / during / after it.
    #[serde(default)]
    pub faults: Vec<FaultReport>,
    /// What retries did (present when the plan retries).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryFigures>,
    /// What the consume side did (present when the scenario has `[consume]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consume: Option<ConsumeReport>,
    /// How the read-back made sure it saw everything the stream holds (present when it ran).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_back: Option<crate::record::readback::ReadBackCheck>,
    /// How a run that followed its stream read it, where its storage figures come from, and
    /// whether they agree with the end-of-run checkers (present when it followed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub streaming: Option<StreamingReport>,
    /// Every reply by kind (ok, duplicate, error code), and success acks overtaken by a later
    /// message's error or duplicate reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replies: Option<crate::checker::Replies>,
    /// What was seen of a cluster (present when the server had several nodes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterReport>,
    /// What happened to the atomic batches (present in batch mode with a read-back).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batches: Option<crate::checker::BatchFigures>,
    /// What the server said about the fast-ingest batches: flow acks, gaps, errors (fast mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fast: Option<crate::record::history::FastFigures>,
    /// After disk faults: what became of the stream and what each node holds (issue 23).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub durability: Option<crate::checker::Durability>,
    /// A distributed run's workers (`jsbench run --workers N`); absent for one process.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workers: Vec<WorkerReport>,
}

/// `cluster` in result.json: the nodes, who led the stream when, how long it was unavailable,
/// each node's figures, and whether the replicas agree after the run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClusterReport {
    pub nodes: Vec<String>,
    /// Each connection's primary node (`connections.connect_to` resolved).
    pub primaries: Vec<String>,
    pub leader_at_start: Option<String>,
    /// The stream's leader over time (ms since the measured phase started; null: none).
    pub leaders: Vec<crate::record::cluster::LeaderChange>,
    /// Times the leader changed to another node during the run.
    pub leader_changes: usize,
    /// Elections announced during the run (`LEADER_ELECTED` advisories), re-elections of the
    /// same node included: a step-down and back is an election without a change.
    #[serde(default)]
    pub elections: usize,
    pub unavailable: crate::checker::cluster::Unavailability,
    pub node_figures: Vec<crate::checker::cluster::NodeFigures>,
    /// Each node's own replica after every fault healed; null when there was no read-back.
    pub replicas: Option<crate::record::cluster::ReplicaSurvey>,
}

/// `consume` in result.json: the consumer and pool, what they processed, and over time.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConsumeReport {
    /// durable | ordered
    pub consumer: String,
    /// keyed | shared
    pub model: String,
    pub workers: usize,
    /// concurrent | after
    pub when: String,
    #[serde(flatten)]
    pub figures: ConsumeFigures,
    /// Distinct messages processed per second, first to last processing.
    pub msgs_per_sec: f64,
    pub duration_s: f64,
    /// Drained: everything delivered was processed and settled before the consumer stopped.
    pub complete: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Per bucket since the measured phase started: messages processed (first processing) and
    /// the backlog at the bucket's end (published so far minus processed so far).
    pub timeline: ConsumeTimeline,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ConsumeTimeline {
    pub bucket_ms: f64,
    pub processed: Vec<u64>,
    pub backlog: Vec<u64>,
}

/// One fault window in result.json: `{name, kind, target, start_ms, end_ms, …}` plus the split.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FaultReport {
    #[serde(flatten)]
    pub window: FaultWindow,
    /// Cluster: from the fault's start to the first leader elected after it (ms): another node,
    /// or the same one after a stretch without a leader; null when it kept its leader throughout
    /// or none came back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_leader_ms: Option<f64>,
    /// Figures for messages first sent before, during and after the window, and the time to
    /// recover.
    pub split: Option<WindowSplit>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Resources {
    /// Peak resident memory of the jsbench process so far (Linux VmHWM), when known.
    pub peak_rss_bytes: Option<u64>,
    /// jsbench's CPU time (user + system, every thread) over the measured phase, per published
    /// message, ns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_cpu_ns_per_msg: Option<f64>,
    /// The same as cores kept busy on average (1.0: one core all the time).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_cpu_cores: Option<f64>,
    /// The adapter process's CPU time over the measured phase (`/proc/<pid>/stat`), per published
    /// message, ns: runs through an adapter only (`client`), whose client library works there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adapter_cpu_ns_per_msg: Option<f64>,
    /// The same as cores kept busy on average.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adapter_cpu_cores: Option<f64>,
    /// Each server node over the measured phase, from its `/varz` (about once a second, and
    /// once more when publishing ended): CPU (% of one core) and memory, with mean and peak.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub server: Vec<ServerUsage>,
    /// Which side the msgs/s figure measures: client | server | machine | neither.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bound: Option<crate::checker::bound::Bound>,
}

/// One server node's CPU and memory over the measured phase.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ServerUsage {
    pub node: String,
    /// Cores the node's process kept busy over the measured phase, from its CPU time
    /// (`/proc/<pid>/stat`: the process backend's child, or a local container's process);
    /// null when it is not a process of this host. Exact where `cpu_mean` is the server's own
    /// once-a-second estimate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_cores: Option<f64>,
    /// Percent of one core (`/varz`, the sample from before the phase left out).
    pub cpu_mean: f64,
    pub cpu_peak: f64,
    pub mem_peak_bytes: u64,
    /// `[ms since the measured phase started, cpu %, memory bytes]` per sample.
    pub timeline: Vec<(f64, f64, u64)>,
}

impl Resources {
    /// Only the process's peak memory; the rest comes from the run's analysis.
    pub fn current() -> Resources {
        let peak = std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("VmHWM:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|kb| kb.parse::<u64>().ok())
                    .map(|kb| kb * 1024)
            });
        Resources {
            peak_rss_bytes: peak,
            ..Default::default()
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScenarioInfo {
    pub name: String,
    pub description: String,
    pub file: Option<String>,
    /// 1-based repetition when the suite ran this scenario several times (`--repeat`,
    /// `JSBENCH_REPEAT`); absent for a single run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repetition: Option<u32>,
    /// The validated plan, defaults filled in.
    pub plan: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StreamInfo {
    pub name: String,
    pub subjects: Vec<String>,
    pub storage: String,
    pub replicas: usize,
    /// True when the stream was left on the server (--keep-stream).
    pub kept: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Environment {
    /// container | process | external
    pub backend: String,
    pub server_version: String,
    /// How the server was obtained (binary path and origin, image, or url).
    pub server_source: String,
    pub client: String,
    pub jsbench_version: String,
    pub connections: usize,
    /// The tokio runtime flavour jsbench ran on (current_thread | multi_thread).
    #[serde(default)]
    pub runtime: String,
    pub host: Host,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Host {
    pub os: String,
    pub arch: String,
    pub cpus: usize,
    /// The CPU's model name (Linux `/proc/cpuinfo`); empty when unknown.
    #[serde(default)]
    pub cpu_model: String,
}

impl Host {
    pub fn current() -> Host {
        Host {
            os: std::env::consts::OS.to_string(),
            arch: std::env::consts::ARCH.to_string(),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model: cpu_model(),
        }
    }
}

/// The first `model name` of /proc/cpuinfo: a comparison across machines must see it changed.
fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_default()
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Counts {
    /// Messages handed to the client in the measured phase.
    pub published: u64,
    /// Acked with a stream sequence (including acks flagged duplicate).
    pub acked: u64,
    /// Acks flagged `duplicate: true` by the server (Msg-Id dedup).
    pub duplicate_acks: u64,
    /// Failed with an error.
    pub failed: u64,
    /// Timed out: may or may not be stored; never counted as lost.
    pub unknown: u64,
    /// Still awaiting an ack when the run stopped.
    pub in_flight: u64,
    /// Last answered "duplicate message id is in process" (10158) and not retried after (retries
    /// ran out, or `on_in_process = "trust"`): may or may not be stored, never counted as lost.
    #[serde(default)]
    pub in_process: u64,
    /// Refused because the key's subject did not end at the expected sequence
    /// (`publish.expect_last_subject_seq`), and not retried after (retries ran out or none).
    #[serde(default)]
    pub rejected: u64,
    /// Sent through an adapter whose client neither acked nor failed it by
    /// `client.resolve_timeout`: may or may not be stored, never counted as lost.
    #[serde(default)]
    pub unresolved: u64,
    /// Distinct messages of this run found in the stream (null without read-back).
    pub stored: Option<u64>,
    pub lost: Option<u64>,
    pub duplicates: Option<u64>,
    pub unexpected: Option<u64>,
    /// Unknown outcome, found stored.
    pub recovered: Option<u64>,
    /// Consume side: deliveries after the first (null without `[consume]`).
    #[serde(default)]
    pub redelivered: Option<u64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Throughput {
    /// Acked messages per second over the measured phase (first send to last ack).
    pub msgs_per_sec: f64,
    pub duration_s: f64,
    pub timeline: TimelineReport,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TimelineReport {
    pub bucket_ms: f64,
    /// Acks per bucket, from the start of the measured phase.
    pub acked: Vec<u64>,
    /// Publishes per bucket.
    pub published: Vec<u64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Orders {
    /// The order each message's last attempt was handed to its connection in (a retry sends
    /// its message behind later ones); null when send times were not kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publish: Option<OrderFigures>,
    pub ack_wire: Option<OrderFigures>,
    pub ack_completion: Option<OrderFigures>,
    pub storage: Option<OrderFigures>,
    /// The order messages were first processed in by the consume side's workers.
    #[serde(default)]
    pub consume: Option<OrderFigures>,
    /// Where the storage order came from: "read_back" (the stream itself) or "acks" (PubAck
    /// sequences, when the read-back was off or incomplete).
    pub storage_source: String,
    /// Storage order computed from the PubAck sequences, kept beside the read-back's to show
    /// whether the acks told the truth.
    pub storage_from_acks: Option<OrderFigures>,
}

impl Report {
    /// The summary of latency `kind`, when the result has one (it may have counted nothing).
    pub fn latency(&self, kind: LatencyKind) -> Option<&LatencySummary> {
        self.latency_us.get(kind.label())
    }

    /// The summary of latency `kind` when it measured something.
    pub fn measured_latency(&self, kind: LatencyKind) -> Option<&LatencySummary> {
        self.latency(kind).filter(|l| l.count > 0)
    }

    pub fn p99_us(&self) -> Option<f64> {
        self.measured_latency(LatencyKind::PublishAck)
            .map(|l| l.p99)
    }

    /// Loads a result.json.
    pub fn load(path: &Path) -> std::io::Result<Report> {
        let text = std::fs::read_to_string(path)?;
        serde_json::from_str(&text)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
    }
}

/// Writes `bytes` to `path` atomically: a temp file in the same directory, then rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic_with(path, |w| w.write_all(bytes))
}

/// [`write_atomic`] for a file written piece by piece (`fill` writes into a buffered temp file
/// in the same directory), so a large artifact is never held whole in memory.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = tempfile::NamedTempFile::new_in(dir)?;
    let mut w = std::io::BufWriter::with_capacity(1 << 16, tmp);
    fill(&mut w)?;
    let tmp = w.into_inner().map_err(|e| e.into_error())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Writes the report as `<dir>/result.json`.
pub fn write_report(dir: &Path, report: &Report) -> std::io::Result<PathBuf> {
    let path = dir.join("result.json");
    let mut json = serde_json::to_vec_pretty(report).map_err(std::io::Error::other)?;
    json.push(b'\n');
    write_atomic(&path, &json)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.json");
        write_atomic(&p, b"1").unwrap();
        write_atomic(&p, b"2").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"2");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_file_written_piece_by_piece_is_whole_or_absent() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("a.csv");
        write_atomic_with(&p, |w| {
            for i in 0..100_000 {
                writeln!(w, "{i}")?;
            }
            Ok(())
        })
        .unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(text.lines().count(), 100_000);
        assert!(text.ends_with("99999\n"));
        let failed = write_atomic_with(&d.path().join("b.csv"), |w| {
            w.write_all(b"half")?;
            Err(std::io::Error::other("stopped"))
        });
        assert!(failed.is_err());
        // Neither the failed file nor its temp file is left; the first one is untouched.
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn latency_names() {
        assert_eq!(latency_name("send_delay"), "send delay");
        assert_eq!(latency_name("end_to_end"), "publish → processed");
        assert_eq!(latency_name("some_new"), "some new");
    }
}
