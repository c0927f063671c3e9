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
