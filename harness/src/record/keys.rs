//! The key of every message of a run, in the fewest bytes its keys need: 1 B per message while
//! every key is below 256, 2 B below 65,536, else 4 B. Most runs have tens or thousands of keys,
//! so the history's key column costs 1 or 2 B per message instead of 4 (issue 24: memory per
//! message).
//!
//! [`KeyOf`] is what a checker needs of a key column (its length and the key of one message), so
//! a checker takes this column or a plain `[u32]` alike.

/// A key column: one key per message, by publish index.
#[derive(Debug, Clone)]
pub enum Keys {
    U8(Vec<u8>),
    U16(Vec<u16>),
    U32(Vec<u32>),
}

impl Default for Keys {
    fn default() -> Keys {
        Keys::U8(Vec::new())
    }
}

/// The key of message `i` of an order, and how many messages have a key.
pub trait KeyOf {
    fn len(&self) -> usize;
    /// The key of message `i` (`i < len()`).
    fn key(&self, i: usize) -> u32;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Keys {
    /// The column of `keys`, in the narrowest width that holds the largest of them.
    pub fn new(keys: Vec<u32>) -> Keys {
        let mut k = Keys::default();
        k.extend_from_slice(&keys);
        k
    }

    /// An empty column for `n` messages whose keys are at most `max`, in the width that holds
    /// `max`, its room reserved exactly.
    pub fn with_capacity(max: u32, n: usize) -> Keys {
        if max <= u8::MAX as u32 {
            Keys::U8(Vec::with_capacity(n))
        } else if max <= u16::MAX as u32 {
            Keys::U16(Vec::with_capacity(n))
        } else {
            Keys::U32(Vec::with_capacity(n))
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Keys::U8(v) => v.len(),
            Keys::U16(v) => v.len(),
            Keys::U32(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The key of message `i`; panics when `i` is out of range, as indexing does.
    #[inline]
    pub fn get(&self, i: usize) -> u32 {
        match self {
            Keys::U8(v) => v[i] as u32,
            Keys::U16(v) => v[i] as u32,
            Keys::U32(v) => v[i],
        }
    }

    /// The key of message `i`, `None` beyond the column.
    pub fn try_get(&self, i: usize) -> Option<u32> {
        (i < self.len()).then(|| self.get(i))
    }

    /// Appends `more`, widening the whole column first when one of them does not fit.
    pub fn extend_from_slice(&mut self, more: &[u32]) {
        let max = more.iter().copied().max().unwrap_or(0);
        self.widen_for(max);
        match self {
            Keys::U8(v) => v.extend(more.iter().map(|&k| k as u8)),
            Keys::U16(v) => v.extend(more.iter().map(|&k| k as u16)),
            Keys::U32(v) => v.extend_from_slice(more),
        }
    }

    /// Rewrites the column in a width that holds `max` when the current one does not.
    fn widen_for(&mut self, max: u32) {
        let narrow = match self {
            Keys::U8(_) => max > u8::MAX as u32,
            Keys::U16(_) => max > u16::MAX as u32,
            Keys::U32(_) => false,
        };
        if !narrow {
            return;
        }
        let all: Vec<u32> = self.iter().collect();
        *self = if max <= u16::MAX as u32 {
            Keys::U16(all.iter().map(|&k| k as u16).collect())
        } else {
            Keys::U32(all)
        };
    }

    /// The keys in publish order.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// Bytes per message of this column.
    pub fn width(&self) -> usize {
        match self {
            Keys::U8(_) => 1,
            Keys::U16(_) => 2,
            Keys::U32(_) => 4,
        }
    }
}

impl KeyOf for Keys {
    fn len(&self) -> usize {
        Keys::len(self)
    }
    fn key(&self, i: usize) -> u32 {
        self.get(i)
    }
}

impl KeyOf for [u32] {
    fn len(&self) -> usize {
        <[u32]>::len(self)
    }
    fn key(&self, i: usize) -> u32 {
        self[i]
    }
}

impl KeyOf for Vec<u32> {
    fn len(&self) -> usize {
        Vec::len(self)
    }
    fn key(&self, i: usize) -> u32 {
        self[i]
    }
}

impl<const N: usize> KeyOf for [u32; N] {
    fn len(&self) -> usize {
        N
    }
    fn key(&self, i: usize) -> u32 {
        self[i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrowest_width_and_widening_keep_every_key() {
        let mut k = Keys::new(vec![0, 3, 255]);
        assert_eq!(k.width(), 1);
        k.extend_from_slice(&[7, 256]);
        assert_eq!(k.width(), 2);
        k.extend_from_slice(&[70_000, 1]);
        assert_eq!(k.width(), 4);
        assert_eq!(k.iter().collect::<Vec<_>>(), [0, 3, 255, 7, 256, 70_000, 1]);
        assert_eq!((k.try_get(6), k.try_get(7)), (Some(1), None));
        let wide = Keys::new(vec![65_535, 2]);
        assert_eq!((wide.width(), wide.get(0)), (2, 65_535));
        assert_eq!(Keys::new(Vec::new()).len(), 0);
    }
}
