//! Replies recorded from nats-server 2.15.1 for the fast-ingest tests (`tests.rs` says how they
//! were captured): subjects and payloads byte for byte.

/// One message the server sent to a batch's inbox: (subject, payload).
pub(super) type Recorded = (&'static str, &'static str);

pub(super) const UNKNOWN: &str = r#"{"error":{"code":400,"err_code":10208,"description":"batch publish ID unknown"},"stream":"FAST","seq":0}"#;

/// Batch `cap1flow` (flow 2, gap fail): start, appends 2..=7, EOB at 8, EOB at 8 again, then an
/// append at 9.
pub(super) const FLOW: &[Recorded] = &[
    (
        "_INBOX.cap1flow.2.fail.1.0.$FI",
        r#"{"type":"ack","seq":0,"msgs":2}"#,
    ),
    (
        "_INBOX.cap1flow.2.fail.2.1.$FI",
        r#"{"type":"ack","seq":2,"msgs":2}"#,
    ),
    (
        "_INBOX.cap1flow.2.fail.4.1.$FI",
        r#"{"type":"ack","seq":4,"msgs":2}"#,
    ),
    (
        "_INBOX.cap1flow.2.fail.6.1.$FI",
        r#"{"type":"ack","seq":6,"msgs":2}"#,
    ),
];
pub(super) const FLOW_FINAL: Recorded = (
    "_INBOX.cap1flow.2.fail.8.3.$FI",
    r#"{"stream":"FAST","seq":7,"batch":"cap1flow","count":7}"#,
);
/// The answer to the second EOB, and to the append after the end.
pub(super) const FLOW_AFTER_END: &[Recorded] = &[
    ("_INBOX.cap1flow.2.fail.8.3.$FI", UNKNOWN),
    ("_INBOX.cap1flow.2.fail.9.1.$FI", UNKNOWN),
];

/// Batch `cap2ping` (flow 100, gap fail): start, appends 2..=5, a ping at 5; then a ping at 7
/// with 6 and 7 lost on the way; then an EOB at 6.
pub(super) const PING: &[Recorded] = &[
    (
        "_INBOX.cap2ping.100.fail.1.0.$FI",
        r#"{"type":"ack","seq":0,"msgs":100}"#,
    ),
    (
        "_INBOX.cap2ping.100.fail.5.4.$FI",
        r#"{"type":"ack","seq":0,"msgs":100}"#,
    ),
];
pub(super) const PING_GAP: &[Recorded] = &[
    (
        "_INBOX.cap2ping.100.fail.7.4.$FI",
        r#"{"type":"gap","last_seq":6,"seq":8}"#,
    ),
    (
        "_INBOX.cap2ping.100.fail.7.4.$FI",
        r#"{"stream":"FAST","seq":12,"batch":"cap2ping","count":5}"#,
    ),
    ("_INBOX.cap2ping.100.fail.6.3.$FI", UNKNOWN),
];

/// Batch `cap3gapok` (flow 2, gap ok): start, 2, then 5 (3 and 4 lost), 6, EOB at 7.
pub(super) const GAP_OK: &[Recorded] = &[
    (
        "_INBOX.cap3gapok.2.ok.1.0.$FI",
        r#"{"type":"ack","seq":0,"msgs":2}"#,
    ),
    (
        "_INBOX.cap3gapok.2.ok.2.1.$FI",
        r#"{"type":"ack","seq":2,"msgs":2}"#,
    ),
    (
        "_INBOX.cap3gapok.2.ok.5.1.$FI",
        r#"{"type":"gap","last_seq":3,"seq":5}"#,
    ),
    (
        "_INBOX.cap3gapok.2.ok.5.1.$FI",
        r#"{"type":"ack","seq":4,"msgs":2}"#,
    ),
    (
        "_INBOX.cap3gapok.2.ok.6.1.$FI",
        r#"{"type":"ack","seq":6,"msgs":2}"#,
    ),
    (
        "_INBOX.cap3gapok.2.ok.7.3.$FI",
        r#"{"stream":"FAST","seq":16,"batch":"cap3gapok","count":6}"#,
    ),
];

/// Batch `cap4gapfail` (flow 2, gap fail): start, 2, then 5 (3 and 4 lost), 6, EOB at 7.
pub(super) const GAP_FAIL: &[Recorded] = &[
    (
        "_INBOX.cap4gapfail.2.fail.1.0.$FI",
        r#"{"type":"ack","seq":0,"msgs":2}"#,
    ),
    (
        "_INBOX.cap4gapfail.2.fail.2.1.$FI",
        r#"{"type":"ack","seq":2,"msgs":2}"#,
    ),
    (
        "_INBOX.cap4gapfail.2.fail.5.1.$FI",
        r#"{"type":"gap","last_seq":3,"seq":5}"#,
    ),
    (
        "_INBOX.cap4gapfail.2.fail.5.1.$FI",
        r#"{"stream":"FAST","seq":18,"batch":"cap4gapfail","count":2}"#,
    ),
    ("_INBOX.cap4gapfail.2.fail.6.1.$FI", UNKNOWN),
    ("_INBOX.cap4gapfail.2.fail.7.3.$FI", UNKNOWN),
];

/// Batch `cap5errok` (flow 2, gap ok) on subject `fast.k`: start, 2, 3 expecting the subject's
/// last sequence to be 1 (it is 20), 4, EOB at 5.
pub(super) const ERR_OK: &[Recorded] = &[
    (
        "_INBOX.cap5errok.2.ok.1.0.$FI",
        r#"{"type":"ack","seq":0,"msgs":2}"#,
    ),
    (
        "_INBOX.cap5errok.2.ok.2.1.$FI",
        r#"{"type":"ack","seq":2,"msgs":2}"#,
    ),
    (
        "_INBOX.cap5errok.2.ok.3.1.$FI",
        r#"{"type":"err","seq":3,"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 20"}}"#,
    ),
    (
        "_INBOX.cap5errok.2.ok.4.1.$FI",
        r#"{"type":"ack","seq":4,"msgs":2}"#,
    ),
    (
        "_INBOX.cap5errok.2.ok.5.3.$FI",
        r#"{"stream":"FAST","seq":21,"batch":"cap5errok","count":4}"#,
    ),
];

/// Batch `cap6errfail` (flow 2, gap fail) on subject `fast.m`: start, 2, 3 expecting the wrong
/// last subject sequence, 4, EOB at 5.
pub(super) const ERR_FAIL: &[Recorded] = &[
    (
        "_INBOX.cap6errfail.2.fail.1.0.$FI",
        r#"{"type":"ack","seq":0,"msgs":2}"#,
    ),
    (
        "_INBOX.cap6errfail.2.fail.2.1.$FI",
        r#"{"type":"ack","seq":2,"msgs":2}"#,
    ),
    (
        "_INBOX.cap6errfail.2.fail.3.1.$FI",
        r#"{"type":"err","seq":3,"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 23"}}"#,
    ),
    (
        "_INBOX.cap6errfail.2.fail.3.1.$FI",
        r#"{"stream":"FAST","seq":23,"batch":"cap6errfail","count":2}"#,
    ),
    ("_INBOX.cap6errfail.2.fail.4.1.$FI", UNKNOWN),
    ("_INBOX.cap6errfail.2.fail.5.3.$FI", UNKNOWN),
];

/// Batch `cap8lost` (flow 2, gap ok): start, 2, 3; an EOB at 4 lost on the way (a second of
/// silence), then the EOB at 4 sent again.
pub(super) const LOST_END: &[Recorded] = &[
    (
        "_INBOX.cap8lost.2.ok.1.0.$FI",
        r#"{"type":"ack","seq":0,"msgs":2}"#,
    ),
    (
        "_INBOX.cap8lost.2.ok.2.1.$FI",
        r#"{"type":"ack","seq":2,"msgs":2}"#,
    ),
];
pub(super) const LOST_END_FINAL: Recorded = (
    "_INBOX.cap8lost.2.ok.4.3.$FI",
    r#"{"stream":"FAST","seq":26,"batch":"cap8lost","count":3}"#,
);

/// Batch `cap12abandoned` (flow 2, gap fail): start; 12 s of silence (the server abandons a
/// batch after 10 s); an append at 2, a ping at 2, an EOB at 3. The stream kept message 1.
pub(super) const ABANDONED: &[Recorded] = &[
    (
        "_INBOX.cap12abandoned.2.fail.1.0.$FI",
        r#"{"type":"ack","seq":0,"msgs":2}"#,
    ),
    ("_INBOX.cap12abandoned.2.fail.2.1.$FI", UNKNOWN),
    ("_INBOX.cap12abandoned.2.fail.2.4.$FI", UNKNOWN),
    ("_INBOX.cap12abandoned.2.fail.3.3.$FI", UNKNOWN),
];

/// A start message on stream `PLAIN` (no `allow_batched`).
pub(super) const DISABLED: Recorded = (
    "_INBOX.cap9disabled.2.fail.1.0.$FI",
    r#"{"error":{"code":400,"err_code":10205,"description":"batch publish is disabled"},"stream":"PLAIN","seq":0}"#,
);
/// A start message with a 70-character batch id.
pub(super) const BAD_ID: Recorded = (
    "_INBOX.xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx.2.fail.1.0.$FI",
    r#"{"error":{"code":400,"err_code":10207,"description":"batch publish ID is invalid"},"stream":"FAST","seq":0}"#,
);
/// Batch `cap10commit`: the commit that stores message 3 (op 2).
pub(super) const COMMIT: Recorded = (
    "_INBOX.cap10commit.2.fail.3.2.$FI",
    r#"{"stream":"FAST","seq":29,"batch":"cap10commit","count":3}"#,
);
/// A start message on a subject no stream listens on: an empty message with the status line
/// `NATS/1.0 503` (and `Nats-Subject: nowhere.a`).
pub(super) const NO_STREAM_SUBJECT: &str = "_INBOX.cap11nostream.2.fail.1.0.$FI";
