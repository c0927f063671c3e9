//! Disk faults on files of one kind: bit flips and truncation. Both act on the backing files
//! directly (what a bad disk does underneath the page cache), under the state lock so no FUSE
//! write interleaves, and report exactly what they did for result.json.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use rand::Rng;
use serde::Serialize;

use super::error::FaultFsError;
use super::kind::FileKind;
use super::listing::list_kind;
use super::state::State;

/// One flipped bit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BitFlip {
    /// Relative to the store.
    pub file: PathBuf,
    pub offset: u64,
    /// 0 = least significant.
    pub bit: u8,
    pub before: u8,
    pub after: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CorruptReport {
    pub kind: FileKind,
    /// Sorted by file, offset, bit.
    pub flips: Vec<BitFlip>,
}

/// How much of a file to cut.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TruncateAmount {
    /// The last N bytes (all of them if the file is shorter).
    Bytes(u64),
    /// This fraction of the file's length, rounded down, in 0..=1.
    Fraction(f64),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TruncateReport {
    pub kind: FileKind,
    /// Relative to the store.
    pub file: PathBuf,
    pub old_len: u64,
    pub new_len: u64,
}

impl State {
    /// Flips `bits` distinct bits chosen uniformly over all bytes of the (non-empty) files of
    /// `kind`, taken in path order so that the same seed over the same files flips the same
    /// bits. A flip in bytes not yet synced is undone by a later power loss, like a bad sector
    /// that was never written.
    pub fn corrupt<R: Rng + ?Sized>(
        &mut self,
        kind: FileKind,
        bits: u64,
        rng: &mut R,
    ) -> Result<CorruptReport, FaultFsError> {
        let files: Vec<_> = list_kind(&self.backing, kind)?
            .into_iter()
            .filter(|f| f.len > 0)
            .collect();
        if files.is_empty() {
            return Err(FaultFsError::NoFiles {
                kind,
                backing: self.backing.clone(),
            });
        }
        let available: u64 = files.iter().map(|f| f.len * 8).sum();
        if bits > available {
            return Err(FaultFsError::TooManyBits {
                kind,
                bits,
                available,
            });
        }
        let mut chosen = BTreeSet::new();
        while (chosen.len() as u64) < bits {
            chosen.insert(rng.random_range(0..available));
        }
        let mut flips = Vec::with_capacity(chosen.len());
        let (mut file_idx, mut base) = (0, 0u64);
        let mut open: Option<(usize, File)> = None;
        for pos in chosen {
            while pos >= base + files[file_idx].len * 8 {
                base += files[file_idx].len * 8;
                file_idx += 1;
            }
            let rel = &files[file_idx].rel;
            let path = self.backing.join(rel);
            if open.as_ref().map(|(i, _)| *i) != Some(file_idx) {
                let f = OpenOptions::new().read(true).write(true).open(&path);
                open = Some((file_idx, f.map_err(FaultFsError::io("open", &path))?));
            }
            let file = &open.as_ref().expect("just opened").1;
            let (offset, bit) = ((pos - base) / 8, ((pos - base) % 8) as u8);
            let before = flip_bit(file, offset, bit).map_err(FaultFsError::io("flip", &path))?;
            flips.push(BitFlip {
                file: rel.clone(),
                offset,
                bit,
                before,
                after: before ^ (1 << bit),
            });
        }
        Ok(CorruptReport { kind, flips })
    }

    /// Cuts the newest file of `kind` (by modification time, then path). The durable copy is
    /// cut too: a later power loss does not grow it back.
    pub fn truncate_kind(
        &mut self,
        kind: FileKind,
        amount: TruncateAmount,
    ) -> Result<TruncateReport, FaultFsError> {
        let files = list_kind(&self.backing, kind)?;
        let newest = files
            .into_iter()
            .max_by(|a, b| (a.modified, &a.rel).cmp(&(b.modified, &b.rel)))
            .ok_or_else(|| FaultFsError::NoFiles {
                kind,
                backing: self.backing.clone(),
            })?;
        let old_len = newest.len;
        let cut = match amount {
            TruncateAmount::Bytes(n) => n.min(old_len),
            TruncateAmount::Fraction(f) if (0.0..=1.0).contains(&f) => {
                ((old_len as f64) * f).floor() as u64
            }
            TruncateAmount::Fraction(f) => return Err(FaultFsError::BadFraction(f)),
        };
        let new_len = old_len - cut;
        let path = self.backing.join(&newest.rel);
        let file = OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(FaultFsError::io("open", &path))?;
        file.set_len(new_len)
            .map_err(FaultFsError::io("truncate", &path))?;
        let meta = file.metadata().map_err(FaultFsError::io("stat", &path))?;
        if let Some(ino) = self.ino_of(&meta) {
            if let Some(undo) = self.nodes.get_mut(&ino).and_then(|n| n.undo.as_mut()) {
                undo.cut(new_len);
            }
        }
        Ok(TruncateReport {
            kind,
            file: newest.rel,
            old_len,
            new_len,
        })
    }
}

/// Flips one bit in place; returns the byte before.
fn flip_bit(file: &File, offset: u64, bit: u8) -> std::io::Result<u8> {
    let mut byte = [0u8; 1];
    file.read_exact_at(&mut byte, offset)?;
    let before = byte[0];
    byte[0] ^= 1 << bit;
    file.write_all_at(&byte, offset)?;
    Ok(before)
}
