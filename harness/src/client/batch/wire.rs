//! The atomic batch protocol as pure functions: the headers each message carries
//! ([`stamp`]), and the server's replies read ([`staged`], [`commit_ack`]). Nothing here touches
//! a socket; the replies in the tests are recorded from nats-server 2.15.1.

use async_nats::header::{HeaderMap, HeaderValue};
use async_nats::Subject;
use bytes::Bytes;
use serde::Deserialize;

use super::error::BatchFailure;

const BATCH_ID: &str = "Nats-Batch-Id";
const BATCH_SEQUENCE: &str = "Nats-Batch-Sequence";
const BATCH_COMMIT: &str = "Nats-Batch-Commit";
/// The server's limit on a batch id's length.
pub const MAX_BATCH_ID_LEN: usize = 64;

/// One message of a batch; the batch headers are added when it is sent.
pub struct Staged {
    pub subject: Subject,
    pub headers: HeaderMap,
    pub payload: Bytes,
}

/// A committed batch: it occupies `last_seq - count + 1 ..= last_seq`, in batch order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Committed {
    pub last_seq: u64,
    pub count: u64,
}

/// Adds the batch headers to message `seq` of batch `id`: the last one (`commit`) also carries
/// `Nats-Batch-Commit: 1`.
pub fn stamp(headers: &mut HeaderMap, id: &HeaderValue, seq: u64, commit: bool) {
    headers.insert(BATCH_ID, id.clone());
    headers.insert(BATCH_SEQUENCE, HeaderValue::from(seq));
    if commit {
        headers.insert(BATCH_COMMIT, "1");
    }
}

#[derive(Deserialize)]
struct ApiError {
    #[serde(default)]
    err_code: u32,
    #[serde(default)]
    description: String,
}

#[derive(Deserialize)]
struct Reply {
    #[serde(default)]
    stream: String,
    #[serde(default)]
    seq: u64,
    #[serde(default)]
    batch: Option<String>,
    #[serde(default)]
    count: Option<u64>,
    #[serde(default)]
    error: Option<ApiError>,
}

fn parse(payload: &[u8], at: u64) -> Result<Reply, BatchFailure> {
    serde_json::from_slice(payload).map_err(|e| BatchFailure::Client {
        at,
        error: format!(
            "unreadable reply {:?}: {e}",
            String::from_utf8_lossy(payload)
        ),
    })
}

fn rejected(e: ApiError, at: u64) -> BatchFailure {
    BatchFailure::Rejected {
        code: e.err_code,
        at,
        description: e.description,
    }
}

/// A non-commit message's reply (batch seq `at`): empty once staged, else an error (or a plain
/// PubAck from a server that stored it as an ordinary message).
pub fn staged(payload: &[u8], at: u64) -> Result<(), BatchFailure> {
    if payload.is_empty() {
        return Ok(());
    }
    let r = parse(payload, at)?;
    match r.error {
        Some(e) => Err(rejected(e, at)),
        None => Err(BatchFailure::Unsupported(format!(
            "the server stored batch message {at} as an ordinary message (stream {}, seq {}): \
             atomic batch publish needs nats-server 2.12 or later",
            r.stream, r.seq
        ))),
    }
}

/// The commit's reply (batch seq `at`): the batch's last stream sequence and count, or why not.
pub fn commit_ack(payload: &[u8], at: u64) -> Result<Committed, BatchFailure> {
    let r = parse(payload, at)?;
    if let Some(e) = r.error {
        return Err(rejected(e, at));
    }
    match (r.batch, r.count) {
        (Some(_), Some(count)) if count > 0 && count <= r.seq => Ok(Committed {
            last_seq: r.seq,
            count,
        }),
        _ => Err(BatchFailure::Unsupported(format!(
            "the commit was acked as an ordinary message (stream {}, seq {})",
            r.stream, r.seq
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::history::Outcome;

    // Replies of nats-server 2.15.1 to batch "b1" (messages 1, 2, commit 3) and "b2" (message 1,
    // then the commit at 3: message 2 missing) on a stream with allow_atomic, and to a first
    // message on a stream without it. The staged replies are empty.
    const COMMITTED: &[u8] = br#"{"stream":"ATOM","seq":3,"batch":"b1","count":3}"#;
    const INCOMPLETE: &[u8] = br#"{"error":{"code":400,"err_code":10176,"description":"atomic publish batch is incomplete"},"stream":"ATOM","seq":0}"#;
    const DISABLED: &[u8] = br#"{"error":{"code":400,"err_code":10174,"description":"atomic publish is disabled"},"stream":"PLAIN","seq":0}"#;

    #[test]
    fn replies_are_read_as_the_server_writes_them() {
        assert_eq!(staged(b"", 1), Ok(()));
        assert_eq!(
            commit_ack(COMMITTED, 3),
            Ok(Committed {
                last_seq: 3,
                count: 3
            })
        );
        let f = commit_ack(INCOMPLETE, 3).unwrap_err();
        assert_eq!(
            (f.name(), f.code(), f.outcome(3)),
            ("batch_incomplete", 10176, Outcome::Fail)
        );
        let f = staged(DISABLED, 1).unwrap_err();
        assert_eq!((f.name(), f.code()), ("batch_disabled", 10174));
        // A server without atomic publish acks message 1 as an ordinary message.
        let plain = br#"{"stream":"S","seq":7}"#;
        assert!(matches!(
            staged(plain, 1),
            Err(BatchFailure::Unsupported(_))
        ));
        assert!(matches!(
            commit_ack(plain, 1),
            Err(BatchFailure::Unsupported(_))
        ));
    }

    #[test]
    fn the_last_message_commits() {
        let id = HeaderValue::from("run-m-0");
        let mut h = HeaderMap::new();
        stamp(&mut h, &id, 2, false);
        assert_eq!(h.get(BATCH_SEQUENCE).map(|v| v.as_str()), Some("2"));
        assert!(h.get(BATCH_COMMIT).is_none());
        stamp(&mut h, &id, 3, true);
        assert_eq!(h.get(BATCH_ID).map(|v| v.as_str()), Some("run-m-0"));
        assert_eq!(h.get(BATCH_COMMIT).map(|v| v.as_str()), Some("1"));
    }
}
