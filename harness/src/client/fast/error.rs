//! What can go wrong with a fast batch: the server's error replies ([`ApiError`], where they
//! came from, the codes of fast ingest) and why a batch could not go on ([`FastError`]), with
//! the short names result.json's `errors` gives them.

/// JetStream error codes of fast ingest (the server's errors.json; descriptions as nats-server
/// 2.15.1 sends them).
pub mod codes {
    /// "batch publish is disabled" (the stream lacks `allow_batched`).
    pub const DISABLED: u32 = 10205;
    /// "batch publish reply subject pattern is invalid".
    pub const BAD_PATTERN: u32 = 10206;
    /// "batch publish ID is invalid" (e.g. longer than 64 characters).
    pub const BAD_ID: u32 = 10207;
    /// "batch publish ID unknown" (ended, never started, or abandoned after the batch timeout).
    pub const UNKNOWN_BATCH: u32 = 10208;
    /// "batch publish too many inflight".
    pub const TOO_MANY_INFLIGHT: u32 = 10211;
    /// "too many requests" (429): the stream's ingest queue dropped this one message.
    pub const QUEUE_FULL: u32 = 10167;
}

/// An error reply of the server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{description} (code {code}, err_code {err_code})")]
pub struct ApiError {
    /// HTTP-like code (400, 429, 503 …).
    pub code: u16,
    /// JetStream error code (10205 …).
    pub err_code: u32,
    pub description: String,
}

/// How a server error reached the publisher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// `{"type":"err",..}`: the message failed a per-message check and was not stored.
    Flow,
    /// A pub-ack shaped error sent to the message's reply subject.
    Reply,
    /// A pub-ack shaped error answering a ping or the end of batch: about the batch (e.g. 10208
    /// unknown batch), not about a message.
    Control,
}

/// An error the server reported about one batch sequence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchError {
    pub batch_seq: u64,
    pub kind: ErrorKind,
    pub error: ApiError,
}

/// Why a batch could not go on, or ended without its final ack.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FastError {
    #[error("subscribing to the batch inbox: {0}")]
    Subscribe(String),
    #[error("publishing: {0}")]
    Publish(String),
    /// No stream listens on the subject (503 to the start message).
    #[error("no stream listens on the subject (no responders)")]
    NoResponders,
    /// The server refused the batch or ended it with an error.
    #[error("server error at batch seq {batch_seq}: {error}")]
    Api { batch_seq: u64, error: ApiError },
    #[error("no reply within the ack timeout: sent {sent}, acked through {acked_through}")]
    AckTimeout { sent: u64, acked_through: u64 },
    /// Gap mode `fail`: the server reported a gap and ended the batch.
    #[error("gap {first_missing}..{next_received} ended the batch (gap mode fail)")]
    GapEnded {
        first_missing: u64,
        next_received: u64,
    },
    /// Gap mode `fail`: a message failed a check and the server ended the batch.
    #[error("message {batch_seq} rejected, batch ended (gap mode fail): {error}")]
    RejectedEnded { batch_seq: u64, error: ApiError },
    /// The final ack already arrived: the server ended the batch.
    #[error("the server already ended the batch")]
    Ended,
    /// The server stored message 1 as an ordinary message (plain pub ack at `stream_seq`).
    #[error("the server stored the start message as an ordinary message (stream seq {stream_seq}): it does not know fast ingest")]
    Unsupported { stream_seq: u64 },
    #[error("the batch inbox subscription closed")]
    InboxClosed,
    #[error("unexpected reply: {0}")]
    Protocol(String),
}

impl FastError {
    /// A short, stable name for result.json's `errors`.
    pub fn name(&self) -> &'static str {
        match self {
            FastError::Subscribe(_) | FastError::Publish(_) | FastError::InboxClosed => {
                "broken_pipe"
            }
            FastError::NoResponders => "no_responders",
            FastError::Api { error, .. } | FastError::RejectedEnded { error, .. } => {
                code_name(error.err_code)
            }
            FastError::AckTimeout { .. } => "timed_out",
            FastError::GapEnded { .. } => "fast_gap",
            FastError::Ended => "fast_batch_ended",
            FastError::Unsupported { .. } => "fast_unsupported",
            FastError::Protocol(_) => "fast_protocol",
        }
    }

    /// The reply's code: the JetStream `err_code` of an error reply, 503 for no responders.
    pub fn code(&self) -> u32 {
        match self {
            FastError::Api { error, .. } | FastError::RejectedEnded { error, .. } => error.err_code,
            FastError::NoResponders => crate::client::NO_RESPONDERS,
            _ => 0,
        }
    }

    /// The server refused the batch at its start message: nothing of it is stored.
    pub fn refused_at_start(&self) -> bool {
        matches!(
            self,
            FastError::NoResponders | FastError::Api { batch_seq: 1, .. }
        )
    }

    /// Why no fast batch can succeed on this server or stream, when that is what this says.
    pub fn fatal(&self) -> Option<String> {
        let code = self.code();
        match self {
            FastError::Unsupported { .. } => Some(format!(
                "fast ingest needs nats-server 2.14 or later and a stream with allow_batched: {self}"
            )),
            FastError::Api { .. } if code == codes::DISABLED => Some(format!(
                "fast ingest needs nats-server 2.14 or later and a stream with allow_batched: {self}"
            )),
            FastError::Api { .. } if code == codes::BAD_PATTERN || code == codes::BAD_ID => {
                Some(format!("the server refused the fast-ingest reply subject: {self}"))
            }
            _ => None,
        }
    }
}

/// The name of a fast-ingest error code in result.json's `errors`.
pub fn code_name(err_code: u32) -> &'static str {
    match err_code {
        codes::DISABLED => "fast_disabled",
        codes::BAD_PATTERN => "fast_bad_pattern",
        codes::BAD_ID => "fast_bad_id",
        codes::UNKNOWN_BATCH => "fast_unknown_batch",
        codes::TOO_MANY_INFLIGHT => "fast_too_many_inflight",
        codes::QUEUE_FULL => "fast_queue_full",
        _ => "fast_rejected",
    }
}
