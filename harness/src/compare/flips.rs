//! Regressions that no amount of noise explains: a claim that passed in every complete baseline
//! run and fails in a candidate run, a run that no longer completes, acknowledged messages lost.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde::Serialize;

use crate::checker::Verdict;
use crate::result::Report;

/// One run of a set: its directory and its report.
type Run = (PathBuf, Report);

/// What a [`VerdictFlip`] is about (serialized lowercase: "claim", "status", "lost").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FlipKind {
    /// A claim that passed in every complete baseline run fails in a candidate run.
    Claim,
    /// A candidate run did not complete where the baseline's did.
    Status,
    /// The candidate lost acknowledged messages where the baseline lost none.
    Lost,
}

impl FlipKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FlipKind::Claim => "claim",
            FlipKind::Status => "status",
            FlipKind::Lost => "lost",
        }
    }
}

impl std::fmt::Display for FlipKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A regression that no amount of noise explains: a claim, the run status, or lost messages.
#[derive(Debug, Clone, Serialize)]
pub struct VerdictFlip {
    pub scenario: String,
    pub kind: FlipKind,
    /// The claim and what it expected ("storage_order: preserved per key"), or the figure.
    pub what: String,
    pub baseline: String,
    pub candidate: String,
    /// The candidate runs that show it.
    pub candidate_runs: Vec<PathBuf>,
    /// A timing-dependent claim failed by a minority of the candidate's runs: shown, not
    /// counted as a regression.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tolerated: bool,
}

/// The noise-independent regressions of one scenario.
pub(super) fn always_regressions(
    scenario: &str,
    bruns: &[&Run],
    cruns: &[&Run],
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
        out.extend(status_flip(scenario, bdone.len(), bruns.len(), cruns));
        out.extend(claim_flips(scenario, &bdone, cruns));
    }
    out.extend(lost_flip(scenario, bruns, cruns));
    out
}

/// Candidate runs that did not complete where `done` of `total` baseline runs did.
fn status_flip(scenario: &str, done: usize, total: usize, cruns: &[&Run]) -> Option<VerdictFlip> {
    let bad: Vec<&Run> = cruns
        .iter()
        .copied()
        .filter(|x| !x.1.status.is_complete())
        .collect();
    if bad.is_empty() {
        return None;
    }
    let statuses: BTreeSet<&str> = bad.iter().map(|x| x.1.status.as_str()).collect();
    Some(VerdictFlip {
        scenario: scenario.into(),
        kind: FlipKind::Status,
        what: "run status".into(),
        baseline: format!("complete in {done}/{total} runs"),
        candidate: format!(
            "{} in {}/{} runs",
            statuses.into_iter().collect::<Vec<_>>().join(", "),
            bad.len(),
            cruns.len()
        ),
        candidate_runs: bad.iter().map(|x| x.0.clone()).collect(),
        tolerated: false,
    })
}

/// Claims that passed in every complete baseline run and fail in a candidate run.
fn claim_flips(scenario: &str, bdone: &[&Report], cruns: &[&Run]) -> Vec<VerdictFlip> {
    let claims: BTreeSet<(&str, &str)> = bdone
        .iter()
        .flat_map(|r| r.verdicts.iter())
        .map(|v| (v.claim.as_str(), v.expected.as_str()))
        .collect();
    let judged = |r: &Report, claim: &str, expected: &str, verdict: Verdict| {
        r.verdicts
            .iter()
            .any(|v| v.claim == claim && v.expected == expected && v.verdict == verdict)
    };
    let mut out = Vec::new();
    for (claim, expected) in claims {
        if !bdone
            .iter()
            .all(|r| judged(r, claim, expected, Verdict::Pass))
        {
            continue;
        }
        let failing: Vec<&Run> = cruns
            .iter()
            .copied()
            .filter(|x| judged(&x.1, claim, expected, Verdict::Fail))
            .collect();
        let Some(first) = failing.first() else {
            continue;
        };
        let figure = first
            .1
            .verdicts
            .iter()
            .find(|v| v.claim == claim && v.expected == expected)
            .map_or(String::new(), |v| v.figure.clone());
        // A claim that something happens can miss it in one run by timing alone; it fails
        // the gate only when most of the candidate's runs miss it.
        let tolerated = timing_dependent(expected) && failing.len() * 2 <= cruns.len();
        out.push(VerdictFlip {
            scenario: scenario.into(),
            kind: FlipKind::Claim,
            what: format!("{claim}: {expected}"),
            baseline: format!("pass in {}/{} runs", bdone.len(), bdone.len()),
            candidate: format!("fail in {}/{} runs ({figure})", failing.len(), cruns.len()),
            candidate_runs: failing.iter().map(|x| x.0.clone()).collect(),
            tolerated,
        });
    }
    out
}

/// True for a claim that something happens ("some duplicates", order "broken …"): whether one
/// run shows it depends on timing (a race, a fault landing on in-flight messages). Claims that
/// something never happens (no loss, order preserved, "no duplicates") are guarantees: one
/// failing run breaks them.
pub fn timing_dependent(expected: &str) -> bool {
    expected.starts_with("some ") || expected.starts_with("broken")
}

/// Lost acknowledged messages where the baseline (measured) lost none.
fn lost_flip(scenario: &str, bruns: &[&Run], cruns: &[&Run]) -> Option<VerdictFlip> {
    let base_lost: Vec<Option<u64>> = bruns.iter().map(|x| x.1.counts.lost).collect();
    if !(base_lost.iter().any(|l| l.is_some()) && base_lost.iter().all(|l| l.unwrap_or(0) == 0)) {
        return None;
    }
    let losing: Vec<&Run> = cruns
        .iter()
        .copied()
        .filter(|x| x.1.counts.lost.unwrap_or(0) > 0)
        .collect();
    if losing.is_empty() {
        return None;
    }
    let total: u64 = losing.iter().filter_map(|x| x.1.counts.lost).sum();
    Some(VerdictFlip {
        scenario: scenario.into(),
        kind: FlipKind::Lost,
        what: "acknowledged messages lost".into(),
        baseline: "0".into(),
        candidate: format!("{total} in {}/{} runs", losing.len(), cruns.len()),
        candidate_runs: losing.iter().map(|x| x.0.clone()).collect(),
        tolerated: false,
    })
}
