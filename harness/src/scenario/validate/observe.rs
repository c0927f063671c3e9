//! `[observe]`: the read-back of the stream after the run, and the timeline's bucket width.

use std::time::Duration;

use crate::scenario::error::Checker;
use crate::scenario::{ObservePlan, ObserveSection};

pub(super) fn validate(c: &mut Checker, s: &ObserveSection) -> ObservePlan {
    let timeline_bucket = c.duration(
        "observe.timeline_bucket",
        s.timeline_bucket.as_deref(),
        Duration::from_millis(100),
    );
    if timeline_bucket < Duration::from_millis(10) {
        c.err("observe.timeline_bucket", "must be at least 10ms");
    }
    ObservePlan {
        read_back: s.read_back.unwrap_or(true),
        timeline_bucket,
    }
}
