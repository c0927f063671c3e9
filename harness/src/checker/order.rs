//! Order divergence: how far an observed order (acks on the wire, ack futures completing,
//! messages in the stream, processings) is from publish order, overall and within each key.
//!
//! An *order* is a sequence of message indexes (publish index, from 0) as some observer saw them.
//! Publish order is the reference: index order. A message is *late* when it comes after a message
//! published after it.
//!
//! What the figures are ([`OrderFigures`]) and how they read; `checker::divergence`, which
//! computes them, lives with the streaming checkers (`stream/order.rs`).

use serde::{Deserialize, Serialize};

/// Divergence of one observed order from publish order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderFigures {
    /// Messages in this order (first occurrences).
    pub messages: u64,
    /// Messages that come after a later-published message.
    pub late: u64,
    /// Pairs (a, b) where a was published before b but b comes first.
    pub inversions: u64,
    /// Largest distance between a message's position here and its position in publish order
    /// (both counted among the messages present in this order).
    pub max_displacement: u64,
    /// Messages that come after a later-published message of the same key.
    pub late_per_key: u64,
    /// Keys with at least one message late within its key.
    pub keys_affected: u64,
    /// Keys present in this order.
    pub keys: u64,
}

impl OrderFigures {
    pub fn late_share(&self) -> f64 {
        ratio(self.late, self.messages)
    }

    pub fn late_per_key_share(&self) -> f64 {
        ratio(self.late_per_key, self.messages)
    }

    /// "preserved (0 of N)" or "broken: 71% late per key" (per key first: that is what an
    /// aggregate sees; a global-only break says so).
    pub fn describe(&self) -> String {
        if self.messages == 0 {
            "no data".to_string()
        } else if self.late == 0 {
            format!("preserved (0 of {})", self.messages)
        } else if self.late_per_key > 0 {
            format!(
                "broken: {} late per key",
                percent(self.late_per_key_share())
            )
        } else {
            format!("per key kept; {} late globally", percent(self.late_share()))
        }
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Formats a share as a percentage with sensible precision ("71%", "0.02%").
pub fn percent(share: f64) -> String {
    let p = share * 100.0;
    if p == 0.0 {
        "0%".into()
    } else if p < 0.01 {
        "<0.01%".into()
    } else if p < 1.0 {
        format!("{p:.2}%")
    } else if p < 10.0 {
        format!("{p:.1}%")
    } else {
        format!("{p:.0}%")
    }
}
