//! When the consume side may stop: once publishing has ended and everything delivered has been
//! processed and settled, or `drain_timeout` after publishing ended.
//!
//! "Settled" is asked of the server for a durable consumer (nothing left to deliver, nothing
//! awaiting an ack). An ordered consumer has no acks to ask about, so it counts as drained when
//! its latest delivery said nothing was pending and nothing has arrived for a while.

use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use tokio::sync::watch;
use tokio::time::Instant;

use super::pool::WorkerPool;

/// How long an ordered consumer must stay quiet, after a delivery that left nothing pending,
/// before it counts as drained.
const ORDERED_QUIET: Duration = Duration::from_millis(300);

/// What the drain check has seen so far.
pub(super) struct Drain {
    /// When publishing ended, once it has.
    done_at: Option<Instant>,
    /// When the latest message arrived.
    last_message: Instant,
    /// The server's pending count on the latest delivery (`u64::MAX` before any is known).
    last_pending: u64,
    timeout: Duration,
}

impl Drain {
    pub(super) fn new(
        publishing_done: &watch::Receiver<bool>,
        initial_pending: u64,
        timeout: Duration,
    ) -> Drain {
        Drain {
            done_at: (*publishing_done.borrow()).then(Instant::now),
            last_message: Instant::now(),
            last_pending: initial_pending,
            timeout,
        }
    }

    /// True once publishing has ended.
    pub(super) fn publishing_ended(&self) -> bool {
        self.done_at.is_some()
    }

    /// Notes the publisher's signal; the drain clock starts when it says publishing ended.
    pub(super) fn publishing_changed(&mut self, publishing_done: &watch::Receiver<bool>) {
        if *publishing_done.borrow() {
            self.done_at = Some(Instant::now());
        }
    }

    /// Notes a message's arrival and, when it said, the server's pending count.
    pub(super) fn arrived(&mut self, pending: Option<u64>) {
        self.last_message = Instant::now();
        if let Some(p) = pending {
            self.last_pending = p;
        }
    }

    /// Checked on a timer: `Some(Ok)` once drained, `Some(Err)` once the drain timed out,
    /// `None` while publishing goes on or the consumer is still catching up.
    pub(super) async fn check(
        &self,
        durable: Option<&mut PullConsumer>,
        pool: &WorkerPool,
    ) -> Option<Result<(), String>> {
        let done = self.done_at?;
        if pool.in_flight() == 0 && self.settled(durable).await {
            return Some(Ok(()));
        }
        if done.elapsed() >= self.timeout {
            return Some(Err(format!(
                "not drained {:?} after publishing ended (consume.drain_timeout)",
                self.timeout
            )));
        }
        None
    }

    /// Nothing left to deliver or to ack, as far as the consumer can tell.
    async fn settled(&self, durable: Option<&mut PullConsumer>) -> bool {
        match durable {
            // The server's view: nothing left to deliver, nothing awaiting an ack.
            Some(c) => match c.info().await {
                Ok(i) => i.num_pending == 0 && i.num_ack_pending == 0,
                Err(_) => false,
            },
            // Ordered: no acks; the last delivery said nothing was pending and nothing arrived
            // since.
            None => self.last_pending == 0 && self.last_message.elapsed() >= ORDERED_QUIET,
        }
    }
}
