//! `[expect]`: the claims a scenario makes about its run, each turned into a pass/fail verdict
//! by the checkers. The section is used as written (every claim is optional and keeps its
//! form), so the same struct is parsed from the file and recorded in the plan.

use serde::{Deserialize, Serialize};

/// What an order is claimed to do; becomes a pass/fail verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderClaim {
    /// No message comes after a later-published one (globally).
    Preserved,
    /// Within every key, no message comes after a later-published one of the same key.
    PreservedPerKey,
    /// At least one message comes after a later-published one (globally).
    Broken,
    /// At least one message comes after a later-published one of its own key.
    BrokenPerKey,
}

impl OrderClaim {
    pub fn describe(self) -> &'static str {
        match self {
            OrderClaim::Preserved => "preserved",
            OrderClaim::PreservedPerKey => "preserved per key",
            OrderClaim::Broken => "broken",
            OrderClaim::BrokenPerKey => "broken per key",
        }
    }
}

/// Optional claims, each turned into a verdict.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack_wire_order: Option<OrderClaim>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ack_completion_order: Option<OrderClaim>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_order: Option<OrderClaim>,
    /// Nothing acknowledged is missing from the stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_loss: Option<bool>,
    /// No key+seq is stored twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_duplicates: Option<bool>,
    /// Every published message was acknowledged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all_acked: Option<bool>,
    /// Every published message is in the stream, acknowledged or not (a retry, a timed-out
    /// attempt that made it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all_stored: Option<bool>,
    /// Published messages not in the stream: "none" (as `all_stored = true`) or "some".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unstored: Option<Presence>,
    /// Extra stored copies of a key+seq: "none" or "some".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicates: Option<Presence>,
    /// Stored copies from a retry (attempt > 1) that landed after a later message of their key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_reorders: Option<Presence>,
    /// Messages whose final outcome is unknown (timed out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown: Option<Presence>,
    /// Acknowledged messages missing from the stream: "none" (as `no_loss = true`) or "some".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lost: Option<Presence>,
    /// Published messages never acknowledged: "none" (as `all_acked = true`) or "some".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unacked: Option<Presence>,
    /// The order messages were processed in by the consume side (`[consume]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consume_order: Option<OrderClaim>,
    /// Every stored message of the run was processed at least once (`[consume]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all_processed: Option<bool>,
    /// Deliveries after the first (nak, ack_wait expiry): "none" or "some" (`[consume]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redelivered: Option<Presence>,
    /// Stored messages never processed: "none" (as `all_processed = true`) or "some"
    /// (`[consume]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unprocessed: Option<Presence>,
    /// Success acks overtaken by a later message's error or duplicate reply: "none" or "some".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replies_overtake: Option<Presence>,
    /// "Duplicate message id is in process" replies (err_code 10158): "none" or "some".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate_in_process: Option<Presence>,
    /// Every atomic batch is stored whole or not at all, consecutively and in batch order
    /// (`mode = "batch"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub atomic_batches: Option<bool>,
    /// Messages refused by the per-key sequence guard (`publish.expect_last_subject_seq`):
    /// "none" or "some".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected: Option<Presence>,
    /// Changes of the stream's leader during the run: "none" or "some" (cluster).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader_changes: Option<Presence>,
    /// Every node holds the same stream once the faults healed (cluster).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas_agree: Option<bool>,
    /// Some nodes hold a different stream once the faults healed: "none" or "some" (cluster).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas_diverge: Option<Presence>,
}

/// A claim that something happens at least once ("some") or never ("none").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    None,
    Some,
}
