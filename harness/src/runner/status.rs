//! How far a run got: its status, whether its claims can be judged as over a whole run, and the
//! notes that say why not.

use super::Measured;
use crate::client::Stop;
use crate::result::{Lost, RunStatus};
use crate::scenario::Plan;

/// The verdict on the run itself (not on its claims).
pub(super) struct Status {
    pub(super) status: RunStatus,
    /// Everything planned happened and was observed: "preserved" and "none" claims can pass.
    pub(super) complete: bool,
    /// Why publishing stopped early, when it did: the first thing `status_reason` says.
    pub(super) first: Option<String>,
    /// Further reasons, in the order they were found.
    pub(super) notes: Vec<String>,
}

/// The status of a run that measured something.
pub(super) fn of(plan: &Plan, m: &Measured) -> Status {
    let in_flight = m
        .history
        .outcome_counts()
        .in_flight
        .saturating_sub(m.unsent);
    let lost = lost_workers(m);
    // The stream read whole: by a read-back, or by the follower and judged by the streaming
    // checkers (a following run without a read-back in memory).
    let read_back_ok = !plan.observe.read_back
        || m.read_back.as_ref().is_some_and(|rb| rb.complete)
        || m.streaming.as_ref().is_some_and(|s| s.figures.is_some());
    let consume_ok = m.consume.as_ref().is_none_or(|c| c.complete);
    let stopped_early = stopped_early(plan, &m.stop);
    let mut s = Status {
        status: RunStatus::Complete,
        complete: stopped_early.is_none()
            && lost.is_none()
            && in_flight == 0
            && read_back_ok
            && consume_ok,
        first: lost.or(stopped_early),
        notes: Vec::new(),
    };
    if in_flight > 0 {
        s.notes.push(format!(
            "{in_flight} acks still outstanding when the run stopped"
        ));
    }
    // Without the stream's own account, storage order and safety are not measured.
    if let Some(n) = &m.read_back_note {
        s.notes.push(n.clone());
    } else if !read_back_ok && !plan.observe.cross_check {
        s.notes.push("the stream was not read whole".into());
    }
    if let Some(log) = m.consume.as_ref().filter(|c| !c.complete) {
        s.notes.push(format!(
            "consume side: {}",
            log.error.as_deref().unwrap_or("stopped before it drained")
        ));
    }
    if s.first.is_some() || !s.complete {
        s.status = RunStatus::Incomplete;
    }
    s
}

/// The workers of a distributed run that were lost ([`Lost`], typed in result.json
/// `workers[].lost`), named: the first reason a run with one is incomplete.
fn lost_workers(m: &Measured) -> Option<String> {
    let lost: Vec<String> = m
        .workers
        .iter()
        .filter_map(|w| {
            let why: &Lost = w.lost.as_ref()?;
            let pid = w.pid.map(|p| format!(", pid {p}")).unwrap_or_default();
            Some(format!("worker {} (host {}{pid}) {why}", w.index, w.host))
        })
        .collect();
    (!lost.is_empty()).then(|| {
        format!(
            "{} of {} workers lost: {}; {} messages of their segments count as not published \
             (what they sent before is in the stream, counted as stored)",
            lost.len(),
            m.workers.len(),
            lost.join("; "),
            m.unsent
        )
    })
}

/// Why publishing stopped before the plan said so, if it did.
fn stopped_early(plan: &Plan, stop: &Stop) -> Option<String> {
    match stop {
        Stop::Done | Stop::Elapsed => None,
        Stop::Cancelled => Some("interrupted (Ctrl-C): publishing stopped early".into()),
        Stop::MaxMessages => Some(format!(
            "stopped at workload.max_messages ({}) before the duration elapsed",
            plan.workload.max_messages
        )),
        Stop::ClientFailed(why) => Some(format!("publishing stopped: {why}")),
    }
}
