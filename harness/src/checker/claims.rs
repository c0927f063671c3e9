//! Claims: a scenario's `[expect]` block judged against what was measured.

use serde::{Deserialize, Serialize};

use super::consume::ConsumeFigures;
use super::order::OrderFigures;
use super::retry::RetryFigures;
use super::safety::Safety;
use crate::scenario::{ClaimDef, Expect, OrderClaim, Presence, Written, CLAIMS};

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
    /// Cluster: replicas that disagree after the run (0 when they agree).
    pub replicas_diverged: Option<u64>,
    /// Cluster: times the stream's leader changed.
    pub leader_changes: Option<u64>,
    /// Success acks overtaken by a later message's error or duplicate reply.
    pub overtaken: Option<u64>,
    /// "Duplicate message id is in process" replies (err_code 10158).
    pub in_process: Option<u64>,
    /// Batch mode: batches not stored atomically (partial, interleaved, reordered inside, or
    /// stored although refused; see `BatchFigures::broken`).
    pub batches_broken: Option<u64>,
    /// Messages refused by the per-key sequence guard.
    pub rejected: u64,
    /// False when the run did not finish (interrupted, failed): "broken" claims can still be
    /// judged, but "preserved"/"none" claims only on what was seen, so they become unknown.
    pub complete: bool,
}

/// The figure a claim is judged on; `None` inside when it was not measured.
enum Measured<'a> {
    Order(Option<&'a OrderFigures>),
    Count(Option<u64>),
}

/// How one claim of [`scenario::CLAIMS`](crate::scenario::CLAIMS) is judged: what it is
/// judged on and how it reads.
struct ClaimCheck {
    /// The claim's name, as in `scenario::CLAIMS` (the rows go in the same order).
    name: &'static str,
    measured: for<'e> fn(&'e Evidence<'e>) -> Measured<'e>,
    /// For counts: what is counted ("lost", "duplicates").
    what: &'static str,
    /// For `= true` claims: what holding means, e.g. "nothing acknowledged is lost".
    holds: &'static str,
}

fn not_acked(e: &Evidence) -> Option<u64> {
    Some(e.published - e.acked.min(e.published))
}

/// Published messages of the measured phase that the read-back did not find.
fn not_stored(e: &Evidence) -> Option<u64> {
    e.safety.map(|s| e.published.saturating_sub(s.stored))
}

/// How each claim is judged: `CHECKS[i]` judges `scenario::CLAIMS[i]` (the length is checked
/// here, the names by a test). Adding a claim: its row in `scenario::CLAIMS`, and one here.
const CHECKS: [ClaimCheck; CLAIMS.len()] = [
    ClaimCheck {
        name: "ack_wire_order",
        measured: |e| Measured::Order(e.ack_wire),
        what: "",
        holds: "",
    },
    ClaimCheck {
        name: "ack_completion_order",
        measured: |e| Measured::Order(e.ack_completion),
        what: "",
        holds: "",
    },
    ClaimCheck {
        name: "storage_order",
        measured: |e| Measured::Order(e.storage),
        what: "",
        holds: "",
    },
    ClaimCheck {
        name: "no_loss",
        measured: |e| Measured::Count(e.safety.map(|s| s.lost)),
        what: "lost",
        holds: "nothing acknowledged is lost",
    },
    ClaimCheck {
        name: "no_duplicates",
        measured: |e| Measured::Count(e.safety.map(|s| s.duplicates)),
        what: "duplicates",
        holds: "no key+seq stored twice",
    },
    ClaimCheck {
        name: "all_acked",
        measured: |e| Measured::Count(not_acked(e)),
        what: "not acknowledged",
        holds: "every published message acknowledged",
    },
    ClaimCheck {
        name: "all_stored",
        measured: |e| Measured::Count(not_stored(e)),
        what: "published but not stored",
        holds: "every published message is in the stream",
    },
    ClaimCheck {
        name: "unstored",
        measured: |e| Measured::Count(not_stored(e)),
        what: "published but not stored",
        holds: "",
    },
    ClaimCheck {
        name: "duplicates",
        measured: |e| Measured::Count(e.safety.map(|s| s.duplicates)),
        what: "duplicates",
        holds: "",
    },
    ClaimCheck {
        name: "retry_reorders",
        measured: |e| Measured::Count(e.retry.and_then(|r| r.retry_reorders)),
        what: "retry reorders",
        holds: "",
    },
    ClaimCheck {
        name: "lost",
        measured: |e| Measured::Count(e.safety.map(|s| s.lost)),
        what: "lost",
        holds: "",
    },
    ClaimCheck {
        name: "unacked",
        measured: |e| Measured::Count(not_acked(e)),
        what: "not acknowledged",
        holds: "",
    },
    ClaimCheck {
        name: "unknown",
        measured: |e| Measured::Count(Some(e.unknown)),
        what: "unknown outcomes",
        holds: "",
    },
    ClaimCheck {
        name: "replies_overtake",
        measured: |e| Measured::Count(e.overtaken),
        what: "success acks overtaken by a later message's error or duplicate reply",
        holds: "",
    },
    ClaimCheck {
        name: "duplicate_in_process",
        measured: |e| Measured::Count(e.in_process),
        what: "\"duplicate message id is in process\" replies",
        holds: "",
    },
    ClaimCheck {
        name: "leader_changes",
        measured: |e| Measured::Count(e.leader_changes),
        what: "stream leader changes",
        holds: "",
    },
    ClaimCheck {
        name: "atomic_batches",
        measured: |e| Measured::Count(e.batches_broken),
        what: "batches not stored atomically",
        holds: "every batch is stored whole or not at all, consecutively and in its own order",
    },
    ClaimCheck {
        name: "rejected",
        measured: |e| Measured::Count(Some(e.rejected)),
        what: "messages refused by the sequence guard",
        holds: "",
    },
    ClaimCheck {
        name: "replicas_agree",
        measured: |e| Measured::Count(e.replicas_diverged),
        what: "replicas that disagree",
        holds: "every node holds the same stream after the faults healed",
    },
    ClaimCheck {
        name: "replicas_diverge",
        measured: |e| Measured::Count(e.replicas_diverged),
        what: "replicas that disagree",
        holds: "",
    },
    ClaimCheck {
        name: "consume_order",
        measured: |e| Measured::Order(e.consume),
        what: "",
        holds: "",
    },
    ClaimCheck {
        name: "all_processed",
        measured: |e| Measured::Count(e.consume_figures.and_then(|f| f.unprocessed)),
        what: "stored but never processed",
        holds: "every stored message processed at least once",
    },
    ClaimCheck {
        name: "unprocessed",
        measured: |e| Measured::Count(e.consume_figures.and_then(|f| f.unprocessed)),
        what: "stored but never processed",
        holds: "",
    },
    ClaimCheck {
        name: "redelivered",
        measured: |e| Measured::Count(e.consume_figures.map(|f| f.redelivered)),
        what: "redeliveries",
        holds: "",
    },
    ClaimCheck {
        name: "definite_but_stored",
        measured: |e| Measured::Count(e.safety.map(|s| s.definite_but_stored)),
        what: "reported definitely failed yet stored",
        holds: "",
    },
];

impl ClaimCheck {
    fn judge(&self, claim: &ClaimDef, written: Written, e: &Evidence) -> ClaimResult {
        debug_assert_eq!(self.name, claim.name, "CHECKS is in scenario::CLAIMS order");
        let (expected, figure, verdict) = match (written, (self.measured)(e)) {
            (Written::Order(c), Measured::Order(f)) => {
                let (figure, verdict) = judge_order(c, f, e.complete);
                (c.describe().to_string(), figure, verdict)
            }
            (Written::Bool(_), Measured::Count(v)) => {
                let (figure, verdict) = judge_count(Presence::None, v, self.what, e.complete);
                (self.holds.to_string(), figure, verdict)
            }
            (Written::Presence(p), Measured::Count(v)) => {
                let (figure, verdict) = judge_count(p, v, self.what, e.complete);
                let expected = match p {
                    Presence::None => format!("no {}", self.what),
                    Presence::Some => format!("some {}", self.what),
                };
                (expected, figure, verdict)
            }
            _ => unreachable!("claim {} pairs an order with a count", self.name),
        };
        ClaimResult {
            claim: claim.name.to_string(),
            expected,
            figure,
            verdict,
        }
    }
}

/// An order claim against its figures.
fn judge_order(claim: OrderClaim, f: Option<&OrderFigures>, complete: bool) -> (String, Verdict) {
    let Some(f) = f else {
        return ("not measured".to_string(), Verdict::Unknown);
    };
    if f.messages == 0 {
        return ("no messages".to_string(), Verdict::Unknown);
    }
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

/// A count claimed to be zero ("none") or not ("some"). Over an incomplete run a zero proves
/// nothing; a non-zero seen in part of a run is seen.
fn judge_count(
    claim: Presence,
    value: Option<u64>,
    what: &str,
    complete: bool,
) -> (String, Verdict) {
    match (value, claim) {
        (None, _) => ("not measured".to_string(), Verdict::Unknown),
        (Some(0), _) if !complete => (format!("0 {what} (run incomplete)"), Verdict::Unknown),
        (Some(0), Presence::None) => (format!("0 {what}"), Verdict::Pass),
        (Some(0), Presence::Some) => (format!("0 {what}"), Verdict::Fail),
        (Some(v), Presence::None) => (format!("{v} {what}"), Verdict::Fail),
        (Some(v), Presence::Some) => (format!("{v} {what}"), Verdict::Pass),
    }
}

/// Turns the scenario's claims into verdicts, in [`CLAIMS`] order.
pub fn judge(expect: &Expect, e: &Evidence) -> Vec<ClaimResult> {
    CLAIMS
        .iter()
        .zip(&CHECKS)
        .filter_map(|(claim, check)| Some(check.judge(claim, claim.claimed(expect)?, e)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_claim_is_judged_by_its_own_row() {
        let names = |n: &[&str]| n.join(" ");
        assert_eq!(
            names(&CLAIMS.iter().map(|c| c.name).collect::<Vec<_>>()),
            names(&CHECKS.iter().map(|c| c.name).collect::<Vec<_>>())
        );
    }

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
            replicas_diverged: None,
            leader_changes: None,
            overtaken: None,
            in_process: None,
            batches_broken: None,
            rejected: 0,
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
            replicas_diverged: None,
            leader_changes: None,
            overtaken: None,
            in_process: None,
            batches_broken: None,
            rejected: 0,
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
            replicas_diverged: None,
            leader_changes: None,
            overtaken: None,
            in_process: None,
            batches_broken: None,
            rejected: 0,
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
            replicas_diverged: None,
            leader_changes: None,
            overtaken: None,
            in_process: None,
            batches_broken: None,
            rejected: 0,
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

    #[test]
    fn a_definite_failure_found_stored_fails_the_claim() {
        let expect = Expect {
            definite_but_stored: Some(Presence::None),
            ..Default::default()
        };
        let stored = Safety {
            definite_but_stored: 2,
            ..Default::default()
        };
        let e = Evidence {
            ack_wire: None,
            ack_completion: None,
            storage: None,
            safety: Some(&stored),
            published: 10,
            acked: 8,
            unknown: 0,
            retry: None,
            consume: None,
            consume_figures: None,
            replicas_diverged: None,
            leader_changes: None,
            overtaken: None,
            in_process: None,
            batches_broken: None,
            rejected: 0,
            complete: true,
        };
        let v = judge(&expect, &e);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].verdict, Verdict::Fail);
        assert_eq!(v[0].figure, "2 reported definitely failed yet stored");
        let clean = Safety::default();
        let v = judge(
            &expect,
            &Evidence {
                safety: Some(&clean),
                ..e
            },
        );
        assert_eq!(v[0].verdict, Verdict::Pass);
        // Without a read-back nothing is measured.
        let v = judge(&expect, &Evidence { safety: None, ..e });
        assert_eq!(v[0].verdict, Verdict::Unknown);
    }
}
