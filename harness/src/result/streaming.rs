//! `streaming` in result.json: how a run that followed its stream (`observe.follow`) read it,
//! where its storage figures come from, and whether they agree with the end-of-run checkers
//! when both were computed.

use serde::{Deserialize, Serialize};

use crate::record::follow::FollowCheck;

/// Where a following run's storage figures (storage order, safety, the read-back part of the
/// retry figures) come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FiguresFrom {
    /// The streaming checkers, fed as the follower read: nothing per message was kept.
    Follower,
    /// The end-of-run checkers over the follower's spill file loaded at the end: the run's
    /// checkers need every message (fault windows, the consume side, batches, disk faults).
    Spill,
    /// A whole read-back at the end, as without following: the follower fell back
    /// (`fallback` says why), or `--cross-check` asked for it.
    ReadBack,
}

/// What the streaming figures were compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckedAgainst {
    /// The end-of-run checkers over a whole read-back done at the end (`--cross-check`).
    ReadBack,
    /// The end-of-run checkers over the follower's spill file.
    Spill,
}

/// The streaming figures against the end-of-run checkers' figures of the same run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrossCheck {
    pub against: CheckedAgainst,
    /// Every compared figure is equal.
    pub equal: bool,
    /// `field: streaming X, end of run Y`, for each figure that differs.
    pub differences: Vec<String>,
}

/// result.json `streaming` (present when the run followed its stream).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StreamingReport {
    /// What the follower read during and after the run, and how it made sure it saw everything.
    #[serde(flatten)]
    pub follow: FollowCheck,
    pub figures_from: FiguresFrom,
    /// Why the figures come from a whole read-back at the end instead of the follower.
    #[serde(default)]
    pub fallback: Option<String>,
    #[serde(default)]
    pub cross_check: Option<CrossCheck>,
}
