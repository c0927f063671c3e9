//! The `jsbench` binary as a user meets it: exit codes, field-level errors, the summary table of
//! a directory run, and Ctrl-C leaving nothing behind. Runs use the process backend.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn jsbench() -> Command {
    Command::new(env!("CARGO_BIN_EXE_jsbench"))
}

/// The stdout of a command that must have exited 0 (else fails showing stdout and stderr).
fn succeeded(out: &std::process::Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

const OK: &str = "name = \"ok\"\n[server]\nbackend = \"process\"\n[workload]\nmessages = 500\n";

#[test]
fn check_reports_file_field_and_allowed_values_with_exit_2() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "a.toml", OK);
    write(
        d.path(),
        "b.toml",
        "name = \"b\"\n[connections]\nstrategy = \"pool\"\n[workload]\nmessages = 5\n",
    );
    let out = jsbench().arg("check").arg(d.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("b.toml:3: connections.strategy:"), "{err}");
    assert!(
        err.contains("single") && err.contains("round_robin") && err.contains("key_affine"),
        "{err}"
    );

    let out = jsbench()
        .arg("check")
        .arg(d.path().join("a.toml"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_fault_the_backend_cannot_inject_is_a_field_error() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "k.toml",
        "name = \"k\"\n[server]\nbackend = \"external\"\nurl = \"nats://127.0.0.1:4222\"\n[workload]\nmessages = 5\n\
         [[faults]]\nkind = \"kill\"\nstart = \"1s\"\nduration = \"1s\"\n",
    );
    let out = jsbench().arg("check").arg(d.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("k.toml: faults[0].kind:"), "{err}");
    assert!(
        err.contains("\"kill\"") && err.contains("\"external\""),
        "{err}"
    );
}

/// `check --workers N` splits each scenario (issue 25): a pool splits and each worker's segment is
/// printed; a single connection, or fewer keys than workers, is an error naming the file, the
/// field and why, with exit 2.
#[test]
fn check_with_workers_splits_or_says_why_with_exit_2() {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "ka.toml",
        "name = \"ka\"\n[connections]\nstrategy = \"key_affine\"\ncount = 4\n\
         [workload]\nmessages = 1000\nkeys = 16\nrate = 500\n",
    );
    let out = jsbench()
        .args(["check", "--workers", "2"])
        .arg(d.path().join("ka.toml"))
        .output()
        .unwrap();
    let stdout = succeeded(&out);
    assert!(stdout.contains("across 2 worker(s)"), "{stdout}");
    assert!(
        stdout.contains("worker 0: ") && stdout.contains("worker 1: "),
        "{stdout}"
    );
    assert!(stdout.contains("connections 0–1") && stdout.contains("connections 2–3"));

    write(
        d.path(),
        "one.toml",
        "name = \"one\"\n[workload]\nmessages = 10\nkeys = 2\n",
    );
    let out = jsbench()
        .args(["check", "--workers", "3"])
        .arg(d.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "one.toml: connections.strategy: cannot split across 3 workers: strategy = \"single\""
        ),
        "{err}"
    );
    assert!(
        err.contains("one.toml: workload.keys: cannot split across 3 workers: 2 key(s)"),
        "{err}"
    );
    // ka.toml splits across 3 as well; only one.toml is named.
    assert!(!err.contains("ka.toml"), "{err}");
}

/// `[server] url` takes a comma-separated seed list, as the nats CLI does; a bad entry is named.
#[test]
fn a_seed_list_url_is_accepted_and_a_bad_seed_named() {
    let d = tempfile::tempdir().unwrap();
    let external = |url: &str| {
        format!("name = \"e\"\n[server]\nbackend = \"external\"\nurl = \"{url}\"\n[workload]\nmessages = 5\n")
    };
    write(d.path(), "e.toml", &external("nats://a:4222,nats://b:4222"));
    succeeded(&jsbench().arg("check").arg(d.path()).output().unwrap());
    write(
        d.path(),
        "e.toml",
        &external("nats://a:4222,nats://b:42x22"),
    );
    let out = jsbench().arg("check").arg(d.path()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("e.toml: server.url: "), "{err}");
    assert!(
        err.contains("\"nats://b:42x22\"") && err.contains("invalid port"),
        "{err}"
    );
}

#[test]
fn run_validates_a_whole_directory_before_running_anything() {
    let d = tempfile::tempdir().unwrap();
    let out_dir = d.path().join("results");
    let sc = d.path().join("sc");
    std::fs::create_dir(&sc).unwrap();
    write(&sc, "a.toml", OK);
    write(&sc, "z.toml", "name = \"z\"\n[workload]\nmessages = -1\n");
    let out = jsbench()
        .arg("run")
        .arg(&sc)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("z.toml: workload.messages: must be between 1"),
        "{err}"
    );
    assert!(err.contains("nothing was run"), "{err}");
    assert!(
        !out_dir.exists(),
        "no result may be written when validation fails"
    );
}

#[test]
fn directory_run_ends_with_the_summary_table() {
    let d = tempfile::tempdir().unwrap();
    let sc = d.path().join("sc");
    std::fs::create_dir(&sc).unwrap();
    write(&sc, "a.toml", OK);
    write(
        &sc,
        "b.toml",
        "name = \"rr\"\n[server]\nbackend = \"process\"\n[connections]\nstrategy = \"round_robin\"\ncount = 2\n[workload]\nmessages = 500\n",
    );
    let out_dir = d.path().join("results");
    let out = jsbench()
        .args(["run", "--no-progress", "--out"])
        .arg(&out_dir)
        .arg(&sc)
        .output()
        .unwrap();
    let stdout = succeeded(&out);
    assert!(stdout.contains("| scenario "), "{stdout}");
    assert!(
        stdout.contains("| ok ") && stdout.contains("| rr "),
        "{stdout}"
    );
    assert!(stdout.contains("storage order"), "{stdout}");
    let dirs: Vec<String> = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert!(dirs.iter().any(|d| d.ends_with("-ok")), "{dirs:?}");
    assert!(dirs.iter().any(|d| d.ends_with("-rr")), "{dirs:?}");
    let suite = dirs
        .iter()
        .find(|d| d.contains("-suite"))
        .expect("suite dir");
    let md = std::fs::read_to_string(out_dir.join(suite).join("summary.md")).unwrap();
    assert!(md.contains("| rr "), "{md}");
    // The terminal gets the table that fits 120 columns; summary.md keeps every column.
    let table: Vec<&str> = stdout.lines().filter(|l| l.starts_with("| ")).collect();
    assert!(table[0].starts_with("| scenario ") && table[0].contains("| verdict "));
    assert!(!table[0].contains("publish order"), "{}", table[0]);
    assert!(table.iter().all(|l| l.chars().count() <= 120), "{stdout}");
    assert!(md.contains("| publish order "), "{md}");
    // --wide: every column in the terminal too.
    let out = jsbench()
        .args(["run", "--no-progress", "--wide", "--out"])
        .arg(&out_dir)
        .arg(&sc)
        .output()
        .unwrap();
    let stdout = succeeded(&out);
    assert!(stdout.contains("| publish order "), "{stdout}");
}

#[test]
fn failed_claim_exits_1() {
    let d = tempfile::tempdir().unwrap();
    // A single connection keeps storage order, so claiming it broken must fail.
    write(
        d.path(),
        "x.toml",
        "name = \"x\"\n[server]\nbackend = \"process\"\n[workload]\nmessages = 300\n[expect]\nstorage_order = \"broken\"\n",
    );
    let out = jsbench()
        .args(["run", "--no-progress", "--out"])
        .arg(d.path().join("r"))
        .arg(d.path().join("x.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("[fail] storage_order"));
}

#[test]
fn repeat_with_csv_and_json_output() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "a.toml", OK);
    // --repeat 2 --format csv: two runs of one scenario, one CSV document on stdout and nothing
    // else (the suite summary path goes to stderr).
    let out = jsbench()
        .args(["run", "--repeat", "2", "--format", "csv", "--out"])
        .arg(d.path().join("r"))
        .arg(d.path().join("a.toml"))
        .output()
        .unwrap();
    let stdout = succeeded(&out);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    assert!(
        lines[0].starts_with("scenario,repetition,status,"),
        "{stdout}"
    );
    assert!(lines[1].starts_with("ok,1,complete,none,"), "{stdout}");
    assert!(lines[2].starts_with("ok,2,complete,none,"), "{stdout}");
    let dirs: Vec<String> = std::fs::read_dir(d.path().join("r"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert!(dirs.iter().any(|d| d.ends_with("-ok-r1")), "{dirs:?}");
    assert!(dirs.iter().any(|d| d.ends_with("-ok-r2")), "{dirs:?}");

    // --format json: one parseable document whose figures are those of result.json.
    let out = jsbench()
        .args(["run", "--format", "json", "--out"])
        .arg(d.path().join("j"))
        .arg(d.path().join("a.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    assert_eq!(v["schema"], "jsbench.summary/1");
    let run = &v["runs"][0];
    let result: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run["result"].as_str().unwrap()).unwrap())
            .unwrap();
    assert_eq!(run["published"], result["counts"]["published"]);
    assert_eq!(run["p99_us"], result["latency_us"]["publish_ack"]["p99"]);

    // quiet: nothing on stdout, the exit code tells.
    let out = jsbench()
        .args(["run", "--format", "quiet", "--out"])
        .arg(d.path().join("q"))
        .arg(d.path().join("a.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    let out = jsbench()
        .args(["run", "--format", "yaml"])
        .arg(d.path().join("a.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("allowed: text, json, csv, quiet"));
}

/// The monitoring URL of a container, from the host port Docker bound its 8222 to.
fn monitor_of_container(id: &str) -> Option<String> {
    let out = Command::new("docker")
        .args(["port", id, "8222/tcp"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let host = text.lines().find(|l| l.starts_with("127.0.0.1:"))?;
    Some(format!("http://{host}"))
}

/// Starts a long run, waits until the run has stored a message on its server (`monitor` gives
/// that server's monitoring URL once it is up; there is no warm-up, so the first stored message
/// is a measured one), sends SIGINT, and checks that jsbench exits 130 with an incomplete result
/// that counts what it published. Waiting for that, rather than for a fixed time, keeps a slow
/// machine from interrupting the run before it published anything.
fn interrupt_long_run(
    backend: &str,
    signal: libc::c_int,
    monitor: impl Fn(u32) -> Option<String>,
) -> (u32, tempfile::TempDir) {
    let d = tempfile::tempdir().unwrap();
    write(
        d.path(),
        "long.toml",
        &format!(
            "name = \"long\"\n[server]\nbackend = \"{backend}\"\n[workload]\nduration = \"5m\"\n"
        ),
    );
    let out_dir = d.path().join("r");
    let mut child = jsbench()
        .args(["run", "--no-progress", "--out"])
        .arg(&out_dir)
        .arg(d.path().join("long.toml"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let start = Instant::now();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let stored = |m: String| rt.block_on(common::stored_in_streams(&m, "JSB_LONG_"));
    while monitor(pid).and_then(stored).unwrap_or(0) == 0 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "jsbench never published to its server"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // SAFETY: sending a signal to our own child.
    unsafe { libc::kill(pid as libc::pid_t, signal) };
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "jsbench did not stop after Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run_dir = std::fs::read_dir(&out_dir)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("result.json")).unwrap())
            .unwrap();
    assert_eq!(v["status"], "incomplete");
    assert!(v["counts"]["published"].as_u64().unwrap() > 0);
    (pid, d)
}

#[test]
fn ctrl_c_stops_cleanly_and_leaves_no_server() {
    let seen = std::sync::Mutex::new(Vec::new());
    interrupt_long_run("process", libc::SIGINT, |pid| {
        let s = common::server_children(pid);
        let monitor = s.first().and_then(|&p| common::monitor_of_process(p));
        seen.lock().unwrap().extend(s);
        monitor
    });
    for pid in seen.into_inner().unwrap() {
        common::assert_process_gone(pid, "after Ctrl-C");
    }
}

/// SIGTERM (`docker stop`, a pod deleted, `kill`) stops a run as Ctrl-C does: exit 130, an
/// incomplete result counting what was published, no server left.
#[test]
fn sigterm_stops_cleanly_like_ctrl_c() {
    let seen = std::sync::Mutex::new(Vec::new());
    interrupt_long_run("process", libc::SIGTERM, |pid| {
        let s = common::server_children(pid);
        let monitor = s.first().and_then(|&p| common::monitor_of_process(p));
        seen.lock().unwrap().extend(s);
        monitor
    });
    for pid in seen.into_inner().unwrap() {
        common::assert_process_gone(pid, "after SIGTERM");
    }
}

/// Containers labelled with the jsbench pid that started them.
fn containers_of(pid: u32) -> Vec<String> {
    let out = Command::new("docker")
        .args(["ps", "-aq", "--filter", &format!("label=jsbench.pid={pid}")])
        .output()
        .expect("the docker CLI runs");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(String::from)
        .collect()
}

#[test]
fn ctrl_c_removes_the_container() {
    if std::env::var("JSBENCH_SKIP_CONTAINER_TESTS").as_deref() == Ok("1") {
        eprintln!("container test skipped: JSBENCH_SKIP_CONTAINER_TESTS=1");
        return;
    }
    let engine = Command::new("docker")
        .arg("info")
        .output()
        .map(|o| o.status.success());
    assert!(
        engine.unwrap_or(false),
        "no Docker engine answers: container tests need one (or set JSBENCH_SKIP_CONTAINER_TESTS=1 to skip them)"
    );
    let (pid, _d) = interrupt_long_run("container", libc::SIGINT, |pid| {
        containers_of(pid)
            .first()
            .and_then(|id| monitor_of_container(id))
    });
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(common::assert_nothing_left_in_docker(
            pid,
            &[],
            "after Ctrl-C",
        ));
}

#[test]
fn shipped_scenarios_validate_and_list() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let out = jsbench().arg("check").arg(&dir).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The matrix of the core issue: {single, rr4, ka4} × {sync, async} + msg-id.
    for name in [
        "single-sync-none",
        "single-async-none",
        "single-async-msgid-none",
        "rr4-sync-none",
        "rr4-async-none",
        "ka4-sync-none",
        "ka4-async-none",
    ] {
        assert!(
            stdout.contains(&format!("({name})")),
            "missing {name}: {stdout}"
        );
    }
    let out = jsbench().arg("list").arg(&dir).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains("rr4-async-none"));
}

#[test]
fn save_and_compare_a_baseline_from_the_cli() {
    let d = tempfile::tempdir().unwrap();
    write(d.path(), "a.toml", OK);
    let out = d.path().join("r");
    // A baseline that is not there is bad input, said before anything runs.
    let missing = jsbench()
        .args(["run", "--no-progress", "--baseline", "nope", "--out"])
        .arg(&out)
        .arg(d.path().join("a.toml"))
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(err.contains("no baseline \"nope\""), "{err}");
    assert!(!out.exists() || std::fs::read_dir(&out).unwrap().count() == 0);

    let saved = jsbench()
        .args(["run", "--no-progress", "--save-baseline", "main", "--out"])
        .arg(&out)
        .arg(d.path().join("a.toml"))
        .output()
        .unwrap();
    let stdout = succeeded(&saved);
    assert!(stdout.contains("baseline \"main\" saved"), "{stdout}");
    let kept: Vec<_> = std::fs::read_dir(out.join("baselines/main"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(kept[0].join("result.json").is_file());

    let compared = jsbench()
        .args(["run", "--no-progress", "--baseline", "main", "--out"])
        .arg(&out)
        .arg(d.path().join("a.toml"))
        .output()
        .unwrap();
    let stdout = succeeded(&compared);
    assert!(stdout.contains("against baseline \"main\""), "{stdout}");
    let suite = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with("-suite"))
        .expect("a suite dir with the comparison");
    assert!(suite.join("compare.md").is_file());
    let html = std::fs::read_to_string(suite.join("index.html")).unwrap();
    assert!(html.contains("Comparison with the baseline"));
}
