//! Retries: the queue of failed attempts waiting for their backoff, earliest due first.
//!
//! A failed or timed-out attempt is queued here when the scenario's retry plan allows another
//! one. The phase loop sends a due retry before any new message (see `phase.rs`); a retry keeps
//! its message's key, per-key sequence and connection, so a server-side dedup window can
//! recognise it.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::ack::{Attempt, Completion};
use super::pool::Router;
use crate::record::keys::Keys;
use crate::scenario::RetryPlan;

/// A retry waiting for its backoff to pass. Ordered by due time (then index) for the heap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Retry {
    pub due_ns: u64,
    idx: u32,
    /// The attempt to send (2 for the first retry).
    attempt: u8,
    seq: u32,
    /// When the message's first attempt was due: intended → ack covers every attempt.
    intended_ns: u64,
}

impl Retry {
    /// The attempt this retry sends: same key, per-key sequence and connection as the first.
    pub(super) fn attempt(&self, router: &Router, keys: &Keys) -> Attempt {
        Attempt {
            idx: self.idx,
            attempt: self.attempt,
            seq: self.seq,
            conn: router.route(self.idx as u64, keys.get(self.idx as usize)),
            intended_ns: self.intended_ns,
        }
    }
}

/// Retries waiting for their backoff, earliest due first.
#[derive(Debug, Default)]
pub(super) struct Retries {
    heap: BinaryHeap<Reverse<Retry>>,
}

impl Retries {
    /// Queues the attempt after `failed`, due once the plan's backoff has passed since
    /// `failed_ns`. The caller decides whether another attempt is allowed at all.
    pub(super) fn schedule(&mut self, plan: &RetryPlan, failed: &Completion, failed_ns: u64) {
        let a = Attempt {
            idx: failed.idx,
            attempt: failed.attempt,
            seq: failed.seq,
            conn: failed.conn as usize,
            intended_ns: failed.intended_ns,
        };
        self.schedule_after(plan, &a, failed_ns);
    }

    /// [`Self::schedule`] for an attempt known by its identity alone (an adapter's report).
    pub(super) fn schedule_after(&mut self, plan: &RetryPlan, failed: &Attempt, failed_ns: u64) {
        let wait = plan.backoff_after(failed.attempt as u32);
        self.heap.push(Reverse(Retry {
            due_ns: failed_ns + wait.as_nanos() as u64,
            idx: failed.idx,
            attempt: failed.attempt + 1,
            seq: failed.seq,
            intended_ns: failed.intended_ns,
        }));
    }

    /// The retry due first, left in the queue.
    #[inline]
    pub(super) fn peek(&self) -> Option<Retry> {
        self.heap.peek().map(|Reverse(r)| *r)
    }

    /// When the first retry falls due, if any is queued.
    #[inline]
    pub(super) fn next_due(&self) -> Option<u64> {
        self.heap.peek().map(|Reverse(r)| r.due_ns)
    }

    /// Takes the retry due first.
    #[inline]
    pub(super) fn pop(&mut self) -> Option<Retry> {
        self.heap.pop().map(|Reverse(r)| r)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use async_nats::jetstream::context::{PublishError, PublishErrorKind};

    use super::*;
    use crate::scenario::{ConnectTo, ConnectionsPlan, OnInProcess, Strategy};

    #[test]
    fn a_retry_keeps_its_message_and_when_it_was_first_due() {
        let plan = RetryPlan {
            attempts: 5,
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            on_in_process: OnInProcess::Retry,
        };
        let first = Attempt {
            idx: 7,
            attempt: 1,
            seq: 3,
            conn: 0,
            intended_ns: 1_000,
        };
        let failed = Completion::refused(
            &first,
            2_000,
            5_000,
            PublishError::new(PublishErrorKind::TimedOut),
        );
        let mut q = Retries::default();
        q.schedule(&plan, &failed, 5_000);
        assert_eq!(q.next_due(), Some(5_000 + 100_000_000));
        let router = Router::new(
            &ConnectionsPlan {
                strategy: Strategy::Single,
                count: 1,
                proxy: false,
                connect_to: ConnectTo::Any,
            },
            4,
        );
        let retry = q.pop().unwrap().attempt(&router, &Keys::new(vec![0; 8]));
        assert_eq!((retry.idx, retry.attempt, retry.seq), (7, 2, 3));
        // intended → ack of a retried message counts from its first due time, not the retry's.
        assert_eq!(retry.intended_ns, 1_000);
    }
}
