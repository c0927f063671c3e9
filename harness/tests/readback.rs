//! The read-back sees everything published: a run's `stored` figure must equal what a second,
//! independent and later read of the kept stream finds, whatever fault ended the publishing.
//!
//! The case that broke it: one connection blackholed for 1.5 s with a 400 ms ack timeout and no
//! retry, against an external server. Acks time out (unknown outcomes), publishing ends, and the
//! bytes the proxy held reach the server only after the heal, possibly after a naive read-back.
//! The same must hold for reset_peer, down and the server faults (pause, kill -9).
//!
//! The later read is done here with async-nats directly (not jsbench's reader): a plain pull
//! consumer over the run's measured subjects, counting copies and distinct publish indexes,
//! decoded here by hand from the payload tag as README "Message format" documents it.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use async_nats::jetstream::{self, consumer};
use common::external_section;
use futures::StreamExt;
use jsbench::result::Report;
use jsbench::server::Server;

/// Publishing at 5k msgs/s for 4 s through one connection with a short ack timeout and no
/// retry, so that a fault leaves messages in flight, plus the fault `fault` (TOML).
fn scenario(server_section: &str, fault: &str) -> String {
    format!(
        "name = \"rb\"\nseed = 11\n{server_section}\
         [publish]\nmode = \"async\"\nmax_in_flight = 2000\nack_timeout = \"400ms\"\n\
         [workload]\nduration = \"4s\"\nrate = 5000\nkeys = 8\n\
         [[faults]]\n{fault}"
    )
}

/// What an independent reader finds for `report`'s run in the kept stream.
struct Later {
    copies: u64,
    distinct: u64,
}

async fn read_later(server: &Server, report: &Report) -> Later {
    let client = server
        .connect_options()
        .await
        .expect("options")
        .connect(server.url())
        .await
        .expect("connect");
    let js = jetstream::new(client);
    let stream = js
        .get_stream(&report.stream.name)
        .await
        .expect("the kept stream");
    let filter = format!("jsb.{}.m.>", report.run_id);
    let c = stream
        .create_consumer(consumer::pull::Config {
            filter_subject: filter,
            deliver_policy: consumer::DeliverPolicy::All,
            ack_policy: consumer::AckPolicy::None,
            ..Default::default()
        })
        .await
        .expect("consumer");
    let mut pending = c.cached_info().num_pending;
    let mut later = Later {
        copies: 0,
        distinct: 0,
    };
    let mut seen = HashSet::new();
    let mut messages = c.messages().await.expect("messages");
    while pending > 0 {
        let m = tokio::time::timeout(Duration::from_secs(10), messages.next())
            .await
            .expect("the stream keeps delivering")
            .expect("message stream open")
            .expect("message");
        pending = m.info().expect("info").pending;
        // The README's layout: "JSB1", then big-endian run (the id's hex digits), idx, ...
        let p = &m.payload;
        assert!(p.len() >= 24, "a 24-byte tag opens the payload");
        assert_eq!(&p[0..4], b"JSB1");
        let run = u32::from_str_radix(&report.run_id, 16).expect("hex run id");
        assert_eq!(u32::from_be_bytes(p[4..8].try_into().unwrap()), run);
        let idx = u32::from_be_bytes(p[8..12].try_into().unwrap());
        later.copies += 1;
        if seen.insert(idx) {
            later.distinct += 1;
        }
    }
    later
}

/// Runs `text` on `server` with the stream kept, waits, reads it again, and compares.
async fn run_and_reread(server: &Server, text: &str, external: bool) -> Report {
    let mut plan = common::plan(text);
    plan.stream.keep = true;
    let (r, _out) = if external {
        common::run(&plan).await
    } else {
        common::run_on(&plan, server).await
    };
    let r = r.report;
    common::assert_complete(&r);
    // Whatever was still queued somewhere has long arrived by now.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let later = read_later(server, &r).await;
    let c = &r.counts;
    let stored = c.stored.expect("stored");
    let duplicates = c.duplicates.expect("duplicates");
    assert_eq!(
        (stored, stored + duplicates),
        (later.distinct, later.copies),
        "run: stored {stored} (+{duplicates} duplicates); later read: {} distinct, {} copies \
         (read-back check {:?}, {} unknown)",
        later.distinct,
        later.copies,
        r.read_back,
        c.unknown
    );
    let check = r.read_back.as_ref().expect("read-back check in the result");
    assert_eq!(check.stream_count, Some(later.copies));
    assert_eq!(check.connections_flushed, check.connections);
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blackholed_connection_is_read_back_whole() {
    let server = common::process_server().await;
    let r = run_and_reread(
        &server,
        &scenario(
            &external_section(&server),
            "kind = \"timeout\"\nstart = \"2500ms\"\nduration = \"1500ms\"\n",
        ),
        true,
    )
    .await;
    // The case only tests something when the blackhole left acks unanswered.
    assert!(r.counts.unknown > 0, "no ack timed out: {:?}", r.counts);
    server.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_and_down_connections_are_read_back_whole() {
    let server = common::process_server().await;
    for fault in [
        "kind = \"reset_peer\"\nstart = \"3900ms\"\n",
        "kind = \"down\"\nstart = \"3s\"\nduration = \"1s\"\n",
    ] {
        run_and_reread(&server, &scenario(&external_section(&server), fault), true).await;
    }
    server.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_faults_are_read_back_whole() {
    let server = common::process_server().await;
    for fault in [
        "kind = \"pause\"\nstart = \"3s\"\nduration = \"1s\"\n",
        "kind = \"kill\"\nstart = \"3500ms\"\nduration = \"500ms\"\n",
    ] {
        // The server section is not used by run_on: the faults act on `server`.
        run_and_reread(&server, &scenario("", fault), false).await;
    }
    server.stop().await.expect("stop");
}
