//! Claims: a scenario's `[expect]` block judged against what was measured.

use serde::{Deserialize, Serialize};

use super::consume::ConsumeFigures;
use super::order::OrderFigures;
use super::retry::RetryFigures;
use super::safety::Safety;
use crate::scenario::{Expect, OrderClaim, Presence};

/// A judgement: of one claim, or of a run's claims together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Nothing was claimed, so nothing was judged (a run's verdict only): not a pass.
    None,
    Pass,
    Unknown,
    Fail,
}

impl Verdict {
    /// Combines verdicts: fail beats unknown beats pass; `None` when there is nothing to judge.
    pub fn combine(items: impl IntoIterator<Item = Verdict>) -> Verdict {
        items.into_iter().max().unwrap_or(Verdict::None)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::None => "none",
            Verdict::Pass => "pass",
            Verdict::Unknown => "unknown",
            Verdict::Fail => "fail",
        }
    }
}

/// One claim of the scenario's `expect` block, judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimResult {
    /// Which claim, e.g. "storage_order".
    pub claim: String,
    /// What was claimed, e.g. "preserved per key".
    pub expected: String,
    /// The measured figure behind the verdict.
    pub figure: String,
    pub verdict: Verdict,
}

/// The figures the claims are judged on; `None` when not measured (e.g. no read-back).
pub struct Evidence<'a> {
    pub ack_wire: Option<&'a OrderFigures>,
    pub ack_completion: Option<&'a OrderFigures>,
    pub storage: Option<&'a OrderFigures>,
    pub safety: Option<&'a Safety>,
    pub published: u64,
    pub acked: u64,
    /// Messages whose final outcome is unknown.
    pub unknown: u64,
    pub retry: Option<&'a RetryFigures>,
    pub consume: Option<&'a OrderFigures>,
    pub consume_figures: Option<&'a ConsumeFigures>,
    /// False when the run did not finish (interrupted, failed): "broken" claims can still be
    /// judged, but "preserved"/"none" claims only on what was seen, so they become unknown.
    pub complete: bool,
}

fn judge_order(
    name: &str,
    claim: OrderClaim,
    f: Option<&OrderFigures>,
    complete: bool,
) -> ClaimResult {
    let (figure, verdict) = match f {
        None => ("not measured".to_string(), Verdict::Unknown),
        Some(f) if f.messages == 0 => ("no messages".to_string(), Verdict::Unknown),
        Some(f) => {
            let figure = format!(
                "{} of {} late ({} late per key, {}/{} keys affected)",
                f.late, f.messages, f.late_per_key, f.keys_affected, f.keys
            );
            let holds = match claim {
                OrderClaim::Preserved => f.late == 0,
                OrderClaim::PreservedPerKey => f.late_per_key == 0,
                OrderClaim::Broken => f.late > 0,
                OrderClaim::BrokenPerKey => f.late_per_key > 0,
            };
            let verdict = match (holds, complete) {
                (false, _) => Verdict::Fail,
                (true, true) => Verdict::Pass,
                // A break seen in part of a run is a break; "preserved" over part is not proven.
                (true, false) => match claim {
                    OrderClaim::Broken | OrderClaim::BrokenPerKey => Verdict::Pass,
                    _ => Verdict::Unknown,
                },
            };
            (figure, verdict)
        }
    };
    ClaimResult {
        claim: name.to_string(),
        expected: claim.describe().to_string(),
        figure,
        verdict,
    }
}

fn judge_zero(
    name: &str,
    expected: &str,
    value: Option<u64>,
    what: &str,
    complete: bool,
) -> ClaimResult {
    let (figure, verdict) = match value {
        None => ("not measured".to_string(), Verdict::Unknown),
        Some(0) if !complete => (format!("0 {what} (run incomplete)"), Verdict::Unknown),
        Some(0) => (format!("0 {what}"), Verdict::Pass),
        Some(v) => (format!("{v} {what}"), Verdict::Fail),
    };
    ClaimResult {
        claim: name.to_string(),
        expected: expected.to_string(),
        figure,
        verdict,
    }
}

/// A "none" / "some" claim about a count.
fn judge_presence(
    name: &str,
    claim: Presence,
    value: Option<u64>,
    what: &str,
    complete: bool,
) -> ClaimResult {
    match claim {
        Presence::None => judge_zero(name, &format!("no {what}"), value, what, complete),
        Presence::Some => {
            let (figure, verdict) = match value {
                None => ("not measured".to_string(), Verdict::Unknown),
                Some(0) if !complete => (format!("0 {what} (run incomplete)"), Verdict::Unknown),
                Some(0) => (format!("0 {what}"), Verdict::Fail),
                // Seen in part of a run is seen.
                Some(v) => (format!("{v} {what}"), Verdict::Pass),
            };
            ClaimResult {
                claim: name.to_string(),
                expected: format!("some {what}"),
                figure,
                verdict,
            }
        }
    }
}

/// Turns the scenario's claims into verdicts.
pub fn judge(expect: &Expect, e: &Evidence) -> Vec<ClaimResult> {
    let mut out = Vec::new();
    if let Some(c) = expect.ack_wire_order {
        out.push(judge_order("ack_wire_order", c, e.ack_wire, e.complete));
    }
    if let Some(c) = expect.ack_completion_order {
        out.push(judge_order(
            "ack_completion_order",
            c,
            e.ack_completion,
            e.complete,
        ));
    }
    if let Some(c) = expect.storage_order {
        out.push(judge_order("storage_order", c, e.storage, e.complete));
    }
    if expect.no_loss == Some(true) {
        out.push(judge_zero(
            "no_loss",
            "nothing acknowledged is lost",
            e.safety.map(|s| s.lost),
            "lost",
            e.complete,
        ));
    }
    if expect.no_duplicates == Some(true) {
        out.push(judge_zero(
            "no_duplicates",
            "no key+seq stored twice",
            e.safety.map(|s| s.duplicates),
            "duplicates",
            e.complete,
        ));
    }
    if expect.all_acked == Some(true) {
        out.push(judge_zero(
            "all_acked",
            "every published message acknowledged",
            Some(e.published - e.acked.min(e.published)),
            "not acknowledged",
            e.complete,
        ));
    }
    if let Some(c) = expect.duplicates {
        out.push(judge_presence(
            "duplicates",
            c,
            e.safety.map(|s| s.duplicates),
            "duplicates",
            e.complete,
        ));
    }
    if let Some(c) = expect.retry_reorders {
        out.push(judge_presence(
            "retry_reorders",
            c,
            e.retry.and_then(|r| r.retry_reorders),
            "retry reorders",
            e.complete,
        ));
    }
    if let Some(c) = expect.lost {
        out.push(judge_presence(
            "lost",
            c,
            e.safety.map(|s| s.lost),
            "lost",
            e.complete,
        ));
    }
    if let Some(c) = expect.unacked {
        out.push(judge_presence(
            "unacked",
            c,
            Some(e.published - e.acked.min(e.published)),
            "not acknowledged",
            e.complete,
        ));
    }
    if let Some(c) = expect.unknown {
        out.push(judge_presence(
            "unknown",
            c,
            Some(e.unknown),
            "unknown outcomes",
            e.complete,
        ));
    }
    if let Some(c) = expect.consume_order {
        out.push(judge_order("consume_order", c, e.consume, e.complete));
    }
    if expect.all_processed == Some(true) {
        out.push(judge_zero(
            "all_processed",
            "every stored message processed at least once",
            e.consume_figures.and_then(|f| f.unprocessed),
            "stored but never processed",
            e.complete,
        ));
    }
    if let Some(c) = expect.unprocessed {
        out.push(judge_presence(
            "unprocessed",
            c,
            e.consume_figures.and_then(|f| f.unprocessed),
            "stored but never processed",
            e.complete,
        ));
    }
    if let Some(c) = expect.redelivered {
        out.push(judge_presence(
            "redelivered",
            c,
            e.consume_figures.map(|f| f.redelivered),
            "redeliveries",
            e.complete,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consume_claims_are_judged() {
        let broken = OrderFigures {
            messages: 10,
            late: 3,
            late_per_key: 2,
            keys_affected: 1,
            keys: 2,
            ..Default::default()
        };
        let figures = ConsumeFigures {
            processed: 10,
            processings: 11,
            redelivered: 1,
            unprocessed: Some(0),
            ..Default::default()
        };
        let expect = Expect {
            consume_order: Some(OrderClaim::PreservedPerKey),
            all_processed: Some(true),
            redelivered: Some(Presence::Some),
            ..Default::default()
        };
        let e = Evidence {
            ack_wire: None,
            ack_completion: None,
            storage: None,
            safety: None,
            published: 10,
            acked: 10,
            unknown: 0,
            retry: None,
            consume: Some(&broken),
            consume_figures: Some(&figures),
            complete: true,
        };
        let v = judge(&expect, &e);
        let get = |n: &str| v.iter().find(|c| c.claim == n).unwrap().verdict;
        assert_eq!(get("consume_order"), Verdict::Fail);
        assert_eq!(get("all_processed"), Verdict::Pass);
        assert_eq!(get("redelivered"), Verdict::Pass);
        let unprocessed = ConsumeFigures {
            unprocessed: Some(2),
            ..figures
        };
        let v = judge(
            &expect,
            &Evidence {
                consume_figures: Some(&unprocessed),
                ..e
            },
        );
        let get = |n: &str| v.iter().find(|c| c.claim == n).unwrap().verdict;
        assert_eq!(get("all_processed"), Verdict::Fail);
    }

    #[test]
    fn verdicts() {
        let broken = OrderFigures {
            messages: 10,
            late: 3,
            late_per_key: 2,
            keys_affected: 1,
            keys: 2,
            ..Default::default()
        };
        let kept = OrderFigures {
            messages: 10,
            keys: 2,
            ..Default::default()
        };
        let safe = Safety::default();
        let expect = Expect {
            storage_order: Some(OrderClaim::PreservedPerKey),
            ack_wire_order: Some(OrderClaim::Preserved),
            ack_completion_order: Some(OrderClaim::BrokenPerKey),
            no_loss: Some(true),
            no_duplicates: Some(true),
            all_acked: Some(true),
            ..Default::default()
        };
        let e = Evidence {
            ack_wire: Some(&kept),
            ack_completion: Some(&broken),
            storage: Some(&broken),
            safety: Some(&safe),
            published: 10,
            acked: 10,
            unknown: 0,
            retry: None,
            consume: None,
            consume_figures: None,
            complete: true,
        };
        let v = judge(&expect, &e);
        let get = |n: &str| v.iter().find(|c| c.claim == n).unwrap().verdict;
        assert_eq!(get("storage_order"), Verdict::Fail);
        assert_eq!(get("ack_wire_order"), Verdict::Pass);
        assert_eq!(get("ack_completion_order"), Verdict::Pass);
        assert_eq!(get("no_loss"), Verdict::Pass);
        assert_eq!(get("all_acked"), Verdict::Pass);
        assert_eq!(Verdict::combine(v.iter().map(|c| c.verdict)), Verdict::Fail);

        // Incomplete run: "preserved" cannot be proven, a seen break still counts; no read-back → unknown.
        let e2 = Evidence {
            storage: None,
            safety: None,
            complete: false,
            ..e
        };
        let v = judge(&expect, &e2);
        let get = |n: &str| v.iter().find(|c| c.claim == n).unwrap().verdict;
        assert_eq!(get("ack_wire_order"), Verdict::Unknown);
        assert_eq!(get("ack_completion_order"), Verdict::Pass);
        assert_eq!(get("storage_order"), Verdict::Unknown);
        assert_eq!(get("no_loss"), Verdict::Unknown);
        assert_eq!(
            Verdict::combine([Verdict::Pass, Verdict::Unknown]),
            Verdict::Unknown
        );
        // Nothing claimed is nothing judged: not a pass.
        assert_eq!(Verdict::combine([]), Verdict::None);
        assert_eq!(Verdict::None.as_str(), "none");
    }

    #[test]
    fn the_opposite_claims_of_the_booleans_can_fail() {
        let safety = Safety {
            lost: 2,
            ..Default::default()
        };
        let consumed = ConsumeFigures {
            unprocessed: Some(0),
            ..Default::default()
        };
        let expect = Expect {
            lost: Some(Presence::Some),
            unacked: Some(Presence::Some),
            unprocessed: Some(Presence::Some),
            ..Default::default()
        };
        let e = Evidence {
            ack_wire: None,
            ack_completion: None,
            storage: None,
            safety: Some(&safety),
            published: 10,
            acked: 10,
            unknown: 0,
            retry: None,
            consume: None,
            consume_figures: Some(&consumed),
            complete: true,
        };
        let v = judge(&expect, &e);
        let get = |n: &str| v.iter().find(|c| c.claim == n).unwrap().clone();
        assert_eq!(get("lost").verdict, Verdict::Pass, "{:?}", get("lost"));
        assert_eq!(get("lost").figure, "2 lost");
        assert_eq!(get("unacked").verdict, Verdict::Fail);
        assert_eq!(get("unprocessed").verdict, Verdict::Fail);
    }

    #[test]
    fn presence_claims() {
        let expect = Expect {
            duplicates: Some(Presence::Some),
            retry_reorders: Some(Presence::None),
            unknown: Some(Presence::Some),
            ..Default::default()
        };
        let safe = Safety {
            duplicates: 3,
            ..Default::default()
        };
        let r = RetryFigures {
            retry_reorders: Some(2),
            ..Default::default()
        };
        let e = Evidence {
            ack_wire: None,
            ack_completion: None,
            storage: None,
            safety: Some(&safe),
            published: 10,
            acked: 10,
            unknown: 0,
            retry: Some(&r),
            consume: None,
            consume_figures: None,
            complete: true,
        };
        let v = judge(&expect, &e);
        let get = |n: &str| v.iter().find(|c| c.claim == n).unwrap().verdict;
        assert_eq!(get("duplicates"), Verdict::Pass);
        assert_eq!(get("retry_reorders"), Verdict::Fail);
        assert_eq!(get("unknown"), Verdict::Fail);
        let e2 = Evidence {
            complete: false,
            ..e
        };
        let v = judge(&expect, &e2);
        let get = |n: &str| v.iter().find(|c| c.claim == n).unwrap().verdict;
        assert_eq!(get("unknown"), Verdict::Unknown);
        assert_eq!(get("duplicates"), Verdict::Pass);
    }
}
