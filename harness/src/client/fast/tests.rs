//! The fast-ingest protocol replayed on recorded server replies, without a socket.
//!
//! Every reply below (subject and payload, byte for byte) was sent by nats-server 2.15.1
//! (`-js`, memory stream `FAST` on `fast.>` with `allow_batched`, and `PLAIN` without it) to a
//! raw protocol client that sent the messages each batch's comment lists, with the reply subjects
//! [`ReplyPrefix`] builds (`<inbox>.<flow>.<gap>.<seq>.<op>.$FI`, the inbox's last token being
//! the batch id). The batches went to a fresh stream in this order, so their stream sequences
//! follow on from one another. A message "lost" on the way was simply not sent.

use super::recorded::*;
use super::*;
use crate::record::history::{FastFigures, Outcome};
use crate::scenario::GapMode;

/// The replies arrive 1000 ns apart from `at_ns`.
fn replay(s: &mut Session, replies: &[Recorded], at_ns: u64) {
    for (i, (subject, payload)) in replies.iter().enumerate() {
        let reply = read_reply(subject, None, payload.as_bytes());
        s.on_reply(reply, at_ns + 1000 * i as u64);
    }
}

/// Sends data messages up to `to` (the session's view: what went out, not what arrived).
fn send_through(s: &mut Session, to: u64) {
    while s.sent() < to {
        let (seq, _) = s.next();
        s.on_sent(seq);
    }
}

/// Each message's verdict, from 1 to `n`, as the phase records it.
fn verdicts(sum: &FastSummary, why: Option<&FastError>, n: u64) -> Vec<MsgEnd> {
    let mut cursor = 0;
    (1..=n)
        .map(|i| {
            let (v, next) = sum.verdict(why, i, cursor, 1);
            cursor = next;
            v
        })
        .collect()
}

fn seq_of(v: MsgEnd) -> Option<u64> {
    match v {
        MsgEnd::Acked { seq, .. } => Some(seq),
        MsgEnd::Failed(..) => None,
    }
}

#[test]
fn reply_subjects_are_built_and_read_as_the_server_echoes_them() {
    let p = ReplyPrefix::new("_INBOX.cap1flow", 2, GapMode::Fail);
    assert_eq!(p.subject(1, Op::Start).as_str(), FLOW[0].0);
    assert_eq!(p.subject(8, Op::EndOfBatch).as_str(), FLOW_FINAL.0);
    let p = ReplyPrefix::new("_INBOX.cap3gapok", 2, GapMode::Ok);
    assert_eq!(p.subject(7, Op::EndOfBatch).as_str(), GAP_OK[5].0);
    assert_eq!(parse_subject(FLOW[2].0), Some((4, Op::Append)));
    assert_eq!(parse_subject(PING[1].0), Some((5, Op::Ping)));
    assert_eq!(parse_subject(COMMIT.0), Some((3, Op::Commit)));
    assert_eq!(parse_subject("x"), None);
    assert_eq!(parse_subject("_INBOX.a.2.fail.x.1.$FI"), None);
    assert_eq!(parse_subject("_INBOX.a.2.fail.1.9.$FI"), None);
}

#[test]
fn every_recorded_shape_is_read() {
    let read = |r: Recorded| read_reply(r.0, None, r.1.as_bytes());
    assert_eq!(
        read(FLOW[1]),
        Reply::FlowAck {
            seq: 2,
            msgs: Some(2)
        }
    );
    assert_eq!(
        read(GAP_OK[2]),
        Reply::Gap {
            first_missing: 3,
            next_received: 5
        }
    );
    let Reply::Rejected { seq: 3, error } = read(ERR_OK[2]) else {
        panic!("{:?}", read(ERR_OK[2]));
    };
    assert_eq!(
        (error.code, error.err_code, error.description.as_str()),
        (400, 10071, "wrong last sequence: 20")
    );
    assert_eq!(
        read(FLOW_FINAL),
        Reply::PubAck {
            stream_seq: 7,
            count: 7
        }
    );
    assert_eq!(
        read(COMMIT),
        Reply::PubAck {
            stream_seq: 29,
            count: 3
        }
    );
    let Reply::Error {
        seq: 8,
        op: Some(Op::EndOfBatch),
        error,
    } = read(FLOW_AFTER_END[0])
    else {
        panic!("{:?}", read(FLOW_AFTER_END[0]));
    };
    assert_eq!(error.err_code, codes::UNKNOWN_BATCH);
    let no_stream = read_reply(
        NO_STREAM_SUBJECT,
        Some(async_nats::StatusCode::NO_RESPONDERS),
        b"",
    );
    assert_eq!(no_stream, Reply::NoResponders);
    // What the server never sends does not panic either.
    assert!(matches!(
        read_reply(NO_STREAM_SUBJECT, None, b""),
        Reply::Unreadable(_)
    ));
    assert!(matches!(
        read_reply(NO_STREAM_SUBJECT, None, br#"{"type":"nak"}"#),
        Reply::Unreadable(_)
    ));
    assert!(matches!(
        read_reply(NO_STREAM_SUBJECT, None, br#"{"seq":1}"#),
        Reply::Unreadable(_)
    ));
}

#[test]
fn flow_acks_pace_the_batch_and_the_final_ack_ends_it() {
    let mut s = Session::new(2, 2, GapMode::Fail);
    send_through(&mut s, 1);
    assert_eq!(s.started(), None, "the start reply is awaited");
    replay(&mut s, &FLOW[..1], 100);
    assert_eq!(s.started(), Some(Ok(())));
    // Flow 2 with 2 outstanding: the fourth unacked message waits for the next flow ack.
    send_through(&mut s, 4);
    assert!(s.must_wait());
    assert_eq!(s.ping(), (4, Op::Ping));
    replay(&mut s, &FLOW[1..2], 200);
    assert!(!s.must_wait());
    send_through(&mut s, 7);
    replay(&mut s, &FLOW[2..], 300);
    assert_eq!(s.acked(), 6);
    assert_eq!(s.dead(), None);
    assert_eq!(s.end_step(), EndStep::SendEnd);
    assert_eq!(s.end(), (8, Op::EndOfBatch));
    replay(&mut s, &[FLOW_FINAL], 900);
    assert!(s.has_ended());
    assert_eq!(s.dead(), Some(&FastError::Ended));
    // A second end of batch, and a message sent after the end, are refused as unknown: they
    // are not part of the batch, which ended well.
    replay(&mut s, FLOW_AFTER_END, 1000);
    assert_eq!(s.end_step(), EndStep::Done(Ok(())));
    let sum = s.summary();
    assert_eq!(sum.errors.len(), 2);
    let v = verdicts(&sum, None, 7);
    assert_eq!(
        v.iter().map(|m| seq_of(*m)).collect::<Vec<_>>(),
        (1..=7).map(Some).collect::<Vec<_>>(),
        "stream seqs counted back from the final ack"
    );
    // Acked when the first flow ack covering it came; 7 only by the final ack.
    assert_eq!(v[0], MsgEnd::Acked { seq: 1, at_ns: 200 });
    assert_eq!(
        v[4],
        MsgEnd::Acked {
            seq: 5,
            at_ns: 1300
        }
    );
    assert_eq!(v[6], MsgEnd::Acked { seq: 7, at_ns: 900 });
    let mut f = FastFigures::default();
    sum.add_to(&mut f);
    assert_eq!((f.batches, f.flow_acks, f.final_flow), (1, 3, 2));
    assert_eq!((f.gaps_reported, f.errors_reported), (0, 2));
}

#[test]
fn a_ping_gets_the_latest_flow_ack_or_the_gap_it_finds() {
    let mut s = Session::new(100, 2, GapMode::Fail);
    send_through(&mut s, 1);
    replay(&mut s, &PING[..1], 0);
    assert_eq!(s.started(), Some(Ok(())));
    send_through(&mut s, 5);
    let p = ReplyPrefix::new("_INBOX.cap2ping", 100, GapMode::Fail);
    let (seq, op) = s.ping();
    assert_eq!(p.subject(seq, op).as_str(), PING[1].0);
    replay(&mut s, &PING[1..], 100);
    assert_eq!((s.acked(), s.dead()), (0, None), "nothing missing yet");
    // 6 and 7 are lost on the way; the ping at 7 finds them missing and the batch ends at 5.
    send_through(&mut s, 7);
    let (seq, op) = s.ping();
    assert_eq!(p.subject(seq, op).as_str(), PING_GAP[0].0);
    replay(&mut s, PING_GAP, 200);
    assert_eq!(
        s.dead(),
        Some(&FastError::GapEnded {
            first_missing: 6,
            next_received: 8
        })
    );
    assert_eq!(s.end_step(), EndStep::Done(Ok(())));
    let sum = s.summary();
    let v = verdicts(&sum, None, 7);
    assert_eq!(
        v[..5].iter().map(|m| seq_of(*m)).collect::<Vec<_>>(),
        (8..=12).map(Some).collect::<Vec<_>>()
    );
    assert_eq!(v[5], MsgEnd::Failed(Outcome::Fail, "fast_gap", 0));
    assert_eq!(v[6], MsgEnd::Failed(Outcome::Fail, "fast_gap", 0));
}

#[test]
fn gap_mode_ok_reports_the_gap_and_goes_on() {
    let mut s = Session::new(2, 2, GapMode::Ok);
    send_through(&mut s, 6);
    replay(&mut s, &GAP_OK[..5], 0);
    assert_eq!(s.dead(), None, "gap ok: the batch goes on");
    assert_eq!(s.end_step(), EndStep::SendEnd);
    replay(&mut s, &GAP_OK[5..], 900);
    assert_eq!(s.end_step(), EndStep::Done(Ok(())));
    let sum = s.summary();
    assert_eq!(
        (sum.fate(2), sum.fate(3), sum.fate(4), sum.fate(5)),
        (
            MsgFate::Stored,
            MsgFate::Missing,
            MsgFate::Missing,
            MsgFate::Stored
        )
    );
    let v = verdicts(&sum, None, 6);
    let seqs: Vec<_> = v.iter().map(|m| seq_of(*m)).collect();
    assert_eq!(seqs, [Some(13), Some(14), None, None, Some(15), Some(16)]);
    assert_eq!(v[2], MsgEnd::Failed(Outcome::Fail, "fast_gap", 0));
    // The flow ack at 4 does not cover 5: the one at 6 does.
    assert_eq!(
        v[4],
        MsgEnd::Acked {
            seq: 15,
            at_ns: 4000
        }
    );
    let mut f = FastFigures::default();
    sum.add_to(&mut f);
    assert_eq!((f.gaps_reported, f.gap_messages), (1, 2));
}

#[test]
fn gap_mode_fail_ends_the_batch_at_the_gap() {
    let mut s = Session::new(2, 2, GapMode::Fail);
    // 3 and 4 are lost; 6 went out before the gap report came back.
    send_through(&mut s, 6);
    replay(&mut s, &GAP_FAIL[..3], 0);
    let ended = FastError::GapEnded {
        first_missing: 3,
        next_received: 5,
    };
    assert_eq!(s.dead(), Some(&ended));
    // Without the final ack yet: the server ended the batch, so await it, pinging.
    assert_eq!(s.end_step(), EndStep::AwaitServerEnd);
    assert_eq!(s.final_nudge(false), (6, Op::Ping));
    replay(&mut s, &GAP_FAIL[3..], 900);
    assert_eq!(s.end_step(), EndStep::Done(Ok(())));
    let sum = s.summary();
    let v = verdicts(&sum, Some(&ended), 6);
    assert_eq!((seq_of(v[0]), seq_of(v[1])), (Some(17), Some(18)));
    assert_eq!(v[2], MsgEnd::Failed(Outcome::Fail, "fast_gap", 0));
    assert_eq!(v[3], MsgEnd::Failed(Outcome::Fail, "fast_gap", 0));
    assert_eq!(v[4], MsgEnd::Failed(Outcome::Fail, "fast_batch_ended", 0));
    assert_eq!(v[5], MsgEnd::Failed(Outcome::Fail, "fast_batch_ended", 0));
}

#[test]
fn a_message_failing_its_check_is_rejected_and_gap_ok_goes_on() {
    let mut s = Session::new(2, 2, GapMode::Ok);
    send_through(&mut s, 4);
    replay(&mut s, &ERR_OK[..4], 0);
    assert_eq!(s.dead(), None);
    replay(&mut s, &ERR_OK[4..], 900);
    assert_eq!(s.end_step(), EndStep::Done(Ok(())));
    let sum = s.summary();
    assert_eq!(sum.errors[0].kind, ErrorKind::Flow);
    let v = verdicts(&sum, None, 4);
    let seqs: Vec<_> = v.iter().map(|m| seq_of(*m)).collect();
    assert_eq!(seqs, [Some(19), Some(20), None, Some(21)]);
    assert_eq!(v[2], MsgEnd::Failed(Outcome::Fail, "fast_rejected", 10071));
}

#[test]
fn a_message_failing_its_check_ends_the_batch_in_gap_mode_fail() {
    let mut s = Session::new(2, 2, GapMode::Fail);
    send_through(&mut s, 4);
    replay(&mut s, ERR_FAIL, 0);
    let Some(FastError::RejectedEnded {
        batch_seq: 3,
        error,
    }) = s.dead().cloned()
    else {
        panic!("{:?}", s.dead());
    };
    assert_eq!(error.err_code, 10071);
    assert_eq!(s.end_step(), EndStep::Done(Ok(())));
    let why = s.dead().cloned();
    let sum = s.summary();
    let v = verdicts(&sum, why.as_ref(), 4);
    assert_eq!((seq_of(v[0]), seq_of(v[1])), (Some(22), Some(23)));
    assert_eq!(v[2], MsgEnd::Failed(Outcome::Fail, "fast_rejected", 10071));
    assert_eq!(v[3], MsgEnd::Failed(Outcome::Fail, "fast_batch_ended", 0));
}

#[test]
fn a_lost_end_of_batch_is_sent_again_and_the_final_ack_follows() {
    let mut s = Session::new(2, 2, GapMode::Ok);
    send_through(&mut s, 3);
    replay(&mut s, LOST_END, 0);
    assert_eq!(s.end_step(), EndStep::SendEnd);
    // The end of batch is lost: nothing comes back. While the final ack is awaited the same
    // end of batch goes out again, on the same reply subject.
    let p = ReplyPrefix::new("_INBOX.cap8lost", 2, GapMode::Ok);
    assert_eq!(s.final_nudge(true), s.end());
    let (seq, op) = s.final_nudge(true);
    assert_eq!(p.subject(seq, op).as_str(), LOST_END_FINAL.0);
    assert!(!s.has_ended());
    assert_eq!(
        s.hopeless(),
        None,
        "no reason to give up before the timeout"
    );
    replay(&mut s, &[LOST_END_FINAL], 900);
    assert_eq!(s.end_step(), EndStep::Done(Ok(())));
    let sum = s.summary();
    let v = verdicts(&sum, None, 3);
    assert_eq!(
        v[0],
        MsgEnd::Acked {
            seq: 24,
            at_ns: 1000
        }
    );
    assert_eq!(
        v[2],
        MsgEnd::Acked {
            seq: 26,
            at_ns: 900
        }
    );
}

#[test]
fn an_end_of_batch_whose_final_ack_was_lost_leaves_the_batch_unknown() {
    // The first end of batch reached the server but its final ack was lost: the one sent again
    // is refused as unknown. The batch may be stored whole; the client cannot tell.
    let mut s = Session::new(2, 2, GapMode::Fail);
    send_through(&mut s, 7);
    replay(&mut s, FLOW, 0);
    assert_eq!(s.end_step(), EndStep::SendEnd);
    replay(&mut s, &FLOW_AFTER_END[..1], 900);
    assert!(s.has_ended());
    let EndStep::Done(Err(e)) = s.end_step() else {
        panic!("{:?}", s.end_step());
    };
    assert_eq!((e.name(), e.code()), ("fast_unknown_batch", 10208));
    assert!(!e.refused_at_start() && e.fatal().is_none());
    let sum = s.summary();
    assert_eq!(sum.errors[0].kind, ErrorKind::Control);
    for v in verdicts(&sum, Some(&e), 7) {
        assert_eq!(
            v,
            MsgEnd::Failed(Outcome::Unknown, "fast_unknown_batch", 10208)
        );
    }
}

#[test]
fn an_abandoned_batch_is_unknown_to_the_server() {
    let mut s = Session::new(2, 2, GapMode::Fail);
    send_through(&mut s, 1);
    replay(&mut s, &ABANDONED[..1], 0);
    assert_eq!(s.started(), Some(Ok(())));
    send_through(&mut s, 2);
    replay(&mut s, &ABANDONED[1..], 100);
    let EndStep::Done(Err(e)) = s.end_step() else {
        panic!("{:?}", s.end_step());
    };
    assert!(matches!(
        &e,
        FastError::Api { batch_seq: 2, error } if error.err_code == codes::UNKNOWN_BATCH
    ));
    let sum = s.summary();
    let v = verdicts(&sum, Some(&e), 2);
    // Message 1 may be stored (it was: the server keeps what it persisted), message 2 is not.
    assert_eq!(
        v[0],
        MsgEnd::Failed(Outcome::Unknown, "fast_unknown_batch", 10208)
    );
    assert_eq!(
        v[1],
        MsgEnd::Failed(Outcome::Fail, "fast_unknown_batch", 10208)
    );
}

#[test]
fn a_refused_start_says_why_and_stores_nothing() {
    for (reply, name, fatal) in [
        (DISABLED, "fast_disabled", "allow_batched"),
        (BAD_ID, "fast_bad_id", "reply subject"),
    ] {
        let mut s = Session::new(2, 2, GapMode::Fail);
        send_through(&mut s, 1);
        replay(&mut s, &[reply], 0);
        let Some(Err(e)) = s.started() else {
            panic!("{:?}", s.started());
        };
        assert_eq!(e.name(), name);
        assert!(e.refused_at_start());
        assert!(e.fatal().is_some_and(|why| why.contains(fatal)), "{e:?}");
        assert_eq!(s.end_step(), EndStep::Done(Err(e.clone())));
        let sum = s.summary();
        assert_eq!(
            verdicts(&sum, Some(&e), 1)[0],
            MsgEnd::Failed(Outcome::Fail, name, e.code())
        );
    }
    let mut s = Session::new(2, 2, GapMode::Fail);
    send_through(&mut s, 1);
    let reply = read_reply(
        NO_STREAM_SUBJECT,
        Some(async_nats::StatusCode::NO_RESPONDERS),
        b"",
    );
    s.on_reply(reply, 0);
    assert_eq!(s.started(), Some(Err(FastError::NoResponders)));
    assert_eq!(s.hopeless(), Some(FastError::NoResponders));
}

#[test]
fn a_server_without_fast_ingest_is_found_out_at_the_start() {
    // A plain pub ack to the start message: stored as an ordinary message.
    let mut s = Session::new(2, 2, GapMode::Fail);
    send_through(&mut s, 1);
    s.on_reply(
        read_reply(FLOW[0].0, None, br#"{"stream":"OLD","seq":42}"#),
        500,
    );
    let e = FastError::Unsupported { stream_seq: 42 };
    assert_eq!(s.started(), Some(Err(e.clone())));
    assert_eq!(s.end_step(), EndStep::Done(Err(e.clone())));
    let sum = s.summary();
    assert_eq!(
        verdicts(&sum, Some(&e), 1)[0],
        MsgEnd::Acked {
            seq: 42,
            at_ns: 500
        }
    );
}
