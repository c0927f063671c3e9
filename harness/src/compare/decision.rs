//! Deciding one metric: the samples of each side, the change of their medians, its bootstrap
//! interval, and the decision (regression, improved, unchanged, or why there is none).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::metrics::MetricDef;
use super::CompareOptions;
use crate::result::Unit;
use crate::stats::{bootstrap_ci, median};

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
    pub(super) fn of(values: &[f64]) -> Sample {
        if values.is_empty() {
            return Sample::default();
        }
        Sample {
            n: values.len(),
            median: median(values),
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
    pub unit: Unit,
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

/// One metric of one scenario, baseline against candidate, decided by the module's rule.
pub(super) fn metric_row(
    scenario: &str,
    m: &MetricDef,
    (bv, cv): (&[f64], &[f64]),
    opts: &CompareOptions,
    seed: u64,
    new: bool,
) -> MetricRow {
    let (bs, cs) = (Sample::of(bv), Sample::of(cv));
    let mut row = MetricRow {
        scenario: scenario.to_string(),
        metric: m.name.to_string(),
        unit: m.unit,
        bigger_is_better: m.bigger_is_better,
        baseline: bs,
        candidate: cs,
        change_pct: None,
        worse: false,
        ci_pct: None,
        threshold_pct: opts.threshold(m),
        decision: Decision::Unchanged,
    };
    if let Some(reason) = no_data(new, &bs, &cs) {
        row.decision = Decision::NoData {
            reason: reason.into(),
        };
        return row;
    }
    let change = (cs.median / bs.median - 1.0) * 100.0;
    row.change_pct = Some(change);
    row.worse = worse_sign(m) * change > 0.0;
    if bs.n >= 2 && cs.n >= 2 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        row.ci_pct = bootstrap_ci(bv, cv, opts.resamples, &mut rng);
    }
    let need = opts.min_runs.max(1);
    row.decision = if bs.n < need || cs.n < need {
        Decision::InsufficientSamples {
            baseline: bs.n,
            candidate: cs.n,
            need,
        }
    } else {
        decide(worse_sign(m), change, row.ci_pct, row.threshold_pct)
    };
    row
}

/// Why there is nothing to compare, if there is not.
fn no_data(new: bool, bs: &Sample, cs: &Sample) -> Option<&'static str> {
    if new {
        Some("new scenario")
    } else if bs.n == 0 {
        Some("no complete baseline run measured it")
    } else if cs.n == 0 {
        Some("no complete candidate run measured it")
    } else if bs.median <= 0.0 {
        Some("baseline median is 0")
    } else {
        None
    }
}

/// +1 when a rise is worse (latency), -1 when a fall is (throughput).
fn worse_sign(m: &MetricDef) -> f64 {
    if m.bigger_is_better {
        -1.0
    } else {
        1.0
    }
}

/// The rule: beyond the threshold in the bad (good) direction, with the whole interval (when
/// there is one) on that side of 0.
fn decide(sign: f64, change: f64, ci: Option<(f64, f64)>, threshold: f64) -> Decision {
    // The interval, turned so that positive = worse: (lo, hi) of sign * change.
    let ci_worse = ci.map(|(lo, hi)| {
        let (a, b) = (sign * lo, sign * hi);
        (a.min(b), a.max(b))
    });
    let worse = sign * change;
    if worse > threshold && ci_worse.is_none_or(|(lo, _)| lo > 0.0) {
        Decision::Regression
    } else if -worse > threshold && ci_worse.is_none_or(|(_, hi)| hi < 0.0) {
        Decision::Improved
    } else {
        Decision::Unchanged
    }
}
