//! Report: the versioned result of one run (`result.json`, schema "jsbench.result/1"), the
//! latency histograms in HdrHistogram's interval-log format, and the human summaries.
//!
//! result.json is the contract with every other tool (charts, compare, CI), so field names here
//! are documented in the README and only ever added to. Files are written atomically (temp file
//! + rename): a reader never sees half a result.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::checker::{
    percent, ClaimResult, ConsumeFigures, OrderFigures, RetryFigures, Safety, Verdict, WindowSplit,
};
use crate::nemesis::FaultWindow;

pub const SCHEMA: &str = "jsbench.result/1";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub schema: String,
    /// complete | incomplete (interrupted or stopped early) | failed
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_reason: Option<String>,
    pub run_id: String,
    pub started_at: String,
    pub finished_at: String,
    pub scenario: ScenarioInfo,
    pub stream: StreamInfo,
    pub seed: u64,
    pub environment: Environment,
    pub counts: Counts,
    pub throughput: Throughput,
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
    pub read_back: Option<crate::readback::ReadBackCheck>,
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
    /// Figures for messages first sent before, during and after the window, and the time to
    /// recover.
    pub split: Option<WindowSplit>,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Resources {
    /// Peak resident memory of the jsbench process so far (Linux VmHWM), when known.
    pub peak_rss_bytes: Option<u64>,
}

impl Resources {
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
}

impl Host {
    pub fn current() -> Host {
        Host {
            os: std::env::consts::OS.to_string(),
            arch: std::env::consts::ARCH.to_string(),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
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

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct LatencySummary {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub mean: f64,
    pub count: u64,
}

impl LatencySummary {
    /// Summarizes a histogram recorded in nanoseconds, in microseconds.
    pub fn from_ns(h: &Histogram<u64>) -> LatencySummary {
        let us = |v: u64| v as f64 / 1000.0;
        if h.is_empty() {
            return LatencySummary::default();
        }
        LatencySummary {
            p50: us(h.value_at_quantile(0.50)),
            p90: us(h.value_at_quantile(0.90)),
            p99: us(h.value_at_quantile(0.99)),
            p999: us(h.value_at_quantile(0.999)),
            max: us(h.max()),
            mean: h.mean() / 1000.0,
            count: h.len(),
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Orders {
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
    pub fn p99_us(&self) -> Option<f64> {
        self.latency_us
            .get("publish_ack")
            .filter(|l| l.count > 0)
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
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
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

/// Writes a latency log (ns) as an HdrHistogram interval log: one V2-compressed histogram per
/// second of the measured phase, tagged with the latency's name, timestamps relative to the phase
/// start (also the log's StartTime/BaseTime). HistogramLogProcessor, HdrHistogram's plotters and
/// `hdrhistogram::serialization::interval_log` read it; summing the intervals gives the run's
/// total histogram.
pub fn write_hlog(
    path: &Path,
    log: &crate::observe::LatencyLog,
    tag: &str,
    start: std::time::SystemTime,
) -> std::io::Result<()> {
    use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
    use hdrhistogram::serialization::V2DeflateSerializer;
    let mut buf = Vec::new();
    {
        let mut ser = V2DeflateSerializer::new();
        let mut w = IntervalLogWriterBuilder::new()
            .add_comment("jsbench latency log; values in nanoseconds; one interval per second")
            .with_start_time(start)
            .with_base_time(start)
            .with_max_value_divisor(1_000_000.0)
            .begin_log_with(&mut buf, &mut ser)
            .map_err(std::io::Error::other)?;
        let tag = Tag::new(tag);
        let len = log.interval();
        for i in &log.intervals {
            let h = log.interval_histogram(i);
            w.write_histogram(&h, len * i.index as u32, len, tag)
                .map_err(|e| std::io::Error::other(format!("{e:?}")))?;
        }
    }
    write_atomic(path, &buf)
}

/// A short multi-line summary of one run for the terminal.
pub fn terminal_summary(r: &Report, dir: &Path) -> String {
    let mut s = String::new();
    let c = &r.counts;
    let opt = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
    s.push_str(&format!(
        "{} [{}] {} · {} · server {} ({})\n",
        r.scenario.name,
        r.status,
        r.verdict.as_str().to_uppercase(),
        r.run_id,
        r.environment.server_version,
        r.environment.backend
    ));
    if let Some(lost) = c.lost.filter(|&l| l > 0) {
        // A safety failure: first, and impossible to miss.
        s.push_str(&format!(
            "  !! LOST: {lost} acknowledged message(s) are not in the stream\n"
        ));
    }
    if let Some(reason) = &r.status_reason {
        s.push_str(&format!("  note: {reason}\n"));
    }
    s.push_str(&format!(
        "  published {} · acked {} · failed {} · unknown {} · stored {} · lost {} · duplicates {} · unexpected {}\n",
        c.published,
        c.acked,
        c.failed,
        c.unknown,
        opt(c.stored),
        opt(c.lost),
        opt(c.duplicates),
        opt(c.unexpected)
    ));
    s.push_str(&format!(
        "  throughput {:.0} msgs/s over {:.2}s",
        r.throughput.msgs_per_sec, r.throughput.duration_s
    ));
    if let Some(rss) = r.resources.peak_rss_bytes {
        s.push_str(&format!(" · jsbench peak RSS {} MB", rss / (1024 * 1024)));
    }
    s.push('\n');
    for (name, l) in &r.latency_us {
        if l.count > 0 {
            s.push_str(&format!(
                "  latency {name}: p50 {} · p90 {} · p99 {} · p99.9 {} · max {}\n",
                fmt_us(l.p50),
                fmt_us(l.p90),
                fmt_us(l.p99),
                fmt_us(l.p999),
                fmt_us(l.max)
            ));
        }
    }
    let ord = |f: &Option<OrderFigures>| f.as_ref().map_or("not measured".to_string(), order_cell);
    s.push_str(&format!(
        "  ack order (wire):       {}\n",
        ord(&r.order.ack_wire)
    ));
    s.push_str(&format!(
        "  ack order (completion): {}\n",
        ord(&r.order.ack_completion)
    ));
    s.push_str(&format!(
        "  storage order ({}): {}\n",
        r.order.storage_source,
        ord(&r.order.storage)
    ));
    if let Some(c) = &r.consume {
        s.push_str(&format!(
            "  consume order ({} ×{}, {} consumer, {}): {}\n",
            c.model,
            c.workers,
            c.consumer,
            c.when,
            ord(&r.order.consume)
        ));
        let f = &c.figures;
        s.push_str(&format!(
            "  consume: processed {} ({} processings) · redelivered {} ({} of them late per key) · failures {} · never processed {} · {:.0} msgs/s · backlog peak {}\n",
            f.processed,
            f.processings,
            f.redelivered,
            f.redelivered_late_per_key,
            f.failures,
            opt(f.unprocessed),
            c.msgs_per_sec,
            c.timeline.backlog.iter().max().copied().unwrap_or(0)
        ));
    }
    if let Some(rt) = &r.retry {
        s.push_str(&format!(
            "  retries: {} messages retried ({} extra attempts) · stored from retries {} · retry reorders {}\n",
            rt.retried,
            rt.extra_attempts,
            opt(rt.stored_from_retries),
            opt(rt.retry_reorders)
        ));
    }
    for f in &r.faults {
        s.push_str(&fault_lines(f));
    }
    for v in &r.verdicts {
        s.push_str(&format!(
            "  [{}] {} {}: {}\n",
            v.verdict.as_str(),
            v.claim,
            v.expected,
            v.figure
        ));
    }
    s.push_str(&format!("  → {}\n", dir.join("result.json").display()));
    s
}

/// What one fault window did, in a few lines for the terminal.
pub fn fault_lines(f: &FaultReport) -> String {
    let w = &f.window;
    let mut s = format!(
        "  fault {} #{} ({}, {}): {:.0}–{:.0} ms{}{}\n",
        w.name,
        w.occurrence,
        w.detail,
        w.target,
        w.start_ms,
        w.end_ms,
        if w.truncated {
            " (healed early: publishing ended)"
        } else {
            ""
        },
        w.error
            .as_ref()
            .map_or(String::new(), |e| format!(" ERROR: {e}"))
    );
    if let Some(sp) = &f.split {
        for (name, seg) in [
            ("before", &sp.before),
            ("during", &sp.during),
            ("after", &sp.after),
        ] {
            let o = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
            s.push_str(&format!(
                "    {name:<6} published {} · acked {} · failed {} · unknown {} (stored {}) · lost {} · dup {} · late per key {} · retry reorders {} · {:.0} acks/s · p99 {}\n",
                seg.published,
                seg.acked,
                seg.failed,
                seg.unknown,
                o(seg.recovered),
                o(seg.lost),
                o(seg.duplicates),
                o(seg.storage_late_per_key),
                o(seg.retry_reorders),
                seg.acks_per_sec,
                seg.latency_p99_us.map_or("-".to_string(), fmt_us)
            ));
        }
        s.push_str(&format!(
            "    recovered: {}\n",
            sp.recover_ms
                .map_or("no successful ack after the heal".to_string(), |m| format!(
                    "first successful ack {m:.0} ms after the heal"
                ))
        ));
    }
    s
}

/// The faults column of the summary table: "pause@2s 3.0s; kill@5s 1.2s".
pub fn faults_cell(r: &Report) -> String {
    if r.faults.is_empty() {
        return "-".into();
    }
    let mut parts: Vec<String> = Vec::new();
    for f in &r.faults {
        let w = &f.window;
        let span = w.end_ms - w.start_ms;
        let mut p = format!("{}@{:.1}s", w.kind.as_str(), w.start_ms / 1000.0);
        if span > 0.0 {
            p.push_str(&format!(" {:.1}s", span / 1000.0));
        }
        if w.target != "server" && w.target != "all connections" {
            p.push_str(&format!(" ({})", w.target));
        }
        if parts.len() >= 4 {
            parts.push(format!("+{} more", r.faults.len() - 4));
            break;
        }
        parts.push(p);
    }
    parts.join("; ")
}

/// One cell of the order columns: "preserved (0 of N)" or "broken: 71% late per key", with the
/// per-key figure first because that is what an aggregate sees.
pub fn order_cell(f: &OrderFigures) -> String {
    if f.messages > 0 && f.late > 0 && f.late_per_key > 0 {
        format!(
            "broken: {} late per key ({}/{} keys)",
            percent(f.late_per_key_share()),
            f.keys_affected,
            f.keys
        )
    } else {
        f.describe()
    }
}

pub fn fmt_us(us: f64) -> String {
    if us >= 1_000_000.0 {
        format!("{:.2}s", us / 1_000_000.0)
    } else if us >= 1000.0 {
        format!("{:.2}ms", us / 1000.0)
    } else {
        format!("{us:.0}µs")
    }
}

/// The summary table as cells: shared by the terminal / markdown table and the HTML report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryTable {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// One row per run, the orders side by side.
pub fn summary_rows(reports: &[(PathBuf, Report)]) -> SummaryTable {
    let headers = [
        "scenario",
        "status",
        "verdict",
        "publish order",
        "ack order (wire)",
        "ack order (completion)",
        "storage order",
        "consume order",
        "faults",
        "lost",
        "dup",
        "unknown (stored)",
        "retry reorders",
        "msgs/s",
        "p99",
    ];
    let mut rows: Vec<Vec<String>> = Vec::new();
    for (_, r) in reports {
        let cell = |f: &Option<OrderFigures>| f.as_ref().map_or("-".to_string(), order_cell);
        rows.push(vec![
            r.scenario.name.clone(),
            r.status.clone(),
            r.verdict.as_str().to_string(),
            format!("reference ({})", r.counts.published),
            cell(&r.order.ack_wire),
            cell(&r.order.ack_completion),
            cell(&r.order.storage),
            consume_cell(r),
            faults_cell(r),
            r.counts.lost.map_or("-".into(), |v| v.to_string()),
            r.counts.duplicates.map_or("-".into(), |v| v.to_string()),
            match r.counts.recovered {
                Some(rec) => format!("{} ({rec})", r.counts.unknown),
                None => r.counts.unknown.to_string(),
            },
            r.retry
                .and_then(|t| t.retry_reorders)
                .map_or("-".into(), |v| v.to_string()),
            format!("{:.0}", r.throughput.msgs_per_sec),
            r.p99_us().map_or("-".into(), fmt_us),
        ]);
    }
    SummaryTable {
        headers: headers.iter().map(|h| h.to_string()).collect(),
        rows,
    }
}

/// The consume order column: the order cell plus the pool ("… · keyed ×4"); "-" without
/// `[consume]`.
pub fn consume_cell(r: &Report) -> String {
    match (&r.order.consume, &r.consume) {
        (Some(f), Some(c)) => format!("{} · {} ×{}", order_cell(f), c.model, c.workers),
        (Some(f), None) => order_cell(f),
        _ => "-".into(),
    }
}

/// The table that ends a directory run: one row per scenario, the orders side by side.
pub fn summary_table(reports: &[(PathBuf, Report)]) -> String {
    let SummaryTable { headers, rows } = summary_rows(reports);
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let mut s = String::from("|");
        for (c, w) in cells.iter().zip(&widths) {
            s.push_str(&format!(" {}{} |", c, " ".repeat(w - c.chars().count())));
        }
        s.push('\n');
        s
    };
    let mut out = line(headers.clone());
    out.push('|');
    for w in &widths {
        out.push_str(&format!("{}|", "-".repeat(w + 2)));
    }
    out.push('\n');
    for row in rows {
        out.push_str(&line(row));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_cells() {
        let f = OrderFigures {
            messages: 100,
            late: 71,
            late_per_key: 71,
            keys_affected: 16,
            keys: 16,
            ..Default::default()
        };
        assert_eq!(order_cell(&f), "broken: 71% late per key (16/16 keys)");
        let ok = OrderFigures {
            messages: 100,
            keys: 4,
            ..Default::default()
        };
        assert_eq!(order_cell(&ok), "preserved (0 of 100)");
    }

    #[test]
    fn atomic_write_replaces() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.json");
        write_atomic(&p, b"1").unwrap();
        write_atomic(&p, b"2").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"2");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }

    /// Minimal base64 decoding for the test (the library only writes logs).
    fn base64_decode(s: &str) -> Vec<u8> {
        let val = |c: u8| match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            _ => 63,
        };
        let bytes: Vec<u8> = s.bytes().filter(|&c| c != b'=').collect();
        let mut out = Vec::new();
        for chunk in bytes.chunks(4) {
            let mut n = 0u32;
            for (i, &c) in chunk.iter().enumerate() {
                n |= (val(c) as u32) << (18 - 6 * i);
            }
            out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
        }
        out
    }

    #[test]
    fn hlog_is_written() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("l.hlog");
        let mut log = crate::observe::LatencyLog::new(std::time::Duration::from_secs(1));
        log.record(0, 1500);
        log.record(10, 2500);
        log.record(2_500_000_000, 7000);
        log.finish();
        write_hlog(&p, &log, "publish_ack", std::time::SystemTime::now()).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.contains("#[StartTime:"), "{text}");
        assert_eq!(text.matches("Tag=publish_ack,").count(), 2, "{text}");

        // Read back with HdrHistogram's own log reader: two intervals, 0 s and 2 s, 3 values.
        use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
        use hdrhistogram::serialization::Deserializer;
        let bytes = std::fs::read(&p).unwrap();
        let mut de = Deserializer::new();
        let mut starts = Vec::new();
        let mut total = 0;
        for e in IntervalLogIterator::new(&bytes) {
            if let LogEntry::Interval(ih) = e.unwrap() {
                starts.push(ih.start_timestamp().as_secs());
                let raw = base64_decode(ih.encoded_histogram());
                let h: Histogram<u64> = de.deserialize(&mut &raw[..]).unwrap();
                total += h.len();
            }
        }
        assert_eq!(starts, vec![0, 2]);
        assert_eq!(total, 3);
    }
}
