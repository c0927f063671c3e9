//! What can go wrong when mounting the fault filesystem or injecting a fault.

use std::io;
use std::path::PathBuf;

use super::kind::FileKind;

#[derive(Debug, thiserror::Error)]
pub enum FaultFsError {
    /// The kernel side of FUSE is missing: no `/dev/fuse` (module not loaded, or a container
    /// started without `--device /dev/fuse`).
    #[error("FUSE is unavailable: {path} does not exist (load the fuse module, or give the container --device /dev/fuse)")]
    NoFuseDevice { path: PathBuf },
    /// `/dev/fuse` exists but this process may not open it.
    #[error("FUSE is unavailable: cannot open {path}: {source}")]
    FuseDeviceDenied { path: PathBuf, source: io::Error },
    /// Not root, and no `fusermount3` helper on PATH to mount for us.
    #[error("FUSE is unavailable: not running as root and no fusermount3 on PATH (install fuse3)")]
    NoFusermount,
    /// The mount itself was refused (no CAP_SYS_ADMIN and fusermount3 failed, a read-only
    /// mountpoint, …).
    #[error("cannot mount the fault filesystem on {mountpoint}: {source} (mounting needs root or a working fusermount3, and CAP_SYS_ADMIN inside containers)")]
    MountRefused {
        mountpoint: PathBuf,
        source: io::Error,
    },
    /// The backing dir or mountpoint is not inside the directory the caller allowed.
    #[error("{path} is not inside {confine_to}: the fault filesystem mounts only inside the directory it is given")]
    OutsideConfinement { path: PathBuf, confine_to: PathBuf },
    /// The backing dir and the mountpoint are the same, or one is inside the other.
    #[error("backing dir {backing} and mountpoint {mountpoint} overlap")]
    Overlap {
        backing: PathBuf,
        mountpoint: PathBuf,
    },
    /// The mountpoint must be an existing empty directory, so nothing is hidden by the mount.
    #[error("mountpoint {path} is not an empty directory")]
    MountpointNotEmpty { path: PathBuf },
    /// The fault filesystem's state was poisoned by a panic in the FUSE thread.
    #[error("the fault filesystem's state is unusable (its FUSE thread panicked)")]
    Poisoned,
    /// A fault needs files of a kind and there are none.
    #[error("no {kind} files in {backing}")]
    NoFiles { kind: FileKind, backing: PathBuf },
    /// More bits asked for than the files of that kind hold.
    #[error("cannot flip {bits} distinct bits in {available} bits of {kind} files")]
    TooManyBits {
        kind: FileKind,
        bits: u64,
        available: u64,
    },
    /// A truncation fraction outside 0..=1.
    #[error("truncate fraction {0} is not within 0..=1")]
    BadFraction(f64),
    /// Reading or writing a backing file failed.
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

impl FaultFsError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| FaultFsError::Io { op, path, source }
    }
}
