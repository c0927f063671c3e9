//! The storage history on disk: every stored copy the follower (`record::follow`) reads, in
//! stream order, appended to a file as it is read, so that following an hour-long run keeps
//! nothing per message in memory and the history can still be replayed afterwards (by the
//! checkers, or as a [`ReadBack`] for the batch checkers and the cross-check with `read_back`).
//!
//! The file comes from `tempfile::tempfile()`: it is unlinked at creation, so nothing is left
//! behind whatever ends the process (even SIGKILL); it lives as long as its handle.
//!
//! One record per stored copy, [`RECORD_LEN`] bytes, all integers little-endian:
//!
//! ```text
//! offset 0  idx:u32      the publish index
//! offset 4  key:u32      the key's number
//! offset 8  attempt:u8   the attempt the copy came from
//! offset 9  seq:u64      the stream sequence it is stored at
//! ```
//!
//! Fixed-size records need no framing and let a record be found by its position.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::FileExt;

use crate::record::history::ReadBack;
use crate::record::stored::StoredCopy;

/// Bytes of one record (module docs).
pub const RECORD_LEN: usize = 4 + 4 + 1 + 8;
/// Bytes buffered before a write to the file (records, whole).
const BUFFER: usize = RECORD_LEN * 4096;

/// Appends records; [`SpillWriter::finish`] flushes and turns it into a [`Spill`] to replay.
pub struct SpillWriter {
    out: BufWriter<File>,
    records: u64,
}

impl SpillWriter {
    /// A new, empty spill in an unlinked temporary file.
    pub fn new() -> io::Result<SpillWriter> {
        Ok(SpillWriter {
            out: BufWriter::with_capacity(BUFFER, tempfile::tempfile()?),
            records: 0,
        })
    }

    /// Appends one copy: a copy into the buffer, a write to the file once it is full.
    #[inline]
    pub fn push(&mut self, c: &StoredCopy) -> io::Result<()> {
        self.out.write_all(&encode(c))?;
        self.records += 1;
        Ok(())
    }

    /// Records written so far.
    pub fn len(&self) -> u64 {
        self.records
    }

    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// Flushes the buffer; the records can be replayed from the result.
    pub fn finish(self) -> io::Result<Spill> {
        let file = self.out.into_inner().map_err(|e| e.into_error())?;
        Ok(Spill {
            file,
            records: self.records,
        })
    }
}

/// The storage history of a followed run, on disk (module docs).
#[derive(Debug)]
pub struct Spill {
    file: File,
    records: u64,
}

impl Spill {
    /// Stored copies read (records in the file).
    pub fn len(&self) -> u64 {
        self.records
    }

    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// The copies in stream order, read from the file in large blocks (positioned reads: any
    /// number of replays may run at once).
    pub fn replay(&self) -> Replay<'_> {
        Replay {
            file: &self.file,
            left: self.records,
            offset: 0,
            buf: Vec::new(),
            at: 0,
        }
    }

    /// The history as the batch checkers take it (13 bytes per copy in memory): what
    /// `read_back` would have built from the same reads. `unexpected` and `complete` are the
    /// follower's, which the spill does not hold.
    pub fn to_read_back(&self, unexpected: u64, complete: bool) -> io::Result<ReadBack> {
        let n = usize::try_from(self.records).unwrap_or(usize::MAX);
        let mut rb = ReadBack {
            order: Vec::with_capacity(n),
            seqs: Vec::with_capacity(n),
            attempts: Vec::with_capacity(n),
            unexpected,
            complete,
        };
        for c in self.replay() {
            let c = c?;
            rb.order.push(c.idx);
            rb.seqs.push(c.seq);
            rb.attempts.push(c.attempt);
        }
        Ok(rb)
    }
}

/// Iterates a [`Spill`]'s records; an I/O error ends it (after being yielded once).
pub struct Replay<'a> {
    file: &'a File,
    /// Records not yet read from the file.
    left: u64,
    offset: u64,
    buf: Vec<u8>,
    /// Position of the next record in `buf`.
    at: usize,
}

impl Iterator for Replay<'_> {
    type Item = io::Result<StoredCopy>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.at >= self.buf.len() {
            if self.left == 0 {
                return None;
            }
            let records = self.left.min((BUFFER / RECORD_LEN) as u64);
            self.buf.resize(records as usize * RECORD_LEN, 0);
            if let Err(e) = self.file.read_exact_at(&mut self.buf, self.offset) {
                self.left = 0;
                self.buf.clear();
                return Some(Err(e));
            }
            self.left -= records;
            self.offset += self.buf.len() as u64;
            self.at = 0;
        }
        let record = &self.buf[self.at..self.at + RECORD_LEN];
        self.at += RECORD_LEN;
        Some(Ok(decode(record)))
    }
}

fn encode(c: &StoredCopy) -> [u8; RECORD_LEN] {
    let mut b = [0u8; RECORD_LEN];
    b[0..4].copy_from_slice(&c.idx.to_le_bytes());
    b[4..8].copy_from_slice(&c.key.to_le_bytes());
    b[8] = c.attempt;
    b[9..17].copy_from_slice(&c.seq.to_le_bytes());
    b
}

fn decode(b: &[u8]) -> StoredCopy {
    let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
    let mut seq = [0u8; 8];
    seq.copy_from_slice(&b[9..17]);
    StoredCopy {
        idx: u32_at(0),
        key: u32_at(4),
        attempt: b[8],
        seq: u64::from_le_bytes(seq),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy(i: u64) -> StoredCopy {
        StoredCopy {
            idx: (i * 7) as u32,
            key: (i % 5) as u32,
            attempt: (i % 3) as u8,
            seq: i * 1_000_003 + (1 << 40),
        }
    }

    #[test]
    fn a_record_has_the_documented_layout() {
        let c = StoredCopy {
            idx: 0x0403_0201,
            key: 0x0807_0605,
            attempt: 9,
            seq: 0x1110_0f0e_0d0c_0b0a,
        };
        let b = encode(&c);
        assert_eq!(
            b,
            [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17]
        );
        assert_eq!(decode(&b), c);
    }

    #[test]
    fn replay_gives_back_every_copy_in_order_across_buffer_boundaries() {
        // More records than one replay block holds, and not a multiple of it.
        let n = (BUFFER / RECORD_LEN) as u64 * 2 + 17;
        let mut w = SpillWriter::new().unwrap();
        for i in 0..n {
            w.push(&copy(i)).unwrap();
        }
        assert_eq!(w.len(), n);
        let spill = w.finish().unwrap();
        assert_eq!(spill.len(), n);
        let back: Vec<StoredCopy> = spill.replay().map(Result::unwrap).collect();
        assert_eq!(back, (0..n).map(copy).collect::<Vec<_>>());
        // A second replay reads the same file from its start again.
        assert_eq!(spill.replay().count() as u64, n);
        let rb = spill.to_read_back(3, true).unwrap();
        assert_eq!(rb.order, back.iter().map(|c| c.idx).collect::<Vec<_>>());
        assert_eq!(rb.seqs, back.iter().map(|c| c.seq).collect::<Vec<_>>());
        assert_eq!(
            rb.attempts,
            back.iter().map(|c| c.attempt).collect::<Vec<_>>()
        );
        assert_eq!((rb.unexpected, rb.complete), (3, true));
    }

    #[test]
    fn an_empty_spill_replays_nothing() {
        let spill = SpillWriter::new().unwrap().finish().unwrap();
        assert!(spill.is_empty());
        assert_eq!(spill.replay().count(), 0);
    }
}
