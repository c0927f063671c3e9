//! The consume side: a JetStream consumer feeding a worker pool that simulates processing.
//!
//! A fetch loop pulls the run's messages (a durable pull consumer with explicit acks, or an
//! ordered consumer) and hands each to a worker:
//! - **keyed** pool: key → worker by hash, each worker processes its messages in arrival order
//!   (the "KeyedWorkerPool" that is supposed to keep every aggregate's events in order);
//! - **shared** pool: any free worker takes the next message (the usual competing consumers).
//!
//! A worker "processes" for a seeded time (tokio's timer: 1 ms resolution), then fails with the
//! configured probability — nak, or no ack so the server redelivers after `ack_wait` — or
//! records the processing and acks. Workers write only to their own pre-sized logs (no locks,
//! no logging on the path); the log is merged when the pool stops, and the checkers turn it into
//! the consume order, redeliveries and end-to-end latency.
//!
//! The consumer runs on the same runtime as the publisher (as it would in an application that
//! does both); `when = "after"` keeps the two apart.
//!
//! Where things are:
//! - here: [`run`] and what it takes ([`ConsumeSetup`]) and gives back ([`ConsumeLog`]);
//! - `setup.rs`: opening the stream and creating the consumer;
//! - `fetch.rs`: the fetch loop, from the consumer to the workers;
//! - `pool.rs`: the worker pool (keyed or shared) and the workers;
//! - `processing.rs`: how long a processing takes (fixed, uniform, exponential);
//! - `drain.rs`: when everything is delivered and settled, or the drain timed out.

mod drain;
mod fetch;
mod pool;
mod processing;
mod setup;

use async_nats::jetstream;
use tokio::sync::watch;

use self::fetch::Fetch;
use self::pool::WorkerPool;
use self::setup::Source;
use crate::cancel::Cancel;
use crate::record::observe::Clock;
use crate::scenario::ConsumePlan;
use crate::workload::Reader;

/// One successful processing of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Processed {
    /// The message (its index in publish order).
    pub idx: u32,
    /// When processing finished (run clock, ns).
    pub at_ns: u64,
    /// Which delivery of the message this was (1 = first).
    pub delivered: u32,
    pub worker: u16,
}

/// What the consume side did.
#[derive(Debug, Default)]
pub struct ConsumeLog {
    /// Every successful processing, ordered by finish time (each worker's own order kept).
    pub processed: Vec<Processed>,
    /// Messages handed to workers (every delivery).
    pub deliveries: u64,
    /// Deliveries after the first (nak, ack_wait expiry).
    pub redeliveries: u64,
    /// Processings that failed (and were nak'd or left un-acked).
    pub failures: u64,
    /// Messages of the filter without this run's headers.
    pub unexpected: u64,
    /// When the consumer started and stopped (run clock, ns).
    pub started_ns: u64,
    pub ended_ns: u64,
    /// True when it stopped because everything was delivered and settled, not by its timeout or
    /// a cancel.
    pub complete: bool,
    /// Why it could not run or stopped early.
    pub error: Option<String>,
}

/// Where and what to consume.
pub struct ConsumeSetup {
    pub js: jetstream::Context,
    pub stream: String,
    /// The measured phase's subjects (`jsb.<run>.m.>`).
    pub filter: String,
    /// Decodes this run's tags.
    pub reader: Reader,
    /// Durable consumer name.
    pub name: String,
    pub plan: ConsumePlan,
    pub seed: u64,
    pub clock: Clock,
}

/// Consumes until `publishing_done` is true and everything delivered has been processed and
/// settled, or until `drain_timeout` after publishing ended, or an urgent cancel.
pub async fn run(
    setup: ConsumeSetup,
    publishing_done: watch::Receiver<bool>,
    cancel: Cancel,
) -> ConsumeLog {
    let mut log = ConsumeLog {
        started_ns: setup.clock.now_ns(),
        ..Default::default()
    };
    let mut source = match Source::open(&setup).await {
        Ok(s) => s,
        Err(e) => {
            log.error = Some(e);
            return log;
        }
    };
    let pool = WorkerPool::spawn(&setup);
    Fetch {
        source: &mut source,
        pool: &pool,
        reader: &setup.reader,
        log: &mut log,
    }
    .run(publishing_done, &cancel, setup.plan.drain_timeout)
    .await;

    // Stop feeding the workers, let them finish what they hold, then merge their logs.
    let workers = pool.close();
    drop(source.messages);
    workers.collect(&mut log).await;
    log.ended_ns = setup.clock.now_ns();
    if let Some(c) = source.durable.take() {
        let _ = setup
            .js
            .delete_consumer_from_stream(&c.cached_info().name, &setup.stream)
            .await;
    }
    log
}
