//! Read-back: reads the run's messages out of the stream with an ordered consumer. The stream is
//! the truth about storage order and about what was stored at all (lost, duplicated,
//! unexpected); the acks only say what the server claimed.
//!
//! A read-back must see everything that will ever be stored, or `stored`, `lost` and
//! `unknown_missing` are wrong: a message whose ack timed out may still sit in the client's
//! buffer, in a fault proxy's queue or in the stream's ingest queue when publishing ends. So
//! before reading, the runner heals every fault and proves each publishing connection drained
//! with a round trip on it ([`round_trip`]); then [`read_back`] waits until the stream's last
//! sequence stops moving, reads, and checks what it read against the stream's own count of the
//! run's messages, reading on (after another settle) while the stream holds more.
//!
//! Which message is which is the workload's wire format (`workload::Reader`): the read-back is
//! handed the decoder ([`ReadSpec::identify`]) rather than importing it, because the workload
//! sits above the scenario (the scenario names the format) and the record below it.

use std::time::{Duration, Instant};

use async_nats::jetstream::{self, consumer};
use async_nats::HeaderMap;
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use crate::cancel::Cancel;
use crate::record::history::ReadBack;

/// A read-back (and the follower's tail) stops when nothing arrives for this long.
pub const READ_BACK_IDLE: Duration = Duration::from_secs(10);
/// How long the stream's last sequence must stay put to count as settled.
const SETTLE_QUIET: Duration = Duration::from_millis(200);
/// Upper bound of one settle.
const SETTLE_MAX: Duration = Duration::from_secs(10);
const SETTLE_POLL: Duration = Duration::from_millis(50);
/// Read-then-count rounds before the read-back gives up and says it is incomplete.
pub(super) const MAX_ROUNDS: u32 = 5;

#[derive(Debug, thiserror::Error)]
pub enum ReadBackError {
    #[error("cannot open stream {stream} for read-back: {source}")]
    Stream {
        stream: String,
        source: async_nats::Error,
    },
    #[error("cannot create the read-back consumer on {stream}: {source}")]
    Consumer {
        stream: String,
        source: async_nats::Error,
    },
}

/// How the read-back made sure it saw everything (`read_back` in result.json).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReadBackCheck {
    /// Messages read on the run's measured subjects (stored copies of this run + unexpected).
    pub read: u64,
    /// The stream's own count of messages on those subjects after the last read.
    pub stream_count: Option<u64>,
    /// Read-then-count rounds it took (1 when nothing arrived late).
    pub rounds: u32,
    /// Time spent waiting for the stream to settle before reading, ms.
    pub settle_ms: f64,
    /// Publishing connections proven drained by a round trip, of those tried.
    pub connections_flushed: usize,
    pub connections: usize,
}

/// Decodes a stored message: `(publish index, attempt)`, or `None` when it is not the run's.
pub type Identify<'a> = dyn Fn(Option<&HeaderMap>, &[u8]) -> Option<(u32, u8)> + Sync + 'a;

/// What to read.
pub struct ReadSpec<'a> {
    pub js: &'a jetstream::Context,
    pub stream: &'a str,
    pub filter: &'a str,
    /// Whether the tag travels in the payload: otherwise only headers are read.
    pub tag_in_payload: bool,
    /// A stored message's publish index and attempt, from its headers and payload; `None` when
    /// it is not one of this run's.
    pub identify: &'a Identify<'a>,
    pub expected_hint: usize,
    /// Stop reading when nothing arrives for this long.
    pub idle: Duration,
    pub cancel: &'a Cancel,
}

/// A round trip on `client`'s own connection, through whatever proxy it goes through. The
/// server answers a request to a subject nobody serves with a "no responders" status when it
/// processes that request, which it does after every byte the connection sent before: so an
/// answer proves every earlier publish reached the server (and was handed to the stream). A
/// core-NATS `flush` would only prove the bytes left the client's socket.
pub async fn round_trip(client: &async_nats::Client, timeout: Duration) -> Result<(), String> {
    let subject = format!("_JSB.ROUNDTRIP.{}", client.new_inbox().replace('.', "_"));
    let request = async_nats::Request::new().timeout(Some(timeout));
    match client.send_request(subject, request).await {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == async_nats::RequestErrorKind::NoResponders => Ok(()),
        Err(e) => Err(e.to_string()),
    }
}

/// Reads every message of `spec.filter` in stream order, checked against the stream's count
/// (module docs). `complete` says whether what was read is all the stream holds.
pub async fn read_back(spec: &ReadSpec<'_>) -> Result<(ReadBack, ReadBackCheck), ReadBackError> {
    let stream_err = |e: async_nats::Error| ReadBackError::Stream {
        stream: spec.stream.to_string(),
        source: e,
    };
    let consumer_err = |e: async_nats::Error| ReadBackError::Consumer {
        stream: spec.stream.to_string(),
        source: e,
    };
    let mut rb = ReadBack {
        order: Vec::with_capacity(spec.expected_hint),
        seqs: Vec::with_capacity(spec.expected_hint),
        attempts: Vec::with_capacity(spec.expected_hint),
        unexpected: 0,
        complete: false,
    };
    let mut check = ReadBackCheck::default();
    let mut s = spec
        .js
        .get_stream(spec.stream)
        .await
        .map_err(|e| stream_err(e.into()))?;
    check.settle_ms += settle(&mut s).await;
    let ordered = consumer::pull::OrderedConfig {
        filter_subject: spec.filter.to_string(),
        deliver_policy: consumer::DeliverPolicy::All,
        // With the tag in the headers, only headers are read: saves moving every payload a
        // second time. The payload tag needs the payload's first bytes, so the whole of it.
        headers_only: !spec.tag_in_payload,
        ..Default::default()
    };
    let consumer = while_unavailable(|| s.create_consumer(ordered.clone()))
        .await
        .map_err(|e| consumer_err(e.into()))?;
    let mut pending = consumer.cached_info().num_pending;
    let mut messages = consumer
        .messages()
        .await
        .map_err(|e| consumer_err(e.into()))?;
    while check.rounds < MAX_ROUNDS && !spec.cancel.is_urgent() {
        check.rounds += 1;
        if pending > 0 {
            read_some(&mut messages, spec, pending, &mut rb).await;
        }
        check.read = rb.order.len() as u64 + rb.unexpected;
        let count = stream_count(&s, spec.filter).await.map_err(&consumer_err)?;
        check.stream_count = Some(count);
        if check.read >= count {
            rb.complete = check.read == count;
            if check.read > count {
                tracing::warn!(
                    "read-back saw {} messages, the stream counts {count}",
                    check.read
                );
            }
            break;
        }
        // The stream holds more than was read: late arrivals. Let it settle, then read on.
        pending = count - check.read;
        check.settle_ms += settle(&mut s).await;
    }
    Ok((rb, check))
}

/// Reads until the consumer reports nothing pending, nothing arrives for `spec.idle`, or an
/// urgent cancel.
async fn read_some(
    messages: &mut consumer::pull::Ordered,
    spec: &ReadSpec<'_>,
    mut pending: u64,
    rb: &mut ReadBack,
) {
    while !spec.cancel.is_urgent() && pending > 0 {
        let next = match tokio::time::timeout(spec.idle, messages.next()).await {
            Err(_) | Ok(None) => break,
            Ok(Some(Err(e))) => {
                tracing::warn!("read-back: {e}");
                continue;
            }
            Ok(Some(Ok(m))) => m,
        };
        let (seq, left) = match next.info() {
            Ok(info) => (info.stream_sequence, info.pending),
            Err(_) => (0, pending.saturating_sub(1)),
        };
        pending = left;
        match (spec.identify)(next.headers.as_ref(), &next.payload) {
            Some((idx, attempt)) => {
                rb.order.push(idx);
                rb.seqs.push(seq);
                rb.attempts.push(attempt);
            }
            None => rb.unexpected += 1,
        }
    }
}

/// Waits until the stream's last sequence has not moved for [`SETTLE_QUIET`] (bounded by
/// [`SETTLE_MAX`]); returns the time waited in ms. Errors only shorten the wait: the count
/// check after reading is what decides. Shared with the follower's tail (`record::follow`).
pub(super) async fn settle(s: &mut jetstream::stream::Stream) -> f64 {
    let started = Instant::now();
    let mut last = None;
    let mut quiet_since = Instant::now();
    while started.elapsed() < SETTLE_MAX {
        let Ok(info) = s.info().await else { break };
        let seq = info.state.last_sequence;
        if last != Some(seq) {
            last = Some(seq);
            quiet_since = Instant::now();
        } else if quiet_since.elapsed() >= SETTLE_QUIET {
            break;
        }
        tokio::time::sleep(SETTLE_POLL).await;
    }
    started.elapsed().as_secs_f64() * 1e3
}

/// How long JetStream may stay "temporarily unavailable" before the read-back gives up.
const UNAVAILABLE_MAX: Duration = Duration::from_secs(30);

/// True for the errors JetStream answers while its meta layer has no leader (10008 "JetStream
/// system temporarily unavailable") or does not see enough peers online yet (10005 "no suitable
/// peers for placement", just after a cluster formed), and for requests nobody answered in time:
/// all pass once a cluster has (re-)elected its leaders, e.g. some seconds after a partition
/// healed.
pub fn is_transient(e: &dyn std::fmt::Display) -> bool {
    let text = e.to_string();
    text.contains("error code 10008")
        || text.contains("error code 10005")
        || text.contains("timed out")
}

/// Runs `op` until it succeeds, fails otherwise than transiently, or [`UNAVAILABLE_MAX`] passed.
pub async fn while_unavailable<T, E, F, Fut>(mut op: F) -> Result<T, E>
where
    E: std::fmt::Display,
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let deadline = Instant::now() + UNAVAILABLE_MAX;
    loop {
        match op().await {
            Err(e) if is_transient(&e) && Instant::now() < deadline => {
                tracing::debug!("JetStream unavailable, trying again: {e}");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            done => return done,
        }
    }
}

/// The stream's own count of messages on `filter`: the pending count of a fresh consumer that
/// would deliver all of them (the server counts from its subject index; nothing is read).
/// Shared with the follower's tail (`record::follow`).
pub(super) async fn stream_count(
    s: &jetstream::stream::Stream,
    filter: &str,
) -> Result<u64, async_nats::Error> {
    let config = consumer::pull::Config {
        filter_subject: filter.to_string(),
        deliver_policy: consumer::DeliverPolicy::All,
        ack_policy: consumer::AckPolicy::None,
        inactive_threshold: Duration::from_secs(10),
        ..Default::default()
    };
    let c = while_unavailable(|| s.create_consumer(config.clone())).await?;
    let count = c.cached_info().num_pending;
    let name = c.cached_info().name.clone();
    if let Err(e) = s.delete_consumer(&name).await {
        tracing::debug!("counting consumer {name} not deleted (it expires by itself): {e}");
    }
    Ok(count)
}

#[cfg(test)]
mod transient_tests {
    use super::is_transient;

    #[test]
    fn meta_leaderless_placement_pending_and_timeouts_are_transient_other_errors_are_not() {
        assert!(is_transient(
            &"JetStream error: JetStream system temporarily unavailable (code 503, error code 10008)"
        ));
        assert!(is_transient(
            &"jetstream error: no suitable peers for placement (code 500, error code 10005)"
        ));
        assert!(is_transient(&"jetstream request timed out"));
        assert!(!is_transient(
            &"JetStream error: stream not found (code 404, error code 10059)"
        ));
    }
}
