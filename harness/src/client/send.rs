//! One attempt on the wire and its outcome: the publisher's per-message hot path.
//!
//! [`Publisher::send`] builds the message, queues it on its connection and follows its ack
//! future through the tap ([`Tapped`]); [`Publisher::complete`] records what came back into the
//! history and the recorder, and queues a retry when the plan allows one. Both run once per
//! message at full rate, so they stay lean: no locks, no logging, and the only await points are
//! queueing the publish and waiting for acks. The small per-message helpers that live in other
//! files (`Tapped::new`, `Tapped::prime`, the retry queue's `peek`) are `#[inline]` so that
//! splitting the code into files costs no extra calls.

use std::sync::atomic::Ordering;

use async_nats::header::{HeaderMap, HeaderValue, NATS_EXPECTED_LAST_SUBJECT_SEQUENCE};
use async_nats::jetstream::context::{PublishError, PublishErrorKind};
use async_nats::jetstream::message::PublishMessage;
use async_nats::Subject;
use bytes::Bytes;

use super::ack::{Attempt, Completion, Tapped};
use super::inflight::Inflight;
use super::phase::Phase;
use super::{error_name, reply_code, Publisher, DUPLICATE_IN_PROCESS};
use crate::record::history::{AttemptRecord, Outcome};
use crate::scenario::{Mode, OnInProcess};
use crate::workload::Tag;

impl Publisher<'_> {
    /// Sends one attempt and, in sync mode, waits for its outcome; in async mode, waits only
    /// while the window is full. The attempt goes out on the phase's publish path: the
    /// JetStream context (an ack future, followed through the tap) or the lean window.
    pub(super) async fn send(&self, st: &mut Phase<'_>, a: Attempt) {
        let clock = *self.tap.clock();
        let (subject, payload, headers) = self.parts(st, &a);
        let send_ns = clock.now_ns();
        let sent = match &mut st.inflight {
            Inflight::Futures(_) => {
                let msg = message(payload, headers);
                let ctx = &self.contexts[a.conn];
                ctx.send_publish(subject, msg).await.map(Some)
            }
            Inflight::Lean(w) => w
                .publish(&a, subject, payload, headers, send_ns)
                .await
                .map(|()| None),
        };
        // A repeat is not an attempt of the message's own: it leaves the message's columns alone.
        let repeat = a.attempt == REPEAT;
        if !repeat {
            st.history.record_send(a.idx, a.attempt, send_ns);
        }
        if a.attempt == 1 {
            if let Some(h) = st.rec.send_delay.as_mut() {
                h.record(send_ns, send_ns.saturating_sub(a.intended_ns).max(1));
            }
        }
        let fut = match sent {
            Ok(fut) => fut,
            Err(e) => {
                // Not queued (e.g. the connection is gone): the client knows it was not sent,
                // unless queueing itself timed out, where it cannot be sure.
                st.send_failures += 1;
                self.complete(Completion::refused(&a, send_ns, clock.now_ns(), e), st);
                record_call(st, repeat, send_ns, clock.now_ns());
                return;
            }
        };
        st.send_failures = 0;
        if !repeat {
            st.history.set_outcome(a.idx as usize, Outcome::InFlight);
        }
        if let Some(fut) = fut {
            let mut t = Tapped::new(fut, &self.tap, &a, send_ns);
            if self.mode == Mode::Sync {
                let c = (&mut t).await;
                self.complete(c, st);
                record_call(st, repeat, send_ns, clock.now_ns());
                return;
            }
            // Poll once now so the reply's arrival is timed by the tap even if the
            // collection does not poll this future for a while. A result that is already
            // there is kept and handed out by the collection in its own order, as an
            // application would see it.
            t.prime();
            if let Inflight::Futures(f) = &mut st.inflight {
                f.push(t);
            }
        }
        // Sync mode on the lean path waits for this attempt's reply (the only one in flight).
        let room = if self.mode == Mode::Sync {
            1
        } else {
            self.window
        };
        while st.inflight.len() >= room {
            match st.inflight.next().await {
                Some(c) => self.complete(c, st),
                None => break,
            }
        }
        // The call returns here: after the ack (sync), or once queued with a free slot (async).
        record_call(st, repeat, send_ns, clock.now_ns());
    }

    /// The subject, payload and headers of one attempt: the payload and headers in the run's
    /// wire format (run, key, sequence, index, connection, attempt) and, when asked, a message id.
    #[inline]
    pub(super) fn parts(
        &self,
        st: &mut Phase<'_>,
        a: &Attempt,
    ) -> (Subject, Bytes, Option<HeaderMap>) {
        let key = st.history.keys.get(a.idx as usize);
        let key_name = &self.key_names[key as usize];
        // Stable per logical message (a retry reuses it); the phase keeps warm-up ids apart.
        let id = self.msg_id.then(|| {
            let phase = if st.warmup { "w" } else { "m" };
            format!("{}-{phase}-{}-{}", self.run_id, key_name, a.seq)
        });
        let (payload, headers) = st.tagger.tag(Tag {
            run: self.run_id,
            key,
            key_name,
            seq: a.seq,
            idx: a.idx,
            conn: a.conn,
            attempt: a.attempt as u32,
            msg_id: id,
        });
        let headers = match st.guard.as_ref() {
            Some(g) => {
                let mut h = headers.unwrap_or_default();
                let expected = HeaderValue::from(g.expected(key));
                h.insert(NATS_EXPECTED_LAST_SUBJECT_SEQUENCE, expected);
                Some(h)
            }
            None => headers,
        };
        (self.subjects.get(st.warmup, key), payload, headers)
    }

    /// Records one finished attempt: an ack into the history and the latency recorders, a
    /// failure into the history's attempt log (and the retry queue when the plan allows).
    #[inline]
    pub(super) fn complete(&self, c: Completion, st: &mut Phase<'_>) {
        let ack_ns = if c.ack_ns == 0 {
            self.tap.clock().now_ns()
        } else {
            c.ack_ns
        };
        if c.attempt == REPEAT {
            record_repeat(c, ack_ns, st);
            return;
        }
        let history = &mut *st.history;
        let rec = &mut *st.rec;
        match &c.result {
            Ok(ack) => {
                if let Some(g) = st.guard.as_mut() {
                    g.acked(history.keys.get(c.idx as usize), ack.sequence);
                }
                history.record_ack(c.idx, ack.sequence, ack.duplicate, c.rank);
                history.record_ack_time(c.idx, ack_ns);
                if c.attempt > 1 {
                    let outcome = if ack.duplicate {
                        Outcome::Duplicate
                    } else {
                        Outcome::Ok
                    };
                    history
                        .attempt_log
                        .push(c.attempt_record(ack_ns, outcome, "", 0));
                }
                rec.publish_ack
                    .record(ack_ns, ack_ns.saturating_sub(c.send_ns).max(1));
                if let Some(h) = rec.intended_ack.as_mut() {
                    h.record(ack_ns, ack_ns.saturating_sub(c.intended_ns).max(1));
                }
                rec.timeline.ack(ack_ns);
                let n = history.completion.len() as u64;
                if n & 1023 == 0 {
                    if let Some(p) = self.progress {
                        p.acked.store(n, Ordering::Relaxed);
                    }
                }
            }
            Err(e) => {
                let (outcome, code, kind) = classify(e);
                history.record_failure(c.idx, outcome, kind);
                history
                    .attempt_log
                    .push(c.attempt_record(ack_ns, outcome, kind, code));
                // Trusting an in-process reply stops here; retrying it learns the outcome (a
                // deposed leader drops what it had in process: see OnInProcess).
                let trusted =
                    outcome == Outcome::InProcess && self.retry.on_in_process == OnInProcess::Trust;
                let retry = !trusted
                    && (c.attempt as u32) < self.retry.attempts
                    && !self.cancel.is_requested();
                if let Some(g) = st.guard.as_mut() {
                    let key = history.keys.get(c.idx as usize);
                    if outcome == Outcome::Rejected {
                        g.rejected(key, &source_text(e));
                    }
                    if !retry {
                        g.settled(key);
                    }
                }
                if retry {
                    st.retries.schedule(&self.retry, &c, ack_ns);
                }
            }
        }
        rec.ended_ns = rec.ended_ns.max(ack_ns);
    }
}

/// The JetStream context's message of one attempt.
#[inline]
fn message(payload: Bytes, headers: Option<HeaderMap>) -> PublishMessage {
    let msg = PublishMessage::build().payload(payload);
    match headers {
        Some(h) => msg.headers(h),
        None => msg,
    }
}

/// The attempt number of a deliberate repeat (see [`super::ack::Attempt`]).
const REPEAT: u8 = 0;

/// A repeat's reply goes to the attempt log only (its kind and wire rank: reply overtaking),
/// never into the message's own columns, latency or timeline.
fn record_repeat(c: Completion, end_ns: u64, st: &mut Phase<'_>) {
    let (outcome, code, error) = match &c.result {
        Ok(ack) if ack.duplicate => (Outcome::Duplicate, 0, ""),
        Ok(_) => (Outcome::Ok, 0, ""),
        Err(e) => classify(e),
    };
    st.history.repeats += 1;
    st.history
        .attempt_log
        .push(c.attempt_record(end_ns, outcome, error, code));
}

/// A failed attempt's outcome, reply code and error name. A timeout is unknown (it may be
/// stored); "duplicate message id is in process" is in process (an earlier attempt is proposed,
/// not committed: the outcome is not known yet); anything else failed.
fn classify(e: &PublishError) -> (Outcome, u32, &'static str) {
    let code = reply_code(e);
    let outcome = match (e.kind(), code) {
        (PublishErrorKind::TimedOut, _) => Outcome::Unknown,
        (_, DUPLICATE_IN_PROCESS) => Outcome::InProcess,
        (PublishErrorKind::WrongLastSequence, _) => Outcome::Rejected,
        _ => Outcome::Fail,
    };
    (outcome, code, error_name(e.kind(), code))
}

/// The server's words behind an error reply (e.g. "wrong last sequence: 42 (code 400, …)").
fn source_text(e: &PublishError) -> String {
    std::error::Error::source(e).map_or_else(String::new, |s| s.to_string())
}

impl Completion {
    /// This attempt as a line of the attempt log.
    fn attempt_record(
        &self,
        end_ns: u64,
        outcome: Outcome,
        error: &'static str,
        code: u32,
    ) -> AttemptRecord {
        AttemptRecord {
            idx: self.idx,
            attempt: self.attempt,
            conn: self.conn,
            send_ns: self.send_ns,
            end_ns,
            outcome,
            error,
            code,
            rank: self.rank,
        }
    }
}

/// Records how long one publish call blocked (deliberate repeats are not the application's calls).
#[inline]
fn record_call(st: &mut Phase<'_>, repeat: bool, send_ns: u64, now_ns: u64) {
    if !repeat {
        st.rec
            .publish_call
            .record(now_ns, now_ns.saturating_sub(send_ns).max(1));
    }
}
