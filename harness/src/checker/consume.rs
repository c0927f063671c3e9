//! The consume side: the order of first processings, redeliveries (and how many of them were
//! processed after a later message of their key), failures, and stored messages never processed.

use serde::{Deserialize, Serialize};

use crate::record::history::ReadBack;
use crate::record::keys::KeyOf;

/// What the consume side did, judged against publish order and the stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumeFigures {
    /// Distinct messages processed at least once.
    pub processed: u64,
    /// Successful processings in all: a message processed again after a redelivery counts twice.
    pub processings: u64,
    /// Messages handed to workers (every delivery) and deliveries after the first.
    pub deliveries: u64,
    pub redelivered: u64,
    /// Messages whose first processing came from a redelivery and came after a later-published
    /// message of the same key: the reorders redelivery caused.
    pub redelivered_late_per_key: u64,
    /// Processings that failed (nak'd or left un-acked).
    pub failures: u64,
    /// Messages of the run found in the stream but never processed (null without a complete
    /// read-back).
    pub unprocessed: Option<u64>,
}

/// The consume order: each message at its first successful processing, in finish order
/// (`processed` must be sorted by finish time). Returns the order and, per entry, the delivery
/// it came from.
pub fn consume_order(processed: &[crate::consume::Processed]) -> (Vec<u32>, Vec<u32>) {
    // Indexes are dense (0..published): a bitmap, not a hash set (5× faster on 1M).
    let len = processed
        .iter()
        .map(|p| p.idx as usize + 1)
        .max()
        .unwrap_or(0);
    let mut seen = vec![false; len];
    let mut order = Vec::with_capacity(processed.len());
    let mut delivered = Vec::with_capacity(processed.len());
    for p in processed {
        let s = &mut seen[p.idx as usize];
        if !*s {
            *s = true;
            order.push(p.idx);
            delivered.push(p.delivered);
        }
    }
    (order, delivered)
}

/// Figures of the consume side. `order`/`delivered` come from [`consume_order`]; `keys` is the
/// history's key per message; `stored` the distinct messages the read-back found (when complete).
pub fn consume_figures(
    log: &crate::consume::ConsumeLog,
    order: &[u32],
    delivered: &[u32],
    keys: &(impl KeyOf + ?Sized),
    num_keys: u32,
    stored: Option<&ReadBack>,
) -> ConsumeFigures {
    // Late within its key: a later-published message of the key (higher index) came first.
    let mut max_per_key: Vec<Option<u32>> = vec![None; num_keys as usize];
    let mut redelivered_late = 0;
    for (&idx, &d) in order.iter().zip(delivered) {
        let i = idx as usize;
        if i >= keys.len() {
            continue;
        }
        let k = keys.key(i);
        let slot = &mut max_per_key[k as usize];
        match *slot {
            Some(m) if idx < m => {
                if d > 1 {
                    redelivered_late += 1;
                }
            }
            _ => *slot = Some(idx),
        }
    }
    let unprocessed = stored.filter(|rb| rb.complete).map(|rb| {
        // 0 = not stored, 1 = stored, 2 = processed (or counted): each stored index once.
        let len = rb
            .order
            .iter()
            .chain(order)
            .map(|&i| i as usize + 1)
            .max()
            .unwrap_or(0);
        let mut state = vec![0u8; len];
        for &i in order {
            state[i as usize] = 2;
        }
        let mut missing = 0;
        for &i in &rb.order {
            let s = &mut state[i as usize];
            if *s == 0 {
                missing += 1;
                *s = 2;
            }
        }
        missing
    });
    ConsumeFigures {
        processed: order.len() as u64,
        processings: log.processed.len() as u64,
        deliveries: log.deliveries,
        redelivered: log.redeliveries,
        redelivered_late_per_key: redelivered_late,
        failures: log.failures,
        unprocessed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::divergence;

    #[test]
    fn consume_figures_count_redelivery_reorders_and_unprocessed() {
        use crate::consume::{ConsumeLog, Processed};
        // Keys: 0 1 0 1 0. Message 2 (key 0) fails first, is redelivered and processed after 4
        // (key 0): late within its key, from a redelivery. 1 is processed twice.
        let keys = [0, 1, 0, 1, 0];
        let p = |idx, at_ns, delivered| Processed {
            idx,
            at_ns,
            delivered,
            worker: 0,
        };
        let log = ConsumeLog {
            processed: vec![p(0, 1, 1), p(1, 2, 1), p(4, 3, 1), p(2, 4, 2), p(1, 5, 2)],
            deliveries: 7,
            redeliveries: 2,
            failures: 1,
            ..Default::default()
        };
        let (order, delivered) = consume_order(&log.processed);
        assert_eq!(order, vec![0, 1, 4, 2]);
        assert_eq!(delivered, vec![1, 1, 1, 2]);
        let rb = ReadBack {
            order: vec![0, 1, 2, 3, 4],
            seqs: vec![1, 2, 3, 4, 5],
            attempts: vec![1; 5],
            unexpected: 0,
            complete: true,
        };
        let f = consume_figures(&log, &order, &delivered, &keys, 2, Some(&rb));
        assert_eq!(f.processed, 4);
        assert_eq!(f.processings, 5);
        assert_eq!(f.redelivered, 2);
        assert_eq!(f.redelivered_late_per_key, 1);
        assert_eq!(f.unprocessed, Some(1), "message 3 was never processed");
        let o = divergence(&order, &keys, 2);
        assert_eq!(o.late_per_key, 1);
        // Without a complete read-back, unprocessed is unknown.
        let partial = ReadBack {
            complete: false,
            ..rb
        };
        let f = consume_figures(&log, &order, &delivered, &keys, 2, Some(&partial));
        assert_eq!(f.unprocessed, None);
    }
}
