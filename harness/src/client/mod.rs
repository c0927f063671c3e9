//! The client (Jepsen's word): publishes the workload through async-nats' JetStream API, the way
//! an application does, and records what happens to every message.
//!
//! Sync mode awaits each ack before the next publish. Async mode keeps up to `max_in_flight` ack
//! futures in a `FuturesUnordered` (the usual application pattern), so "completion order" is the
//! order that collection yields them. "Wire order" — the order ack replies reach the client — is
//! observed without an extra subscription: each ack future is polled through a tap whose waker
//! takes an arrival rank from a shared counter at the moment the client's connection task hands
//! the reply to the future (one atomic add). That moment is in socket order, so the ranks give
//! wire order even when the application completes futures in another order.
//!
//! This folder owns the publishing side of a run:
//! - here: [`Publisher`] (what a phase publishes, and how), [`Limit`], [`Stop`];
//! - `run.rs`: one phase end to end (the mode's loop, then the end of publishing, the drain);
//! - `phase.rs`: the phase's state and bound, the steps every loop shares, and the loop of sync
//!   and async mode (pacing, retries first, the drain at the end);
//! - `send.rs`: one attempt on the wire and its outcome (the per-message hot path);
//! - `ack.rs`: the wire tap on ack futures;
//! - `inflight.rs`: the attempts in flight on either publish path (ack futures, or the lean
//!   window);
//! - [`lean`]: the lean publish path (`publish.api = "lean"`): core publishes under one
//!   wildcard reply subscription per connection, acks read in wire order;
//! - `retry.rs`: the retry queue and its backoff;
//! - `guard.rs`: the per-key sequence guard (`publish.expect_last_subject_seq`);
//! - [`batch`]: batch mode — the atomic batch protocol and its phase loop;
//! - [`fast`]: fast mode — the fast-ingest protocol and its phase loop;
//! - [`adapter`]: sync and async mode through an adapter program (docs/adapters.md): the same
//!   phase, each attempt a line to the adapter and its outcome the adapter's report;
//! - [`pool`]: the connections and which one carries a message.

mod ack;
pub mod adapter;
pub mod batch;
pub mod fast;
mod guard;
mod inflight;
pub mod lean;
mod phase;
pub mod pool;
mod retry;
mod run;
mod send;

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::{self, context::PublishErrorKind};
use tokio::sync::watch;

use crate::cancel::Cancel;
use crate::client::pool::Router;
use crate::record::observe::{Progress, WireTap};
use crate::scenario::{Api, GapMode, Mode, RetryPlan, Wire};
use crate::workload::{Pacer, Subjects};

/// How a phase is bounded.
#[derive(Debug, Clone, Copy)]
pub enum Limit {
    Messages(u64),
    /// Publish until the duration has elapsed, but never more than `max` messages.
    Duration {
        duration: Duration,
        max: u64,
    },
}

/// Why a phase stopped publishing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// All planned messages were published.
    Done,
    /// The duration elapsed.
    Elapsed,
    /// A duration-bound run hit its message bound first.
    MaxMessages,
    /// Cancelled from outside (Ctrl-C).
    Cancelled,
    /// The client could not even queue messages any more (e.g. it gave up reconnecting to a
    /// server that died); publishing on would only spin through failures.
    ClientFailed(String),
}

/// Everything the publisher needs; borrowed from the runner.
pub struct Publisher<'a> {
    pub contexts: &'a [jetstream::Context],
    /// The connections' core clients (the lean path publishes and subscribes on them).
    pub clients: &'a [async_nats::Client],
    /// Which path sync and async mode publish through (`publish.api`).
    pub api: Api,
    pub router: &'a Router,
    pub subjects: &'a Subjects,
    pub run_id: &'a str,
    pub key_names: &'a [String],
    /// Where each message's tag travels, and the payload's size (tag included).
    pub wire: Wire,
    pub payload_size: usize,
    pub mode: Mode,
    /// Acks in flight (async), or batches awaiting their commit (batch); 1 in fast mode.
    pub window: usize,
    /// Messages per atomic batch (batch mode) or per fast batch (fast mode).
    pub batch_size: usize,
    /// Fast mode: the ack interval asked of the server, the flow acks that may be outstanding,
    /// and what a missing message does to the batch.
    pub flow: u16,
    pub max_outstanding_acks: u16,
    pub gap: GapMode,
    /// How long a batch waits for a reply (the JetStream contexts carry it for the others).
    pub ack_timeout: Duration,
    pub msg_id: bool,
    /// Every message expects its key's subject to end at the key's previous message
    /// (`publish.expect_last_subject_seq`); see `guard.rs`.
    pub expect_last_subject_seq: bool,
    pub pacer: Pacer,
    pub tap: Arc<WireTap>,
    pub cancel: &'a Cancel,
    pub progress: Option<&'a Progress>,
    /// What to do when an attempt fails or times out.
    pub retry: RetryPlan,
    /// Set to true when publishing stops (before the drain): the nemesis heals its faults then.
    pub stopped: Option<&'a watch::Sender<bool>>,
    /// Every N-th message is followed at once by a repeat of it with the same Msg-Id (the
    /// attempt numbered 0: a deliberate second publish, not a retry).
    pub repeat_every: Option<u32>,
}

/// A short, stable name for an error kind (result.json `errors`).
pub fn error_kind_name(kind: PublishErrorKind) -> &'static str {
    match kind {
        // async-nats reports a publish answered "no responders" (503) as StreamNotFound; on a
        // cluster that is what a leader election looks like (a real missing stream is an error
        // reply, err_code 10059).
        PublishErrorKind::StreamNotFound => "no_responders",
        PublishErrorKind::WrongLastMessageId => "wrong_last_message_id",
        PublishErrorKind::WrongLastSequence => "wrong_last_sequence",
        PublishErrorKind::TimedOut => "timed_out",
        PublishErrorKind::BrokenPipe => "broken_pipe",
        PublishErrorKind::MaxAckPending => "max_ack_pending",
        PublishErrorKind::MaxPayloadExceeded => "max_payload_exceeded",
        _ => "other",
    }
}

/// JetStream's err_code for "duplicate message id is in process".
pub const DUPLICATE_IN_PROCESS: u32 = 10158;
/// The status of a request nobody answered.
pub const NO_RESPONDERS: u32 = 503;

/// The code of an error reply: its JetStream `err_code`, [`NO_RESPONDERS`], or 0 when the
/// error was not a reply (a timeout, a broken connection).
pub fn reply_code(e: &async_nats::jetstream::context::PublishError) -> u32 {
    if e.kind() == PublishErrorKind::StreamNotFound {
        return NO_RESPONDERS;
    }
    std::error::Error::source(e)
        .and_then(|s| s.downcast_ref::<async_nats::jetstream::Error>())
        .map_or(0, |j| j.error_code().0 as u32)
}

/// The name an error gets in `errors`: its kind, or for the JetStream error replies that
/// matter to a publisher, what they mean.
pub fn error_name(kind: PublishErrorKind, code: u32) -> &'static str {
    match code {
        DUPLICATE_IN_PROCESS => "duplicate_in_process",
        _ => error_kind_name(kind),
    }
}
