//! The wire format of docs/adapters.md (protocol 1): the JSON handshake's types, and the
//! per-message lines — parsed and written here, in one place, for both ends (jsbench's
//! [`Session`](super::Session) and the Rust adapter `adapters/async-nats-stdio`).
//!
//! The per-message lines are on the hot path (two or three per message at 100k+ msgs/s), so they
//! are parsed without allocating and with a strict grammar: fields separated by exactly one
//! space, decimal numbers as plain ASCII digits (no sign, at most 20 digits, no overflow). Every
//! way a line can be wrong has its own reason text ([`Malformed`]), which the error quoting the
//! line carries.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// The protocol version jsbench speaks (the init's `protocol`).
pub const PROTOCOL: u32 = 1;
/// Bytes of the tag at the start of every payload.
pub const TAG_LEN: usize = 24;

/// The init's `mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InitMode {
    Sync,
    Async,
}

impl InitMode {
    /// The feature name an adapter must list for this mode.
    pub fn feature(self) -> &'static str {
        match self {
            InitMode::Sync => "sync",
            InitMode::Async => "async",
        }
    }
}

/// The init message (docs/adapters.md "init"); serialized with `"type":"init","protocol":1`.
#[derive(Debug, Clone, Serialize)]
pub struct Init {
    pub run: String,
    /// Per connection: its URLs, primary first (through proxies when the scenario has them).
    pub connections: Vec<Vec<String>>,
    pub token: Option<String>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub stream: String,
    pub subjects: String,
    pub mode: InitMode,
    pub max_pending: u64,
    pub ack_timeout_ms: u64,
    pub msg_id: bool,
    pub payload_size: usize,
    /// Lowercase hex of the payload's bytes after the tag.
    pub filler: String,
}

/// What jsbench writes: the init with its type and protocol first.
#[derive(Serialize)]
struct InitLine<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    protocol: u32,
    #[serde(flatten)]
    init: &'a Init,
}

impl Init {
    /// The init as one line, newline included.
    pub fn to_line(&self) -> String {
        let mut s = serde_json::to_string(&InitLine {
            kind: "init",
            protocol: PROTOCOL,
            init: self,
        })
        .expect("an Init always serializes");
        s.push('\n');
        s
    }

    /// The init as an adapter reads it (the Rust adapter uses this), checking type and protocol.
    pub fn from_line(line: &str) -> Result<InitIn, String> {
        let v: InitIn = serde_json::from_str(line).map_err(|e| format!("not an init: {e}"))?;
        if v.kind != "init" {
            return Err(format!("type {:?}, expected \"init\"", v.kind));
        }
        if v.protocol != PROTOCOL {
            return Err(format!(
                "protocol {} is not supported (this adapter speaks {PROTOCOL})",
                v.protocol
            ));
        }
        Ok(v)
    }
}

/// The init as read by an adapter (unknown fields ignored, as the doc asks).
#[derive(Debug, Clone, Deserialize)]
pub struct InitIn {
    #[serde(rename = "type")]
    pub kind: String,
    pub protocol: u32,
    pub run: String,
    pub connections: Vec<Vec<String>>,
    pub token: Option<String>,
    pub user: Option<String>,
    pub password: Option<String>,
    pub stream: String,
    pub subjects: String,
    pub mode: InitMode,
    pub max_pending: u64,
    pub ack_timeout_ms: u64,
    pub msg_id: bool,
    pub payload_size: usize,
    pub filler: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameVersion {
    pub name: String,
    pub version: String,
}

/// The adapter's `init_ok`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    pub client: NameVersion,
    pub adapter: NameVersion,
    pub features: Vec<String>,
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
}

impl Hello {
    pub fn has(&self, feature: &str) -> bool {
        self.features.iter().any(|f| f == feature)
    }

    /// The `init_ok` line, newline included.
    pub fn to_line(&self) -> String {
        #[derive(Serialize)]
        struct Line<'a> {
            #[serde(rename = "type")]
            kind: &'static str,
            #[serde(flatten)]
            hello: &'a Hello,
        }
        let mut s = serde_json::to_string(&Line {
            kind: "init_ok",
            hello: self,
        })
        .expect("a Hello always serializes");
        s.push('\n');
        s
    }
}

/// The answer to init, as jsbench reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitAnswer {
    Ok(Hello),
    Error(String),
}

/// Parses the answer to init; `Err` says why it is neither a valid `init_ok` nor an `error`.
pub fn parse_init_answer(line: &str) -> Result<InitAnswer, String> {
    #[derive(Deserialize)]
    struct Head {
        #[serde(rename = "type")]
        kind: String,
    }
    #[derive(Deserialize)]
    struct ErrorLine {
        text: String,
    }
    let head: Head =
        serde_json::from_str(line).map_err(|e| format!("not a JSON object with a type: {e}"))?;
    match head.kind.as_str() {
        "init_ok" => serde_json::from_str::<Hello>(line)
            .map(InitAnswer::Ok)
            .map_err(|e| format!("not a valid init_ok: {e}")),
        "error" => serde_json::from_str::<ErrorLine>(line)
            .map(|e| InitAnswer::Error(e.text))
            .map_err(|e| format!("not a valid error answer: {e}")),
        other => Err(format!("type {other:?}, expected \"init_ok\" or \"error\"")),
    }
}

/// The error class of an `e` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailClass {
    /// `d`: certainly not stored.
    Definite,
    /// `i`: may be stored.
    Indefinite,
}

impl FailClass {
    pub fn letter(self) -> u8 {
        match self {
            FailClass::Definite => b'd',
            FailClass::Indefinite => b'i',
        }
    }
}

/// One report, already validated, times converted to jsbench's clock (record::observe::Clock ns).
#[derive(Debug, Clone, PartialEq)]
pub enum Report {
    Sent {
        id: u64,
        t0_ns: u64,
        t1_ns: u64,
    },
    Acked {
        id: u64,
        at_ns: u64,
        seq: u64,
        duplicate: bool,
    },
    Failed {
        id: u64,
        at_ns: u64,
        class: FailClass,
        code: u32,
        kind: Arc<str>,
        text: String,
    },
}

impl Report {
    pub fn id(&self) -> u64 {
        match self {
            Report::Sent { id, .. } | Report::Acked { id, .. } | Report::Failed { id, .. } => *id,
        }
    }
}

/// One line from the adapter, as written (times on the adapter's clock), borrowed from the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line<'a> {
    Sent {
        id: u64,
        t0: u64,
        t1: u64,
    },
    Acked {
        id: u64,
        t: u64,
        seq: u64,
        dup: bool,
    },
    Failed {
        id: u64,
        t: u64,
        class: FailClass,
        code: u32,
        kind: &'a str,
        text: &'a str,
    },
    Clock {
        n: u64,
        t: u64,
    },
}

/// Why a line is malformed (docs/adapters.md "malformed line").
pub type Malformed = &'static str;

/// Parses a decimal field: ASCII digits only, 1 to 20 of them, no overflow.
#[inline]
pub fn parse_u64(field: &str) -> Option<u64> {
    let b = field.as_bytes();
    if b.is_empty() || b.len() > 20 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in b {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(d as u64)?;
    }
    Some(v)
}

/// Splits off the next field (up to one space); `None` at the end of the line.
#[inline]
fn field<'a>(rest: &mut Option<&'a str>) -> Option<&'a str> {
    let r = rest.take()?;
    match r.split_once(' ') {
        Some((f, tail)) => {
            *rest = Some(tail);
            Some(f)
        }
        None => Some(r),
    }
}

/// The next field as a number, or why not.
#[inline]
fn number(rest: &mut Option<&str>, name: Malformed) -> Result<u64, Malformed> {
    match field(rest) {
        None => Err("too few fields"),
        Some(f) => parse_u64(f).ok_or(name),
    }
}

/// Parses one line from the adapter (without its newline; a trailing `\r` is not accepted).
pub fn parse_line(line: &str) -> Result<Line<'_>, Malformed> {
    let (verb, tail) = match line.split_once(' ') {
        Some(x) => x,
        None if line.is_empty() => return Err("empty line"),
        None => return Err("a verb alone, without fields"),
    };
    let mut rest = Some(tail);
    let parsed = match verb {
        "s" => {
            let id = number(&mut rest, "id is not a decimal number")?;
            let t0 = number(&mut rest, "t0 is not a decimal number")?;
            let t1 = number(&mut rest, "t1 is not a decimal number")?;
            if t1 < t0 {
                return Err("t1 is before t0");
            }
            Line::Sent { id, t0, t1 }
        }
        "a" => {
            let id = number(&mut rest, "id is not a decimal number")?;
            let t = number(&mut rest, "t is not a decimal number")?;
            let seq = number(&mut rest, "seq is not a decimal number")?;
            let dup = match field(&mut rest) {
                Some("0") => false,
                Some("1") => true,
                Some(_) => return Err("dup is neither 0 nor 1"),
                None => return Err("too few fields"),
            };
            Line::Acked { id, t, seq, dup }
        }
        "e" => return parse_failed(rest),
        "c" => {
            let n = number(&mut rest, "probe number is not a decimal number")?;
            let t = number(&mut rest, "t is not a decimal number")?;
            Line::Clock { n, t }
        }
        _ => return Err("unknown verb (expected s, a, e or c)"),
    };
    if rest.is_some() {
        return Err("too many fields");
    }
    Ok(parsed)
}

/// `e <id> <t> <class> <code> <kind> <text…>`: the text is the rest of the line (may be empty,
/// with or without the space before it).
fn parse_failed(mut rest: Option<&str>) -> Result<Line<'_>, Malformed> {
    let id = number(&mut rest, "id is not a decimal number")?;
    let t = number(&mut rest, "t is not a decimal number")?;
    let class = match field(&mut rest) {
        Some("d") => FailClass::Definite,
        Some("i") => FailClass::Indefinite,
        Some(_) => return Err("class is neither d nor i"),
        None => return Err("too few fields"),
    };
    let code = number(&mut rest, "code is not a decimal number")?;
    let code = u32::try_from(code).map_err(|_| "code does not fit 32 bits")?;
    let kind = field(&mut rest).ok_or("too few fields")?;
    if kind.is_empty()
        || !kind
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_')
    {
        return Err("kind is not [a-z0-9_]+");
    }
    Ok(Line::Failed {
        id,
        t,
        class,
        code,
        kind,
        text: rest.unwrap_or(""),
    })
}

/// Appends `v` in decimal.
#[inline]
pub fn push_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[i..]);
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `bytes` as lowercase hex.
#[inline]
pub fn push_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    for b in bytes {
        out.push(HEX[(b >> 4) as usize]);
        out.push(HEX[(b & 15) as usize]);
    }
}

/// Lowercase hex of `bytes` (the init's `filler`).
pub fn hex(bytes: &[u8]) -> String {
    let mut v = Vec::with_capacity(bytes.len() * 2);
    push_hex(&mut v, bytes);
    String::from_utf8(v).expect("hex is ASCII")
}

/// Decodes lowercase (or uppercase) hex; `None` when it is not hex or has an odd length.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    let b = text.as_bytes();
    if !b.len().is_multiple_of(2) {
        return None;
    }
    let nib = |c: u8| -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    };
    b.chunks(2)
        .map(|p| Some(nib(p[0])? << 4 | nib(p[1])?))
        .collect()
}

/// Appends `p <id> <conn> <subject> <msgid|-> <tag>\n`. The subject and Msg-Id must hold no
/// space or line break (jsbench's never do; the caller checks what it did not make).
#[inline]
pub fn write_publish(
    out: &mut Vec<u8>,
    id: u64,
    conn: usize,
    subject: &str,
    msg_id: Option<&str>,
    tag: &[u8; TAG_LEN],
) {
    out.extend_from_slice(b"p ");
    push_u64(out, id);
    out.push(b' ');
    push_u64(out, conn as u64);
    out.push(b' ');
    out.extend_from_slice(subject.as_bytes());
    out.push(b' ');
    out.extend_from_slice(msg_id.unwrap_or("-").as_bytes());
    out.push(b' ');
    push_hex(out, tag);
    out.push(b'\n');
}

/// Appends `c <n>\n` (a clock probe).
#[inline]
pub fn write_probe(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(b"c ");
    push_u64(out, n);
    out.push(b'\n');
}

/// Whether `s` can travel as one field of a `p` line: non-empty, no space, no control character.
pub fn is_field(s: &str) -> bool {
    !s.is_empty() && !s.bytes().any(|c| c <= b' ' || c == 0x7f)
}

/// A line from jsbench, as an adapter reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command<'a> {
    Publish {
        id: u64,
        conn: usize,
        subject: &'a str,
        msg_id: Option<&'a str>,
        tag: [u8; TAG_LEN],
    },
    Probe {
        n: u64,
    },
}

/// Parses a `p` or `c` line (the adapter's side).
pub fn parse_command(line: &str) -> Result<Command<'_>, Malformed> {
    let mut rest = Some(line);
    let cmd = match field(&mut rest) {
        Some("p") => {
            let id = number(&mut rest, "id is not a decimal number")?;
            let conn = number(&mut rest, "conn is not a decimal number")? as usize;
            let subject = field(&mut rest).ok_or("too few fields")?;
            let msg_id = match field(&mut rest).ok_or("too few fields")? {
                "-" => None,
                m => Some(m),
            };
            let hex = field(&mut rest).ok_or("too few fields")?;
            let mut tag = [0u8; TAG_LEN];
            match unhex(hex) {
                Some(b) if b.len() == TAG_LEN => tag.copy_from_slice(&b),
                _ => return Err("tag is not 48 hex digits"),
            }
            if subject.is_empty() || msg_id == Some("") {
                return Err("empty field");
            }
            Command::Publish {
                id,
                conn,
                subject,
                msg_id,
                tag,
            }
        }
        Some("c") => Command::Probe {
            n: number(&mut rest, "probe number is not a decimal number")?,
        },
        _ => return Err("unknown verb (expected p or c)"),
    };
    if rest.is_some() {
        return Err("too many fields");
    }
    Ok(cmd)
}

/// Appends `s <id> <t0> <t1>\n`.
#[inline]
pub fn write_sent(out: &mut Vec<u8>, id: u64, t0: u64, t1: u64) {
    out.extend_from_slice(b"s ");
    push_u64(out, id);
    out.push(b' ');
    push_u64(out, t0);
    out.push(b' ');
    push_u64(out, t1);
    out.push(b'\n');
}

/// Appends `a <id> <t> <seq> <dup>\n`.
#[inline]
pub fn write_acked(out: &mut Vec<u8>, id: u64, t: u64, seq: u64, dup: bool) {
    out.extend_from_slice(b"a ");
    push_u64(out, id);
    out.push(b' ');
    push_u64(out, t);
    out.push(b' ');
    push_u64(out, seq);
    out.extend_from_slice(if dup { b" 1\n" } else { b" 0\n" });
}

/// Appends `e <id> <t> <class> <code> <kind> <text>\n`; line breaks in `text` become spaces.
pub fn write_failed(
    out: &mut Vec<u8>,
    id: u64,
    t: u64,
    class: FailClass,
    code: u32,
    kind: &str,
    text: &str,
) {
    out.extend_from_slice(b"e ");
    push_u64(out, id);
    out.push(b' ');
    push_u64(out, t);
    out.push(b' ');
    out.push(class.letter());
    out.push(b' ');
    push_u64(out, code as u64);
    out.push(b' ');
    out.extend_from_slice(kind.as_bytes());
    out.push(b' ');
    out.extend(
        text.bytes()
            .map(|c| if c == b'\n' || c == b'\r' { b' ' } else { c }),
    );
    out.push(b'\n');
}

/// Appends `c <n> <t>\n` (a probe's answer).
#[inline]
pub fn write_clock(out: &mut Vec<u8>, n: u64, t: u64) {
    out.extend_from_slice(b"c ");
    push_u64(out, n);
    out.push(b' ');
    push_u64(out, t);
    out.push(b'\n');
}

#[cfg(test)]
#[path = "protocol_tests.rs"]
mod tests;
