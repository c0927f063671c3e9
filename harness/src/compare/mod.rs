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
//!   baseline run and fails in some candidate run (a timing-dependent claim — one that says
//!   something happens, "some duplicates", "broken" — only when a majority of the candidate's
//!   runs fail it); a scenario whose baseline runs all completed
//!   with a candidate run that did not; acknowledged messages lost in the candidate where the
//!   baseline lost none.
//!
//! A scenario only in the baseline is reported as missing (a warning), one only in the candidate
//! as new. Sets measured in different environments (backend, server or client version, CPU
//! count or model, runtime) are not judged at all unless `allow_env_diff` says so: the
//! comparison is `refused` and says which fields differ.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::hash::fnv1a;
use crate::result::load::ResultsError;
use crate::result::{Report, RunStatus};

mod decision;
mod env;
mod flips;
mod metrics;

pub use decision::{Decision, MetricRow, Sample};
pub use env::{env_diffs, EnvDiff};
pub use flips::{FlipKind, VerdictFlip};
pub use metrics::{metric, MetricDef, METRICS};

use metrics::metric_names;

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
    /// Judge sets measured in different environments anyway (`--allow-env-diff`).
    pub allow_env_diff: bool,
}

impl Default for CompareOptions {
    fn default() -> Self {
        CompareOptions {
            thresholds: BTreeMap::new(),
            min_runs: 3,
            seed: DEFAULT_SEED,
            resamples: 2000,
            allow_env_diff: false,
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

/// Which set of a comparison (serialized lowercase: "baseline", "candidate").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    Baseline,
    Candidate,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Baseline => "baseline",
            Side::Candidate => "candidate",
        }
    }
}

impl std::fmt::Display for Side {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A run left out of the metric statistics because it did not complete.
#[derive(Debug, Clone, Serialize)]
pub struct SkippedRun {
    pub side: Side,
    pub scenario: String,
    pub path: PathBuf,
    pub status: RunStatus,
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
    /// Metric rows decided as regressions plus flips (tolerated ones aside): the gate fails
    /// when this is not 0.
    pub regressions: usize,
    /// Environment fields that differ between the sides (backend, versions, CPU, runtime).
    pub env_diffs: Vec<EnvDiff>,
    /// The gate refuses to judge: the environments differ and `allow_env_diff` was not given.
    pub refused: bool,
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

/// Compares a candidate set against a baseline set.
pub fn compare(
    base: &[(PathBuf, Report)],
    cand: &[(PathBuf, Report)],
    opts: &CompareOptions,
) -> Comparison {
    let (b, c) = (group(base), group(cand));
    let only_in = |x: &Set, y: &Set| -> Vec<String> {
        x.keys()
            .filter(|k| !y.contains_key(*k))
            .map(|k| k.to_string())
            .collect()
    };
    let empty = Vec::new();
    let mut rows = Vec::new();
    let mut flips = Vec::new();
    // Scenarios of the candidate (compared, or new: their rows feed the gh-bench charts).
    for (name, cruns) in &c {
        let bruns = b.get(name).unwrap_or(&empty);
        rows.extend(metric_rows(name, bruns, cruns, opts));
        if !bruns.is_empty() {
            flips.extend(flips::always_regressions(name, bruns, cruns));
        }
    }
    let count = |f: fn(&Decision) -> bool| rows.iter().filter(|r| f(&r.decision)).count();
    let env_diffs = env::env_diffs(base, cand);
    Comparison {
        regressions: count(|d| *d == Decision::Regression)
            + flips.iter().filter(|f| !f.tolerated).count(),
        refused: !env_diffs.is_empty() && !opts.allow_env_diff,
        env_diffs,
        insufficient: count(|d| matches!(d, Decision::InsufficientSamples { .. })),
        missing: only_in(&b, &c),
        new: only_in(&c, &b),
        skipped: skipped_runs(&b, &c),
        rows,
        flips,
        min_runs: opts.min_runs,
        seed: opts.seed,
        resamples: opts.resamples,
    }
}

/// Every metric of one scenario that either side measured.
fn metric_rows(
    name: &str,
    bruns: &[&(PathBuf, Report)],
    cruns: &[&(PathBuf, Report)],
    opts: &CompareOptions,
) -> Vec<MetricRow> {
    let mut rows = Vec::new();
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
        let new = bruns.is_empty();
        rows.push(decision::metric_row(name, m, (&bv, &cv), opts, seed, new));
    }
    rows
}

/// Runs left out of the statistics because they did not complete.
fn skipped_runs(b: &Set, c: &Set) -> Vec<SkippedRun> {
    let mut skipped = Vec::new();
    for (side, set) in [(Side::Baseline, b), (Side::Candidate, c)] {
        for (name, runs) in set.iter() {
            for (p, r) in runs.iter().map(|x| (&x.0, &x.1)) {
                if !r.status.is_complete() {
                    skipped.push(SkippedRun {
                        side,
                        scenario: name.to_string(),
                        path: p.clone(),
                        status: r.status,
                    });
                }
            }
        }
    }
    skipped
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::{ClaimResult, Verdict};
    use crate::result::LatencyKind;
    use crate::stats::bootstrap_ci;
    // Decisions are checked together with the table that reports them: the tests may use
    // render/, the library does not.
    use crate::render::comparison::{gh_benchmark_json, render_table};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

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
        let l = r
            .latency_us
            .get_mut(LatencyKind::PublishAck.label())
            .unwrap();
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
        assert_eq!(c.flips[0].kind, FlipKind::Claim);
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

    /// Three runs a side, every run claiming "some duplicates" and passing; `fail` candidate
    /// runs then miss it.
    type Runs = Vec<(PathBuf, Report)>;

    fn timing_claim_sets(fail: usize) -> (Runs, Runs) {
        let mut base = set("s", 20000.0, 5000.0, &[0.0, 0.01, -0.01]);
        for r in &mut base {
            r.1.verdicts.push(ClaimResult {
                claim: "duplicates".into(),
                expected: "some duplicates".into(),
                figure: "12 duplicates".into(),
                verdict: Verdict::Pass,
            });
        }
        let mut cand = base.clone();
        for r in cand.iter_mut().take(fail) {
            let v = r.1.verdicts.last_mut().unwrap();
            v.verdict = Verdict::Fail;
            v.figure = "0 duplicates".into();
        }
        (base, cand)
    }

    #[test]
    fn a_timing_dependent_claim_fails_the_gate_only_when_most_candidate_runs_flip_it() {
        let (base, cand) = timing_claim_sets(1);
        let c = compare(&base, &cand, &CompareOptions::default());
        assert_eq!(c.flips.len(), 1);
        assert!(c.flips[0].tolerated, "1 of 3 runs: tolerated");
        assert_eq!(c.regressions, 0);
        let t = render_table(&c);
        assert!(
            t.contains("minority of the candidate's runs (not counted)"),
            "{t}"
        );
        assert!(t.ends_with("no regression\n"), "{t}");

        let (base, cand) = timing_claim_sets(2);
        let c = compare(&base, &cand, &CompareOptions::default());
        assert_eq!(c.flips.len(), 1);
        assert!(!c.flips[0].tolerated, "2 of 3 runs: a regression");
        assert_eq!(c.regressions, 1);

        // A guarantee ("preserved") fails the gate on one run of three.
        let mut cand = base.clone();
        let v = cand[0]
            .1
            .verdicts
            .iter_mut()
            .find(|v| v.claim == "storage_order")
            .unwrap();
        v.verdict = Verdict::Fail;
        assert_eq!(
            compare(&base, &cand, &CompareOptions::default()).regressions,
            1
        );
    }

    #[test]
    fn different_environments_are_refused_unless_allowed() {
        let base = set("s", 20000.0, 5000.0, &NOISE5);
        let mut cand = set("s", 10000.0, 5000.0, &NOISE5B);
        for r in &mut cand {
            r.1.environment.backend = "container".into();
            r.1.environment.host.cpus = 16;
        }
        let c = compare(&base, &cand, &CompareOptions::default());
        assert!(c.refused);
        let fields: Vec<&str> = c.env_diffs.iter().map(|d| d.field.as_str()).collect();
        assert_eq!(fields, vec!["backend", "cpus"]);
        let t = render_table(&c);
        assert!(
            t.starts_with("**Refused: the two sides were measured in different environments**"),
            "{t}"
        );
        assert!(
            t.contains("- backend: baseline process ≠ candidate container"),
            "{t}"
        );
        assert!(t.ends_with("refused: the environments differ (no decision; --allow-env-diff to judge anyway)\n"), "{t}");
        let allowed = CompareOptions {
            allow_env_diff: true,
            ..Default::default()
        };
        let c = compare(&base, &cand, &allowed);
        assert!(
            !c.refused && c.regressions > 0,
            "judged: half the throughput"
        );
        assert!(render_table(&c).starts_with("**Warning: the two sides"));
    }

    #[test]
    fn lost_messages_are_a_regression() {
        let base = set("s", 20000.0, 5000.0, &NOISE5);
        let mut cand = base.clone();
        cand[4].1.counts.lost = Some(7);
        let c = compare(&base, &cand, &CompareOptions::default());
        assert_eq!(c.flips.len(), 1);
        assert_eq!(c.flips[0].kind, FlipKind::Lost);
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
        assert_eq!(c.skipped[0].side, Side::Candidate);
        assert_eq!(c.flips.len(), 1);
        assert_eq!(c.flips[0].kind, FlipKind::Status);
        assert_eq!(c.regressions, 1);
        // The JSON keeps the words it always had.
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(json["skipped"][0]["side"], "candidate");
        assert_eq!(json["skipped"][0]["status"], "incomplete");
        assert_eq!(json["flips"][0]["kind"], "status");
        // An incomplete baseline run is only skipped.
        let c = compare(&cand, &base, &CompareOptions::default());
        assert_eq!(c.regressions, 0);
        assert_eq!(c.skipped[0].side, Side::Baseline);
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
    fn samples() {
        let s = Sample::of(&[5.0, 1.0, 3.0]);
        assert_eq!((s.n, s.median, s.min, s.max), (3, 3.0, 1.0, 5.0));
    }
}
