//! The consume side: a JetStream consumer feeding a worker pool that simulates processing.
//!
//! A *dispatcher* pulls the run's messages (a durable pull consumer with explicit acks, or an
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

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, consumer, AckKind};
use futures::StreamExt;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::sync::{mpsc, watch, Mutex};

use crate::cancel::Cancel;
use crate::record::observe::Clock;
use crate::scenario::{ConsumePlan, ConsumerKind, OnFail, PoolModel, ProcessingDistribution};
use crate::workload::{fnv1a, H_IDX, H_KEY, H_RUN};

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
    pub run_id: String,
    /// Durable consumer name.
    pub name: String,
    pub plan: ConsumePlan,
    pub seed: u64,
    pub clock: Clock,
}

struct Job {
    msg: jetstream::Message,
    idx: u32,
    delivered: u32,
}

/// The pool's input side: one queue per worker (keyed) or one queue for all (shared).
enum Queues {
    Keyed(Vec<mpsc::Sender<Job>>),
    Shared(mpsc::Sender<Job>),
}

#[derive(Default)]
struct WorkerLog {
    processed: Vec<Processed>,
    failures: u64,
}

/// Consumes until `publishing_done` is true and everything delivered has been processed and
/// settled, or until `drain_timeout` after publishing ended, or an urgent cancel.
pub async fn run(
    setup: ConsumeSetup,
    mut publishing_done: watch::Receiver<bool>,
    cancel: Cancel,
) -> ConsumeLog {
    let mut log = ConsumeLog {
        started_ns: setup.clock.now_ns(),
        ..Default::default()
    };
    let plan = setup.plan.clone();
    let stream = match setup.js.get_stream(&setup.stream).await {
        Ok(s) => s,
        Err(e) => {
            log.error = Some(format!("cannot open stream {}: {e}", setup.stream));
            return log;
        }
    };
    // What the server had for us when the consumer was created (the ordered consumer's drain
    // check starts from it: a run that stored nothing is drained at once).
    let mut initial_pending = u64::MAX;
    // Each variant gives a message stream plus, for durable, the consumer to ask for info.
    let (mut durable, mut messages): (Option<consumer::PullConsumer>, _) = match plan.consumer {
        ConsumerKind::Durable => {
            let c = stream
                .create_consumer(consumer::pull::Config {
                    durable_name: Some(setup.name.clone()),
                    filter_subject: setup.filter.clone(),
                    deliver_policy: consumer::DeliverPolicy::All,
                    ack_policy: consumer::AckPolicy::Explicit,
                    ack_wait: plan.ack_wait,
                    max_ack_pending: plan.max_ack_pending,
                    ..Default::default()
                })
                .await;
            let c = match c {
                Ok(c) => c,
                Err(e) => {
                    log.error = Some(format!("cannot create the durable consumer: {e}"));
                    return log;
                }
            };
            let m = c
                .stream()
                .max_messages_per_batch(plan.fetch_batch)
                .messages()
                .await;
            match m {
                Ok(m) => (Some(c), m.map(|r| r.map_err(|e| e.to_string())).boxed()),
                Err(e) => {
                    log.error = Some(format!("cannot pull from the durable consumer: {e}"));
                    return log;
                }
            }
        }
        ConsumerKind::Ordered => {
            let c = stream
                .create_consumer(consumer::pull::OrderedConfig {
                    filter_subject: setup.filter.clone(),
                    deliver_policy: consumer::DeliverPolicy::All,
                    ..Default::default()
                })
                .await;
            let m = match c {
                Ok(c) => {
                    initial_pending = c.cached_info().num_pending;
                    c.messages().await
                }
                Err(e) => {
                    log.error = Some(format!("cannot create the ordered consumer: {e}"));
                    return log;
                }
            };
            match m {
                Ok(m) => (None, m.map(|r| r.map_err(|e| e.to_string())).boxed()),
                Err(e) => {
                    log.error = Some(format!("cannot read from the ordered consumer: {e}"));
                    return log;
                }
            }
        }
    };

    // The pool.
    let in_flight = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::with_capacity(plan.workers);
    let queues = match plan.model {
        PoolModel::Keyed => {
            let mut txs = Vec::with_capacity(plan.workers);
            for w in 0..plan.workers {
                let (tx, rx) = mpsc::channel::<Job>(256);
                txs.push(tx);
                let rx = Arc::new(Mutex::new(rx));
                workers.push(tokio::spawn(worker(
                    w as u16,
                    rx,
                    plan.clone(),
                    setup.seed,
                    setup.clock,
                    in_flight.clone(),
                )));
            }
            Queues::Keyed(txs)
        }
        PoolModel::Shared => {
            let (tx, rx) = mpsc::channel::<Job>(64 * plan.workers);
            let rx = Arc::new(Mutex::new(rx));
            for w in 0..plan.workers {
                workers.push(tokio::spawn(worker(
                    w as u16,
                    rx.clone(),
                    plan.clone(),
                    setup.seed,
                    setup.clock,
                    in_flight.clone(),
                )));
            }
            Queues::Shared(tx)
        }
    };

    // Dispatch until drained.
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut done_at: Option<tokio::time::Instant> =
        (*publishing_done.borrow()).then(tokio::time::Instant::now);
    let mut last_message = tokio::time::Instant::now();
    let mut last_pending: u64 = initial_pending;
    loop {
        if cancel.is_urgent() {
            log.error = Some("interrupted".into());
            break;
        }
        tokio::select! {
            next = messages.next() => {
                let msg = match next {
                    None => {
                        log.error = Some("the consumer's message stream ended".into());
                        break;
                    }
                    Some(Err(e)) => {
                        tracing::debug!("consume: {e}");
                        continue;
                    }
                    Some(Ok(m)) => m,
                };
                last_message = tokio::time::Instant::now();
                let (delivered, pending) = match msg.info() {
                    Ok(i) => (i.delivered.max(1) as u32, i.pending),
                    Err(_) => (1, last_pending),
                };
                last_pending = pending;
                let Some((idx, key_hash)) = identify(&msg, &setup.run_id) else {
                    log.unexpected += 1;
                    if durable.is_some() {
                        let _ = msg.ack().await;
                    }
                    continue;
                };
                log.deliveries += 1;
                if delivered > 1 {
                    log.redeliveries += 1;
                }
                in_flight.fetch_add(1, Ordering::Relaxed);
                let job = Job { msg, idx, delivered };
                let sent = match &queues {
                    Queues::Keyed(txs) => txs[(key_hash % txs.len() as u64) as usize].send(job).await,
                    Queues::Shared(tx) => tx.send(job).await,
                };
                if sent.is_err() {
                    log.error = Some("a worker stopped".into());
                    break;
                }
            }
            _ = publishing_done.changed(), if done_at.is_none() => {
                if *publishing_done.borrow() {
                    done_at = Some(tokio::time::Instant::now());
                }
            }
            _ = tick.tick() => {
                let Some(done) = done_at else { continue };
                if in_flight.load(Ordering::Relaxed) == 0 {
                    let drained = match durable.as_mut() {
                        // The server's view: nothing left to deliver, nothing awaiting an ack.
                        Some(c) => match c.info().await {
                            Ok(i) => i.num_pending == 0 && i.num_ack_pending == 0,
                            Err(_) => false,
                        },
                        // Ordered: no acks; the last delivery said nothing was pending and
                        // nothing arrived since.
                        None => last_pending == 0 && last_message.elapsed() >= Duration::from_millis(300),
                    };
                    if drained {
                        log.complete = true;
                        break;
                    }
                }
                if done.elapsed() >= plan.drain_timeout {
                    log.error = Some(format!(
                        "not drained {:?} after publishing ended (consume.drain_timeout)",
                        plan.drain_timeout
                    ));
                    break;
                }
            }
        }
    }
    drop(queues);
    drop(messages);
    for w in workers {
        if let Ok(wl) = w.await {
            log.failures += wl.failures;
            log.processed.extend(wl.processed);
        }
    }
    // Merged by finish time; a stable sort keeps each worker's own order on ties.
    log.processed.sort_by_key(|p| p.at_ns);
    log.ended_ns = setup.clock.now_ns();
    if let Some(c) = durable.take() {
        let _ = setup
            .js
            .delete_consumer_from_stream(&c.cached_info().name, &setup.stream)
            .await;
    }
    log
}

/// The message's index and a hash of its key, when it belongs to this run.
fn identify(msg: &jetstream::Message, run_id: &str) -> Option<(u32, u64)> {
    let h = msg.headers.as_ref()?;
    if h.get(H_RUN)?.as_str() != run_id {
        return None;
    }
    let idx = h.get(H_IDX)?.as_str().parse::<u32>().ok()?;
    let key = h.get(H_KEY)?.as_str();
    Some((idx, fnv1a(key.as_bytes())))
}

/// How long one processing takes.
fn processing_time(plan: &ConsumePlan, rng: &mut ChaCha8Rng) -> Duration {
    let base = plan.processing;
    match plan.processing_distribution {
        ProcessingDistribution::Fixed => base,
        ProcessingDistribution::Uniform => {
            let span = plan.processing_max.saturating_sub(base).as_nanos() as u64;
            base + Duration::from_nanos(if span == 0 {
                0
            } else {
                rng.random_range(0..=span)
            })
        }
        ProcessingDistribution::Exponential => {
            let u: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
            let ns = (-u.ln() * base.as_nanos() as f64).min(20.0 * base.as_nanos() as f64);
            Duration::from_nanos(ns as u64)
        }
    }
}

async fn worker(
    id: u16,
    rx: Arc<Mutex<mpsc::Receiver<Job>>>,
    plan: ConsumePlan,
    seed: u64,
    clock: Clock,
    in_flight: Arc<AtomicU64>,
) -> WorkerLog {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xC045_0000 ^ id as u64);
    let mut log = WorkerLog {
        processed: Vec::with_capacity(4096),
        failures: 0,
    };
    let ack = plan.consumer == ConsumerKind::Durable;
    loop {
        // Keyed: the lock is this worker's alone. Shared: whoever holds it is the free worker
        // that takes the next message.
        let job = { rx.lock().await.recv().await };
        let Some(job) = job else { break };
        let d = processing_time(&plan, &mut rng);
        if d.is_zero() {
            tokio::task::yield_now().await;
        } else {
            tokio::time::sleep(d).await;
        }
        let failed = plan.fail_rate > 0.0 && rng.random::<f64>() < plan.fail_rate;
        if failed {
            log.failures += 1;
            if ack && plan.on_fail == OnFail::Nak {
                let _ = job.msg.ack_with(AckKind::Nak(None)).await;
            }
        } else {
            log.processed.push(Processed {
                idx: job.idx,
                at_ns: clock.now_ns(),
                delivered: job.delivered,
                worker: id,
            });
            if ack {
                let _ = job.msg.ack().await;
            }
        }
        in_flight.fetch_sub(1, Ordering::Relaxed);
    }
    log
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{ConsumeWhen, OnFail};

    fn plan(dist: ProcessingDistribution, base_ms: u64, max_ms: u64) -> ConsumePlan {
        ConsumePlan {
            consumer: ConsumerKind::Durable,
            when: ConsumeWhen::Concurrent,
            model: PoolModel::Keyed,
            workers: 4,
            processing: Duration::from_millis(base_ms),
            processing_max: Duration::from_millis(max_ms),
            processing_distribution: dist,
            fail_rate: 0.0,
            on_fail: OnFail::Nak,
            max_ack_pending: 1000,
            ack_wait: Duration::from_secs(30),
            fetch_batch: 100,
            drain_timeout: Duration::from_secs(30),
        }
    }

    #[test]
    fn processing_times_follow_the_distribution_and_the_seed() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let fixed = plan(ProcessingDistribution::Fixed, 2, 2);
        assert_eq!(processing_time(&fixed, &mut rng), Duration::from_millis(2));

        let uni = plan(ProcessingDistribution::Uniform, 1, 3);
        let xs: Vec<Duration> = (0..1000).map(|_| processing_time(&uni, &mut rng)).collect();
        assert!(xs
            .iter()
            .all(|d| *d >= Duration::from_millis(1) && *d <= Duration::from_millis(3)));
        assert!(xs.iter().any(|d| *d < Duration::from_micros(1500)));
        assert!(xs.iter().any(|d| *d > Duration::from_micros(2500)));

        let exp = plan(ProcessingDistribution::Exponential, 1, 1);
        let ys: Vec<f64> = (0..20_000)
            .map(|_| processing_time(&exp, &mut rng).as_secs_f64() * 1000.0)
            .collect();
        let mean = ys.iter().sum::<f64>() / ys.len() as f64;
        assert!((0.9..1.1).contains(&mean), "mean {mean}");
        assert!(ys.iter().all(|y| *y <= 20.0));

        // Same seed, same times.
        let a: Vec<Duration> = {
            let mut r = ChaCha8Rng::seed_from_u64(9);
            (0..10).map(|_| processing_time(&uni, &mut r)).collect()
        };
        let b: Vec<Duration> = {
            let mut r = ChaCha8Rng::seed_from_u64(9);
            (0..10).map(|_| processing_time(&uni, &mut r)).collect()
        };
        assert_eq!(a, b);
    }
}
