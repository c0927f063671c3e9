//! Runs through an adapter (docs/adapters.md) end to end, against a real nats-server (process
//! backend): async-nats through the contract (`async-nats-stdio`) fills the same result.json
//! as in-process; a faulty adapter (tests/fixtures/adapters/run_wrap.py around the real
//! async-nats adapter, one planted fault each) ends the run as the contract says; and
//! `jsbench check` refuses each bad `[client]` value.

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::{assert_complete, assert_nothing_lost, assert_process_stops, assert_run_server_gone};
use jsbench::result::{Report, RunStatus};

const ADAPTER: &str = env!("CARGO_BIN_EXE_jsbench-adapter-async-nats");

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/adapters")
        .join(name)
        .display()
        .to_string()
}

fn scenario(client: &str, publish: &str, messages: u64) -> String {
    format!(
        "name = \"t\"\nseed = 7\n{client}\n[server]\nbackend = \"process\"\n{publish}\n\
         [workload]\nmessages = {messages}\nwarmup = 200\nkeys = 16\n"
    )
}

const ASYNC: &str = "[publish]\nmode = \"async\"\nmax_in_flight = 500\nack_timeout = \"2s\"\n";

fn client(r: &Report) -> &jsbench::result::ClientReport {
    r.client.as_ref().expect("every run has a client object")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_nats_through_the_contract_counts_what_in_process_counts() {
    let n = 5000;
    let (inp, _d1) = common::run_text(&scenario("", ASYNC, n)).await;
    let stdio = scenario("[client]\nadapter = \"async-nats-stdio\"", ASYNC, n);
    let (ad, _d2) = common::run_text(&stdio).await;
    for r in [&inp.report, &ad.report] {
        assert_complete(r);
        assert_nothing_lost(r);
        assert_eq!(r.counts.published, n);
        assert_eq!(r.counts.acked, n);
        assert_eq!(r.counts.stored, Some(n));
        assert_eq!(r.counts.unresolved, 0);
    }
    let (a, b) = (&inp.report.counts, &ad.report.counts);
    assert_eq!(
        (a.failed, a.unknown, a.duplicates, a.lost),
        (b.failed, b.unknown, b.duplicates, b.lost)
    );
    let c = client(&ad.report);
    assert_eq!(
        (c.name.as_str(), c.adapter.as_str()),
        ("async-nats", "async-nats-stdio")
    );
    assert_eq!(
        (c.exit, c.killed, c.late_reports),
        (Some(0), Some(false), Some(0))
    );
    assert!(c.clock_uncertainty_ns.is_some() && c.clock_drift_ns.is_some());
    assert_eq!(client(&inp.report).adapter, "in-process");
    // The adapter process's CPU is measured beside jsbench's; in-process has none.
    assert!(ad.report.resources.adapter_cpu_ns_per_msg.is_some());
    assert!(inp.report.resources.adapter_cpu_ns_per_msg.is_none());
    // The wire order is not observable through an adapter: not measured, never faked.
    assert!(inp.report.order.ack_wire.is_some());
    assert!(ad.report.order.ack_wire.is_none());
    assert_eq!(ad.report.order.ack_completion.as_ref().unwrap().messages, n);
    assert_run_server_gone(&ad);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adapter_that_crashes_mid_run_leaves_an_incomplete_run_and_nothing_running() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("adapter.pid");
    let client = format!(
        "[client]\ncommand = [\"{}\", \"{ADAPTER}\", \"crash-after=1500\", \"{}\"]",
        fixture("run_wrap.py"),
        pid_file.display()
    );
    let (out, _d) = common::run_text(&scenario(&client, ASYNC, 5000)).await;
    let r = &out.report;
    assert_eq!(r.status, RunStatus::Incomplete, "{:?}", r.status_reason);
    let reason = r.status_reason.as_deref().unwrap_or_default();
    assert!(reason.contains("adapter"), "{reason}");
    assert!(
        reason.contains("crashing after 1500"),
        "stderr quoted: {reason}"
    );
    // What was observed before the crash is kept: the warm-up's 200 and some measured ones.
    assert!(
        r.counts.published > 0 && r.counts.published < 5000,
        "{:?}",
        r.counts
    );
    assert!(r.counts.acked > 0, "{:?}", r.counts);
    assert!(r.counts.stored.is_some(), "the stream was still read back");
    assert_ne!(r.verdict, jsbench::checker::Verdict::Pass);
    let c = r.client.as_ref().unwrap();
    assert_eq!(c.exit, Some(3), "{c:?}");
    let real: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // The wrapper's child, reparented when the wrapper crashed: killed with the adapter's group.
    assert_process_stops(real, "after the run whose adapter crashed");
    assert_run_server_gone(&out);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_the_client_never_resolves_are_unresolved_and_read_back_classifies_them() {
    let client = format!(
        "[client]\ncommand = [\"{}\", \"{ADAPTER}\", \"drop-acks=50\"]\nresolve_timeout = \"1s\"",
        fixture("run_wrap.py")
    );
    let (out, _d) = common::run_text(&scenario(&client, ASYNC, 3000)).await;
    let r = &out.report;
    // Ids run on from the warm-up's: count the measured ones the wrapper swallowed.
    let warmup = 200u64;
    let dropped = (warmup..warmup + 3000).filter(|id| id % 50 == 7).count() as u64;
    assert_eq!(r.counts.unresolved, dropped, "{:?}", r.counts);
    assert_eq!(r.counts.acked, 3000 - dropped);
    let s = r.safety.as_ref().expect("a complete read-back");
    // The real client published them: every one is stored.
    assert_eq!(
        (s.unresolved_but_stored, s.unresolved_missing),
        (dropped, 0)
    );
    assert_eq!(s.lost, 0);
    assert_eq!(r.errors.get("unresolved"), Some(&dropped));
}

fn check(text: &str) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("s.toml");
    std::fs::write(&f, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_jsbench"))
        .arg("check")
        .arg(&f)
        .output()
        .unwrap();
    let all =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), all)
}

#[test]
fn check_refuses_each_bad_client_value_naming_the_field() {
    let cases = [
        (
            "adapter = \"nats.java\"",
            "",
            "client.adapter",
            "\"nats.go\"",
        ),
        (
            "command = [\"/no/such/prog\"]",
            "",
            "client.command",
            "not found",
        ),
        (
            "command = [\"./Cargo.toml\"]",
            "",
            "client.command",
            "not executable",
        ),
        (
            "adapter = \"nats.go\"\ncommand = [\"sh\"]",
            "",
            "client.command",
            "exclusive",
        ),
        (
            "adapter = \"nats.go\"",
            "mode = \"batch\"",
            "publish.mode",
            "\"sync\" or \"async\"",
        ),
        (
            "adapter = \"nats.go\"",
            "expect_last_subject_seq = true",
            "publish.expect_last_subject_seq",
            "adapter",
        ),
        (
            "adapter = \"nats.go\"",
            "wire = \"headers\"",
            "publish.wire",
            "payload",
        ),
        (
            "adapter = \"nats.go\"\nmax_pending = 0",
            "",
            "client.max_pending",
            "between",
        ),
        (
            "adapter = \"nats.go\"\nresolve_timeout = \"soon\"",
            "",
            "client.resolve_timeout",
            "duration",
        ),
    ];
    for (client, publish, field, says) in cases {
        let text = format!(
            "name = \"t\"\n[client]\n{client}\n[publish]\n{publish}\n[workload]\nmessages = 10\n"
        );
        let (code, out) = check(&text);
        assert_eq!(code, 2, "{client} / {publish}: {out}");
        assert!(
            out.contains(field),
            "{client} / {publish}: names {field}: {out}"
        );
        assert!(
            out.contains(says),
            "{client} / {publish}: says {says}: {out}"
        );
    }
    // A shipped adapter needs only its name at check time (it is built on first use).
    let (code, out) =
        check("name = \"t\"\n[client]\nadapter = \"nats.py\"\n[workload]\nmessages = 10\n");
    assert_eq!(code, 0, "{out}");
}
