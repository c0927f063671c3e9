//! The protocol itself, as pure functions: the reply subject that carries each message's control
//! state ([`ReplyPrefix::subject`]), and what the server sends back read into a [`Reply`]
//! ([`read_reply`]). Nothing here touches a socket, so every shape is unit-tested on replies
//! recorded from nats-server 2.15.1 (`tests.rs`).

use std::borrow::Cow;
use std::fmt::Write as _;

use async_nats::{StatusCode, Subject};
use serde::Deserialize;

use super::error::ApiError;
use crate::scenario::GapMode;

/// The operation a message's reply subject announces (its `<op>` token).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// The first message (batch seq 1): opens the batch; its reply is the start ack.
    Start,
    /// Any later data message.
    Append,
    /// A data message that also commits the batch (jsbench ends batches with `EndOfBatch`).
    Commit,
    /// End of batch (EOB): a commit that stores nothing, at seq = last + 1.
    EndOfBatch,
    /// Asks for the latest flow ack, at seq = highest sent; a gap report when some are missing.
    Ping,
}

impl Op {
    fn token(self) -> u8 {
        match self {
            Op::Start => 0,
            Op::Append => 1,
            Op::Commit => 2,
            Op::EndOfBatch => 3,
            Op::Ping => 4,
        }
    }

    fn from_token(t: &str) -> Option<Op> {
        Some(match t {
            "0" => Op::Start,
            "1" => Op::Append,
            "2" => Op::Commit,
            "3" => Op::EndOfBatch,
            "4" => Op::Ping,
            _ => return None,
        })
    }

    /// A message of the batch (stored unless refused), as opposed to a control message.
    pub fn is_data(self) -> bool {
        matches!(self, Op::Start | Op::Append | Op::Commit)
    }
}

/// The gap mode's token in the reply subject.
fn gap_token(gap: GapMode) -> &'static str {
    match gap {
        GapMode::Ok => "ok",
        GapMode::Fail => "fail",
    }
}

/// `<inbox>.<flow>.<gap>.`: what every reply subject of one batch starts with. The inbox's last
/// token is the batch id (at most 64 characters).
#[derive(Debug, Clone)]
pub struct ReplyPrefix(String);

impl ReplyPrefix {
    pub fn new(inbox: &str, flow: u16, gap: GapMode) -> ReplyPrefix {
        ReplyPrefix(format!("{inbox}.{flow}.{}.", gap_token(gap)))
    }

    /// The reply subject of batch seq `seq` with operation `op`: `<prefix><seq>.<op>.$FI`.
    pub fn subject(&self, seq: u64, op: Op) -> Subject {
        let mut s = String::with_capacity(self.0.len() + 26);
        s.push_str(&self.0);
        let _ = write!(s, "{seq}.{}.$FI", op.token());
        Subject::from(s)
    }
}

/// Batch seq and operation of a reply subject `…<seq>.<op>.$FI`; `None` when it is not one.
pub fn parse_subject(subject: &str) -> Option<(u64, Op)> {
    let mut it = subject.rsplit('.');
    if it.next() != Some("$FI") {
        return None;
    }
    let op = Op::from_token(it.next()?)?;
    let seq = it.next()?.parse().ok()?;
    Some((seq, op))
}

/// One message the server sent to the batch's inbox, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `{"type":"ack","seq":N,"msgs":M}`: batch seqs up to N are persisted, and the next flow ack
    /// comes M messages later. The start message's reply is the one with seq 0.
    FlowAck { seq: u64, msgs: Option<u16> },
    /// `{"type":"gap","last_seq":A,"seq":B}`: batch seqs `A..B` never reached the stream.
    Gap {
        first_missing: u64,
        next_received: u64,
    },
    /// `{"type":"err","seq":N,"error":{..}}`: message N failed a per-message check.
    Rejected { seq: u64, error: ApiError },
    /// `{"error":{..},"stream","seq":0}` on the reply subject of batch seq `seq`, operation `op`
    /// (`None` when the subject is not a fast-ingest one).
    Error {
        seq: u64,
        op: Option<Op>,
        error: ApiError,
    },
    /// `{"stream","seq","batch","count"}`: the final ack (`seq` is the stream sequence of the
    /// batch's last stored message, `count` the last batch seq taken into it); a plain pub ack
    /// (no `count`: 0) when the server does not know fast ingest.
    PubAck { stream_seq: u64, count: u64 },
    /// Status 503: no stream listens on the subject.
    NoResponders,
    /// Anything else: what it was.
    Unreadable(String),
}

/// Every shape the server sends to the inbox, in one borrowed struct (no allocation for acks).
#[derive(Deserialize)]
struct Wire<'a> {
    #[serde(rename = "type", default, borrow)]
    ty: Option<&'a str>,
    #[serde(default)]
    seq: Option<u64>,
    #[serde(default)]
    msgs: Option<u16>,
    #[serde(default)]
    last_seq: Option<u64>,
    #[serde(default)]
    error: Option<WireErr>,
    #[serde(default, borrow)]
    stream: Option<Cow<'a, str>>,
    #[serde(default)]
    count: Option<u64>,
}

#[derive(Deserialize, Default)]
struct WireErr {
    #[serde(default)]
    code: u16,
    #[serde(default)]
    err_code: u32,
    #[serde(default)]
    description: String,
}

impl From<WireErr> for ApiError {
    fn from(e: WireErr) -> ApiError {
        ApiError {
            code: e.code,
            err_code: e.err_code,
            description: e.description,
        }
    }
}

/// Reads one inbox message: its subject (the reply subject of the message it answers), its
/// status and its payload. Never panics: what it cannot read is [`Reply::Unreadable`].
pub fn read_reply(subject: &str, status: Option<StatusCode>, payload: &[u8]) -> Reply {
    if status == Some(StatusCode::NO_RESPONDERS) {
        return Reply::NoResponders;
    }
    let w: Wire<'_> = match serde_json::from_slice(payload) {
        Ok(w) => w,
        Err(e) => {
            let text = String::from_utf8_lossy(payload);
            return Reply::Unreadable(format!("{e}: status {status:?} {text:?}"));
        }
    };
    match w.ty {
        Some("ack") => Reply::FlowAck {
            seq: w.seq.unwrap_or(0),
            msgs: w.msgs,
        },
        Some("gap") => Reply::Gap {
            first_missing: w.last_seq.unwrap_or(0),
            next_received: w.seq.unwrap_or(0),
        },
        Some("err") => Reply::Rejected {
            seq: w.seq.unwrap_or(0),
            error: ApiError::from(w.error.unwrap_or_default()),
        },
        Some(other) => Reply::Unreadable(format!("unknown reply type {other:?}")),
        None => match (w.error, w.stream) {
            (Some(e), _) => {
                let at = parse_subject(subject);
                Reply::Error {
                    seq: at.map_or(0, |(seq, _)| seq),
                    op: at.map(|(_, op)| op),
                    error: ApiError::from(e),
                }
            }
            (None, Some(_)) => Reply::PubAck {
                stream_seq: w.seq.unwrap_or(0),
                count: w.count.unwrap_or(0),
            },
            (None, None) => Reply::Unreadable("a reply with neither type, error nor stream".into()),
        },
    }
}
