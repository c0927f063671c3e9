//! Mounting and unmounting: the checks that keep the machine safe (FUSE present, paths inside
//! the directory the caller gave), the in-process FUSE session, unmount on drop or from a
//! Ctrl-C handler, and sweeping mounts left by a jsbench that was killed.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fuser::{BackgroundSession, Config, MountOption};
use rand::Rng;

use super::error::FaultFsError;
use super::faults::{CorruptReport, TruncateAmount, TruncateReport};
use super::fs::{Counters, FaultFsImpl, Shared};
use super::kind::FileKind;
use super::listing::list_kind;
use super::power::PowerLossReport;
use super::state::State;
use super::{FaultFsOptions, FsStats, LatencyReport, FSNAME_PREFIX, HIDDEN_DIR};

const FUSE_DEVICE: &str = "/dev/fuse";

/// A mounted fault filesystem. Dropping it unmounts (also during a panic's unwinding).
pub struct Mount {
    shared: Arc<Shared>,
    session: Option<BackgroundSession>,
    handle: UnmountHandle,
    backing: PathBuf,
}

/// Unmounts from anywhere (a Ctrl-C handler, another thread); cheap to clone. The unmount is
/// lazy, so it succeeds even while a killed server's files are still being closed.
#[derive(Debug, Clone)]
pub struct UnmountHandle {
    mountpoint: PathBuf,
    done: Arc<AtomicBool>,
}

impl UnmountHandle {
    pub fn mountpoint(&self) -> &Path {
        &self.mountpoint
    }

    /// Detaches the mount (once; later calls do nothing).
    pub fn unmount(&self) -> io::Result<()> {
        if self.done.swap(true, Ordering::SeqCst) {
            return Ok(());
        }
        unmount_path(&self.mountpoint, true)
    }
}

/// Fails with what is missing when this machine cannot mount FUSE filesystems.
pub fn check_fuse_available() -> Result<(), FaultFsError> {
    let dev = Path::new(FUSE_DEVICE);
    if !dev.exists() {
        return Err(FaultFsError::NoFuseDevice { path: dev.into() });
    }
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(dev)
        .map_err(|source| FaultFsError::FuseDeviceDenied {
            path: dev.into(),
            source,
        })?;
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    if !root && find_on_path("fusermount3").is_none() {
        return Err(FaultFsError::NoFusermount);
    }
    Ok(())
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// Canonical `path`, which must lie strictly inside `confine_to` (canonical).
fn confined(path: &Path, confine_to: &Path) -> Result<PathBuf, FaultFsError> {
    let canon = path
        .canonicalize()
        .map_err(FaultFsError::io("resolve", path))?;
    if canon == confine_to || !canon.starts_with(confine_to) {
        return Err(FaultFsError::OutsideConfinement {
            path: canon,
            confine_to: confine_to.into(),
        });
    }
    Ok(canon)
}

fn checked_paths(
    backing: &Path,
    mountpoint: &Path,
    opts: &FaultFsOptions,
) -> Result<(PathBuf, PathBuf), FaultFsError> {
    let confine_to = opts
        .confine_to
        .canonicalize()
        .map_err(FaultFsError::io("resolve", &opts.confine_to))?;
    let backing = confined(backing, &confine_to)?;
    let mountpoint = confined(mountpoint, &confine_to)?;
    if backing.starts_with(&mountpoint) || mountpoint.starts_with(&backing) {
        return Err(FaultFsError::Overlap {
            backing,
            mountpoint,
        });
    }
    let empty = std::fs::read_dir(&mountpoint)
        .map(|mut d| d.next().is_none())
        .unwrap_or(false);
    if !empty {
        return Err(FaultFsError::MountpointNotEmpty { path: mountpoint });
    }
    Ok((backing, mountpoint))
}

/// A fresh hidden area: whatever a previous mount left there (its undo state is gone with
/// it) is discarded, so everything in the backing dir now counts as durable.
fn prepare_state(backing: &Path) -> Result<State, FaultFsError> {
    let hidden = backing.join(HIDDEN_DIR);
    if hidden.exists() {
        std::fs::remove_dir_all(&hidden).map_err(FaultFsError::io("clear", &hidden))?;
    }
    let root_meta = std::fs::metadata(backing).map_err(FaultFsError::io("stat", backing))?;
    let state = State::new(backing.to_path_buf(), &hidden, &root_meta);
    for dir in [&state.trash, &state.stage, &state.undo_dir] {
        std::fs::create_dir_all(dir).map_err(FaultFsError::io("create", dir))?;
    }
    Ok(state)
}

impl Mount {
    /// Mounts a pass-through view of `backing` on `mountpoint` (an empty directory), both
    /// inside `opts.confine_to`, served by a thread of this process.
    pub fn new(
        backing: &Path,
        mountpoint: &Path,
        opts: &FaultFsOptions,
    ) -> Result<Mount, FaultFsError> {
        check_fuse_available()?;
        let (backing, mountpoint) = checked_paths(backing, mountpoint, opts)?;
        let shared = Arc::new(Shared {
            state: Mutex::new(prepare_state(&backing)?),
            latency_ns: AtomicU64::new(0),
            counters: Counters::default(),
        });
        let mut config = Config::default();
        config.mount_options = vec![
            MountOption::FSName(format!("{FSNAME_PREFIX}{}", std::process::id())),
            MountOption::Subtype("jsbench-faultfs".into()),
            MountOption::DefaultPermissions,
            MountOption::NoDev,
            MountOption::NoSuid,
        ];
        config.n_threads = Some(1);
        let fs = FaultFsImpl {
            shared: shared.clone(),
        };
        let session = fuser::spawn_mount(fs, &mountpoint, &config).map_err(|source| {
            FaultFsError::MountRefused {
                mountpoint: mountpoint.clone(),
                source,
            }
        })?;
        Ok(Mount {
            shared,
            session: Some(session),
            handle: UnmountHandle {
                mountpoint,
                done: Arc::new(AtomicBool::new(false)),
            },
            backing,
        })
    }

    pub fn mountpoint(&self) -> &Path {
        &self.handle.mountpoint
    }

    pub fn backing(&self) -> &Path {
        &self.backing
    }

    /// For a Ctrl-C handler: unmounts without owning the mount.
    pub fn unmount_handle(&self) -> UnmountHandle {
        self.handle.clone()
    }

    fn state(&self) -> Result<std::sync::MutexGuard<'_, State>, FaultFsError> {
        self.shared.state.lock().map_err(|_| FaultFsError::Poisoned)
    }

    /// Drops every write and directory entry not made durable (see the module header). Call
    /// it while the process using the store is dead.
    pub fn power_loss(&self) -> Result<PowerLossReport, FaultFsError> {
        self.state()?.power_loss()
    }

    /// Makes everything written so far durable, like sync(2) (or a journal commit): a power
    /// loss after it drops only what is written later.
    pub fn checkpoint(&self) -> Result<(), FaultFsError> {
        self.state()?
            .sync_everything()
            .map_err(FaultFsError::io("checkpoint", &self.backing))
    }

    /// Flips `bits` distinct random bits in the files of `kind`.
    pub fn corrupt<R: Rng + ?Sized>(
        &self,
        kind: FileKind,
        bits: u64,
        rng: &mut R,
    ) -> Result<CorruptReport, FaultFsError> {
        self.state()?.corrupt(kind, bits, rng)
    }

    /// Cuts the end of the newest file of `kind`.
    pub fn truncate(
        &self,
        kind: FileKind,
        amount: TruncateAmount,
    ) -> Result<TruncateReport, FaultFsError> {
        self.state()?.truncate_kind(kind, amount)
    }

    /// The files of `kind` in the store now, relative to it, in path order.
    pub fn files(&self, kind: FileKind) -> Result<Vec<PathBuf>, FaultFsError> {
        let _serialised = self.state()?;
        Ok(list_kind(&self.backing, kind)?
            .into_iter()
            .map(|f| f.rel)
            .collect())
    }

    /// A slow disk: adds `latency` before every write and sync until set to zero.
    pub fn set_latency(&self, latency: Duration) -> LatencyReport {
        let ns = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        let previous = self.shared.latency_ns.swap(ns, Ordering::Relaxed);
        LatencyReport {
            previous: Duration::from_nanos(previous),
            latency,
            delayed_so_far: self.shared.counters.delayed.load(Ordering::Relaxed),
        }
    }

    pub fn stats(&self) -> FsStats {
        let c = &self.shared.counters;
        FsStats {
            writes: c.writes.load(Ordering::Relaxed),
            syncs: c.syncs.load(Ordering::Relaxed),
            delayed: c.delayed.load(Ordering::Relaxed),
        }
    }

    /// Unmounts now, reporting a failure (drop does the same, silently).
    pub fn unmount(mut self) -> io::Result<()> {
        self.finish()
    }

    fn finish(&mut self) -> io::Result<()> {
        let Some(session) = self.session.take() else {
            return Ok(());
        };
        // A plain unmount first: when it works nothing is open, the kernel ends the session
        // and the thread can be joined. When busy (a killed server's files not closed yet),
        // detach lazily and let the thread serve the last requests on its own.
        let clean = !self.handle.done.swap(true, Ordering::SeqCst)
            && unmount_path(&self.handle.mountpoint, false).is_ok();
        if clean {
            return session.join();
        }
        let detached = unmount_path(&self.handle.mountpoint, true);
        drop(session);
        detached
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = self.finish();
    }
}

/// Unmounts `path` (lazily: detached now, gone when nothing uses it any more). As root by the
/// syscall; otherwise through `fusermount3 -u`.
fn unmount_path(path: &Path, lazy: bool) -> io::Result<()> {
    let c = CString::new(path.as_os_str().as_bytes())?;
    let flags = if lazy { libc::MNT_DETACH } else { 0 };
    // SAFETY: `c` is a valid NUL-terminated path.
    if unsafe { libc::umount2(c.as_ptr(), flags) } == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::EINVAL) => Ok(()),
        Some(libc::EPERM) => {
            let mut cmd = Command::new("fusermount3");
            cmd.arg("-u").arg("-q");
            if lazy {
                cmd.arg("-z");
            }
            let status = cmd
                .arg("--")
                .arg(path)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()?;
            if status.success() {
                Ok(())
            } else {
                Err(err)
            }
        }
        _ => Err(err),
    }
}

/// Lazily unmounts every fault filesystem whose owning process is dead (a jsbench killed
/// with its mounts up leaves them answering "Transport endpoint is not connected"). Returns
/// the mountpoints swept.
pub fn sweep_stale_mounts() -> Result<Vec<PathBuf>, FaultFsError> {
    let info = "/proc/self/mountinfo";
    let text = std::fs::read_to_string(info).map_err(FaultFsError::io("read", info))?;
    let mut swept = Vec::new();
    for (mountpoint, pid) in text.lines().filter_map(parse_mountinfo_line) {
        if pid == std::process::id() || process_alive(pid) {
            continue;
        }
        unmount_path(&mountpoint, true).map_err(FaultFsError::io("unmount", &mountpoint))?;
        swept.push(mountpoint);
    }
    Ok(swept)
}

/// Our mounts in a mountinfo line: (mountpoint, owner pid).
fn parse_mountinfo_line(line: &str) -> Option<(PathBuf, u32)> {
    let (left, right) = line.split_once(" - ")?;
    let mountpoint = unescape(left.split(' ').nth(4)?);
    let source = right.split(' ').nth(1)?;
    let pid = source.strip_prefix(FSNAME_PREFIX)?.parse().ok()?;
    Some((mountpoint, pid))
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape(field: &str) -> PathBuf {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).and_then(|d| {
            let s = std::str::from_utf8(d).ok()?;
            u8::from_str_radix(s, 8).ok()
        });
        match (bytes[i], octal) {
            (b'\\', Some(b)) => {
                out.push(b);
                i += 4;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    PathBuf::from(std::ffi::OsString::from(
        <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(&out),
    ))
}

fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_lines_name_our_mounts_and_their_owner() {
        let ours = "812 30 0:77 / /tmp/run\\040x/mnt rw,nosuid,nodev,relatime shared:1 - \
                    fuse.jsbench-faultfs jsbench-faultfs-4242 rw,user_id=0,group_id=0";
        assert_eq!(
            parse_mountinfo_line(ours),
            Some((PathBuf::from("/tmp/run x/mnt"), 4242))
        );
        let other = "36 25 0:32 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw";
        assert_eq!(parse_mountinfo_line(other), None);
    }
}
