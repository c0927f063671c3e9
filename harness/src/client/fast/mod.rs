//! Fast mode (`mode = "fast"`): the fast-ingest batch protocol (ADR-50 "Fast-ingest Batch
//! Publishing", nats-server 2.14+) and the phase loop that drives it.
//!
//! * Every message of a batch is a plain `PUB` whose reply subject carries the control state:
//!   `<inbox>.<flow>.<gap: ok|fail>.<batch seq>.<op>.$FI`, where the inbox's last token is the
//!   batch id (at most 64 characters) and op is 0 start (seq 1), 1 append, 2 commit storing this
//!   message, 3 commit without storing it (EOB, seq = last + 1), 4 ping (seq = highest sent).
//!   jsbench ends every batch with EOB.
//! * The client subscribes to `<inbox>.>`; the server answers there, on the reply subject of the
//!   message that triggered the answer:
//!   - `{"type":"ack","seq":N,"msgs":M}` flow ack: batch seqs up to N are persisted (gap `fail`:
//!     all of them; gap `ok`: all but reported gaps and errors); the next one comes M messages
//!     later. The start message's reply is `{"type":"ack","seq":0,"msgs":M}`, sent before message
//!     1 is stored; a ping is answered with the latest flow ack. The server adapts M (never above
//!     the requested flow, nor 500).
//!   - `{"type":"gap","last_seq":A,"seq":B}`: batch seqs `A..B` never reached the stream. Gap
//!     `fail`: the server ends the batch before B and sends the final ack; `ok`: B is stored.
//!   - `{"type":"err","seq":N,"error":{..}}`: message N failed a per-message check; gap `fail`
//!     ends the batch there (and sends the final ack).
//!   - the final pub ack `{"stream","seq" (stream seq of the last stored message),"batch","count"
//!     (last batch seq taken into the batch)}` after commit/EOB, or when the server ended it.
//!   - pub-ack shaped errors `{"error":{"code","err_code","description"},"stream","seq":0}`:
//!     10205 not enabled on the stream, 10206 bad pattern, 10207 bad id, 10208 unknown batch
//!     (anything sent after the batch ended, e.g. a second EOB, or after the server abandoned it
//!     at its 10 s batch timeout), 10211 too many batches in flight, 10167 (429) the stream's
//!     ingest queue dropped this one message (the gap is reported at the next one).
//!   - a server that does not know fast ingest stores message 1 as an ordinary message and
//!     answers with a plain pub ack; that is found out at the start reply.
//! * Flow acks carry batch sequences only; the only stream sequence the protocol gives is the
//!   final ack's. Per-message stream sequences are derived by counting back from it
//!   ([`FastSummary::stream_seq`]): valid while nobody else writes to the stream during the batch
//!   and no message is a `Nats-Msg-Id` duplicate (the server skips those silently).
//!
//! This folder owns fast mode, one concern a file, the loop apart from the protocol:
//! - `wire.rs`: the protocol as pure functions — reply subjects out, [`Reply`] events in;
//! - `session.rs`: one batch's protocol state and every decision on it (flow control, how to
//!   end, what to re-send), without a socket;
//! - `publisher.rs`: [`FastPublisher`], the socket side of a session (sends, waits, pings);
//! - `summary.rs`: what the server said about a batch ([`FastSummary`]), each message's fate,
//!   and the run's fast-ingest figures;
//! - `error.rs`: error replies, their codes and names, [`FastError`];
//! - `phase.rs`: the phase loop of fast mode (batches in turn, each message recorded);
//! - `tests.rs`: the protocol replayed on replies recorded from nats-server 2.15.1
//!   (`recorded.rs`).

mod error;
mod phase;
mod publisher;
mod session;
mod summary;
mod wire;

#[cfg(test)]
mod recorded;
#[cfg(test)]
mod tests;

pub use error::{code_name, codes, ApiError, BatchError, ErrorKind, FastError};
pub use publisher::{FastOptions, FastPublisher};
pub use session::{EndStep, Session};
pub use summary::{FastEnd, FastSummary, FinalAck, FlowAck, Gap, MsgEnd, MsgFate};
pub use wire::{parse_subject, read_reply, Op, Reply, ReplyPrefix};
