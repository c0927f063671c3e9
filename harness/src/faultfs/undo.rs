//! The undo log of one regular file: what it looked like at its last fsync, kept so that a
//! power loss can put it back.
//!
//! Two things are enough: the durable length (appends past it need nothing else: power loss
//! truncates them away) and the pre-images of durable bytes overwritten or cut since the last
//! sync (the first pre-image of a byte wins: later writes to it overwrite unsynced data). The
//! pre-image bytes live in a spill file in the hidden area, not in memory; memory holds one
//! index entry per saved range, so it grows with the number of overwritten ranges between two
//! syncs, never with the bytes written.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub(crate) struct UndoLog {
    /// The file's length at its last sync (or when first seen, when it was clean).
    durable_len: u64,
    /// Saved pre-images: start → (length, offset in the spill file). Never overlapping.
    saved: BTreeMap<u64, (u64, u64)>,
    /// Where the pre-image bytes are kept; opened on first use, removed at sync.
    spill_path: PathBuf,
    spill: Option<File>,
    spill_len: u64,
}

/// What a power loss did to one file's data.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Restored {
    /// Unsynced bytes past the durable length, cut off.
    pub truncated: u64,
    /// Durable bytes that had been overwritten (or cut) since the last sync, written back.
    pub restored: u64,
}

impl UndoLog {
    pub fn new(durable_len: u64, spill_path: PathBuf) -> UndoLog {
        UndoLog {
            durable_len,
            saved: BTreeMap::new(),
            spill_path,
            spill: None,
            spill_len: 0,
        }
    }

    pub fn durable_len(&self) -> u64 {
        self.durable_len
    }

    /// Bytes of pre-images held.
    #[cfg(test)]
    pub fn saved_bytes(&self) -> u64 {
        self.saved.values().map(|(len, _)| len).sum()
    }

    /// Call before bytes `[off, off + len)` of `file` change (a write, or a truncation below
    /// the durable length): keeps the durable bytes there that are not kept yet.
    pub fn before_change(&mut self, file: &File, off: u64, len: u64) -> io::Result<()> {
        let end = off.saturating_add(len).min(self.durable_len);
        if off >= end {
            return Ok(());
        }
        for (start, gap_len) in self.gaps(off, end) {
            let mut buf = vec![0u8; gap_len as usize];
            read_full_at(file, &mut buf, start)?;
            let spill_off = self.spill_len;
            self.spill_file()?.write_all_at(&buf, spill_off)?;
            self.spill_len += gap_len;
            self.saved.insert(start, (gap_len, spill_off));
        }
        Ok(())
    }

    /// The parts of `[off, end)` no saved range covers.
    fn gaps(&self, off: u64, end: u64) -> Vec<(u64, u64)> {
        let mut gaps = Vec::new();
        let mut at = off;
        let before = self.saved.range(..=off).next_back();
        let overlapping = before.into_iter().chain(self.saved.range(off + 1..end));
        for (&start, &(len, _)) in overlapping {
            if start > at {
                gaps.push((at, start - at));
            }
            at = at.max(start + len);
            if at >= end {
                break;
            }
        }
        if at < end {
            gaps.push((at, end - at));
        }
        gaps
    }

    fn spill_file(&mut self) -> io::Result<&File> {
        if self.spill.is_none() {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(&self.spill_path)?;
            self.spill = Some(file);
        }
        Ok(self.spill.as_ref().expect("just opened"))
    }

    /// The file was synced at length `len`: everything up to now is durable.
    pub fn synced(&mut self, len: u64) {
        self.durable_len = len;
        self.forget_preimages();
    }

    fn forget_preimages(&mut self) {
        self.saved.clear();
        self.spill_len = 0;
        if self.spill.take().is_some() {
            let _ = std::fs::remove_file(&self.spill_path);
        }
    }

    /// A truncation fault cut the file to `len`: the durable copy loses those bytes too, so a
    /// later power loss must not grow the file back.
    pub fn cut(&mut self, len: u64) {
        if len >= self.durable_len {
            return;
        }
        self.durable_len = len;
        self.saved.retain(|&start, _| start < len);
        if let Some((&start, &(slen, soff))) = self.saved.iter().next_back() {
            if start + slen > len {
                self.saved.insert(start, (len - start, soff));
            }
        }
    }

    /// Power loss: puts `file` back as it was at its last sync, then starts a clean log.
    pub fn restore(&mut self, file: &File) -> io::Result<Restored> {
        let current = file.metadata()?.len();
        let truncated = current.saturating_sub(self.durable_len);
        file.set_len(self.durable_len)?;
        let mut restored = 0;
        for (&start, &(len, spill_off)) in &self.saved {
            let mut buf = vec![0u8; len as usize];
            let spill = self
                .spill
                .as_ref()
                .expect("saved ranges imply a spill file");
            read_full_at(spill, &mut buf, spill_off)?;
            file.write_all_at(&buf, start)?;
            restored += len;
        }
        self.forget_preimages();
        Ok(Restored {
            truncated,
            restored,
        })
    }

    /// Drops the spill file (the file itself is gone for good).
    pub fn discard(&mut self) {
        self.forget_preimages();
    }
}

/// Reads `buf.len()` bytes at `off`, zero-filling past the end of the file.
fn read_full_at(file: &File, buf: &mut [u8], off: u64) -> io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], off + done as u64) {
            Ok(0) => {
                buf[done..].fill(0);
                break;
            }
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The spill file of inode `ino` inside the hidden area's undo dir.
pub(crate) fn spill_path(undo_dir: &Path, ino: u64) -> PathBuf {
    undo_dir.join(ino.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(content: &[u8]) -> (tempfile::TempDir, File, UndoLog) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, content).unwrap();
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        let log = UndoLog::new(content.len() as u64, dir.path().join("spill"));
        (dir, file, log)
    }

    fn write(log: &mut UndoLog, file: &File, off: u64, data: &[u8]) {
        log.before_change(file, off, data.len() as u64).unwrap();
        file.write_all_at(data, off).unwrap();
    }

    fn content(file: &File) -> Vec<u8> {
        let len = file.metadata().unwrap().len() as usize;
        let mut buf = vec![0; len];
        read_full_at(file, &mut buf, 0).unwrap();
        buf
    }

    #[test]
    fn overlapping_overwrites_and_appends_restore_the_durable_bytes() {
        let (_d, file, mut log) = setup(b"0123456789");
        write(&mut log, &file, 2, b"ab");
        write(&mut log, &file, 1, b"XYZW");
        write(&mut log, &file, 8, b"tail-appended");
        assert_eq!(log.saved_bytes(), 1 + 2 + 1 + 2);
        let r = log.restore(&file).unwrap();
        assert_eq!(content(&file), b"0123456789");
        assert_eq!(r.truncated, 11);
        assert_eq!(r.restored, 6);
    }

    #[test]
    fn appends_keep_no_preimage() {
        let (_d, file, mut log) = setup(b"0123");
        for i in 0..100u64 {
            write(&mut log, &file, 4 + i * 10, b"0123456789");
        }
        assert_eq!(log.saved_bytes(), 0);
        assert!(log.spill.is_none(), "no spill file for appends");
        assert_eq!(log.restore(&file).unwrap().truncated, 1000);
    }

    #[test]
    fn truncation_below_durable_length_is_undone() {
        let (_d, file, mut log) = setup(b"0123456789");
        log.before_change(&file, 3, 7).unwrap();
        file.set_len(3).unwrap();
        write(&mut log, &file, 3, b"new");
        log.restore(&file).unwrap();
        assert_eq!(content(&file), b"0123456789");
    }

    #[test]
    fn sync_makes_writes_durable_and_cut_shrinks_the_durable_copy() {
        let (_d, file, mut log) = setup(b"0123456789");
        write(&mut log, &file, 0, b"AB");
        log.synced(10);
        write(&mut log, &file, 2, b"CD");
        log.cut(3);
        file.set_len(3).unwrap();
        let r = log.restore(&file).unwrap();
        // Byte 2 was "2" at the sync; "C" never reached the disk.
        assert_eq!(content(&file), b"AB2");
        assert_eq!(r.restored, 1);
    }
}
