//! The view model: a run ([`RunView`]) and a set of runs ([`SuiteView`]) as every output shows
//! them. A `Report` is walked here once, into the run's label, its orders with their names and
//! cells, its latencies by name, and the phrases about retries, the consume side and faults; the
//! terminal summary, the markdown table, csv/json, the HTML page and the charts' legends all
//! read from it, so a name or a cell says the same thing in every output.
//!
//! - [`order`]: the orders a run observes, their names, cells and tones.
//! - [`phrase`]: figures in words (µs, "-", retries, consume, losses, faults).
//! - [`table`]: the summary table cell by cell, with each cell's [`Tone`] (`tone.rs`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::checker::{ClaimResult, Verdict};
use crate::result::{
    latency_name, ConsumeReport, FaultReport, LatencyKind, LatencySummary, Report, RunStatus,
};

mod order;
mod phrase;
mod table;
mod tone;

pub use order::{order_cell, OrderKind, OrderView};
pub use phrase::{
    cluster_lines, consume_cell, consume_figures, consume_pool, consume_setup, cpu_phrase, dash,
    dash_us, fault_leader, fault_span, faults_cell, fmt_us, healed_early, loss_shape, lost_phrase,
    recovery, replicas_line, replies_phrase, retry_phrase, segments,
};
pub use table::{Cell, Column, SummaryTable, SUMMARY_COLUMNS};
pub use tone::Tone;

/// A set of runs (a suite, or whatever `jsbench report` was given), in input order.
pub struct SuiteView<'a> {
    pub runs: Vec<RunView<'a>>,
}

impl<'a> SuiteView<'a> {
    /// `runs` are `(run directory, report)`, as `result::load::collect_runs` returns them.
    pub fn new(runs: &'a [(PathBuf, Report)]) -> SuiteView<'a> {
        let labels = run_labels(runs);
        let runs = runs
            .iter()
            .zip(labels)
            .enumerate()
            .map(|(index, ((dir, report), label))| RunView {
                index,
                label,
                ..RunView::new(dir, report)
            })
            .collect();
        SuiteView { runs }
    }

    /// Whether any run has `what`.
    pub fn any(&self, what: impl Fn(&RunView) -> bool) -> bool {
        self.runs.iter().any(what)
    }

    /// The earliest start and the latest finish, as result.json writes them.
    pub fn span(&self) -> Option<(&'a str, &'a str)> {
        let first = self
            .runs
            .iter()
            .map(|r| r.report.started_at.as_str())
            .min()?;
        let last = self
            .runs
            .iter()
            .map(|r| r.report.finished_at.as_str())
            .max()?;
        Some((first, last))
    }
}

/// Labels that tell runs apart: the scenario name, with the repetition and run id when a
/// scenario appears more than once.
fn run_labels(runs: &[(PathBuf, Report)]) -> Vec<String> {
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, r) in runs {
        *count.entry(r.scenario.name.as_str()).or_default() += 1;
    }
    runs.iter()
        .map(|(_, r)| {
            if count[r.scenario.name.as_str()] > 1 {
                // Repeats read as "#2"; other runs of one name by their run id.
                match r.scenario.repetition {
                    Some(k) => format!("{} #{k} ({})", r.scenario.name, r.run_id),
                    None => format!("{} ({})", r.scenario.name, r.run_id),
                }
            } else {
                r.scenario.name.clone()
            }
        })
        .collect()
}

/// One run as the outputs show it. The raw figures stay in `report`; what the outputs name,
/// phrase or judge comes from the fields and methods here.
pub struct RunView<'a> {
    /// Position in the suite: the run's colour in every chart and its anchor on the page.
    pub index: usize,
    /// The name that tells this run apart in its suite (the scenario name when alone).
    pub label: String,
    pub dir: &'a Path,
    pub report: &'a Report,
    /// Every order, in [`OrderKind::ALL`] order.
    pub orders: Vec<OrderView>,
    /// The latencies that measured something, by key order of result.json.
    pub latencies: Vec<LatencyView<'a>>,
}

/// One latency of a run, named for people.
pub struct LatencyView<'a> {
    /// The key in result.json's `latency_us` ("publish_ack").
    pub key: &'a str,
    /// Which latency the key names; `None` for one this version does not know.
    pub kind: Option<LatencyKind>,
    /// The key as people read it ("publish → ack", [`latency_name`]).
    pub label: String,
    pub summary: &'a LatencySummary,
}

impl<'a> RunView<'a> {
    /// The run alone (label = scenario name, first colour); [`SuiteView::new`] places it in a
    /// suite.
    pub fn new(dir: &'a Path, report: &'a Report) -> RunView<'a> {
        RunView {
            index: 0,
            label: report.scenario.name.clone(),
            dir,
            report,
            orders: OrderKind::ALL
                .iter()
                .map(|k| OrderView::of(*k, &report.order))
                .collect(),
            latencies: report
                .latency_us
                .iter()
                .filter(|(_, l)| l.count > 0)
                .map(|(key, summary)| LatencyView {
                    key,
                    kind: LatencyKind::from_label(key),
                    label: latency_name(key),
                    summary,
                })
                .collect(),
        }
    }

    pub fn scenario(&self) -> &'a str {
        &self.report.scenario.name
    }

    pub fn status(&self) -> RunStatus {
        self.report.status
    }

    pub fn verdict(&self) -> Verdict {
        self.report.verdict
    }

    /// Where the run's result.json is (as given: relative stays relative).
    pub fn result_path(&self) -> PathBuf {
        self.dir.join("result.json")
    }

    pub fn order(&self, kind: OrderKind) -> &OrderView {
        self.orders
            .iter()
            .find(|o| o.kind == kind)
            .expect("every order kind has a view")
    }

    /// Acknowledged messages missing from the stream, when there are any: a safety failure,
    /// which every output says first.
    pub fn lost(&self) -> Option<u64> {
        self.report.counts.lost.filter(|&l| l > 0)
    }

    /// The latency `kind` when it measured something.
    pub fn latency(&self, kind: LatencyKind) -> Option<&'a LatencySummary> {
        self.latencies
            .iter()
            .find(|l| l.kind == Some(kind))
            .map(|l| l.summary)
    }

    /// Publish → ack, the headline latency.
    pub fn publish_ack(&self) -> Option<&'a LatencySummary> {
        self.latency(LatencyKind::PublishAck)
    }

    /// Whether the run measured publish → processed (a summary or a histogram log).
    pub fn has_end_to_end(&self) -> bool {
        let e2e = LatencyKind::EndToEnd;
        self.latency(e2e).is_some() || self.report.files.contains_key(&e2e.file_key())
    }

    pub fn consume(&self) -> Option<&'a ConsumeReport> {
        self.report.consume.as_ref()
    }

    /// What retries did, in words; `None` when the plan does not retry.
    pub fn retries(&self) -> Option<String> {
        self.report.retry.as_ref().map(retry_phrase)
    }

    pub fn faults(&self) -> &'a [FaultReport] {
        &self.report.faults
    }

    pub fn claims(&self) -> &'a [ClaimResult] {
        &self.report.verdicts
    }

    /// The claims that failed, by name.
    pub fn failed_claims(&self) -> Vec<String> {
        self.claims()
            .iter()
            .filter(|v| v.verdict == Verdict::Fail)
            .map(|v| v.claim.clone())
            .collect()
    }

    /// Failures by error kind: "timeout 3 · no_responders 1"; `None` without any.
    pub fn errors(&self) -> Option<String> {
        let list: Vec<String> = self
            .report
            .errors
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        (!list.is_empty()).then(|| list.join(" · "))
    }

    /// Where and with what the run ran, as `(what, value)` rows.
    pub fn environment(&self) -> Vec<(&'static str, String)> {
        let r = self.report;
        let e = &r.environment;
        let s = &r.stream;
        vec![
            ("run id", r.run_id.clone()),
            (
                "started / finished",
                format!("{} / {}", r.started_at, r.finished_at),
            ),
            ("backend", e.backend.clone()),
            ("server version", e.server_version.clone()),
            ("server source", e.server_source.clone()),
            ("client", e.client.clone()),
            ("jsbench", e.jsbench_version.clone()),
            ("connections", e.connections.to_string()),
            ("runtime", e.runtime.clone()),
            (
                "host",
                match e.host.cpu_model.as_str() {
                    "" => format!("{} {} · {} CPUs", e.host.os, e.host.arch, e.host.cpus),
                    m => format!("{} {} · {} CPUs · {m}", e.host.os, e.host.arch, e.host.cpus),
                },
            ),
            (
                "cost",
                cpu_phrase(&r.resources).unwrap_or_else(|| "not measured".into()),
            ),
            (
                "stream",
                format!(
                    "{} · {} · R{} · subjects {}",
                    s.name,
                    s.storage,
                    s.replicas,
                    s.subjects.join(", ")
                ),
            ),
            ("seed", r.seed.to_string()),
            (
                "scenario file",
                r.scenario.file.clone().unwrap_or_else(|| "-".into()),
            ),
        ]
    }

    /// The validated plan, defaults filled in, as pretty JSON.
    pub fn plan_json(&self) -> String {
        serde_json::to_string_pretty(&self.report.scenario.plan).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        serde_json::from_str(include_str!(
            "../../../tests/fixtures/result-single-async.json"
        ))
        .expect("fixture parses")
    }

    #[test]
    fn repeats_are_told_apart_in_every_table() {
        let mut a = report();
        a.scenario.repetition = Some(1);
        a.run_id = "aaaa".into();
        let mut b = a.clone();
        b.scenario.repetition = Some(2);
        b.run_id = "bbbb".into();
        let other = Report {
            scenario: crate::result::ScenarioInfo {
                name: "other".into(),
                ..a.scenario.clone()
            },
            ..a.clone()
        };
        let name = a.scenario.name.clone();
        let runs = vec![
            (PathBuf::from("/r/a"), a),
            (PathBuf::from("/r/b"), b),
            (PathBuf::from("/r/o"), other),
        ];
        let suite = SuiteView::new(&runs);
        let labels: Vec<&str> = suite.runs.iter().map(|r| r.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                format!("{name} #1 (aaaa)"),
                format!("{name} #2 (bbbb)"),
                "other".to_string()
            ]
        );
        let table = suite.summary_table();
        assert_eq!(table.headers[0], "scenario");
        let first: Vec<&str> = table.rows.iter().map(|r| r[0].as_str()).collect();
        assert_eq!(first, labels, "the table names runs as the charts do");
        assert_eq!(suite.runs[2].index, 2, "the colour follows the position");
    }
}
