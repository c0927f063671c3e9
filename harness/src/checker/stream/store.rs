//! [`StoreStream`]: the storage-side figures of a run (storage order, safety, what retries
//! stored) from the stream's copies as a follower reads them during the run, without the
//! read-back in memory.
//!
//! During the run it knows neither the history nor how many messages the run will publish, so
//! it keeps only what it can judge from the copies alone: the storage order's running figures
//! ([`OrderStream`], 1 bit per message) and counters, the live ones also in atomics
//! ([`StoreLive`]) for a live line in another task. At the end, [`StoreStream::finish`] takes
//! the history and one replay of the same copies (the follower's spill) and judges what needs
//! it: safety by outcome, the ack sequences, displacement, the per-key figures, and the rules
//! that depend on the run's size (`idx >= published` is unexpected to `safety`, `idx >=
//! keys.len()` is skipped by `divergence`).
//!
//! Which key a message has: the per-key figures of the result use the drawn key
//! (`History::keys[idx]`), as the end-of-run checkers do, so both give the same figures even
//! when a stored copy carries another key; such copies are counted (`key_mismatches`: in a
//! correct run 0, else the stored message is not what was published). During the run the
//! history is not at hand, so the live per-key figure uses the copy's own key
//! (`StoredCopy::key`).

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::bits::Bits;
use super::order::{Displacement, KeyOrder, OrderStream, Sight};
use super::{Digest, StreamError};
use crate::checker::safety::judge_published;
use crate::checker::{OrderFigures, Safety};
use crate::record::history::History;
use crate::record::stored::{CopySink, StoredCopy};

/// What the stream holds of a run, judged (the same figures as `divergence` of the storage
/// order, `safety`, and the read-back fields of `retry_figures`, on a read-back of the same
/// copies).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamFigures {
    /// `divergence(&rb.order, &h.keys, h.num_keys)`.
    pub storage: OrderFigures,
    /// `safety(h, rb)`.
    pub safety: Safety,
    /// `RetryFigures::stored_from_retries`: copies from an attempt > 1.
    pub stored_from_retries: u64,
    /// `RetryFigures::retry_reorders`.
    pub retry_reorders: u64,
    /// `RetryFigures::keys_affected`.
    pub retry_keys_affected: u64,
    /// Messages read: copies of the run's messages and unexpected ones (`ReadBackCheck::read`).
    pub read: u64,
    /// Copies of a planned message whose stored key is not the key drawn for it.
    pub key_mismatches: u64,
}

/// The live figures, readable from another task while the follower feeds the checker. Each is
/// stored by the one task that feeds it (a plain store, no locked instruction).
#[derive(Debug, Default)]
pub struct StoreLive {
    read: AtomicU64,
    duplicates: AtomicU64,
    late: AtomicU64,
    late_per_key: AtomicU64,
}

/// The storage figures so far (see [`StoreStream::so_far`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreSoFar {
    /// Messages read (copies and unexpected).
    pub read: u64,
    /// Copies of a message already read. At the end, `safety.duplicates` leaves out those
    /// of indexes beyond the published messages (unexpected there).
    pub duplicates: u64,
    /// Messages stored after a later-published message.
    pub late: u64,
    /// Messages stored after a later-published message of the key their copy names.
    pub late_per_key: u64,
}

impl StoreLive {
    pub fn so_far(&self) -> StoreSoFar {
        StoreSoFar {
            read: self.read.load(Relaxed),
            duplicates: self.duplicates.load(Relaxed),
            late: self.late.load(Relaxed),
            late_per_key: self.late_per_key.load(Relaxed),
        }
    }
}

/// The streaming storage checker (module docs): a [`CopySink`] for the follower.
#[derive(Debug)]
pub struct StoreStream {
    order: OrderStream,
    limit: u64,
    copies: u64,
    /// Foreign messages: not the run's.
    unexpected: u64,
    duplicates: u64,
    digest: Digest,
    live: Arc<StoreLive>,
}

impl StoreStream {
    /// A checker for a run with keys `0..num_keys`. Copies of indexes at or beyond `limit` are
    /// not tracked per message, so a corrupt index cannot grow the seen set to 2^32 bits (512
    /// MiB): pass the run's planned message count when it is fixed, `u64::MAX` when it is not
    /// known (a duration-bound run). `finish` fails if one of them turns out to be planned.
    pub fn new(num_keys: u32, limit: u64) -> StoreStream {
        StoreStream {
            order: OrderStream::new(num_keys, limit),
            limit,
            copies: 0,
            unexpected: 0,
            duplicates: 0,
            digest: Digest::default(),
            live: Arc::default(),
        }
    }

    /// The figures so far (counters only: called for every copy, to publish them live).
    pub fn so_far(&self) -> StoreSoFar {
        let (late, late_per_key) = self.order.late();
        StoreSoFar {
            read: self.copies + self.unexpected,
            duplicates: self.duplicates,
            late,
            late_per_key,
        }
    }

    /// A handle on the figures so far for another task (the checker itself moves into the
    /// follower's).
    pub fn live(&self) -> Arc<StoreLive> {
        Arc::clone(&self.live)
    }

    fn publish_live(&self) {
        let s = self.so_far();
        self.live.read.store(s.read, Relaxed);
        self.live.duplicates.store(s.duplicates, Relaxed);
        self.live.late.store(s.late, Relaxed);
        self.live.late_per_key.store(s.late_per_key, Relaxed);
    }

    /// All figures, from the history and one `replay` of the copies fed, in the same order.
    /// `complete`: the copies are everything the stream holds of the run (as
    /// `ReadBack::complete`; ack sequences are compared only then). Errors when the replay is
    /// not what was fed, or a copy beyond the limit is a planned message after all.
    pub fn finish(
        self,
        h: &History,
        replay: impl IntoIterator<Item = StoredCopy>,
        complete: bool,
    ) -> Result<StreamFigures, StreamError> {
        let mut pass = Replay::new(h, &self.order, self.limit);
        for c in replay {
            pass.copy(&c)?;
        }
        if pass.digest != self.digest {
            return Err(StreamError::Replay {
                fed: self.copies,
                replayed: pass.digest.count,
            });
        }
        let mut safety = Safety {
            stored: pass.stored,
            duplicates: pass.duplicates,
            unexpected: self.unexpected + pass.unexpected,
            ..Default::default()
        };
        let stored = |i: usize| pass.visited.contains(i);
        let ack_matched = |i: usize| pass.at_ack_seq.contains(i);
        judge_published(h, &mut safety, stored, ack_matched, complete);
        // Without a tracked copy beyond the planned messages, the running figures are the
        // order's; else the replay counted them again without those copies.
        let running = match &pass.recount {
            Some(r) => r.so_far(),
            None => self.order.so_far(),
        };
        let (late_per_key, keys_affected, keys) = pass.keys.figures();
        Ok(StreamFigures {
            storage: OrderFigures {
                max_displacement: pass.displacement.max,
                late_per_key,
                keys_affected,
                keys,
                ..running
            },
            safety,
            stored_from_retries: pass.from_retries,
            retry_reorders: pass.retry_reorders,
            retry_keys_affected: pass.retry_keys.count(),
            read: self.copies + self.unexpected,
            key_mismatches: pass.key_mismatches,
        })
    }
}

impl CopySink for StoreStream {
    fn copy(&mut self, c: &StoredCopy) {
        self.digest.add_copy(c);
        self.copies += 1;
        if self.order.push(c.idx, c.key) == Sight::Repeat {
            self.duplicates += 1;
        }
        self.publish_live();
    }

    fn unexpected(&mut self) {
        self.unexpected += 1;
        self.publish_live();
    }
}

/// The second pass of [`StoreStream::finish`], over the replayed copies with the history at
/// hand. Per message: the copies seen in this pass and those at their ack's sequence (bits).
struct Replay<'a> {
    h: &'a History,
    order: &'a OrderStream,
    limit: u64,
    /// Planned messages: `divergence` and `per_message` skip indexes from here.
    planned: usize,
    /// Published messages: `safety` counts indexes from here as unexpected.
    published: usize,
    visited: Bits,
    at_ack_seq: Bits,
    keys: KeyOrder,
    displacement: Displacement,
    /// The running figures again, when the order tracked an index beyond the planned ones.
    recount: Option<OrderStream>,
    stored: u64,
    duplicates: u64,
    unexpected: u64,
    from_retries: u64,
    retry_reorders: u64,
    retry_keys: Bits,
    key_mismatches: u64,
    digest: Digest,
}

impl<'a> Replay<'a> {
    fn new(h: &'a History, order: &'a OrderStream, limit: u64) -> Replay<'a> {
        let planned = h.planned();
        let published = (h.published as usize).min(planned);
        let beyond_planned = order.highest().is_some_and(|i| i as usize >= planned);
        Replay {
            h,
            order,
            limit,
            planned,
            published,
            visited: Bits::new(planned),
            at_ack_seq: Bits::new(published),
            keys: KeyOrder::new(h.num_keys),
            displacement: Displacement::default(),
            recount: beyond_planned.then(|| OrderStream::new(h.num_keys, planned as u64)),
            stored: 0,
            duplicates: 0,
            unexpected: 0,
            from_retries: 0,
            retry_reorders: 0,
            retry_keys: Bits::new(h.num_keys as usize),
            key_mismatches: 0,
            digest: Digest::default(),
        }
    }

    fn copy(&mut self, c: &StoredCopy) -> Result<(), StreamError> {
        self.digest.add_copy(c);
        self.from_retries += (c.attempt > 1) as u64;
        let i = c.idx as usize;
        if i >= self.planned {
            self.unexpected += 1;
            return Ok(());
        }
        if c.idx as u64 >= self.limit {
            return Err(StreamError::BeyondLimit {
                idx: c.idx,
                limit: self.limit,
                planned: self.planned as u64,
            });
        }
        let key = self.h.keys.get(i);
        self.key_mismatches += (c.key != key) as u64;
        let first = self.visited.insert(i);
        if i >= self.published {
            self.unexpected += 1;
        } else {
            self.stored += first as u64;
            self.duplicates += !first as u64;
            if c.seq == self.h.ack_seq(i) {
                self.at_ack_seq.insert(i);
            }
        }
        if first {
            if let Some(r) = &mut self.recount {
                r.push(c.idx, key);
            }
            self.displacement.next(self.order.rank(c.idx));
            if self.keys.first(c.idx, key) && c.attempt > 1 {
                self.retry_reorders += 1;
                self.retry_keys.insert(key as usize);
            }
        }
        Ok(())
    }
}
