//! `[expect]`: the claims a scenario makes about its run, each turned into a pass/fail verdict
//! by the checkers. The section is used as written (every claim is optional and keeps its
//! form), so the same struct is parsed from the file and recorded in the plan.
//!
//! [`CLAIMS`] lists every claim as a scenario writes it: its field, its form, and what the
//! scenario must have for it to be measured at all (validation reads it). How each is judged is
//! the checkers' (`checker::claims`, one row per claim, in the same order): the scenario says
//! what may be claimed, the checkers what was measured.

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
    /// Messages the client reported as certainly not stored (a definite failure) that are
    /// stored anyway: "none" or "some". A correct client never produces one, so "none" is the
    /// claim to make.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definite_but_stored: Option<Presence>,
}

/// A claim that something happens at least once ("some") or never ("none").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Presence {
    None,
    Some,
}

/// A claim as written in `[expect]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// An order is preserved or broken.
    Order(OrderClaim),
    /// A count is zero: `true` (the booleans `no_loss`, `all_acked`, …). `false` claims nothing
    /// and is refused by validation, which says what to write instead.
    Bool(bool),
    /// A count is zero ("none") or not ("some").
    Presence(Presence),
}

/// What a claim needs from the scenario to be measurable at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    Nothing,
    /// The stream read back (`observe.read_back = true`).
    ReadBack,
    /// A `[consume]` section.
    Consume,
    /// A cluster jsbench starts (`server.nodes` > 1).
    Cluster,
}

/// One claim a scenario can make, as written: where, in which form, and what it needs.
pub struct ClaimDef {
    /// The `[expect]` field; also the claim's name in results.
    pub name: &'static str,
    /// The claim as the scenario wrote it, if it did.
    pub written: fn(&Expect) -> Option<Written>,
    /// For `= true` claims: the claim that says the opposite, and what it means (validation's
    /// advice when the boolean is written `false`).
    pub opposite: Option<(&'static str, &'static str)>,
    pub needs: Needs,
}

impl ClaimDef {
    /// The claim as written, when the scenario makes it (a boolean written `false` makes none).
    pub fn claimed(&self, expect: &Expect) -> Option<Written> {
        (self.written)(expect).filter(|w| *w != Written::Bool(false))
    }
}

fn order(c: Option<OrderClaim>) -> Option<Written> {
    c.map(Written::Order)
}

fn zero(c: Option<bool>) -> Option<Written> {
    c.map(Written::Bool)
}

fn presence(c: Option<Presence>) -> Option<Written> {
    c.map(Written::Presence)
}

/// Every claim, in the order results list them. Adding a claim: a field in [`Expect`], a row
/// here, and its row in `checker::claims` (how it is judged), at the same place.
pub const CLAIMS: &[ClaimDef] = &[
    ClaimDef {
        name: "ack_wire_order",
        written: |x| order(x.ack_wire_order),
        opposite: None,
        needs: Needs::Nothing,
    },
    ClaimDef {
        name: "ack_completion_order",
        written: |x| order(x.ack_completion_order),
        opposite: None,
        needs: Needs::Nothing,
    },
    ClaimDef {
        name: "storage_order",
        written: |x| order(x.storage_order),
        opposite: None,
        needs: Needs::Nothing,
    },
    ClaimDef {
        name: "no_loss",
        written: |x| zero(x.no_loss),
        opposite: Some(("lost", "acknowledged messages are lost")),
        needs: Needs::ReadBack,
    },
    ClaimDef {
        name: "no_duplicates",
        written: |x| zero(x.no_duplicates),
        opposite: Some(("duplicates", "some key+seq is stored twice")),
        needs: Needs::ReadBack,
    },
    ClaimDef {
        name: "all_acked",
        written: |x| zero(x.all_acked),
        opposite: Some(("unacked", "some messages are never acknowledged")),
        needs: Needs::Nothing,
    },
    ClaimDef {
        name: "all_stored",
        written: |x| zero(x.all_stored),
        opposite: Some(("unstored", "some published messages never reach the stream")),
        needs: Needs::ReadBack,
    },
    ClaimDef {
        name: "unstored",
        written: |x| presence(x.unstored),
        opposite: None,
        needs: Needs::ReadBack,
    },
    ClaimDef {
        name: "duplicates",
        written: |x| presence(x.duplicates),
        opposite: None,
        needs: Needs::ReadBack,
    },
    ClaimDef {
        name: "retry_reorders",
        written: |x| presence(x.retry_reorders),
        opposite: None,
        needs: Needs::Nothing,
    },
    ClaimDef {
        name: "lost",
        written: |x| presence(x.lost),
        opposite: None,
        needs: Needs::ReadBack,
    },
    ClaimDef {
        name: "unacked",
        written: |x| presence(x.unacked),
        opposite: None,
        needs: Needs::Nothing,
    },
    ClaimDef {
        name: "unknown",
        written: |x| presence(x.unknown),
        opposite: None,
        needs: Needs::Nothing,
    },
    ClaimDef {
        name: "replies_overtake",
        written: |x| presence(x.replies_overtake),
        opposite: None,
        needs: Needs::Nothing,
    },
    ClaimDef {
        name: "duplicate_in_process",
        written: |x| presence(x.duplicate_in_process),
        opposite: None,
        needs: Needs::Nothing,
    },
    ClaimDef {
        name: "leader_changes",
        written: |x| presence(x.leader_changes),
        opposite: None,
        needs: Needs::Cluster,
    },
    ClaimDef {
        name: "atomic_batches",
        written: |x| zero(x.atomic_batches),
        opposite: None,
        needs: Needs::ReadBack,
    },
    ClaimDef {
        name: "rejected",
        written: |x| presence(x.rejected),
        opposite: None,
        needs: Needs::Nothing,
    },
    ClaimDef {
        name: "replicas_agree",
        written: |x| zero(x.replicas_agree),
        opposite: Some(("replicas_diverge", "some replicas disagree")),
        needs: Needs::Cluster,
    },
    ClaimDef {
        name: "replicas_diverge",
        written: |x| presence(x.replicas_diverge),
        opposite: None,
        needs: Needs::Cluster,
    },
    ClaimDef {
        name: "consume_order",
        written: |x| order(x.consume_order),
        opposite: None,
        needs: Needs::Consume,
    },
    ClaimDef {
        name: "all_processed",
        written: |x| zero(x.all_processed),
        opposite: Some(("unprocessed", "some stored messages are never processed")),
        needs: Needs::Consume,
    },
    ClaimDef {
        name: "unprocessed",
        written: |x| presence(x.unprocessed),
        opposite: None,
        needs: Needs::Consume,
    },
    ClaimDef {
        name: "redelivered",
        written: |x| presence(x.redelivered),
        opposite: None,
        needs: Needs::Consume,
    },
    ClaimDef {
        name: "definite_but_stored",
        written: |x| presence(x.definite_but_stored),
        opposite: None,
        needs: Needs::ReadBack,
    },
];
