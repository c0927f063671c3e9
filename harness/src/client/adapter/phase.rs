//! The phase loop through an adapter: what goes out next and when (retries first, then the next
//! message at its intended time), the window, and the drain. Mirrors `client/phase.rs` and uses
//! its shared steps (the next message, its first attempt, the retry due first, the end of
//! publishing); what differs is how an attempt goes out and how it resolves (`resolve.rs`).

use std::sync::atomic::Ordering;

use async_nats::header::NATS_MESSAGE_ID;

use super::resolve::Outstanding;
use super::Link;
use crate::client::ack::Attempt;
use crate::client::phase::{Bound, Phase, RetryStep};
use crate::client::{Limit, Publisher, Stop};
use crate::record::history::{History, Outcome};
use crate::record::observe::Recorder;
use crate::scenario::{Mode, TAG_LEN};
use crate::workload::KeyGen;

impl Publisher<'_> {
    /// Publishes one phase (warm-up or measured) through the adapter of `link`, as
    /// [`Publisher::run_phase`] does in-process. An adapter error stops it with
    /// [`Stop::ClientFailed`]; the error stays in `link`.
    pub async fn run_adapter_phase(
        &self,
        link: &mut Link,
        warmup: bool,
        limit: Limit,
        keygen: &mut KeyGen,
        history: &mut History,
        rec: &mut Recorder,
    ) -> Stop {
        let phase_start = self.now();
        rec.start_at(phase_start);
        let mut st = Phase::new(self, warmup, history, rec);
        let bound = Bound::new(limit, phase_start);
        let mut out = Outstanding::default();
        let stop = self
            .publish_adapted(link, &mut st, &mut out, &bound, keygen)
            .await;
        self.publishing_stopped();
        self.drain_adapted(link, &mut st, &mut out).await;
        if let Some(p) = self.progress {
            p.acked
                .store(st.history.completion.len() as u64, Ordering::Relaxed);
        }
        st.rec.finish();
        match (&stop, link.error()) {
            (Stop::Cancelled, _) | (_, None) => stop,
            (_, Some(e)) => Stop::ClientFailed(format!("the adapter failed: {e}")),
        }
    }

    async fn publish_adapted(
        &self,
        link: &mut Link,
        st: &mut Phase<'_>,
        out: &mut Outstanding,
        bound: &Bound,
        keygen: &mut KeyGen,
    ) -> Stop {
        let mut i: u64 = 0;
        loop {
            if self.cancel.is_requested() {
                return Stop::Cancelled;
            }
            if let Some(e) = link.error() {
                return Stop::ClientFailed(format!("the adapter failed: {e}"));
            }
            match self.retry_step(st) {
                Some(RetryStep::Wait(due_ns)) => {
                    self.wait_adapted(link, st, out, Some(due_ns)).await;
                    continue;
                }
                Some(RetryStep::Send(a)) => {
                    self.send_adapted(link, st, out, a).await;
                    continue;
                }
                None => {}
            }
            let intended_ns = match self.next_message(st, bound, i, keygen) {
                Ok(at) => at,
                Err(stop) => return stop,
            };
            if self.pacer.is_open_loop() && self.now() < intended_ns {
                self.wait_adapted(link, st, out, Some(intended_ns)).await;
                if self.now() < intended_ns {
                    continue;
                }
            }
            let a = self.first_attempt(st, i, intended_ns);
            self.send_adapted(link, st, out, a).await;
            if let Some(p) = self.progress {
                p.published.store(i + 1, Ordering::Relaxed);
            }
            i += 1;
        }
    }

    /// One attempt as a `p` line; in sync mode waits until it resolves, in async mode only
    /// while the window is full.
    async fn send_adapted(
        &self,
        link: &mut Link,
        st: &mut Phase<'_>,
        out: &mut Outstanding,
        a: Attempt,
    ) {
        let (subject, payload, headers) = self.parts(st, &a);
        let mut tag = [0u8; TAG_LEN];
        tag.copy_from_slice(&payload[..TAG_LEN]);
        let msg_id = headers
            .as_ref()
            .and_then(|h| h.get(NATS_MESSAGE_ID))
            .map(|v| v.as_str().to_string());
        let id = link.next_id;
        let send_ns = self.now();
        if let Err(e) = link
            .session
            .publish(id, a.conn, subject.as_str(), msg_id.as_deref(), &tag)
        {
            link.fail(e);
            return;
        }
        link.next_id += 1;
        st.history.record_send(a.idx, a.attempt, send_ns);
        st.history.set_outcome(a.idx as usize, Outcome::InFlight);
        if a.attempt == 1 {
            if let Some(h) = st.rec.send_delay.as_mut() {
                h.record(send_ns, send_ns.saturating_sub(a.intended_ns).max(1));
            }
        }
        let deadline = send_ns + link.resolve_timeout.as_nanos() as u64;
        out.sent(id, a, send_ns, deadline);
        match self.mode {
            Mode::Sync => {
                while out.contains(id) && link.error().is_none() {
                    self.wait_adapted(link, st, out, None).await;
                }
            }
            Mode::Async | Mode::Batch | Mode::Fast => {
                while out.len() >= self.window && link.error().is_none() {
                    self.wait_adapted(link, st, out, None).await;
                }
            }
        }
    }

    /// Flushes the buffered lines, then waits for one report, the next deadline or `until`
    /// (whichever comes first), recording what came. Returns at once after an adapter error.
    async fn wait_adapted(
        &self,
        link: &mut Link,
        st: &mut Phase<'_>,
        out: &mut Outstanding,
        until: Option<u64>,
    ) {
        if let Err(e) = link.session.flush().await {
            link.fail(e);
            return;
        }
        let wake = match (out.next_deadline(), until) {
            (Some(d), Some(u)) => Some(d.min(u)),
            (d, u) => d.or(u),
        };
        let Some(wake) = wake else { return };
        let clock = *self.tap.clock();
        if out.is_empty() {
            tokio::time::sleep_until(clock.instant_at(wake).into()).await;
            return;
        }
        tokio::select! {
            r = link.session.next_report() => match r {
                Ok(r) => self.on_report(st, out, link, r),
                Err(e) => link.fail(e),
            },
            _ = tokio::time::sleep_until(clock.instant_at(wake).into()) => {}
        }
        self.expire(st, out, link);
    }

    /// Drain: every outstanding id resolves or reaches its deadline; due retries still go out.
    /// A second Ctrl-C stops waiting; an adapter error ends it at once.
    async fn drain_adapted(&self, link: &mut Link, st: &mut Phase<'_>, out: &mut Outstanding) {
        let urgent = self.cancel.reached(2);
        tokio::pin!(urgent);
        while link.error().is_none() {
            let next_retry = st.retries.next_due();
            if out.is_empty() && (next_retry.is_none() || self.cancel.is_requested()) {
                break;
            }
            if next_retry.is_some_and(|d| d <= self.now()) {
                let Some(r) = st.retries.pop() else { continue };
                if !self.cancel.is_requested() {
                    let a = r.attempt(self.router, &st.history.keys);
                    self.send_adapted(link, st, out, a).await;
                }
                continue;
            }
            tokio::select! {
                biased;
                _ = &mut urgent => break,
                _ = self.wait_adapted(link, st, out, next_retry) => {}
            }
        }
    }
}
