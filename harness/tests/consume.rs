//! The consume side against a real nats-server (process backend): a keyed worker pool keeps
//! per-key processing order, a shared pool with variable processing time breaks it, forced
//! redeliveries are counted (and break per-key order in a keyed pool unless max_ack_pending = 1),
//! and every stored message is processed at least once.

mod common;

use jsbench::checker::OrderFigures;
use jsbench::result::{ConsumeReport, Report};

/// Runs a scenario body (process backend, single connection, async) with a `[consume]` section.
async fn run(publish: &str, consume: &str) -> Report {
    let (r, _out) = common::run_text(&format!(
        "name = \"c\"\nseed = 5\n[server]\nbackend = \"process\"\n[publish]\nmode = \"async\"\n\
         max_in_flight = 500\n[workload]\nkeys = 8\nwarmup = 0\n{publish}\n[consume]\n{consume}\n"
    ))
    .await;
    // What result.json says is what the test judges.
    Report::load(&r.dir.join("result.json")).expect("result.json")
}

/// The run completed and every stored message was processed at least once.
fn all_processed(r: &Report) -> (&OrderFigures, &ConsumeReport) {
    common::assert_complete(r);
    let c = r.consume.as_ref().expect("consume section");
    assert!(c.complete, "{:?}", c.error);
    assert_eq!(c.figures.unprocessed, Some(0), "stored but never processed");
    assert_eq!(c.figures.processed, r.counts.stored.unwrap());
    assert_eq!(r.counts.lost, Some(0));
    let order = r.order.consume.as_ref().expect("order.consume");
    assert_eq!(order.messages, r.counts.published);
    assert!(
        r.latency_us["end_to_end"].count == c.figures.processed,
        "one end-to-end latency per processed message"
    );
    (order, c)
}

#[tokio::test]
async fn keyed_pool_keeps_per_key_order() {
    let r = run(
        "messages = 3000\nrate = 3000",
        "model = \"keyed\"\nworkers = 4\nprocessing = \"1ms\"",
    )
    .await;
    let (order, c) = all_processed(&r);
    assert_eq!(order.late_per_key, 0, "{order:?}");
    assert_eq!(c.figures.redelivered, 0);
    assert_eq!(r.counts.redelivered, Some(0));
    // Four workers interleave keys: the global order is not kept (the test can tell).
    assert!(order.late > 0, "{order:?}");
}

#[tokio::test]
async fn shared_pool_with_variable_processing_breaks_per_key_order() {
    let r = run(
        "messages = 3000\nrate = 3000",
        "model = \"shared\"\nworkers = 4\nprocessing = \"0ms\"\nprocessing_max = \"3ms\"\n\
         processing_distribution = \"uniform\"",
    )
    .await;
    let (order, _) = all_processed(&r);
    assert!(order.late_per_key > 0, "{order:?}");
}

#[tokio::test]
async fn nak_redeliveries_are_counted_and_reorder_a_keyed_pool() {
    let r = run(
        "messages = 3000\nrate = 3000",
        "model = \"keyed\"\nworkers = 4\nfail_rate = 0.03\non_fail = \"nak\"",
    )
    .await;
    let (order, c) = all_processed(&r);
    let f = &c.figures;
    assert!(f.failures > 0, "{f:?}");
    // Every failure was nak'd and delivered again.
    assert_eq!(f.redelivered, f.failures, "{f:?}");
    assert_eq!(r.counts.redelivered, Some(f.redelivered));
    assert_eq!(f.deliveries, f.processings + f.failures);
    // The keyed worker went on with the key's next messages while the nak'd one came back.
    assert!(f.redelivered_late_per_key > 0, "{f:?}");
    assert!(order.late_per_key >= f.redelivered_late_per_key);
}

#[tokio::test]
async fn max_ack_pending_1_keeps_order_through_redelivery_after_ack_wait() {
    let r = run(
        "messages = 400\nrate = 2000",
        "model = \"keyed\"\nworkers = 4\nfail_rate = 0.01\non_fail = \"no_ack\"\n\
         ack_wait = \"300ms\"\nmax_ack_pending = 1",
    )
    .await;
    let (order, c) = all_processed(&r);
    assert!(c.figures.redelivered > 0, "{:?}", c.figures);
    assert_eq!(order.late, 0, "{order:?}");
}

#[tokio::test]
async fn ordered_consumer_after_publishing_drains_everything() {
    let r = run(
        "messages = 2000",
        "consumer = \"ordered\"\nwhen = \"after\"\nmodel = \"keyed\"\nworkers = 2",
    )
    .await;
    let (order, c) = all_processed(&r);
    assert_eq!(order.late_per_key, 0);
    assert_eq!(c.figures.redelivered, 0);
    assert_eq!(c.when, "after");
    // Nothing was processed while publishing: the first processing falls in or after the
    // bucket of the last publish.
    let last_publish = r
        .throughput
        .timeline
        .published
        .iter()
        .rposition(|&n| n > 0)
        .expect("published");
    let first_processed = c
        .timeline
        .processed
        .iter()
        .position(|&n| n > 0)
        .expect("processed");
    assert!(
        first_processed >= last_publish,
        "{first_processed} < {last_publish}"
    );
}
