//! Replies: every reply a publish got, by kind (ok, duplicate, error with its code), and how
//! many success acks reached the client after the error or duplicate reply of a message
//! published later ("reply overtaking").
//!
//! Why it matters: on a replicated stream the leader answers a rejected publish (a Msg-Id
//! duplicate, "duplicate message id is in process", an expected-sequence failure) at once, but a
//! successful one only after the Raft commit. A client that takes the order of replies for the
//! order of storage, or reacts to an error before the acks of earlier messages arrived, is
//! misled. Measured on the wire tap's arrival ranks, which are in socket order.
//!
//! Positions in publish order: a message's first attempt stands at its publish index; a later
//! attempt of it (a retry, a repeat of its Msg-Id) was sent after that first attempt, so it stands
//! just after it — an error reply to the repeat of message 7 overtakes message 7's own ack when it
//! arrives first.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::client::DUPLICATE_IN_PROCESS;
use crate::record::history::{History, Outcome, NONE};

/// `replies` of result.json.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replies {
    /// Success acks (a new stream sequence).
    pub ok: u64,
    /// Acks flagged `duplicate: true` (Msg-Id dedup).
    pub duplicate: u64,
    /// Error replies by code: a JetStream `err_code` ("10158": duplicate message id is in
    /// process, "10077": …), "503" for no responders.
    pub errors: BTreeMap<String, u64>,
    /// Attempts that got no reply in time.
    pub timed_out: u64,
    /// Attempts that failed without a reply (the connection broke, the client refused to
    /// queue).
    pub no_reply: u64,
    /// Success acks that reached the client after a later-published message's reply of each
    /// kind, and after any of them.
    pub overtaken: Overtaken,
}

/// Success acks overtaken, by the kind of the reply that overtook them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overtaken {
    /// By a duplicate ack.
    pub by_duplicate: u64,
    /// By a "duplicate message id is in process" error (10158).
    pub by_in_process: u64,
    /// By any other error reply.
    pub by_error: u64,
    /// By any of these.
    pub any: u64,
}

/// A non-success reply's kind, for the overtaking sweep.
#[derive(Clone, Copy)]
enum Other {
    Duplicate,
    InProcess,
    Error,
}

/// One reply on the wire: its arrival rank, its position in publish order, what it was.
struct Reply {
    rank: u32,
    /// 2 × publish index, + 1 for a later attempt (module docs).
    position: u64,
    kind: Option<Other>,
}

/// Counts the replies of `h` and the success acks overtaken.
pub fn replies(h: &History) -> Replies {
    let mut r = Replies::default();
    // The non-success replies on the wire, kept for the sweep: success acks are walked twice
    // in place (one per message would be 16 B each, most of a run's analysis memory).
    let mut others = Vec::new();
    for_each_reply(h, |reply| {
        match reply.kind {
            None => r.ok += 1,
            Some(Other::Duplicate) => r.duplicate += 1,
            Some(_) => {}
        }
        if reply.kind.is_some() && reply.rank != NONE {
            others.push(reply);
        }
    });
    // What got no reply or an error reply; acks (a repeat's included) are counted above.
    for a in h.attempt_log.iter().filter(|a| !a.outcome.is_acked()) {
        if a.code == 0 {
            if a.outcome == Outcome::Unknown {
                r.timed_out += 1;
            } else {
                r.no_reply += 1;
            }
            continue;
        }
        *r.errors.entry(a.code.to_string()).or_default() += 1;
    }
    r.overtaken = overtaken(h, others);
    r
}

/// Every acked reply (a message's successful attempt, a deliberate repeat's ack) and every
/// error reply with a code, in history order, each handed to `f` once.
fn for_each_reply(h: &History, mut f: impl FnMut(Reply)) {
    let published = h.published as usize;
    for i in 0..published.min(h.planned()) {
        let kind = match h.outcome(i) {
            Outcome::Ok => None,
            Outcome::Duplicate => Some(Other::Duplicate),
            _ => continue,
        };
        // The successful attempt: the first, or a retry that stands after it.
        let later = h.attempts(i) > 1;
        f(Reply {
            rank: h.wire_rank(i),
            position: 2 * i as u64 + later as u64,
            kind,
        });
    }
    for a in &h.attempt_log {
        // A message's own acks are counted above, from the history's columns; a deliberate
        // repeat's (attempt 0) are its own replies.
        let repeat = a.attempt == 0;
        let (kind, later) = match a.outcome {
            Outcome::Ok | Outcome::Duplicate if !repeat => continue,
            Outcome::Ok => (None, true),
            Outcome::Duplicate => (Some(Other::Duplicate), true),
            _ if a.code == 0 => continue,
            _ if a.code == DUPLICATE_IN_PROCESS => (Some(Other::InProcess), a.attempt != 1),
            _ => (Some(Other::Error), a.attempt != 1),
        };
        f(Reply {
            rank: a.rank,
            position: 2 * a.idx as u64 + later as u64,
            kind,
        });
    }
}

/// The furthest publish position each kind of non-success reply has reached: duplicate, in
/// process, other error.
type Furthest = [Option<u64>; 3];

/// Sweeps the replies in arrival order, keeping the furthest publish position each kind of
/// non-success reply has reached; a success ack behind it was overtaken. Done without a list
/// of the success acks: `others` sorted by rank with a running furthest position per kind, and
/// each success ack looks up what had arrived before it.
fn overtaken(h: &History, mut others: Vec<Reply>) -> Overtaken {
    let mut o = Overtaken::default();
    if others.is_empty() {
        return o;
    }
    others.sort_unstable_by_key(|w| w.rank);
    let mut furthest: Vec<Furthest> = Vec::with_capacity(others.len());
    let mut run: Furthest = [None; 3];
    for w in &others {
        let k = match w.kind {
            Some(Other::Duplicate) => 0,
            Some(Other::InProcess) => 1,
            _ => 2,
        };
        run[k] = run[k].max(Some(w.position));
        furthest.push(run);
    }
    let beyond = |f: Option<u64>, p: u64| f.is_some_and(|f| f > p);
    for_each_reply(h, |w| {
        if w.kind.is_some() || w.rank == NONE {
            return;
        }
        let before = others.partition_point(|x| x.rank < w.rank);
        let Some(f) = before.checked_sub(1).map(|i| furthest[i]) else {
            return;
        };
        let (d, ip, e) = (
            beyond(f[0], w.position),
            beyond(f[1], w.position),
            beyond(f[2], w.position),
        );
        o.by_duplicate += d as u64;
        o.by_in_process += ip as u64;
        o.by_error += e as u64;
        o.any += (d || ip || e) as u64;
    });
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::history::AttemptRecord;

    /// Messages 0..4 acked ok with wire ranks `ranks`; error replies `(idx, attempt, code, rank)`.
    fn history(ranks: &[u32], errors: &[(u32, u8, u32, u32)]) -> History {
        let mut h = History::new(vec![0; ranks.len()], 1);
        h.published = ranks.len() as u64;
        for (i, &r) in ranks.iter().enumerate() {
            h.record_send(i as u32, 1, 0);
            h.record_ack(i as u32, i as u64 + 1, false, r);
        }
        for &(idx, attempt, code, rank) in errors {
            h.attempt_log.push(AttemptRecord {
                idx,
                attempt,
                conn: 0,
                send_ns: 0,
                end_ns: 0,
                outcome: if code == DUPLICATE_IN_PROCESS {
                    Outcome::InProcess
                } else {
                    Outcome::Fail
                },
                error: "other",
                code,
                rank,
            });
        }
        h
    }

    #[test]
    fn acks_behind_a_later_messages_error_are_overtaken() {
        // The acks of messages 0..4 arrive at ranks 10, 11, 13, 14, 15. The repeat of message 1
        // is answered 10158 at rank 5, before all of them: it overtakes the acks of 0 and 1
        // (published before the repeat). Message 3's error arrives at rank 12: it overtakes
        // message 2's ack (rank 13), not 0's or 1's (already in).
        let h = history(
            &[10, 11, 13, 14, 15],
            &[(1, 2, 10158, 5), (3, 1, 10077, 12)],
        );
        let r = replies(&h);
        assert_eq!(r.ok, 5);
        assert_eq!(r.errors.get("10158"), Some(&1));
        assert_eq!(r.errors.get("10077"), Some(&1));
        assert_eq!(r.overtaken.by_in_process, 2, "{r:?}");
        // Message 2's ack (rank 13) came after message 3's error (rank 12).
        assert_eq!(r.overtaken.by_error, 1, "{r:?}");
        assert_eq!(r.overtaken.any, 3);
    }

    #[test]
    fn a_repeats_duplicate_ack_overtakes_the_originals_ack() {
        // Message 0's ack at rank 3; its repeat's duplicate ack at rank 2 (the dedup answer
        // comes at once, the original's ack after the commit).
        let mut h = history(&[3, 4], &[]);
        h.attempt_log.push(AttemptRecord {
            idx: 0,
            attempt: 0,
            conn: 0,
            send_ns: 0,
            end_ns: 0,
            outcome: Outcome::Duplicate,
            error: "",
            code: 0,
            rank: 2,
        });
        let r = replies(&h);
        assert_eq!((r.ok, r.duplicate), (2, 1));
        assert_eq!(r.overtaken.by_duplicate, 1, "{r:?}");
        assert_eq!(r.overtaken.any, 1);
    }

    #[test]
    fn replies_in_publish_order_overtake_nothing() {
        let h = history(&[1, 2, 3, 4], &[(3, 2, 10158, 5)]);
        let r = replies(&h);
        assert_eq!(r.overtaken, Overtaken::default());
        assert_eq!(r.errors.get("10158"), Some(&1));
    }

    /// The checker as first written (every reply on the wire in one list, sorted by rank): the
    /// reference the list-free sweep is held to.
    fn replies_as_first_written(h: &History) -> Replies {
        let mut r = Replies::default();
        let mut wire = Vec::new();
        let published = h.published as usize;
        for i in 0..published.min(h.planned()) {
            let rank = h.wire_rank(i);
            let kind = match h.outcome(i) {
                Outcome::Ok => None,
                Outcome::Duplicate => Some(Other::Duplicate),
                _ => continue,
            };
            match kind {
                None => r.ok += 1,
                Some(_) => r.duplicate += 1,
            }
            if rank != NONE {
                // The successful attempt: the first, or a retry that stands after it.
                let later = h.attempts(i) > 1;
                wire.push(Reply {
                    rank,
                    position: 2 * i as u64 + later as u64,
                    kind,
                });
            }
        }
        for a in &h.attempt_log {
            // A message's own acks are counted above, from the history's columns; a deliberate
            // repeat's (attempt 0) are its own replies.
            let repeat = a.attempt == 0;
            let success = match a.outcome {
                Outcome::Ok | Outcome::Duplicate if !repeat => continue,
                Outcome::Ok => Some(None),
                Outcome::Duplicate => Some(Some(Other::Duplicate)),
                _ => None,
            };
            if let Some(kind) = success {
                match kind {
                    None => r.ok += 1,
                    Some(_) => r.duplicate += 1,
                }
                if a.rank != NONE {
                    wire.push(Reply {
                        rank: a.rank,
                        position: 2 * a.idx as u64 + 1,
                        kind,
                    });
                }
                continue;
            }
            if a.code == 0 {
                if a.outcome == Outcome::Unknown {
                    r.timed_out += 1;
                } else {
                    r.no_reply += 1;
                }
                continue;
            }
            *r.errors.entry(a.code.to_string()).or_default() += 1;
            if a.rank != NONE {
                let kind = if a.code == DUPLICATE_IN_PROCESS {
                    Other::InProcess
                } else {
                    Other::Error
                };
                wire.push(Reply {
                    rank: a.rank,
                    position: 2 * a.idx as u64 + (a.attempt != 1) as u64,
                    kind: Some(kind),
                });
            }
        }
        r.overtaken = overtaken_by_sorting_all(wire);
        r
    }

    /// Sweeps the replies in arrival order, keeping the furthest publish position each kind of
    /// non-success reply has reached; a success ack behind it was overtaken.
    fn overtaken_by_sorting_all(mut wire: Vec<Reply>) -> Overtaken {
        wire.sort_unstable_by_key(|w| w.rank);
        let (mut dup, mut in_process, mut error) = (None::<u64>, None::<u64>, None::<u64>);
        let mut o = Overtaken::default();
        let beyond = |furthest: Option<u64>, p: u64| furthest.is_some_and(|f| f > p);
        for w in wire {
            match w.kind {
                Some(Other::Duplicate) => dup = dup.max(Some(w.position)),
                Some(Other::InProcess) => in_process = in_process.max(Some(w.position)),
                Some(Other::Error) => error = error.max(Some(w.position)),
                None => {
                    let (d, ip, e) = (
                        beyond(dup, w.position),
                        beyond(in_process, w.position),
                        beyond(error, w.position),
                    );
                    o.by_duplicate += d as u64;
                    o.by_in_process += ip as u64;
                    o.by_error += e as u64;
                    o.any += (d || ip || e) as u64;
                }
            }
        }
        o
    }

    #[test]
    fn the_sweep_without_a_list_of_acks_matches_sorting_every_reply() {
        // Random histories: acks, duplicate acks, failures, timeouts, repeats and retries, each
        // reply at a distinct wire rank (as the wire tap hands them out), some with none.
        // Would fail if the per-kind running maxima or the rank lookup were off by one.
        use rand::{seq::SliceRandom, Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(24);
        for _ in 0..200 {
            let n = rng.random_range(1..40u32);
            let extra = rng.random_range(0..20u32);
            let mut ranks: Vec<u32> = (0..n + extra).collect();
            ranks.shuffle(&mut rng);
            let mut h = History::new(vec![0; n as usize], 1);
            h.published = n as u64;
            for i in 0..n {
                h.record_send(i, rng.random_range(1..3), 0);
                match rng.random_range(0..4) {
                    0 => h.record_failure(i, Outcome::Fail, "other"),
                    k => h.record_ack(i, i as u64 + 1, k == 1, ranks[i as usize]),
                }
            }
            for j in 0..extra {
                let outcome = [
                    Outcome::Ok,
                    Outcome::Duplicate,
                    Outcome::Fail,
                    Outcome::Unknown,
                ][rng.random_range(0..4)];
                let code = [0, 10158, 10077][rng.random_range(0..3)];
                h.attempt_log.push(AttemptRecord {
                    idx: rng.random_range(0..n),
                    attempt: rng.random_range(0..3),
                    conn: 0,
                    send_ns: 0,
                    end_ns: 0,
                    outcome,
                    error: "other",
                    code,
                    rank: if rng.random_bool(0.8) {
                        ranks[(n + j) as usize]
                    } else {
                        NONE
                    },
                });
            }
            assert_eq!(replies(&h), replies_as_first_written(&h));
        }
    }
}
