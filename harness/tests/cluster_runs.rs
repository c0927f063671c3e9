//! Whole runs against real 3-node clusters jsbench starts (process backend, and the container
//! backend for the leader's kill and partition): an R3 stream without
//! faults keeps one connection's order and its replicas agree; a leader killed -9 or cut off by a
//! partition hands over to a new leader without losing anything acknowledged, and the run
//! records who led when, how long acks stopped and which node the fault hit; repeated Msg-Ids on
//! R3 are answered "duplicate message id is in process" (10158), which overtakes the originals'
//! success acks and is neither a failure nor a duplicate in the stream.

use jsbench::checker::Verdict;
use jsbench::result::Report;

mod common;

async fn run(body: &str) -> Report {
    run_on("process", body).await
}

/// A run on a 3-node cluster of `backend` with an R3 stream (the run helper checks that node
/// 0's process is gone afterwards, on the process backend).
async fn run_on(backend: &str, body: &str) -> Report {
    let (r, _out) = common::run_text(&format!(
        "name = \"c\"\nseed = 3\n[server]\nbackend = \"{backend}\"\nnodes = 3\n[stream]\nreplicas = 3\n{body}"
    ))
    .await;
    assert_eq!(r.report.environment.backend.as_str(), backend);
    r.report
}

fn complete_and_safe(r: &Report) {
    common::assert_complete(r);
    assert_eq!(r.counts.lost, Some(0), "{:?}", r.safety);
    let c = r.cluster.as_ref().expect("a cluster section");
    let replicas = c.replicas.as_ref().expect("replicas surveyed");
    assert!(replicas.agree, "{replicas:?}");
    assert_eq!(replicas.nodes.len(), 3);
    // What the read-back saw is what every node holds (the warm-up aside).
    let stored = r.counts.stored.unwrap() + r.counts.duplicates.unwrap();
    let held = replicas.nodes[0].state.unwrap().messages;
    assert!(held >= stored, "nodes hold {held}, read back {stored}");
}

/// Publishing at 2000 msgs/s for 14 s through a follower, retrying with Msg-Id, with `fault`.
fn through_a_failover(fault: &str) -> String {
    format!(
        "[connections]\nconnect_to = \"follower\"\n\
         [publish]\nmode = \"async\"\nmax_in_flight = 1000\nack_timeout = \"2s\"\nmsg_id = true\n\
         [publish.retry]\nattempts = 20\nbackoff = \"100ms\"\nmax_backoff = \"1s\"\n\
         [workload]\nduration = \"14s\"\nrate = 2000\nkeys = 8\n\
         [[faults]]\n{fault}"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_r3_stream_keeps_one_connections_order_and_its_replicas_agree() {
    let r = run(
        "[publish]\nmode = \"async\"\nmax_in_flight = 1000\n[workload]\nmessages = 20000\nkeys = 8\n\
         [expect]\nstorage_order = \"preserved\"\nreplicas_agree = true\n",
    )
    .await;
    complete_and_safe(&r);
    assert_eq!(r.verdict, Verdict::Pass, "{:?}", r.verdicts);
    let c = r.cluster.as_ref().unwrap();
    assert_eq!(c.nodes, ["n0", "n1", "n2"]);
    assert!(c.leader_at_start.is_some());
    assert_eq!(c.leader_changes, 0);
    assert_eq!(c.node_figures.len(), 3);
    assert!(r.stream.replicas == 3 && r.counts.stored == Some(20000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_leader_hands_over_without_losing_acknowledged_messages() {
    let r = run(&through_a_failover(
        "kind = \"kill\"\nnode = \"leader\"\nstart = \"2s\"\nduration = \"6s\"\n",
    ))
    .await;
    complete_and_safe(&r);
    let c = r.cluster.as_ref().unwrap();
    let f = &r.faults[0];
    let before = f
        .window
        .leader_before
        .clone()
        .expect("the leader when it fired");
    assert_eq!(
        f.window.nodes,
        vec![before.clone()],
        "the fault hit the leader"
    );
    assert!(c.leader_changes >= 1, "{:?}", c.leaders);
    // Elected after the kill (how long an election takes on a busy machine is not asserted).
    let new = f.new_leader_ms.expect("a new leader after the kill");
    assert!(new > 0.0, "{new}");
    // Acks stopped while there was no leader: the longest stretch is measured from the acks.
    assert!(c.unavailable.longest_ms > 1000.0, "{:?}", c.unavailable);
    assert_eq!(c.unavailable.measured_by, "acks");
    let replies = r.replies.as_ref().unwrap();
    assert!(
        replies.errors.contains_key("503") || replies.timed_out > 0,
        "publishes during the election fail: {replies:?}"
    );
    // Messages retried through the election waited for it: intended → ack counts every attempt.
    let waited = r.latency_us["intended_ack"].max;
    assert!(waited > 1e6, "intended → ack max {waited} µs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_leader_is_replaced_and_the_replicas_agree_after_the_heal() {
    let r = run(&through_a_failover(
        "kind = \"partition\"\nnode = \"leader\"\nstart = \"2s\"\nduration = \"9s\"\n",
    ))
    .await;
    complete_and_safe(&r);
    let f = &r.faults[0];
    assert_eq!(f.window.target, format!("node {}", f.window.nodes[0]));
    assert!(
        f.new_leader_ms.is_some(),
        "{:?}",
        r.cluster.as_ref().unwrap().leaders
    );
    assert_ne!(f.window.leader_after, f.window.leader_before);
}

/// The client stays on the leader, which a partition cuts off: what it had proposed and not
/// committed is dropped when it loses its leadership, and a retry of such a message is answered
/// "duplicate message id is in process" (10158) until then.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_process_reply_must_be_retried_or_the_message_may_never_be_stored() {
    let on_the_leader = |policy: &str| {
        through_a_failover(
            "kind = \"partition\"\nnode = \"leader\"\nstart = \"2s\"\nduration = \"9s\"\n",
        )
        .replace("connect_to = \"follower\"", "connect_to = \"leader\"")
        .replace(
            "max_backoff = \"1s\"\n",
            &format!("max_backoff = \"1s\"\non_in_process = \"{policy}\"\n"),
        )
    };
    // Retried (the default): every message ends stored and acknowledged.
    let r = run(&on_the_leader("retry")).await;
    complete_and_safe(&r);
    assert!(r.replies.as_ref().unwrap().errors.contains_key("10158"));
    assert_eq!(r.counts.in_process, 0);
    assert_eq!(r.counts.acked, r.counts.published, "{:?}", r.counts);
    assert_eq!(r.counts.stored, Some(r.counts.published));
    // The majority elected a new leader while the partition lasted (9 s), though the client's
    // side (and the old leader itself) did not hear of it until the heal.
    let w = &r.faults[0].window;
    let new = r.faults[0].new_leader_ms.expect("a new leader");
    assert!(
        w.start_ms + new < w.end_ms,
        "new leader seen {new} ms after the cut, after the heal: {w:?}"
    );
    // Trusted: the in-process replies are the last word, and those messages are not stored.
    let r = run(&on_the_leader("trust")).await;
    complete_and_safe(&r);
    let s = r.safety.as_ref().unwrap();
    assert!(r.counts.in_process > 0, "{:?}", r.replies);
    assert_eq!(
        s.in_process_missing + s.in_process_stored,
        r.counts.in_process
    );
    assert!(s.in_process_missing > 0, "{s:?}");
    let c = &r.counts;
    assert_eq!(
        c.acked + c.failed + c.unknown + c.in_process + c.in_flight,
        c.published
    );
}

/// A key-affine pool spread over the three nodes (`connect_to = "any"`): each connection's node
/// forwards to the leader from the first message on (no "no responders" while the stream's
/// interest is still travelling), and key affinity keeps every key's order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_over_every_node_publishes_from_the_first_message_and_keeps_per_key_order() {
    pool_over_every_node(run(POOL_OVER_EVERY_NODE).await);
}

const POOL_OVER_EVERY_NODE: &str = "[connections]\nstrategy = \"key_affine\"\ncount = 3\n\
     [publish]\nmode = \"async\"\nmax_in_flight = 1000\n[workload]\nmessages = 15000\nkeys = 8\n\
     [expect]\nstorage_order = \"preserved_per_key\"\nall_acked = true\n";

fn pool_over_every_node(r: Report) {
    complete_and_safe(&r);
    assert_eq!(r.verdict, Verdict::Pass, "{:?} {:?}", r.verdicts, r.errors);
    let c = r.cluster.as_ref().unwrap();
    let mut primaries = c.primaries.clone();
    primaries.sort();
    assert_eq!(primaries, ["n0", "n1", "n2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_msg_ids_on_r3_are_in_process_replies_that_overtake_acks() {
    let r = run(
        "[publish]\nmode = \"async\"\nmax_in_flight = 500\nmsg_id = true\nrepeat_msg_id_every = 10\n\
         [workload]\nmessages = 10000\nkeys = 8\n",
    )
    .await;
    complete_and_safe(&r);
    let replies = r.replies.as_ref().unwrap();
    let in_process = replies.errors.get("10158").copied().unwrap_or(0);
    // 1000 repeats, each answered at once: in process (10158), or a duplicate ack when the
    // original was already committed.
    assert_eq!(in_process + replies.duplicate, 1000, "{replies:?}");
    assert!(in_process > 0, "{replies:?}");
    assert!(replies.overtaken.by_in_process > 0, "{replies:?}");
    // Not failures, and nothing stored twice.
    assert_eq!(r.counts.failed, 0);
    assert_eq!(r.counts.duplicates, Some(0));
    assert_eq!(r.counts.acked, 10000);
    // The repeats are in the attempt log, with their codes, not in the messages' own figures.
    assert!(r.files.contains_key("attempts"));
}

/// The container runs one at a time: each checks that nothing of this process is left behind.
static CONTAINERS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A whole run on a cluster of containers, then: no container or network of this process left.
async fn run_in_containers(body: &str) -> Option<Report> {
    common::container_test_image().await?;
    let _one_at_a_time = CONTAINERS.lock().await;
    let r = run_on("container", body).await;
    common::assert_nothing_left_in_docker(std::process::id(), &[], "after the run").await;
    Some(r)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn containers_killing_the_leader_hands_over_without_losing_acknowledged_messages() {
    let Some(r) = run_in_containers(&through_a_failover(
        "kind = \"kill\"\nnode = \"leader\"\nstart = \"2s\"\nduration = \"6s\"\n",
    ))
    .await
    else {
        return;
    };
    complete_and_safe(&r);
    let f = &r.faults[0];
    assert_eq!(
        f.window.nodes,
        vec![f.window.leader_before.clone().unwrap()]
    );
    assert!(f.new_leader_ms.is_some(), "{:?}", r.cluster);
    assert!(r.cluster.as_ref().unwrap().unavailable.longest_ms > 1000.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn containers_a_partitioned_leader_is_replaced_and_the_replicas_agree_after_the_heal() {
    let Some(r) = run_in_containers(&through_a_failover(
        "kind = \"partition\"\nnode = \"leader\"\nstart = \"2s\"\nduration = \"9s\"\n",
    ))
    .await
    else {
        return;
    };
    complete_and_safe(&r);
    let f = &r.faults[0];
    assert!(f.new_leader_ms.is_some(), "{:?}", r.cluster);
    assert_ne!(f.window.leader_after, f.window.leader_before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn containers_a_pool_over_every_node_publishes_from_the_first_message() {
    if let Some(r) = run_in_containers(POOL_OVER_EVERY_NODE).await {
        pool_over_every_node(r);
    }
}
