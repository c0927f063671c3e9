//! Compare: two sets of results (a baseline and a candidate), scenario by scenario, with a
//! regression gate that knows about noise.
//!
//! Throughput and latency of one run vary from run to run, so a single pair of runs cannot tell a
//! regression from noise. Runs of the same scenario in a set are treated as repeats; each metric is
//! summarised by its median over the complete runs, and a deterministic bootstrap of the relative
//! change of medians tells whether the change is real. The rule (also in the README):
//!
//! - **regression**: the candidate's median is worse than the baseline's by more than the metric's
//!   threshold, *and* the whole 95 % bootstrap interval of the change lies on the worse side of 0
//!   (the change is both large and real). **improved** is the mirror image. Otherwise
//!   **unchanged**.
//! - With fewer than `min_runs` complete runs on either side there is no statistical decision:
//!   the row says "insufficient samples" and does not fail the gate. With `min_runs` 1 the
//!   threshold alone decides when a side has a single run (no interval can be drawn from one
//!   sample).
//! - Regardless of noise, these always fail the gate: a claim that passed in every complete
//!   baseline run and fails in some candidate run; a scenario whose baseline runs all completed
//!   with a candidate run that did not; acknowledged messages lost in the candidate where the
//!   baseline lost none.
//!
//! A scenario only in the baseline is reported as missing (a warning), one only in the candidate
//! as new.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::checker::Verdict;
use crate::render::text::fmt_us;
use crate::result::load::ResultsError;
use crate::result::Report;
use crate::workload::fnv1a;

/// One metric the comparison looks at. Adding a metric is one line in [`METRICS`].
pub struct MetricDef {
    /// The name used in the table, in `--threshold NAME=PCT` and in the gh-bench names.
    pub name: &'static str,
    pub unit: &'static str,
    pub bigger_is_better: bool,
    pub default_threshold_pct: f64,
    /// The metric's value in one run; `None` when the run did not measure it.
    pub extract: fn(&Report) -> Option<f64>,
}

fn latency(r: &Report, key: &str, q: fn(&crate::result::LatencySummary) -> f64) -> Option<f64> {
    r.latency_us.get(key).filter(|l| l.count > 0).map(q)
}

/// Every metric compared, in table order.
pub const METRICS: &[MetricDef] = &[
    MetricDef {
        name: "msgs_per_sec",
        unit: "msgs/s",
        bigger_is_better: true,
        default_threshold_pct: 10.0,
        extract: |r| Some(r.throughput.msgs_per_sec).filter(|v| *v > 0.0),
    },
    MetricDef {
        name: "p50",
        unit: "µs",
        bigger_is_better: false,
        default_threshold_pct: 10.0,
        extract: |r| latency(r, "publish_ack", |l| l.p50),
    },
    MetricDef {
        name: "p99",
        unit: "µs",
        bigger_is_better: false,
        default_threshold_pct: 20.0,
        extract: |r| latency(r, "publish_ack", |l| l.p99),
    },
    MetricDef {
        name: "p999",
        unit: "µs",
        bigger_is_better: false,
        default_threshold_pct: 30.0,
        extract: |r| latency(r, "publish_ack", |l| l.p999),
    },
    MetricDef {
        name: "end_to_end_p99",
        unit: "µs",
        bigger_is_better: false,
        default_threshold_pct: 20.0,
        extract: |r| latency(r, "end_to_end", |l| l.p99),
    },
];

/// The metric of that name (`p99.9` is accepted for `p999`).
pub fn metric(name: &str) -> Option<&'static MetricDef> {
    let name = if name == "p99.9" { "p999" } else { name };
    METRICS.iter().find(|m| m.name == name)
}

fn metric_names() -> String {
    METRICS
        .iter()
        .map(|m| m.name)
        .collect::<Vec<_>>()
        .join(", ")
}

#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// A path that names no readable result set.
    #[error(transparent)]
    Results(#[from] ResultsError),
    #[error("bad threshold {spec:?}: {reason} (metrics: {allowed})")]
    BadThreshold {
        spec: String,
        reason: String,
        allowed: String,
    },
}

/// Loads a result set: a result.json, a run directory (holding result.json), a suite directory
/// or its suite.json, or a results root (run directories one or two levels down; suite
/// directories there are not followed, so no run counts twice). The same loader as
/// `jsbench report` ([`crate::result::load::collect_runs`]): `(run directory, report)`, sorted by scenario,
/// then start time.
pub fn load_set(path: &Path) -> Result<Vec<(PathBuf, Report)>, CompareError> {
    Ok(crate::result::load::collect_runs(&[path.to_path_buf()])?)
}

/// The bootstrap seed when none is given: the bytes of "jsbench".
pub const DEFAULT_SEED: u64 = 0x006a_7362_656e_6368;

/// How to compare.
#[derive(Debug, Clone)]
pub struct CompareOptions {
    /// Threshold per metric name, in percent; metrics not listed use their default.
    pub thresholds: BTreeMap<String, f64>,
    /// Complete runs needed on each side for a decision.
    pub min_runs: usize,
    /// Seed of the bootstrap: the same inputs and seed give the same intervals.
    pub seed: u64,
    pub resamples: usize,
}

impl Default for CompareOptions {
    fn default() -> Self {
        CompareOptions {
            thresholds: BTreeMap::new(),
            min_runs: 3,
            seed: DEFAULT_SEED,
            resamples: 2000,
        }
    }
}

impl CompareOptions {
    /// Parses and sets `METRIC=PCT` (e.g. `p99=15`).
    pub fn set_threshold(&mut self, spec: &str) -> Result<(), CompareError> {
        let (name, pct) = parse_threshold(spec)?;
        self.thresholds.insert(name, pct);
        Ok(())
    }

    pub fn threshold(&self, m: &MetricDef) -> f64 {
        self.thresholds
            .get(m.name)
            .copied()
            .unwrap_or(m.default_threshold_pct)
    }
}

/// Parses `METRIC=PCT` into the metric's canonical name and the percentage.
pub fn parse_threshold(spec: &str) -> Result<(String, f64), CompareError> {
    let bad = |reason: &str| CompareError::BadThreshold {
        spec: spec.to_string(),
        reason: reason.to_string(),
        allowed: metric_names(),
    };
    let (name, pct) = spec
        .split_once('=')
        .ok_or_else(|| bad("expected METRIC=PCT, e.g. p99=15"))?;
    let m = metric(name.trim()).ok_or_else(|| bad("unknown metric"))?;
    let pct: f64 = pct
        .trim()
        .trim_end_matches('%')
        .parse()
        .map_err(|_| bad("the percentage is not a number"))?;
    if !pct.is_finite() || pct < 0.0 {
        return Err(bad("the percentage must be 0 or more"));
    }
    Ok((m.name.to_string(), pct))
}

/// A metric's values over the complete runs of one side.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Sample {
    /// Runs that measured it (0: none; then the other fields are 0).
    pub n: usize,
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Sample {
    fn of(values: &[f64]) -> Sample {
        if values.is_empty() {
            return Sample::default();
        }
        let mut v = values.to_vec();
        Sample {
            n: v.len(),
            median: median(&mut v),
            min: values.iter().copied().fold(f64::INFINITY, f64::min),
            max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Decision {
    Regression,
    Improved,
    Unchanged,
    /// Fewer complete runs than `min_runs` on a side: no decision, does not fail the gate.
    InsufficientSamples {
        baseline: usize,
        candidate: usize,
        need: usize,
    },
    /// Nothing to compare (not measured on a side, or a baseline of 0).
    NoData {
        reason: String,
    },
}

impl Decision {
    pub fn label(&self) -> String {
        match self {
            Decision::Regression => "**REGRESSION**".into(),
            Decision::Improved => "improved".into(),
            Decision::Unchanged => "unchanged".into(),
            Decision::InsufficientSamples {
                baseline,
                candidate,
                need,
            } => format!("insufficient samples (n={baseline} vs n={candidate}, need {need})"),
            Decision::NoData { reason } => format!("no data ({reason})"),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct MetricRow {
    pub scenario: String,
    pub metric: String,
    pub unit: String,
    pub bigger_is_better: bool,
    pub baseline: Sample,
    pub candidate: Sample,
    /// Relative change of the medians, candidate vs baseline, in percent (positive: the candidate
    /// is bigger, whatever that means for this metric); `None` when not comparable.
    pub change_pct: Option<f64>,
    /// True when the change is in the bad direction for this metric (any size).
    pub worse: bool,
    /// 95 % bootstrap interval of `change_pct` (both sides need 2 or more runs).
    pub ci_pct: Option<(f64, f64)>,
    pub threshold_pct: f64,
    pub decision: Decision,
}

/// A regression that no amount of noise explains: a claim, the run status, or lost messages.
#[derive(Debug, Clone, Serialize)]
pub struct VerdictFlip {
    pub scenario: String,
    /// "claim" | "status" | "lost"
    pub kind: String,
    /// The claim and what it expected ("storage_order: preserved per key"), or the figure.
    pub what: String,
    pub baseline: String,
    pub candidate: String,
    /// The candidate runs that show it.
    pub candidate_runs: Vec<PathBuf>,
}

/// A run left out of the metric statistics because it did not complete.
#[derive(Debug, Clone, Serialize)]
pub struct SkippedRun {
    /// "baseline" | "candidate"
    pub side: String,
    pub scenario: String,
    pub path: PathBuf,
    pub status: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub rows: Vec<MetricRow>,
    pub flips: Vec<VerdictFlip>,
    /// Scenarios of the baseline with no run in the candidate.
    pub missing: Vec<String>,
    /// Scenarios of the candidate with no run in the baseline.
    pub new: Vec<String>,
    pub skipped: Vec<SkippedRun>,
    /// Metric rows decided as regressions plus flips: the gate fails when this is not 0.
    pub regressions: usize,
    /// Metric rows without a decision for lack of runs.
    pub insufficient: usize,
    pub min_runs: usize,
    pub seed: u64,
    pub resamples: usize,
}

type Set<'a> = BTreeMap<&'a str, Vec<&'a (PathBuf, Report)>>;

fn group(set: &[(PathBuf, Report)]) -> Set<'_> {
    let mut m: Set = BTreeMap::new();
    for r in set {
        m.entry(r.1.scenario.name.as_str()).or_default().push(r);
    }
    m
}

impl Comparison {
    /// The rows that have a change to draw, as the comparison chart's bars.
    pub fn bars(&self) -> Vec<crate::chart::ComparisonBar> {
        self.rows
            .iter()
            .filter_map(|r| {
                Some(crate::chart::ComparisonBar {
                    scenario: r.scenario.clone(),
                    metric: r.metric.clone(),
                    unit: r.unit.clone(),
                    baseline: r.baseline.median,
                    candidate: r.candidate.median,
                    change_pct: r.change_pct?,
                    regression: r.decision == Decision::Regression,
                })
            })
            .collect()
    }
}

/// Compares a candidate set against a baseline set.
pub fn compare(
    base: &[(PathBuf, Report)],
    cand: &[(PathBuf, Report)],
    opts: &CompareOptions,
) -> Comparison {
    let (b, c) = (group(base), group(cand));
    let missing: Vec<String> = b
        .keys()
        .filter(|k| !c.contains_key(*k))
        .map(|k| k.to_string())
        .collect();
    let new: Vec<String> = c
        .keys()
        .filter(|k| !b.contains_key(*k))
        .map(|k| k.to_string())
        .collect();
    let mut skipped = Vec::new();
    for (side, set) in [("baseline", &b), ("candidate", &c)] {
        for (name, runs) in set.iter() {
            for (p, r) in runs.iter().map(|x| (&x.0, &x.1)) {
                if !r.status.is_complete() {
                    skipped.push(SkippedRun {
                        side: side.into(),
                        scenario: name.to_string(),
                        path: p.clone(),
                        status: r.status.to_string(),
                    });
                }
            }
        }
    }

    let empty = Vec::new();
    let mut rows = Vec::new();
    let mut flips = Vec::new();
    // Scenarios of the candidate (compared, or new: their rows feed the gh-bench charts).
    for (name, cruns) in &c {
        let bruns = b.get(name).unwrap_or(&empty);
        for m in METRICS {
            let values = |runs: &[&(PathBuf, Report)]| -> Vec<f64> {
                runs.iter()
                    .filter(|x| x.1.status.is_complete())
                    .filter_map(|x| (m.extract)(&x.1))
                    .filter(|v| v.is_finite())
                    .collect()
            };
            let (bv, cv) = (values(bruns), values(cruns));
            if bv.is_empty() && cv.is_empty() {
                continue; // not a metric of this scenario (e.g. end_to_end not measured)
            }
            let seed = opts.seed ^ fnv1a(format!("{name}/{}", m.name).as_bytes());
            rows.push(metric_row(name, m, &bv, &cv, opts, seed, bruns.is_empty()));
        }
        if !bruns.is_empty() {
            flips.extend(always_regressions(name, bruns, cruns));
        }
    }
    let regressions = rows
        .iter()
        .filter(|r| r.decision == Decision::Regression)
        .count()
        + flips.len();
    let insufficient = rows
        .iter()
        .filter(|r| matches!(r.decision, Decision::InsufficientSamples { .. }))
        .count();
    Comparison {
        rows,
        flips,
        missing,
        new,
        skipped,
        regressions,
        insufficient,
        min_runs: opts.min_runs,
        seed: opts.seed,
        resamples: opts.resamples,
    }
}

fn metric_row(
    scenario: &str,
    m: &MetricDef,
    bv: &[f64],
    cv: &[f64],
    opts: &CompareOptions,
    seed: u64,
    new: bool,
) -> MetricRow {
    let (bs, cs) = (Sample::of(bv), Sample::of(cv));
    let threshold = opts.threshold(m);
    let mut row = MetricRow {
        scenario: scenario.to_string(),
        metric: m.name.to_string(),
        unit: m.unit.to_string(),
        bigger_is_better: m.bigger_is_better,
        baseline: bs,
        candidate: cs,
        change_pct: None,
        worse: false,
        ci_pct: None,
        threshold_pct: threshold,
        decision: Decision::Unchanged,
    };
    let no_data = |reason: &str| Decision::NoData {
        reason: reason.into(),
    };
    if new {
        row.decision = no_data("new scenario");
        return row;
    }
    if bs.n == 0 || cs.n == 0 {
        row.decision = no_data(if bs.n == 0 {
            "no complete baseline run measured it"
        } else {
            "no complete candidate run measured it"
        });
        return row;
    }
    if bs.median <= 0.0 {
        row.decision = no_data("baseline median is 0");
        return row;
    }
    let change = (cs.median / bs.median - 1.0) * 100.0;
    // Positive = worse, whatever the metric's direction.
    let sign = if m.bigger_is_better { -1.0 } else { 1.0 };
    row.change_pct = Some(change);
    row.worse = sign * change > 0.0;
    if bs.n >= 2 && cs.n >= 2 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        row.ci_pct = bootstrap_ci(bv, cv, opts.resamples, &mut rng);
    }
    let need = opts.min_runs.max(1);
    if bs.n < need || cs.n < need {
        row.decision = Decision::InsufficientSamples {
            baseline: bs.n,
            candidate: cs.n,
            need,
        };
        return row;
    }
    // The interval, turned so that positive = worse: (lo, hi) of sign * change.
    let ci_worse = row.ci_pct.map(|(lo, hi)| {
        let (a, b) = (sign * lo, sign * hi);
        (a.min(b), a.max(b))
    });
    let worse = sign * change;
    row.decision = if worse > threshold && ci_worse.is_none_or(|(lo, _)| lo > 0.0) {
        Decision::Regression
    } else if -worse > threshold && ci_worse.is_none_or(|(_, hi)| hi < 0.0) {
        Decision::Improved
    } else {
        Decision::Unchanged
    };
    row
}

/// The noise-independent regressions of one scenario.
fn always_regressions(
    scenario: &str,
    bruns: &[&(PathBuf, Report)],
    cruns: &[&(PathBuf, Report)],
) -> Vec<VerdictFlip> {
    let mut out = Vec::new();
    // Incomplete baseline runs often fail claims for that reason alone (e.g. all_acked); judge the
    // baseline by its complete runs. Any candidate run counts.
    let bdone: Vec<&Report> = bruns
        .iter()
        .map(|x| &x.1)
        .filter(|r| r.status.is_complete())
        .collect();
    if !bdone.is_empty() {
        let bad: Vec<&(PathBuf, Report)> = cruns
            .iter()
            .copied()
            .filter(|x| !x.1.status.is_complete())
            .collect();
        if !bad.is_empty() {
            let statuses: BTreeSet<&str> = bad.iter().map(|x| x.1.status.as_str()).collect();
            out.push(VerdictFlip {
                scenario: scenario.into(),
                kind: "status".into(),
                what: "run status".into(),
                baseline: format!("complete in {}/{} runs", bdone.len(), bruns.len()),
                candidate: format!(
                    "{} in {}/{} runs",
                    statuses.into_iter().collect::<Vec<_>>().join(", "),
                    bad.len(),
                    cruns.len()
                ),
                candidate_runs: bad.iter().map(|x| x.0.clone()).collect(),
            });
        }
        // Claims that passed in every complete baseline run.
        let claims: BTreeSet<(&str, &str)> = bdone
            .iter()
            .flat_map(|r| r.verdicts.iter())
            .map(|v| (v.claim.as_str(), v.expected.as_str()))
            .collect();
        for (claim, expected) in claims {
            let passes_everywhere = bdone.iter().all(|r| {
                r.verdicts.iter().any(|v| {
                    v.claim == claim && v.expected == expected && v.verdict == Verdict::Pass
                })
            });
            if !passes_everywhere {
                continue;
            }
            let failing: Vec<&(PathBuf, Report)> = cruns
                .iter()
                .copied()
                .filter(|x| {
                    x.1.verdicts.iter().any(|v| {
                        v.claim == claim && v.expected == expected && v.verdict == Verdict::Fail
                    })
                })
                .collect();
            if let Some(first) = failing.first() {
                let figure = first
                    .1
                    .verdicts
                    .iter()
                    .find(|v| v.claim == claim && v.expected == expected)
                    .map_or(String::new(), |v| v.figure.clone());
                out.push(VerdictFlip {
                    scenario: scenario.into(),
                    kind: "claim".into(),
                    what: format!("{claim}: {expected}"),
                    baseline: format!("pass in {}/{} runs", bdone.len(), bdone.len()),
                    candidate: format!("fail in {}/{} runs ({figure})", failing.len(), cruns.len()),
                    candidate_runs: failing.iter().map(|x| x.0.clone()).collect(),
                });
            }
        }
    }
    // Safety: lost acknowledged messages where the baseline (measured) lost none.
    let base_lost: Vec<Option<u64>> = bruns.iter().map(|x| x.1.counts.lost).collect();
    if base_lost.iter().any(|l| l.is_some()) && base_lost.iter().all(|l| l.unwrap_or(0) == 0) {
        let losing: Vec<&(PathBuf, Report)> = cruns
            .iter()
            .copied()
            .filter(|x| x.1.counts.lost.unwrap_or(0) > 0)
            .collect();
        if !losing.is_empty() {
            let total: u64 = losing.iter().filter_map(|x| x.1.counts.lost).sum();
            out.push(VerdictFlip {
                scenario: scenario.into(),
                kind: "lost".into(),
                what: "acknowledged messages lost".into(),
                baseline: "0".into(),
                candidate: format!("{total} in {}/{} runs", losing.len(), cruns.len()),
                candidate_runs: losing.iter().map(|x| x.0.clone()).collect(),
            });
        }
    }
    out
}

/// Median; sorts `v` in place. `v` must not be empty.
fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Percentile bootstrap of the relative change of medians (percent): resample each side with
/// replacement, take the change of the two medians, and return the 2.5th and 97.5th percentiles
/// of those changes. Deterministic for a given RNG state.
pub fn bootstrap_ci(
    base: &[f64],
    cand: &[f64],
    resamples: usize,
    rng: &mut ChaCha8Rng,
) -> Option<(f64, f64)> {
    if base.is_empty() || cand.is_empty() || resamples == 0 {
        return None;
    }
    let mut bs = vec![0.0; base.len()];
    let mut cs = vec![0.0; cand.len()];
    let mut changes = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        for x in bs.iter_mut() {
            *x = base[rng.random_range(0..base.len())];
        }
        for x in cs.iter_mut() {
            *x = cand[rng.random_range(0..cand.len())];
        }
        let (mb, mc) = (median(&mut bs), median(&mut cs));
        if mb > 0.0 {
            changes.push((mc / mb - 1.0) * 100.0);
        }
    }
    if changes.len() * 2 < resamples {
        return None; // mostly zero baselines: no meaningful interval
    }
    changes.sort_by(f64::total_cmp);
    let at = |q: f64| changes[((changes.len() - 1) as f64 * q).round() as usize];
    Some((at(0.025), at(0.975)))
}

fn fmt_value(v: f64, unit: &str) -> String {
    match unit {
        "µs" => fmt_us(v),
        "msgs/s" => format!("{v:.0} msgs/s"),
        _ => format!("{v:.3} {unit}"),
    }
}

fn fmt_sample(s: &Sample, unit: &str) -> String {
    if s.n == 0 {
        return "-".into();
    }
    if s.n == 1 {
        return format!("{} (n=1)", fmt_value(s.median, unit));
    }
    // The range without a unit where the unit is not part of the number (msgs/s).
    let bare = |v: f64| match unit {
        "µs" => fmt_us(v),
        _ => format!("{v:.0}"),
    };
    format!(
        "{} (n={}, {}–{})",
        fmt_value(s.median, unit),
        s.n,
        bare(s.min),
        bare(s.max)
    )
}

/// The comparison as markdown (fits a GitHub job summary): the metric table, then the
/// noise-independent regressions, missing / new scenarios, skipped runs, and one closing line.
pub fn render_table(c: &Comparison) -> String {
    let mut s = String::new();
    s.push_str(
        "| scenario | metric | baseline | candidate | change | 95% CI | threshold | decision |\n",
    );
    s.push_str("|---|---|---|---|---|---|---|---|\n");
    for r in c.rows.iter().filter(|r| !c.new.contains(&r.scenario)) {
        let change = r.change_pct.map_or("-".into(), |ch| {
            let dir = if ch == 0.0 {
                ""
            } else if r.worse {
                " worse"
            } else {
                " better"
            };
            format!("{ch:+.1}%{dir}")
        });
        let ci = r
            .ci_pct
            .map_or("-".into(), |(lo, hi)| format!("{lo:+.1}% … {hi:+.1}%"));
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {}{:.0}% | {} |\n",
            r.scenario,
            r.metric,
            fmt_sample(&r.baseline, &r.unit),
            fmt_sample(&r.candidate, &r.unit),
            change,
            ci,
            if r.bigger_is_better { "-" } else { "+" },
            r.threshold_pct,
            r.decision.label()
        ));
    }
    if !c.flips.is_empty() {
        s.push_str("\nRegressions regardless of noise:\n\n");
        for f in &c.flips {
            s.push_str(&format!(
                "- **{}** {} `{}`: baseline {} → candidate {}\n",
                f.scenario, f.kind, f.what, f.baseline, f.candidate
            ));
        }
    }
    if !c.missing.is_empty() {
        s.push_str(&format!(
            "\nMissing in the candidate (warning): {}\n",
            c.missing.join(", ")
        ));
    }
    if !c.new.is_empty() {
        s.push_str(&format!("\nNew in the candidate: {}\n", c.new.join(", ")));
    }
    if !c.skipped.is_empty() {
        s.push_str("\nRuns left out of the statistics (not complete):\n\n");
        for k in &c.skipped {
            s.push_str(&format!(
                "- {} {} [{}]: {}\n",
                k.side,
                k.scenario,
                k.status,
                k.path.display()
            ));
        }
    }
    if c.insufficient > 0 {
        s.push_str(&format!(
            "\n{} metric(s) not decided: fewer than {} complete run(s) per side (run more repeats, or --min-runs).\n",
            c.insufficient, c.min_runs
        ));
    }
    s.push('\n');
    s.push_str(&match c.regressions {
        0 => "no regression".to_string(),
        n => format!("{n} regression(s)"),
    });
    s.push('\n');
    s
}

/// The candidate's metrics in github-action-benchmark's custom formats: `(customBiggerIsBetter,
/// customSmallerIsBetter)`, each a JSON array of `{name, unit, value, range, extra}`.
/// `value` is the candidate median; `range` is "± (max − min) / 2" of the candidate runs (the
/// spread of the plotted value, in its unit); `extra` tells the run count, the baseline and the
/// change with its interval.
pub fn gh_benchmark_json(c: &Comparison) -> (serde_json::Value, serde_json::Value) {
    let (mut bigger, mut smaller) = (Vec::new(), Vec::new());
    for r in c.rows.iter().filter(|r| r.candidate.n > 0) {
        let mut extra = format!("n={}", r.candidate.n);
        if r.baseline.n > 0 {
            extra.push_str(&format!(
                "; baseline {} (n={})",
                round3(r.baseline.median),
                r.baseline.n
            ));
        }
        if let Some(ch) = r.change_pct {
            extra.push_str(&format!("; change {ch:+.1}%"));
        }
        if let Some((lo, hi)) = r.ci_pct {
            extra.push_str(&format!(" (95% CI {lo:+.1}% … {hi:+.1}%)"));
        }
        let entry = serde_json::json!({
            "name": format!("{} - {}", r.scenario, r.metric),
            "unit": r.unit,
            "value": round3(r.candidate.median),
            "range": format!("± {}", round3((r.candidate.max - r.candidate.min) / 2.0)),
            "extra": extra,
        });
        if r.bigger_is_better {
            bigger.push(entry);
        } else {
            smaller.push(entry);
        }
    }
    (
        serde_json::Value::Array(bigger),
        serde_json::Value::Array(smaller),
    )
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::ClaimResult;

    /// A report from the recorded fixture, with the figures the test sets.
    fn fixture() -> Report {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/recorded/20261127T115755Z-single-async-none/result.json");
        Report::load(&dir).unwrap()
    }

    fn run(name: &str, tput: f64, p: f64) -> Report {
        let mut r = fixture();
        r.scenario.name = name.into();
        r.throughput.msgs_per_sec = tput;
        let l = r.latency_us.get_mut("publish_ack").unwrap();
        l.p50 = p;
        l.p99 = p * 2.0;
        l.p999 = p * 4.0;
        r
    }

    /// `n` runs with throughput `tput * (1 + noise_i)` and latency `p * (1 + noise_i)`.
    fn set(name: &str, tput: f64, p: f64, noise: &[f64]) -> Vec<(PathBuf, Report)> {
        noise
            .iter()
            .enumerate()
            .map(|(i, e)| {
                (
                    PathBuf::from(format!("{name}-{i}/result.json")),
                    run(name, tput * (1.0 + e), p * (1.0 + e)),
                )
            })
            .collect()
    }

    const NOISE5: [f64; 5] = [0.0, 0.01, -0.01, 0.02, -0.02];
    const NOISE5B: [f64; 5] = [0.015, -0.005, 0.005, -0.015, 0.0];

    fn row<'a>(c: &'a Comparison, metric: &str) -> &'a MetricRow {
        c.rows.iter().find(|r| r.metric == metric).unwrap()
    }

    #[test]
    fn bootstrap_is_deterministic_for_a_seed() {
        let b = [100.0, 103.0, 98.0, 101.0, 99.0];
        let c = [90.0, 95.0, 91.0, 97.0, 93.0];
        let ci = |seed| bootstrap_ci(&b, &c, 2000, &mut ChaCha8Rng::seed_from_u64(seed)).unwrap();
        assert_eq!(ci(7), ci(7));
        // Medians of 5 take few values, so the 2.5/97.5 percentiles of 2000 resamples rarely
        // move with the seed; few resamples of more distinct values show that the seed is used.
        let wide: Vec<f64> = (0..9).map(|i| 100.0 + i as f64 * 1.7).collect();
        let few = |seed| bootstrap_ci(&wide, &c, 40, &mut ChaCha8Rng::seed_from_u64(seed));
        assert!(
            (1..10).any(|s| few(s) != few(0)),
            "a different seed draws different resamples"
        );
        let (lo, hi) = ci(7);
        assert!(lo < hi && hi < 0.0, "({lo}, {hi})");
        // And the whole comparison: same inputs and options, same output.
        let base = set("s", 20000.0, 5000.0, &NOISE5);
        let cand = set("s", 18000.0, 5000.0, &NOISE5B);
        let o = CompareOptions::default();
        let a = serde_json::to_string(&compare(&base, &cand, &o)).unwrap();
        assert_eq!(
            a,
            serde_json::to_string(&compare(&base, &cand, &o)).unwrap()
        );
    }

    #[test]
    fn identical_sets_are_unchanged() {
        let base = set("s", 20000.0, 5000.0, &NOISE5);
        let c = compare(&base, &base, &CompareOptions::default());
        assert_eq!(c.rows.len(), 4, "{:?}", c.rows); // no end_to_end in the fixture
        for r in &c.rows {
            assert_eq!(r.decision, Decision::Unchanged, "{r:?}");
            assert_eq!(r.change_pct, Some(0.0));
            assert!(!r.worse);
        }
        assert_eq!(c.regressions, 0);
        assert!(c.flips.is_empty() && c.missing.is_empty() && c.new.is_empty());
        assert!(render_table(&c).ends_with("no regression\n"));
    }

    #[test]
    fn a_30_percent_throughput_drop_is_a_regression() {
        let base = set("s", 20000.0, 5000.0, &NOISE5);
        let cand = set("s", 14000.0, 5000.0, &NOISE5B);
        let c = compare(&base, &cand, &CompareOptions::default());
        let r = row(&c, "msgs_per_sec");
        assert_eq!(r.decision, Decision::Regression, "{r:?}");
        assert!((r.change_pct.unwrap() + 30.0).abs() < 1.0, "{r:?}");
        assert!(r.worse);
        let (lo, hi) = r.ci_pct.unwrap();
        assert!(lo < hi && hi < 0.0);
        assert_eq!(row(&c, "p99").decision, Decision::Unchanged);
        assert_eq!(c.regressions, 1);
        let t = render_table(&c);
        assert!(t.contains("**REGRESSION**"), "{t}");
        assert!(t.ends_with("1 regression(s)\n"), "{t}");
    }

    #[test]
    fn a_latency_rise_is_a_regression_and_a_fall_an_improvement() {
        let base = set("s", 20000.0, 5000.0, &NOISE5);
        let slower = set("s", 20000.0, 7000.0, &NOISE5B);
        let c = compare(&base, &slower, &CompareOptions::default());
        for m in ["p50", "p99", "p999"] {
            assert_eq!(row(&c, m).decision, Decision::Regression, "{m}");
        }
        let faster = set("s", 20000.0, 3000.0, &NOISE5B);
        let c = compare(&base, &faster, &CompareOptions::default());
        assert_eq!(row(&c, "p99").decision, Decision::Improved);
        assert!(!row(&c, "p99").worse);
        assert_eq!(c.regressions, 0);
    }

    #[test]
    fn three_percent_noise_is_not_a_regression() {
        let base = set("s", 20000.0, 5000.0, &[0.03, -0.03, 0.0, 0.02, -0.01]);
        let cand = set("s", 20000.0, 5000.0, &[-0.03, -0.02, 0.01, -0.01, 0.03]);
        let c = compare(&base, &cand, &CompareOptions::default());
        assert_eq!(c.regressions, 0, "{}", render_table(&c));
        assert!(c.rows.iter().all(|r| r.decision == Decision::Unchanged));
    }

    #[test]
    fn a_large_change_within_the_noise_is_not_a_regression() {
        // Medians 15 % apart, but the runs overlap widely: the interval straddles 0.
        let base = set("s", 20000.0, 5000.0, &[0.0, 0.4, -0.4, 0.3, -0.3]);
        let cand = set("s", 17000.0, 5000.0, &[0.0, 0.45, -0.3, 0.5, -0.35]);
        let c = compare(&base, &cand, &CompareOptions::default());
        let r = row(&c, "msgs_per_sec");
        assert!(r.change_pct.unwrap() < -10.0, "{r:?}");
        let (lo, hi) = r.ci_pct.unwrap();
        assert!(lo < 0.0 && hi > 0.0, "{r:?}");
        assert_eq!(r.decision, Decision::Unchanged);
    }

    #[test]
    fn one_run_each_is_insufficient_and_does_not_fail() {
        let base = set("s", 20000.0, 5000.0, &[0.0]);
        let cand = set("s", 14000.0, 5000.0, &[0.0]);
        let c = compare(&base, &cand, &CompareOptions::default());
        let r = row(&c, "msgs_per_sec");
        assert_eq!(
            r.decision,
            Decision::InsufficientSamples {
                baseline: 1,
                candidate: 1,
                need: 3
            }
        );
        assert!(r.worse && r.ci_pct.is_none());
        assert_eq!(c.regressions, 0);
        assert_eq!(c.insufficient, 4);
        let t = render_table(&c);
        assert!(
            t.contains("insufficient samples (n=1 vs n=1, need 3)"),
            "{t}"
        );
        assert!(t.ends_with("no regression\n"));

        let opts = CompareOptions {
            min_runs: 1,
            ..Default::default()
        };
        let c = compare(&base, &cand, &opts);
        assert_eq!(row(&c, "msgs_per_sec").decision, Decision::Regression);
        assert_eq!(row(&c, "p99").decision, Decision::Unchanged);
        assert_eq!(c.regressions, 1);
    }

    #[test]
    fn thresholds_are_configurable() {
        let base = set("s", 20000.0, 5000.0, &NOISE5);
        let cand = set("s", 14000.0, 5000.0, &NOISE5B);
        let mut o = CompareOptions::default();
        o.set_threshold("msgs_per_sec=40").unwrap();
        o.set_threshold("p99.9=5%").unwrap();
        assert_eq!(o.thresholds["p999"], 5.0);
        let c = compare(&base, &cand, &o);
        assert_eq!(row(&c, "msgs_per_sec").decision, Decision::Unchanged);
        assert_eq!(row(&c, "msgs_per_sec").threshold_pct, 40.0);
        let e = o.set_threshold("p95=10").unwrap_err().to_string();
        assert!(e.contains("msgs_per_sec, p50, p99, p999"), "{e}");
        assert!(o.set_threshold("p99").is_err());
        assert!(o.set_threshold("p99=x").is_err());
        assert!(o.set_threshold("p99=-1").is_err());
    }

    #[test]
    fn a_claim_flip_is_a_regression_even_with_identical_metrics() {
        let base = set("s", 20000.0, 5000.0, &NOISE5);
        let mut cand = base.clone();
        let v: &mut ClaimResult = cand[2]
            .1
            .verdicts
            .iter_mut()
            .find(|v| v.claim == "storage_order")
            .unwrap();
        v.verdict = Verdict::Fail;
        v.figure = "3 late".into();
        let c = compare(&base, &cand, &CompareOptions::default());
        assert!(c.rows.iter().all(|r| r.decision == Decision::Unchanged));
        assert_eq!(c.flips.len(), 1, "{:?}", c.flips);
        assert_eq!(c.flips[0].kind, "claim");
        assert_eq!(c.flips[0].what, "storage_order: preserved");
        assert_eq!(c.flips[0].candidate_runs, vec![cand[2].0.clone()]);
        assert_eq!(c.regressions, 1);
        let t = render_table(&c);
        assert!(t.contains("storage_order: preserved"), "{t}");
        assert!(t.contains("fail in 1/5 runs (3 late)"), "{t}");

        // A claim that already failed in a baseline run is not a flip.
        let mut base2 = base.clone();
        base2[0].1.verdicts = cand[2].1.verdicts.clone();
        assert!(compare(&base2, &cand, &CompareOptions::default())
            .flips
            .is_empty());
    }

    #[test]
    fn lost_messages_are_a_regression() {
        let base = set("s", 20000.0, 5000.0, &NOISE5);
        let mut cand = base.clone();
        cand[4].1.counts.lost = Some(7);
        let c = compare(&base, &cand, &CompareOptions::default());
        assert_eq!(c.flips.len(), 1);
        assert_eq!(c.flips[0].kind, "lost");
        assert_eq!(c.flips[0].candidate, "7 in 1/5 runs");
        assert_eq!(c.regressions, 1);
    }

    #[test]
    fn an_incomplete_run_is_skipped_and_a_status_regression() {
        let base = set("s", 20000.0, 5000.0, &NOISE5);
        let mut cand = base.clone();
        cand[1].1.status = crate::result::RunStatus::Incomplete;
        cand[1].1.throughput.msgs_per_sec = 1.0; // must not count in the statistics
        let c = compare(&base, &cand, &CompareOptions::default());
        assert_eq!(row(&c, "msgs_per_sec").candidate.n, 4);
        assert_eq!(row(&c, "msgs_per_sec").decision, Decision::Unchanged);
        assert_eq!(c.skipped.len(), 1);
        assert_eq!(c.skipped[0].side, "candidate");
        assert_eq!(c.flips.len(), 1);
        assert_eq!(c.flips[0].kind, "status");
        assert_eq!(c.regressions, 1);
        // An incomplete baseline run is only skipped.
        let c = compare(&cand, &base, &CompareOptions::default());
        assert_eq!(c.regressions, 0);
        assert_eq!(c.skipped[0].side, "baseline");
    }

    #[test]
    fn missing_and_new_scenarios() {
        let mut base = set("a", 20000.0, 5000.0, &NOISE5);
        base.extend(set("gone", 20000.0, 5000.0, &NOISE5));
        let mut cand = set("a", 20000.0, 5000.0, &NOISE5);
        cand.extend(set("fresh", 20000.0, 5000.0, &NOISE5));
        let c = compare(&base, &cand, &CompareOptions::default());
        assert_eq!(c.missing, vec!["gone"]);
        assert_eq!(c.new, vec!["fresh"]);
        assert_eq!(c.regressions, 0);
        let t = render_table(&c);
        assert!(
            t.contains("Missing in the candidate (warning): gone"),
            "{t}"
        );
        assert!(t.contains("New in the candidate: fresh"), "{t}");
        assert!(
            !t.contains("| fresh |"),
            "new scenarios are listed, not tabled: {t}"
        );
        // New scenarios still feed the trend charts.
        let (big, small) = gh_benchmark_json(&c);
        let names: Vec<&str> = big
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["a - msgs_per_sec", "fresh - msgs_per_sec"]);
        assert_eq!(small.as_array().unwrap().len(), 6);
    }

    #[test]
    fn gh_benchmark_entries() {
        let base = set("s", 20000.0, 5000.0, &NOISE5);
        let cand = set("s", 14000.0, 5000.0, &NOISE5B);
        let c = compare(&base, &cand, &CompareOptions::default());
        let (big, small) = gh_benchmark_json(&c);
        let b = &big.as_array().unwrap()[0];
        assert_eq!(b["name"], "s - msgs_per_sec");
        assert_eq!(b["unit"], "msgs/s");
        assert_eq!(b["value"], 14000.0);
        assert_eq!(b["range"], "± 210"); // (14210 - 13790) / 2
        let extra = b["extra"].as_str().unwrap();
        assert!(
            extra.starts_with("n=5; baseline 20000 (n=5); change -30.0%"),
            "{extra}"
        );
        let names: Vec<&str> = small
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["s - p50", "s - p99", "s - p999"]);
        assert_eq!(small[1]["unit"], "µs");
        assert_eq!(small[1]["value"], 10000.0);
    }

    #[test]
    fn medians() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
        let s = Sample::of(&[5.0, 1.0, 3.0]);
        assert_eq!((s.n, s.median, s.min, s.max), (3, 3.0, 1.0, 5.0));
    }
}
