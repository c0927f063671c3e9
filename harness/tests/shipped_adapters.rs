//! Each shipped adapter of another client library (nats.go, nats.c, nats.py; docs/adapters.md)
//! in real runs against a real nats-server (process backend): one ordering run and one fault run
//! each. Conformance is `tests/adapters.rs`. The adapters are built on first use from this
//! machine's registries (`.ci/run` installs the toolchains); a missing toolchain fails the test
//! with the install command, never skips it.
//!
//! What is asserted is what must hold for any client: the run completes, every message is
//! accounted for, nothing acknowledged is lost, the adapter exits cleanly. How the client
//! resolves publishes across a connection reset is its behaviour, measured, not asserted.

mod common;

use common::{assert_complete, assert_nothing_lost, assert_run_server_gone};
use jsbench::result::Report;

const ASYNC: &str = "[publish]\nmode = \"async\"\nmax_in_flight = 500\nack_timeout = \"2s\"\n";

fn scenario(adapter: &str, publish: &str, workload: &str, faults: &str) -> String {
    format!(
        "name = \"t\"\nseed = 7\n[client]\nadapter = \"{adapter}\"\n[server]\n\
         backend = \"process\"\n[connections]\nstrategy = \"single\"\n{publish}\n\
         [workload]\n{workload}\nwarmup = 200\nkeys = 16\n{faults}"
    )
}

/// Every message of the measured phase ended in exactly one way.
fn assert_accounted(r: &Report) {
    let c = &r.counts;
    let ended =
        c.acked + c.failed + c.unknown + c.in_flight + c.in_process + c.rejected + c.unresolved;
    assert_eq!(ended, c.published, "{c:?}");
}

fn assert_clean_exit(r: &Report, name: &str) {
    let c = r.client.as_ref().expect("a client object");
    assert_eq!((c.name.as_str(), c.adapter.as_str()), (name, name), "{c:?}");
    assert!(!c.version.is_empty(), "{c:?}");
    assert_eq!((c.exit, c.killed), (Some(0), Some(false)), "{c:?}");
    assert!(c.clock_uncertainty_ns.is_some(), "{c:?}");
}

/// A single connection, async, no fault: every message acked and stored once, the completion
/// and storage orders measured over all of them.
async fn ordering_run(name: &str, messages: u64) {
    let text = scenario(name, ASYNC, &format!("messages = {messages}"), "");
    let (out, _dir) = common::run_text(&text).await;
    let r = &out.report;
    assert_complete(r);
    assert_nothing_lost(r);
    assert_clean_exit(r, name);
    assert_eq!(
        (r.counts.published, r.counts.acked, r.counts.stored),
        (messages, messages, Some(messages)),
        "{:?}",
        r.counts
    );
    assert_eq!(r.counts.unresolved, 0);
    let completion = r.order.ack_completion.as_ref().expect("completion order");
    assert_eq!(completion.messages, messages);
    let storage = r.order.storage.as_ref().expect("storage order");
    assert_eq!(storage.messages, messages);
    assert!(r.order.ack_wire.is_none(), "the wire is not observable");
    let cpu = r.resources.adapter_cpu_ns_per_msg;
    assert!(cpu.is_some_and(|ns| ns > 0.0), "the adapter's CPU: {cpu:?}");
    assert_run_server_gone(&out);
}

/// Msg-Id, a connection reset (RST) a second into a paced run: the run completes, every
/// message is accounted for (acked, failed, unknown or unresolved by the client), nothing acked
/// is lost, the stream is read back (so `unresolved_but_stored` and `definite_but_stored` are
/// measured), and the adapter still exits cleanly.
async fn reset_run(name: &str) {
    let publish = format!("{ASYNC}msg_id = true\n");
    let faults = "[[faults]]\nname = \"reset\"\nkind = \"reset_peer\"\nstart = \"1s\"\n";
    let text = scenario(name, &publish, "duration = \"3s\"\nrate = 1000", faults);
    let (out, _dir) = common::run_text(&text).await;
    let r = &out.report;
    assert_complete(r);
    let c = &r.counts;
    assert_eq!(
        (c.lost, c.duplicates, c.unexpected),
        (Some(0), Some(0), Some(0)),
        "nothing acked lost, nothing stored twice: {c:?}"
    );
    assert_clean_exit(r, name);
    assert_accounted(r);
    assert!(r.counts.published > 0, "{:?}", r.counts);
    assert_eq!(r.faults.len(), 1, "the reset ran");
    assert!(r.safety.is_some(), "the stream was read back");
    assert_run_server_gone(&out);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_go_ordering_run() {
    ordering_run("nats.go", 5000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_go_reset_run() {
    reset_run("nats.go").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_c_ordering_run() {
    ordering_run("nats.c", 5000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_c_reset_run() {
    reset_run("nats.c").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_py_ordering_run() {
    ordering_run("nats.py", 2000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_py_reset_run() {
    reset_run("nats.py").await;
}
