//! The worker pool that "processes" consumed messages: keyed (key → worker by hash, each worker
//! in arrival order) or shared (any free worker takes the next message).
//!
//! Both models are the same worker loop over a queue behind a mutex: a keyed worker owns its
//! queue (the lock is never contended), shared workers take turns on one queue (whoever holds
//! the lock is the free worker). Workers write only to their own pre-sized logs, merged when
//! the pool stops, so nothing on the processing path locks or logs.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_nats::jetstream::{self, AckKind};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::sync::{mpsc, Mutex};
use tokio::task::JoinHandle;

use super::processing::processing_time;
use super::{ConsumeLog, ConsumeSetup, Processed};
use crate::record::observe::Clock;
use crate::scenario::{ConsumePlan, ConsumerKind, OnFail, PoolModel};

/// One delivery, handed to a worker.
pub(super) struct Job {
    pub msg: jetstream::Message,
    pub idx: u32,
    pub delivered: u32,
}

/// The pool's input side: one queue per worker (keyed) or one queue for all (shared).
enum Queues {
    Keyed(Vec<mpsc::Sender<Job>>),
    Shared(mpsc::Sender<Job>),
}

/// A running pool: where jobs go in, and the workers that take them.
pub(super) struct WorkerPool {
    queues: Queues,
    workers: Workers,
}

/// The pool's worker tasks, and how many jobs they hold (queued or being processed).
pub(super) struct Workers {
    tasks: Vec<JoinHandle<WorkerLog>>,
    in_flight: Arc<AtomicU64>,
}

/// What one worker did.
#[derive(Default)]
struct WorkerLog {
    processed: Vec<Processed>,
    failures: u64,
}

/// One worker's settings and state.
struct Worker {
    id: u16,
    plan: ConsumePlan,
    clock: Clock,
    in_flight: Arc<AtomicU64>,
    rng: ChaCha8Rng,
    /// Durable consumers get acks (and naks); ordered ones take none.
    ack: bool,
}

impl WorkerPool {
    /// Starts `plan.workers` workers in the plan's model.
    pub(super) fn spawn(setup: &ConsumeSetup) -> WorkerPool {
        let plan = &setup.plan;
        let in_flight = Arc::new(AtomicU64::new(0));
        let worker = |id: u16| Worker {
            id,
            plan: plan.clone(),
            clock: setup.clock,
            in_flight: in_flight.clone(),
            rng: ChaCha8Rng::seed_from_u64(setup.seed ^ 0xC045_0000 ^ id as u64),
            ack: plan.consumer == ConsumerKind::Durable,
        };
        let mut tasks = Vec::with_capacity(plan.workers);
        let queues = match plan.model {
            PoolModel::Keyed => {
                let mut txs = Vec::with_capacity(plan.workers);
                for w in 0..plan.workers {
                    let (tx, rx) = mpsc::channel::<Job>(256);
                    txs.push(tx);
                    tasks.push(tokio::spawn(worker(w as u16).run(Arc::new(Mutex::new(rx)))));
                }
                Queues::Keyed(txs)
            }
            PoolModel::Shared => {
                let (tx, rx) = mpsc::channel::<Job>(64 * plan.workers);
                let rx = Arc::new(Mutex::new(rx));
                for w in 0..plan.workers {
                    tasks.push(tokio::spawn(worker(w as u16).run(rx.clone())));
                }
                Queues::Shared(tx)
            }
        };
        WorkerPool {
            queues,
            workers: Workers { tasks, in_flight },
        }
    }

    /// Hands a job to its worker (keyed: by `key_hash`); waits while that queue is full.
    /// `Err` when the worker is gone.
    pub(super) async fn dispatch(&self, job: Job, key_hash: u64) -> Result<(), ()> {
        self.workers.in_flight.fetch_add(1, Ordering::Relaxed);
        let sent = match &self.queues {
            Queues::Keyed(txs) => txs[(key_hash % txs.len() as u64) as usize].send(job).await,
            Queues::Shared(tx) => tx.send(job).await,
        };
        sent.map_err(|_| ())
    }

    /// Jobs handed out and not yet processed.
    pub(super) fn in_flight(&self) -> u64 {
        self.workers.in_flight.load(Ordering::Relaxed)
    }

    /// Closes the queues: the workers finish the jobs they hold, then stop.
    pub(super) fn close(self) -> Workers {
        self.workers
    }
}

impl Workers {
    /// Waits for every worker and merges their logs into `log`, ordered by finish time.
    pub(super) async fn collect(self, log: &mut ConsumeLog) {
        for w in self.tasks {
            if let Ok(wl) = w.await {
                log.failures += wl.failures;
                log.processed.extend(wl.processed);
            }
        }
        // Merged by finish time; a stable sort keeps each worker's own order on ties.
        log.processed.sort_by_key(|p| p.at_ns);
    }
}

impl Worker {
    async fn run(mut self, rx: Arc<Mutex<mpsc::Receiver<Job>>>) -> WorkerLog {
        let mut log = WorkerLog {
            processed: Vec::with_capacity(4096),
            failures: 0,
        };
        loop {
            // Keyed: the lock is this worker's alone. Shared: whoever holds it is the free worker
            // that takes the next message.
            let job = { rx.lock().await.recv().await };
            let Some(job) = job else { break };
            self.process(job, &mut log).await;
            self.in_flight.fetch_sub(1, Ordering::Relaxed);
        }
        log
    }

    /// Processes one job for a seeded time, then fails it (with the plan's probability) or
    /// records it and acks.
    async fn process(&mut self, job: Job, log: &mut WorkerLog) {
        let d = processing_time(&self.plan, &mut self.rng);
        if d.is_zero() {
            tokio::task::yield_now().await;
        } else {
            tokio::time::sleep(d).await;
        }
        let failed = self.plan.fail_rate > 0.0 && self.rng.random::<f64>() < self.plan.fail_rate;
        if failed {
            log.failures += 1;
            // Nak asks for redelivery now; otherwise the server redelivers after `ack_wait`.
            if self.ack && self.plan.on_fail == OnFail::Nak {
                let _ = job.msg.ack_with(AckKind::Nak(None)).await;
            }
        } else {
            log.processed.push(Processed {
                idx: job.idx,
                at_ns: self.clock.now_ns(),
                delivered: job.delivered,
                worker: self.id,
            });
            if self.ack {
                let _ = job.msg.ack().await;
            }
        }
    }
}
