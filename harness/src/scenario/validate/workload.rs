//! `[workload]`: how much is published (a message count or a duration, `--messages` and
//! `--duration` override either), how fast, with which keys and payloads.

use std::time::Duration;

use super::DEFAULT_MAX_MESSAGES;
use crate::scenario::error::Checker;
use crate::scenario::{
    Amount, KeyDistribution, Overrides, Rate, Warmup, Wire, WorkloadPlan, WorkloadSection, TAG_LEN,
};

/// The largest `workload.max_messages` allowed.
const MAX_MAX_MESSAGES: u64 = 1_000_000_000;

pub(super) fn validate(
    c: &mut Checker,
    w: &WorkloadSection,
    o: &Overrides,
    wire: Wire,
) -> WorkloadPlan {
    let max_messages = c.range(
        "workload.max_messages",
        w.max_messages,
        DEFAULT_MAX_MESSAGES as i64,
        1,
        MAX_MAX_MESSAGES as i64,
    ) as u64;
    let amount = amount(c, w, o, max_messages);
    let warmup = match o.warmup {
        Some(wu) => wu,
        None => warmup(c, w.warmup.as_ref()),
    };
    let keys = c.range("workload.keys", w.keys, 16, 1, 10_000_000) as u32;
    let key_distribution = w.key_distribution.unwrap_or(KeyDistribution::Uniform);
    let zipf_exponent = zipf_exponent(c, key_distribution, w.zipf_exponent);
    let payload_size = payload_size(c, w.payload_size, wire);
    let rate = rate(c, w.rate.as_ref());
    if let (Amount::Duration(d), Rate::PerSec(r)) = (amount, rate) {
        let n = d.as_secs_f64() * r as f64;
        if n > max_messages as f64 {
            c.err(
                "workload.rate",
                format!("rate x duration = {n:.0} messages exceeds workload.max_messages ({max_messages})"),
            );
        }
    }
    WorkloadPlan {
        amount,
        max_messages,
        warmup,
        keys,
        key_distribution,
        zipf_exponent,
        payload_size,
        rate,
    }
}

/// `payload_size`: the whole payload. The payload tag takes its first [`TAG_LEN`] bytes, so
/// smaller payloads need the header format.
fn payload_size(c: &mut Checker, v: Option<i64>, wire: Wire) -> usize {
    let field = "workload.payload_size";
    let max = 8 * 1024 * 1024;
    if wire == Wire::Payload {
        if let Some(n) = v.filter(|n| (0..TAG_LEN as i64).contains(n)) {
            c.err(
                field,
                format!(
                    "{n} is smaller than the {TAG_LEN}-byte tag of publish.wire = \"payload\"; allowed: {TAG_LEN}..={max}, or set publish.wire = \"headers\" for smaller payloads"
                ),
            );
            return TAG_LEN;
        }
    }
    c.range(field, v, 128, 0, max) as usize
}

/// Either `messages` or `duration` (at most 24h); an override replaces whichever was written.
fn amount(c: &mut Checker, w: &WorkloadSection, o: &Overrides, max_messages: u64) -> Amount {
    let mut messages = w.messages;
    let mut duration = w.duration.clone();
    if let Some(m) = o.messages {
        messages = Some(m as i64);
        duration = None;
    }
    if let Some(d) = o.duration {
        duration = Some(humantime::format_duration(d).to_string());
        messages = None;
    }
    let amount = match (messages, duration.as_deref()) {
        (Some(_), Some(_)) => {
            c.err("workload", "give either messages or duration, not both");
            Amount::Messages(1)
        }
        (None, None) => {
            c.err(
                "workload.messages",
                "is required (or workload.duration): how much to publish",
            );
            Amount::Messages(1)
        }
        (Some(m), None) if m > max_messages as i64 => {
            c.err(
                "workload.messages",
                format!("{m} is above workload.max_messages ({max_messages}), the bound on every run's messages: raise workload.max_messages (at most {MAX_MAX_MESSAGES}) to publish more"),
            );
            Amount::Messages(1)
        }
        (Some(m), None) => {
            Amount::Messages(
                c.range("workload.messages", Some(m), 1, 1, max_messages as i64) as u64,
            )
        }
        (None, Some(d)) => {
            Amount::Duration(c.duration("workload.duration", Some(d), Duration::from_secs(1)))
        }
    };
    if let Amount::Duration(d) = amount {
        if d > Duration::from_secs(24 * 3600) {
            c.err("workload.duration", "must be at most 24h");
        }
    }
    amount
}

/// A message count or a duration; none by default.
fn warmup(c: &mut Checker, value: Option<&toml::Value>) -> Warmup {
    match value {
        None => Warmup::Messages(0),
        Some(toml::Value::Integer(v)) if *v >= 0 => Warmup::Messages(*v as u64),
        Some(toml::Value::String(v)) => {
            Warmup::Duration(c.duration("workload.warmup", Some(v), Duration::ZERO))
        }
        Some(v) => {
            c.err(
                "workload.warmup",
                format!(
                    "{v} is not allowed: a message count (e.g. 1000) or a duration (e.g. \"2s\")"
                ),
            );
            Warmup::Messages(0)
        }
    }
}

/// The exponent of a zipf key distribution (1 by default); 0 for the other distributions.
fn zipf_exponent(c: &mut Checker, distribution: KeyDistribution, value: Option<f64>) -> f64 {
    match (distribution, value) {
        (KeyDistribution::Zipf, None) => 1.0,
        (KeyDistribution::Zipf, Some(e)) if e > 0.0 && e <= 10.0 => e,
        (KeyDistribution::Zipf, Some(e)) => {
            c.err(
                "workload.zipf_exponent",
                format!("must be in (0, 10] (got {e})"),
            );
            1.0
        }
        (_, Some(_)) => {
            c.err(
                "workload.zipf_exponent",
                "is only used with key_distribution = \"zipf\"",
            );
            0.0
        }
        (_, None) => 0.0,
    }
}

/// "max" (closed loop, the default) or a target rate in msgs/s (open loop).
fn rate(c: &mut Checker, value: Option<&toml::Value>) -> Rate {
    match value {
        None => Rate::Max,
        Some(toml::Value::String(v)) if v == "max" => Rate::Max,
        Some(toml::Value::Integer(v)) if *v > 0 && *v <= 100_000_000 => Rate::PerSec(*v as u64),
        Some(v) => {
            c.err(
                "workload.rate",
                format!("{v} is not allowed: \"max\" (closed loop) or a target rate in msgs/s between 1 and 100000000 (open loop)"),
            );
            Rate::Max
        }
    }
}
