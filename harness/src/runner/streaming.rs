//! The follower in a run (`observe.follow`, issue 24): started with the measured phase, finished
//! in place of the end-of-run read-back, and what the analysis takes from it.
//!
//! A following run's storage figures (storage order, safety, the read-back part of the retry
//! figures) come from one of three places (`streaming.figures_from` in result.json):
//! - **follower**: the streaming checkers (`checker::stream`), fed as the copies were read.
//!   Nothing per message is kept but bits; at the end the spill file is replayed once for what
//!   only the end knows (displacement, ack sequences, who was published).
//! - **spill**: the run's checkers need every message (fault windows split by send time, the
//!   consume side, batches, disk faults), so the spill file is loaded into a `ReadBack` and
//!   judged by the end-of-run checkers as before. The streaming figures are computed too, and
//!   compared (`cross_check.against = "spill"`).
//! - **read_back**: the follower fell back — the stream went back under it (a purge, a power
//!   loss), it could not finish, or its figures could not be finished — and the whole stream is
//!   read back at the end, as without following (`fallback` says why); or `--cross-check` asked
//!   for that read-back beside the follower, and the two are compared
//!   (`cross_check.against = "read_back"`).

use std::sync::Arc;

use super::rig::Rig;
use crate::cancel::Cancel;
use crate::checker::{
    self, PerMessage, RetryFigures, Safety, StoreLive, StoreStream, StreamFigures,
};
use crate::record::follow::{self, FollowCheck, FollowSpec, Follower};
use crate::record::history::{History, ReadBack};
use crate::record::readback::READ_BACK_IDLE;
use crate::result::{CheckedAgainst, CrossCheck, FiguresFrom, StreamingReport};
use crate::scenario::{Amount, Mode, Plan};
use crate::workload::Reader;

/// The follower of a run, feeding the streaming checkers.
pub(super) type Following = Follower<StoreStream>;

/// What a following run keeps of its follower for the analysis and the report.
#[derive(Debug)]
pub(super) struct Streamed {
    pub(super) check: FollowCheck,
    /// The streaming checkers' figures; `None` when the follower fell back.
    pub(super) figures: Option<StreamFigures>,
    pub(super) from: FiguresFrom,
    pub(super) fallback: Option<String>,
    /// What the `ReadBack` beside the streaming figures is, when there is one.
    pub(super) against: Option<CheckedAgainst>,
}

/// Starts the follower when the plan follows its stream, with the streaming checkers' counters
/// for the live line; `None` (with a warning) when the spill file cannot be created: the run
/// then reads back at the end, as without following.
pub(super) fn start(
    plan: &Plan,
    rig: &Rig,
    run_id: &str,
    cancel: &Cancel,
) -> Option<(Following, Arc<StoreLive>)> {
    if !plan.observe.following {
        return None;
    }
    let reader = Reader::new(plan.publish.wire, run_id);
    let spec = FollowSpec {
        js: rig.admin.clone(),
        stream: rig.stream.clone(),
        filter: rig.subjects.measured_filter.clone(),
        tag_in_payload: reader.in_payload(),
        identify: Arc::new(move |headers, payload| {
            let id = reader.identify(headers, payload)?;
            Some((id.idx, id.key, id.attempt))
        }),
        idle: READ_BACK_IDLE,
        cancel: cancel.clone(),
    };
    let w = &plan.workload;
    // Indexes at or beyond the planned messages are not tracked per message (a corrupt tag
    // cannot grow the checkers' bitsets).
    let limit = match w.amount {
        Amount::Messages(n) => n,
        Amount::Duration(_) => w.max_messages,
    };
    let store = StoreStream::new(w.keys, limit);
    let live = store.live();
    match follow::start(spec, store) {
        Ok(f) => Some((f, live)),
        Err(e) => {
            tracing::warn!("cannot follow the stream, reading it back at the end instead: {e}");
            None
        }
    }
}

/// Whether the run's checkers need every stored copy in memory (a `ReadBack`), not only the
/// streaming figures.
pub(super) fn needs_each_message(plan: &Plan, h: &History) -> bool {
    h.is_timed()
        || plan.consume.is_some()
        || plan.publish.mode == Mode::Batch
        || plan.server_spec().faultfs
}

/// The follower's end (called once publishing ended and the connections were proven drained):
/// its tail, then the streaming figures, and the spill loaded as a `ReadBack` when the checkers
/// need every message. `Err(reason)`: fall back to a whole read-back.
pub(super) async fn finish(
    plan: &Plan,
    h: &History,
    following: Following,
) -> (Streamed, Result<Option<ReadBack>, String>) {
    let mut s = Streamed {
        check: FollowCheck::default(),
        figures: None,
        from: FiguresFrom::ReadBack,
        fallback: None,
        against: None,
    };
    let followed = match following.finish().await {
        Ok(f) => f,
        Err(e) => return fall_back(s, e.to_string()),
    };
    s.check = followed.check;
    if s.check.regressed {
        let why = s.check.regression.clone().unwrap_or_default();
        return fall_back(s, format!("the stream went back under the follower: {why}"));
    }
    if !s.check.complete {
        return fall_back(
            s,
            "the follower did not read everything the stream holds".into(),
        );
    }
    let spill = &followed.spill;
    let mut replay_error = None;
    let copies = spill.replay().map_while(|c| match c {
        Ok(c) => Some(c),
        Err(e) => {
            replay_error = Some(e);
            None
        }
    });
    let figures = followed.sink.finish(h, copies, true);
    let figures = match (figures, replay_error) {
        (_, Some(e)) => return fall_back(s, format!("the spill file could not be read: {e}")),
        (Err(e), None) => return fall_back(s, format!("the streaming checkers: {e}")),
        (Ok(f), None) => f,
    };
    s.figures = Some(figures);
    s.from = FiguresFrom::Follower;
    if plan.observe.cross_check || !needs_each_message(plan, h) {
        return (s, Ok(None));
    }
    match spill.to_read_back(s.check.unexpected, true) {
        Ok(rb) => {
            s.from = FiguresFrom::Spill;
            s.against = Some(CheckedAgainst::Spill);
            (s, Ok(Some(rb)))
        }
        Err(e) => fall_back(s, format!("the spill file could not be loaded: {e}")),
    }
}

fn fall_back(mut s: Streamed, why: String) -> (Streamed, Result<Option<ReadBack>, String>) {
    s.figures = None;
    s.from = FiguresFrom::ReadBack;
    s.fallback = Some(why.clone());
    (s, Err(why))
}

/// The storage side of the analysis: safety, the per-message marks, the retry figures and the
/// `streaming` section, from a read-back (the end's or the follower's spill) or, when there is
/// none, the streaming checkers' figures.
pub(super) struct StorageSide<'a> {
    /// The read-back, when it is whole.
    pub(super) rb: Option<&'a ReadBack>,
    /// The streaming checkers' figures, when they stand in for a read-back.
    pub(super) streamed: Option<&'a StreamFigures>,
    pub(super) safety: Option<Safety>,
    pub(super) per_msg: Option<PerMessage>,
    pub(super) retry: Option<RetryFigures>,
    pub(super) streaming: Option<StreamingReport>,
}

pub(super) fn storage_side<'a>(plan: &Plan, m: &'a super::Measured) -> StorageSide<'a> {
    let h = &m.history;
    let rb = m.read_back.as_ref().filter(|rb| rb.complete);
    let streamed = m
        .streaming
        .as_ref()
        .and_then(|s| s.figures.as_ref())
        .filter(|_| rb.is_none());
    let safety = rb
        .map(|rb| checker::safety(h, rb))
        .or_else(|| streamed.map(|f| f.safety.clone()));
    let per_msg = rb.map(|rb| checker::per_message(h, rb));
    let retry = (plan.publish.retry.attempts > 1 || h.retried() > 0).then(|| {
        let r = checker::retry_figures(h, rb.zip(per_msg.as_ref()));
        streamed.map_or(r, |f| with_stored_retries(r, f))
    });
    let streaming = m.streaming.as_ref().map(|s| {
        // The read-back's safety was judged just above: compared as it is, not judged again.
        let end_of_run = rb
            .zip(per_msg.as_ref())
            .zip(safety.as_ref())
            .map(|((rb, pm), safety)| EndOfRun { h, rb, pm, safety });
        report(s, end_of_run)
    });
    StorageSide {
        rb,
        streamed,
        safety,
        per_msg,
        retry,
        streaming,
    }
}

/// What `status_reason` says of a following run: a fallback, a disagreement.
pub(super) fn notes(s: &StreamingReport) -> Vec<String> {
    let mut notes = Vec::new();
    if let Some(why) = &s.fallback {
        notes.push(format!(
            "the follower fell back to a whole read-back: {why}"
        ));
    }
    if let Some(c) = s.cross_check.as_ref().filter(|c| !c.equal) {
        notes.push(format!(
            "the streaming checkers disagree with the end-of-run checkers: {}",
            c.differences.join("; ")
        ));
    }
    notes
}

/// Whether the run's `ReadBack` is the follower's spill (not a read-back done at the end).
pub(super) fn read_by_follower(m: &super::Measured) -> bool {
    m.streaming
        .as_ref()
        .is_some_and(|s| s.from == FiguresFrom::Spill)
}

/// `r` with the read-back part of the retry figures from the streaming checkers.
fn with_stored_retries(mut r: RetryFigures, f: &StreamFigures) -> RetryFigures {
    r.stored_from_retries = Some(f.stored_from_retries);
    r.retry_reorders = Some(f.retry_reorders);
    r.keys_affected = Some(f.retry_keys_affected);
    r
}

/// What the end-of-run checkers have of a run: the history, a whole read-back (or the spill
/// loaded as one), its per-message marks and its safety, already judged.
struct EndOfRun<'a> {
    h: &'a History,
    rb: &'a ReadBack,
    pm: &'a PerMessage,
    safety: &'a Safety,
}

/// result.json `streaming`; with `end_of_run`, the streaming figures compared with the
/// end-of-run checkers' figures.
fn report(s: &Streamed, end_of_run: Option<EndOfRun<'_>>) -> StreamingReport {
    let cross_check =
        s.figures
            .as_ref()
            .zip(s.against)
            .zip(end_of_run)
            .map(|((streamed, against), end)| {
                let differences = differences(streamed, &end_of_run_figures(&end));
                CrossCheck {
                    against,
                    equal: differences.is_empty(),
                    differences,
                }
            });
    StreamingReport {
        follow: s.check.clone(),
        figures_from: s.from,
        fallback: s.fallback.clone(),
        cross_check,
    }
}

/// What today's end-of-run checkers say of a read-back, in the streaming checkers' terms.
fn end_of_run_figures(e: &EndOfRun<'_>) -> StreamFigures {
    let retry = checker::retry_figures(e.h, Some((e.rb, e.pm)));
    StreamFigures {
        storage: checker::divergence(&e.rb.order, &e.h.keys, e.h.num_keys),
        safety: e.safety.clone(),
        stored_from_retries: retry.stored_from_retries.unwrap_or(0),
        retry_reorders: retry.retry_reorders.unwrap_or(0),
        retry_keys_affected: retry.keys_affected.unwrap_or(0),
        ..Default::default()
    }
}

/// `field: streaming X, end of run Y` for every figure that differs (the storage order, safety
/// and the retry figures; not what only the follower counts: `read`, `key_mismatches`).
fn differences(streamed: &StreamFigures, end: &StreamFigures) -> Vec<String> {
    let judged = |f: &StreamFigures| {
        let mut v = serde_json::to_value(f).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.remove("read");
            o.remove("key_mismatches");
        }
        v
    };
    let mut out = Vec::new();
    diff("", &judged(streamed), &judged(end), &mut out);
    out
}

fn diff(path: &str, a: &serde_json::Value, b: &serde_json::Value, out: &mut Vec<String>) {
    use serde_json::Value::Object;
    match (a, b) {
        (Object(x), Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            let null = serde_json::Value::Null;
            for k in keys {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                diff(
                    &p,
                    x.get(k).unwrap_or(&null),
                    y.get(k).unwrap_or(&null),
                    out,
                );
            }
        }
        _ if a != b => out.push(format!("{path}: streaming {a}, end of run {b}")),
        _ => {}
    }
}
