//! `[observe]`: the read-back of the stream, the follower that reads it while the run goes on,
//! and the timeline's bucket width.

use std::time::Duration;

use crate::scenario::error::Checker;
use crate::scenario::{Amount, Follow, ObservePlan, ObserveSection, Overrides};

/// `amount`: the run's length (after `--messages` / `--duration`), which `follow = "auto"` is
/// resolved against.
pub(super) fn validate(
    c: &mut Checker,
    s: &ObserveSection,
    o: &Overrides,
    amount: Amount,
) -> ObservePlan {
    let timeline_bucket = c.duration(
        "observe.timeline_bucket",
        s.timeline_bucket.as_deref(),
        Duration::from_millis(100),
    );
    if timeline_bucket < Duration::from_millis(10) {
        c.err("observe.timeline_bucket", "must be at least 10ms");
    }
    let read_back = s.read_back.unwrap_or(true);
    let follow = o.follow.or(s.follow).unwrap_or(Follow::Auto);
    if follow == Follow::On && !read_back {
        c.err(
            "observe.follow",
            "\"on\" needs observe.read_back = true (the follower is the read-back, done while \
             the run goes on); allowed here: auto, off",
        );
    }
    ObservePlan {
        read_back,
        follow,
        following: read_back && resolve(follow, amount),
        cross_check: o.cross_check,
        timeline_bucket,
    }
}

/// Whether a run of `amount` follows its stream under `follow`.
fn resolve(follow: Follow, amount: Amount) -> bool {
    match follow {
        Follow::On => true,
        Follow::Off => false,
        Follow::Auto => match amount {
            Amount::Duration(d) => d >= Follow::AUTO_DURATION,
            Amount::Messages(n) => n >= Follow::AUTO_MESSAGES,
        },
    }
}
