//! The client (Jepsen's word): publishes the workload through async-nats' JetStream API, the way
//! an application does, and records what happens to every message.
//!
//! Sync mode awaits each ack before the next publish. Async mode keeps up to `max_in_flight` ack
//! futures in a `FuturesUnordered` (the usual application pattern), so "completion order" is the
//! order that collection yields them. "Wire order" — the order ack replies reach the client — is
//! observed without an extra subscription: each ack future is polled through [`Tapped`], whose
//! waker takes an arrival rank from a shared counter at the moment the client's connection task
//! hands the reply to the future (one atomic add). That moment is in socket order, so the ranks
//! give wire order even when the application completes futures in another order.

pub mod pool;

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use async_nats::jetstream::context::{PublishAckFuture, PublishErrorKind};
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::publish::PublishAck;
use async_nats::jetstream::{self, context::PublishError};
use bytes::Bytes;
use futures::stream::FuturesUnordered;
use futures::task::AtomicWaker;
use futures::StreamExt;
use tokio::sync::watch;

use crate::cancel::Cancel;
use crate::client::pool::Router;
use crate::record::history::{AttemptRecord, History, Outcome, NONE};
use crate::record::observe::{Progress, Recorder, WireTap};
use crate::scenario::{Mode, RetryPlan};
use crate::workload::{HeaderBuilder, KeyGen, Pacer, Subjects};

/// How a phase is bounded.
#[derive(Debug, Clone, Copy)]
pub enum Limit {
    Messages(u64),
    /// Publish until the duration has elapsed, but never more than `max` messages.
    Duration {
        duration: Duration,
        max: u64,
    },
}

/// Why a phase stopped publishing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// All planned messages were published.
    Done,
    /// The duration elapsed.
    Elapsed,
    /// A duration-bound run hit its message bound first.
    MaxMessages,
    /// Cancelled from outside (Ctrl-C).
    Cancelled,
    /// The client could not even queue messages any more (e.g. it gave up reconnecting to a
    /// server that died); publishing on would only spin through failures.
    ClientFailed(String),
}

/// Consecutive publishes the client refuses to queue before the phase gives up. Queueing only
/// fails at once when the client is closed for good; a slow or reconnecting connection makes
/// publishes wait (up to the ack timeout), not fail.
const MAX_CONSECUTIVE_SEND_FAILURES: u32 = 100;

/// Everything the publisher needs; borrowed from the runner.
pub struct Publisher<'a> {
    pub contexts: &'a [jetstream::Context],
    pub router: &'a Router,
    pub subjects: &'a Subjects,
    pub run_id: &'a str,
    pub key_names: &'a [String],
    pub payload: Bytes,
    pub mode: Mode,
    pub window: usize,
    pub msg_id: bool,
    pub pacer: Pacer,
    pub tap: Arc<WireTap>,
    pub cancel: &'a Cancel,
    pub progress: Option<&'a Progress>,
    /// What to do when an attempt fails or times out.
    pub retry: RetryPlan,
    /// Set to true when publishing stops (before the drain): the nemesis heals its faults then.
    pub stopped: Option<&'a watch::Sender<bool>>,
}

/// A retry waiting for its backoff to pass. Ordered by due time (then index) for the heap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Retry {
    due_ns: u64,
    idx: u32,
    /// The attempt to send (2 for the first retry).
    attempt: u8,
    seq: u32,
}

/// The mutable state of one phase.
struct Phase<'h> {
    warmup: bool,
    history: &'h mut History,
    rec: &'h mut Recorder,
    inflight: FuturesUnordered<Tapped>,
    retries: BinaryHeap<Reverse<Retry>>,
    send_failures: u32,
    hb: HeaderBuilder,
}

/// One finished ack future.
struct Completion {
    idx: u32,
    attempt: u8,
    seq: u32,
    conn: u16,
    send_ns: u64,
    intended_ns: u64,
    rank: u32,
    ack_ns: u64,
    result: Result<PublishAck, PublishError>,
}

/// What identifies one attempt of one message.
#[derive(Debug, Clone, Copy)]
struct Attempt {
    idx: u32,
    attempt: u8,
    seq: u32,
    conn: usize,
    intended_ns: u64,
}

/// Per-message state shared between the ack future's waker and the publisher.
struct AckSlot {
    tap: Arc<WireTap>,
    rank: AtomicU32,
    ack_ns: AtomicU64,
    /// The waker of whoever polls the future (FuturesUnordered, or the sync await).
    outer: AtomicWaker,
}

impl AckSlot {
    /// Records the first wake-up: that is when the reply (or the timeout) arrived.
    fn mark_arrival(&self) {
        if self.rank.load(Ordering::Relaxed) == NONE {
            let (rank, at) = self.tap.arrive();
            if self
                .rank
                .compare_exchange(NONE, rank, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                self.ack_ns.store(at, Ordering::Release);
            }
        }
    }
}

impl Wake for AckSlot {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.mark_arrival();
        self.outer.wake();
    }
}

/// An ack future that records when its reply arrived (see the module comment).
struct Tapped {
    inner: tokio::task::coop::Unconstrained<<PublishAckFuture as IntoFuture>::IntoFuture>,
    slot: Arc<AckSlot>,
    waker: Waker,
    idx: u32,
    attempt: u8,
    seq: u32,
    conn: u16,
    send_ns: u64,
    intended_ns: u64,
    /// A completion found by `prime`, handed out on the next poll.
    ready: Option<Completion>,
}

impl Tapped {
    fn new(fut: PublishAckFuture, tap: &Arc<WireTap>, a: &Attempt, send_ns: u64) -> Tapped {
        let slot = Arc::new(AckSlot {
            tap: tap.clone(),
            rank: AtomicU32::new(NONE),
            ack_ns: AtomicU64::new(0),
            outer: AtomicWaker::new(),
        });
        Tapped {
            // Unconstrained: when a task's cooperative budget runs out, tokio's oneshot and timer
            // return Pending and wake the task at once. That self-wake would look like an
            // arrival to the tap; outside the budget, only the reply (or the timeout) wakes us.
            inner: tokio::task::coop::unconstrained(fut.into_future()),
            waker: Waker::from(slot.clone()),
            slot,
            idx: a.idx,
            attempt: a.attempt,
            seq: a.seq,
            conn: a.conn as u16,
            send_ns,
            intended_ns: a.intended_ns,
            ready: None,
        }
    }

    /// Polls the ack future once without an outer waker: registers the tap's waker with the
    /// client before the reply can arrive (or catches a reply that already did).
    fn prime(&mut self) {
        if let Poll::Ready(c) = self.poll_inner(None) {
            self.ready = Some(c);
        }
    }

    fn poll_inner(&mut self, outer: Option<&Waker>) -> Poll<Completion> {
        if let Some(w) = outer {
            self.slot.outer.register(w);
        }
        let mut inner_cx = Context::from_waker(&self.waker);
        match Pin::new(&mut self.inner).poll(&mut inner_cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(result) => {
                // Ready on a poll without a wake-up: the reply was already there. No later
                // message has been published yet, so its rank is still in wire order.
                self.slot.mark_arrival();
                Poll::Ready(Completion {
                    idx: self.idx,
                    attempt: self.attempt,
                    seq: self.seq,
                    conn: self.conn,
                    send_ns: self.send_ns,
                    intended_ns: self.intended_ns,
                    rank: self.slot.rank.load(Ordering::Acquire),
                    ack_ns: self.slot.ack_ns.load(Ordering::Acquire),
                    result,
                })
            }
        }
    }
}

impl Future for Tapped {
    type Output = Completion;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Completion> {
        let this = &mut *self;
        if let Some(c) = this.ready.take() {
            return Poll::Ready(c);
        }
        this.poll_inner(Some(cx.waker()))
    }
}

/// A short, stable name for an error kind (result.json `errors`).
pub fn error_kind_name(kind: PublishErrorKind) -> &'static str {
    match kind {
        PublishErrorKind::StreamNotFound => "stream_not_found",
        PublishErrorKind::WrongLastMessageId => "wrong_last_message_id",
        PublishErrorKind::WrongLastSequence => "wrong_last_sequence",
        PublishErrorKind::TimedOut => "timed_out",
        PublishErrorKind::BrokenPipe => "broken_pipe",
        PublishErrorKind::MaxAckPending => "max_ack_pending",
        PublishErrorKind::MaxPayloadExceeded => "max_payload_exceeded",
        _ => "other",
    }
}

impl Publisher<'_> {
    /// Publishes one phase (warm-up or measured) into `history` and `rec`.
    ///
    /// `history` must already hold the keys of a message-bound phase; a duration-bound phase
    /// draws more keys from `keygen` as it goes. Retries (when the plan has them) are sent
    /// before new messages once their backoff has passed; in sync mode the publisher waits for
    /// them, as a blocking application would.
    pub async fn run_phase(
        &self,
        warmup: bool,
        limit: Limit,
        keygen: &mut KeyGen,
        history: &mut History,
        rec: &mut Recorder,
    ) -> Stop {
        let clock = *self.tap.clock();
        let phase_start = clock.now_ns();
        rec.start_at(phase_start);
        let mut seq = vec![0u32; history.num_keys as usize];
        let mut st = Phase {
            warmup,
            history,
            rec,
            inflight: FuturesUnordered::new(),
            retries: BinaryHeap::new(),
            send_failures: 0,
            hb: HeaderBuilder::default(),
        };
        let (deadline_ns, max) = match limit {
            Limit::Messages(n) => (None, n),
            Limit::Duration { duration, max } => {
                (Some(phase_start + duration.as_nanos() as u64), max)
            }
        };
        let mut i: u64 = 0;

        let stop = loop {
            if self.cancel.is_requested() {
                break Stop::Cancelled;
            }
            if let Some(why) = self.client_failed(&st) {
                break why;
            }
            // Retries first: a due one goes out before any new message.
            if let Some(Reverse(r)) = st.retries.peek().copied() {
                let now = clock.now_ns();
                if r.due_ns <= now || self.mode == Mode::Sync {
                    if r.due_ns > now {
                        self.wait_until(&mut st, r.due_ns).await;
                        continue;
                    }
                    st.retries.pop();
                    let a = self.retry_attempt(r, &st.history.keys, now);
                    self.send(&mut st, a).await;
                    continue;
                }
            }
            if i >= max {
                break if deadline_ns.is_some() {
                    Stop::MaxMessages
                } else {
                    Stop::Done
                };
            }
            let intended_ns = phase_start + self.pacer.intended_ns(i);
            if let Some(deadline) = deadline_ns {
                if clock.now_ns() >= deadline || intended_ns >= deadline {
                    break Stop::Elapsed;
                }
            }
            if i as usize >= st.history.planned() {
                // Duration-bound: grow geometrically, bounded by `max`.
                let more = (st.history.planned().max(1 << 16)).min((max - i) as usize);
                st.history.extend_keys(&keygen.take(more));
            }

            // Open loop: wait for the intended send time, completing acks meanwhile.
            if self.pacer.is_open_loop() && clock.now_ns() < intended_ns {
                self.wait_until(&mut st, intended_ns).await;
                if clock.now_ns() < intended_ns {
                    // Woken early by a due retry or a cancel: go round again.
                    continue;
                }
            }

            let key = st.history.keys[i as usize];
            seq[key as usize] += 1;
            let a = Attempt {
                idx: i as u32,
                attempt: 1,
                seq: seq[key as usize],
                conn: self.router.route(i, key),
                intended_ns,
            };
            st.history.published = i + 1;
            st.rec.timeline.publish(clock.now_ns());
            self.send(&mut st, a).await;
            if let Some(p) = self.progress {
                p.published.store(i + 1, Ordering::Relaxed);
            }
            i += 1;
        };
        if let Some(s) = self.stopped {
            s.send_replace(true);
        }

        // Drain: every ack future ends by its own timeout; due retries still go out (the
        // nemesis has healed its faults by now). A second Ctrl-C stops waiting.
        let urgent = self.cancel.reached(2);
        tokio::pin!(urgent);
        loop {
            let next_retry = st.retries.peek().map(|Reverse(r)| r.due_ns);
            if st.inflight.is_empty() && next_retry.is_none() {
                break;
            }
            if self.cancel.is_requested() && st.inflight.is_empty() {
                break;
            }
            let retry_at = clock.instant_at(next_retry.unwrap_or(0));
            tokio::select! {
                biased;
                _ = &mut urgent => break,
                Some(c) = st.inflight.next(), if !st.inflight.is_empty() => self.complete(c, &mut st),
                _ = tokio::time::sleep_until(retry_at.into()), if next_retry.is_some() => {
                    let Some(Reverse(r)) = st.retries.pop() else { continue };
                    if self.cancel.is_requested() || self.client_failed(&st).is_some() {
                        // No new attempts once the run is cancelled or the client is gone:
                        // the message keeps its last attempt's outcome.
                        continue;
                    }
                    let a = self.retry_attempt(r, &st.history.keys, clock.now_ns());
                    self.send(&mut st, a).await;
                }
            }
        }
        if let Some(p) = self.progress {
            p.acked
                .store(st.history.completion.len() as u64, Ordering::Relaxed);
        }
        st.rec.finish();
        stop
    }

    /// The attempt a due retry sends: same key, per-key sequence and connection as the first.
    fn retry_attempt(&self, r: Retry, keys: &[u32], now_ns: u64) -> Attempt {
        Attempt {
            idx: r.idx,
            attempt: r.attempt,
            seq: r.seq,
            conn: self.router.route(r.idx as u64, keys[r.idx as usize]),
            intended_ns: now_ns,
        }
    }

    /// `Some` once the client has refused too many publishes in a row (see [`Stop`]).
    fn client_failed(&self, st: &Phase) -> Option<Stop> {
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
                Mode::Async => st.retries.peek().map(|Reverse(r)| r.due_ns),
                Mode::Sync => None,
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

    /// Sends one attempt and, in sync mode, waits for its outcome; in async mode, waits only
    /// while the window is full.
    async fn send(&self, st: &mut Phase<'_>, a: Attempt) {
        let clock = *self.tap.clock();
        let key = st.history.keys[a.idx as usize];
        let key_name = &self.key_names[key as usize];
        // Stable per logical message (a retry reuses it); the phase keeps warm-up ids apart.
        let id = self.msg_id.then(|| {
            let phase = if st.warmup { "w" } else { "m" };
            format!("{}-{phase}-{}-{}", self.run_id, key_name, a.seq)
        });
        let h = st.hb.build(
            self.run_id,
            key_name,
            a.seq as u64,
            a.idx as u64,
            a.conn,
            a.attempt as u32,
            id,
        );
        let msg = PublishMessage::build()
            .payload(self.payload.clone())
            .headers(h);
        let subject = self.subjects.get(st.warmup, key);

        let send_ns = clock.now_ns();
        let sent = self.contexts[a.conn].send_publish(subject, msg).await;
        st.history.record_send(a.idx, a.attempt, send_ns);
        if a.attempt == 1 {
            if let Some(h) = st.rec.send_delay.as_mut() {
                h.record(send_ns, send_ns.saturating_sub(a.intended_ns).max(1));
            }
        }
        match sent {
            Err(e) => {
                // Not queued (e.g. the connection is gone): the client knows it was not sent,
                // unless queueing itself timed out, where it cannot be sure.
                st.send_failures += 1;
                let c = Completion {
                    idx: a.idx,
                    attempt: a.attempt,
                    seq: a.seq,
                    conn: a.conn as u16,
                    send_ns,
                    intended_ns: a.intended_ns,
                    rank: NONE,
                    ack_ns: clock.now_ns(),
                    result: Err(e),
                };
                self.complete(c, st);
            }
            Ok(fut) => {
                st.send_failures = 0;
                st.history.set_outcome(a.idx as usize, Outcome::InFlight);
                let mut t = Tapped::new(fut, &self.tap, &a, send_ns);
                match self.mode {
                    Mode::Sync => {
                        let c = (&mut t).await;
                        self.complete(c, st);
                    }
                    Mode::Async => {
                        // Poll once now so the reply's arrival is timed by the tap even if
                        // the collection does not poll this future for a while. A result
                        // that is already there is kept and handed out by the collection in
                        // its own order, as an application would see it.
                        t.prime();
                        st.inflight.push(t);
                        while st.inflight.len() >= self.window {
                            match st.inflight.next().await {
                                Some(c) => self.complete(c, st),
                                None => break,
                            }
                        }
                    }
                }
            }
        }
    }

    #[inline]
    fn complete(&self, c: Completion, st: &mut Phase<'_>) {
        let ack_ns = if c.ack_ns == 0 {
            self.tap.clock().now_ns()
        } else {
            c.ack_ns
        };
        let history = &mut *st.history;
        let rec = &mut *st.rec;
        match c.result {
            Ok(ack) => {
                history.record_ack(c.idx, ack.sequence, ack.duplicate, c.rank);
                history.record_ack_time(c.idx, ack_ns);
                if c.attempt > 1 {
                    history.attempt_log.push(AttemptRecord {
                        idx: c.idx,
                        attempt: c.attempt,
                        conn: c.conn,
                        send_ns: c.send_ns,
                        end_ns: ack_ns,
                        outcome: if ack.duplicate {
                            Outcome::Duplicate
                        } else {
                            Outcome::Ok
                        },
                        error: "",
                    });
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
                let outcome = if e.kind() == PublishErrorKind::TimedOut {
                    Outcome::Unknown
                } else {
                    Outcome::Fail
                };
                let kind = error_kind_name(e.kind());
                history.record_failure(c.idx, outcome, kind);
                history.attempt_log.push(AttemptRecord {
                    idx: c.idx,
                    attempt: c.attempt,
                    conn: c.conn,
                    send_ns: c.send_ns,
                    end_ns: ack_ns,
                    outcome,
                    error: kind,
                });
                if (c.attempt as u32) < self.retry.attempts && !self.cancel.is_requested() {
                    let wait = self.retry.backoff_after(c.attempt as u32);
                    st.retries.push(Reverse(Retry {
                        due_ns: ack_ns + wait.as_nanos() as u64,
                        idx: c.idx,
                        attempt: c.attempt + 1,
                        seq: c.seq,
                    }));
                }
            }
        }
        rec.ended_ns = rec.ended_ns.max(ack_ns);
    }
}
