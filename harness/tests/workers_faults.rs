//! Faults in distributed runs (`jsbench run --workers N`, issue 25 item 2 "Faults"), against
//! real nats-servers (process backend; `jsbench fetch-server` provides the binary):
//! - a 3-node R3 cluster whose stream leader is killed -9 mid-run, Msg-Id + retries split across
//!   3 workers: the coordinator runs the kill; result.json `faults` has the window on the
//!   barrier's clock (inside the run, split into before / during / after by the merged history),
//!   and the verdicts that do not depend on timing are one process's;
//! - a power loss (disk fault, lazy sync) on a single node, split across 2 workers: the
//!   coordinator cuts power; the durability checker finds the acked messages lost, on the merged
//!   clock (these need FUSE: without it they fail saying so, never skip);
//! - a network fault with `--workers` is refused before anything runs (exit 2, naming it), by
//!   `run` and by `check --workers`; so is a server fault on an external server;
//! - no nats-server, and no fault filesystem mount, is left behind by the coordinator.
//!
//! Counts and statuses only: never timings beyond "inside the run".

mod common;
use common::only_result;

use std::path::Path;
use std::process::{Command, Output};

use jsbench::nemesis::FaultKind;
use jsbench::result::Report;

fn jsbench() -> Command {
    Command::new(env!("CARGO_BIN_EXE_jsbench"))
}

/// R3 on 3 nodes, a key-affine pool of 3 (one connection per worker), async with Msg-Id and
/// ~16 s of retries (longer than an election); 12000 messages at 2000/s (6 s); the stream
/// leader killed -9 at 1.5 s and started again 2 s later.
const KILL_LEADER: &str = r#"
name = "r3-ka3-kill-leader"
seed = 41
[server]
backend = "process"
nodes = 3
[stream]
storage = "file"
replicas = 3
[connections]
strategy = "key_affine"
count = 3
connect_to = "any"
[publish]
mode = "async"
max_in_flight = 500
ack_timeout = "2s"
msg_id = true
[publish.retry]
attempts = 20
backoff = "100ms"
max_backoff = "1s"
[workload]
messages = 12000
warmup = 0
keys = 16
rate = 2000
[[faults]]
name = "kill-leader"
kind = "kill"
node = "leader"
start = "1500ms"
duration = "2s"
[expect]
no_loss = true
no_duplicates = true
replicas_agree = true
"#;

/// `jsbench run <file> extra…` into a fresh results dir: its output, its one result, and the
/// pid of the jsbench process (whose nats-servers' dirs carry it).
fn run(file: &Path, extra: &[&str]) -> (Output, Report, u32) {
    let out = tempfile::tempdir().unwrap();
    let child = jsbench()
        .arg("run")
        .arg(file)
        .args(["--format", "quiet", "--no-progress"])
        .arg("--out")
        .arg(out.path())
        .args(extra)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("jsbench starts");
    let pid = child.id();
    let output = child.wait_with_output().expect("jsbench runs");
    let report = only_result(out.path()).unwrap_or_else(|| {
        panic!(
            "no result.json; stderr:\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (output, report, pid)
}

/// The pids of running nats-servers started by jsbench process `pid` (the process backend puts
/// each node in a temp dir `jsbench-nats-<pid>-…`, which is on the node's command line).
fn servers_of(pid: u32) -> Vec<u32> {
    let mark = format!("jsbench-nats-{pid}-");
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(n) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline);
        if cmdline.contains("nats-server") && cmdline.contains(&mark) {
            out.push(n);
        }
    }
    out
}

fn verdict(r: &Report, claim: &str) -> String {
    r.verdicts
        .iter()
        .find(|c| c.claim == claim)
        .map_or_else(|| "absent".into(), |c| format!("{:?}", c.verdict))
}

#[test]
fn a_leader_killed_by_the_coordinator_is_a_window_on_the_barriers_clock() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("r3-ka3-kill-leader.toml");
    std::fs::write(&file, KILL_LEADER).unwrap();

    let (_, one, one_pid) = run(&file, &[]);
    let (out, three, pid) = run(&file, &["--workers", "3"]);
    let err = String::from_utf8_lossy(&out.stderr);
    for (r, p) in [(&one, one_pid), (&three, pid)] {
        assert_eq!(r.status, "complete", "{:?}\n{err}", r.status_reason);
        assert!(
            servers_of(p).is_empty(),
            "a nats-server of jsbench {p} is left"
        );
    }
    assert_eq!(three.workers.len(), 3);
    assert!(
        three.workers.iter().all(|w| w.lost.is_none()),
        "{:?}",
        three.workers
    );

    // The window: the kill, injected at its time from the barrier and healed 2 s later, while
    // the workers still published (they publish for 6 s and more).
    assert_eq!(three.faults.len(), 1, "{:?}", three.faults);
    let f = &three.faults[0];
    let w = &f.window;
    assert_eq!((w.kind, w.name.as_str()), (FaultKind::Kill, "kill-leader"));
    assert_eq!(w.error, None);
    assert_eq!(w.nodes.len(), 1, "one node killed: {w:?}");
    assert!(!w.truncated, "{w:?}");
    let run_ms = three.throughput.duration_s * 1e3;
    assert!(
        w.start_ms >= 1500.0 && w.start_ms < run_ms,
        "{w:?}, run {run_ms} ms"
    );
    assert!(
        w.end_ms >= w.start_ms + 2000.0 && w.end_ms < run_ms,
        "{w:?}, run {run_ms} ms"
    );

    // The merged history split by the window: every published message is in one part, and
    // messages went out before the kill.
    let s = f
        .split
        .as_ref()
        .expect("the merged history is split by the window");
    let c = &three.counts;
    assert_eq!(
        s.before.published + s.during.published + s.after.published,
        c.published,
        "{s:?}"
    );
    assert!(s.before.published > 0, "{s:?}");
    assert!(three.cluster.is_some(), "the leader was watched");

    // The figures are judged, and on what does not depend on timing as in one process.
    assert_eq!(c.published, 12_000, "{c:?}");
    assert_eq!(c.lost, Some(0), "{c:?}");
    assert!(c.duplicates.is_some(), "{c:?}");
    assert_eq!(verdict(&three, "no_loss"), "Pass");
    assert_ne!(verdict(&three, "no_duplicates"), "absent");
    for claim in ["no_loss", "replicas_agree"] {
        assert_eq!(verdict(&three, claim), verdict(&one, claim), "{claim}");
    }
}

/// One node with lazy sync (2 min), a key-affine pool of 2, 3200 messages at 800/s (4 s),
/// power cut at 2 s for 500 ms.
const POWER_LOSS_LAZY: &str = r#"
name = "ka2-power-loss-lazy"
seed = 7
[server]
backend = "process"
sync_interval = "2m"
[stream]
storage = "file"
[connections]
strategy = "key_affine"
count = 2
[publish]
mode = "async"
max_in_flight = 200
ack_timeout = "5s"
msg_id = true
[publish.retry]
attempts = 20
backoff = "200ms"
[workload]
messages = 3200
warmup = 0
keys = 8
rate = 800
[[faults]]
name = "disk"
start = "2s"
kind = "power_loss"
duration = "500ms"
[expect]
no_loss = true
"#;

#[test]
fn a_power_loss_cut_by_the_coordinator_loses_what_lazy_sync_had_not_written() {
    if let Err(e) = jsbench::faultfs::check_fuse_available() {
        panic!("this test needs FUSE (apt-get install fuse3; /dev/fuse must be usable): {e}");
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pl.toml");
    std::fs::write(&file, POWER_LOSS_LAZY).unwrap();
    let (out, r, pid) = run(&file, &["--workers", "2"]);
    assert_eq!(r.status, "complete", "{:?}", r.status_reason);
    // The run's verdict fails (acked messages were lost): exit 1.
    assert_eq!(out.status.code(), Some(1));
    assert!(servers_of(pid).is_empty(), "a nats-server is left");
    let mark = format!("jsbench-faultfs-{pid} ");
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap();
    assert!(!mounts.lines().any(|l| l.starts_with(&mark)), "{mounts}");

    assert_eq!(r.faults.len(), 1);
    let w = &r.faults[0].window;
    assert_eq!((w.kind, w.error.as_deref()), (FaultKind::PowerLoss, None));
    let pl = w.disk[0].power_loss.expect("power loss counters");
    assert!(pl.bytes_dropped > 0, "{pl:?}");
    let d = r.durability.as_ref().expect("durability in result.json");
    assert_eq!(
        d.outcome,
        jsbench::checker::StreamOutcome::AckedLost,
        "{d:?}"
    );
    let lost = d.acked_lost.expect("read back");
    assert!(
        lost > 0 && Some(lost) == r.counts.lost,
        "{d:?} {:?}",
        r.counts
    );
    // The lost messages were acked before the cut, by the merged clock.
    let at = d.power_loss.as_ref().expect("the power loss's window");
    assert!(at.lost > 0 && at.lost <= lost, "{at:?}");
    assert_eq!(verdict(&r, "no_loss"), "Fail");
}

/// Exit 2 and stderr of `jsbench args…`, with nothing run.
fn refused(args: &[&str], file: &Path) -> String {
    let out = tempfile::tempdir().unwrap();
    let o = jsbench()
        .args(args)
        .arg(file)
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(only_result(out.path()).is_none(), "nothing was run");
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn shipped(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios")
        .join(format!("{name}.toml"))
}

#[test]
fn a_network_fault_with_workers_is_refused_naming_it() {
    let file = shipped("ka4-async-skew");
    let err = refused(&["run", "--workers", "2", "--backend", "process"], &file);
    assert!(
        err.contains("faults: not with --workers yet: fault \"skew-2ms\" (kind \"latency\")")
            && err.contains("per-worker network faults are not built yet"),
        "{err}"
    );
    let o = jsbench()
        .args(["check", "--workers", "2"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("fault \"skew-4ms\""), "{err}");
}

#[test]
fn check_with_workers_says_the_coordinator_runs_a_server_fault() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("kill.toml");
    std::fs::write(&file, KILL_LEADER).unwrap();
    let o = jsbench()
        .args(["check", "--workers", "3"])
        .arg(&file)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{o:?}");
    assert!(
        stdout.contains("fault kill-leader (kill): run by the coordinator"),
        "{stdout}"
    );
}

#[test]
fn a_server_fault_on_an_external_server_with_workers_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("ext-kill.toml");
    let text = KILL_LEADER
        .replace(
            "backend = \"process\"\nnodes = 3",
            "backend = \"external\"\nurl = \"nats://127.0.0.1:1\"",
        )
        .replace("replicas = 3", "replicas = 1")
        .replace("node = \"leader\"\n", "")
        .replace("replicas_agree = true\n", "");
    std::fs::write(&file, text).unwrap();
    let err = refused(&["run", "--workers", "3"], &file);
    assert!(err.contains("\"kill\" cannot be injected"), "{err}");
}
