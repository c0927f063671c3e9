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
//! The API is the slice of `Vec`'s that the history's users need (push, extend, len, iterate,
//! index, iterate mutably), so it replaces a `Vec` field without changing its users.

use std::ops::{Index, IndexMut};

/// Records per chunk: 64 Ki (3 MiB of 48-byte attempt records).
pub const CHUNK: usize = 1 << 16;

/// A list of `T` in chunks of [`CHUNK`] (module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunked<T> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for Chunked<T> {
    fn default() -> Self {
        Chunked {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Chunked<T> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends `v`; a new chunk (of exactly [`CHUNK`] capacity) when the last one is full.
    pub fn push(&mut self, v: T) {
        match self.chunks.last_mut() {
            Some(c) if c.len() < CHUNK => c.push(v),
            _ => {
                let mut c = Vec::with_capacity(CHUNK);
                c.push(v);
                self.chunks.push(c);
            }
        }
        self.len += 1;
    }

    pub fn get(&self, i: usize) -> Option<&T> {
        self.chunks.get(i / CHUNK)?.get(i % CHUNK)
    }

    pub fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        self.chunks.get_mut(i / CHUNK)?.get_mut(i % CHUNK)
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + '_ {
        self.chunks.iter().flatten()
    }

    pub fn iter_mut(&mut self) -> impl DoubleEndedIterator<Item = &mut T> + '_ {
        self.chunks.iter_mut().flatten()
    }

    pub fn clear(&mut self) {
        self.chunks.clear();
        self.len = 0;
    }
}

impl<T> Extend<T> for Chunked<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, iter: I) {
        for v in iter {
            self.push(v);
        }
    }
}

impl<T> FromIterator<T> for Chunked<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        let mut c = Chunked::new();
        c.extend(iter);
        c
    }
}

impl<T> From<Vec<T>> for Chunked<T> {
    fn from(v: Vec<T>) -> Self {
        v.into_iter().collect()
    }
}

impl<'a, T> IntoIterator for &'a Chunked<T> {
    type Item = &'a T;
    type IntoIter = std::iter::Flatten<std::slice::Iter<'a, Vec<T>>>;

    fn into_iter(self) -> Self::IntoIter {
        self.chunks.iter().flatten()
    }
}

impl<'a, T> IntoIterator for &'a mut Chunked<T> {
    type Item = &'a mut T;
    type IntoIter = std::iter::Flatten<std::slice::IterMut<'a, Vec<T>>>;

    fn into_iter(self) -> Self::IntoIter {
        self.chunks.iter_mut().flatten()
    }
}

impl<T> Index<usize> for Chunked<T> {
    type Output = T;

    fn index(&self, i: usize) -> &T {
        match self.get(i) {
            Some(v) => v,
            None => panic!("index {i} out of range for a list of {}", self.len),
        }
    }
}

impl<T> IndexMut<usize> for Chunked<T> {
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
        assert!(c.chunks.iter().all(|ch| ch.capacity() == CHUNK));
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

    #[test]
    #[should_panic(expected = "index 3 out of range for a list of 3")]
    fn indexing_past_the_end_panics_like_a_vec() {
        let c: Chunked<u8> = vec![1, 2, 3].into();
        let _ = c[3];
    }
}
