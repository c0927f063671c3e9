//! The history's columns and orders on hand-made histories.

use super::*;

#[test]
fn records_and_orders() {
    let mut h = History::new(vec![0, 1, 0, 1], 2);
    h.published = 4;
    h.record_ack(2, 3, false, 0);
    h.record_ack(0, 1, false, 1);
    h.record_failure(1, Outcome::Unknown, "timed out");
    h.record_ack(3, 2, false, 2);
    assert_eq!(h.completion.as_slice(), Some(&[2, 0, 3][..]));
    assert_eq!(h.wire_order(), vec![2, 0, 3]);
    assert_eq!(h.ack_storage_order(), vec![0, 3, 2]);
    let c = h.outcome_counts();
    assert_eq!((c.ok, c.unknown, c.failed), (3, 1, 0));
    assert_eq!(h.errors["timed out"], 1);
}

#[test]
fn sent_order_moves_a_retried_message_behind_later_sends() {
    let mut h = History::new(vec![0, 0, 0], 1).timed();
    assert_eq!(h.sent_order(), Some(vec![]));
    h.published = 3;
    for (i, t) in [(0, 10), (1, 20), (2, 30)] {
        h.record_send(i, 1, t);
    }
    assert_eq!(h.sent_order(), Some(vec![0, 1, 2]));
    // Message 0's second attempt went out after message 2.
    h.attempt_log.push(AttemptRecord {
        idx: 0,
        attempt: 2,
        conn: 0,
        send_ns: 40,
        end_ns: 50,
        outcome: Outcome::Ok,
        error: "",
        code: 0,
        rank: NONE,
    });
    assert_eq!(h.sent_order(), Some(vec![1, 2, 0]));
    let mut untimed = History::new(vec![0, 0], 1);
    untimed.published = 2;
    untimed.record_send(0, 1, 5);
    untimed.record_send(1, 1, 6);
    assert_eq!(untimed.sent_order(), Some(vec![0, 1]));
    untimed.attempt_log.push(h.attempt_log[0]);
    assert_eq!(untimed.sent_order(), None);
}

#[test]
fn orders_built_into_a_reused_buffer_are_the_same_orders() {
    let mut h = History::new(vec![0, 1, 0, 1], 2).timed();
    h.published = 4;
    for (i, t) in [(0, 10), (1, 20), (2, 30), (3, 40)] {
        h.record_send(i, 1, t);
    }
    h.record_ack(3, 1, false, 0);
    h.record_ack(1, 3, false, 2);
    h.record_ack(0, 2, false, 1);
    // Message 1 was sent twice more, the log out of time order: its latest send (50)
    // places it, not the last record's (45). Would fail if a later record overwrote.
    let retry = |attempt, send_ns| AttemptRecord {
        idx: 1,
        attempt,
        conn: 0,
        send_ns,
        end_ns: 0,
        outcome: Outcome::Unknown,
        error: "timed_out",
        code: 0,
        rank: NONE,
    };
    h.attempt_log.extend([retry(3, 50), retry(2, 45)]);
    let mut buf = vec![9; 7];
    assert!(h.sent_order_into(&mut buf));
    assert_eq!(buf, [0, 2, 3, 1]);
    h.wire_order_into(&mut buf);
    assert_eq!(buf, [3, 0, 1]);
    h.ack_storage_order_into(&mut buf);
    assert_eq!(buf, [3, 0, 1]);
    assert_eq!(h.sent_order(), Some(vec![0, 2, 3, 1]));
    // Untimed and resent: unknown, and the buffer says nothing.
    let mut untimed = History::new(vec![0, 0], 1);
    untimed.published = 2;
    untimed.attempt_log.push(retry(2, 5));
    assert!(!untimed.sent_order_into(&mut buf));
    assert!(buf.is_empty());
}

#[test]
fn sequences_beyond_four_bytes_are_kept_whole() {
    let mut h = History::new(vec![0, 0, 0], 1);
    h.published = 3;
    let big = u32::MAX as u64 + 7;
    h.record_ack(0, big, false, 0);
    h.record_ack(1, u32::MAX as u64, false, 1);
    h.record_ack(2, 5, false, 2);
    assert_eq!(
        (h.ack_seq(0), h.ack_seq(1), h.ack_seq(2)),
        (big, u32::MAX as u64, 5)
    );
    assert_eq!(h.ack_storage_order(), vec![2, 1, 0]);
    // Set again to a small one: the big one is gone.
    h.set_ack_seq(0, 9);
    assert_eq!(h.ack_seq(0), 9);
    assert!(h.big_seqs.is_empty() || !h.big_seqs.contains_key(&0));
}

#[test]
fn kinds_are_interned_once_and_bounded() {
    let a = intern_kind("adapter_kind_x");
    let b = intern_kind(&String::from("adapter_kind_x"));
    assert!(std::ptr::eq(a, b));
    for i in 0..MAX_KINDS + 10 {
        let k = intern_kind(&format!("k{i}"));
        assert!(k == format!("k{i}") || k == OTHER_KIND);
    }
    assert_eq!(intern_kind("one_more_beyond_the_bound"), OTHER_KIND);
}

#[test]
fn unresolved_is_its_own_outcome() {
    let mut h = History::new(vec![0, 0], 1);
    h.published = 2;
    h.record_failure(1, Outcome::Unresolved, "unresolved");
    assert_eq!(h.outcome(1).as_str(), "unresolved");
    let c = h.outcome_counts();
    assert_eq!((c.unresolved, c.in_flight), (1, 1));
}

/// A history spooled to disk (a long run's) answers as one in memory after the same records,
/// grown past its first capacity, with acks behind the front and sequences beyond 4 B.
#[test]
fn a_history_on_disk_answers_as_one_in_memory() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(24);
    let n = 300_000u32;
    let keys: Vec<u32> = (0..n).map(|_| rng.random_range(0..7)).collect();
    let mut mem = History::new(keys.clone(), 7).timed();
    let (disk, error) = History::on_disk(Keys::new(keys), 7, 1000);
    assert!(error.is_none(), "{error:?}");
    let mut disk = disk.timed();
    assert!(disk.is_spooled() && !mem.is_spooled());
    assert!(disk.first_send_ns.is_on_disk() && disk.completion.as_slice().is_none());
    let more: Vec<u32> = (0..n / 2).map(|i| i % 7).collect();
    let (mut rank, mut seq) = (0u32, 1u64 << 31);
    for h in [&mut mem, &mut disk] {
        h.extend_keys(&more);
    }
    for i in 0..(n + n / 2) {
        let attempt = 1 + (rng.random_range(0..10u8) == 0) as u8;
        // The ack of a message up to 4,000 behind the front.
        let back = i.saturating_sub(rng.random_range(0..4000));
        let what = rng.random_range(0..6u8);
        seq += 1 + (what == 5) as u64 * (1 << 32);
        rank += 1;
        for h in [&mut mem, &mut disk] {
            h.record_send(i, attempt, 10 * i as u64 + 1);
            h.published = i as u64 + 1;
            match what {
                0 => h.record_failure(back, Outcome::Unknown, "timed out"),
                1 => h.set_outcome(back as usize, Outcome::Fail),
                _ if h.outcome(back as usize) == Outcome::NotSent => {
                    h.record_ack(back, seq, what == 2, rank);
                    h.record_ack_time(back, 10 * i as u64 + 5);
                }
                _ => {}
            }
        }
    }
    assert_eq!(mem.outcome_counts(), disk.outcome_counts());
    assert_eq!(
        (mem.retried(), mem.total_attempts()),
        (disk.retried(), disk.total_attempts())
    );
    for i in 0..mem.planned() {
        assert_eq!(mem.outcome(i), disk.outcome(i), "outcome {i}");
        assert_eq!(mem.ack_seq(i), disk.ack_seq(i), "seq {i}");
        assert_eq!(mem.wire_rank(i), disk.wire_rank(i), "rank {i}");
        assert_eq!(mem.attempts(i), disk.attempts(i), "attempts {i}");
        assert_eq!(mem.sent_at(i), disk.sent_at(i), "sent {i}");
        assert_eq!(mem.acked_at(i), disk.acked_at(i), "acked {i}");
    }
    assert_eq!(mem.wire_order(), disk.wire_order());
    assert_eq!(mem.sent_order(), disk.sent_order());
    assert_eq!(mem.ack_storage_order(), disk.ack_storage_order());
    assert!(mem.completion.iter().eq(disk.completion.iter()));
    assert!(mem.attempts_sent().eq(disk.attempts_sent()));
}
