//! One phase end to end: the loop of the phase's mode publishes it (sync and async in
//! `phase.rs`, batch in `batch/`, fast in `fast/`), then the messages the guard parked go out,
//! the nemesis is told that publishing stopped, and the acks still in flight are drained.
//!
//! It stands above every loop so that none of them needs to know the others. Sync and async
//! mode on the lean path (`publish.api = "lean"`) open the lean window here, which subscribes
//! each connection to its reply inbox for the phase; the loop is the same.

use std::sync::atomic::Ordering;

use super::inflight::Inflight;
use super::lean::Window;
use super::phase::{Bound, Phase};
use super::{Limit, Publisher, Stop};
use crate::record::history::History;
use crate::record::observe::Recorder;
use crate::scenario::{Api, Mode};
use crate::workload::KeyGen;

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
        let phase_start = self.tap.clock().now_ns();
        rec.start_at(phase_start);
        let mut st = Phase::new(self, warmup, history, rec);
        let bound = Bound::new(limit, phase_start);
        let lean = self.api == Api::Lean && matches!(self.mode, Mode::Sync | Mode::Async);
        if lean {
            match Window::open(
                self.clients,
                self.tap.clone(),
                self.ack_timeout,
                self.window,
            )
            .await
            {
                Ok(w) => st.inflight = Inflight::Lean(w),
                Err(e) => {
                    st.rec.finish();
                    return Stop::ClientFailed(e.to_string());
                }
            }
        }
        let stop = match self.mode {
            Mode::Batch => self.publish_batches(&mut st, &bound, keygen).await,
            Mode::Fast => self.publish_fast(&mut st, &bound, keygen).await,
            Mode::Sync | Mode::Async => self.publish(&mut st, &bound, keygen).await,
        };
        if matches!(stop, Stop::Done | Stop::Elapsed | Stop::MaxMessages) {
            // Messages the guard parked are part of the phase: they go out as their keys settle.
            self.send_parked(&mut st).await;
        }
        self.publishing_stopped();
        self.drain(&mut st).await;
        if let Some(p) = self.progress {
            p.acked
                .store(st.history.completion.len() as u64, Ordering::Relaxed);
        }
        st.rec.finish();
        stop
    }
}
