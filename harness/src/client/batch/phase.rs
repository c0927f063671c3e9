//! The phase loop of `mode = "batch"`: the workload goes out in atomic batches of
//! `batch_size` consecutive messages (`publisher.rs` sends one), with up to `max_in_flight`
//! batches awaiting their commit ack. The loop owns those batches: once publishing stops it
//! tells the nemesis, as every mode does, then waits for them.
//!
//! Batch `b` holds messages `b × batch_size ..` (the last one may be shorter when the phase
//! ends), all on one connection: the pool's choice for the batch's number and first key. An
//! open-loop rate paces batches by their first message's intended time. A committed batch's ack
//! gives its last message's stream sequence and the count, so every message's sequence is known
//! (the batch is stored consecutively, in batch order); a failed batch fails every message of
//! it, and a commit that went unanswered makes every message of it unknown. Batches are not
//! retried: a retried batch whose commit ack was lost is refused as a duplicate (with Msg-Ids)
//! or stored twice (without), so validation refuses `[publish.retry]` in this mode.

use std::ops::Range;
use std::sync::atomic::Ordering;

use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use futures::StreamExt;

use super::error::BatchFailure;
use super::publisher;
use super::wire::{Committed, Staged};
use crate::client::phase::{Bound, Phase};
use crate::client::{Publisher, Stop};
use crate::record::history::{AttemptRecord, Outcome, NONE};
use crate::workload::KeyGen;

/// One batch's end: which messages it held, when it went out, and what the server said.
struct BatchDone {
    first: u32,
    len: u32,
    conn: u16,
    send_ns: u64,
    intended_ns: u64,
    /// When the commit's reply (or the failure) came back, on the run clock.
    end_ns: u64,
    result: Result<Committed, BatchFailure>,
}

/// A batch on its way: sends, then waits for the commit's ack.
type BatchFuture = BoxFuture<'static, BatchDone>;

/// The batches awaiting their commit ack.
type InFlight = FuturesUnordered<BatchFuture>;

impl Publisher<'_> {
    /// Publishes one phase in atomic batches until the bound, a cancel or a fatal reply; then,
    /// publishing stopped, waits for the batches still awaiting their commit.
    pub(in crate::client) async fn publish_batches(
        &self,
        st: &mut Phase<'_>,
        bound: &Bound,
        keygen: &mut KeyGen,
    ) -> Stop {
        let mut inflight = InFlight::new();
        let stop = self.batch_loop(st, bound, keygen, &mut inflight).await;
        self.publishing_stopped();
        self.drain_batches(st, &mut inflight).await;
        stop
    }

    /// Sends batches until the bound, a cancel or a fatal reply; returns why it stopped.
    async fn batch_loop(
        &self,
        st: &mut Phase<'_>,
        bound: &Bound,
        keygen: &mut KeyGen,
        inflight: &mut InFlight,
    ) -> Stop {
        let clock = *self.tap.clock();
        let mut next: u64 = 0;
        let mut number: u64 = 0;
        loop {
            if self.cancel.is_requested() {
                return Stop::Cancelled;
            }
            if let Some(why) = st.fatal.take() {
                return Stop::ClientFailed(why);
            }
            let first = next;
            let mut intended_ns = 0;
            let mut end = None;
            while next - first < self.batch_size as u64 {
                match self.next_message(st, bound, next, keygen) {
                    Ok(at) if next == first => intended_ns = at,
                    Ok(_) => {}
                    Err(stop) => {
                        end = Some(stop);
                        break;
                    }
                }
                next += 1;
            }
            if next > first {
                if self.pacer.is_open_loop() && clock.now_ns() < intended_ns {
                    self.wait_batches_until(st, inflight, intended_ns).await;
                    if self.cancel.is_requested() {
                        return Stop::Cancelled;
                    }
                }
                let call_ns = clock.now_ns();
                let batch = self.start_batch(st, first..next, intended_ns, number);
                inflight.push(batch);
                while inflight.len() >= self.window {
                    if let Some(d) = inflight.next().await {
                        self.complete_batch(d, st);
                    }
                }
                let now = clock.now_ns();
                st.rec
                    .publish_call
                    .record(now, now.saturating_sub(call_ns).max(1));
                if let Some(p) = self.progress {
                    p.published.store(next, Ordering::Relaxed);
                }
                number += 1;
            }
            if let Some(stop) = end {
                return stop;
            }
        }
    }

    /// Builds batch `number` of messages `range` and returns the future that sends it.
    fn start_batch(
        &self,
        st: &mut Phase<'_>,
        range: Range<u64>,
        intended_ns: u64,
        number: u64,
    ) -> BatchFuture {
        let clock = *self.tap.clock();
        let first_key = st.history.keys.get(range.start as usize);
        let conn = self.router.route(number, first_key);
        let mut msgs = Vec::with_capacity((range.end - range.start) as usize);
        let send_ns = clock.now_ns();
        for i in range.clone() {
            let mut a = self.first_attempt(st, i, intended_ns);
            a.conn = conn;
            let (subject, payload, headers) = self.parts(st, &a);
            msgs.push(Staged {
                subject,
                headers: headers.unwrap_or_default(),
                payload,
            });
            st.history.record_send(a.idx, 1, send_ns);
            st.history.set_outcome(a.idx as usize, Outcome::InFlight);
        }
        if let Some(h) = st.rec.send_delay.as_mut() {
            h.record(send_ns, send_ns.saturating_sub(intended_ns).max(1));
        }
        let client = self.contexts[conn].client();
        let phase = if st.warmup { "w" } else { "m" };
        let id = format!("{}-{phase}-{number}", self.run_id);
        let timeout = self.ack_timeout;
        let first = range.start as u32;
        let len = (range.end - range.start) as u32;
        Box::pin(async move {
            let result = publisher::publish(&client, &id, msgs, timeout).await;
            BatchDone {
                first,
                len,
                conn: conn as u16,
                send_ns,
                intended_ns,
                end_ns: clock.now_ns(),
                result,
            }
        })
    }

    /// Records a finished batch: every message acked at its stream sequence, or every message
    /// failed (or unknown) with the batch's error.
    fn complete_batch(&self, d: BatchDone, st: &mut Phase<'_>) {
        let idxs = d.first..d.first + d.len;
        match &d.result {
            Ok(c) => {
                // Stored consecutively in batch order, ending at the commit's sequence.
                let first_seq = c.last_seq + 1 - c.count.min(c.last_seq);
                for (idx, seq) in idxs.zip(first_seq..) {
                    let (rank, _) = self.tap.arrive();
                    st.history.record_ack(idx, seq, false, rank);
                    st.history.record_ack_time(idx, d.end_ns);
                    let latency = d.end_ns.saturating_sub(d.send_ns).max(1);
                    st.rec.publish_ack.record(d.end_ns, latency);
                    if let Some(h) = st.rec.intended_ack.as_mut() {
                        h.record(d.end_ns, d.end_ns.saturating_sub(d.intended_ns).max(1));
                    }
                    st.rec.timeline.ack(d.end_ns);
                }
                if let Some(p) = self.progress {
                    p.acked
                        .store(st.history.completion.len() as u64, Ordering::Relaxed);
                }
            }
            Err(f) => {
                let outcome = f.outcome(d.len as u64);
                for idx in idxs {
                    st.history.record_failure(idx, outcome, f.name());
                    st.history.attempt_log.push(AttemptRecord {
                        idx,
                        attempt: 1,
                        conn: d.conn,
                        send_ns: d.send_ns,
                        end_ns: d.end_ns,
                        outcome,
                        error: f.name(),
                        code: f.code(),
                        rank: NONE,
                    });
                }
                if let BatchFailure::Unsupported(why) = f {
                    st.fatal = Some(why.clone());
                }
            }
        }
        st.rec.ended_ns = st.rec.ended_ns.max(d.end_ns);
    }

    /// Waits until `at_ns` on the run clock, completing batches meanwhile.
    async fn wait_batches_until(&self, st: &mut Phase<'_>, inflight: &mut InFlight, at_ns: u64) {
        let clock = *self.tap.clock();
        while clock.now_ns() < at_ns && !self.cancel.is_requested() {
            let sleep = tokio::time::sleep_until(clock.instant_at(at_ns).into());
            if inflight.is_empty() {
                sleep.await;
            } else {
                tokio::select! {
                    biased;
                    Some(d) = inflight.next() => self.complete_batch(d, st),
                    _ = sleep => {}
                }
            }
        }
    }

    /// Drain: every batch ends by its own timeout. A second Ctrl-C stops waiting (the batches
    /// left keep their messages in flight, as the other modes' acks do).
    async fn drain_batches(&self, st: &mut Phase<'_>, inflight: &mut InFlight) {
        let urgent = self.cancel.reached(2);
        tokio::pin!(urgent);
        while !inflight.is_empty() {
            tokio::select! {
                biased;
                _ = &mut urgent => break,
                Some(d) = inflight.next() => self.complete_batch(d, st),
            }
        }
    }
}
