//! The lean publish path (`publish.api = "lean"`, `client/lean/`) against a real nats-server,
//! through the same tests as the JetStream path: the strategy matrix with its storage and ack
//! orders (as `runs.rs`), a connection reset with retries and Msg-Id (as `faults.rs`), and a
//! 3-node cluster whose leader is killed (as `cluster_runs.rs`). On the lean path an ack
//! completes when its reply is read, so completion order is wire order: every run checks that
//! the two measured orders are the same figures. Orders and counts only, never timings.

mod common;

use common::{assert_complete as complete, assert_nothing_lost as nothing_lost, run, run_text};
use jsbench::checker::OrderFigures;
use jsbench::result::Report;
use jsbench::scenario::Plan;

fn plan(body: &str) -> Plan {
    common::plan(&format!(
        "name = \"lean\"\nseed = 7\n[server]\nbackend = \"process\"\n{body}"
    ))
}

const ASYNC: &str = "[publish]\napi = \"lean\"\nmode = \"async\"\nmax_in_flight = 2000\n";

fn storage(r: &Report) -> OrderFigures {
    assert_eq!(r.order.storage_source, "read_back");
    r.order.storage.expect("storage order measured")
}

/// The run took the lean path, says so in result.json, and completed its acks in wire order
/// (on one connection; across several, the read order is the client's poll order and no wire
/// order is reported).
fn lean_path(r: &Report) {
    assert_eq!(
        r.scenario.plan["publish"]["api"], "lean",
        "result.json records the path"
    );
    let completion = r.order.ack_completion.expect("completion order measured");
    if r.scenario.plan["connections"]["count"] == 1 {
        let wire = r.order.ack_wire.expect("wire order measured");
        assert_eq!(completion, wire, "lean: completion order is wire order");
    } else {
        assert!(r.order.ack_wire.is_none(), "{:?}", r.order.ack_wire);
    }
}

/// Every message published ended one way or another.
fn accounted(r: &Report) {
    let c = &r.counts;
    let ended =
        c.acked + c.failed + c.unknown + c.in_flight + c.in_process + c.rejected + c.unresolved;
    assert_eq!(ended, c.published, "{c:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_async_keeps_storage_and_wire_order() {
    let p = plan(&format!(
        "{ASYNC}[workload]\nmessages = 20000\nwarmup = 1000\nkeys = 16\n"
    ));
    let (r, _out) = run(&p).await;
    let r = &r.report;
    complete(r);
    nothing_lost(r);
    lean_path(r);
    assert_eq!((r.counts.published, r.counts.acked), (20000, 20000));
    let s = storage(r);
    assert_eq!((s.messages, s.late, s.inversions), (20000, 0, 0));
    assert_eq!(
        r.order.ack_wire.unwrap().late,
        0,
        "one connection: acks in order"
    );
    assert_eq!(r.order.storage_from_acks.unwrap().late, 0);
    assert_eq!(r.latency_us["publish_ack"].count, 20000);
    assert_eq!(r.latency_us["publish_call"].count, 20000);
    assert!(r.resources.client_cpu_ns_per_msg.unwrap() > 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_robin_pool_breaks_per_key_storage_order() {
    let p = plan(&format!(
        "[connections]\nstrategy = \"round_robin\"\ncount = 4\n{ASYNC}[workload]\nmessages = 20000\nkeys = 16\n[expect]\nstorage_order = \"broken_per_key\"\n"
    ));
    let (r, _out) = run(&p).await;
    let r = &r.report;
    complete(r);
    nothing_lost(r);
    lean_path(r);
    let s = storage(r);
    assert!(
        s.late_per_key > 0,
        "round robin ×4 stores some out of key order: {s:?}"
    );
    assert_eq!(r.verdicts[0].verdict, jsbench::checker::Verdict::Pass);
    // Across connections the lean path reads replies in its own poll order, which is not the
    // wire's: the ack wire order is not reported rather than reported from the poll order.
    assert!(r.order.ack_wire.is_none(), "{:?}", r.order.ack_wire);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_affine_pool_keeps_per_key_storage_order() {
    let p = plan(&format!(
        "[connections]\nstrategy = \"key_affine\"\ncount = 4\n{ASYNC}[workload]\nmessages = 20000\nkeys = 16\n"
    ));
    let (r, _out) = run(&p).await;
    let r = &r.report;
    complete(r);
    nothing_lost(r);
    lean_path(r);
    let s = storage(r);
    assert_eq!((s.late_per_key, s.keys), (0, 16), "{s:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_round_robin_pool_keeps_order() {
    let p = plan(
        "[connections]\nstrategy = \"round_robin\"\ncount = 4\n[publish]\napi = \"lean\"\nmode = \"sync\"\n[workload]\nmessages = 2000\nkeys = 8\n",
    );
    let (r, _out) = run(&p).await;
    let r = &r.report;
    complete(r);
    nothing_lost(r);
    lean_path(r);
    assert_eq!(storage(r).late, 0);
    assert_eq!(r.order.ack_completion.unwrap().late, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guarded_msg_id_run_with_repeats_stores_every_message_once_in_key_order() {
    // The per-key guard learns each key's sequence from the lean path's acks; repeats of a
    // Msg-Id are answered as duplicates and stored once.
    let p = plan(&format!(
        "[connections]\nstrategy = \"round_robin\"\ncount = 2\n{ASYNC}msg_id = true\nexpect_last_subject_seq = true\nrepeat_msg_id_every = 10\n[workload]\nmessages = 5000\nwarmup = 500\nkeys = 32\n[expect]\nno_duplicates = true\nno_loss = true\n"
    ));
    let (r, _out) = run(&p).await;
    let r = &r.report;
    complete(r);
    nothing_lost(r);
    assert_eq!(r.scenario.plan["publish"]["api"], "lean");
    assert_eq!(
        (r.counts.acked, r.counts.rejected),
        (5000, 0),
        "{:?}",
        r.counts
    );
    assert_eq!(r.counts.duplicates, Some(0));
    assert_eq!(
        storage(r).late_per_key,
        0,
        "the guard keeps each key's order"
    );
    assert_eq!(
        r.verdict,
        jsbench::checker::Verdict::Pass,
        "{:?}",
        r.verdicts
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_with_retries_and_msg_id_loses_and_duplicates_nothing() {
    // faults.rs's outage on the lean path: a blackhole holds publishes from 1 s, a reset drops
    // the link (and what it held) at 1.1 s; the dropped attempts time out and are retried with
    // their Msg-Id after later messages went through.
    let p = plan(
        "[publish]\napi = \"lean\"\nmode = \"async\"\nmax_in_flight = 10000\nack_timeout = \"500ms\"\nmsg_id = true\n\
         [publish.retry]\nattempts = 5\nbackoff = \"50ms\"\nmax_backoff = \"500ms\"\n\
         [workload]\nduration = \"3s\"\nrate = 20000\nkeys = 8\n\
         [[faults]]\nkind = \"timeout\"\ndirection = \"upstream\"\nstart = \"1s\"\nduration = \"1s\"\n\
         [[faults]]\nkind = \"reset_peer\"\nstart = \"1100ms\"\n",
    );
    let (r, _out) = run(&p).await;
    let r = &r.report;
    complete(r);
    accounted(r);
    assert_eq!(r.scenario.plan["publish"]["api"], "lean");
    assert_eq!(r.counts.lost, Some(0), "{:?}", r.counts);
    assert_eq!(r.counts.duplicates, Some(0), "{:?}", r.counts);
    assert_eq!(r.counts.unexpected, Some(0), "{:?}", r.counts);
    let retry = r.retry.expect("retry figures");
    assert!(
        retry.retried > 0,
        "no retries: {:?} {:?}",
        r.counts,
        r.faults
    );
    // Every retry that found its message stored was answered as a duplicate, not stored again,
    // and on one connection every per-key reorder in the stream comes from a retry.
    assert_eq!(
        r.order.storage.unwrap().late_per_key,
        retry.retry_reorders.unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_clusters_leader_loses_nothing_acknowledged() {
    // cluster_runs.rs's leader kill on the lean path: through a follower, retrying with Msg-Id.
    let (out, _dir) = run_text(
        "name = \"lean-c\"\nseed = 3\n[server]\nbackend = \"process\"\nnodes = 3\n[stream]\nreplicas = 3\n\
         [connections]\nconnect_to = \"follower\"\n\
         [publish]\napi = \"lean\"\nmode = \"async\"\nmax_in_flight = 1000\nack_timeout = \"2s\"\nmsg_id = true\n\
         [publish.retry]\nattempts = 20\nbackoff = \"100ms\"\nmax_backoff = \"1s\"\n\
         [workload]\nduration = \"14s\"\nrate = 2000\nkeys = 8\n\
         [[faults]]\nkind = \"kill\"\nnode = \"leader\"\nstart = \"2s\"\nduration = \"6s\"\n",
    )
    .await;
    let r = &out.report;
    complete(r);
    accounted(r);
    assert_eq!(r.scenario.plan["publish"]["api"], "lean");
    assert_eq!(
        r.counts.lost,
        Some(0),
        "acked messages are stored: {:?}",
        r.safety
    );
    assert_eq!(r.counts.duplicates, Some(0), "{:?}", r.counts);
    let c = r.cluster.as_ref().expect("a cluster section");
    assert!(c.leader_changes >= 1, "{:?}", c.leaders);
    let f = &r.faults[0];
    let before = f
        .window
        .leader_before
        .clone()
        .expect("the leader when it fired");
    assert_eq!(f.window.nodes, vec![before], "the fault hit the leader");
    let replies = r.replies.as_ref().unwrap();
    assert!(
        replies.errors.contains_key("503") || replies.timed_out > 0,
        "publishes during the election fail: {replies:?}"
    );
    assert!(r.retry.expect("retry figures").retried > 0);
    common::assert_run_server_gone(&out);
}
