//! The per-message memory of the streaming checkers: bits, never bytes.
//!
//! - [`Bits`]: a bitset of a size known when it is made (per key, or per message at `finish`,
//!   when the run's message count is known).
//! - [`SeenSet`]: the messages seen so far, while that count is not known (a duration-bound
//!   run): grown in fixed chunks that never move (a doubling `Vec` would hold two copies while
//!   it grows, see `record/chunked.rs`), with rank queries ("how many seen below `i`") over a
//!   Fenwick tree of per-block counts. A Fenwick tree of single messages, as `checker::order`
//!   keeps, costs 4 B per message; one of blocks of [`BLOCK_BITS`] costs 8 B per block (1/64
//!   bit per message), and a query adds at most [`BLOCK_WORDS`] popcounts.

/// Bits per word.
const WORD: usize = 64;
/// Bits per rank block: the Fenwick tree counts whole blocks, popcount counts inside one.
const BLOCK_BITS: usize = 512;
const BLOCK_WORDS: usize = BLOCK_BITS / WORD;
/// Bits per chunk the seen set grows by: 64 Ki bits (8 KiB), so a short run pays little and a
/// 10M-message run holds some 150 chunks.
const CHUNK_BITS: usize = 1 << 16;
const CHUNK_WORDS: usize = CHUNK_BITS / WORD;
const CHUNK_BLOCKS: usize = CHUNK_BITS / BLOCK_BITS;

/// A bitset of a fixed size; indexes beyond it are never members.
#[derive(Debug, Default, Clone)]
pub(super) struct Bits {
    words: Vec<u64>,
}

impl Bits {
    pub(super) fn new(n: usize) -> Bits {
        Bits {
            words: vec![0; n.div_ceil(WORD)],
        }
    }

    pub(super) fn contains(&self, i: usize) -> bool {
        self.words
            .get(i / WORD)
            .is_some_and(|w| w & (1 << (i % WORD)) != 0)
    }

    /// Adds `i`; true when it was not a member. Panics beyond the size (a caller's bug: every
    /// caller sizes the set for the indexes it adds).
    pub(super) fn insert(&mut self, i: usize) -> bool {
        let (w, bit) = (&mut self.words[i / WORD], 1u64 << (i % WORD));
        let fresh = *w & bit == 0;
        *w |= bit;
        fresh
    }

    pub(super) fn count(&self) -> u64 {
        self.words.iter().map(|w| w.count_ones() as u64).sum()
    }
}

/// The messages seen so far, growable, with rank queries (module docs).
#[derive(Debug, Default)]
pub(super) struct SeenSet {
    chunks: Vec<Box<[u64]>>,
    /// Fenwick tree over blocks, 1-based (`tree[0]` unused): `tree[p]` sums the blocks
    /// `(p - lowbit(p), p]`.
    tree: Vec<u64>,
}

impl SeenSet {
    /// Adds `i`, growing the set to hold it; true when it was not a member.
    pub(super) fn insert(&mut self, i: usize) -> bool {
        while self.chunks.len() <= i / CHUNK_BITS {
            self.grow();
        }
        let w = &mut self.chunks[i / CHUNK_BITS][(i % CHUNK_BITS) / WORD];
        let bit = 1u64 << (i % WORD);
        let fresh = *w & bit == 0;
        *w |= bit;
        if fresh {
            self.add_block(i / BLOCK_BITS);
        }
        fresh
    }

    /// Members below `i`.
    pub(super) fn rank(&self, i: usize) -> u64 {
        let Some(chunk) = self.chunks.get(i / CHUNK_BITS) else {
            return self.blocks_below(self.tree.len().saturating_sub(1));
        };
        let word = (i % CHUNK_BITS) / WORD;
        let block_start = word - word % BLOCK_WORDS;
        let inside: u64 = chunk[block_start..word]
            .iter()
            .map(|w| w.count_ones() as u64)
            .sum();
        let below_bit = chunk[word] & ((1u64 << (i % WORD)) - 1);
        self.blocks_below(i / BLOCK_BITS) + inside + below_bit.count_ones() as u64
    }

    /// One more chunk of empty blocks. The Fenwick nodes of the new blocks cover old blocks
    /// too (a node sums the `lowbit(p)` blocks ending at `p`), so each starts as the sum of
    /// the old blocks in its range rather than 0.
    fn grow(&mut self) {
        self.chunks.push(vec![0; CHUNK_WORDS].into_boxed_slice());
        if self.tree.is_empty() {
            self.tree.push(0);
        }
        let old = self.tree.len() - 1;
        self.tree.reserve_exact(CHUNK_BLOCKS);
        for p in old + 1..=old + CHUNK_BLOCKS {
            let low = p - (p & p.wrapping_neg());
            let node = self.blocks_below((p - 1).min(old)) - self.blocks_below(low.min(old));
            self.tree.push(node);
        }
    }

    fn add_block(&mut self, block: usize) {
        let mut p = block + 1;
        while p < self.tree.len() {
            self.tree[p] += 1;
            p += p & p.wrapping_neg();
        }
    }

    /// Members in the blocks below `block`.
    fn blocks_below(&self, block: usize) -> u64 {
        let mut p = block;
        let mut sum = 0;
        while p > 0 {
            sum += self.tree[p];
            p &= p - 1;
        }
        sum
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn rank_counts_the_members_below_across_blocks_and_chunks() {
        // Indexes spread over several chunks, inserted out of order and some twice, so chunks
        // grow after earlier ones hold members (the Fenwick nodes of new blocks must include
        // them). Would fail if grow started new nodes at 0 or a query missed a partial block.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(24);
        let span = 3 * CHUNK_BITS + 123;
        let mut set = SeenSet::default();
        let mut plain = vec![false; span];
        for step in 0..4000 {
            // Grow gradually, as a run's indexes do, with a jump now and then.
            let top = (span * (step + 1) / 4000).max(1);
            let i = rng.random_range(0..top);
            assert_eq!(set.insert(i), !plain[i]);
            plain[i] = true;
            if step % 97 == 0 {
                for q in [
                    0,
                    i,
                    i + 1,
                    rng.random_range(0..span),
                    span + 5 * CHUNK_BITS,
                ] {
                    let want = plain.iter().take(q).filter(|&&b| b).count() as u64;
                    assert_eq!(set.rank(q), want, "rank({q}) after {step} inserts");
                }
            }
        }
    }

    #[test]
    fn bits_insert_once_and_know_nothing_beyond_their_size() {
        let mut b = Bits::new(70);
        assert!(b.insert(69));
        assert!(!b.insert(69));
        assert!(b.insert(0));
        assert!(b.contains(69) && b.contains(0) && !b.contains(1));
        assert!(!b.contains(1000));
        assert_eq!(b.count(), 2);
    }
}
