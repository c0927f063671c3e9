//! Read-back: reads the run's messages out of the stream with an ordered consumer. The stream is
//! the truth about storage order and about what was stored at all (lost, duplicated,
//! unexpected); the acks only say what the server claimed.

use std::time::Duration;

use async_nats::jetstream::{self, consumer};
use futures::StreamExt;

use crate::cancel::Cancel;
use crate::history::ReadBack;
use crate::workload::{H_ATTEMPT, H_IDX, H_RUN};

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

/// Reads every message of `filter` in stream order. Stops when the consumer reports nothing
/// pending, when nothing arrives for `idle`, or on an urgent cancel; `complete` says which.
pub async fn read_back(
    js: &jetstream::Context,
    stream: &str,
    filter: &str,
    run_id: &str,
    expected_hint: usize,
    idle: Duration,
    cancel: &Cancel,
) -> Result<ReadBack, ReadBackError> {
    let mut rb = ReadBack {
        order: Vec::with_capacity(expected_hint),
        seqs: Vec::with_capacity(expected_hint),
        attempts: Vec::with_capacity(expected_hint),
        unexpected: 0,
        complete: false,
    };
    let s = js
        .get_stream(stream)
        .await
        .map_err(|e| ReadBackError::Stream {
            stream: stream.to_string(),
            source: e.into(),
        })?;
    let consumer = s
        .create_consumer(consumer::pull::OrderedConfig {
            filter_subject: filter.to_string(),
            deliver_policy: consumer::DeliverPolicy::All,
            // Only headers are read: saves moving every payload a second time.
            headers_only: true,
            ..Default::default()
        })
        .await
        .map_err(|e| ReadBackError::Consumer {
            stream: stream.to_string(),
            source: e.into(),
        })?;
    let mut pending = consumer.cached_info().num_pending;
    if pending == 0 {
        rb.complete = true;
        return Ok(rb);
    }
    let mut messages = consumer
        .messages()
        .await
        .map_err(|e| ReadBackError::Consumer {
            stream: stream.to_string(),
            source: e.into(),
        })?;
    while !cancel.is_urgent() {
        let next = match tokio::time::timeout(idle, messages.next()).await {
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
        let idx = next.headers.as_ref().and_then(|h| {
            let run_ok = h.get(H_RUN).map(|v| v.as_str() == run_id).unwrap_or(false);
            let idx = h.get(H_IDX).and_then(|v| v.as_str().parse::<u32>().ok());
            let attempt = h
                .get(H_ATTEMPT)
                .and_then(|v| v.as_str().parse::<u8>().ok())
                .unwrap_or(1);
            if run_ok {
                idx.map(|i| (i, attempt))
            } else {
                None
            }
        });
        match idx {
            Some((i, attempt)) => {
                rb.order.push(i);
                rb.seqs.push(seq);
                rb.attempts.push(attempt);
            }
            None => rb.unexpected += 1,
        }
        if pending == 0 {
            rb.complete = true;
            break;
        }
    }
    Ok(rb)
}
