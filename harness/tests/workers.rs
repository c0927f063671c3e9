//! Distributed load with local worker processes (`jsbench run --workers N`, issue 25 item 2),
//! against real nats-servers (process backend; `jsbench fetch-server` provides the binary):
//! - shipped scenarios split across 3 workers get the verdicts one process gets, and the merged
//!   histogram counts what was published;
//! - a scenario that cannot be split (`single`) is refused before anything runs (exit 2);
//! - a worker killed mid-run (the `JSBENCH_TEST_KILL_WORKER` hook: the coordinator SIGKILLs it
//!   300 ms after the start barrier) gives an incomplete run that names it;
//! - no worker process is left behind (each is killed and reaped by the coordinator).
//!
//! Counts and statuses only: never timings.

mod common;
use common::{only_result, verdicts};

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use jsbench::result::{LatencyKind, Lost, Report};

fn jsbench() -> Command {
    Command::new(env!("CARGO_BIN_EXE_jsbench"))
}

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios")
        .join(format!("{name}.toml"))
}

/// `jsbench run` of a shipped scenario, shortened, with `extra` arguments; its one result.
fn run(name: &str, messages: u64, extra: &[&str]) -> (Output, Report) {
    let out = tempfile::tempdir().unwrap();
    let mut cmd = jsbench();
    cmd.arg("run")
        .arg(scenario(name))
        .args(["--backend", "process", "--format", "quiet", "--no-progress"])
        .args(["--messages", &messages.to_string(), "--warmup", "1000"])
        .arg("--out")
        .arg(out.path())
        .args(extra);
    let output = cmd.output().expect("jsbench runs");
    let report = only_result(out.path()).unwrap_or_else(|| {
        panic!(
            "no result.json; stderr:\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output, report)
}

fn assert_split_run_matches(name: &str) {
    let (one_out, one) = run(name, 20_000, &[]);
    assert!(
        one_out.status.success() || one.status.is_complete(),
        "{name}: one process"
    );
    let (out, three) = run(name, 20_000, &["--workers", "3"]);
    assert_eq!(
        three.status, "complete",
        "{name}: {:?}",
        three.status_reason
    );
    assert!(out.status.code().is_some());
    assert_eq!(three.workers.len(), 3, "{name}: three workers listed");
    let c = &three.counts;
    assert_eq!(c.published, 20_000, "{name}: {c:?}");
    assert_eq!((c.acked, c.stored), (20_000, Some(20_000)), "{name}: {c:?}");
    assert_eq!(
        (c.lost, c.duplicates, c.unexpected),
        (Some(0), Some(0), Some(0))
    );
    // The merged histogram counts every acked message once.
    let ack = three
        .latency(LatencyKind::PublishAck)
        .expect("publish-to-ack measured");
    assert_eq!(ack.count, c.acked, "{name}: merged histogram count");
    // The workers' own figures add up to the run's.
    let published: u64 = three.workers.iter().map(|w| w.published.unwrap()).sum();
    let messages: u64 = three.workers.iter().map(|w| w.segment.messages).sum();
    assert_eq!((published, messages), (20_000, 20_000), "{name}");
    for w in &three.workers {
        assert!(
            w.lost.is_none(),
            "{name}: worker {} lost: {:?}",
            w.index,
            w.lost
        );
        assert!(w.clock_offset_ns.is_some() && w.clock_uncertainty_ns.is_some());
    }
    assert_eq!(verdicts(&three), verdicts(&one), "{name}: verdicts");
}

#[test]
fn key_affine_split_gets_the_verdicts_of_one_process() {
    assert_split_run_matches("ka4-async-none");
}

#[test]
fn round_robin_split_gets_the_verdicts_of_one_process() {
    assert_split_run_matches("rr4-async-none");
}

#[test]
fn sync_key_affine_split_gets_the_verdicts_of_one_process() {
    assert_split_run_matches("ka4-sync-none");
}

#[test]
fn sync_round_robin_split_gets_the_verdicts_of_one_process() {
    // Its claim is global order ("preserved"): judged per publisher across workers.
    assert_split_run_matches("rr4-sync-none");
}

/// Runs `name` across `workers` workers, which must be refused before anything runs: exit 2
/// and no result written. Returns stderr.
fn refused(name: &str, workers: &str) -> String {
    let out = tempfile::tempdir().unwrap();
    let o = jsbench()
        .arg("run")
        .arg(scenario(name))
        .args([
            "--workers",
            workers,
            "--backend",
            "process",
            "--format",
            "quiet",
        ])
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(only_result(out.path()).is_none(), "nothing was run");
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn network_faults_are_refused_before_anything_runs() {
    let err = refused("ka4-async-skew", "2");
    assert!(
        err.contains("ka4-async-skew.toml: faults: not with --workers yet"),
        "{err}"
    );
}

#[test]
fn a_single_connection_is_refused_before_anything_runs() {
    let err = refused("single-async-none", "3");
    assert!(err.contains("connections.strategy"), "{err}");
}

/// A key-affine scenario paced at 2000 msgs/s for 6000 messages (3 s): a kill 300 ms after
/// the barrier lands mid-run.
const PACED: &str = r#"
name = "ka4-paced"
seed = 7
[server]
backend = "process"
[connections]
strategy = "key_affine"
count = 4
[publish]
mode = "async"
max_in_flight = 1000
[workload]
messages = 6000
warmup = 0
keys = 16
rate = 2000
[expect]
no_loss = true
"#;

#[test]
fn a_killed_worker_makes_the_run_incomplete_and_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ka4-paced.toml");
    std::fs::write(&file, PACED).unwrap();
    let out = tempfile::tempdir().unwrap();
    let o = jsbench()
        .arg("run")
        .arg(&file)
        .args(["--workers", "3", "--format", "quiet", "--no-progress"])
        .arg("--out")
        .arg(out.path())
        .env("JSBENCH_TEST_KILL_WORKER", "1")
        .output()
        .unwrap();
    let r = only_result(out.path())
        .unwrap_or_else(|| panic!("no result: {}", String::from_utf8_lossy(&o.stderr)));
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(r.status, "incomplete");
    let why = r.status_reason.clone().unwrap_or_default();
    assert!(why.contains("worker 1 "), "{why}");
    let lost: Vec<&jsbench::result::WorkerReport> =
        r.workers.iter().filter(|w| w.lost.is_some()).collect();
    assert_eq!(lost.len(), 1, "{:?}", r.workers);
    assert_eq!(lost[0].index, 1);
    assert!(
        matches!(lost[0].lost, Some(Lost::Exited { .. })),
        "{:?}",
        lost[0].lost
    );
    // Its messages are not published (nothing of it arrived), and not lost either.
    let c = &r.counts;
    assert_eq!(c.published, 6000 - lost[0].segment.messages, "{c:?}");
    assert_eq!(c.lost, Some(0), "{c:?}");
    assert_eq!(c.acked, c.published, "{c:?}");
    let pid = lost[0].pid.expect("it registered");
    assert_gone(pid);
}

/// Process `pid` no longer runs (a zombie would be the coordinator's to reap: it is not).
fn assert_gone(pid: u32) {
    // SAFETY: signal 0 only checks that the process exists.
    let exists = unsafe { libc::kill(pid as i32, 0) } == 0;
    assert!(!exists, "process {pid} is still there");
}

#[test]
fn no_worker_is_left_behind() {
    let (_, r) = run("ka4-async-none", 5_000, &["--workers", "2"]);
    assert_eq!(r.status, "complete", "{:?}", r.status_reason);
    for w in &r.workers {
        assert_gone(w.pid.expect("registered"));
    }
}
