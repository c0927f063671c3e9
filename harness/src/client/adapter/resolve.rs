//! The ids an adapter has not resolved yet, their deadlines, and what each report records.
//!
//! Only outstanding ids are kept (at most the window, plus a stale deadline per id whose `s`
//! moved it), so memory stays bounded however long the run.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use crate::adapter::{FailClass, Report};
use crate::client::ack::Attempt;
use crate::client::phase::Phase;
use crate::client::{Publisher, DUPLICATE_IN_PROCESS};
use crate::record::history::{intern_kind, AttemptRecord, Outcome, NONE};
use crate::scenario::OnInProcess;

use super::Link;

/// JetStream's err_code for "wrong last sequence" (a refused expectation).
const WRONG_LAST_SEQUENCE: u32 = 10071;
/// The error kind of a publish its client never resolved.
const UNRESOLVED: &str = "unresolved";

/// One publish line the adapter has not resolved.
struct Pending {
    a: Attempt,
    /// When jsbench wrote its `p` line (run clock).
    send_ns: u64,
    /// The adapter's publish call entered (run clock), once its `s` came.
    t0_ns: Option<u64>,
    deadline_ns: u64,
}

/// The outstanding ids of one phase.
#[derive(Default)]
pub(super) struct Outstanding {
    pending: HashMap<u64, Pending>,
    /// (deadline, id), earliest first; an entry whose id has a later deadline now is stale.
    deadlines: BinaryHeap<Reverse<(u64, u64)>>,
}

impl Outstanding {
    pub(super) fn len(&self) -> usize {
        self.pending.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    pub(super) fn contains(&self, id: u64) -> bool {
        self.pending.contains_key(&id)
    }

    /// The earliest deadline still standing (stale entries may make it early: harmless, the
    /// expiry pass skips them).
    pub(super) fn next_deadline(&self) -> Option<u64> {
        self.deadlines.peek().map(|Reverse((d, _))| *d)
    }

    pub(super) fn sent(&mut self, id: u64, a: Attempt, send_ns: u64, deadline_ns: u64) {
        self.pending.insert(
            id,
            Pending {
                a,
                send_ns,
                t0_ns: None,
                deadline_ns,
            },
        );
        self.deadlines.push(Reverse((deadline_ns, id)));
    }
}

impl Publisher<'_> {
    /// Records one report of the adapter.
    pub(super) fn on_report(
        &self,
        st: &mut Phase<'_>,
        out: &mut Outstanding,
        link: &Link,
        r: Report,
    ) {
        match r {
            Report::Sent { id, t0_ns, t1_ns } => {
                let Some(p) = out.pending.get_mut(&id) else {
                    return;
                };
                p.t0_ns = Some(t0_ns);
                st.rec
                    .publish_call
                    .record(self.now(), t1_ns.saturating_sub(t0_ns).max(1));
                // The deadline counts from the call's return, on jsbench's clock.
                p.deadline_ns = t1_ns.max(p.send_ns) + link.resolve_timeout.as_nanos() as u64;
                out.deadlines.push(Reverse((p.deadline_ns, id)));
            }
            Report::Acked {
                id,
                at_ns,
                seq,
                duplicate,
            } => {
                let Some(p) = out.pending.remove(&id) else {
                    return;
                };
                self.acked(st, &p, at_ns.min(self.now()), seq, duplicate);
            }
            Report::Failed {
                id,
                at_ns,
                class,
                code,
                kind,
                ..
            } => {
                let Some(p) = out.pending.remove(&id) else {
                    return;
                };
                let outcome = match (class, code) {
                    (FailClass::Definite, WRONG_LAST_SEQUENCE) => Outcome::Rejected,
                    (FailClass::Definite, _) => Outcome::Fail,
                    (FailClass::Indefinite, DUPLICATE_IN_PROCESS) => Outcome::InProcess,
                    (FailClass::Indefinite, _) => Outcome::Unknown,
                };
                let end_ns = at_ns.min(self.now());
                self.failed(st, &p, end_ns, outcome, intern_kind(&kind), code);
            }
        }
    }

    /// Gives up on every id whose deadline has passed: unresolved by the client.
    pub(super) fn expire(&self, st: &mut Phase<'_>, out: &mut Outstanding, link: &mut Link) {
        let now = self.now();
        while let Some(&Reverse((deadline, id))) = out.deadlines.peek() {
            if deadline > now {
                break;
            }
            out.deadlines.pop();
            let standing = out
                .pending
                .get(&id)
                .is_some_and(|p| p.deadline_ns == deadline);
            if !standing {
                continue;
            }
            let p = out.pending.remove(&id).expect("standing");
            link.session.give_up(id);
            self.failed(st, &p, now, Outcome::Unresolved, UNRESOLVED, 0);
        }
    }

    /// An ack: into the history (completion order: the order of the `a` lines) and the
    /// latency recorders. No wire rank: the wire is not observable through an adapter.
    fn acked(&self, st: &mut Phase<'_>, p: &Pending, at_ns: u64, seq: u64, duplicate: bool) {
        let a = &p.a;
        let h = &mut *st.history;
        h.record_ack(a.idx, seq, duplicate, NONE);
        h.record_ack_time(a.idx, at_ns);
        if a.attempt > 1 {
            let outcome = if duplicate {
                Outcome::Duplicate
            } else {
                Outcome::Ok
            };
            h.attempt_log.push(record(p, at_ns, outcome, "", 0));
        }
        let rec = &mut *st.rec;
        let t0 = p.t0_ns.unwrap_or(p.send_ns);
        rec.publish_ack
            .record(at_ns, at_ns.saturating_sub(t0).max(1));
        if let Some(l) = rec.intended_ack.as_mut() {
            l.record(at_ns, at_ns.saturating_sub(a.intended_ns).max(1));
        }
        rec.timeline.ack(at_ns);
        rec.ended_ns = rec.ended_ns.max(at_ns);
    }

    /// A failure (or an unresolved publish): into the history and the attempt log, and a
    /// retry queued when the plan allows one — the same rules as in-process.
    fn failed(
        &self,
        st: &mut Phase<'_>,
        p: &Pending,
        end_ns: u64,
        outcome: Outcome,
        kind: &'static str,
        code: u32,
    ) {
        let a = &p.a;
        st.history.record_failure(a.idx, outcome, kind);
        st.history
            .attempt_log
            .push(record(p, end_ns, outcome, kind, code));
        let trusted =
            outcome == Outcome::InProcess && self.retry.on_in_process == OnInProcess::Trust;
        if !trusted && (a.attempt as u32) < self.retry.attempts && !self.cancel.is_requested() {
            st.retries.schedule_after(&self.retry, a, end_ns);
        }
        st.rec.ended_ns = st.rec.ended_ns.max(end_ns);
    }

    pub(super) fn now(&self) -> u64 {
        self.tap.clock().now_ns()
    }
}

/// One attempt as a line of the attempt log (no wire rank through an adapter).
fn record(
    p: &Pending,
    end_ns: u64,
    outcome: Outcome,
    error: &'static str,
    code: u32,
) -> AttemptRecord {
    AttemptRecord {
        idx: p.a.idx,
        attempt: p.a.attempt,
        conn: p.a.conn as u16,
        send_ns: p.send_ns,
        end_ns,
        outcome,
        error,
        code,
        rank: NONE,
    }
}
