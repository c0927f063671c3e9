//! One atomic batch on the wire: its messages sent in order on one connection, the replies that
//! say whether it goes on (the first message's) and whether it is committed (the last one's).
//!
//! Message 1 goes out as a request whose (empty, "staged") reply is awaited before the rest, as
//! the reference clients do: a stream without atomic publish, too many open batches, or a server
//! that does not know batches at all (it would store message 1 as an ordinary message and answer
//! with a plain PubAck) is found out before the rest is sent. That costs one round trip per
//! batch, which batches in flight (`max_in_flight`) overlap. The other messages are plain
//! publishes on the same connection, so the server sees them in order.

use std::time::Duration;

use async_nats::header::{HeaderMap, HeaderValue};
use async_nats::{Client, Request, RequestErrorKind, Subject};
use bytes::Bytes;

use super::error::BatchFailure;
use super::wire::{commit_ack, staged, stamp, Committed, Staged};

/// Sends `msgs` (at least one) as the atomic batch `id` and waits for the commit's ack.
pub async fn publish(
    client: &Client,
    id: &str,
    msgs: Vec<Staged>,
    timeout: Duration,
) -> Result<Committed, BatchFailure> {
    let total = msgs.len() as u64;
    let id = HeaderValue::from(id);
    for (m, seq) in msgs.into_iter().zip(1u64..) {
        let mut headers = m.headers;
        let commit = seq == total;
        stamp(&mut headers, &id, seq, commit);
        if commit {
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
    let id = HeaderValue::from(id);
    for ((subject, payload), seq) in msgs.into_iter().zip(1u64..) {
        let mut headers = HeaderMap::new();
        stamp(&mut headers, &id, seq, false);
        let reply = request(client, subject, headers, payload, timeout, seq).await?;
        staged(&reply.payload, seq)?;
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
