//! The completion order: message indexes in the order their ack futures completed in the
//! application. Held in memory (4 B per message), or — in a followed run, a long one — spooled
//! to an unlinked temp file a chunk at a time, so only the chunk being filled is in memory: the
//! order is read once more at the end, twice, to be judged (`checker::divergence_walked`).
//!
//! The file is made with `tempfile()` (unlinked at once: nothing is left behind, on a crash
//! either); its records are the indexes as u32 little-endian. A write that fails stops the
//! spooling: the order is then unknown, and [`CompletionOrder::error`] says why.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;

/// Indexes per chunk: 64 Ki (256 KiB), written whole.
const CHUNK: usize = 1 << 16;

/// The completion order, in memory or spooled to disk (module docs).
#[derive(Debug)]
pub struct CompletionOrder {
    mem: Vec<u32>,
    spool: Option<Spool>,
}

#[derive(Debug)]
struct Spool {
    file: File,
    /// Indexes written to the file.
    written: u64,
    /// Why writing stopped, when it did.
    error: Option<String>,
    /// Indexes flushed, written or not: with the chunk in memory, the order's length even
    /// after a failed write (the live line's acked count goes on).
    flushed: u64,
}

impl Default for CompletionOrder {
    fn default() -> CompletionOrder {
        CompletionOrder::in_memory(0)
    }
}

impl CompletionOrder {
    /// In memory, with room for `capacity` indexes.
    pub fn in_memory(capacity: usize) -> CompletionOrder {
        CompletionOrder {
            mem: Vec::with_capacity(capacity),
            spool: None,
        }
    }

    /// Spooled to a fresh unlinked temp file.
    pub fn spooled() -> std::io::Result<CompletionOrder> {
        Ok(CompletionOrder {
            mem: Vec::with_capacity(CHUNK),
            spool: Some(Spool {
                file: tempfile::tempfile()?,
                written: 0,
                error: None,
                flushed: 0,
            }),
        })
    }

    /// Appends the next completed message.
    #[inline]
    pub fn push(&mut self, idx: u32) {
        self.mem.push(idx);
        if self.spool.is_some() && self.mem.len() == CHUNK {
            self.flush();
        }
    }

    /// Writes the chunk in memory to the file (spooled only).
    fn flush(&mut self) {
        let Some(s) = self.spool.as_mut() else { return };
        if s.error.is_none() {
            let bytes: Vec<u8> = self.mem.iter().flat_map(|i| i.to_le_bytes()).collect();
            match s.file.write_all(&bytes) {
                Ok(()) => s.written += self.mem.len() as u64,
                Err(e) => s.error = Some(format!("writing the completion order's spool: {e}")),
            }
        }
        s.flushed += self.mem.len() as u64;
        self.mem.clear();
    }

    /// Bytes this order holds in memory (its buffer's room).
    pub fn memory_bytes(&self) -> usize {
        self.mem.capacity() * 4
    }

    /// Messages completed so far.
    pub fn len(&self) -> usize {
        self.spool.as_ref().map_or(0, |s| s.flushed as usize) + self.mem.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The whole order as a slice: in memory only (`None` when spooled).
    pub fn as_slice(&self) -> Option<&[u32]> {
        self.spool.is_none().then_some(&self.mem[..])
    }

    /// Replaces the order with `order`, in memory (a distributed run's merged order).
    pub fn set(&mut self, order: Vec<u32>) {
        *self = CompletionOrder {
            mem: order,
            spool: None,
        };
    }

    /// Why the spooled order is not known whole, if it is not.
    pub fn error(&self) -> Option<&str> {
        self.spool.as_ref().and_then(|s| s.error.as_deref())
    }

    /// Every index in completion order: the file's (read a chunk at a time), then the chunk in
    /// memory. An error reading the file back ends the walk early and is in `read_error`.
    pub fn iter(&self) -> Walk<'_> {
        Walk {
            order: self,
            buf: Vec::new(),
            at: 0,
            from_file: 0,
            in_mem: 0,
            read_error: None,
        }
    }
}

/// A walk over a [`CompletionOrder`] ([`CompletionOrder::iter`]).
pub struct Walk<'a> {
    order: &'a CompletionOrder,
    buf: Vec<u32>,
    at: usize,
    /// Indexes read from the file so far.
    from_file: u64,
    /// Position in the chunk in memory, once the file is done.
    in_mem: usize,
    /// Why reading the file back stopped early.
    pub read_error: Option<String>,
}

impl Walk<'_> {
    /// The next chunk of the file into `buf`; false when the file is done (or unreadable).
    fn refill(&mut self) -> bool {
        let Some(s) = &self.order.spool else {
            return false;
        };
        let left = s.written - self.from_file;
        if left == 0 || self.read_error.is_some() {
            return false;
        }
        let n = (left as usize).min(CHUNK);
        let mut bytes = vec![0u8; n * 4];
        if let Err(e) = s.file.read_exact_at(&mut bytes, self.from_file * 4) {
            self.read_error = Some(format!("reading the completion order's spool: {e}"));
            return false;
        }
        self.buf.clear();
        self.buf.extend(
            bytes
                .chunks_exact(4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        );
        self.at = 0;
        self.from_file += n as u64;
        true
    }
}

impl Iterator for Walk<'_> {
    type Item = u32;

    fn next(&mut self) -> Option<u32> {
        if self.at < self.buf.len() || self.refill() {
            self.at += 1;
            return Some(self.buf[self.at - 1]);
        }
        if self.read_error.is_some() {
            return None;
        }
        let i = *self.order.mem.get(self.in_mem)?;
        self.in_mem += 1;
        Some(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spooled_order_walks_back_the_same_as_one_in_memory() {
        // Across chunk boundaries and with a partly filled last chunk; walked twice (the
        // checker's two passes). Would fail if a chunk were written twice, lost, or the chunk
        // in memory were left out.
        let n = 3 * CHUNK + 17;
        let order: Vec<u32> = (0..n as u32)
            .map(|i| i.wrapping_mul(2_654_435_761) % 1_000_003)
            .collect();
        let mut spooled = CompletionOrder::spooled().expect("temp file");
        let mut mem = CompletionOrder::in_memory(n);
        for &i in &order {
            spooled.push(i);
            mem.push(i);
        }
        assert_eq!((spooled.len(), mem.len()), (n, n));
        assert!(spooled.as_slice().is_none());
        assert_eq!(mem.as_slice(), Some(&order[..]));
        for _ in 0..2 {
            let mut w = spooled.iter();
            assert!(w.by_ref().eq(order.iter().copied()));
            assert!(w.read_error.is_none());
        }
        assert!(mem.iter().eq(order.iter().copied()));
        assert!(spooled.error().is_none());
        assert!(spooled.memory_bytes() <= CHUNK * 4);
    }
}
