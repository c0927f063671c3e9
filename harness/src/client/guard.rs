//! The per-key sequence guard (`publish.expect_last_subject_seq`): every message carries
//! `Nats-Expected-Last-Subject-Sequence`, the stream sequence its key's subject is expected to
//! end at, so the server itself refuses a message that would be stored out of order.
//!
//! The expectation is the sequence of the key's previous message, which is known only once that
//! message's ack is back. So a key has at most one message in flight: the next message of a key
//! is parked until the previous one is settled (acked, or failed with no retry left), while
//! messages of other keys go on (parked messages count against `max_in_flight`). That is what an
//! event-sourced application does when it appends to many aggregates, each with an expected
//! version; what it costs against unguarded async publishing is what a run measures. A message sent with a stale expectation (e.g. its earlier attempt timed out but was
//! stored) is rejected; the rejection names the subject's real last sequence, which the guard
//! adopts, so a retry carries the right one.

use std::collections::VecDeque;

/// A message waiting for its key's previous one: its index and intended send time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Parked {
    pub idx: u32,
    pub intended_ns: u64,
}

/// What the guard knows per key.
#[derive(Debug)]
pub(super) struct Guard {
    /// The stream sequence of the key's last stored message as far as the client knows (0:
    /// nothing stored on the key's subject yet).
    last: Vec<u64>,
    /// The key has a message that is not settled yet (in flight or waiting for its retry).
    busy: Vec<bool>,
    /// Per key, its messages waiting for the key to settle, oldest first (no allocation until a
    /// key parks one).
    parked: Vec<VecDeque<Parked>>,
    /// Keys that settled while they had parked messages: their oldest goes out next.
    ready: VecDeque<u32>,
    parked_total: usize,
}

impl Guard {
    pub(super) fn new(keys: u32) -> Guard {
        Guard {
            last: vec![0; keys as usize],
            busy: vec![false; keys as usize],
            parked: (0..keys).map(|_| VecDeque::new()).collect(),
            ready: VecDeque::new(),
            parked_total: 0,
        }
    }

    /// Message `p` of the busy `key` waits for the key to settle.
    pub(super) fn park(&mut self, key: u32, p: Parked) {
        self.parked[key as usize].push_back(p);
        self.parked_total += 1;
    }

    /// Messages parked in all.
    #[inline]
    pub(super) fn parked(&self) -> usize {
        self.parked_total
    }

    /// The oldest parked message of a key that has settled, taken off its queue.
    #[inline]
    pub(super) fn next_ready(&mut self) -> Option<Parked> {
        let key = self.ready.pop_front()?;
        let p = self.parked[key as usize].pop_front()?;
        self.parked_total -= 1;
        Some(p)
    }

    /// `key` has nothing unsettled: its oldest parked message, if any, may go.
    fn free(&mut self, key: u32) {
        let k = key as usize;
        self.busy[k] = false;
        if !self.parked[k].is_empty() {
            // Busy again at once: the parked message is the key's next to go out.
            self.busy[k] = true;
            self.ready.push_back(key);
        }
    }

    /// The sequence a message of `key` expects its subject to end at.
    #[inline]
    pub(super) fn expected(&self, key: u32) -> u64 {
        self.last[key as usize]
    }

    /// True while a message of `key` is not settled: the key's next message waits.
    #[inline]
    pub(super) fn is_busy(&self, key: u32) -> bool {
        self.busy[key as usize]
    }

    /// A first attempt of a message of `key` goes out.
    #[inline]
    pub(super) fn start(&mut self, key: u32) {
        self.busy[key as usize] = true;
    }

    /// A message of `key` was acked at stream sequence `seq`: settled.
    #[inline]
    pub(super) fn acked(&mut self, key: u32, seq: u64) {
        let k = key as usize;
        self.last[k] = self.last[k].max(seq);
        self.free(key);
    }

    /// A message of `key` was rejected; the server's reply says where the subject really ends.
    pub(super) fn rejected(&mut self, key: u32, description: &str) {
        if let Some(seq) = last_sequence_in(description) {
            self.last[key as usize] = seq;
        }
    }

    /// A message of `key` failed for good (no retry left): the key may go on.
    #[inline]
    pub(super) fn settled(&mut self, key: u32) {
        self.free(key);
    }

    /// Nothing is in flight or queued: every key is settled, whatever the bookkeeping says.
    pub(super) fn settle_all(&mut self) {
        for key in 0..self.busy.len() as u32 {
            if self.busy[key as usize] && !self.ready.contains(&key) {
                self.free(key);
            }
        }
    }

    /// True when no key has anything unsettled (a key left busy would block its next message).
    #[cfg(test)]
    fn idle(&self) -> bool {
        !self.busy.iter().any(|b| *b) && self.parked_total == 0
    }
}

/// The subject's last sequence from the server's rejection, "wrong last sequence: 1234"
/// (nats-server's `NewJSStreamWrongLastSequenceError`; async-nats appends " (code 400, …)").
fn last_sequence_in(description: &str) -> Option<u64> {
    let (_, tail) = description.split_once("last sequence:")?;
    let digits: String = tail
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_busy_until_its_message_settles_and_learns_from_acks_and_rejections() {
        let mut g = Guard::new(2);
        assert_eq!(g.expected(1), 0, "an empty subject ends at 0");
        g.start(1);
        assert!(g.is_busy(1) && !g.is_busy(0));
        g.acked(1, 17);
        assert!(!g.is_busy(1));
        assert_eq!(g.expected(1), 17);
        g.start(1);
        g.rejected(1, "wrong last sequence: 42 (code 400, error code 10071)");
        assert!(
            g.is_busy(1),
            "a rejection alone does not settle: a retry may follow"
        );
        assert_eq!(g.expected(1), 42);
        g.settled(1);
        assert!(g.idle());
        g.rejected(0, "something else");
        assert_eq!(g.expected(0), 0);
    }

    #[test]
    fn parked_messages_go_in_key_order_once_their_key_settles() {
        let mut g = Guard::new(2);
        let p = |idx| Parked {
            idx,
            intended_ns: idx as u64,
        };
        g.start(0);
        g.park(0, p(1));
        g.park(0, p(2));
        assert_eq!((g.parked(), g.next_ready()), (2, None), "key 0 is busy");
        g.acked(0, 5);
        assert!(g.is_busy(0), "its parked message is next");
        assert_eq!(g.next_ready(), Some(p(1)));
        g.start(0);
        g.settled(0);
        assert_eq!(g.next_ready(), Some(p(2)));
        g.start(0);
        g.acked(0, 6);
        assert_eq!(g.next_ready(), None);
        assert!(g.idle());
        // Nothing in flight at all: every parked message becomes ready.
        g.start(1);
        g.park(1, p(3));
        g.settle_all();
        assert_eq!(g.next_ready(), Some(p(3)));
    }
}
