//! Disk faults in real runs (issue 23): the process backend mounts the fault filesystem under
//! each node's store, and the nemesis cuts power, flips bits and truncates files of real
//! nats-servers. Runs are short (a few thousand messages, seconds): R1 is enough to show the
//! fault works end to end; the R3 figures come from the shipped scenarios (README).
//!
//! These tests need FUSE (`/dev/fuse` and `fusermount3`, Debian's fuse3): without it they fail
//! saying what is missing, never skip.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use jsbench::checker::StreamOutcome;
use jsbench::result::Report;

fn need_fuse() {
    if let Err(e) = jsbench::faultfs::check_fuse_available() {
        panic!("these tests need FUSE (apt-get install fuse3; /dev/fuse must be usable): {e}");
    }
}

/// One node, `rate` msgs/s for 4 s after a 300-message warm-up, `fault` at 2 s.
fn scenario(name: &str, sync: &str, fault: &str) -> String {
    format!(
        r#"name = "{name}"
seed = 7
[server]
backend = "process"
sync_interval = "{sync}"
[stream]
storage = "file"
[publish]
mode = "async"
max_in_flight = 200
ack_timeout = "5s"
msg_id = true
[publish.retry]
attempts = 20
backoff = "200ms"
[workload]
duration = "4s"
warmup = 300
keys = 8
rate = 800
[[faults]]
name = "disk"
start = "2s"
{fault}
"#
    )
}

async fn run(name: &str, sync: &str, fault: &str) -> (Report, tempfile::TempDir) {
    need_fuse();
    let (out, dir) = common::run_text(&scenario(name, sync, fault)).await;
    common::assert_complete(&out.report);
    (out.report, dir)
}

const POWER_LOSS: &str = "kind = \"power_loss\"\nduration = \"500ms\"";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_power_loss_with_lazy_sync_loses_acked_messages() {
    let (r, _d) = run("pl-lazy", "2m", POWER_LOSS).await;
    let d = r.durability.as_ref().expect("durability in result.json");
    let lost = d.acked_lost.expect("read back");
    assert!(lost > 0, "nothing acked was lost: {d:?}");
    assert_eq!(d.outcome, StreamOutcome::AckedLost);
    let effect = &r.faults[0].window.disk[0];
    let pl = effect.power_loss.expect("power loss counters");
    assert!(pl.bytes_dropped > 0 && pl.files_reverted > 0, "{pl:?}");
    assert_eq!(d.nodes.len(), 1);
    assert!(d.nodes[0].holds, "the stream's creation was checkpointed");
    // Over what window: the lost messages were acked before the cut, within `window_ms` of it.
    let w = d.power_loss.as_ref().expect("the power loss's window");
    assert!(w.lost > 0 && w.lost <= lost, "{w:?}");
    assert!(w.window_ms > 0.0 && w.acked_in_window >= w.lost, "{w:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_power_loss_with_sync_always_loses_nothing_acked() {
    let (r, _d) = run("pl-always", "always", POWER_LOSS).await;
    let d = r.durability.as_ref().expect("durability in result.json");
    assert_eq!(d.acked_lost, Some(0), "{d:?}");
    assert_eq!(d.outcome, StreamOutcome::Intact);
    assert!(d.acked > 0);
    // Something unsynced existed to drop (at least the server's own lazily written files), and
    // it was counted; what was acked had been fsynced.
    assert!(r.faults[0].window.disk[0].power_loss.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bit_flips_in_blocks_complete_with_per_node_figures() {
    let fault = "kind = \"disk_corrupt\"\nfiles = \"blocks\"\nbits = 16\nduration = \"300ms\"";
    let (r, _d) = run("flip", "always", fault).await;
    let w = &r.faults[0].window;
    assert_eq!(w.error, None);
    let flips = &w.disk[0].flips;
    assert_eq!(flips.len(), 16, "{flips:?}");
    assert!(flips
        .iter()
        .all(|f| f.file.to_string_lossy().ends_with(".blk")));
    let d = r.durability.as_ref().expect("durability in result.json");
    assert_eq!(d.nodes.len(), 1);
    assert!(d.acked > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_block_completes_with_per_node_figures() {
    let fault =
        "kind = \"disk_truncate\"\nfiles = \"blocks\"\nfraction = 0.5\nduration = \"300ms\"";
    let (r, _d) = run("cut", "always", fault).await;
    let w = &r.faults[0].window;
    assert_eq!(w.error, None);
    let t = w.disk[0].truncation.as_ref().expect("truncation recorded");
    assert_eq!(t.new_len, t.old_len - t.old_len / 2, "{t:?}");
    assert!(t.file.to_string_lossy().ends_with(".blk"));
    let d = r.durability.as_ref().expect("durability in result.json");
    assert_eq!(d.nodes.len(), 1);
    assert!(d.nodes[0].holds || d.outcome == StreamOutcome::Deleted);
}

/// Lines of /proc/mounts naming a fault filesystem of jsbench process `pid`.
fn mounts_of(pid: u32) -> Vec<String> {
    let needle = format!("jsbench-faultfs-{pid} ");
    std::fs::read_to_string("/proc/mounts")
        .unwrap()
        .lines()
        .filter(|l| l.starts_with(&needle))
        .map(String::from)
        .collect()
}

fn assert_no_mount_of(pid: u32) {
    let left = mounts_of(pid);
    assert!(left.is_empty(), "mounts left behind: {left:?}");
}

/// A jsbench child, killed and reaped when dropped (a failing test leaves no run behind).
struct Jsbench(std::process::Child);

impl Drop for Jsbench {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A jsbench child on a 5-minute disk-fault scenario (its power loss is far off), once its
/// fault filesystem is mounted and its server stores messages.
fn long_run(dir: &std::path::Path) -> Jsbench {
    need_fuse();
    let text = scenario("long-disk", "always", POWER_LOSS)
        .replace("duration = \"4s\"", "duration = \"5m\"")
        .replace("start = \"2s\"", "start = \"4m\"")
        .replace("warmup = 300", "warmup = 0");
    std::fs::write(dir.join("long.toml"), text).unwrap();
    let child = Jsbench(
        Command::new(env!("CARGO_BIN_EXE_jsbench"))
            .args(["run", "--no-progress", "--out"])
            .arg(dir.join("r"))
            .arg(dir.join("long.toml"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let pid = child.0.id();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let start = Instant::now();
    loop {
        let servers = common::server_children(pid);
        let monitor = servers.first().and_then(|&p| common::monitor_of_process(p));
        let stored = monitor
            .and_then(|m| rt.block_on(common::stored_in_streams(&m, "JSB_LONG_DISK_")))
            .unwrap_or(0);
        if stored > 0 && !mounts_of(pid).is_empty() {
            return child;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "jsbench never published through its fault filesystem"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn wait_exit(child: &mut Jsbench) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(s) = child.0.try_wait().unwrap() {
            return s;
        }
        assert!(Instant::now() < deadline, "jsbench did not stop");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn ctrl_c_unmounts_the_fault_filesystems() {
    let d = tempfile::tempdir().unwrap();
    let mut child = long_run(d.path());
    let pid = child.0.id();
    // SAFETY: sending SIGINT to our own child.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGINT) };
    let status = wait_exit(&mut child);
    assert_eq!(status.code(), Some(130));
    assert_no_mount_of(pid);
}

#[test]
fn a_stale_mount_of_a_killed_run_is_swept_by_the_next_run() {
    let d = tempfile::tempdir().unwrap();
    let child = long_run(d.path());
    let pid = child.0.id();
    drop(child); // SIGKILL: it cannot unmount

    assert!(
        !mounts_of(pid).is_empty(),
        "a SIGKILLed jsbench cannot unmount: its mount should still be there"
    );
    let plan = common::plan(
        "name = \"next\"\n[server]\nbackend = \"process\"\n[workload]\nmessages = 200\n",
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (out, _dir) = rt.block_on(common::run(&plan));
    common::assert_complete(&out.report);
    assert_no_mount_of(pid);
}
