//! The follower (`record::follow`) against a real nats-server: what it reads while messages are
//! published equals what `read_back` reads from the same stream afterwards — through a server
//! kill and restart too — a purged stream is reported as gone back, and an urgent cancel ends
//! `finish` at once.
//!
//! Messages carry the run's payload tag (`workload::wire::Tag`); the tests decode it by hand,
//! as README "Message format" documents it, so that the key number is read too.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use async_nats::jetstream::{self, stream};
use async_nats::HeaderMap;
use bytes::Bytes;
use jsbench::cancel::Cancel;
use jsbench::record::follow::{self, FollowSpec, Followed, Follower};
use jsbench::record::readback::{read_back, ReadSpec};
use jsbench::record::stored::{CopySink, StoredCopy};
use jsbench::server::Server;
use jsbench::workload::{run_tag, Tag, TAG_MAGIC};
use tokio::time::Instant;

const RUN: &str = "0a1b2c3d";
const OTHER_RUN: &str = "0badc0de";
const STREAM: &str = "FOLLOW";
const FILTER: &str = "fol.m.>";
const KEYS: u32 = 4;
/// Every this many messages, one is stored a second time (a retry's attempt 2).
const RETRY_EVERY: u32 = 50;
/// Every this many messages, one of another run is stored on the filter (unexpected).
const FOREIGN_EVERY: u32 = 97;
/// How long a test waits for the follower to reach a count before failing.
const WAIT: Duration = Duration::from_secs(20);

/// Collects what the follower hands to its sink; with a gate, holds the follower (blocks its
/// task) at the copy of one publish index until the test opens the gate.
#[derive(Default)]
struct Collect {
    copies: Vec<StoredCopy>,
    unexpected: u64,
    gate: Option<(u32, Arc<Gate>)>,
}

#[derive(Default)]
struct Gate {
    held: AtomicBool,
    open: Mutex<bool>,
    opened: Condvar,
}

impl Gate {
    fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.opened.notify_all();
    }
}

impl CopySink for Collect {
    fn copy(&mut self, c: &StoredCopy) {
        self.copies.push(*c);
        if let Some((at, gate)) = &self.gate {
            if c.idx == *at {
                gate.held.store(true, Ordering::SeqCst);
                let open = gate.open.lock().unwrap();
                drop(gate.opened.wait_while(open, |open| !*open).unwrap());
            }
        }
    }
    fn unexpected(&mut self) {
        self.unexpected += 1;
    }
}

/// `(idx, key, attempt)` from the payload tag, when it is one of [`RUN`]'s.
fn identify(_: Option<&HeaderMap>, p: &[u8]) -> Option<(u32, u32, u8)> {
    let be = |i: usize| u32::from_be_bytes(p[i..i + 4].try_into().unwrap());
    if p.len() < 24 || p[0..4] != TAG_MAGIC || be(4) != run_tag(RUN) {
        return None;
    }
    let attempt = u16::from_be_bytes([p[22], p[23]]).min(u8::MAX as u16) as u8;
    Some((be(8), be(12), attempt))
}

fn payload(run: &str, idx: u32, attempt: u32) -> Bytes {
    let tag = Tag {
        run,
        key: idx % KEYS,
        key_name: "",
        seq: 0,
        idx,
        conn: 0,
        attempt,
        msg_id: None,
    };
    Bytes::copy_from_slice(&tag.encode())
}

async fn connect(server: &Server) -> jetstream::Context {
    let client = server
        .connect_options()
        .await
        .expect("options")
        .reconnect_delay_callback(|_| Duration::from_millis(50))
        .connect(server.url())
        .await
        .expect("connect");
    let js = jetstream::new(client);
    js.create_stream(stream::Config {
        name: STREAM.into(),
        subjects: vec!["fol.>".into()],
        storage: stream::StorageType::File,
        ..Default::default()
    })
    .await
    .expect("create stream");
    js
}

/// Publishes one message until it is acked (a restarting server may drop some tries; a try
/// stored but not acked is stored twice: the follower and the read-back must both see that).
async fn publish(js: &jetstream::Context, subject: String, payload: Bytes) {
    let deadline = Instant::now() + WAIT;
    loop {
        let r = async { js.publish(subject.clone(), payload.clone()).await?.await };
        if let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(2), r).await {
            return;
        }
        assert!(Instant::now() < deadline, "{subject} not acked in {WAIT:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Publishes messages `from..from + n` of the run (with the retries and foreign messages the
/// constants say, and one warm-up message outside the filter); returns how many messages it
/// stored on the filter.
async fn publish_batch(js: &jetstream::Context, from: u32, n: u32) -> u64 {
    let mut stored = 0;
    publish(js, "fol.w.k0".into(), payload(RUN, from, 1)).await;
    for idx in from..from + n {
        let subject = format!("fol.m.k{}", idx % KEYS);
        publish(js, subject.clone(), payload(RUN, idx, 1)).await;
        stored += 1;
        if idx % RETRY_EVERY == 0 {
            publish(js, subject, payload(RUN, idx, 2)).await;
            stored += 1;
        }
        if idx % FOREIGN_EVERY == 0 {
            publish(js, "fol.m.x".into(), payload(OTHER_RUN, idx, 1)).await;
            stored += 1;
        }
    }
    stored
}

fn start(js: &jetstream::Context, cancel: &Cancel) -> Follower<Collect> {
    start_with(js, cancel, Collect::default())
}

fn start_with(js: &jetstream::Context, cancel: &Cancel, sink: Collect) -> Follower<Collect> {
    let spec = FollowSpec {
        js: js.clone(),
        stream: STREAM.into(),
        filter: FILTER.into(),
        tag_in_payload: true,
        identify: Arc::new(identify),
        idle: Duration::from_secs(2),
        cancel: cancel.clone(),
    };
    follow::start(spec, sink).expect("follower")
}

/// Waits until the follower has read `n` messages (bounded by [`WAIT`]).
async fn until_read(f: &Follower<Collect>, n: u64) {
    let deadline = Instant::now() + WAIT;
    while f.read_so_far() < n {
        assert!(
            Instant::now() < deadline,
            "the follower read {} of {n} in {WAIT:?}",
            f.read_so_far()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What the follower read equals what `read_back` reads from the stream now, copy for copy.
async fn assert_as_read_back(js: &jetstream::Context, followed: &Followed<Collect>) {
    let by_idx = |h: Option<&HeaderMap>, p: &[u8]| identify(h, p).map(|(i, _, a)| (i, a));
    let cancel = Cancel::new();
    let spec = ReadSpec {
        js,
        stream: STREAM,
        filter: FILTER,
        tag_in_payload: true,
        identify: &by_idx,
        expected_hint: 0,
        idle: Duration::from_secs(2),
        cancel: &cancel,
    };
    let (rb, rb_check) = read_back(&spec).await.expect("read back");
    assert!(rb.complete, "the read-back is complete: {rb_check:?}");
    let check = &followed.check;
    let mine = followed
        .spill
        .to_read_back(check.unexpected, check.complete)
        .expect("spill");
    assert_eq!(mine.order, rb.order, "storage order");
    assert_eq!(mine.seqs, rb.seqs, "sequences");
    assert_eq!(mine.attempts, rb.attempts, "attempts");
    assert_eq!((mine.unexpected, mine.complete), (rb.unexpected, true));
    assert_eq!(check.stream_count, rb_check.stream_count);
    let replayed: Vec<StoredCopy> = followed.spill.replay().map(Result::unwrap).collect();
    assert_eq!(
        replayed, followed.sink.copies,
        "the spill holds what the sink got"
    );
    assert_eq!(followed.sink.unexpected, check.unexpected);
    assert!(replayed.iter().all(|c| c.key == c.idx % KEYS), "keys read");
    assert!(!check.regressed, "{:?}", check.regression);
    assert_eq!(
        check.read_during_run + check.read_after_run,
        rb.order.len() as u64 + rb.unexpected
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_is_followed_during_the_run_is_what_read_back_reads_after_it() {
    let server = common::process_server().await;
    let js = connect(&server).await;
    let cancel = Cancel::new();
    // The follower is held at the first message of the last batch, so that the rest of that
    // batch is left for the tail: `finish` must read it.
    let (batches, per_batch) = (5, 300);
    let gate = Arc::new(Gate::default());
    let last = (batches - 1) * per_batch;
    let sink = Collect {
        gate: Some((last, gate.clone())),
        ..Collect::default()
    };
    let f = start_with(&js, &cancel, sink);
    let mut stored = 0;
    for batch in 0..batches - 1 {
        stored += publish_batch(&js, batch * per_batch, per_batch).await;
        // A pause between batches, as a run's quieter moments: the follower catches up.
        until_read(&f, stored).await;
    }
    let during = stored;
    stored += publish_batch(&js, last, per_batch).await;
    assert!(gate.held.load(Ordering::SeqCst), "held at the last batch");
    let finish = tokio::spawn(f.finish());
    // The finish request is sent as soon as the task above runs; the follower sees it once the
    // gate lets it go on (it looks at the request before its next message).
    tokio::time::sleep(Duration::from_millis(300)).await;
    gate.open();
    let followed = finish.await.unwrap().expect("finish");
    let check = &followed.check;
    eprintln!("{check:?}");
    assert!(check.complete, "{check:?}");
    // The held message was read during the run; what came after it, in the tail.
    assert!(
        check.read_during_run > during && check.read_after_run > 0,
        "{check:?}"
    );
    assert_eq!(check.stream_count, Some(stored));
    assert!(check.unexpected > 0 && !followed.spill.is_empty());
    assert_as_read_back(&js, &followed).await;
    server.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_and_started_again_while_following_loses_and_doubles_nothing() {
    let server = common::process_server().await;
    let js = connect(&server).await;
    let cancel = Cancel::new();
    let f = start(&js, &cancel);
    let mut stored = publish_batch(&js, 0, 500).await;
    until_read(&f, stored).await;
    server.kill().await.expect("kill");
    server.start_again().await.expect("start again");
    stored += publish_batch(&js, 500, 500).await;
    // Read while the run goes on: the follower resumed by itself after the restart.
    until_read(&f, stored).await;
    let followed = f.finish().await.expect("finish");
    let check = &followed.check;
    eprintln!("{check:?}");
    assert!(check.complete, "{check:?}");
    assert!(check.consumer_restarts >= 1, "{check:?}");
    assert_eq!(check.read_during_run, stored);
    assert_as_read_back(&js, &followed).await;
    server.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_purged_while_following_is_reported_as_gone_back() {
    let server = common::process_server().await;
    let js = connect(&server).await;
    // Seen while the run goes on (the stream's first sequence passed the first one read), and
    // at the end (the stream counts fewer messages than were read).
    for while_running in [true, false] {
        let cancel = Cancel::new();
        let f = start(&js, &cancel);
        let stored = publish_batch(&js, 0, 300).await;
        until_read(&f, stored).await;
        let s = js.get_stream(STREAM).await.expect("stream");
        s.purge().await.expect("purge");
        if while_running {
            let deadline = Instant::now() + WAIT;
            while !f.gone_back() {
                assert!(Instant::now() < deadline, "purge not seen in {WAIT:?}");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        publish_batch(&js, 300, 50).await;
        let followed = f.finish().await.expect("finish");
        let check = &followed.check;
        eprintln!("{check:?}");
        assert!(check.regressed && !check.complete, "{check:?}");
        let why = check.regression.as_deref().unwrap_or_default();
        let expected = if while_running {
            "first sequence"
        } else {
            "the stream counts"
        };
        assert!(why.contains(expected), "{why}");
        s.purge().await.expect("purge");
    }
    server.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_urgent_cancel_ends_finish_at_once_incomplete() {
    let server = common::process_server().await;
    let js = connect(&server).await;
    let cancel = Cancel::new();
    let f = start(&js, &cancel);
    let stored = publish_batch(&js, 0, 200).await;
    until_read(&f, stored).await;
    // A frozen server holds the tail up: settling alone may wait 10 s, counting 30 s more.
    server.pause().await.expect("pause");
    let pull = cancel.clone();
    let cancelled_at = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        pull.request();
        pull.request();
        Instant::now()
    });
    let followed = f.finish().await.expect("finish");
    let returned = Instant::now();
    let cancelled_at = cancelled_at.await.unwrap();
    // Prompt: well under one settle's bound after the cancel.
    assert!(
        returned.duration_since(cancelled_at) < Duration::from_secs(2),
        "finish returned {:?} after the urgent cancel",
        returned.duration_since(cancelled_at)
    );
    assert!(!followed.check.complete, "{:?}", followed.check);
    assert_eq!(followed.spill.len() + followed.check.unexpected, stored);
    server.resume().await.expect("resume");
    server.stop().await.expect("stop");
}
