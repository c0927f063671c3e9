//! Machine-readable summaries of finished runs for the terminal: `jsbench run --format
//! json | csv | quiet`.
//!
//! The text summary is for people; scripts want numbers. One [`SummaryRecord`] per run carries
//! the figures of the summary table as plain numbers (percentages of late messages, µs), so a
//! pipeline can `jq` or load them without parsing "broken: 43% late per key". The full detail
//! stays in each run's result.json, whose path every record carries.
//!
//! The records read the run's [`RunView`] like every other output; the field names and their
//! order are a contract with scripts: add fields at the end, never rename.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::result::{LatencyKind, Report};

use super::view::{OrderKind, RunView, SuiteView};

/// What `jsbench run` prints on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Per-run summaries and the table, for people (default).
    #[default]
    Text,
    /// One JSON document `{"schema": "jsbench.summary/1", "runs": [...]}` at the end.
    Json,
    /// One CSV header line and one line per run at the end.
    Csv,
    /// Nothing on stdout; the exit code and the result files tell.
    Quiet,
}

impl Format {
    pub const ALLOWED: &'static str = "text, json, csv, quiet";

    pub fn parse(s: &str) -> Option<Format> {
        match s {
            "text" => Some(Format::Text),
            "json" => Some(Format::Json),
            "csv" => Some(Format::Csv),
            "quiet" => Some(Format::Quiet),
            _ => None,
        }
    }
}

/// One run's headline figures. Optional figures are null (JSON) or empty (CSV) when not
/// measured (e.g. no read-back).
#[derive(Debug, Clone, Serialize)]
pub struct SummaryRecord {
    pub scenario: String,
    pub repetition: Option<u32>,
    pub status: String,
    pub verdict: String,
    /// Claims that failed, by name (`;`-separated in CSV).
    pub failed_claims: Vec<String>,
    pub result: String,
    pub backend: String,
    pub seed: u64,
    pub published: u64,
    pub acked: u64,
    pub failed: u64,
    pub unknown: u64,
    pub stored: Option<u64>,
    pub lost: Option<u64>,
    pub duplicates: Option<u64>,
    pub recovered: Option<u64>,
    pub msgs_per_sec: f64,
    pub duration_s: f64,
    pub p50_us: Option<f64>,
    pub p90_us: Option<f64>,
    pub p99_us: Option<f64>,
    pub p999_us: Option<f64>,
    pub max_us: Option<f64>,
    /// Percent of messages that arrive after a later-published message (globally / within
    /// their key), for each observed order.
    pub ack_wire_late_pct: Option<f64>,
    pub ack_wire_late_per_key_pct: Option<f64>,
    pub ack_completion_late_pct: Option<f64>,
    pub ack_completion_late_per_key_pct: Option<f64>,
    pub storage_late_pct: Option<f64>,
    pub storage_late_per_key_pct: Option<f64>,
    pub consume_late_pct: Option<f64>,
    pub consume_late_per_key_pct: Option<f64>,
    /// Consume side: deliveries after the first, and e2e latency p99 (publish → processed).
    pub redelivered: Option<u64>,
    pub end_to_end_p99_us: Option<f64>,
    pub faults: usize,
    pub retry_reorders: Option<u64>,
    /// jsbench's CPU per published message (ns), the server's CPU over the phase (% of one
    /// core, summed over nodes: from its processes' CPU time, else `/varz`), and which side was
    /// busy: client | server | machine | neither.
    pub client_cpu_ns_per_msg: Option<f64>,
    pub server_cpu_pct: Option<f64>,
    pub bound: Option<crate::checker::bound::Bound>,
}

/// CSV column order: every field of [`SummaryRecord`], in declaration order.
pub const COLUMNS: &[&str] = &[
    "scenario",
    "repetition",
    "status",
    "verdict",
    "failed_claims",
    "result",
    "backend",
    "seed",
    "published",
    "acked",
    "failed",
    "unknown",
    "stored",
    "lost",
    "duplicates",
    "recovered",
    "msgs_per_sec",
    "duration_s",
    "p50_us",
    "p90_us",
    "p99_us",
    "p999_us",
    "max_us",
    "ack_wire_late_pct",
    "ack_wire_late_per_key_pct",
    "ack_completion_late_pct",
    "ack_completion_late_per_key_pct",
    "storage_late_pct",
    "storage_late_per_key_pct",
    "consume_late_pct",
    "consume_late_per_key_pct",
    "redelivered",
    "end_to_end_p99_us",
    "faults",
    "retry_reorders",
    "client_cpu_ns_per_msg",
    "server_cpu_pct",
    "bound",
];

impl SummaryRecord {
    /// The record of the run in `dir` (for its `result` path).
    pub fn new(dir: &Path, r: &Report) -> SummaryRecord {
        SummaryRecord::from_view(&RunView::new(dir, r))
    }

    pub fn from_view(run: &RunView) -> SummaryRecord {
        let r = run.report;
        let lat = run.publish_ack();
        let pct = |kind: OrderKind, per_key: bool| run.order(kind).late_pct(per_key);
        SummaryRecord {
            scenario: run.scenario().to_string(),
            repetition: r.scenario.repetition,
            status: run.status().to_string(),
            verdict: run.verdict().as_str().to_string(),
            failed_claims: run.failed_claims(),
            result: run.result_path().display().to_string(),
            backend: r.environment.backend.clone(),
            seed: r.seed,
            published: r.counts.published,
            acked: r.counts.acked,
            failed: r.counts.failed,
            unknown: r.counts.unknown,
            stored: r.counts.stored,
            lost: r.counts.lost,
            duplicates: r.counts.duplicates,
            recovered: r.counts.recovered,
            msgs_per_sec: r.throughput.msgs_per_sec,
            duration_s: r.throughput.duration_s,
            p50_us: lat.map(|l| l.p50),
            p90_us: lat.map(|l| l.p90),
            p99_us: lat.map(|l| l.p99),
            p999_us: lat.map(|l| l.p999),
            max_us: lat.map(|l| l.max),
            ack_wire_late_pct: pct(OrderKind::AckWire, false),
            ack_wire_late_per_key_pct: pct(OrderKind::AckWire, true),
            ack_completion_late_pct: pct(OrderKind::AckCompletion, false),
            ack_completion_late_per_key_pct: pct(OrderKind::AckCompletion, true),
            storage_late_pct: pct(OrderKind::Storage, false),
            storage_late_per_key_pct: pct(OrderKind::Storage, true),
            consume_late_pct: pct(OrderKind::Consume, false),
            consume_late_per_key_pct: pct(OrderKind::Consume, true),
            redelivered: r.counts.redelivered,
            end_to_end_p99_us: run.latency(LatencyKind::EndToEnd).map(|l| l.p99),
            faults: run.faults().len(),
            retry_reorders: r.retry.and_then(|t| t.retry_reorders),
            client_cpu_ns_per_msg: r.resources.client_cpu_ns_per_msg,
            server_cpu_pct: (!r.resources.server.is_empty()).then(|| {
                r.resources
                    .server
                    .iter()
                    .map(|n| n.cpu_cores.map_or(n.cpu_mean, |c| c * 100.0))
                    .sum()
            }),
            bound: r.resources.bound,
        }
    }
}

/// One record per run, in input order.
fn records(runs: &[(PathBuf, Report)]) -> Vec<SummaryRecord> {
    SuiteView::new(runs)
        .runs
        .iter()
        .map(SummaryRecord::from_view)
        .collect()
}

/// `{"schema": "jsbench.summary/1", "runs": [...]}`, pretty-printed, with a trailing newline.
pub fn json(runs: &[(PathBuf, Report)]) -> String {
    let records = records(runs);
    let mut s = serde_json::to_string_pretty(&serde_json::json!({
        "schema": "jsbench.summary/1",
        "runs": records,
    }))
    .expect("summary records serialize");
    s.push('\n');
    s
}

/// A header line and one line per run (RFC 4180 quoting).
pub fn csv(runs: &[(PathBuf, Report)]) -> String {
    let mut out = COLUMNS.join(",");
    out.push('\n');
    for record in records(runs) {
        let v = serde_json::to_value(record).expect("summary records serialize");
        let cells: Vec<String> = COLUMNS
            .iter()
            .map(|c| match &v[*c] {
                serde_json::Value::Null => String::new(),
                serde_json::Value::String(s) => quote(s),
                serde_json::Value::Array(a) => quote(
                    &a.iter()
                        .filter_map(|x| x.as_str())
                        .collect::<Vec<_>>()
                        .join(";"),
                ),
                other => other.to_string(),
            })
            .collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

fn quote(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_cover_every_field_in_order() {
        let r: Report = serde_json::from_str(include_str!(
            "../../tests/fixtures/result-single-async.json"
        ))
        .expect("fixture parses");
        let v = serde_json::to_value(SummaryRecord::new(Path::new("/x"), &r)).unwrap();
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), COLUMNS.len(), "{keys:?}");
        for c in COLUMNS {
            assert!(v.get(*c).is_some(), "column {c} is not a field");
        }
    }

    #[test]
    fn csv_quotes_and_leaves_unmeasured_empty() {
        let mut r: Report = serde_json::from_str(include_str!(
            "../../tests/fixtures/result-single-async.json"
        ))
        .unwrap();
        r.scenario.name = "a,\"b\"".into();
        r.counts.lost = None;
        let text = csv(&[(PathBuf::from("/res/run"), r)]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[1].starts_with("\"a,\"\"b\"\"\","), "{}", lines[1]);
        let lost_col = COLUMNS.iter().position(|c| *c == "lost").unwrap();
        // The quoted name holds one comma: the lost column is one further in the raw split.
        assert_eq!(lines[1].split(',').nth(lost_col + 1), Some(""));
        assert!(lines[1].contains("/res/run/result.json"));
    }

    #[test]
    fn json_has_schema_and_numbers() {
        let r: Report = serde_json::from_str(include_str!(
            "../../tests/fixtures/result-single-async.json"
        ))
        .unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&json(&[(PathBuf::from("/r"), r.clone())])).unwrap();
        assert_eq!(v["schema"], "jsbench.summary/1");
        assert_eq!(v["runs"][0]["scenario"], r.scenario.name.as_str());
        assert_eq!(v["runs"][0]["published"], r.counts.published);
        assert!(v["runs"][0]["p99_us"].as_f64().unwrap() > 0.0);
    }

    #[test]
    fn formats_parse() {
        assert_eq!(Format::parse("json"), Some(Format::Json));
        assert_eq!(Format::parse("quiet"), Some(Format::Quiet));
        assert_eq!(Format::parse("yaml"), None);
    }
}
