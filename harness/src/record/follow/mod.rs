//! The follower: reads the run's messages out of the stream while the run goes on, so that when
//! publishing ends only the last seconds remain to be read (issue 24). Every stored copy goes,
//! in stream order, to a [`CopySink`] (the streaming checkers) and to the spill file
//! (`record::spill`); nothing per message stays in memory. [`Follower::finish`] then does what
//! `read_back` does — settle, count the stream's messages on the filter, read on until what was
//! read matches — for the tail only. `read_back` stays the fallback and the cross-check.
//!
//! Why not async-nats's ordered consumer: it recreates itself out of sight (no count of
//! restarts, no chance to check the stream before resuming) and retries forever. The follower
//! does the same by hand with a plain pull consumer (R1, in memory, no acks): a message whose
//! consumer sequence is not the next one, an error, a missed heartbeat or an ended stream
//! replace the consumer by one that starts at the last stream sequence read + 1, with a growing
//! backoff. So it rides through a server kill or restart, a leader change, a partition or a
//! paused node.
//!
//! Going back: a stream that lost what was read (power loss, truncation, a purge) would mix
//! two histories if the follower just resumed. It stops and says `regressed` instead (the
//! caller reads the whole stream back) when a delivered sequence is not above the last one
//! read; when the stream's last sequence falls below it or its first sequence passes the first
//! one read (checked every [`PROBE_EVERY`]); when, before resuming after a failure and once
//! more at the end, the stream no longer holds the last message read at its sequence (same
//! store time: a sequence refilled after a power loss is a different message); or when the stream
//! counts fewer messages than were read. Retention limits that drop old messages count as going
//! back too: what was read is no longer stored.
//!
//! [`resume`] makes and checks the consumers; this file holds the API and the task's loop.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::datetime::DateTime;
use async_nats::jetstream::{self, consumer, stream};
use async_nats::HeaderMap;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::cancel::Cancel;
use crate::record::readback::{self, MAX_ROUNDS};
use crate::record::spill::{Spill, SpillWriter};
use crate::record::stored::{CopySink, StoredCopy};

mod resume;

use resume::{restart, state_of, still_holds, Restart, Resumed, PROBE_TIMEOUT};

/// How often the stream's state is checked for going back while following.
const PROBE_EVERY: Duration = Duration::from_secs(2);
/// How often progress is looked at (the tail's idle bound, the backoff reset, the probe).
const TICK: Duration = Duration::from_millis(250);
/// Backoff between failed attempts to (re)create the consumer: doubles up to the maximum.
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(2);

/// Decodes a stored message: `(publish index, key number, attempt)`, or `None` when it is not
/// one of the run's.
pub type FollowIdentify = dyn Fn(Option<&HeaderMap>, &[u8]) -> Option<(u32, u32, u8)> + Send + Sync;

/// What to follow.
#[derive(Clone)]
pub struct FollowSpec {
    pub js: jetstream::Context,
    pub stream: String,
    pub filter: String,
    /// Whether the tag travels in the payload: otherwise only headers are read.
    pub tag_in_payload: bool,
    pub identify: Arc<FollowIdentify>,
    /// When reading the tail, stop when nothing arrives for this long (as `read_back`'s idle).
    pub idle: Duration,
    pub cancel: Cancel,
}

/// How the follower made sure it saw everything (goes into result.json).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FollowCheck {
    /// Messages read (copies of the run's and unexpected ones) before [`Follower::finish`].
    pub read_during_run: u64,
    /// Messages read by [`Follower::finish`]: the tail.
    pub read_after_run: u64,
    /// Of all those read, the ones that are not the run's.
    pub unexpected: u64,
    /// Wall time of [`Follower::finish`], ms.
    pub tail_ms: f64,
    /// Time spent waiting for the stream to settle in the tail, ms.
    pub settle_ms: f64,
    /// Counts of the stream's messages taken in the tail (1 when all was read already).
    pub rounds: u32,
    /// The stream's own count of messages on the filter at the last count.
    pub stream_count: Option<u64>,
    /// What was read is all the stream holds on the filter, and nothing went back.
    pub complete: bool,
    /// The stream went back (module docs): what was read may no longer be stored, so the
    /// caller must read the whole stream back instead.
    pub regressed: bool,
    /// What showed the stream going back.
    pub regression: Option<String>,
    /// Consumers created after the first (each resumed at the last sequence read + 1).
    pub consumer_restarts: u32,
    /// The last failure of the consumer or of an attempt to recreate it (recovered or not).
    pub last_failure: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    #[error("the follower's spill file: {0}")]
    Spill(#[from] std::io::Error),
    #[error("the follower's task did not end normally: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// What a finished follower hands back.
pub struct Followed<S> {
    pub sink: S,
    /// Every copy of the run's read, in stream order.
    pub spill: Spill,
    pub check: FollowCheck,
}

/// A follower running in a task of its own; dropping it stops the task.
pub struct Follower<S> {
    read: Arc<AtomicU64>,
    gone_back: Arc<AtomicBool>,
    finish_tx: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<Followed<S>, FollowError>>>,
}

/// Starts following `spec.stream` (a task of its own, on the current Tokio runtime). Fails only
/// when the spill file cannot be created.
pub fn start<S: CopySink + 'static>(spec: FollowSpec, sink: S) -> Result<Follower<S>, FollowError> {
    let read = Arc::new(AtomicU64::new(0));
    let gone_back = Arc::new(AtomicBool::new(false));
    let (finish_tx, finish_rx) = oneshot::channel();
    let task = Task {
        spec,
        sink,
        spill: SpillWriter::new()?,
        spill_error: None,
        check: FollowCheck::default(),
        read: read.clone(),
        gone_back: gone_back.clone(),
        total: 0,
        pos: 0,
        pos_time: None,
        first_seq: 0,
        cons_seq: 0,
        stream: None,
        consumer: None,
        failures: 0,
    };
    Ok(Follower {
        read,
        gone_back,
        finish_tx: Some(finish_tx),
        task: Some(tokio::spawn(task.run(finish_rx))),
    })
}

impl<S> Follower<S> {
    /// Messages read so far (the run's copies and unexpected ones), for a live line.
    pub fn read_so_far(&self) -> u64 {
        self.read.load(Ordering::Relaxed)
    }

    /// Whether the follower already saw the stream go back (it stopped reading then): the run
    /// will need a whole read-back.
    pub fn gone_back(&self) -> bool {
        self.gone_back.load(Ordering::Relaxed)
    }

    /// To be called once publishing ended, faults were healed and the publishing connections
    /// were proven drained: settles, reads the tail until what was read matches the stream's
    /// count of messages on the filter (rounds, as `read_back`), and stops the task. After an
    /// urgent cancel it returns what it has, `complete = false`.
    pub async fn finish(mut self) -> Result<Followed<S>, FollowError> {
        let started = Instant::now();
        if let Some(tx) = self.finish_tx.take() {
            // The task may have stopped already (regression, urgent cancel): nothing to tell.
            let _ = tx.send(());
        }
        let task = self.task.take().expect("a follower finishes once");
        let mut followed = task.await??;
        followed.check.tail_ms = started.elapsed().as_secs_f64() * 1e3;
        Ok(followed)
    }
}

impl<S> Drop for Follower<S> {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// The follower's state, owned by its task.
struct Task<S> {
    spec: FollowSpec,
    sink: S,
    spill: SpillWriter,
    spill_error: Option<std::io::Error>,
    check: FollowCheck,
    /// `total` and `check.regressed`, shared with the [`Follower`].
    read: Arc<AtomicU64>,
    gone_back: Arc<AtomicBool>,
    /// Messages read (the run's copies and unexpected ones).
    total: u64,
    /// The last stream sequence read (0: none yet) and the time the stream stored it: where a
    /// new consumer starts, and what proves that the stream still holds what was read.
    pos: u64,
    pos_time: Option<DateTime>,
    /// The first stream sequence read (0: none yet).
    first_seq: u64,
    /// The last consumer sequence of the current consumer: deliveries must follow it by one.
    cons_seq: u64,
    stream: Option<stream::Stream>,
    consumer: Option<String>,
    /// Failures since progress was last made (the backoff's exponent).
    failures: u32,
}

impl<S: CopySink> Task<S> {
    async fn run(mut self, finish: oneshot::Receiver<()>) -> Result<Followed<S>, FollowError> {
        let mut messages = None;
        let finish = async {
            // A dropped sender means the Follower is gone; it aborts this task then anyway.
            let _ = finish.await;
        };
        self.read(&mut messages, finish, u64::MAX, None).await;
        self.check.read_during_run = self.total;
        if !self.stopped() {
            // Settling and counting wait on the server too: an urgent cancel cuts them short.
            let cancel = self.spec.cancel.clone();
            tokio::select! {
                _ = self.tail(&mut messages) => {}
                _ = cancel.reached(2) => self.check.complete = false,
            }
        }
        self.check.read_after_run = self.total - self.check.read_during_run;
        self.check.complete &= !self.check.regressed;
        drop(messages);
        if !self.spec.cancel.is_urgent() {
            self.delete_consumer().await;
        }
        if let Some(e) = self.spill_error.take() {
            return Err(FollowError::Spill(e));
        }
        Ok(Followed {
            sink: self.sink,
            spill: self.spill.finish()?,
            check: self.check,
        })
    }

    /// True once nothing more is to be read: urgent cancel, regression, a spill error.
    fn stopped(&self) -> bool {
        self.check.regressed || self.spill_error.is_some() || self.spec.cancel.is_urgent()
    }

    /// Reads, replacing the consumer whenever it fails, until `until` resolves, `target`
    /// messages were read in all, nothing arrived for `idle`, or the follower stopped.
    async fn read(
        &mut self,
        messages: &mut Option<consumer::pull::Stream>,
        until: impl Future<Output = ()>,
        target: u64,
        idle: Option<Duration>,
    ) {
        let cancel = self.spec.cancel.clone();
        let urgent = cancel.reached(2);
        tokio::pin!(urgent, until);
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut probe_at = Instant::now() + PROBE_EVERY;
        let mut progress = (self.total, Instant::now());
        let mut retry_at = tokio::time::Instant::now();
        while self.total < target && !self.stopped() {
            let Some(m) = messages.as_mut() else {
                let idle_at = idle.map(|d| tokio::time::Instant::from_std(progress.1 + d));
                // Only what the restart needs is borrowed: the sink need not be `Sync`.
                let (spec, at, old) = (&self.spec, self.position(), self.consumer.as_deref());
                tokio::select! {
                    biased;
                    _ = &mut urgent => break,
                    _ = &mut until => break,
                    _ = sleep_until(idle_at) => break,
                    r = async move {
                        tokio::time::sleep_until(retry_at).await;
                        restart(spec, at, old).await
                    } => match r {
                        Ok(resumed) => *messages = Some(self.resumed(resumed)),
                        Err(Restart::Regressed(why)) => self.regress(why),
                        Err(Restart::Failed(why)) => retry_at = self.failed(why),
                    },
                }
                continue;
            };
            tokio::select! {
                biased;
                _ = &mut urgent => break,
                _ = &mut until => break,
                next = m.next() => {
                    // Why the consumer must be replaced, if it must.
                    let lost = match next {
                        Some(Ok(msg)) if self.take(&msg) => None,
                        Some(Ok(_)) => Some("a delivery out of order".to_string()),
                        Some(Err(e)) => Some(e.to_string()),
                        None => Some("the consumer's messages ended".to_string()),
                    };
                    if let Some(why) = lost {
                        *messages = None;
                        retry_at = self.failed(why);
                    }
                }
                _ = tick.tick() => {
                    let now = Instant::now();
                    if self.total != progress.0 {
                        progress = (self.total, now);
                        self.failures = 0;
                    } else if idle.is_some_and(|d| now - progress.1 >= d) {
                        break;
                    }
                    if idle.is_none() && now >= probe_at {
                        probe_at = now + PROBE_EVERY;
                        self.probe().await;
                    }
                }
            }
        }
    }

    /// After publishing ended: settles, then counts the stream's messages on the filter and
    /// reads on to that count until what was read matches it ([`MAX_ROUNDS`] counts at most,
    /// settling again when a read stalled short of it), as `read_back` does for a whole run.
    async fn tail(&mut self, messages: &mut Option<consumer::pull::Stream>) {
        let js = self.spec.js.clone();
        let name = self.spec.stream.clone();
        let mut s = match self.stream.take() {
            Some(s) => s,
            None => match readback::while_unavailable(|| js.get_stream(&name)).await {
                Ok(s) => s,
                Err(e) => {
                    self.check.last_failure = Some(format!("stream info: {e}"));
                    return;
                }
            },
        };
        self.check.settle_ms += readback::settle(&mut s).await;
        while !self.stopped() && self.check.rounds < MAX_ROUNDS {
            self.check.rounds += 1;
            let count = match readback::stream_count(&s, &self.spec.filter).await {
                Ok(count) => count,
                Err(e) => {
                    self.check.last_failure = Some(format!("count: {e}"));
                    break;
                }
            };
            self.check.stream_count = Some(count);
            if self.total >= count {
                if self.total > count {
                    let why = format!("{} messages read, the stream counts {count}", self.total);
                    self.regress(why);
                }
                self.check.complete = self.total == count;
                break;
            }
            let idle = Some(self.spec.idle);
            self.read(messages, std::future::pending(), count, idle)
                .await;
            if self.total < count && !self.stopped() {
                self.check.settle_ms += readback::settle(&mut s).await;
            }
        }
        if self.check.complete {
            // The counts match. A purge followed by as many new messages would match too: the
            // first and the last message read must still be stored.
            if let Some(state) = state_of(Some(&mut s)).await {
                self.check_state(&state);
            }
            match still_holds(&s, self.position()).await {
                Err(Restart::Regressed(why)) => self.regress(why),
                Err(Restart::Failed(why)) => self.check.last_failure = Some(why),
                Ok(()) => {}
            }
        }
        self.stream.get_or_insert(s);
    }

    /// One delivered message (the hot path: no allocation, no log). False when the consumer
    /// must be replaced: its deliveries are not in order (one was lost on the way).
    #[inline]
    fn take(&mut self, m: &jetstream::Message) -> bool {
        let Ok(info) = m.info() else { return false };
        if info.consumer_sequence != self.cons_seq + 1 {
            return false;
        }
        self.cons_seq = info.consumer_sequence;
        let seq = info.stream_sequence;
        if seq <= self.pos {
            self.regress(format!(
                "sequence {seq} delivered after sequence {} was read",
                self.pos
            ));
            return true;
        }
        match (self.spec.identify)(m.headers.as_ref(), &m.payload) {
            Some((idx, key, attempt)) => {
                let c = StoredCopy {
                    idx,
                    key,
                    attempt,
                    seq,
                };
                if let Err(e) = self.spill.push(&c) {
                    self.spill_error = Some(e);
                    return true;
                }
                self.sink.copy(&c);
            }
            None => {
                self.check.unexpected += 1;
                self.sink.unexpected();
            }
        }
        if self.first_seq == 0 {
            self.first_seq = seq;
        }
        self.pos = seq;
        self.pos_time = Some(info.published);
        self.total += 1;
        self.read.store(self.total, Ordering::Relaxed);
        true
    }

    /// Takes a new consumer into use.
    fn resumed(&mut self, r: Resumed) -> consumer::pull::Stream {
        if self.consumer.is_some() {
            self.check.consumer_restarts += 1;
            tracing::debug!(
                "follower: consumer recreated from sequence {}",
                self.pos + 1
            );
        }
        self.stream = Some(r.stream);
        self.consumer = Some(r.consumer);
        self.cons_seq = 0;
        r.messages
    }

    /// Notes a failure; returns when to try again (backoff). Logs the first of a streak only.
    fn failed(&mut self, why: String) -> tokio::time::Instant {
        if self.failures == 0 {
            tracing::warn!(
                "follower: {why}; resuming from sequence {} (retrying with backoff)",
                self.pos + 1
            );
        } else {
            tracing::debug!("follower: {why}");
        }
        self.failures = self.failures.saturating_add(1);
        self.check.last_failure = Some(why);
        let backoff = BACKOFF_MIN
            .saturating_mul(1 << self.failures.min(16))
            .min(BACKOFF_MAX);
        tokio::time::Instant::now() + backoff
    }

    fn regress(&mut self, why: String) {
        if !self.check.regressed {
            tracing::warn!("follower: the stream went back ({why}); it must be read back whole");
            self.check.regressed = true;
            self.check.regression = Some(why);
            self.gone_back.store(true, Ordering::Relaxed);
        }
    }

    /// The last message read, if any.
    fn position(&self) -> Option<(u64, DateTime)> {
        self.pos_time.map(|t| (self.pos, t))
    }

    /// Checks the stream's state for going back (module docs); failures are left to the next.
    /// While the run goes on, a state that looks gone back is only a suspicion: in a cluster
    /// during a fault, the node that answers (a leader just elected, a replica behind) can
    /// report a last sequence below what was already read from the old leader, measured on the
    /// R3 soak. Only the message read last, missing from its sequence (asked of the stream's
    /// leader), proves the stream went back; when that cannot be asked now, the next probe
    /// looks again.
    async fn probe(&mut self) {
        let Some(state) = state_of(self.stream.as_mut()).await else {
            return;
        };
        let Some(why) = self.went_back(&state) else {
            return;
        };
        let Some(s) = self.stream.as_ref() else {
            return;
        };
        if let Err(Restart::Regressed(proof)) = still_holds(s, self.position()).await {
            self.regress(format!("{why}; {proof}"));
        }
    }

    /// After the run (faults healed, replicas agreed): a state that looks gone back is.
    fn check_state(&mut self, state: &stream::State) {
        if let Some(why) = self.went_back(state) {
            self.regress(why);
        }
    }

    /// Whether the stream's state looks gone back: its last sequence below the last one read,
    /// or its first past the first one read.
    fn went_back(&self, state: &stream::State) -> Option<String> {
        if state.last_sequence < self.pos {
            Some(format!(
                "the stream's last sequence {} is below {} already read",
                state.last_sequence, self.pos
            ))
        } else if self.first_seq > 0 && state.first_sequence > self.first_seq {
            Some(format!(
                "the stream's first sequence is {}: sequence {} read before is gone",
                state.first_sequence, self.first_seq
            ))
        } else {
            None
        }
    }

    /// Best effort: the consumer expires by itself after [`INACTIVE`] anyway.
    async fn delete_consumer(&mut self) {
        if let (Some(s), Some(name)) = (&self.stream, self.consumer.take()) {
            let _ = tokio::time::timeout(PROBE_TIMEOUT, s.delete_consumer(&name)).await;
        }
    }
}

/// Sleeps until `at`, or forever when there is no such time.
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
