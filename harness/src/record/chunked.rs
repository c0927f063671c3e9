//! A growable list stored in fixed-size chunks, for records whose count is not known in advance
//! (the attempt log: one record per failed, retried or repeated attempt).
//!
//! Why not a `Vec`: a `Vec` that grows by doubling reserves up to twice what it holds, and while
//! it grows it holds the old and the new buffer at once and copies one into the other — at the
//! peak three times the live size. An hour-long soak logged 4 M attempts of 48 B each (~195 MB)
//! and its peak RSS was dominated by that growth. Chunks are allocated one at a time and never
//! move: at most one partly filled chunk beyond the live records, no copy. The list of chunk
//! pointers still doubles, but it holds 8 B per chunk of [`CHUNK`] records.
//!
//! In a long run ([`Chunked::to_disk`]) each full chunk moves to an unlinked temp file, mapped
//! into memory, and its pages leave the process (as `record/column.rs` does with the history's
//! columns): the log costs disk, not memory. A walk ([`Iter`]) drops each such chunk's pages as
//! it leaves it, and when it ends.
//!
//! The API is the slice of `Vec`'s that the history's users need (push, extend, len, iterate,
//! index, iterate mutably), so it replaces a `Vec` field without changing its users. Its values
//! are `Copy` (plain records), so a chunk moves to the file by a typed copy.

use std::fs::File;
use std::ops::{Index, IndexMut};

use memmap2::{MmapOptions, MmapRaw};

/// Records per chunk: 64 Ki (3 MiB of 48-byte attempt records).
pub const CHUNK: usize = 1 << 16;

/// A list of `T` in chunks of [`CHUNK`] (module docs).
#[derive(Debug)]
pub struct Chunked<T> {
    chunks: Vec<Chunk<T>>,
    len: usize,
    /// Where full chunks go in a long run ([`Chunked::to_disk`]): an unlinked temp file.
    file: Option<File>,
}

/// One chunk: in memory, or (full) in a region of the file mapped into memory.
#[derive(Debug)]
enum Chunk<T> {
    Heap(Vec<T>),
    Disk(MmapRaw),
}

impl<T> Chunk<T> {
    fn as_slice(&self) -> &[T] {
        match self {
            Chunk::Heap(v) => v,
            // SAFETY: a disk chunk is a mapping of CHUNK values of T copied in whole
            // (`Chunked::spill_last`), never written but through `&mut self`.
            Chunk::Disk(m) => unsafe { std::slice::from_raw_parts(m.as_ptr() as *const T, CHUNK) },
        }
    }

    fn as_mut_slice(&mut self) -> &mut [T] {
        match self {
            Chunk::Heap(v) => v,
            // SAFETY: as above; `&mut self` makes this the only view.
            Chunk::Disk(m) => unsafe {
                std::slice::from_raw_parts_mut(m.as_mut_ptr() as *mut T, CHUNK)
            },
        }
    }

    fn len(&self) -> usize {
        match self {
            Chunk::Heap(v) => v.len(),
            Chunk::Disk(_) => CHUNK,
        }
    }

    /// Drops a disk chunk's pages from the process (not from the file: a shared, file-backed
    /// mapping reads the same bytes back on the next access; see `record/column.rs`).
    fn release(&self) {
        if let Chunk::Disk(m) = self {
            super::column::release(m, 0, m.len());
        }
    }
}

impl<T: Copy> Default for Chunked<T> {
    fn default() -> Self {
        Chunked {
            chunks: Vec::new(),
            len: 0,
            file: None,
        }
    }
}

impl<T: Copy> Clone for Chunked<T> {
    /// A copy in memory.
    fn clone(&self) -> Self {
        self.iter().copied().collect()
    }
}

impl<T: Copy + PartialEq> PartialEq for Chunked<T> {
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl<T: Copy + Eq> Eq for Chunked<T> {}

impl<T: Copy> Chunked<T> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends `v`; a new chunk (of exactly [`CHUNK`] capacity) when the last one is full (the
    /// full one goes to the file first when the list is on disk).
    pub fn push(&mut self, v: T) {
        match self.chunks.last_mut() {
            Some(Chunk::Heap(c)) if c.len() < CHUNK => c.push(v),
            _ => {
                self.spill_last();
                let mut c = Vec::with_capacity(CHUNK);
                c.push(v);
                self.chunks.push(Chunk::Heap(c));
            }
        }
        self.len += 1;
    }

    /// From now on, full chunks live in an unlinked temp file mapped into memory, out of the
    /// process's resident set but while they are walked (a long run: `History::spool`).
    pub fn to_disk(&mut self) -> std::io::Result<()> {
        if self.file.is_none() {
            self.file = Some(tempfile::tempfile()?);
        }
        for k in 0..self.chunks.len() {
            self.spill(k);
        }
        Ok(())
    }

    /// Moves the last chunk to the file when the list is on disk and that chunk is full.
    fn spill_last(&mut self) {
        if let Some(k) = self.chunks.len().checked_sub(1) {
            self.spill(k);
        }
    }

    /// Moves chunk `k` to the file when the list is on disk and that chunk is full. On an
    /// error the chunk stays in memory: memory, not correctness.
    fn spill(&mut self, k: usize) {
        let (Some(file), Some(Chunk::Heap(c))) = (&self.file, self.chunks.get(k)) else {
            return;
        };
        if c.len() < CHUNK || size_of::<T>() == 0 {
            return;
        }
        let bytes = CHUNK * size_of::<T>();
        let offset = k * bytes;
        let map = file.set_len((offset + bytes) as u64).and_then(|_| {
            // Blocks reserved first: a full disk is an error here, not a SIGBUS on the copy.
            super::column::reserve(file, offset, offset + bytes)?;
            MmapOptions::new()
                .offset(offset as u64)
                .len(bytes)
                .map_raw(file)
        });
        let Ok(map) = map else { return };
        // SAFETY: the mapping holds `bytes` = CHUNK values of T, and `c` holds CHUNK; the
        // values are copied as T (a typed copy). T is `Copy`: dropping the Vec drops nothing.
        unsafe { std::ptr::copy_nonoverlapping(c.as_ptr(), map.as_mut_ptr() as *mut T, CHUNK) };
        let disk = Chunk::Disk(map);
        disk.release();
        self.chunks[k] = disk;
    }

    pub fn get(&self, i: usize) -> Option<&T> {
        self.chunks.get(i / CHUNK)?.as_slice().get(i % CHUNK)
    }

    pub fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        self.chunks
            .get_mut(i / CHUNK)?
            .as_mut_slice()
            .get_mut(i % CHUNK)
    }

    /// In order. A walk lets go of each chunk on disk as it leaves it.
    pub fn iter(&self) -> Iter<'_, T> {
        Iter {
            list: self,
            front: (0, 0),
            back: (self.chunks.len(), 0),
        }
    }

    pub fn iter_mut(&mut self) -> impl DoubleEndedIterator<Item = &mut T> + '_ {
        self.chunks.iter_mut().flat_map(|c| c.as_mut_slice())
    }

    pub fn clear(&mut self) {
        self.chunks.clear();
        self.len = 0;
    }
}

/// [`Chunked::iter`]: front and back positions as (chunk, index within it); `back` is one past.
pub struct Iter<'a, T> {
    list: &'a Chunked<T>,
    front: (usize, usize),
    back: (usize, usize),
}

impl<'a, T> Iter<'a, T> {
    fn done(&self) -> bool {
        let (f, b) = (self.front, self.back);
        f.0 > b.0 || (f.0 == b.0 && f.1 >= b.1)
    }
}

impl<T> Drop for Iter<'_, T> {
    /// A walk that ends (or stops early) lets go of the chunks it stands in.
    fn drop(&mut self) {
        for c in [self.front.0, self.back.0] {
            if let Some(chunk) = self.list.chunks.get(c) {
                chunk.release();
            }
        }
    }
}

impl<'a, T> Iterator for Iter<'a, T> {
    type Item = &'a T;

    fn next(&mut self) -> Option<&'a T> {
        loop {
            if self.done() {
                return None;
            }
            let (c, i) = self.front;
            let chunk = self.list.chunks.get(c)?;
            if i < chunk.len() {
                self.front.1 += 1;
                return chunk.as_slice().get(i);
            }
            chunk.release();
            self.front = (c + 1, 0);
        }
    }
}

impl<'a, T> DoubleEndedIterator for Iter<'a, T> {
    fn next_back(&mut self) -> Option<&'a T> {
        loop {
            if self.done() {
                return None;
            }
            let (c, i) = self.back;
            if i > 0 {
                self.back.1 -= 1;
                return self.list.chunks.get(c)?.as_slice().get(i - 1);
            }
            if let Some(chunk) = self.list.chunks.get(c) {
                chunk.release();
            }
            let prev = c.checked_sub(1)?;
            self.back = (prev, self.list.chunks[prev].len());
        }
    }
}

impl<T: Copy> Extend<T> for Chunked<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, iter: I) {
        for v in iter {
            self.push(v);
        }
    }
}

impl<T: Copy> FromIterator<T> for Chunked<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut c = Chunked::new();
        c.extend(iter);
        c
    }
}

impl<T: Copy> From<Vec<T>> for Chunked<T> {
    fn from(v: Vec<T>) -> Self {
        v.into_iter().collect()
    }
}

impl<'a, T: Copy> IntoIterator for &'a Chunked<T> {
    type Item = &'a T;
    type IntoIter = Iter<'a, T>;

    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

impl<'a, T: Copy> IntoIterator for &'a mut Chunked<T> {
    type Item = &'a mut T;
    type IntoIter = Box<dyn DoubleEndedIterator<Item = &'a mut T> + 'a>;

    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter_mut())
    }
}

impl<T: Copy> Index<usize> for Chunked<T> {
    type Output = T;

    fn index(&self, i: usize) -> &T {
        match self.get(i) {
            Some(v) => v,
            None => panic!("index {i} out of range for a list of {}", self.len),
        }
    }
}

impl<T: Copy> IndexMut<usize> for Chunked<T> {
    fn index_mut(&mut self, i: usize) -> &mut T {
        let len = self.len;
        match self.get_mut(i) {
            Some(v) => v,
            None => panic!("index {i} out of range for a list of {len}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_goes_in_comes_out_in_order_across_chunk_boundaries() {
        // 2.5 chunks: the boundaries at CHUNK and 2 × CHUNK are crossed by push and extend.
        let n = 2 * CHUNK + CHUNK / 2;
        let mut c: Chunked<u64> = (0..CHUNK as u64 + 3).collect();
        c.extend(CHUNK as u64 + 3..n as u64 - 1);
        c.push(n as u64 - 1);
        assert_eq!(c.len(), n);
        assert!(!c.is_empty());
        assert!(c.iter().copied().eq(0..n as u64));
        assert!((&c).into_iter().rev().copied().eq((0..n as u64).rev()));
        for i in [0, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, n - 1] {
            assert_eq!(c[i], i as u64);
            assert_eq!(c.get(i), Some(&(i as u64)));
        }
        assert_eq!(c.get(n), None);
        // Every chunk is allocated at its full size once: no chunk ever grows (no doubling).
        assert_eq!(c.chunks.len(), 3);
        assert!(c
            .chunks
            .iter()
            .all(|ch| matches!(ch, Chunk::Heap(v) if v.capacity() == CHUNK)));
        for v in &mut c {
            *v *= 2;
        }
        c[1] += 1;
        assert_eq!((c[0], c[1], c[n - 1]), (0, 3, 2 * (n as u64 - 1)));
        assert_eq!(c, {
            let mut v: Vec<u64> = (0..n as u64).map(|x| 2 * x).collect();
            v[1] += 1;
            Chunked::from(v)
        });
        c.clear();
        assert!(c.is_empty() && c.iter().next().is_none());
    }

    /// On disk, full chunks move to the file: the same values, forwards and backwards, by
    /// index and mutably, and the walk leaves them out of the resident set.
    #[test]
    fn a_list_on_disk_holds_what_one_in_memory_holds() {
        let n = 3 * CHUNK + 5;
        let mem: Chunked<u64> = (0..n as u64).collect();
        let mut disk: Chunked<u64> = (0..CHUNK as u64 + 1).collect();
        disk.to_disk().unwrap();
        disk.extend(CHUNK as u64 + 1..n as u64);
        let on_disk = |c: &Chunked<u64>| {
            c.chunks
                .iter()
                .filter(|ch| matches!(ch, Chunk::Disk(_)))
                .count()
        };
        assert_eq!(on_disk(&disk), 3);
        assert_eq!(disk, mem);
        // A walk leaves no chunk on disk resident behind it.
        let rss = |c: &Chunked<u64>| -> usize {
            c.chunks
                .iter()
                .filter_map(|ch| match ch {
                    Chunk::Disk(m) => Some(crate::record::column::tests::mapping_rss(m.as_ptr())),
                    Chunk::Heap(_) => None,
                })
                .sum()
        };
        assert_eq!(rss(&disk), 0);
        // Reading the whole first chunk outside a walk keeps it resident: the check can fail.
        let raw: u64 = disk.chunks[0].as_slice().iter().sum();
        assert!(raw > 0 && rss(&disk) >= CHUNK * 8);
        assert!(disk.iter().rev().eq(mem.iter().rev()));
        assert_eq!(rss(&disk), 0);
        let mut it = disk.iter();
        assert_eq!(
            (it.next(), it.next_back()),
            (Some(&0), Some(&(n as u64 - 1)))
        );
        assert_eq!(it.count(), n - 2);
        for i in [0, CHUNK - 1, CHUNK, 2 * CHUNK + 7, n - 1] {
            assert_eq!(disk[i], i as u64);
        }
        for v in &mut disk {
            *v += 1;
        }
        disk[CHUNK] = 0;
        assert_eq!((disk[0], disk[CHUNK], disk[n - 1]), (1, 0, n as u64));
        assert_eq!(disk.clone().iter().count(), n);
    }

    #[test]
    #[should_panic(expected = "index 3 out of range for a list of 3")]
    fn indexing_past_the_end_panics_like_a_vec() {
        let c: Chunked<u8> = vec![1, 2, 3].into();
        let _ = c[3];
    }
}
