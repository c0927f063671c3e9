//! Splitting one plan across N workers (issue 25: distributed load): how a validated [`Plan`]
//! becomes N [`Segment`]s, one per worker process or machine, whose union is exactly the plan.
//! Pure: no I/O, no clock; the same plan and worker count always give the same segments.
//!
//! **What a segment is: a filter on the plan's own message sequence, plus a share of its
//! connections.** The plan's seed draws the key of every message `idx = 0, 1, 2, …` exactly as
//! a single-process run draws them (`workload::KeyGen`). Worker `w` owns some keys; it draws the
//! same sequence and publishes the messages whose key it owns — every message of those keys,
//! none of another key — with the plan's per-key `seq` and Msg-Id, on connections it owns. Why
//! this form:
//! - *per-key order stays meaningful*: a key's messages are all published by one worker, in the
//!   plan's order, so "late per key" means what it means in a single process;
//! - *the union is the plan, message by message*: every `idx` belongs to exactly one worker (the
//!   owner of its key), so counts add up exactly and a merged history is the plan's history;
//! - *tags stay unique without a new field*: every worker publishes under the one run id of the
//!   run (its stream binds `jsb.<run>.>`); the key says which worker published a message, and
//!   the worker's number for it maps to the plan's `idx` (below). Msg-Ids
//!   (`<run>-<phase>-<key>-<seq>`) are the plan's, unique because keys are disjoint;
//! - *the rate is divided*: a worker's own rate is `rate × share`.
//!
//! **Connections.** Worker `w` gets the contiguous block `[⌊w·c/N⌋, ⌊(w+1)·c/N⌋)` of the plan's
//! `c` connections (sizes differ by at most one). How keys follow:
//! - `key_affine`: key → connection stays FNV-1a(key name) mod `c`, the plan's own mapping, so a
//!   worker owns exactly the keys that map into its block: each connection carries the keys it
//!   carries in a single process. A worker whose connections no key maps to cannot be given work:
//!   an error ([`Unsplittable::IdleWorker`]);
//! - `round_robin`: keys are dealt heaviest first (the distribution's expected shares, see
//!   `workload::key_weights`), each to the worker that is then least loaded for its number of
//!   connections, so every connection carries about 1/c of the messages, as in the plan; a worker
//!   sends its j-th message on connection `j mod` (its block), round robin over its own pool;
//! - `single`: one connection cannot be shared by workers, so it splits only across one worker.
//!
//! What a segment does not split: the stream, server faults, the consume side and the read-back
//! belong to the run as a whole (whoever coordinates it); network faults target connection
//! indexes, which are the plan's, so they land on whichever worker holds the connection.
//!
//! **How a worker publishes it (`jsbench worker`).** The publisher numbers the messages of the
//! history it is handed from 0, and takes no filter; so a worker hands it a history of its own
//! messages only, in the plan's order, and they go out under the worker's *local* numbers
//! (the tag's `idx`), on its own connections (a `round_robin` worker's tag carries its local
//! connection number). The coordinator, which draws the same keys, maps every local number
//! back to the plan's `idx` ([`draws`]) when it merges the histories and reads the stream
//! back. Per-key `seq` and Msg-Ids are the plan's (a worker publishes every message of its
//! keys, in order); an open-loop worker paces its own messages evenly at `rate × share`, so
//! the union has the plan's rate but not each message's exact intended time.
//!
//! Files: `assign.rs` (connection blocks, key owners), `count.rs` (each worker's exact message
//! counts), `draws.rs` (a worker's messages with their plan indexes; what workers cannot do
//! yet), `error.rs` ([`SplitError`], [`Unsplittable`]).

use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::scenario::{Amount, Plan, Rate, Strategy, Warmup};
use crate::workload::{key_affine_conn, key_name, key_weights, warmup_seed};

mod assign;
mod count;
mod draws;
mod error;

#[cfg(test)]
mod tests;

pub use draws::{draws, not_yet, Draws, NotYet};
pub use error::{SplitError, Unsplittable};

/// One worker's part of a plan (module docs): the keys whose messages it publishes, the
/// connections it opens, and what that comes to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    /// This worker's number, from 0.
    pub worker: usize,
    /// How many workers the plan is split across.
    pub workers: usize,
    /// The keys (numbers, `k<n>` on the wire) whose messages this worker publishes — every
    /// message of these keys and none other — ascending.
    pub keys: Vec<u32>,
    /// The plan's connection indexes this worker opens; what a message's `conn` carries.
    pub connections: Range<usize>,
    /// The plan's connection strategy, which [`Segment::connection_for`] applies.
    pub strategy: Strategy,
    /// The plan's connection count (`key_affine` maps a key over all of them).
    pub pool: usize,
    /// Its measured messages: exact for a `messages` plan (the plan's draws, counted), `None`
    /// for a `duration` plan (known only as the run goes).
    pub messages: Option<u64>,
    /// Its warm-up messages, likewise (a warm-up draws its own keys, and the same filter
    /// applies).
    pub warmup_messages: Option<u64>,
    /// Its share of the plan's measured messages, 0..=1: exact (messages / the plan's) for a
    /// `messages` plan, expected from the key distribution for a `duration` plan.
    pub share: f64,
    /// Its messages per second in an open-loop plan: the plan's rate × `share` (it sends each of
    /// its messages at the plan's intended time); `None` in a closed-loop plan.
    pub rate: Option<f64>,
}

impl Segment {
    /// Whether message keys `key` are this worker's to publish.
    pub fn owns(&self, key: u32) -> bool {
        self.keys.binary_search(&key).is_ok()
    }

    /// The connection (the plan's index) that carries this worker's `ordinal`-th message (its
    /// own count, from 0), of key `key`: `single` its one connection, `round_robin` the next of
    /// its block, `key_affine` the plan's FNV-1a mapping, always inside the block. A publisher
    /// precomputes the key mapping once, as `client::pool::Router` does.
    pub fn connection_for(&self, ordinal: u64, key: u32) -> usize {
        match self.strategy {
            Strategy::Single => self.connections.start,
            Strategy::RoundRobin => {
                self.connections.start + (ordinal % self.connections.len() as u64) as usize
            }
            Strategy::KeyAffine => key_affine_conn(&key_name(key), self.pool),
        }
    }
}

/// Splits `plan` across `workers` (module docs). Every reason it cannot be split is reported at
/// once: fewer keys or connections than workers, a single connection across several workers,
/// a key-affine worker whose connections no key maps to.
pub fn split(plan: &Plan, workers: usize) -> Result<Vec<Segment>, SplitError> {
    let refuse = |reasons: Vec<Unsplittable>| SplitError { workers, reasons };
    let reasons = assign::check(plan, workers);
    if !reasons.is_empty() {
        return Err(refuse(reasons));
    }
    let blocks = assign::connection_blocks(plan.connections.count, workers);
    let owner = assign::key_owners(plan, &blocks).map_err(refuse)?;
    let w = &plan.workload;
    let measured = match w.amount {
        Amount::Messages(n) => Some(count::messages(w, plan.seed, n, &owner, workers)),
        Amount::Duration(_) => None,
    };
    let warmup = match w.warmup {
        Warmup::Messages(n) => Some(count::messages(
            w,
            warmup_seed(plan.seed),
            n,
            &owner,
            workers,
        )),
        Warmup::Duration(_) => None,
    };
    let shares = shares(plan, &owner, workers, measured.as_deref());
    let mut keys: Vec<Vec<u32>> = vec![Vec::new(); workers];
    for (k, &o) in owner.iter().enumerate() {
        keys[o as usize].push(k as u32);
    }
    Ok(keys
        .into_iter()
        .zip(blocks)
        .enumerate()
        .map(|(i, (keys, connections))| Segment {
            worker: i,
            workers,
            keys,
            connections,
            strategy: plan.connections.strategy,
            pool: plan.connections.count,
            messages: measured.as_ref().map(|m| m[i]),
            warmup_messages: warmup.as_ref().map(|m| m[i]),
            share: shares[i],
            rate: match w.rate {
                Rate::Max => None,
                Rate::PerSec(r) => Some(r as f64 * shares[i]),
            },
        })
        .collect())
}

/// Each worker's share of the measured messages: its exact count over the plan's when known,
/// else the sum of its keys' expected shares.
fn shares(plan: &Plan, owner: &[u16], workers: usize, measured: Option<&[u64]>) -> Vec<f64> {
    match (plan.workload.amount, measured) {
        (Amount::Messages(n), Some(m)) if n > 0 => m.iter().map(|&c| c as f64 / n as f64).collect(),
        _ => {
            let mut shares = vec![0.0; workers];
            for (k, w) in key_weights(&plan.workload).into_iter().enumerate() {
                shares[owner[k] as usize] += w;
            }
            shares
        }
    }
}
