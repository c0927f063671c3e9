//! `[publish]` and `[publish.retry]`: how the client publishes, waits for acks and retries.

use std::time::Duration;

use crate::scenario::error::Checker;
use crate::scenario::{Mode, PublishPlan, PublishSection, RetryPlan, RetrySection};

pub(super) fn validate(c: &mut Checker, s: &PublishSection) -> PublishPlan {
    let mode = s.mode.unwrap_or(Mode::Async);
    let max_in_flight = if mode == Mode::Sync {
        if let Some(v) = s.max_in_flight.filter(|v| *v != 1) {
            c.err(
                "publish.max_in_flight",
                format!("is 1 in sync mode (got {v}); remove it or use mode = \"async\""),
            );
        }
        1
    } else {
        c.range(
            "publish.max_in_flight",
            s.max_in_flight,
            10_000,
            1,
            1_000_000,
        ) as usize
    };
    let ack_timeout = c.duration(
        "publish.ack_timeout",
        s.ack_timeout.as_deref(),
        Duration::from_secs(5),
    );
    let msg_id = s.msg_id.unwrap_or(false);
    PublishPlan {
        mode,
        max_in_flight,
        msg_id,
        ack_timeout,
        retry: s.retry.as_ref().map_or(RetryPlan::NONE, |r| retry(c, r)),
        repeat_msg_id_every: repeats(c, s.repeat_msg_id_every, msg_id),
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
