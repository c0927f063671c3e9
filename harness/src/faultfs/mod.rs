//! faultfs: a FUSE pass-through filesystem over a backing directory that can lose power and
//! rot, for the disk faults of issue 23. kill -9 keeps the page cache, so it cannot show what
//! nats-server's `sync_interval` protects against; a power loss here can (the technique of
//! LazyFS, used by Jepsen's NATS 2.12.1 analysis).
//!
//! ## Design
//!
//! Everything passes through: every write lands in the backing file at once, and reads come
//! from the backing files (the kernel caches nothing: zero TTLs and direct I/O). What is
//! tracked is what a power loss would undo, as an *undo log* per file since its last
//! fsync/fdatasync: its durable length and the pre-images of durable bytes overwritten (or cut
//! by a truncation) since. Appends need no pre-image, only the length, and pre-image bytes
//! spill to a file in the hidden area, so memory grows with the number of overwritten ranges
//! between two syncs, not with the bytes written (`undo.rs`).
//!
//! The namespace is tracked per inode (`state.rs`): where it is linked now and where it was
//! last made durable, both as (parent inode, name), so a renamed directory carries its
//! children along. Unlinking (or renaming over) a durable entry moves it to a trash dir inside
//! the hidden area `.jsbench-faultfs/` of the backing dir (hidden from the mount) until the
//! unlink is durable; a never-durable one is deleted at once.
//!
//! `power_loss()` (`power.rs`) puts the backing dir back to its durable state: inodes whose
//! durable entry chain reaches the root are moved back to their durable entries (renames and
//! unlinks reverted, parents first), the others (created since they were last made durable)
//! are removed, and every surviving file is truncated to its durable length with its
//! pre-images written back. Faults that act underneath the page cache (`corrupt`, `truncate`)
//! work on the backing files directly (`faults.rs`); `set_latency` delays writes and syncs;
//! `checkpoint()` makes everything durable at once, like sync(2) or a journal commit.
//!
//! ## When a directory entry is durable
//!
//! An entry (a file or directory at a name in a directory) becomes durable when:
//! - its directory is fsynced: every entry in it, and every departure from it (an unlink
//!   becomes final, a rename out of it durable at its new place), or
//! - the inode itself is fsynced or fdatasynced (or written through an O_SYNC/O_DSYNC
//!   handle): its own current entry, and
//! - in both cases, the entries of the directories above it (a durable entry under a lost
//!   directory would be unreachable), and whatever held that entry durably before has left it
//!   durably too (the rename or unlink that made room was committed first).
//!
//! POSIX asks for the directory fsync only; that an fsync of a new file also makes its own
//! name durable is what ext4, xfs and btrfs do in practice (their journal or log commits the
//! file's creation with it), and we model the machine nats-server runs on, not the weakest
//! legal one. It matters: nats-server fsyncs the directory in `writeAtomically` (meta files,
//! raft snapshots) and its `msgs` dir in the periodic flush (`syncBlocks`), but never the
//! parents of the store directories it creates (`os.MkdirAll`), so the strict rule would delete a stream
//! with `sync_interval: always` on every power loss. LazyFS is laxer still: it buffers only
//! file data and passes create, rename, mkdir and unlink straight through, so entries always
//! survive; here a file created and written without any sync is gone after a power loss, as
//! issue 23 asks.
//!
//! ## File kinds of a nats-server 2.15 store
//!
//! Seen by running nats-server 2.15.1 (R1 and a 3-node R3 cluster with a file stream and a
//! durable consumer) and in its `filestore.go`/`raft.go`. Paths are relative to the store
//! dir; `<acct>` is an account (`$G` without accounts), clustered groups live under
//! `$SYS/_js_/<group>` (`_meta_`, `S-R3F-…` for a stream, `C-R3F-…` for a consumer) and each
//! keeps its raft log as a file store of its own:
//!
//! | kind | paths |
//! |---|---|
//! | `blocks` | `jetstream/<acct>/streams/<stream>/msgs/<n>.blk`, raft logs `jetstream/$SYS/_js_/<group>/msgs/<n>.blk` |
//! | `index` | `…/msgs/index.db` (stream state snapshot, written at shutdown and periodically), legacy `…/msgs/<n>.idx` |
//! | `snapshot` | `jetstream/$SYS/_js_/<group>/snapshots/snap.<term>.<index>` (raft snapshots) |
//! | `meta` | `meta.inf`, `meta.sum` (and `meta.key` when encrypted) of streams, consumers `…/obs/<consumer>/` and raft groups |
//! | `consumer_state` | `jetstream/<acct>/streams/<stream>/obs/<consumer>/o.dat` |
//! | `raft_state` | `jetstream/$SYS/_js_/<group>/peers.idx`, `tav.idx`, and `_meta_/commit.idx` |
//!
//! Transient files (`*.tmp`, `<n>.new`, `__msgs__`, `.snap-staging`) belong to no kind.
//!
//! ## Safety of the machine
//!
//! A mount goes only inside the directory the caller names (`FaultFsOptions::confine_to`, a
//! run's temp dir), on an empty mountpoint that does not overlap the backing dir; faults touch
//! only files under the backing dir. [`Mount`] unmounts on drop (so also when a panic unwinds)
//! and [`UnmountHandle`] unmounts from a Ctrl-C handler. Mounts carry the fsname
//! `jsbench-faultfs-<pid>`, so [`sweep_stale_mounts`] can find those whose owner died and
//! detach them. A machine without FUSE gets a [`FaultFsError`] naming what is missing.
//!
//! Not supported (ENOSYS): hard links, symlinks, device nodes; nats-server uses none.

mod error;
mod faults;
mod fs;
mod kind;
mod listing;
mod mount;
mod ops;
mod power;
mod state;
mod undo;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

pub use error::FaultFsError;
pub use faults::{BitFlip, CorruptReport, TruncateAmount, TruncateReport};
pub use kind::FileKind;
pub use mount::{check_fuse_available, sweep_stale_mounts, Mount, UnmountHandle};
pub use power::{DroppedEntry, EntryAction, PowerLossReport};

/// The hidden area inside the backing dir (trash, staging, undo spill files).
pub const HIDDEN_DIR: &str = ".jsbench-faultfs";

/// Mount source names are this followed by the owning pid.
pub const FSNAME_PREFIX: &str = "jsbench-faultfs-";

/// How to mount.
#[derive(Debug, Clone)]
pub struct FaultFsOptions {
    /// The backing dir and the mountpoint must both be strictly inside this directory.
    pub confine_to: PathBuf,
}

impl FaultFsOptions {
    pub fn within(dir: impl Into<PathBuf>) -> FaultFsOptions {
        FaultFsOptions {
            confine_to: dir.into(),
        }
    }
}

/// What the filesystem has done since it was mounted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct FsStats {
    /// write requests.
    pub writes: u64,
    /// fsync, fdatasync and directory fsync requests.
    pub syncs: u64,
    /// Writes and syncs that were delayed by `set_latency`.
    pub delayed: u64,
}

/// What `set_latency` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LatencyReport {
    /// The latency before the call.
    pub previous: Duration,
    /// The latency now (zero: cleared).
    pub latency: Duration,
    /// Writes and syncs delayed before the call.
    pub delayed_so_far: u64,
}

/// The entry point.
pub struct FaultFs;

impl FaultFs {
    /// Mounts a fault filesystem over `backing` on `mountpoint`; see [`Mount::new`].
    pub fn mount(
        backing: &Path,
        mountpoint: &Path,
        opts: &FaultFsOptions,
    ) -> Result<Mount, FaultFsError> {
        Mount::new(backing, mountpoint, opts)
    }
}
