//! The phase: its state ([`Phase`]) and bound ([`Bound`]), the steps every mode's loop shares
//! (the next message, its first attempt, a failed client, the end of publishing), and the loop
//! of sync and async mode: publishes at the pacer's times, sends due retries before new
//! messages, and drains the acks still in flight once publishing stops.
//!
//! The loop itself only decides *what* goes out next and *when*; sending one attempt and
//! recording its outcome is `send.rs`, the retry queue is `retry.rs`. Batch and fast mode have
//! loops of their own (`batch/`, `fast/`), built on this file; `run.rs` picks the loop.

use std::sync::atomic::Ordering;

use futures::stream::FuturesUnordered;

use super::ack::Attempt;
use super::guard::{Guard, Parked};
use super::inflight::Inflight;
use super::retry::Retries;
use super::{Limit, Publisher, Stop};
use crate::record::history::History;
use crate::record::observe::Recorder;
use crate::scenario::Mode;
use crate::workload::{KeyGen, Tagger};

/// Consecutive publishes the client refuses to queue before the phase gives up. Queueing only
/// fails at once when the client is closed for good; a slow or reconnecting connection makes
/// publishes wait (up to the ack timeout), not fail.
const MAX_CONSECUTIVE_SEND_FAILURES: u32 = 100;

/// The mutable state of one phase.
pub(super) struct Phase<'h> {
    pub warmup: bool,
    pub history: &'h mut History,
    pub rec: &'h mut Recorder,
    /// Attempts not yet settled, on the phase's publish path (async mode; sync mode awaits
    /// each one in turn).
    pub inflight: Inflight,
    pub retries: Retries,
    /// Publishes the client refused to queue (or fast batches it could not start) in a row (see
    /// `MAX_CONSECUTIVE_SEND_FAILURES`).
    pub send_failures: u32,
    /// Gives each attempt its payload and headers in the run's wire format.
    pub tagger: Tagger,
    /// The per-key sequence guard, when the scenario asks for it.
    pub guard: Option<Guard>,
    /// A reply that makes publishing on pointless (e.g. the server does not know batches, or
    /// fast ingest).
    pub fatal: Option<String>,
    /// Per key: the sequence number of its latest message.
    seq: Vec<u32>,
}

/// Where a phase ends: after `max` messages, or at `deadline_ns` if that comes first.
pub(super) struct Bound {
    start_ns: u64,
    deadline_ns: Option<u64>,
    max: u64,
}

impl<'h> Phase<'h> {
    /// A phase about to publish into `history` and `rec`.
    pub fn new(
        p: &Publisher<'_>,
        warmup: bool,
        history: &'h mut History,
        rec: &'h mut Recorder,
    ) -> Phase<'h> {
        let keys = history.num_keys;
        Phase {
            warmup,
            seq: vec![0u32; keys as usize],
            history,
            rec,
            inflight: Inflight::Futures(FuturesUnordered::new()),
            retries: Retries::default(),
            send_failures: 0,
            tagger: Tagger::new(p.wire, p.payload_size),
            guard: p.expect_last_subject_seq.then(|| Guard::new(keys)),
            fatal: None,
        }
    }
}

impl Bound {
    pub(super) fn new(limit: Limit, start_ns: u64) -> Bound {
        let (deadline_ns, max) = match limit {
            Limit::Messages(n) => (None, n),
            Limit::Duration { duration, max } => (Some(start_ns + duration.as_nanos() as u64), max),
        };
        Bound {
            start_ns,
            deadline_ns,
            max,
        }
    }

    /// Why the phase stops once all `max` messages are out.
    fn exhausted(&self) -> Stop {
        if self.deadline_ns.is_some() {
            Stop::MaxMessages
        } else {
            Stop::Done
        }
    }
}

/// What the phase loop does about the retry due first.
pub(super) enum RetryStep {
    /// Sync mode: block until it is due, as a blocking application would.
    Wait(u64),
    /// It is due: send it now.
    Send(Attempt),
}

impl Publisher<'_> {
    /// Publishes until the bound, a cancel or a failed client stops it; returns why.
    pub(super) async fn publish(
        &self,
        st: &mut Phase<'_>,
        bound: &Bound,
        keygen: &mut KeyGen,
    ) -> Stop {
        let clock = *self.tap.clock();
        let mut i: u64 = 0;
        loop {
            if self.cancel.is_requested() {
                return Stop::Cancelled;
            }
            if let Some(why) = self.client_failed(st) {
                return why;
            }
            // Retries first: a due one goes out before any new message.
            match self.retry_step(st) {
                Some(RetryStep::Wait(due_ns)) => {
                    self.wait_until(st, due_ns).await;
                    continue;
                }
                Some(RetryStep::Send(a)) => {
                    self.send(st, a).await;
                    continue;
                }
                None => {}
            }
            // Then a parked message whose key has settled: it is older than any new one.
            if let Some(p) = st.guard.as_mut().and_then(Guard::next_ready) {
                let a = self.first_attempt(st, p.idx as u64, p.intended_ns);
                self.send(st, a).await;
                continue;
            }
            let intended_ns = match self.next_message(st, bound, i, keygen) {
                Ok(at) => at,
                Err(stop) => return stop,
            };
            let key = st.history.keys.get(i as usize);
            if let Some(g) = st.guard.as_mut().filter(|g| g.is_busy(key)) {
                // The key's previous message is not settled, so its sequence is not known yet:
                // park this one and go on with other keys, while the window has room.
                if g.parked() + st.inflight.len() >= self.window {
                    self.wait_turn(st).await;
                } else {
                    g.park(
                        key,
                        Parked {
                            idx: i as u32,
                            intended_ns,
                        },
                    );
                    i += 1;
                }
                continue;
            }
            // Open loop: wait for the intended send time, completing acks meanwhile.
            if self.pacer.is_open_loop() && clock.now_ns() < intended_ns {
                self.wait_until(st, intended_ns).await;
                if clock.now_ns() < intended_ns {
                    // Woken early by a due retry or a cancel: go round again.
                    continue;
                }
            }
            let a = self.first_attempt(st, i, intended_ns);
            self.send(st, a).await;
            if self
                .repeat_every
                .is_some_and(|n| (i + 1).is_multiple_of(n as u64))
            {
                self.send(st, Attempt { attempt: 0, ..a }).await;
            }
            if let Some(p) = self.progress {
                p.published.store(i + 1, Ordering::Relaxed);
            }
            i += 1;
        }
    }

    /// What to do about the retry due first: nothing yet (async mode, not due), wait for it
    /// (sync mode), or send it (due; taken off the queue).
    pub(super) fn retry_step(&self, st: &mut Phase<'_>) -> Option<RetryStep> {
        let r = st.retries.peek()?;
        let now = self.tap.clock().now_ns();
        if r.due_ns > now {
            return (self.mode == Mode::Sync).then_some(RetryStep::Wait(r.due_ns));
        }
        st.retries.pop();
        Some(RetryStep::Send(r.attempt(self.router, &st.history.keys)))
    }

    /// The intended send time of message `i` (its key drawn if the phase is duration-bound),
    /// or why the phase stops before it.
    pub(super) fn next_message(
        &self,
        st: &mut Phase<'_>,
        bound: &Bound,
        i: u64,
        keygen: &mut KeyGen,
    ) -> Result<u64, Stop> {
        if i >= bound.max {
            return Err(bound.exhausted());
        }
        let intended_ns = bound.start_ns + self.pacer.intended_ns(i);
        if let Some(deadline) = bound.deadline_ns {
            if self.tap.clock().now_ns() >= deadline || intended_ns >= deadline {
                return Err(Stop::Elapsed);
            }
        }
        if i as usize >= st.history.planned() {
            // Duration-bound: grow geometrically, bounded by `max`.
            let more = (st.history.planned().max(1 << 16)).min((bound.max - i) as usize);
            st.history.extend_keys(&keygen.take(more));
        }
        Ok(intended_ns)
    }

    /// The first attempt of message `i`: the next sequence number of its key, its connection,
    /// and the message counted as published.
    pub(super) fn first_attempt(&self, st: &mut Phase<'_>, i: u64, intended_ns: u64) -> Attempt {
        let key = st.history.keys.get(i as usize);
        st.seq[key as usize] += 1;
        let a = Attempt {
            idx: i as u32,
            attempt: 1,
            seq: st.seq[key as usize],
            conn: self.router.route(i, key),
            intended_ns,
        };
        // A parked message goes out after later ones: `published` counts up to the latest.
        st.history.published = st.history.published.max(i + 1);
        st.rec.timeline.publish(self.tap.clock().now_ns());
        if let Some(g) = st.guard.as_mut() {
            g.start(key);
        }
        a
    }

    /// Sends every parked message as its key settles (the end of a guarded phase).
    pub(super) async fn send_parked(&self, st: &mut Phase<'_>) {
        while st.guard.as_ref().is_some_and(|g| g.parked() > 0) {
            if self.cancel.is_requested() || self.client_failed(st).is_some() {
                return;
            }
            match self.retry_step(st) {
                Some(RetryStep::Wait(due_ns)) => self.wait_until(st, due_ns).await,
                Some(RetryStep::Send(a)) => self.send(st, a).await,
                None => match st.guard.as_mut().and_then(Guard::next_ready) {
                    Some(p) => {
                        let a = self.first_attempt(st, p.idx as u64, p.intended_ns);
                        self.send(st, a).await;
                    }
                    None => self.wait_turn(st).await,
                },
            }
        }
    }

    /// Waits for one thing that may settle a busy key: an ack, or a retry falling due (the loop
    /// sends it). With neither pending nothing can settle it, so no key stays busy.
    async fn wait_turn(&self, st: &mut Phase<'_>) {
        let clock = *self.tap.clock();
        let retry_due = st.retries.next_due();
        match (st.inflight.is_empty(), retry_due) {
            (true, None) => {
                if let Some(g) = st.guard.as_mut() {
                    g.settle_all();
                }
            }
            (true, Some(due)) => tokio::time::sleep_until(clock.instant_at(due).into()).await,
            (false, due) => {
                let retry_at = clock.instant_at(due.unwrap_or(0));
                tokio::select! {
                    biased;
                    Some(c) = st.inflight.next() => self.complete(c, st),
                    _ = tokio::time::sleep_until(retry_at.into()), if due.is_some() => {}
                }
            }
        }
    }

    /// Drain: every ack future ends by its own timeout; due retries still go out (the nemesis
    /// has healed its faults by now). A second Ctrl-C stops waiting.
    pub(super) async fn drain(&self, st: &mut Phase<'_>) {
        let clock = *self.tap.clock();
        let urgent = self.cancel.reached(2);
        tokio::pin!(urgent);
        loop {
            let next_retry = st.retries.next_due();
            let idle = st.inflight.is_empty();
            if idle && (next_retry.is_none() || self.cancel.is_requested()) {
                break;
            }
            let retry_at = clock.instant_at(next_retry.unwrap_or(0));
            tokio::select! {
                biased;
                _ = &mut urgent => break,
                Some(c) = st.inflight.next(), if !st.inflight.is_empty() => self.complete(c, st),
                _ = tokio::time::sleep_until(retry_at.into()), if next_retry.is_some() => {
                    let Some(r) = st.retries.pop() else { continue };
                    if self.cancel.is_requested() || self.client_failed(st).is_some() {
                        // No new attempts once the run is cancelled or the client is gone:
                        // the message keeps its last attempt's outcome.
                        continue;
                    }
                    let a = r.attempt(self.router, &st.history.keys);
                    self.send(st, a).await;
                }
            }
        }
    }

    /// Publishing stopped (before the drain): the nemesis heals its faults now. Said once per
    /// phase or more (batch mode says it before draining its batches); the nemesis only waits
    /// for the flag to be true.
    pub(super) fn publishing_stopped(&self) {
        if let Some(s) = self.stopped {
            s.send_replace(true);
        }
    }

    /// `Some` once the client has refused too many publishes in a row (see [`Stop`]).
    pub(super) fn client_failed(&self, st: &Phase) -> Option<Stop> {
        (st.send_failures >= MAX_CONSECUTIVE_SEND_FAILURES).then(|| {
            Stop::ClientFailed(format!(
                "the client refused {} publishes in a row (it has given up on the connection)",
                st.send_failures
            ))
        })
    }

    /// Waits until `at_ns` on the run clock, completing acks meanwhile; returns early when a
    /// retry falls due first (async mode) or the run is cancelled.
    async fn wait_until(&self, st: &mut Phase<'_>, at_ns: u64) {
        let clock = *self.tap.clock();
        loop {
            let retry_due = match self.mode {
                Mode::Async => st.retries.next_due(),
                Mode::Sync | Mode::Batch | Mode::Fast => None,
            };
            let until = retry_due.map_or(at_ns, |r| r.min(at_ns));
            if clock.now_ns() >= until || self.cancel.is_requested() {
                return;
            }
            let sleep = tokio::time::sleep_until(clock.instant_at(until).into());
            if st.inflight.is_empty() {
                sleep.await;
            } else {
                tokio::select! {
                    biased;
                    Some(c) = st.inflight.next() => self.complete(c, st),
                    _ = sleep => {}
                }
            }
        }
    }
}
