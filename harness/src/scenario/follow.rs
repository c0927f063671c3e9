//! `observe.follow`: whether a run reads its stream while it goes on (`record::follow`), as
//! written or given by `--follow`; validation resolves it against the run's length.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// `observe.follow`: read the stream while the run goes on (a follower reading each message as
/// it lands, feeding the streaming checkers), so that only the tail is left to read at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Follow {
    /// On for long runs: a duration of [`Follow::AUTO_DURATION`] or more, or
    /// [`Follow::AUTO_MESSAGES`] messages or more.
    Auto,
    On,
    Off,
}

impl Follow {
    pub const AUTO_DURATION: Duration = Duration::from_secs(60);
    pub const AUTO_MESSAGES: u64 = 5_000_000;
    pub const ALLOWED: &'static str = "auto, on, off";

    pub fn parse(s: &str) -> Option<Follow> {
        match s {
            "auto" => Some(Follow::Auto),
            "on" => Some(Follow::On),
            "off" => Some(Follow::Off),
            _ => None,
        }
    }
}
