//! How far a run got: the `status` of result.json.

use std::fmt;

use serde::{Deserialize, Serialize};

/// complete | incomplete | failed (serialized lowercase, as result.json has always had it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Published what was planned (or for the planned time), every ack settled, and the
    /// read-back (when on) saw the whole stream.
    Complete,
    /// Measured, but not all of it: interrupted, a message bound hit, acks outstanding, the
    /// client gave up, a read-back or consume side that did not finish.
    Incomplete,
    /// Nothing was measured: the server did not start, the connection or the stream failed.
    Failed,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Complete => "complete",
            RunStatus::Incomplete => "incomplete",
            RunStatus::Failed => "failed",
        }
    }

    pub fn is_complete(self) -> bool {
        self == RunStatus::Complete
    }
}

impl fmt::Display for RunStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Lets tests and scripts compare with the word as result.json writes it.
impl PartialEq<&str> for RunStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<str> for RunStatus {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}
