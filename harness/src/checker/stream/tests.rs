//! The streaming checkers against the end-of-run ones: random histories and read-backs from
//! fixed seeds (every outcome, duplicates, reorders within and across keys, unexpected copies,
//! indexes beyond the published and the planned messages, retries, error kinds, ack sequences
//! that match or not), every field compared; and small cases written by hand.

use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::reference::divergence;
use super::*;
use crate::checker::testkit::retried_history;
use crate::checker::{per_message, retry_figures, safety, Safety};
use crate::record::history::{AttemptRecord, History, Outcome, ReadBack, NONE};
use crate::record::stored::CopySink;

const OUTCOMES: [Outcome; 9] = [
    Outcome::NotSent,
    Outcome::Ok,
    Outcome::Duplicate,
    Outcome::Fail,
    Outcome::Unknown,
    Outcome::InFlight,
    Outcome::InProcess,
    Outcome::Rejected,
    Outcome::Unresolved,
];
const KINDS: [&str; 4] = [
    "timed_out",
    "no_responders",
    "disconnected",
    "wrong_last_sequence",
];

/// A run as the end-of-run checkers see it, and the same stream as the follower reads it:
/// `feed` holds each copy, and `None` where a foreign message was read.
struct Case {
    h: History,
    rb: ReadBack,
    feed: Vec<Option<StoredCopy>>,
}

impl Case {
    fn copies(&self) -> impl Iterator<Item = StoredCopy> + '_ {
        self.feed.iter().flatten().copied()
    }
}

/// A random history of up to `max_planned` messages with random outcomes, attempts and an
/// attempt log (also naming messages never published or planned).
fn random_history(rng: &mut ChaCha8Rng, max_planned: usize) -> History {
    let planned = rng.random_range(0..=max_planned);
    let num_keys = rng.random_range(1..6u32);
    let keys = (0..planned)
        .map(|_| rng.random_range(0..num_keys))
        .collect();
    let mut h = History::new(keys, num_keys);
    h.published = if rng.random_bool(0.5) {
        planned as u64
    } else {
        rng.random_range(0..=planned as u64)
    };
    for i in 0..planned {
        // Beyond the published ones too: the checkers must not look at them.
        h.set_outcome(i, *OUTCOMES.choose(rng).unwrap());
        h.set_attempts(i, rng.random_range(0..4));
    }
    for _ in 0..rng.random_range(0..planned + 2) {
        let outcome = *OUTCOMES.choose(rng).unwrap();
        h.attempt_log.push(AttemptRecord {
            idx: rng.random_range(0..planned as u32 + 3),
            attempt: rng.random_range(0..4),
            conn: 0,
            send_ns: 1,
            end_ns: 2,
            outcome,
            error: if outcome.is_acked() {
                ""
            } else {
                KINDS.choose(rng).unwrap()
            },
            code: 0,
            rank: NONE,
        });
    }
    h
}

/// The stream of `h`'s run: random messages stored once or more from random attempts, in
/// publish order disturbed by near and far moves, plus copies of unpublished and unplanned
/// indexes and foreign messages; each acked message's ack sequence names one of its copies or
/// not.
fn random_case(rng: &mut ChaCha8Rng, max_planned: usize) -> Case {
    let mut h = random_history(rng, max_planned);
    let planned = h.planned() as u32;
    let mut idxs: Vec<u32> = Vec::new();
    for i in 0..h.published as u32 {
        if rng.random_bool(0.8) {
            idxs.push(i);
            if rng.random_bool(0.1) {
                idxs.push(i);
            }
        }
    }
    for _ in 0..rng.random_range(0..3) {
        // Not published (planned, or not even that; now and then far beyond).
        let far = if rng.random_bool(0.2) { 300_000 } else { 5 };
        idxs.push(rng.random_range(h.published as u32..planned + far));
    }
    idxs.sort_unstable();
    for _ in 0..rng.random_range(0..idxs.len() + 1) {
        let a = rng.random_range(0..idxs.len());
        let reach = if rng.random_bool(0.8) { 3 } else { idxs.len() };
        let b = (a + rng.random_range(0..reach)).min(idxs.len() - 1);
        idxs.swap(a, b);
    }
    let mut seq = 0u64;
    let mut feed = Vec::new();
    let mut rb = ReadBack {
        complete: rng.random_bool(0.7),
        ..Default::default()
    };
    for idx in idxs {
        while rng.random_bool(0.05) {
            feed.push(None);
            rb.unexpected += 1;
        }
        seq += rng.random_range(1..3);
        let key = match h.keys.try_get(idx as usize) {
            Some(k) => k,
            None => rng.random_range(0..h.num_keys),
        };
        let attempt = rng.random_range(1..4);
        feed.push(Some(StoredCopy {
            idx,
            key,
            attempt,
            seq,
        }));
        rb.order.push(idx);
        rb.seqs.push(seq);
        rb.attempts.push(attempt);
    }
    set_ack_seqs(rng, &mut h, &rb);
    Case { h, rb, feed }
}

/// Each acked message's ack names the sequence of one of its copies, or (now and then, or when
/// it has none) another.
fn set_ack_seqs(rng: &mut ChaCha8Rng, h: &mut History, rb: &ReadBack) {
    for (&idx, &seq) in rb.order.iter().zip(&rb.seqs) {
        let i = idx as usize;
        if i < h.planned() && (h.ack_seq(i) == 0 || rng.random_bool(0.3)) {
            h.set_ack_seq(i, seq);
        }
    }
    for i in 0..h.planned() {
        if h.ack_seq(i) == 0 || rng.random_bool(0.1) {
            h.set_ack_seq(i, rng.random_range(1..1000));
        }
    }
}

/// What the end-of-run checkers say of the case, as [`StreamFigures`].
fn end_of_run(c: &Case) -> StreamFigures {
    let pm = per_message(&c.h, &c.rb);
    let r = retry_figures(&c.h, Some((&c.rb, &pm)));
    StreamFigures {
        storage: divergence(&c.rb.order, &c.h.keys, c.h.num_keys),
        safety: safety(&c.h, &c.rb),
        stored_from_retries: r.stored_from_retries.unwrap(),
        retry_reorders: r.retry_reorders.unwrap(),
        retry_keys_affected: r.keys_affected.unwrap(),
        read: c.rb.order.len() as u64 + c.rb.unexpected,
        key_mismatches: 0,
    }
}

/// Feeds the case to a fresh checker as a follower would.
fn fed(c: &Case, limit: u64) -> StoreStream {
    let mut s = StoreStream::new(c.h.num_keys, limit);
    for item in &c.feed {
        match item {
            Some(copy) => s.copy(copy),
            None => s.unexpected(),
        }
    }
    s
}

fn streamed(c: &Case, limit: u64) -> Result<StreamFigures, StreamError> {
    fed(c, limit).finish(&c.h, c.copies(), c.rb.complete)
}

#[test]
fn store_stream_gives_exactly_the_end_of_run_figures_on_random_runs() {
    let mut rng = ChaCha8Rng::seed_from_u64(2024);
    let mut seen_fields = Safety::default();
    for round in 0..1500 {
        let c = random_case(&mut rng, if round % 100 == 0 { 3000 } else { 60 });
        // Unbounded (a duration-bound run), or the planned count (a count-bound one).
        let limit = if round % 2 == 0 {
            u64::MAX
        } else {
            c.h.planned() as u64
        };
        let want = end_of_run(&c);
        let got = streamed(&c, limit).unwrap();
        assert_eq!(got, want, "round {round}: order {:?}", c.rb.order);
        fold_nonzero(&mut seen_fields, &got.safety);
    }
    // The random runs exercised every safety field (else equality proves little about it).
    let json = serde_json::to_value(&seen_fields).unwrap();
    for (field, v) in json.as_object().unwrap() {
        assert_ne!(v, &serde_json::json!(0), "{field} never non-zero");
        assert_ne!(v, &serde_json::json!({}), "{field} never non-empty");
    }
}

/// Marks in `acc` every field of `s` that is not 0 (1 there).
fn fold_nonzero(acc: &mut Safety, s: &Safety) {
    let mut a = serde_json::to_value(&*acc).unwrap();
    let b = serde_json::to_value(s).unwrap();
    for (k, v) in b.as_object().unwrap() {
        if v != &serde_json::json!(0) && v != &serde_json::json!({}) {
            a[k] = if v.is_object() { v.clone() } else { 1.into() };
        }
    }
    *acc = serde_json::from_value(a).unwrap();
}

#[test]
fn order_stream_gives_exactly_divergence_on_random_orders() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for round in 0..800 {
        let (order, keys) = if round % 100 == 0 {
            // Long enough to span several chunks of the seen set: publish order disturbed.
            let n = rng.random_range(100_000..200_000u32);
            let mut order: Vec<u32> = (0..n).collect();
            for _ in 0..n / 10 {
                let a = rng.random_range(0..n as usize);
                let b = if rng.random_bool(0.9) {
                    (a + 5).min(n as usize - 1)
                } else {
                    rng.random_range(0..n as usize)
                };
                order.swap(a, b);
            }
            order.truncate(rng.random_range(n as usize / 2..n as usize));
            (
                order,
                (0..n).map(|_| rng.random_range(0..5)).collect::<Vec<u32>>(),
            )
        } else {
            let n = rng.random_range(0..80usize);
            let len = rng.random_range(0..2 * n + 2);
            let order: Vec<u32> = (0..len)
                .map(|_| rng.random_range(0..n as u32 + 3))
                .collect();
            (order, (0..n).map(|_| rng.random_range(0..5)).collect())
        };
        let n = keys.len();
        let mut s = OrderStream::new(5, n as u64);
        for &idx in &order {
            s.push(idx, keys.get(idx as usize).copied().unwrap_or(0));
        }
        let got = s.finish(order.iter().copied()).unwrap();
        assert_eq!(got, divergence(&order, &keys, 5), "order {order:?}");
    }
}

#[test]
fn a_retried_run_by_hand() {
    // Message 2's retry stored after message 4 of its key; message 1 stored twice.
    let (h, rb) = retried_history();
    let c = Case {
        feed: (0..rb.order.len())
            .map(|p| {
                let idx = rb.order[p];
                let key = h.keys.get(idx as usize);
                let (attempt, seq) = (rb.attempts[p], rb.seqs[p]);
                Some(StoredCopy {
                    idx,
                    key,
                    attempt,
                    seq,
                })
            })
            .collect(),
        h,
        rb,
    };
    let got = streamed(&c, u64::MAX).unwrap();
    assert_eq!(got, end_of_run(&c));
    assert_eq!((got.stored_from_retries, got.retry_reorders), (2, 1));
    assert_eq!(got.retry_keys_affected, 1);
    assert_eq!((got.safety.stored, got.safety.duplicates), (5, 1));
    assert_eq!((got.storage.late, got.storage.late_per_key), (1, 1));
    assert_eq!(got.read, 6);
}

fn copy(idx: u32, key: u32, attempt: u8, seq: u64) -> StoredCopy {
    StoredCopy {
        idx,
        key,
        attempt,
        seq,
    }
}

/// Four messages on keys 0, 1, 0, 1, all acked at sequences 1–4.
fn acked_four() -> History {
    let mut h = History::new(vec![0, 1, 0, 1], 2);
    h.published = 4;
    for i in 0..4 {
        h.record_ack(i, i as u64 + 1, false, i);
    }
    h
}

#[test]
fn the_drawn_key_decides_the_figures_and_a_stored_key_that_differs_is_counted() {
    let h = acked_four();
    // Message 0 stored last, its copy claiming key 1 (the drawn key is 0).
    let copies = [
        copy(1, 1, 1, 2),
        copy(2, 0, 1, 3),
        copy(3, 1, 1, 4),
        copy(0, 1, 1, 1),
    ];
    let mut s = StoreStream::new(2, u64::MAX);
    copies.iter().for_each(|c| s.copy(c));
    // Live, by the copy's key: 0 is late behind 3 of "key 1".
    assert_eq!(s.so_far().late_per_key, 1);
    let got = s.finish(&h, copies, true).unwrap();
    // Final, by the drawn key: 0 is late behind 2 of key 0, as divergence says.
    let want = divergence(&[1, 2, 3, 0], &h.keys, 2);
    assert_eq!(got.storage, want);
    assert_eq!((want.late_per_key, want.keys_affected), (1, 1));
    assert_eq!(got.key_mismatches, 1);
}

#[test]
fn live_figures_count_as_copies_come() {
    let mut s = StoreStream::new(2, u64::MAX);
    let live = s.live();
    for c in [
        copy(1, 1, 1, 1),
        copy(0, 0, 1, 2),
        copy(1, 1, 2, 3),
        copy(3, 1, 1, 4),
    ] {
        s.copy(&c);
    }
    s.unexpected();
    let want = StoreSoFar {
        read: 5,
        duplicates: 1,
        late: 1,
        late_per_key: 0,
    };
    assert_eq!(s.so_far(), want);
    assert_eq!(live.so_far(), want);
}

#[test]
fn a_tracked_copy_beyond_the_planned_messages_leaves_the_order_figures() {
    // An unbounded checker tracks 9 (unknown then whether it is planned); the run planned 4.
    // Live it makes 0..3 late; the final figures are divergence's, which skips it.
    let h = acked_four();
    let copies = [
        copy(9, 0, 1, 1),
        copy(0, 0, 1, 2),
        copy(1, 1, 1, 3),
        copy(3, 1, 1, 4),
    ];
    let mut s = StoreStream::new(2, u64::MAX);
    copies.iter().for_each(|c| s.copy(c));
    assert_eq!(s.so_far().late, 3);
    let got = s.finish(&h, copies, true).unwrap();
    assert_eq!(got.storage, divergence(&[9, 0, 1, 3], &h.keys, 2));
    assert_eq!((got.storage.late, got.storage.messages), (0, 3));
    assert_eq!(got.safety.unexpected, 1);
    // Message 2 lost between stored ones; 0 and 1 stored at other sequences than acked.
    assert_eq!((got.safety.lost, got.safety.lost_middle), (1, 1));
    assert_eq!(got.safety.ack_seq_mismatches, 2);
}

#[test]
fn a_planned_message_beyond_the_limit_is_an_error() {
    let h = acked_four();
    let copies = [copy(0, 0, 1, 1), copy(3, 1, 1, 4)];
    let mut s = StoreStream::new(2, 2);
    copies.iter().for_each(|c| s.copy(c));
    let err = s.finish(&h, copies, true).unwrap_err();
    assert_eq!(
        err,
        StreamError::BeyondLimit {
            idx: 3,
            limit: 2,
            planned: 4
        }
    );
}

#[test]
fn a_replay_that_is_not_what_was_fed_is_an_error() {
    let h = acked_four();
    let copies = [copy(0, 0, 1, 1), copy(1, 1, 1, 2), copy(2, 0, 1, 3)];
    let fresh = || {
        let mut s = StoreStream::new(2, u64::MAX);
        copies.iter().for_each(|c| s.copy(c));
        s
    };
    let short = fresh().finish(&h, copies[..2].iter().copied(), true);
    assert_eq!(
        short.unwrap_err(),
        StreamError::Replay {
            fed: 3,
            replayed: 2
        }
    );
    // The same count, one sequence different; and two copies swapped.
    let mut other = copies;
    other[1].seq = 7;
    assert!(fresh().finish(&h, other, true).is_err());
    let swapped = [copies[1], copies[0], copies[2]];
    assert!(fresh().finish(&h, swapped, true).is_err());
    assert!(fresh().finish(&h, copies, true).is_ok());
    // The order checker alone too.
    let mut o = OrderStream::new(1, u64::MAX);
    for i in [0, 2, 1] {
        o.push(i, 0);
    }
    assert!(matches!(
        o.finish([0, 1, 2]),
        Err(StreamError::Replay { .. })
    ));
}

#[test]
fn an_incomplete_stream_compares_no_ack_sequences() {
    let h = acked_four();
    let copies = [copy(0, 0, 1, 9), copy(1, 1, 1, 2)];
    let run = |complete| {
        let mut s = StoreStream::new(2, u64::MAX);
        copies.iter().for_each(|c| s.copy(c));
        s.finish(&h, copies, complete)
            .unwrap()
            .safety
            .ack_seq_mismatches
    };
    assert_eq!((run(true), run(false)), (1, 0));
}
