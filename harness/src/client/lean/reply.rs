//! A publish's reply read into what the JetStream path's ack future yields, so the lean path's
//! outcomes fall into the same classes (`send.rs`'s `classify`, `error_name`, `reply_code`):
//!
//! - status 503 (no responders: no stream listens, or a cluster is electing a leader) →
//!   `PublishErrorKind::StreamNotFound`, as async-nats reports it;
//! - `{"error":{"code","err_code","description"}}` → the kind async-nats picks for the err_code
//!   (wrong last message id, wrong last sequence, else other), with the API error as its source,
//!   so `reply_code` finds the err_code (10158 "in process", 10071 …) where it looks for it;
//! - `{"stream","seq","duplicate"}` → the ack;
//! - anything else → `Other`, the JetStream path's outcome for a reply it cannot read.
//!
//! The ack's stream name is not kept: nothing downstream reads it, and it would cost an
//! allocation per message.

use async_nats::jetstream::context::{PublishError, PublishErrorKind};
use async_nats::jetstream::publish::PublishAck;
use async_nats::jetstream::{Error as ApiError, ErrorCode};
use async_nats::StatusCode;
use serde::de::IgnoredAny;
use serde::Deserialize;

/// Every field a pub ack or its error reply has, borrowed (no allocation for an ack).
#[derive(Deserialize)]
struct Wire {
    #[serde(default)]
    stream: Option<IgnoredAny>,
    #[serde(default)]
    seq: Option<u64>,
    #[serde(default)]
    duplicate: bool,
    #[serde(default)]
    error: Option<ApiError>,
}

/// Reads one reply (its status and payload) as the JetStream path's ack future would.
pub(crate) fn read(status: Option<StatusCode>, payload: &[u8]) -> Result<PublishAck, PublishError> {
    if status == Some(StatusCode::NO_RESPONDERS) {
        return Err(PublishError::new(PublishErrorKind::StreamNotFound));
    }
    let w: Wire = serde_json::from_slice(payload)
        .map_err(|e| PublishError::with_source(PublishErrorKind::Other, e))?;
    if let Some(error) = w.error {
        let kind = match error.error_code() {
            ErrorCode::STREAM_WRONG_LAST_MESSAGE_ID => PublishErrorKind::WrongLastMessageId,
            ErrorCode::STREAM_WRONG_LAST_SEQUENCE => PublishErrorKind::WrongLastSequence,
            _ => PublishErrorKind::Other,
        };
        return Err(PublishError::with_source(kind, error));
    }
    match (w.stream, w.seq) {
        (Some(_), Some(sequence)) => Ok(PublishAck {
            sequence,
            duplicate: w.duplicate,
            ..PublishAck::default()
        }),
        _ => Err(PublishError::with_source(
            PublishErrorKind::Other,
            format!(
                "a reply that is neither a pub ack nor an error: {}",
                String::from_utf8_lossy(payload)
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{error_name, reply_code, DUPLICATE_IN_PROCESS, NO_RESPONDERS};

    /// What the JetStream path's names and codes make of a reply.
    fn named(r: &Result<PublishAck, PublishError>) -> (&'static str, u32) {
        let e = r.as_ref().unwrap_err();
        let code = reply_code(e);
        (error_name(e.kind(), code), code)
    }

    #[test]
    fn acks_and_duplicates_are_read() {
        let ack = read(None, br#"{"stream":"JSB","seq":42}"#).unwrap();
        assert_eq!((ack.sequence, ack.duplicate), (42, false));
        let dup = read(None, br#"{"stream":"JSB","seq":7,"duplicate":true}"#).unwrap();
        assert_eq!((dup.sequence, dup.duplicate), (7, true));
        // A domain, a counter value or a field of a newer server changes nothing.
        let more = read(
            None,
            br#"{"stream":"JSB","domain":"hub","seq":9,"val":"3","future":[1]}"#,
        )
        .unwrap();
        assert_eq!(more.sequence, 9);
    }

    #[test]
    fn error_replies_get_the_jetstream_paths_kinds_and_codes() {
        // nats-server 2.15.1's replies, as recorded.
        let in_process = read(
            None,
            br#"{"error":{"code":400,"err_code":10158,"description":"duplicate message id is in process"},"stream":"JSB","seq":0}"#,
        );
        assert_eq!(
            named(&in_process),
            ("duplicate_in_process", DUPLICATE_IN_PROCESS)
        );
        let wrong_seq = read(
            None,
            br#"{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 17"},"stream":"JSB","seq":0}"#,
        );
        assert_eq!(named(&wrong_seq), ("wrong_last_sequence", 10071));
        let e = wrong_seq.unwrap_err();
        let text = std::error::Error::source(&e).unwrap().to_string();
        assert!(text.contains("wrong last sequence: 17"), "{text}");
        let wrong_id = read(
            None,
            br#"{"error":{"code":400,"err_code":10070,"description":"wrong last msg ID: x"}}"#,
        );
        assert_eq!(named(&wrong_id), ("wrong_last_message_id", 10070));
        let other = read(
            None,
            br#"{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"}}"#,
        );
        assert_eq!(named(&other), ("other", 10077));
    }

    #[test]
    fn no_responders_and_unreadable_replies() {
        let none = read(Some(StatusCode::NO_RESPONDERS), b"");
        assert_eq!(named(&none), ("no_responders", NO_RESPONDERS));
        for bad in [
            &b""[..],
            b"not json",
            br#"{"seq":1}"#,
            br#"{"stream":"JSB"}"#,
        ] {
            let r = read(None, bad);
            assert_eq!(
                named(&r),
                ("other", 0),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
