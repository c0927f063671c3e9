//! Safety: what the read-back says about acknowledged data (lost, duplicated, unexpected,
//! unknown outcomes found stored), in total and per message; and about what the client said of
//! the others: failed yet stored (per error kind), definite failures stored (a correct client
//! never has one), never resolved by the client yet stored.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::record::history::{History, Outcome, ReadBack};

/// What the read-back says about acknowledged data.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Safety {
    /// Distinct messages of this run found in the stream.
    pub stored: u64,
    /// Acknowledged, but not in the stream: a safety failure.
    pub lost: u64,
    /// Extra copies: the same key+seq stored more than once.
    pub duplicates: u64,
    /// Stored, but never published by this run.
    pub unexpected: u64,
    /// Outcome unknown (timed out) and found stored.
    pub unknown_stored: u64,
    /// Outcome unknown and not in the stream.
    pub unknown_missing: u64,
    /// Reported as failed, yet stored.
    pub failed_but_stored: u64,
    /// Acked with a stream sequence that differs from where the read-back found the message.
    pub ack_seq_mismatches: u64,
    /// Lost messages classified as Jepsen does for queues, by where they sit among the stored
    /// acknowledged messages in publish order: before the first one (prefix), after the last
    /// one (postfix), or between (middle).
    #[serde(default)]
    pub lost_prefix: u64,
    #[serde(default)]
    pub lost_middle: u64,
    #[serde(default)]
    pub lost_postfix: u64,
    /// "Duplicate message id is in process" (err_code 10158) and found stored / not stored.
    #[serde(default)]
    pub in_process_stored: u64,
    #[serde(default)]
    pub in_process_missing: u64,
    /// Sent through an adapter, never resolved by its client (no ack, no error by
    /// `client.resolve_timeout`), and found stored / not stored.
    #[serde(default)]
    pub unresolved_but_stored: u64,
    #[serde(default)]
    pub unresolved_missing: u64,
    /// The client said "certainly not stored" (a definite failure: [`Outcome::Fail`] or
    /// [`Outcome::Rejected`]), yet it is stored. A correct client never produces one.
    #[serde(default)]
    pub definite_but_stored: u64,
    /// Every message whose last attempt the client reported failed, of either class (failed,
    /// rejected, timed out or unknown, in process), that is stored anyway: per error kind of
    /// that attempt. `failed_but_stored` counts the definite ones only.
    #[serde(default)]
    pub failed_but_stored_by_kind: BTreeMap<String, u64>,
}

impl Safety {
    /// Counts one published message by its outcome and whether it is stored; `(before, after)`
    /// place a lost acked message before the first or after the last acked one stored.
    fn count(&mut self, outcome: Outcome, stored: bool, (before, after): (bool, bool)) {
        match outcome {
            Outcome::Ok | Outcome::Duplicate => {
                if !stored {
                    self.lost += 1;
                    if before {
                        self.lost_prefix += 1;
                    } else if after {
                        self.lost_postfix += 1;
                    } else {
                        self.lost_middle += 1;
                    }
                }
            }
            Outcome::InProcess => {
                if stored {
                    self.in_process_stored += 1;
                } else {
                    self.in_process_missing += 1;
                }
            }
            Outcome::Unknown => {
                if stored {
                    self.unknown_stored += 1;
                } else {
                    self.unknown_missing += 1;
                }
            }
            Outcome::Fail | Outcome::Rejected => {
                if stored {
                    self.failed_but_stored += 1;
                    self.definite_but_stored += 1;
                }
            }
            Outcome::Unresolved => {
                if stored {
                    self.unresolved_but_stored += 1;
                } else {
                    self.unresolved_missing += 1;
                }
            }
            Outcome::InFlight | Outcome::NotSent => {}
        }
    }
}

/// In [`safety`]'s one byte per message: set when one of the message's stored copies sits at
/// the sequence its ack reported (a retried message's ack may name its second copy); the low
/// seven bits count its copies (saturating at 127, only "any" matters here).
const ACK_MATCHED: u8 = 0x80;
const COPIES: u8 = 0x7f;

/// Compares the history with the stream's content.
pub fn safety(history: &History, read_back: &ReadBack) -> Safety {
    let n = history.planned();
    let mut copies = vec![0u8; n];
    let mut s = Safety {
        unexpected: read_back.unexpected,
        ..Default::default()
    };
    for (pos, &idx) in read_back.order.iter().enumerate() {
        let i = idx as usize;
        if i >= n || i as u64 >= history.published {
            s.unexpected += 1;
            continue;
        }
        let c = &mut copies[i];
        if *c & COPIES == 0 {
            s.stored += 1;
        } else {
            s.duplicates += 1;
        }
        if *c & COPIES < COPIES {
            *c += 1;
        }
        if read_back.seqs.get(pos).copied() == Some(history.ack_seq(i)) {
            *c |= ACK_MATCHED;
        }
    }
    let stored = |i: usize| copies[i] & COPIES > 0;
    let ack_matched = |i: usize| copies[i] & ACK_MATCHED != 0;
    judge_published(history, &mut s, stored, ack_matched, read_back.complete);
    s
}

/// Counts every published message into `s` by its outcome, given which are `stored` and which
/// have a stored copy at the sequence their ack reported (`ack_matched`, looked at only when the
/// read-back is `complete`). Shared by [`safety`] and the streaming checker
/// (`checker::stream`), which know those two per message in different ways (a byte per message
/// here, bits there) but must judge them by the same rules. Both closures are asked only about
/// published messages.
pub(super) fn judge_published(
    history: &History,
    s: &mut Safety,
    stored: impl Fn(usize) -> bool,
    ack_matched: impl Fn(usize) -> bool,
    complete: bool,
) {
    let published = (history.published as usize).min(history.planned());
    if complete {
        s.ack_seq_mismatches = (0..published)
            .filter(|&i| history.outcome(i) == Outcome::Ok && stored(i) && !ack_matched(i))
            .count() as u64;
    }
    let failed_and_stored =
        |i: usize| i < published && stored(i) && reported_failed(history.outcome(i));
    let kinds = last_error_kinds(history, failed_and_stored);
    let acked_stored = |i: &usize| history.outcome(*i).is_acked() && stored(*i);
    let first = (0..published).find(acked_stored).unwrap_or(published);
    let last = (0..published).rev().find(acked_stored).unwrap_or(0);
    for i in 0..published {
        let stored = stored(i);
        s.count(history.outcome(i), stored, (i < first, i > last));
        if failed_and_stored(i) {
            let kind = kinds.get(&(i as u32)).copied().unwrap_or("unknown_kind");
            *s.failed_but_stored_by_kind
                .entry(kind.to_string())
                .or_default() += 1;
        }
    }
}

/// The outcomes whose message the client reported failed, of either class (failed, rejected,
/// timed out or unknown, in process).
fn reported_failed(o: Outcome) -> bool {
    matches!(
        o,
        Outcome::Fail | Outcome::Rejected | Outcome::Unknown | Outcome::InProcess
    )
}

/// The error kind of each message's last failed attempt (the attempt log keeps every one), for
/// the messages `keep` names only: those are the ones looked up, and a map of every failed
/// message would cost bytes per message on a run with many failures.
fn last_error_kinds(history: &History, keep: impl Fn(usize) -> bool) -> HashMap<u32, &'static str> {
    let mut last: HashMap<u32, (u8, &'static str)> = HashMap::new();
    for a in history.attempt_log.iter().filter(|a| a.attempt >= 1) {
        if a.outcome.is_acked() || !keep(a.idx as usize) {
            continue;
        }
        let e = last.entry(a.idx).or_insert((a.attempt, a.error));
        if a.attempt >= e.0 {
            *e = (a.attempt, a.error);
        }
    }
    last.into_iter().map(|(i, (_, k))| (i, k)).collect()
}

/// What the read-back says about each message, for the checkers that split by message.
#[derive(Debug, Default)]
pub struct PerMessage {
    /// Copies of each message in the stream.
    pub copies: Vec<u8>,
    /// The message's first stored copy comes after a later-published message of its key.
    pub late_per_key: Vec<bool>,
    /// The message's first stored copy came from a retry and is late within its key.
    pub retry_reordered: Vec<bool>,
}

/// Walks the read-back once and marks every message (see [`PerMessage`]).
pub fn per_message(history: &History, rb: &ReadBack) -> PerMessage {
    let n = history.planned();
    let mut pm = PerMessage {
        copies: vec![0; n],
        late_per_key: vec![false; n],
        retry_reordered: vec![false; n],
    };
    let mut key_max: Vec<i64> = vec![-1; history.num_keys as usize];
    for (pos, &idx) in rb.order.iter().enumerate() {
        let i = idx as usize;
        if i >= n {
            continue;
        }
        let first = pm.copies[i] == 0;
        pm.copies[i] = pm.copies[i].saturating_add(1);
        if !first {
            continue;
        }
        let k = history.keys.get(i) as usize;
        if (idx as i64) < key_max[k] {
            pm.late_per_key[i] = true;
            if rb.attempts.get(pos).copied().unwrap_or(1) > 1 {
                pm.retry_reordered[i] = true;
            }
        } else {
            key_max[k] = idx as i64;
        }
    }
    pm
}

#[cfg(test)]
mod tests {
    use super::*;

    fn history(outcomes: &[Outcome], seqs: &[u64]) -> History {
        let mut h = History::new(vec![0; outcomes.len()], 1);
        h.published = outcomes.len() as u64;
        for (i, (&o, &s)) in outcomes.iter().zip(seqs).enumerate() {
            h.set_outcome(i, o);
            h.set_ack_seq(i, s);
        }
        h
    }

    #[test]
    fn safety_figures() {
        use Outcome::*;
        let h = history(&[Ok, Ok, Unknown, Unknown, Fail, Ok], &[1, 2, 0, 0, 0, 4]);
        let rb = ReadBack {
            // 0 stored, 1 lost, 2 stored (recovered), 3 missing, 4 failed but stored,
            // 5 stored twice, then a foreign message (idx 77).
            order: vec![0, 2, 4, 5, 5, 77],
            seqs: vec![1, 2, 3, 4, 5, 6],
            unexpected: 1,
            complete: true,
            ..Default::default()
        };
        let s = safety(&h, &rb);
        assert_eq!(s.stored, 4);
        assert_eq!(s.lost, 1);
        assert_eq!(s.duplicates, 1);
        assert_eq!(s.unexpected, 2);
        assert_eq!(s.unknown_stored, 1);
        assert_eq!(s.unknown_missing, 1);
        assert_eq!(s.failed_but_stored, 1);
        assert_eq!(s.definite_but_stored, 1);
        assert_eq!(s.ack_seq_mismatches, 0);
    }

    #[test]
    fn unresolved_and_failed_by_kind() {
        use crate::record::history::{AttemptRecord, NONE};
        use Outcome::*;
        let mut h = history(
            &[Unresolved, Unresolved, Unknown, Fail, Ok],
            &[0, 0, 0, 0, 5],
        );
        let log = |idx: u32, attempt: u8, outcome: Outcome, error: &'static str| AttemptRecord {
            idx,
            attempt,
            conn: 0,
            send_ns: 1,
            end_ns: 2,
            outcome,
            error,
            code: 0,
            rank: NONE,
        };
        h.attempt_log = vec![
            log(0, 1, Unresolved, "unresolved"),
            log(1, 1, Unresolved, "unresolved"),
            log(2, 1, Fail, "no_responders"),
            log(2, 2, Unknown, "disconnected"),
            log(3, 1, Fail, "no_responders"),
        ]
        .into();
        let rb = ReadBack {
            order: vec![0, 2, 3, 4],
            seqs: vec![1, 2, 3, 5],
            complete: true,
            ..Default::default()
        };
        let s = safety(&h, &rb);
        assert_eq!((s.unresolved_but_stored, s.unresolved_missing), (1, 1));
        assert_eq!(s.definite_but_stored, 1);
        assert_eq!(s.failed_but_stored_by_kind.get("disconnected"), Some(&1));
        assert_eq!(s.failed_but_stored_by_kind.get("no_responders"), Some(&1));
        assert_eq!(s.failed_but_stored_by_kind.len(), 2);
    }

    #[test]
    fn losses_are_classified_by_where_they_sit_among_the_stored() {
        use Outcome::*;
        // Acked 0..7; stored 2, 3, 5; lost 0, 1 (prefix), 4 (middle), 6, 7 (postfix); 8 was
        // "in process" and never stored.
        let h = history(
            &[Ok, Ok, Ok, Ok, Ok, Ok, Ok, Ok, InProcess],
            &[1, 2, 3, 4, 5, 6, 7, 8, 0],
        );
        let rb = ReadBack {
            order: vec![2, 3, 5],
            seqs: vec![3, 4, 6],
            complete: true,
            ..Default::default()
        };
        let s = safety(&h, &rb);
        assert_eq!(s.lost, 5);
        assert_eq!((s.lost_prefix, s.lost_middle, s.lost_postfix), (2, 1, 2));
        assert_eq!((s.in_process_stored, s.in_process_missing), (0, 1));
    }

    #[test]
    fn with_no_acked_message_stored_every_loss_is_a_prefix_loss() {
        use Outcome::*;
        // Nothing acked is stored (only an unknown one): no stored acked message to sit
        // between or after, so all three lost ones count before the first.
        let h = history(&[Ok, Unknown, Ok, Ok], &[1, 0, 3, 4]);
        let rb = ReadBack {
            order: vec![1],
            seqs: vec![2],
            complete: true,
            ..Default::default()
        };
        let s = safety(&h, &rb);
        assert_eq!((s.lost_prefix, s.lost_middle, s.lost_postfix), (3, 0, 0));
    }

    #[test]
    fn ack_seq_mismatch_is_counted() {
        let h = history(&[Outcome::Ok, Outcome::Ok], &[1, 2]);
        let rb = ReadBack {
            order: vec![1, 0],
            seqs: vec![1, 2],
            unexpected: 0,
            complete: true,
            ..Default::default()
        };
        assert_eq!(safety(&h, &rb).ack_seq_mismatches, 2);
    }
}
