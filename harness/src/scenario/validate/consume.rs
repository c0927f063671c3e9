//! `[consume]`: the consumer and the worker pool that process the run's messages.

use std::time::Duration;

use crate::scenario::error::Checker;
use crate::scenario::{
    ConsumePlan, ConsumeSection, ConsumeWhen, ConsumerKind, OnFail, PoolModel,
    ProcessingDistribution,
};

/// `read_back`: the consume side is judged against the stream as read back.
pub(super) fn validate(c: &mut Checker, s: &ConsumeSection, read_back: bool) -> ConsumePlan {
    let consumer = s.consumer.unwrap_or(ConsumerKind::Durable);
    let (processing, processing_max, processing_distribution) = processing(c, s);
    let fail_rate = match s.fail_rate {
        None => 0.0,
        Some(f) if (0.0..1.0).contains(&f) => f,
        Some(f) => {
            c.err(
                "consume.fail_rate",
                format!("must be at least 0 and below 1 (got {f})"),
            );
            0.0
        }
    };
    if consumer == ConsumerKind::Ordered {
        ordered_does_not_ack(c, s);
    }
    let plan = ConsumePlan {
        consumer,
        when: s.when.unwrap_or(ConsumeWhen::Concurrent),
        model: s.model.unwrap_or(PoolModel::Keyed),
        workers: c.range("consume.workers", s.workers, 4, 1, 1024) as usize,
        processing,
        processing_max,
        processing_distribution,
        fail_rate,
        on_fail: s.on_fail.unwrap_or(OnFail::Nak),
        max_ack_pending: c.range(
            "consume.max_ack_pending",
            s.max_ack_pending,
            1000,
            1,
            1_000_000,
        ),
        ack_wait: c.duration(
            "consume.ack_wait",
            s.ack_wait.as_deref(),
            Duration::from_secs(30),
        ),
        fetch_batch: c.range("consume.fetch_batch", s.fetch_batch, 100, 1, 10_000) as usize,
        drain_timeout: c.duration(
            "consume.drain_timeout",
            s.drain_timeout.as_deref(),
            Duration::from_secs(30),
        ),
    };
    if !read_back {
        c.err(
            "consume",
            "the consume side is judged against the stream: it needs observe.read_back = true",
        );
    }
    plan
}

/// How long processing one message takes: `processing`, up to `processing_max` when uniform.
fn processing(c: &mut Checker, s: &ConsumeSection) -> (Duration, Duration, ProcessingDistribution) {
    let processing = c.duration0(
        "consume.processing",
        s.processing.as_deref(),
        Duration::ZERO,
    );
    let distribution = s
        .processing_distribution
        .unwrap_or(ProcessingDistribution::Fixed);
    let max = match (distribution, s.processing_max.as_deref()) {
        (ProcessingDistribution::Uniform, None) => {
            c.err(
                "consume.processing_max",
                "processing_distribution = \"uniform\" needs processing_max (the upper bound)",
            );
            processing
        }
        (ProcessingDistribution::Uniform, Some(v)) => {
            let m = c.duration0("consume.processing_max", Some(v), processing);
            if m < processing {
                c.err(
                    "consume.processing_max",
                    "must be at least consume.processing",
                );
            }
            m
        }
        (_, Some(_)) => {
            c.err(
                "consume.processing_max",
                "is only used with processing_distribution = \"uniform\"",
            );
            processing
        }
        (_, None) => processing,
    };
    (processing, max, distribution)
}

/// An ordered consumer has no acks: nothing can fail into a redelivery, so the ack settings
/// would claim something that cannot happen.
fn ordered_does_not_ack(c: &mut Checker, s: &ConsumeSection) {
    for (field, set) in [
        ("fail_rate", s.fail_rate.is_some_and(|f| f > 0.0)),
        ("on_fail", s.on_fail.is_some()),
        ("max_ack_pending", s.max_ack_pending.is_some()),
        ("ack_wait", s.ack_wait.is_some()),
    ] {
        if set {
            c.err(
                &format!("consume.{field}"),
                "needs consumer = \"durable\" (an ordered consumer does not ack)",
            );
        }
    }
}
