//! The FUSE operations: each passes through to the backing dir and tells the state what changed
//! (a write before it happens, so the undo log can keep the pre-image; a sync after it).
//!
//! Attributes and entries are given with a zero TTL and files are opened in direct-I/O mode, so
//! the kernel caches nothing: after a power loss, a corruption or a truncation done underneath,
//! the next read sees the backing files as they are.

use std::ffi::OsStr;
use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use fuser::{Errno, FileAttr, FileHandle, FileType, INodeNo, RenameFlags, TimeOrNow};

use super::state::{Handle, Slot, State, ROOT};
use super::HIDDEN_DIR;

pub(super) const TTL: Duration = Duration::ZERO;

/// Counters of what the filesystem did (for tests and reports).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub writes: AtomicU64,
    pub syncs: AtomicU64,
    pub delayed: AtomicU64,
}

/// What the FUSE thread and the [`super::Mount`] handle share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub state: Mutex<State>,
    /// Added before every write and sync, in nanoseconds (0: none).
    pub latency_ns: AtomicU64,
    pub counters: Counters,
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, State> {
        // A panic in one operation must not wedge the filesystem: the state is still coherent
        // enough to serve, and the fault calls report poisoning themselves.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A slow disk: sleeps before a write or sync, outside the state lock.
    fn delay(&self) {
        let ns = self.latency_ns.load(Ordering::Relaxed);
        if ns > 0 {
            std::thread::sleep(Duration::from_nanos(ns));
            self.counters.delayed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

pub(crate) struct FaultFsImpl {
    pub shared: Arc<Shared>,
}

pub(super) fn errno(e: io::Error) -> Errno {
    Errno::from(e)
}

fn to_time(secs: i64, nsecs: i64) -> SystemTime {
    if secs >= 0 {
        SystemTime::UNIX_EPOCH + Duration::new(secs as u64, nsecs as u32)
    } else {
        SystemTime::UNIX_EPOCH
    }
}

pub(super) fn attr(ino: u64, meta: &Metadata) -> FileAttr {
    let kind = if meta.is_dir() {
        FileType::Directory
    } else if meta.file_type().is_symlink() {
        FileType::Symlink
    } else {
        FileType::RegularFile
    };
    FileAttr {
        ino: INodeNo(ino),
        size: meta.len(),
        blocks: meta.blocks(),
        atime: to_time(meta.atime(), meta.atime_nsec()),
        mtime: to_time(meta.mtime(), meta.mtime_nsec()),
        ctime: to_time(meta.ctime(), meta.ctime_nsec()),
        crtime: SystemTime::UNIX_EPOCH,
        kind,
        perm: (meta.mode() & 0o7777) as u16,
        nlink: meta.nlink() as u32,
        uid: meta.uid(),
        gid: meta.gid(),
        rdev: meta.rdev() as u32,
        blksize: meta.blksize() as u32,
        flags: 0,
    }
}

/// The hidden area is not part of the filesystem.
pub(super) fn hidden(parent: INodeNo, name: &OsStr) -> bool {
    parent.0 == ROOT && name == HIDDEN_DIR
}

/// Flags for the backing open: the caller's, minus what the kernel already did (create,
/// truncate: truncation goes through the undo log) and what would break offset bookkeeping
/// (append: the kernel gives the offset) or buffers (direct I/O).
fn backing_flags(flags: i32) -> (i32, bool) {
    let strip = libc::O_CREAT | libc::O_EXCL | libc::O_TRUNC | libc::O_APPEND | libc::O_DIRECT;
    let sync = flags & (libc::O_SYNC | libc::O_DSYNC) != 0;
    (flags & !strip & !libc::O_ACCMODE, sync)
}

fn open_backing(path: &std::path::Path, flags: i32) -> io::Result<File> {
    let (custom, _) = backing_flags(flags);
    let mut opts = OpenOptions::new();
    match flags & libc::O_ACCMODE {
        libc::O_WRONLY => opts.write(true),
        libc::O_RDWR => opts.read(true).write(true),
        _ => opts.read(true),
    };
    opts.custom_flags(custom).open(path)
}

impl State {
    /// Truncation to `size` through the undo log.
    fn truncate_to(&mut self, ino: u64, file: &File, size: u64) -> io::Result<()> {
        if let Some(undo) = self.nodes.get_mut(&ino).and_then(|n| n.undo.as_mut()) {
            let durable = undo.durable_len();
            if size < durable {
                undo.before_change(file, size, durable - size)?;
            }
        }
        file.set_len(size)
    }

    fn add_handle(&mut self, ino: u64, file: File, flags: i32) -> u64 {
        let fh = self.next_fh();
        let (_, sync_writes) = backing_flags(flags);
        let file = Arc::new(file);
        let handle = Handle {
            ino,
            file,
            sync_writes,
        };
        self.handles.insert(fh, handle);
        fh
    }

    pub(super) fn handle_file(&self, fh: FileHandle) -> io::Result<Arc<File>> {
        self.handles
            .get(&fh.0)
            .map(|h| h.file.clone())
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EBADF))
    }

    pub(super) fn rename_entry(
        &mut self,
        from: Slot,
        to: Slot,
        flags: RenameFlags,
    ) -> io::Result<()> {
        if flags.bits() & !libc::RENAME_NOREPLACE != 0 {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let (src, src_meta) = self.lookup(from.parent, &from.name)?;
        let target = match self.lookup(to.parent, &to.name) {
            Ok(found) => Some(found),
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => None,
            Err(e) => return Err(e),
        };
        if let Some((dst, dst_meta)) = &target {
            if *dst == src {
                return Ok(());
            }
            if flags.bits() & libc::RENAME_NOREPLACE != 0 {
                return Err(io::Error::from_raw_os_error(libc::EEXIST));
            }
            check_replace(&src_meta, dst_meta, &self.path_or_enoent(*dst)?)?;
            self.detach(*dst)?;
        }
        let from_path = self.path_or_enoent(src)?;
        let to_path = self.path_or_enoent(to.parent)?.join(&to.name);
        if let Err(e) = std::fs::rename(&from_path, &to_path) {
            if let Some((dst, _)) = target {
                let _ = self.reattach(dst, to);
            }
            return Err(e);
        }
        self.relink(src, super::state::Link::Live(to));
        Ok(())
    }
}

/// rename(2)'s rules for replacing an existing target.
fn check_replace(src: &Metadata, dst: &Metadata, dst_path: &std::path::Path) -> io::Result<()> {
    match (src.is_dir(), dst.is_dir()) {
        (false, true) => Err(io::Error::from_raw_os_error(libc::EISDIR)),
        (true, false) => Err(io::Error::from_raw_os_error(libc::ENOTDIR)),
        (true, true) if std::fs::read_dir(dst_path)?.next().is_some() => {
            Err(io::Error::from_raw_os_error(libc::ENOTEMPTY))
        }
        _ => Ok(()),
    }
}

impl FaultFsImpl {
    pub(super) fn stat(&self, ino: u64, fh: Option<FileHandle>) -> io::Result<Metadata> {
        let st = self.shared.lock();
        if let Some(file) = fh.and_then(|fh| st.handle_file(fh).ok()) {
            return file.metadata();
        }
        std::fs::symlink_metadata(st.path_or_enoent(ino)?)
    }

    pub(super) fn remove(&self, parent: INodeNo, name: &OsStr, dir: bool) -> io::Result<()> {
        if hidden(parent, name) {
            return Err(io::Error::from_raw_os_error(libc::EPERM));
        }
        let mut st = self.shared.lock();
        let (ino, meta) = st.lookup(parent.0, name)?;
        match (dir, meta.is_dir()) {
            (true, false) => return Err(io::Error::from_raw_os_error(libc::ENOTDIR)),
            (false, true) => return Err(io::Error::from_raw_os_error(libc::EISDIR)),
            (true, true) if std::fs::read_dir(st.path_or_enoent(ino)?)?.next().is_some() => {
                return Err(io::Error::from_raw_os_error(libc::ENOTEMPTY))
            }
            _ => {}
        }
        st.detach(ino)
    }

    pub(super) fn set_attrs(
        &self,
        ino: u64,
        fh: Option<FileHandle>,
        mode: Option<u32>,
        owner: (Option<u32>, Option<u32>),
        size: Option<u64>,
        times: [Option<TimeOrNow>; 2],
    ) -> io::Result<Metadata> {
        let mut st = self.shared.lock();
        let path = st.path_or_enoent(ino)?;
        if let Some(mode) = mode {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode & 0o7777))?;
        }
        if owner.0.is_some() || owner.1.is_some() {
            std::os::unix::fs::lchown(&path, owner.0, owner.1)?;
        }
        if let Some(size) = size {
            let file = match fh.and_then(|fh| st.handle_file(fh).ok()) {
                Some(f) => f,
                None => Arc::new(OpenOptions::new().read(true).write(true).open(&path)?),
            };
            st.truncate_to(ino, &file, size)?;
        }
        if times.iter().any(Option::is_some) {
            set_times(&path, times)?;
        }
        std::fs::symlink_metadata(&path)
    }

    pub(super) fn create_file(
        &self,
        parent: INodeNo,
        name: &OsStr,
        mode: u32,
        flags: i32,
    ) -> io::Result<(FileAttr, u64)> {
        if hidden(parent, name) {
            return Err(io::Error::from_raw_os_error(libc::EPERM));
        }
        let mut st = self.shared.lock();
        let path = st.path_or_enoent(parent.0)?.join(name);
        let (custom, _) = backing_flags(flags);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(flags & libc::O_EXCL != 0)
            .create(true)
            .mode(mode)
            .custom_flags(custom)
            .open(&path)?;
        let meta = file.metadata()?;
        let ino = st.created(Slot::new(parent.0, name), &meta);
        let fh = st.add_handle(ino, file, flags);
        Ok((attr(ino, &meta), fh))
    }

    pub(super) fn open_file(&self, ino: u64, flags: i32) -> io::Result<u64> {
        let mut st = self.shared.lock();
        let path = st.path_or_enoent(ino)?;
        let file = open_backing(&path, flags)?;
        if flags & libc::O_TRUNC != 0 && flags & libc::O_ACCMODE != libc::O_RDONLY {
            st.truncate_to(ino, &file, 0)?;
        }
        Ok(st.add_handle(ino, file, flags))
    }

    pub(super) fn write_at(&self, fh: FileHandle, offset: u64, data: &[u8]) -> io::Result<()> {
        self.shared.delay();
        self.shared.counters.writes.fetch_add(1, Ordering::Relaxed);
        let mut st = self.shared.lock();
        let handle = st
            .handles
            .get(&fh.0)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EBADF))?;
        let (ino, file, sync) = (handle.ino, handle.file.clone(), handle.sync_writes);
        if let Some(undo) = st.nodes.get_mut(&ino).and_then(|n| n.undo.as_mut()) {
            undo.before_change(&file, offset, data.len() as u64)?;
        }
        file.write_all_at(data, offset)?;
        if sync {
            let len = file.metadata()?.len();
            st.sync_file(ino, len);
        }
        Ok(())
    }

    pub(super) fn fsync_file(&self, fh: FileHandle, datasync: bool) -> io::Result<()> {
        self.shared.delay();
        self.shared.counters.syncs.fetch_add(1, Ordering::Relaxed);
        let mut st = self.shared.lock();
        let handle = st
            .handles
            .get(&fh.0)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EBADF))?;
        let (ino, file) = (handle.ino, handle.file.clone());
        if datasync {
            file.sync_data()?;
        } else {
            file.sync_all()?;
        }
        let len = file.metadata()?.len();
        st.sync_file(ino, len);
        Ok(())
    }

    pub(super) fn fsync_dir(&self, ino: u64) -> io::Result<()> {
        self.shared.delay();
        self.shared.counters.syncs.fetch_add(1, Ordering::Relaxed);
        let mut st = self.shared.lock();
        File::open(st.path_or_enoent(ino)?)?.sync_all()?;
        st.sync_dir(ino);
        Ok(())
    }

    pub(super) fn list_dir(&self, ino: u64) -> io::Result<u64> {
        let mut st = self.shared.lock();
        let path = st.path_or_enoent(ino)?;
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(&path)? {
            let entry = entry?;
            if ino == ROOT && entry.file_name() == HIDDEN_DIR {
                continue;
            }
            entries.push((entry.file_name(), entry.file_type()?.is_dir()));
        }
        let fh = st.next_fh();
        st.dir_listings.insert(fh, entries);
        Ok(fh)
    }
}

fn set_times(path: &std::path::Path, times: [Option<TimeOrNow>; 2]) -> io::Result<()> {
    let spec = |t: Option<TimeOrNow>| match t {
        None => libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_OMIT,
        },
        Some(TimeOrNow::Now) => libc::timespec {
            tv_sec: 0,
            tv_nsec: libc::UTIME_NOW,
        },
        Some(TimeOrNow::SpecificTime(t)) => {
            let d = t.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
            libc::timespec {
                tv_sec: d.as_secs() as libc::time_t,
                tv_nsec: d.subsec_nanos() as libc::c_long,
            }
        }
    };
    let ts = [spec(times[0]), spec(times[1])];
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())?;
    // SAFETY: `c` is a valid NUL-terminated path and `ts` holds two timespecs.
    let rc = unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c.as_ptr(),
            ts.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

pub(super) fn statvfs(path: &std::path::Path) -> io::Result<libc::statvfs> {
    let c = std::ffi::CString::new(path.as_os_str().as_bytes())?;
    // SAFETY: `c` is a valid NUL-terminated path; `out` is written by statvfs before it is read.
    unsafe {
        let mut out: libc::statvfs = std::mem::zeroed();
        if libc::statvfs(c.as_ptr(), &mut out) == 0 {
            Ok(out)
        } else {
            Err(io::Error::last_os_error())
        }
    }
}
