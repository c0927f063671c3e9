//! Batch mode (`mode = "batch"`): the atomic batch protocol (ADR-50, nats-server 2.12+) and the
//! phase loop that drives it.
//!
//! Every message of a batch carries `Nats-Batch-Id` (at most 64 characters) and
//! `Nats-Batch-Sequence` (1, 2, 3, … without gaps); the last one also `Nats-Batch-Commit: 1`.
//! The server stages the messages and stores all of them at the commit, in batch order at
//! consecutive stream sequences, or none. The commit's reply is a PubAck with two more fields,
//! `{"stream","seq" (the last message's),"batch","count"}`. A batch that sees no message for the
//! server's batch timeout (10 s) is abandoned: nothing of it is stored. Batches committed
//! concurrently (`max_in_flight` > 1) are independent: nothing orders one against another.
//!
//! This folder owns batch mode, one concern a file, the loop apart from the protocol:
//! - `wire.rs`: the protocol as pure functions — the batch headers, the replies read;
//! - `publisher.rs`: one batch on the wire (send in order, await the staged and commit replies);
//! - `error.rs`: [`BatchFailure`], what it says about the batch's messages, its names and codes;
//! - `phase.rs`: the phase loop of batch mode (batches in flight, each one recorded).
//!
//! Facts checked against nats-server 2.15.1 are in the tests (`tests/publish_modes.rs`, and the
//! recorded replies of `wire.rs`).

mod error;
mod phase;
mod publisher;
mod wire;

pub use error::{codes, BatchFailure};
pub use publisher::{publish, publish_uncommitted};
pub use wire::{commit_ack, staged, stamp, Committed, Staged, MAX_BATCH_ID_LEN};
