//! [`Column`]: one per-message column of the history, in memory or in a file on disk.
//!
//! A short run keeps its columns in `Vec`s. A long run (`observe.follow`) cannot: 10 bytes per
//! message is 1 GiB at 100M messages. Its columns live in an unlinked temp file mapped into
//! memory ([`Column::on_disk`]), and the process lets go of the pages it no longer works on.
//!
//! Why a mapping, and why that is safe:
//! - Every access is still an indexed load or store: the publisher's hot path does not change,
//!   and the checkers at the end read the same column, not a copy.
//! - The mapping is shared and file-backed. `madvise(MADV_DONTNEED)` on it drops the pages from
//!   the process (its RSS falls at once) but not from the file: the kernel keeps dirty pages in
//!   its page cache and writes them back, and the next access faults the same bytes back in.
//!   Dropping a page never loses a value; it only costs a fault if the page is used again.
//! - The file is unlinked from the start (`tempfile::tempfile`): nothing is left on disk when
//!   the process ends, on Ctrl-C, panic or kill alike.
//!
//! Which pages go: every [`TRIM_EVERY`] accesses, those touched since the last trim that lie
//! more than [`WINDOW`] entries from the access that triggers it. The accesses of a run come
//! near its publish front (sends, acks), and the checkers at the end walk the columns in index
//! order, so what stays resident is a few windows, whatever the run's length. An access far
//! behind (the ack of a retried message) faults its page in until the next trim. The bookkeeping
//! is two relaxed loads and stores per access: no locked instruction, no system call.

use std::fs::File;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering::Relaxed};

use memmap2::{MmapOptions, MmapRaw, UncheckedAdvice};

/// Accesses between two trims of a column on disk.
pub const TRIM_EVERY: u32 = 1 << 16;
/// Entries kept resident on each side of the access that triggers a trim.
pub const WINDOW: usize = 1 << 18;

/// What a column holds: plain values whose all-zero bytes are their zero (a new file reads as
/// zeros).
pub trait Entry: Copy + Default + PartialEq + std::fmt::Debug + Send + Sync + 'static {}
impl Entry for u8 {}
impl Entry for u32 {}
impl Entry for u64 {}

/// A column of `len` values, every one 0 until set.
#[derive(Debug, Default)]
pub struct Column<T: Entry> {
    inner: Inner<T>,
}

#[derive(Debug)]
enum Inner<T: Entry> {
    Heap(Vec<T>),
    Disk(Disk<T>),
}

impl<T: Entry> Default for Inner<T> {
    fn default() -> Self {
        Inner::Heap(Vec::new())
    }
}

/// A column in a mapped, unlinked temp file of `cap` entries, `len` of them in use.
#[derive(Debug)]
struct Disk<T> {
    file: File,
    map: MmapRaw,
    len: usize,
    cap: usize,
    /// Accesses since the last trim (relaxed load and store: a lost count only moves a trim).
    ticks: AtomicU32,
    /// The lowest and highest index that may be resident: accessed since the last trim, or
    /// kept by it.
    lo: AtomicUsize,
    hi: AtomicUsize,
    _t: PhantomData<T>,
}

impl<T: Entry> Column<T> {
    /// `len` zeros in memory.
    pub fn new(len: usize) -> Column<T> {
        Column {
            inner: Inner::Heap(vec![T::default(); len]),
        }
    }

    /// `len` zeros in an unlinked temp file with room for `cap` entries before it has to be
    /// mapped again (a duration-bound run grows its columns).
    pub fn on_disk(len: usize, cap: usize) -> std::io::Result<Column<T>> {
        let file = tempfile::tempfile()?;
        let cap = cap.max(len).max(1);
        let map = map_file(&file, cap * size_of::<T>())?;
        reserve(&file, 0, len * size_of::<T>())?;
        Ok(Column {
            inner: Inner::Disk(Disk {
                file,
                map,
                len,
                cap,
                ticks: AtomicU32::new(0),
                lo: AtomicUsize::new(usize::MAX),
                hi: AtomicUsize::new(0),
                _t: PhantomData,
            }),
        })
    }

    /// `n` zeros on disk with room for `cap` entries when `disk` is `Some(cap)`, else in
    /// memory; in memory too when the file cannot be made, the error kept in `error` (the
    /// first one: a history makes several columns).
    pub fn placed(n: usize, disk: Option<usize>, error: &mut Option<std::io::Error>) -> Column<T> {
        match disk.map(|cap| Column::on_disk(n, cap)) {
            Some(Ok(c)) => c,
            Some(Err(e)) => {
                error.get_or_insert(e);
                Column::new(n)
            }
            None => Column::new(n),
        }
    }

    pub fn is_on_disk(&self) -> bool {
        matches!(self.inner, Inner::Disk(_))
    }

    pub fn len(&self) -> usize {
        match &self.inner {
            Inner::Heap(v) => v.len(),
            Inner::Disk(d) => d.len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value at `i`. Panics when `i >= len`, as a slice does.
    #[inline]
    pub fn get(&self, i: usize) -> T {
        match &self.inner {
            Inner::Heap(v) => v[i],
            Inner::Disk(d) => {
                let p = d.at(i);
                d.note(i);
                // SAFETY: `at` checked `i < len <= cap`; the mapping holds `cap` entries of
                // plain data, and a dropped page reads back from the file.
                unsafe { p.read() }
            }
        }
    }

    /// Sets the value at `i`. Panics when `i >= len`.
    #[inline]
    pub fn set(&mut self, i: usize, v: T) {
        match &mut self.inner {
            Inner::Heap(c) => c[i] = v,
            Inner::Disk(d) => {
                let p = d.at(i);
                d.note(i);
                // SAFETY: as in `get`; `&mut self` makes this the only access.
                unsafe { p.write(v) }
            }
        }
    }

    /// The values in index order (a column on disk lets go of its pages as the walk passes).
    pub fn iter(&self) -> impl Iterator<Item = T> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// The first `n` values (all of them when `n >= len`).
    pub fn prefix(&self, n: usize) -> impl Iterator<Item = T> + '_ {
        (0..n.min(self.len())).map(|i| self.get(i))
    }

    /// A copy in memory.
    pub fn to_vec(&self) -> Vec<T> {
        self.iter().collect()
    }

    /// Grows (new entries 0) or shrinks to `n` entries. A column on disk whose file cannot
    /// grow (the disk is full) moves to memory: the same values, more memory.
    pub fn resize(&mut self, n: usize) {
        match &mut self.inner {
            Inner::Heap(v) => v.resize(n, T::default()),
            Inner::Disk(d) => {
                if let Err(e) = d.resize(n) {
                    tracing::warn!("a history column moves to memory: its file cannot grow ({e})");
                    let mut v = self.to_vec();
                    v.resize(n, T::default());
                    self.inner = Inner::Heap(v);
                }
            }
        }
    }
}

/// Allocates the file's blocks for bytes `from..to` up front. A store into a mapped page the
/// file system cannot back (a full disk) would kill the process with SIGBUS, with nothing
/// cleaned up; reserved, that shows here as an error. A file system that cannot reserve
/// (EOPNOTSUPP) is taken as it is.
pub(crate) fn reserve(file: &File, from: usize, to: usize) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    if to <= from {
        return Ok(());
    }
    // SAFETY: a valid descriptor; the range is checked above.
    let r = unsafe {
        libc::posix_fallocate(
            file.as_raw_fd(),
            from as libc::off_t,
            (to - from) as libc::off_t,
        )
    };
    match r {
        0 | libc::EOPNOTSUPP => Ok(()),
        e => Err(std::io::Error::from_raw_os_error(e)),
    }
}

/// Drops `len` bytes of `map` from `offset` (page-aligned) out of the process, not out of the
/// file: the mapping is shared and file-backed, so MADV_DONTNEED only unmaps the pages, whose
/// bytes stay in the page cache and the file and fault back in on the next access (no value is
/// lost or changed). The one place both the columns and the attempt log's chunks do it.
pub(crate) fn release(map: &MmapRaw, offset: usize, len: usize) {
    // SAFETY: every mapping handed here is shared and file-backed (`map_file`, and the chunk
    // regions of `record/chunked.rs`); see above. A failure leaves the pages resident: memory,
    // not correctness.
    let _ = unsafe { map.unchecked_advise_range(UncheckedAdvice::DontNeed, offset, len) };
}

fn map_file(file: &File, bytes: usize) -> std::io::Result<MmapRaw> {
    file.set_len(bytes as u64)?;
    MmapOptions::new().len(bytes).map_raw(file)
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as usize
    } else {
        4096
    }
}

impl<T: Entry> Disk<T> {
    /// The address of entry `i`, after the bounds check.
    #[inline]
    fn at(&self, i: usize) -> *mut T {
        assert!(
            i < self.len,
            "index {i} out of a column of {} entries",
            self.len
        );
        // SAFETY: in bounds (above); the mapping is aligned to a page.
        unsafe { (self.map.as_mut_ptr() as *mut T).add(i) }
    }

    /// Counts an access to `i`, and trims every [`TRIM_EVERY`] accesses.
    #[inline]
    fn note(&self, i: usize) {
        if i < self.lo.load(Relaxed) {
            self.lo.store(i, Relaxed);
        }
        if i > self.hi.load(Relaxed) {
            self.hi.store(i, Relaxed);
        }
        let t = self.ticks.load(Relaxed).wrapping_add(1);
        self.ticks.store(t, Relaxed);
        if t.is_multiple_of(TRIM_EVERY) {
            self.trim(i);
        }
    }

    /// Lets go of the pages accessed since the last trim, but those within [`WINDOW`] of `i`.
    #[cold]
    fn trim(&self, i: usize) {
        let (lo, hi) = (self.lo.load(Relaxed), self.hi.load(Relaxed));
        let keep = (i.saturating_sub(WINDOW), i.saturating_add(WINDOW));
        // What stays resident is what was touched and kept: the next trim starts from there.
        self.lo.store(lo.max(keep.0).min(i), Relaxed);
        self.hi.store(hi.min(keep.1 - 1).max(i), Relaxed);
        if lo < keep.0 {
            self.drop_pages(lo, keep.0);
        }
        if hi >= keep.1 {
            self.drop_pages(keep.1, hi + 1);
        }
    }

    /// Drops the pages holding entries `from..to` from the process (not from the file).
    fn drop_pages(&self, from: usize, to: usize) {
        let page = page_size();
        let size = size_of::<T>();
        let start = from * size / page * page;
        let end = (to * size).div_ceil(page) * page;
        let end = end.min(self.map.len());
        if end > start {
            release(&self.map, start, end - start);
        }
    }

    fn resize(&mut self, n: usize) -> std::io::Result<()> {
        let size = size_of::<T>();
        reserve(&self.file, self.len * size, n * size)?;
        if n > self.cap {
            let cap = n.max(self.cap.saturating_mul(2));
            self.map = map_file(&self.file, cap * size_of::<T>())?;
            self.cap = cap;
            self.lo.store(usize::MAX, Relaxed);
            self.hi.store(0, Relaxed);
        }
        // Entries dropped by a shrink read 0 again should the column grow back over them.
        for i in n..self.len {
            // SAFETY: `i < len <= cap`.
            unsafe { (self.map.as_mut_ptr() as *mut T).add(i).write(T::default()) }
        }
        self.len = n;
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn resident(c: &Column<u32>) -> usize {
        let Inner::Disk(d) = &c.inner else {
            panic!("not on disk")
        };
        mapping_rss(d.map.as_ptr())
    }

    /// Bytes of the mapping that starts at `start` resident in this process, from
    /// /proc/self/smaps (the mapping's own `Rss:` line: other tests beside it do not count).
    pub(crate) fn mapping_rss(start: *const u8) -> usize {
        let start = format!("{:x}-", start as usize);
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let mut lines = smaps.lines().skip_while(|l| !l.starts_with(&start));
        assert!(lines.next().is_some(), "the mapping is not in smaps");
        let rss = lines.find(|l| l.starts_with("Rss:")).unwrap();
        let kb: usize = rss.split_whitespace().nth(1).unwrap().parse().unwrap();
        kb << 10
    }

    #[test]
    fn a_column_on_disk_holds_what_one_in_memory_holds() {
        let n = 3 * WINDOW + 17;
        let mut heap = Column::<u32>::new(n);
        let mut disk = Column::<u32>::on_disk(n, n / 2).unwrap();
        assert!(disk.is_on_disk() && !heap.is_on_disk());
        // Forward, then a second pass from far behind (pages already dropped), then a shrink
        // and a grow past the first capacity (a new mapping).
        for pass in 0..2u32 {
            for i in (0..n).step_by(3 - pass as usize) {
                let v = (i as u32).wrapping_mul(2_654_435_761) ^ pass;
                heap.set(i, v);
                disk.set(i, v);
            }
        }
        assert!(heap.iter().eq(disk.iter()));
        heap.resize(10);
        disk.resize(10);
        heap.resize(2 * n);
        disk.resize(2 * n);
        disk.set(2 * n - 1, 7);
        heap.set(2 * n - 1, 7);
        assert_eq!(disk.len(), 2 * n);
        assert!(heap.iter().eq(disk.iter()));
        assert_eq!(disk.to_vec(), heap.to_vec());
        assert_eq!(disk.prefix(5).count(), 5);
    }

    /// A full disk is an error when the column is made or grows, not a SIGBUS on a later store.
    /// Needs root, for a 1 MiB tmpfs to fill (CI and this project's machines run as root).
    #[test]
    fn a_full_disk_is_an_error_up_front() {
        assert!(
            unsafe { libc::geteuid() } == 0,
            "this test mounts a 1 MiB tmpfs: run it as root"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = std::ffi::CString::new(dir.path().as_os_str().as_encoded_bytes()).unwrap();
        let (fs, opts) = (c"tmpfs", c"size=1m");
        // SAFETY: valid C strings; unmounted below (and detached should an assert fail).
        let r = unsafe {
            libc::mount(
                fs.as_ptr(),
                path.as_ptr(),
                fs.as_ptr(),
                0,
                opts.as_ptr().cast(),
            )
        };
        assert_eq!(r, 0, "mount tmpfs: {}", std::io::Error::last_os_error());
        struct Unmount<'a>(&'a std::ffi::CStr);
        impl Drop for Unmount<'_> {
            fn drop(&mut self) {
                // SAFETY: a path we mounted.
                unsafe { libc::umount2(self.0.as_ptr(), libc::MNT_DETACH) };
            }
        }
        let _guard = Unmount(&path);
        let file = std::fs::File::create_new(dir.path().join("column")).unwrap();
        assert!(reserve(&file, 0, 512 << 10).is_ok());
        let e = reserve(&file, 0, 4 << 20).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ENOSPC), "{e}");
    }

    #[test]
    #[should_panic(expected = "out of a column")]
    fn an_index_past_the_end_panics_on_disk_as_in_memory() {
        let c = Column::<u8>::on_disk(4, 100).unwrap();
        c.get(4);
    }

    /// The point of the column on disk: writing and walking 64 MiB of it leaves a few windows
    /// resident, not the column. (The limit is far from either figure: 4 windows of u32 are
    /// 8 MiB; the whole column 64 MiB.)
    #[test]
    fn a_column_on_disk_keeps_only_windows_resident() {
        let n = 16 << 20;
        let mut c = Column::<u32>::on_disk(n, n).unwrap();
        for i in 0..n {
            c.set(i, i as u32 + 1);
        }
        let mut sum = 0u64;
        for v in c.iter() {
            sum += v as u64;
        }
        assert_eq!(sum, (n as u64) * (n as u64 + 1) / 2);
        let held = resident(&c);
        assert!(
            held < 24 << 20,
            "{} MiB stayed resident of a 64 MiB column",
            held >> 20
        );
        // And the check can fail: a column walked without trims is resident whole.
        let Inner::Disk(d) = &c.inner else { panic!() };
        d.ticks.store(1, Relaxed);
        // SAFETY: in bounds; reads only.
        let raw = unsafe { std::slice::from_raw_parts(d.map.as_ptr() as *const u32, n) };
        assert_eq!(raw.iter().map(|&v| v as u64).sum::<u64>(), sum);
        assert!(resident(&c) > 60 << 20, "{} MiB", resident(&c) >> 20);
    }
}
