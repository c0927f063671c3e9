//! The phase loop of `mode = "fast"`: the workload goes out in fast-ingest batches of
//! `batch_size` consecutive messages (`publisher.rs` speaks the protocol), one batch at a time.
//!
//! Batch `b` goes on the pool's connection for its number and first key; its messages are plain
//! publishes paced by the server's flow acks (`flow`, `max_outstanding_acks`), and an open-loop
//! rate paces each message by its intended time, taking in flow acks while it waits so they are
//! timed when they arrive. A batch ends when it is full, when the phase's bound or a cancel
//! comes, or when the server ends it (gap mode `fail`): the publisher then sends the end of
//! batch (op 3) and waits for the final ack, so a cancelled run still ends its open batch.
//!
//! Only then is each message recorded: the final ack gives the stream sequence of the batch's
//! last stored message, the others are counted back from it (one batch at a time on the stream,
//! so nothing else is stored between); its ack time is that of the first flow ack covering it.
//! A message in a reported gap, refused, or sent after the server ended the batch failed; with
//! no final ack (connection lost, commit unanswered) every message of the batch is unknown.
//! Messages are not retried: validation refuses `[publish.retry]` in this mode.

use std::sync::atomic::Ordering;

use super::error::FastError;
use super::publisher::{FastOptions, FastPublisher};
use super::summary::{FastEnd, MsgEnd};
use crate::client::phase::{Bound, Phase};
use crate::client::{Publisher, Stop};
use crate::record::history::{AttemptRecord, FastFigures, Outcome, NONE};
use crate::workload::KeyGen;

/// The batch on its way: which messages went out, and when.
struct Open {
    /// Index of the batch's first message (batch seq 1).
    first: u64,
    /// Index of the next message to send.
    next: u64,
    conn: usize,
    /// Send time of each message, by batch seq - 1.
    send_ns: Vec<u64>,
    /// Intended time of each message (open loop only: the `intended_ack` latency).
    intended_ns: Vec<u64>,
    /// Why publishing stopped before the batch was full, if the publisher said so.
    error: Option<FastError>,
}

impl Publisher<'_> {
    /// Publishes one phase in fast batches until the bound, a cancel or a fatal reply.
    pub(in crate::client) async fn publish_fast(
        &self,
        st: &mut Phase<'_>,
        bound: &Bound,
        keygen: &mut KeyGen,
    ) -> Stop {
        let mut next: u64 = 0;
        let mut number: u64 = 0;
        loop {
            if self.cancel.is_requested() {
                return Stop::Cancelled;
            }
            if let Some(why) = self.client_failed(st) {
                return why;
            }
            let intended_ns = match self.next_message(st, bound, next, keygen) {
                Ok(at) => at,
                Err(stop) => return stop,
            };
            let (after, stop) = self
                .fast_batch(st, bound, keygen, next, intended_ns, number)
                .await;
            if let Some(why) = st.fatal.take() {
                return Stop::ClientFailed(why);
            }
            if let Some(stop) = stop {
                return stop;
            }
            next = after;
            number += 1;
        }
    }

    /// Publishes batch `number` from message `first` and records it; returns the index of the
    /// next message, and why the phase stops when it does.
    async fn fast_batch(
        &self,
        st: &mut Phase<'_>,
        bound: &Bound,
        keygen: &mut KeyGen,
        first: u64,
        intended_ns: u64,
        number: u64,
    ) -> (u64, Option<Stop>) {
        let conn = self
            .router
            .route(number, st.history.keys.get(first as usize));
        let opts = FastOptions {
            flow: self.flow,
            max_outstanding_acks: self.max_outstanding_acks,
            gap: self.gap,
            ack_timeout: self.ack_timeout,
        };
        let client = self.contexts[conn].client();
        let mut fp = match FastPublisher::start(client, opts, *self.tap.clock()).await {
            Ok(fp) => fp,
            Err(_) => {
                // Subscribing to the batch's inbox failed (the client is reconnecting): try
                // again shortly; the phase gives up after too many failures in a row.
                st.send_failures += 1;
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                return (first, None);
            }
        };
        st.send_failures = 0;
        let mut b = Open {
            first,
            next: first,
            conn,
            send_ns: Vec::with_capacity(self.batch_size.min(1 << 16)),
            intended_ns: Vec::new(),
            error: None,
        };
        let stop = self
            .fast_messages(st, bound, keygen, &mut fp, &mut b, intended_ns)
            .await;
        let end = fp.finish().await;
        self.complete_fast(st, &b, end);
        (b.next, stop)
    }

    /// Sends the batch's messages until it is full, the server ends it, or the phase stops.
    async fn fast_messages(
        &self,
        st: &mut Phase<'_>,
        bound: &Bound,
        keygen: &mut KeyGen,
        fp: &mut FastPublisher,
        b: &mut Open,
        mut intended_ns: u64,
    ) -> Option<Stop> {
        let clock = *self.tap.clock();
        loop {
            if self.pacer.is_open_loop() && clock.now_ns() < intended_ns {
                // Flow acks are taken in while waiting; a cancel cuts the wait short.
                tokio::select! {
                    _ = fp.idle_until(intended_ns) => {}
                    _ = self.cancel.reached(1) => {}
                }
            }
            if self.cancel.is_requested() {
                return Some(Stop::Cancelled);
            }
            if !fp.ready() || !self.fast_send(st, fp, b, intended_ns).await {
                return None;
            }
            if b.next - b.first >= self.batch_size as u64 {
                return None;
            }
            match self.next_message(st, bound, b.next, keygen) {
                Ok(at) => intended_ns = at,
                Err(stop) => return Some(stop),
            }
        }
    }

    /// Sends message `b.next`; false when the batch cannot go on (the error is kept in `b`).
    async fn fast_send(
        &self,
        st: &mut Phase<'_>,
        fp: &mut FastPublisher,
        b: &mut Open,
        intended_ns: u64,
    ) -> bool {
        let clock = *self.tap.clock();
        let i = b.next;
        let mut a = self.first_attempt(st, i, intended_ns);
        a.conn = b.conn;
        let (subject, payload, headers) = self.parts(st, &a);
        let send_ns = clock.now_ns();
        st.history.record_send(a.idx, 1, send_ns);
        st.history.set_outcome(a.idx as usize, Outcome::InFlight);
        if let Some(h) = st.rec.send_delay.as_mut() {
            h.record(send_ns, send_ns.saturating_sub(intended_ns).max(1));
        }
        b.send_ns.push(send_ns);
        if st.rec.intended_ack.is_some() {
            b.intended_ns.push(intended_ns);
        }
        b.next = i + 1;
        let r = fp
            .publish(subject, headers.unwrap_or_default(), payload)
            .await;
        let now = clock.now_ns();
        st.rec
            .publish_call
            .record(now, now.saturating_sub(send_ns).max(1));
        if let Some(p) = self.progress {
            p.published.store(i + 1, Ordering::Relaxed);
        }
        match r {
            Ok(_) => true,
            Err(e) => {
                b.error = Some(e);
                false
            }
        }
    }

    /// Records a finished batch: each message acked, failed or unknown, from what the server
    /// said (see the module comment), and the batch's figures.
    fn complete_fast(&self, st: &mut Phase<'_>, b: &Open, end: FastEnd) {
        let end_ns = self.tap.clock().now_ns();
        let s = end.summary;
        // The publisher's own error says more than the end's "already ended".
        let why = b.error.as_ref().or(end.error.as_ref());
        if let Some(fatal) = why.and_then(FastError::fatal) {
            st.fatal = Some(fatal);
        }
        s.add_to(st.history.fast.get_or_insert_with(FastFigures::default));
        let mut cursor = 0;
        for (k, &send_ns) in b.send_ns.iter().enumerate() {
            let idx = (b.first + k as u64) as u32;
            let n = k as u64 + 1;
            let (verdict, next) = s.verdict(why, n, cursor, end_ns);
            cursor = next;
            match verdict {
                MsgEnd::Acked { seq, at_ns } => {
                    let (rank, _) = self.tap.arrive();
                    st.history.record_ack(idx, seq, false, rank);
                    st.history.record_ack_time(idx, at_ns);
                    st.rec
                        .publish_ack
                        .record(at_ns, at_ns.saturating_sub(send_ns).max(1));
                    if let (Some(h), Some(&t)) =
                        (st.rec.intended_ack.as_mut(), b.intended_ns.get(k))
                    {
                        h.record(at_ns, at_ns.saturating_sub(t).max(1));
                    }
                    st.rec.timeline.ack(at_ns);
                }
                MsgEnd::Failed(outcome, error, code) => {
                    st.history.record_failure(idx, outcome, error);
                    st.history.attempt_log.push(AttemptRecord {
                        idx,
                        attempt: 1,
                        conn: b.conn as u16,
                        send_ns,
                        end_ns,
                        outcome,
                        error,
                        code,
                        rank: NONE,
                    });
                }
            }
        }
        if let Some(p) = self.progress {
            p.acked
                .store(st.history.completion.len() as u64, Ordering::Relaxed);
        }
        st.rec.ended_ns = st.rec.ended_ns.max(end_ns);
    }
}
