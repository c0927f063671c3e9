//! The message format on the wire: subjects, the tag that identifies every attempt of every
//! message (run, key, per-key sequence, publish index, connection, attempt; see README "Message
//! format"), and the filler payload. The read-back and the consume side decode it.
//!
//! Two formats, chosen by `publish.wire`:
//! - `payload` (default): a 24-byte binary tag at the start of the payload, filler after it, so
//!   a message has exactly the payload size the scenario names and no headers unless the
//!   application's own `Nats-Msg-Id` is on. Six headers cost about a quarter of the
//!   throughput and twice the client CPU of a 128-byte message (issue 14): a harness that
//!   measures with them measures itself.
//! - `headers`: the six `Jsb-*` text headers, for streams other tools inspect.

use std::str::FromStr;

use crate::hash::fnv1a;
use crate::scenario::{Wire, TAG_LEN};
use async_nats::header::{HeaderName, HeaderValue};
use async_nats::HeaderMap;
use bytes::{Bytes, BytesMut};

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

/// The payload tag's first four bytes: "JSB" and the format's version.
pub const TAG_MAGIC: [u8; 4] = *b"JSB1";
// The layout below fills the tag exactly. Its size is the scenario's (`scenario::TAG_LEN`),
// because validation holds payloads to it; this stops the two from drifting apart.
const _: () = assert!(TAG_LEN == TAG_MAGIC.len() + 4 * 4 + 2 * 2);

/// The run id as the payload tag carries it: the id's eight hex digits as a number (any other
/// id, which jsbench does not make, by its FNV-1a hash).
pub fn run_tag(run_id: &str) -> u32 {
    match u32::from_str_radix(run_id, 16) {
        Ok(v) if run_id.len() == 8 => v,
        _ => fnv1a(run_id.as_bytes()) as u32,
    }
}

/// What identifies one attempt of one message on the wire.
#[derive(Debug, Clone)]
pub struct Tag<'a> {
    /// The run id (`Jsb-Run`).
    pub run: &'a str,
    /// The aggregate key's number (the payload tag) and name (`Jsb-Key`, the subject's last token).
    pub key: u32,
    pub key_name: &'a str,
    /// The message's sequence within its key, from 1 (`Jsb-Seq`).
    pub seq: u32,
    /// The global publish index, from 0 (`Jsb-Idx`).
    pub idx: u32,
    /// The connection that carries it (`Jsb-Conn`).
    pub conn: usize,
    /// 1 for the first try, 0 for a deliberate repeat (`Jsb-Attempt`).
    pub attempt: u32,
    /// `Nats-Msg-Id`, when dedup is on: a real header in both formats, as applications send it.
    pub msg_id: Option<String>,
}

impl Tag<'_> {
    /// The payload tag's bytes. Layout, all integers big-endian:
    /// `magic[4] run:u32 idx:u32 key:u32 seq:u32 conn:u16 attempt:u16`.
    #[inline]
    pub fn encode(&self) -> [u8; TAG_LEN] {
        let mut b = [0u8; TAG_LEN];
        b[0..4].copy_from_slice(&TAG_MAGIC);
        b[4..8].copy_from_slice(&run_tag(self.run).to_be_bytes());
        b[8..12].copy_from_slice(&self.idx.to_be_bytes());
        b[12..16].copy_from_slice(&self.key.to_be_bytes());
        b[16..20].copy_from_slice(&self.seq.to_be_bytes());
        b[20..22].copy_from_slice(&(self.conn as u16).to_be_bytes());
        b[22..24].copy_from_slice(&(self.attempt as u16).to_be_bytes());
        b
    }
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
    /// The six `Jsb-*` headers of one attempt of a message (and its Msg-Id, if any).
    pub fn build(&self, t: Tag<'_>) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(self.run.clone(), t.run);
        h.insert(self.key.clone(), t.key_name);
        h.insert(self.seq.clone(), HeaderValue::from(t.seq as u64));
        h.insert(self.idx.clone(), HeaderValue::from(t.idx as u64));
        h.insert(self.conn.clone(), HeaderValue::from(t.conn));
        h.insert(self.attempt.clone(), HeaderValue::from(t.attempt));
        if let Some(id) = t.msg_id {
            h.insert(async_nats::header::NATS_MESSAGE_ID, id);
        }
        h
    }
}

/// Gives every attempt its payload and headers in the scenario's wire format: the publisher's
/// per-message hot path, so payloads are cut from a shared buffer (one allocation per
/// [`CHUNK`], not per message).
#[derive(Debug)]
pub struct Tagger {
    wire: Wire,
    filler: Bytes,
    hb: HeaderBuilder,
    buf: BytesMut,
}

/// Bytes the tagger allocates at a time for payloads.
const CHUNK: usize = 256 * 1024;

impl Tagger {
    /// `payload_size` is the whole payload (tag included): at least [`TAG_LEN`] with the
    /// payload tag (the scenario checks it), any size with headers.
    pub fn new(wire: Wire, payload_size: usize) -> Tagger {
        Tagger {
            wire,
            filler: payload(payload_size),
            hb: HeaderBuilder::default(),
            buf: BytesMut::new(),
        }
    }

    /// The payload and headers of one attempt.
    #[inline]
    pub fn tag(&mut self, t: Tag<'_>) -> (Bytes, Option<HeaderMap>) {
        match self.wire {
            Wire::Headers => (self.filler.clone(), Some(self.hb.build(t))),
            Wire::Payload => {
                let n = self.filler.len().max(TAG_LEN);
                if self.buf.capacity() < n {
                    self.buf.reserve(CHUNK.max(n));
                }
                self.buf.extend_from_slice(&t.encode());
                self.buf
                    .extend_from_slice(self.filler.get(TAG_LEN..).unwrap_or_default());
                let headers = t.msg_id.map(|id| {
                    let mut h = HeaderMap::new();
                    h.insert(async_nats::header::NATS_MESSAGE_ID, id);
                    h
                });
                (self.buf.split().freeze(), headers)
            }
        }
    }
}

/// What a reader learns from a stored or delivered message of its run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ident {
    /// The publish index.
    pub idx: u32,
    /// FNV-1a of the key's name (the keyed consume pool's worker choice).
    pub key_hash: u64,
    /// The key's number (the tag's key field, or `Jsb-Key` "k<n>"): the streaming checkers'
    /// per-key figures while the run goes on.
    pub key: u32,
    /// Which attempt this copy came from (0: a deliberate repeat).
    pub attempt: u8,
}

/// Decodes the tag of one run's messages, in the run's wire format.
#[derive(Debug, Clone)]
pub struct Reader {
    wire: Wire,
    run_id: String,
    run: u32,
}

impl Reader {
    pub fn new(wire: Wire, run_id: &str) -> Reader {
        Reader {
            wire,
            run_id: run_id.to_string(),
            run: run_tag(run_id),
        }
    }

    /// True when the tag travels in the payload (a reader must fetch payloads, not headers only).
    pub fn in_payload(&self) -> bool {
        self.wire == Wire::Payload
    }

    /// The message's identity, when it is one of this run's.
    pub fn identify(&self, headers: Option<&HeaderMap>, payload: &[u8]) -> Option<Ident> {
        match self.wire {
            Wire::Payload => self.read_payload(payload),
            Wire::Headers => self.read_headers(headers?),
        }
    }

    fn read_payload(&self, p: &[u8]) -> Option<Ident> {
        let tag = p.get(..TAG_LEN)?;
        let u32_at = |i: usize| u32::from_be_bytes([tag[i], tag[i + 1], tag[i + 2], tag[i + 3]]);
        if tag[0..4] != TAG_MAGIC || u32_at(4) != self.run {
            return None;
        }
        let attempt = u16::from_be_bytes([tag[22], tag[23]]);
        Some(Ident {
            idx: u32_at(8),
            key: u32_at(12),
            key_hash: key_hash(u32_at(12)),
            attempt: attempt.min(u8::MAX as u16) as u8,
        })
    }

    fn read_headers(&self, h: &HeaderMap) -> Option<Ident> {
        if h.get(H_RUN)?.as_str() != self.run_id {
            return None;
        }
        let idx = h.get(H_IDX)?.as_str().parse::<u32>().ok()?;
        let key = h.get(H_KEY)?.as_str();
        let attempt = h
            .get(H_ATTEMPT)
            .and_then(|v| v.as_str().parse::<u8>().ok())
            .unwrap_or(1);
        Some(Ident {
            idx,
            key: key.strip_prefix('k')?.parse().ok()?,
            key_hash: fnv1a(key.as_bytes()),
            attempt,
        })
    }
}

/// FNV-1a of key `k`'s name ([`key_name`]) without building the string.
pub fn key_hash(k: u32) -> u64 {
    let mut digits = [0u8; 11];
    digits[0] = b'k';
    let mut n = 1;
    let mut rest = k;
    let mut rev = [0u8; 10];
    let mut m = 0;
    loop {
        rev[m] = b'0' + (rest % 10) as u8;
        m += 1;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    while m > 0 {
        m -= 1;
        digits[n] = rev[m];
        n += 1;
    }
    fnv1a(&digits[..n])
}

/// The filler payload shared by every message (cloning `Bytes` is a reference count).
pub fn payload(size: usize) -> Bytes {
    Bytes::from(
        (0..size)
            .map(|i| b'a' + (i % 26) as u8)
            .collect::<Vec<u8>>(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(run: &str, msg_id: Option<String>) -> Tag<'_> {
        Tag {
            run,
            key: 1234,
            key_name: "k1234",
            seq: 7,
            idx: 99_999,
            conn: 3,
            attempt: 2,
            msg_id,
        }
    }

    #[test]
    fn the_payload_tag_round_trips_and_keeps_the_payload_size() {
        let mut t = Tagger::new(Wire::Payload, 128);
        let (payload, headers) = t.tag(tag("0badc0de", None));
        assert_eq!(payload.len(), 128);
        assert!(headers.is_none(), "no headers without a Msg-Id");
        assert_eq!(&payload[..4], b"JSB1");
        assert_eq!(&payload[4..8], &0x0bad_c0de_u32.to_be_bytes());
        let got = Reader::new(Wire::Payload, "0badc0de").identify(None, &payload);
        assert_eq!(
            got,
            Some(Ident {
                idx: 99_999,
                key: 1234,
                key_hash: fnv1a_of("k1234"),
                attempt: 2
            })
        );
        // Another run's reader does not claim it.
        assert_eq!(
            Reader::new(Wire::Payload, "0badc0df").identify(None, &payload),
            None
        );
        // A second payload from the same buffer is its own.
        let (second, _) = t.tag(tag("0badc0de", None));
        assert_eq!(second.len(), 128);
        assert_eq!(payload, second);
    }

    #[test]
    fn a_msg_id_stays_a_real_header_with_the_payload_tag() {
        let mut t = Tagger::new(Wire::Payload, 24);
        let (payload, headers) = t.tag(tag("0badc0de", Some("id-1".into())));
        assert_eq!(payload.len(), TAG_LEN);
        let h = headers.expect("Nats-Msg-Id header");
        assert_eq!(
            h.get(async_nats::header::NATS_MESSAGE_ID).unwrap().as_str(),
            "id-1"
        );
        assert!(h.get(H_RUN).is_none());
    }

    #[test]
    fn the_header_format_round_trips() {
        let mut t = Tagger::new(Wire::Headers, 16);
        let (payload, headers) = t.tag(tag("0badc0de", None));
        assert_eq!(payload.len(), 16);
        let h = headers.expect("headers");
        assert_eq!(h.get(H_KEY).unwrap().as_str(), "k1234");
        assert_eq!(h.get(H_SEQ).unwrap().as_str(), "7");
        let got = Reader::new(Wire::Headers, "0badc0de").identify(Some(&h), &payload);
        assert_eq!(got.map(|i| (i.idx, i.attempt)), Some((99_999, 2)));
        assert_eq!(got.unwrap().key_hash, key_hash(1234));
    }

    #[test]
    fn key_hash_is_the_hash_of_the_key_name() {
        for k in [0, 1, 9, 10, 99, 1234, u32::MAX] {
            assert_eq!(key_hash(k), fnv1a_of(&key_name(k)));
        }
    }

    fn fnv1a_of(s: &str) -> u64 {
        crate::hash::fnv1a(s.as_bytes())
    }
}
