//! The atomic batch protocol on the wire (ADR-50, nats-server 2.12+), for `mode = "batch"`.
//!
//! Every message of a batch carries `Nats-Batch-Id` (at most 64 characters) and
//! `Nats-Batch-Sequence` (1, 2, 3, … without gaps); the last one also `Nats-Batch-Commit: 1`.
//! The server stages the messages and stores all of them at the commit, in batch order at
//! consecutive stream sequences, or none. The commit's reply is a PubAck with two more fields,
//! `{"stream","seq" (the last message's),"batch","count"}`. A batch that sees no message for the
//! server's batch timeout (10 s) is abandoned: nothing of it is stored.
//!
//! Message 1 goes out as a request whose (empty, "staged") reply is awaited before the rest, as
//! the reference clients do: a stream without atomic publish, too many open batches, or a server
//! that does not know batches at all (it would store message 1 as an ordinary message and answer
//! with a plain PubAck) is found out before the rest is sent. That costs one round trip per
//! batch, which batches in flight (`max_in_flight`) overlap. The other messages are plain
//! publishes on the same connection, so the server sees them in order.
//!
//! Facts checked against nats-server 2.15.1 are in the tests (`tests/batch.rs`).

use std::time::Duration;

use async_nats::header::{HeaderMap, HeaderValue};
use async_nats::{Client, Request, RequestErrorKind, Subject};
use bytes::Bytes;
use serde::Deserialize;

use crate::record::history::Outcome;

const BATCH_ID: &str = "Nats-Batch-Id";
const BATCH_SEQUENCE: &str = "Nats-Batch-Sequence";
const BATCH_COMMIT: &str = "Nats-Batch-Commit";
/// The server's limit on a batch id's length.
pub const MAX_BATCH_ID_LEN: usize = 64;

/// JetStream error codes of atomic publish (the server's errors.json).
pub mod codes {
    /// "atomic publish is disabled" (the stream lacks `allow_atomic`).
    pub const DISABLED: u32 = 10174;
    /// "atomic publish batch is incomplete" (a gap, or an abandoned batch).
    pub const INCOMPLETE: u32 = 10176;
    /// "atomic publish batch is too large".
    pub const TOO_LARGE: u32 = 10199;
    /// "atomic publish batch contains duplicate message id".
    pub const DUPLICATE_MSG_ID: u32 = 10201;
    /// "atomic publish too many inflight" (open batches per stream or server).
    pub const TOO_MANY_INFLIGHT: u32 = 10210;
}

/// One message of a batch; the batch headers are added when it is sent.
pub(super) struct Staged {
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

/// Why a batch was not (known to be) committed. `at` is the batch sequence of the message whose
/// reply (or lack of one) says so: 1 for the first message's, the batch's size for the commit's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchFailure {
    /// The server refused the batch (nothing of it is stored).
    Rejected {
        code: u32,
        at: u64,
        description: String,
    },
    /// No reply in time.
    TimedOut { at: u64 },
    /// No stream answered (503): on a cluster, a leader election.
    NoResponders { at: u64 },
    /// The server stored message 1 as an ordinary message: it does not do atomic batches.
    Unsupported(String),
    /// The client could not send (the connection is gone) or could not read the reply.
    Client { at: u64, error: String },
}

impl BatchFailure {
    /// What the failure says about the batch of `size` messages: unknown when the commit went
    /// out and no answer came back (it may be stored, wholly), failed otherwise (the commit was
    /// never sent or was refused: the server stores nothing and abandons what it staged).
    pub fn outcome(&self, size: u64) -> Outcome {
        match self {
            BatchFailure::TimedOut { at } | BatchFailure::Client { at, .. } if *at == size => {
                Outcome::Unknown
            }
            _ => Outcome::Fail,
        }
    }

    /// A short, stable name for result.json's `errors`.
    pub fn name(&self) -> &'static str {
        match self {
            BatchFailure::Rejected { code, .. } => match *code {
                codes::DISABLED => "batch_disabled",
                codes::INCOMPLETE => "batch_incomplete",
                codes::TOO_LARGE => "batch_too_large",
                codes::DUPLICATE_MSG_ID => "batch_duplicate_msg_id",
                codes::TOO_MANY_INFLIGHT => "batch_too_many_inflight",
                _ => "batch_rejected",
            },
            BatchFailure::TimedOut { .. } => "timed_out",
            BatchFailure::NoResponders { .. } => "no_responders",
            BatchFailure::Unsupported(_) => "batch_unsupported",
            BatchFailure::Client { .. } => "broken_pipe",
        }
    }

    /// The JetStream error code of a refusal (0 otherwise).
    pub fn code(&self) -> u32 {
        match self {
            BatchFailure::Rejected { code, .. } => *code,
            BatchFailure::NoResponders { .. } => crate::client::NO_RESPONDERS,
            _ => 0,
        }
    }
}

/// Sends `msgs` (at least one) as the atomic batch `id` and waits for the commit's ack.
pub(super) async fn publish(
    client: &Client,
    id: &str,
    msgs: Vec<Staged>,
    timeout: Duration,
) -> Result<Committed, BatchFailure> {
    let total = msgs.len() as u64;
    let id = HeaderValue::from(id);
    for (m, seq) in msgs.into_iter().zip(1u64..) {
        let mut headers = m.headers;
        headers.insert(BATCH_ID, id.clone());
        headers.insert(BATCH_SEQUENCE, HeaderValue::from(seq));
        if seq == total {
            headers.insert(BATCH_COMMIT, "1");
            let reply = request(client, m.subject, headers, m.payload, timeout, seq).await?;
            return commit_ack(&reply.payload, seq);
        }
        if seq == 1 {
            let reply = request(client, m.subject, headers, m.payload, timeout, seq).await?;
            staged(&reply.payload, seq)?;
        } else {
            client
                .publish_with_headers(m.subject, headers, m.payload)
                .await
                .map_err(|e| BatchFailure::Client {
                    at: seq,
                    error: e.to_string(),
                })?;
        }
    }
    Err(BatchFailure::Client {
        at: 0,
        error: "an empty batch".into(),
    })
}

/// Sends `msgs` as batch `id` without a commit, waiting until the last one is staged: the
/// server holds the batch until its timeout, then abandons it. For tests of that case.
pub async fn publish_uncommitted(
    client: &Client,
    id: &str,
    msgs: Vec<(Subject, Bytes)>,
    timeout: Duration,
) -> Result<(), BatchFailure> {
    let total = msgs.len() as u64;
    for ((subject, payload), seq) in msgs.into_iter().zip(1u64..) {
        let mut headers = HeaderMap::new();
        headers.insert(BATCH_ID, id);
        headers.insert(BATCH_SEQUENCE, HeaderValue::from(seq));
        let reply = request(client, subject, headers, payload, timeout, seq).await?;
        staged(&reply.payload, seq)?;
        if seq == total {
            break;
        }
    }
    Ok(())
}

async fn request(
    client: &Client,
    subject: Subject,
    headers: HeaderMap,
    payload: Bytes,
    timeout: Duration,
    at: u64,
) -> Result<async_nats::Message, BatchFailure> {
    let req = Request::new()
        .headers(headers)
        .payload(payload)
        .timeout(Some(timeout));
    client
        .send_request(subject, req)
        .await
        .map_err(|e| match e.kind() {
            RequestErrorKind::TimedOut => BatchFailure::TimedOut { at },
            RequestErrorKind::NoResponders => BatchFailure::NoResponders { at },
            _ => BatchFailure::Client {
                at,
                error: e.to_string(),
            },
        })
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

/// A non-commit message's reply: empty once staged, else an error (or a plain PubAck from a
/// server that stored it as an ordinary message).
fn staged(payload: &[u8], at: u64) -> Result<(), BatchFailure> {
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

fn commit_ack(payload: &[u8], at: u64) -> Result<Committed, BatchFailure> {
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

    #[test]
    fn replies_are_read_as_the_server_writes_them() {
        assert_eq!(staged(b"", 1), Ok(()));
        let ack = br#"{"stream":"S","seq":42,"batch":"b1","count":3}"#;
        assert_eq!(
            commit_ack(ack, 3),
            Ok(Committed {
                last_seq: 42,
                count: 3
            })
        );
        let err = br#"{"error":{"code":400,"err_code":10176,"description":"atomic publish batch is incomplete"},"stream":"S","seq":0}"#;
        let f = commit_ack(err, 3).unwrap_err();
        assert_eq!(
            (f.name(), f.code(), f.outcome(3)),
            ("batch_incomplete", 10176, Outcome::Fail)
        );
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
    fn only_an_unanswered_commit_is_unknown() {
        assert_eq!(
            BatchFailure::TimedOut { at: 5 }.outcome(5),
            Outcome::Unknown
        );
        assert_eq!(BatchFailure::TimedOut { at: 1 }.outcome(5), Outcome::Fail);
        let gone = BatchFailure::Client {
            at: 3,
            error: "x".into(),
        };
        assert_eq!(gone.outcome(5), Outcome::Fail);
    }
}
