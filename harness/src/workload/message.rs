//! The message format on the wire: subjects, the `Jsb-*` headers that identify every attempt of
//! every message (run, key, per-key sequence, publish index, connection, attempt; see README
//! "Message format"), and the filler payload. The read-back and the consume side decode it.

use std::str::FromStr;

use async_nats::header::{HeaderName, HeaderValue};
use async_nats::HeaderMap;
use bytes::Bytes;

/// Message headers of the jsbench wire format (see README "Message format").
pub const H_RUN: &str = "Jsb-Run";
pub const H_KEY: &str = "Jsb-Key";
pub const H_SEQ: &str = "Jsb-Seq";
pub const H_IDX: &str = "Jsb-Idx";
pub const H_CONN: &str = "Jsb-Conn";
pub const H_ATTEMPT: &str = "Jsb-Attempt";

/// The name of key `k` as it appears in `Jsb-Key` and in the subject.
pub fn key_name(k: u32) -> String {
    format!("k{k}")
}

/// Subjects of one run: every message of the measured phase goes to `jsb.<run>.m.<key>`,
/// warm-up to `jsb.<run>.w.<key>`, so the read-back can filter the warm-up out.
#[derive(Debug, Clone)]
pub struct Subjects {
    pub stream_filter: String,
    pub measured_filter: String,
    measured: Vec<async_nats::Subject>,
    warmup: Vec<async_nats::Subject>,
}

impl Subjects {
    pub fn new(run_id: &str, keys: u32) -> Subjects {
        let make = |phase: &str| {
            (0..keys)
                .map(|k| async_nats::Subject::from(format!("jsb.{run_id}.{phase}.{}", key_name(k))))
                .collect()
        };
        Subjects {
            stream_filter: format!("jsb.{run_id}.>"),
            measured_filter: format!("jsb.{run_id}.m.>"),
            measured: make("m"),
            warmup: make("w"),
        }
    }

    pub fn get(&self, warmup: bool, key: u32) -> async_nats::Subject {
        if warmup {
            self.warmup[key as usize].clone()
        } else {
            self.measured[key as usize].clone()
        }
    }
}

/// What identifies one attempt of one message on the wire.
#[derive(Debug, Clone)]
pub struct Tag<'a> {
    /// The run id (`Jsb-Run`).
    pub run: &'a str,
    /// The aggregate key (`Jsb-Key`).
    pub key: &'a str,
    /// The message's sequence within its key, from 1 (`Jsb-Seq`).
    pub seq: u64,
    /// The global publish index, from 0 (`Jsb-Idx`).
    pub idx: u64,
    /// The connection that carries it (`Jsb-Conn`).
    pub conn: usize,
    /// 1 for the first try (`Jsb-Attempt`).
    pub attempt: u32,
    /// `Nats-Msg-Id`, when dedup is on.
    pub msg_id: Option<String>,
}

/// Builds the headers of message attempts. Header names are parsed once: parsing a name checks
/// it against every standard NATS header, which cost more than the rest of the map.
#[derive(Debug, Clone)]
pub struct HeaderBuilder {
    run: HeaderName,
    key: HeaderName,
    seq: HeaderName,
    idx: HeaderName,
    conn: HeaderName,
    attempt: HeaderName,
}

impl Default for HeaderBuilder {
    fn default() -> Self {
        let name = |n: &str| HeaderName::from_str(n).expect("valid header name");
        HeaderBuilder {
            run: name(H_RUN),
            key: name(H_KEY),
            seq: name(H_SEQ),
            idx: name(H_IDX),
            conn: name(H_CONN),
            attempt: name(H_ATTEMPT),
        }
    }
}

impl HeaderBuilder {
    /// The headers of one attempt of a message.
    pub fn build(&self, t: Tag<'_>) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(self.run.clone(), t.run);
        h.insert(self.key.clone(), t.key);
        h.insert(self.seq.clone(), HeaderValue::from(t.seq));
        h.insert(self.idx.clone(), HeaderValue::from(t.idx));
        h.insert(self.conn.clone(), HeaderValue::from(t.conn));
        h.insert(self.attempt.clone(), HeaderValue::from(t.attempt));
        if let Some(id) = t.msg_id {
            h.insert(async_nats::header::NATS_MESSAGE_ID, id);
        }
        h
    }
}

/// The filler payload shared by every message (cloning `Bytes` is a reference count).
pub fn payload(size: usize) -> Bytes {
    Bytes::from(
        (0..size)
            .map(|i| b'a' + (i % 26) as u8)
            .collect::<Vec<u8>>(),
    )
}
