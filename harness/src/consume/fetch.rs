//! The fetch loop: pulls the run's messages from the consumer and hands each to the worker
//! pool, until the drain check says everything is settled, the drain times out, the consumer
//! fails or the run is cancelled urgently.

use std::time::Duration;

use async_nats::jetstream;
use futures::StreamExt;
use tokio::sync::watch;

use super::drain::Drain;
use super::pool::{Job, WorkerPool};
use super::setup::Source;
use super::ConsumeLog;
use crate::cancel::Cancel;
use crate::workload::Reader;

/// How often the drain check runs.
const TICK: Duration = Duration::from_millis(100);

/// What the fetch loop works with.
pub(super) struct Fetch<'a> {
    pub source: &'a mut Source,
    pub pool: &'a WorkerPool,
    pub reader: &'a Reader,
    /// Counts deliveries; gets `complete` or `error` when the loop ends.
    pub log: &'a mut ConsumeLog,
}

impl Fetch<'_> {
    /// Dispatches until drained (see `drain.rs`), or until something stops it.
    pub(super) async fn run(
        mut self,
        mut publishing_done: watch::Receiver<bool>,
        cancel: &Cancel,
        drain_timeout: Duration,
    ) {
        let mut tick = tokio::time::interval(TICK);
        let mut drain = Drain::new(&publishing_done, self.source.initial_pending, drain_timeout);
        let end = loop {
            if cancel.is_urgent() {
                break Err("interrupted".to_string());
            }
            tokio::select! {
                next = self.source.messages.next() => {
                    if let Err(e) = self.deliver(next, &mut drain).await {
                        break Err(e);
                    }
                }
                _ = publishing_done.changed(), if !drain.publishing_ended() => {
                    drain.publishing_changed(&publishing_done);
                }
                _ = tick.tick() => {
                    if let Some(end) = drain.check(self.source.durable.as_mut(), self.pool).await {
                        break end;
                    }
                }
            }
        };
        match end {
            Ok(()) => self.log.complete = true,
            Err(e) => self.log.error = Some(e),
        }
    }

    /// Hands one message to its worker. `Err` when consuming cannot go on.
    async fn deliver(
        &mut self,
        next: Option<Result<jetstream::Message, String>>,
        drain: &mut Drain,
    ) -> Result<(), String> {
        let msg = match next {
            None => return Err("the consumer's message stream ended".into()),
            Some(Err(e)) => {
                tracing::debug!("consume: {e}");
                return Ok(());
            }
            Some(Ok(m)) => m,
        };
        let info = msg.info().ok();
        drain.arrived(info.as_ref().map(|i| i.pending));
        let delivered = info.map_or(1, |i| i.delivered.max(1) as u32);
        let Some(id) = self.reader.identify(msg.headers.as_ref(), &msg.payload) else {
            // Not one of this run's messages: counted, and acked so it is not redelivered.
            self.log.unexpected += 1;
            if self.source.durable.is_some() {
                let _ = msg.ack().await;
            }
            return Ok(());
        };
        self.log.deliveries += 1;
        if delivered > 1 {
            self.log.redeliveries += 1;
        }
        let job = Job {
            msg,
            idx: id.idx,
            delivered,
        };
        (self.pool.dispatch(job, id.key_hash).await).map_err(|()| "a worker stopped".to_string())
    }
}
