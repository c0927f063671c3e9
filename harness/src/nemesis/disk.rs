//! Disk faults (issue 23) on the fault filesystem under each target node's store
//! ([`crate::faultfs`], mounted by the process backend when a scenario has disk faults):
//!
//! - `power_loss`: kill -9 every target node, then drop what each one's disk had not synced
//!   (writes and directory entries), hold for `duration`, start them again on what survived;
//! - `disk_corrupt` / `disk_truncate`: flip seeded random bits in, or cut the newest of, the
//!   store files of one kind. With a `duration` the nodes are killed first, the files changed
//!   while they are down, and they start again after `duration` (a node that reads its store
//!   from scratch); without one the files change under the running server;
//! - `disk_latency`: every write and sync of the nodes' stores delayed for `duration`.
//!
//! What each did, per node, is recorded in the fault window's `disk` (result.json): the bytes
//! and files dropped at each power loss, each flipped bit (file, offset), each truncation.

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use rand::SeedableRng;
use serde::{Deserialize, Serialize};

use super::{Fault, FaultPlan, FaultWindow};
use crate::faultfs::{EntryAction, Mount, PowerLossReport};
use crate::server::{Server, ServerError};

/// What a disk fault did to one node's store.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DiskEffect {
    pub node: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_loss: Option<PowerLossCounts>,
    /// Every bit flipped, in file and offset order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flips: Vec<FlippedBit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncation: Option<Truncation>,
    /// `disk_latency`: the writes and syncs it delayed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delayed: Option<u64>,
}

/// What one power loss dropped on one node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PowerLossCounts {
    /// Unsynced bytes dropped (appends cut, overwrites reverted, contents of removed files).
    pub bytes_dropped: u64,
    /// Files created since they were last made durable, removed.
    pub files_removed: u64,
    /// Files that stayed but lost unsynced data.
    pub files_reverted: u64,
    /// Directories removed.
    pub dirs_removed: u64,
    /// Renames and unlinks that were not durable, undone.
    pub entries_restored: u64,
}

impl From<&PowerLossReport> for PowerLossCounts {
    fn from(r: &PowerLossReport) -> PowerLossCounts {
        let count = |dir: bool, f: &dyn Fn(&EntryAction) -> bool| {
            r.entries
                .iter()
                .filter(|e| e.is_dir == dir && f(&e.action))
                .count() as u64
        };
        PowerLossCounts {
            bytes_dropped: r.bytes_dropped,
            files_removed: count(false, &|a| *a == EntryAction::CreatedRemoved),
            files_reverted: count(false, &|a| *a == EntryAction::DataReverted),
            dirs_removed: count(true, &|a| *a == EntryAction::CreatedRemoved),
            entries_restored: r.entries_restored,
        }
    }
}

/// One flipped bit, relative to the node's store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlippedBit {
    pub file: PathBuf,
    pub offset: u64,
    /// 0 = least significant.
    pub bit: u8,
}

/// One truncation, relative to the node's store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Truncation {
    pub file: PathBuf,
    pub old_len: u64,
    pub new_len: u64,
}

/// Injects one occurrence of disk fault `f` on `nodes` (none named: node 0) and heals it when
/// `held` completes; see the module comment. `seed` drives the bit flips.
pub(super) async fn inject(
    server: &Server,
    f: &FaultPlan,
    nodes: &[usize],
    seed: u64,
    held: impl Future<Output = bool>,
    w: &mut FaultWindow,
    now_ms: impl Fn() -> f64,
) {
    let nodes = if nodes.is_empty() { &[0][..] } else { nodes };
    let name = |i: usize| server.nodes()[i].name.clone();
    if let Fault::DiskLatency { latency } = f.fault {
        let before: Vec<u64> = nodes.iter().map(|&i| delayed(server, i)).collect();
        note(
            w,
            "disk latency",
            each(server, nodes, |d| d.set_latency(latency)),
        );
        w.truncated = !held.await;
        note(
            w,
            "heal",
            each(server, nodes, |d| d.set_latency(Duration::ZERO)),
        );
        w.end_ms = now_ms();
        for (k, &i) in nodes.iter().enumerate() {
            w.disk.push(DiskEffect {
                node: name(i),
                delayed: Some(delayed(server, i).saturating_sub(before[k])),
                ..Default::default()
            });
        }
        return;
    }
    // A power loss always kills; file faults kill when the nodes stay down a while.
    let kill = matches!(f.fault, Fault::PowerLoss) || f.schedule.duration.is_some();
    if kill {
        let killed = futures::future::join_all(nodes.iter().map(|&i| server.kill_node(i))).await;
        note(w, "kill", killed.into_iter().collect());
    }
    for &i in nodes {
        let mut effect = DiskEffect {
            node: name(i),
            ..Default::default()
        };
        let node_seed = seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        if let Err(e) = act(server, i, &f.fault, node_seed, &mut effect) {
            w.error = Some(format!(
                "{} on {}: {e}",
                f.fault.kind().as_str(),
                effect.node
            ));
        }
        w.disk.push(effect);
    }
    if kill {
        w.truncated = !held.await;
        let started =
            futures::future::join_all(nodes.iter().map(|&i| server.start_again_node(i))).await;
        note(w, "start again", started.into_iter().collect());
    }
    w.end_ms = now_ms();
}

/// The fault itself on node `i`'s disk, recorded in `effect`.
fn act(
    server: &Server,
    i: usize,
    fault: &Fault,
    seed: u64,
    effect: &mut DiskEffect,
) -> Result<(), ServerError> {
    let disk = server.disk(i)?;
    let fs = |source| ServerError::FaultFs { node: i, source };
    match *fault {
        Fault::PowerLoss => {
            let r = disk.power_loss().map_err(fs)?;
            effect.power_loss = Some(PowerLossCounts::from(&r));
        }
        Fault::DiskCorrupt { bits, files } => {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let r = disk.corrupt(files, bits, &mut rng).map_err(fs)?;
            effect.flips = r
                .flips
                .into_iter()
                .map(|b| FlippedBit {
                    file: b.file,
                    offset: b.offset,
                    bit: b.bit,
                })
                .collect();
        }
        Fault::DiskTruncate { files, amount } => {
            let r = disk.truncate(files, amount).map_err(fs)?;
            effect.truncation = Some(Truncation {
                file: r.file,
                old_len: r.old_len,
                new_len: r.new_len,
            });
        }
        _ => unreachable!("not a disk fault: {fault:?}"),
    }
    Ok(())
}

fn delayed(server: &Server, i: usize) -> u64 {
    server.disk(i).map_or(0, |d| d.stats().delayed)
}

/// Runs `action` on every node's disk; the first error, if any.
fn each<T>(
    server: &Server,
    nodes: &[usize],
    action: impl Fn(&Mount) -> T,
) -> Result<(), ServerError> {
    for &i in nodes {
        action(server.disk(i)?);
    }
    Ok(())
}

fn note(w: &mut FaultWindow, what: &str, result: Result<(), ServerError>) {
    if let Err(e) = result {
        w.error.get_or_insert(format!("{what} failed: {e}"));
    }
}
