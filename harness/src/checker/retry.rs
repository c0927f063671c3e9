//! Retries: what retrying did — extra attempts, copies stored from retries, and retries stored
//! after a later message of their key (the "order trap" of retrying async publishes).

use serde::{Deserialize, Serialize};

use super::safety::PerMessage;
use crate::record::history::{History, ReadBack};

/// What retries did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryFigures {
    /// Messages sent more than once.
    pub retried: u64,
    /// Attempts beyond the first.
    pub extra_attempts: u64,
    /// Stored copies that came from a retry (`Jsb-Attempt` > 1); null without read-back.
    pub stored_from_retries: Option<u64>,
    /// Messages whose first stored copy came from a retry and landed after a later-published
    /// message of the same key: the "order trap" of retrying async publishes. Null without
    /// read-back.
    pub retry_reorders: Option<u64>,
    /// Keys with at least one retry reorder.
    pub keys_affected: Option<u64>,
}

pub fn retry_figures(h: &History, rb: Option<(&ReadBack, &PerMessage)>) -> RetryFigures {
    let mut f = RetryFigures {
        retried: h.retried(),
        extra_attempts: h
            .total_attempts()
            .saturating_sub(h.attempts_sent().filter(|&a| a > 0).count() as u64),
        ..Default::default()
    };
    if let Some((rb, pm)) = rb {
        f.stored_from_retries = Some(rb.attempts.iter().filter(|&&a| a > 1).count() as u64);
        let mut keys = vec![false; h.num_keys as usize];
        let mut n = 0;
        for (i, &r) in pm.retry_reordered.iter().enumerate() {
            if r {
                n += 1;
                keys[h.keys.get(i) as usize] = true;
            }
        }
        f.retry_reorders = Some(n);
        f.keys_affected = Some(keys.iter().filter(|&&k| k).count() as u64);
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::safety::per_message;
    use crate::checker::testkit::retried_history;

    #[test]
    fn retry_reorders_are_found() {
        let (h, rb) = retried_history();
        let pm = per_message(&h, &rb);
        assert_eq!(pm.copies, vec![1, 2, 1, 1, 1]);
        // Message 2 (key 0) is stored after message 4 (key 0), from its second attempt.
        assert_eq!(pm.late_per_key, vec![false, false, true, false, false]);
        assert_eq!(pm.retry_reordered, vec![false, false, true, false, false]);
        let r = retry_figures(&h, Some((&rb, &pm)));
        assert_eq!(r.retried, 2);
        assert_eq!(r.extra_attempts, 2);
        assert_eq!(r.stored_from_retries, Some(2));
        assert_eq!(r.retry_reorders, Some(1));
        assert_eq!(r.keys_affected, Some(1));
        // A late first copy from a first attempt is not a retry reorder.
        let plain = ReadBack {
            order: vec![1, 0],
            seqs: vec![1, 2],
            attempts: vec![1, 1],
            unexpected: 0,
            complete: true,
        };
        let mut h2 = History::new(vec![0, 0], 1);
        h2.published = 2;
        let pm2 = per_message(&h2, &plain);
        assert_eq!(pm2.late_per_key, vec![true, false]);
        assert_eq!(
            retry_figures(&h2, Some((&plain, &pm2))).retry_reorders,
            Some(0)
        );
    }
}
