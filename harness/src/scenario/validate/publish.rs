//! `[publish]` and `[publish.retry]`: how the client publishes, waits for acks and retries.

use std::time::Duration;

use crate::scenario::error::Checker;
use crate::scenario::{Api, GapMode, Mode, PublishPlan, PublishSection, RetryPlan, RetrySection};

/// Batch mode: the server's default (and this harness's) limit of messages in one atomic batch.
const MAX_BATCH: usize = 1000;
/// Batch mode: the server's default limit of open atomic batches per stream.
const MAX_OPEN_BATCHES: usize = 50;
/// Fast mode: the harness's bound on messages per fast batch (the protocol has none).
const MAX_FAST_BATCH: usize = 10_000_000;
/// Fast mode: the server never asks for a flow ack less often than every 500 messages.
const MAX_FLOW: u16 = 500;
/// Fast mode: ADR-50 allows 1..=3 outstanding flow acks (2 is usually best).
const MAX_OUTSTANDING_ACKS: u16 = 3;

pub(super) fn validate(c: &mut Checker, s: &PublishSection) -> PublishPlan {
    let mode = s.mode.unwrap_or(Mode::Async);
    let max_in_flight = window(c, s, mode);
    let batch_size = batch_size(c, s, mode);
    let (flow, max_outstanding_acks, gap) = fast(c, s, mode);
    let ack_timeout = c.duration(
        "publish.ack_timeout",
        s.ack_timeout.as_deref(),
        Duration::from_secs(5),
    );
    let msg_id = s.msg_id.unwrap_or(false);
    if matches!(mode, Mode::Batch | Mode::Fast) {
        batch_only_alone(c, s, mode);
    }
    PublishPlan {
        mode,
        api: api(c, s, mode),
        max_in_flight,
        batch_size,
        flow,
        max_outstanding_acks,
        gap,
        msg_id,
        wire: s.wire.unwrap_or_default(),
        expect_last_subject_seq: s.expect_last_subject_seq.unwrap_or(false),
        ack_timeout,
        retry: s.retry.as_ref().map_or(RetryPlan::NONE, |r| retry(c, r)),
        repeat_msg_id_every: repeats(c, s.repeat_msg_id_every, msg_id),
    }
}

/// `api`: the JetStream API (default) or the lean path; the lean path publishes one message at
/// a time with its own reply subject, so it is for sync and async mode only (batch and fast mode
/// speak their own protocols). Whether the client is in-process is checked with `[client]`.
fn api(c: &mut Checker, s: &PublishSection, mode: Mode) -> Api {
    let api = s.api.unwrap_or_default();
    if api == Api::Lean && matches!(mode, Mode::Batch | Mode::Fast) {
        c.err(
            "publish.api",
            format!(
                "\"lean\" is for mode = \"sync\" or \"async\" (got mode = \"{}\", which has \
                 its own protocol); allowed with this mode: \"jetstream\"",
                mode.as_str()
            ),
        );
    }
    api
}

/// `max_in_flight`: 1 in sync mode; acks in flight in async mode; batches awaiting their commit
/// in batch mode (the server keeps at most 50 open batches per stream); not used in fast mode
/// (one fast batch at a time, paced by `flow` and `max_outstanding_acks`).
fn window(c: &mut Checker, s: &PublishSection, mode: Mode) -> usize {
    let field = "publish.max_in_flight";
    match mode {
        Mode::Sync => {
            if let Some(v) = s.max_in_flight.filter(|v| *v != 1) {
                c.err(
                    field,
                    format!("is 1 in sync mode (got {v}); remove it or use mode = \"async\""),
                );
            }
            1
        }
        Mode::Async => c.range(field, s.max_in_flight, 10_000, 1, 1_000_000) as usize,
        Mode::Batch => c.range(field, s.max_in_flight, 4, 1, MAX_OPEN_BATCHES as i64) as usize,
        Mode::Fast => {
            if s.max_in_flight.is_some() {
                c.err(
                    field,
                    "is not used in mode = \"fast\" (one fast batch at a time, paced by \
                     publish.flow and publish.max_outstanding_acks); remove it",
                );
            }
            1
        }
    }
}

/// `batch_size`: messages per atomic batch, 1 to the server's limit of 1000 (batch mode), or per
/// fast batch, each committed at its end before the next starts (fast mode).
fn batch_size(c: &mut Checker, s: &PublishSection, mode: Mode) -> Option<usize> {
    let field = "publish.batch_size";
    match mode {
        Mode::Batch => Some(c.range(field, s.batch_size, 100, 1, MAX_BATCH as i64) as usize),
        Mode::Fast => Some(c.range(field, s.batch_size, 10_000, 1, MAX_FAST_BATCH as i64) as usize),
        Mode::Sync | Mode::Async => {
            if s.batch_size.is_some() {
                c.err(
                    field,
                    "is for mode = \"batch\" or \"fast\" only; remove it or set the mode",
                );
            }
            None
        }
    }
}

/// `flow`, `max_outstanding_acks` and `gap`: fast mode only. The server never acks less often
/// than every 500 messages; ADR-50 allows 1..=3 outstanding flow acks.
fn fast(
    c: &mut Checker,
    s: &PublishSection,
    mode: Mode,
) -> (Option<u16>, Option<u16>, Option<GapMode>) {
    if mode != Mode::Fast {
        let given = [
            ("publish.flow", s.flow.is_some()),
            (
                "publish.max_outstanding_acks",
                s.max_outstanding_acks.is_some(),
            ),
            ("publish.gap", s.gap.is_some()),
        ];
        for (field, _) in given.iter().filter(|(_, g)| *g) {
            c.err(
                field,
                "is for mode = \"fast\" only; remove it or set the mode",
            );
        }
        return (None, None, None);
    }
    let flow = c.range("publish.flow", s.flow, 100, 1, MAX_FLOW as i64) as u16;
    let outstanding = c.range(
        "publish.max_outstanding_acks",
        s.max_outstanding_acks,
        2,
        1,
        MAX_OUTSTANDING_ACKS as i64,
    ) as u16;
    (
        Some(flow),
        Some(outstanding),
        Some(s.gap.unwrap_or(GapMode::Fail)),
    )
}

/// What batch and fast mode cannot do: retry (a retried batch whose commit ack was lost is
/// refused as a duplicate or stored twice; a fast batch's messages have no ack of their own to
/// retry on), the per-key guard (a key would need one message per batch), and deliberate repeats.
fn batch_only_alone(c: &mut Checker, s: &PublishSection, mode: Mode) {
    if s.retry
        .as_ref()
        .is_some_and(|r| r.attempts.unwrap_or(3) > 1)
    {
        let why = match mode {
            Mode::Fast => {
                "fast mode does not retry (a fast batch acks ranges of messages, not each one, \
                 and a message sent again would be a new batch member stored twice); remove \
                 [publish.retry]"
            }
            _ => {
                "batch mode does not retry batches (a retried batch whose commit ack was lost \
                 is refused as a duplicate, or stored twice without Msg-Ids); remove \
                 [publish.retry]"
            }
        };
        c.err("publish.retry", why);
    }
    if s.expect_last_subject_seq == Some(true) {
        c.err(
            "publish.expect_last_subject_seq",
            "is for mode = \"sync\" or \"async\" (it needs each key's previous ack)",
        );
    }
    if s.repeat_msg_id_every.is_some() {
        c.err(
            "publish.repeat_msg_id_every",
            "is for mode = \"sync\" or \"async\"",
        );
    }
}

/// `repeat_msg_id_every`: a repeat of every N-th message with the same Msg-Id; needs Msg-Ids.
fn repeats(c: &mut Checker, every: Option<i64>, msg_id: bool) -> Option<u32> {
    let field = "publish.repeat_msg_id_every";
    let n = every.map(|_| c.range(field, every, 10, 1, 1_000_000) as u32)?;
    if !msg_id {
        c.err(
            field,
            "repeats a message's Msg-Id, so it needs publish.msg_id = true",
        );
    }
    Some(n)
}

/// `[publish.retry]`: without the table, no retries.
fn retry(c: &mut Checker, r: &RetrySection) -> RetryPlan {
    let attempts = c.range("publish.retry.attempts", r.attempts, 3, 1, 100) as u32;
    let backoff = c.duration0(
        "publish.retry.backoff",
        r.backoff.as_deref(),
        Duration::from_millis(100),
    );
    let max_backoff = c.duration0(
        "publish.retry.max_backoff",
        r.max_backoff.as_deref(),
        Duration::from_secs(5).max(backoff),
    );
    if max_backoff < backoff {
        c.err(
            "publish.retry.max_backoff",
            "must be at least publish.retry.backoff",
        );
    }
    RetryPlan {
        attempts,
        backoff,
        max_backoff,
        on_in_process: r.on_in_process.unwrap_or_default(),
    }
}
