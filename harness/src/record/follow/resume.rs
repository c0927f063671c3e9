//! Where the follower (re)starts reading: a new consumer after the last message read, once
//! the stream proved it still holds that message, and the stream's state for the checks of
//! going back (the parent module's docs). Apart from the task's loop because none of it touches
//! the task's state (its sink need not be `Sync`, and these run while it waits).

use std::future::Future;
use std::time::Duration;

use async_nats::datetime::DateTime;
use async_nats::jetstream::stream::RawMessageErrorKind;
use async_nats::jetstream::{consumer, stream};

use super::FollowSpec;

/// Messages asked for in one pull request (as async-nats's ordered consumer).
const BATCH: usize = 500;
/// The server sends a heartbeat when it has nothing to deliver for this long; two missed ones
/// (a dead server, a lost route) end the consumer's message stream.
const HEARTBEAT: Duration = Duration::from_secs(1);
/// How long one pull request waits (at least twice the heartbeat, as the server requires).
const EXPIRES: Duration = Duration::from_secs(5);
/// Bound of each request made to (re)create the consumer.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Bound of one check of the stream's state while following.
pub(super) const PROBE_TIMEOUT: Duration = Duration::from_secs(1);
/// A consumer the follower lost track of (its connection died) is removed by the server.
const INACTIVE: Duration = Duration::from_secs(30);

/// Why a consumer could not be (re)created.
pub(super) enum Restart {
    /// Try again later.
    Failed(String),
    /// The stream no longer holds what was read: stop.
    Regressed(String),
}

/// A new consumer and its message stream.
pub(super) struct Resumed {
    pub(super) stream: stream::Stream,
    pub(super) consumer: String,
    pub(super) messages: consumer::pull::Stream,
}

/// A consumer starting after `at` (the last message read: its sequence and store time), once
/// the stream proved it still holds that message; `old` is the consumer it replaces. A free
/// function, not a method: it runs while the task's state (and its sink, which need not be
/// `Sync`) stays out of reach.
pub(super) async fn restart(
    spec: &FollowSpec,
    at: Option<(u64, DateTime)>,
    old: Option<&str>,
) -> Result<Resumed, Restart> {
    let stream = timed("stream info", spec.js.get_stream(&spec.stream)).await?;
    if let Some(old) = old {
        // Best effort: it expires by itself after INACTIVE.
        let _ = tokio::time::timeout(PROBE_TIMEOUT, stream.delete_consumer(old)).await;
    }
    still_holds(&stream, at).await?;
    let config = consumer::pull::Config {
        filter_subject: spec.filter.clone(),
        deliver_policy: match at {
            None => consumer::DeliverPolicy::All,
            Some((pos, _)) => consumer::DeliverPolicy::ByStartSequence {
                start_sequence: pos + 1,
            },
        },
        ack_policy: consumer::AckPolicy::None,
        // As `read_back`: with the tag in the headers, payloads are not moved again.
        headers_only: !spec.tag_in_payload,
        num_replicas: 1,
        memory_storage: true,
        inactive_threshold: INACTIVE,
        ..Default::default()
    };
    let c = timed("create consumer", stream.create_consumer(config)).await?;
    let consumer = c.cached_info().name.clone();
    let messages = c
        .stream()
        .max_messages_per_batch(BATCH)
        .expires(EXPIRES)
        .heartbeat(HEARTBEAT)
        .messages();
    let messages = timed("pull", messages).await?;
    Ok(Resumed {
        stream,
        consumer,
        messages,
    })
}

/// Whether the stream still holds the message read last (`at`: its sequence and store time)
/// at its sequence; trivially so when nothing was read. Another message there (a different
/// store time), or none, means the stream went back.
pub(super) async fn still_holds(
    s: &stream::Stream,
    at: Option<(u64, DateTime)>,
) -> Result<(), Restart> {
    let Some((pos, time)) = at else {
        return Ok(());
    };
    match tokio::time::timeout(REQUEST_TIMEOUT, s.get_raw_message(pos)).await {
        Ok(Ok(m)) if m.time == time => Ok(()),
        Ok(Ok(m)) => Err(Restart::Regressed(format!(
            "sequence {pos} holds a message stored at {}, not the one read (stored at {time})",
            m.time
        ))),
        Ok(Err(e)) if e.kind() == RawMessageErrorKind::NoMessageFound => Err(Restart::Regressed(
            format!("sequence {pos}, read before, is no longer stored"),
        )),
        Ok(Err(e)) => Err(Restart::Failed(format!("get message {pos}: {e}"))),
        Err(_) => Err(Restart::Failed(format!("get message {pos}: timed out"))),
    }
}

/// The stream's state, or None when it does not answer within [`PROBE_TIMEOUT`].
pub(super) async fn state_of(s: Option<&mut stream::Stream>) -> Option<stream::State> {
    let info = tokio::time::timeout(PROBE_TIMEOUT, s?.info()).await;
    info.ok()?.ok().map(|info| info.state.clone())
}

/// `f`, bounded by [`REQUEST_TIMEOUT`]; any failure means "try again later".
async fn timed<T, E: std::fmt::Display>(
    what: &str,
    f: impl Future<Output = Result<T, E>>,
) -> Result<T, Restart> {
    match tokio::time::timeout(REQUEST_TIMEOUT, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(Restart::Failed(format!("{what}: {e}"))),
        Err(_) => Err(Restart::Failed(format!("{what}: timed out"))),
    }
}
