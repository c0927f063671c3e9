//! Judging: each claim against the complete runs its selector picks, with the figure and the
//! runs the outcome came from. No run, no verdict: "not measured".

use serde::Serialize;

use super::file::{Claim, FigureName, OrderExpect, OrderName, Per, Test, Zero};
use super::ratio::{self, PairRatio};
use super::select::RunFacts;
use crate::checker::{percent, OrderFigures};
use crate::result::Report;

/// How a claim fared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Confirmed,
    Refuted,
    /// The runs were there, but their spread does not decide it (an interval across a bound).
    Inconclusive,
    /// No run this claim is about, or none that measured its figure.
    NotMeasured,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Confirmed => "confirmed",
            Outcome::Refuted => "refuted",
            Outcome::Inconclusive => "inconclusive",
            Outcome::NotMeasured => "not measured",
        }
    }

    /// ✅ ❌ ❔ ➖
    pub fn mark(self) -> &'static str {
        match self {
            Outcome::Confirmed => "✅",
            Outcome::Refuted => "❌",
            Outcome::Inconclusive => "❔",
            Outcome::NotMeasured => "➖",
        }
    }
}

/// One claim, judged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Judgement {
    pub id: String,
    pub says: String,
    pub outcome: Outcome,
    /// The measured figure behind the outcome, in words.
    pub figure: String,
    /// The runs it was judged on ("name", or "name #2" for a repetition).
    pub runs: Vec<String>,
    /// Ratio claims: every matched pair.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pairs: Vec<PairRatio>,
    /// Runs the selector picked that did not complete, so were not judged.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub left_out: Vec<String>,
}

/// Judges one claim against every run (complete or not: incomplete ones are listed, not used).
pub fn judge(claim: &Claim, runs: &[(RunFacts, &Report)]) -> Judgement {
    let selected: Vec<&(RunFacts, &Report)> =
        runs.iter().filter(|(f, _)| claim.runs.matches(f)).collect();
    let left_out = selected
        .iter()
        .filter(|(f, _)| !f.complete)
        .map(|(f, _)| f.label.clone())
        .collect();
    let complete: Vec<(RunFacts, &Report)> = selected
        .into_iter()
        .filter(|(f, _)| f.complete)
        .map(|(f, r)| (f.clone(), *r))
        .collect();
    let mut j = match &claim.test {
        Test::Order { order, per, expect } => order_judgement(&complete, *order, *per, *expect),
        Test::Figure { figure, expect } => figure_judgement(&complete, *figure, *expect),
        Test::Ratio {
            metric,
            of,
            over,
            matched_on,
            range,
        } => {
            let pairs = ratio::pairs(&complete, metric, of, over, matched_on);
            let what = format!(
                "{}, {} over {}",
                metric.label(),
                of.describe(),
                over.describe()
            );
            ratio_judgement(pairs, *range, &what)
        }
    };
    if j.outcome == Outcome::NotMeasured && complete.is_empty() {
        j.figure = format!("no complete run matches {}", claim.runs.describe());
    }
    j.id = claim.id.clone();
    j.says = claim.says.clone();
    j.left_out = left_out;
    j
}

fn judgement(outcome: Outcome, figure: String, runs: Vec<String>) -> Judgement {
    Judgement {
        id: String::new(),
        says: String::new(),
        outcome,
        figure,
        runs,
        pairs: Vec::new(),
        left_out: Vec::new(),
    }
}

/// The figures of one order of a run, when it measured that order.
pub fn order_of(r: &Report, order: OrderName) -> Option<OrderFigures> {
    let o = &r.order;
    match order {
        OrderName::Publish => o.publish,
        OrderName::AckWire => o.ack_wire,
        OrderName::AckCompletion => o.ack_completion,
        OrderName::Storage => o.storage,
        OrderName::Consume => o.consume,
    }
    .filter(|f| f.messages > 0)
}

fn late(f: &OrderFigures, per: Per) -> u64 {
    match per {
        Per::Key => f.late_per_key,
        Per::Stream => f.late,
    }
}

/// Preserved / broken over a set of runs, as the order table shows it too.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderVerdict {
    /// No message late (per key or per stream) in any run.
    pub preserved: bool,
    /// "0 of 60,000 late per key in 3 runs" / "69% late per key (16/16 keys) in rr4-async-none".
    pub figure: String,
    /// The same in a few characters, for a terminal cell: "0 of 60,000" / "69% (16/16 keys)".
    pub short: String,
    /// The worst run's share of late messages (0 when preserved), for charts.
    pub worst_share: f64,
    pub runs: Vec<String>,
}

/// Judges an order over runs; `None` when no run measured it.
pub fn order_verdict(
    runs: &[(RunFacts, &Report)],
    order: OrderName,
    per: Per,
) -> Option<OrderVerdict> {
    let measured: Vec<(&RunFacts, OrderFigures)> = runs
        .iter()
        .filter_map(|(f, r)| order_of(r, order).map(|o| (f, o)))
        .collect();
    if measured.is_empty() {
        return None;
    }
    let labels: Vec<String> = measured.iter().map(|(f, _)| f.label.clone()).collect();
    let what = match per {
        Per::Key => "late per key",
        Per::Stream => "late",
    };
    let share = |o: &OrderFigures| late(o, per) as f64 / o.messages as f64;
    let broken: Vec<&(&RunFacts, OrderFigures)> =
        measured.iter().filter(|(_, o)| late(o, per) > 0).collect();
    let Some((worst_run, worst)) = broken
        .iter()
        .max_by(|a, b| share(&a.1).total_cmp(&share(&b.1)))
        .map(|(f, o)| (*f, *o))
    else {
        let total: u64 = measured.iter().map(|(_, o)| o.messages).sum();
        return Some(OrderVerdict {
            preserved: true,
            figure: format!(
                "0 of {} {what} in {}",
                grouped(total),
                runs_word(labels.len())
            ),
            short: format!("0 of {}", grouped(total)),
            worst_share: 0.0,
            runs: labels,
        });
    };
    let keys = match per {
        Per::Key => format!(" ({}/{} keys)", worst.keys_affected, worst.keys),
        Per::Stream => String::new(),
    };
    let pct = percent(share(&worst));
    let mut figure = format!("{pct} {what}{keys} in {}", worst_run.label);
    if measured.len() > 1 {
        figure.push_str(&format!(
            "; broken in {} of {} runs",
            broken.len(),
            measured.len()
        ));
    }
    Some(OrderVerdict {
        preserved: false,
        figure,
        short: format!("{pct}{keys}"),
        worst_share: share(&worst),
        runs: labels,
    })
}

fn order_judgement(
    runs: &[(RunFacts, &Report)],
    order: OrderName,
    per: Per,
    expect: OrderExpect,
) -> Judgement {
    let Some(v) = order_verdict(runs, order, per) else {
        return judgement(
            Outcome::NotMeasured,
            format!(
                "{} complete run(s) match, none measured the {} order",
                runs.len(),
                order.as_str()
            ),
            Vec::new(),
        );
    };
    let holds = v.preserved == (expect == OrderExpect::Preserved);
    let outcome = if holds {
        Outcome::Confirmed
    } else {
        Outcome::Refuted
    };
    let figure = match per_client(runs, order, per) {
        Some(each) => format!("{}; per client: {each}", v.figure),
        None => v.figure,
    };
    judgement(outcome, figure, v.runs)
}

/// When the runs were published by more than one client, each client's own verdict on the
/// order ("async-nats ✓ 0 of 40,000; nats.go ✗ 0.2% (9/16 keys)"): one client's broken order
/// must not read as every client's. `None` for runs of one client (figures read as before).
fn per_client(runs: &[(RunFacts, &Report)], order: OrderName, per: Per) -> Option<String> {
    let mut groups: Vec<Option<String>> = runs.iter().map(|(f, _)| f.client_group()).collect();
    groups.sort();
    groups.dedup();
    if groups.len() < 2 {
        return None;
    }
    let parts: Vec<String> = groups
        .iter()
        .map(|g| {
            let of: Vec<(RunFacts, &Report)> = runs
                .iter()
                .filter(|(f, _)| f.client_group() == *g)
                .map(|(f, r)| (f.clone(), *r))
                .collect();
            let name = g.as_deref().unwrap_or(super::select::DEFAULT_CLIENT);
            match order_verdict(&of, order, per) {
                Some(v) if v.preserved => format!("{name} ✓ {}", v.short),
                Some(v) => format!("{name} ✗ {}", v.short),
                None => format!("{name} not measured"),
            }
        })
        .collect();
    Some(parts.join("; "))
}

/// A count of a run; `None` when the run did not measure it.
fn count(r: &Report, figure: FigureName) -> Option<u64> {
    let c = &r.counts;
    match figure {
        FigureName::Lost => c.lost,
        FigureName::Duplicates => c.duplicates,
        FigureName::Unknown => Some(c.unknown),
        FigureName::Failed => Some(c.failed),
        FigureName::InProcess => Some(c.in_process),
        FigureName::DuplicateAcks => Some(c.duplicate_acks),
        FigureName::Redelivered => c.redelivered,
        FigureName::RetryReorders => r.retry.as_ref().and_then(|x| x.retry_reorders),
        FigureName::Rejected => Some(c.rejected),
        FigureName::BatchesBroken => r.batches.as_ref().map(|b| b.broken()),
        // Results older than the `client` object did not record the figure by this name; their
        // `failed_but_stored` counts the same messages (failed or rejected, found stored).
        FigureName::DefiniteButStored => r.safety.as_ref().map(|s| match r.client {
            Some(_) => s.definite_but_stored,
            None => s.failed_but_stored,
        }),
    }
}

fn figure_judgement(runs: &[(RunFacts, &Report)], figure: FigureName, expect: Zero) -> Judgement {
    let measured: Vec<(&RunFacts, u64)> = runs
        .iter()
        .filter_map(|(f, r)| count(r, figure).map(|n| (f, n)))
        .collect();
    let name = figure.as_str();
    if measured.is_empty() {
        return judgement(
            Outcome::NotMeasured,
            format!("{} complete run(s) match, none measured {name}", runs.len()),
            Vec::new(),
        );
    }
    let labels: Vec<String> = measured.iter().map(|(f, _)| f.label.clone()).collect();
    let nonzero: Vec<&(&RunFacts, u64)> = measured.iter().filter(|(_, n)| *n > 0).collect();
    let figure_text = match nonzero.iter().max_by_key(|(_, n)| *n) {
        None => format!("0 {name} in {}", runs_word(measured.len())),
        Some((f, n)) => {
            let mut s = format!("{} {name} in {}", grouped(*n), f.label);
            if measured.len() > 1 {
                s.push_str(&format!(
                    "; non-zero in {} of {} runs",
                    nonzero.len(),
                    measured.len()
                ));
            }
            s
        }
    };
    let holds = nonzero.is_empty() == (expect == Zero::Zero);
    let outcome = if holds {
        Outcome::Confirmed
    } else {
        Outcome::Refuted
    };
    judgement(outcome, figure_text, labels)
}

/// Every pair inside the range: confirmed; any pair wholly outside: refuted; otherwise an
/// interval straddles a bound: inconclusive. A pair without an interval (one run a side) is
/// decided by its point value, and the figure says there was no interval.
fn ratio_judgement(pairs: Vec<PairRatio>, range: (f64, f64), metric: &str) -> Judgement {
    if pairs.is_empty() {
        return judgement(
            Outcome::NotMeasured,
            format!("no matched pair of runs measured {metric}"),
            Vec::new(),
        );
    }
    let (lo, hi) = range;
    let mut outcomes = Vec::new();
    let mut parts = Vec::new();
    let mut runs = Vec::new();
    for p in &pairs {
        let (a, b) = p.interval.unwrap_or((p.ratio, p.ratio));
        outcomes.push(if a >= lo && b <= hi {
            Outcome::Confirmed
        } else if b < lo || a > hi {
            Outcome::Refuted
        } else {
            Outcome::Inconclusive
        });
        let interval = match p.interval {
            Some((a, b)) => format!(" [{}–{}]", ratio_text(a), ratio_text(b)),
            None => String::new(),
        };
        // A ratio below 1 also as "1/N": 0.00673× reads better as 1/149.
        let inverse = if p.ratio > 0.0 && p.ratio < 1.0 {
            format!(" (1/{})", ratio_text(1.0 / p.ratio))
        } else {
            String::new()
        };
        parts.push(format!(
            "{} {}×{inverse}{interval}",
            p.label,
            ratio_text(p.ratio)
        ));
        runs.extend(p.of_runs.iter().chain(&p.over_runs).cloned());
    }
    let outcome = if outcomes.contains(&Outcome::Refuted) {
        Outcome::Refuted
    } else if outcomes.iter().all(|o| *o == Outcome::Confirmed) {
        Outcome::Confirmed
    } else {
        Outcome::Inconclusive
    };
    let single = pairs.iter().all(|p| p.interval.is_none());
    let mut figure = format!("{metric}: {}", parts.join(", "));
    if single {
        figure.push_str(" (one run a side, no interval: repeat runs for one)");
    }
    let mut j = judgement(outcome, figure, runs);
    j.pairs = pairs;
    j
}

/// 3.20, 0.410, 0.0123, 120: three significant figures, whole numbers from 100.
fn ratio_text(r: f64) -> String {
    if r >= 100.0 || r <= 0.0 || !r.is_finite() {
        format!("{r:.0}")
    } else {
        let decimals = (2 - r.log10().floor() as i32).max(0) as usize;
        format!("{r:.decimals$}")
    }
}

fn runs_word(n: usize) -> String {
    if n == 1 {
        "1 run".into()
    } else {
        format!("{n} runs")
    }
}

/// 1234567 → "1,234,567".
pub fn grouped(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_keep_three_significant_figures() {
        assert_eq!(ratio_text(32.44), "32.4");
        assert_eq!(ratio_text(3.2), "3.20");
        assert_eq!(ratio_text(0.0123), "0.0123");
        assert_eq!(ratio_text(278.4), "278");
    }

    #[test]
    fn numbers_are_grouped() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(1234567), "1,234,567");
    }

    #[test]
    fn ratio_outcomes_follow_the_interval() {
        let pair = |ratio, interval| PairRatio {
            label: "single".into(),
            of_runs: vec!["a".into()],
            over_runs: vec!["s".into()],
            ratio,
            interval,
        };
        let j = |p| ratio_judgement(vec![p], (3.0, 5.0), "msgs/s").outcome;
        assert_eq!(j(pair(4.0, Some((3.5, 4.5)))), Outcome::Confirmed);
        assert_eq!(j(pair(4.0, Some((2.5, 4.5)))), Outcome::Inconclusive);
        assert_eq!(j(pair(30.0, Some((25.0, 35.0)))), Outcome::Refuted);
        assert_eq!(j(pair(4.0, None)), Outcome::Confirmed);
        assert_eq!(j(pair(2.0, None)), Outcome::Refuted);
        let text = ratio_judgement(vec![pair(2.0, None)], (3.0, 5.0), "msgs/s").figure;
        assert_eq!(
            text,
            "msgs/s: single 2.00× (one run a side, no interval: repeat runs for one)"
        );
        assert_eq!(
            ratio_judgement(vec![], (3.0, 5.0), "msgs/s").outcome,
            Outcome::NotMeasured
        );
    }
}
