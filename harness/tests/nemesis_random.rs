//! The random nemesis (`[nemesis]`, issue 24): the same seed draws the same schedule; a run
//! writes `schedule.toml`, and running that file replays the same faults at the same offsets;
//! bad `[nemesis]` input exits 2 naming the field; Ctrl-C during a soak leaves an incomplete
//! result and nothing running.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use jsbench::nemesis::FaultKind;
use jsbench::scenario::{self, Overrides, Plan};

fn jsbench() -> Command {
    Command::new(env!("CARGO_BIN_EXE_jsbench"))
}

/// A single server (process backend) with a kill/pause nemesis over 10 s.
const SINGLE: &str = r#"
name = "nemesis-single"
seed = 11

[server]
backend = "process"

[publish]
mode = "async"
max_in_flight = 500
ack_timeout = "1s"
msg_id = true

[publish.retry]
attempts = 20
backoff = "100ms"
max_backoff = "500ms"

[workload]
duration = "10s"
keys = 8
rate = 1000

[nemesis]
kinds = ["kill", "pause"]
interval = ["2s", "4s"]
duration = ["500ms", "1500ms"]
"#;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn load(path: &Path) -> Plan {
    scenario::load(path, &Overrides::default()).expect("valid scenario")
}

/// (name, kind, planned start, planned duration) of every planned fault.
fn planned(p: &Plan) -> Vec<(String, FaultKind, Option<Duration>, Option<Duration>)> {
    p.faults
        .iter()
        .map(|f| {
            (
                f.name.clone(),
                f.fault.kind(),
                f.schedule.start,
                f.schedule.duration,
            )
        })
        .collect()
}

#[test]
fn the_same_seed_draws_the_same_schedule() {
    let d = tempfile::tempdir().unwrap();
    let a = load(&write(d.path(), "a.toml", SINGLE));
    let b = load(&write(d.path(), "b.toml", SINGLE));
    assert!(a.faults.len() >= 2, "{:?}", planned(&a));
    assert_eq!(a.faults, b.faults);
    let (na, nb) = (a.nemesis.as_ref().unwrap(), b.nemesis.as_ref().unwrap());
    assert_eq!((&na.spec, &na.entries), (&nb.spec, &nb.entries));
    let other = SINGLE.replace("[nemesis]\n", "[nemesis]\nseed = 12345\n");
    let c = load(&write(d.path(), "c.toml", &other));
    assert_ne!(planned(&a), planned(&c));
    // Every drawn fault is a kill or a pause within the run, in order, 2–4 s apart at least.
    let mut previous = Duration::ZERO;
    for (_, kind, start, duration) in planned(&a) {
        assert!(matches!(kind, FaultKind::Kill | FaultKind::Pause));
        let (start, duration) = (start.unwrap(), duration.unwrap());
        assert!(start >= previous + Duration::from_secs(2));
        assert!(start + duration <= Duration::from_secs(10));
        assert!(duration >= Duration::from_millis(500) && duration <= Duration::from_millis(1500));
        previous = start;
    }
}

#[test]
fn schedule_toml_validates_to_the_same_plan() {
    let d = tempfile::tempdir().unwrap();
    // Overrides on the command line are written into schedule.toml too.
    let o = Overrides {
        duration: Some(Duration::from_secs(20)),
        ..Overrides::default()
    };
    let a = scenario::load(&write(d.path(), "a.toml", SINGLE), &o).unwrap();
    let text = &a.nemesis.as_ref().unwrap().schedule;
    assert!(!text.contains("\n[nemesis]"), "{text}");
    let b = load(&write(d.path(), "schedule.toml", text));
    assert!(b.nemesis.is_none());
    assert_eq!(b.faults, a.faults);
    assert_eq!(
        (b.seed, &b.workload, &b.server, &b.publish),
        (a.seed, &a.workload, &a.server, &a.publish)
    );
    // The run's seed, drawn when the scenario has none, is written too.
    let unseeded = SINGLE.replace("seed = 11\n", "");
    let u = load(&write(d.path(), "u.toml", &unseeded));
    let replay = load(&write(
        d.path(),
        "u-schedule.toml",
        &u.nemesis.as_ref().unwrap().schedule,
    ));
    assert_eq!((replay.seed, &replay.faults), (u.seed, &u.faults));
}

/// A real run with a random nemesis writes schedule.toml; running it replays the same faults
/// (kinds, targets, planned offsets exactly; the windows seen in the same order).
#[tokio::test]
async fn a_replayed_schedule_reproduces_the_fault_timeline() {
    let d = tempfile::tempdir().unwrap();
    let first = load(&write(d.path(), "single.toml", SINGLE));
    let (run1, _out1) = common::run(&first).await;
    common::assert_complete(&run1.report);
    let schedule = run1.dir.join("schedule.toml");
    assert!(
        schedule.is_file(),
        "no schedule.toml in {}",
        run1.dir.display()
    );
    assert_eq!(
        run1.report.files.get("schedule").map(String::as_str),
        Some("schedule.toml")
    );
    let replay = load(&schedule);
    assert_eq!(replay.faults, first.faults, "the planned faults differ");
    let (run2, _out2) = common::run(&replay).await;
    common::assert_complete(&run2.report);
    let timeline = |r: &jsbench::result::Report| -> Vec<(String, FaultKind, String, u32)> {
        r.faults
            .iter()
            .map(|f| {
                let w = &f.window;
                (w.name.clone(), w.kind, w.target.clone(), w.occurrence)
            })
            .collect()
    };
    assert_eq!(timeline(&run1.report), timeline(&run2.report));
    assert_eq!(run1.report.faults.len(), first.faults.len());
    // Each window started no earlier than planned (how much later depends on the machine).
    for (f, plan) in run2.report.faults.iter().zip(&replay.faults) {
        let planned_ms = plan.schedule.start.unwrap().as_secs_f64() * 1e3;
        assert!(f.window.start_ms >= planned_ms - 1.0, "{:?}", f.window);
        assert!(f.window.error.is_none(), "{:?}", f.window);
    }
}

/// One bad `[nemesis]` per case: `jsbench run` exits 2 naming the field.
#[test]
fn bad_nemesis_input_exits_2_naming_the_field() {
    let single = |nemesis: &str| {
        format!(
            "name = \"bad\"\n[server]\nbackend = \"process\"\n[workload]\nduration = \"10s\"\n{nemesis}"
        )
    };
    let cluster = |backend: &str, nemesis: &str| {
        format!(
            "name = \"bad\"\n[server]\nbackend = \"{backend}\"\nnodes = 3\n[stream]\nreplicas = 3\n[workload]\nduration = \"10s\"\n{nemesis}"
        )
    };
    let cases = [
        (single("[nemesis]\nkinds = []\n"), "nemesis.kinds"),
        (single("[nemesis]\n"), "nemesis.kinds"),
        (
            single("[nemesis]\nkinds = [\"kill\"]\ninterval = [\"30s\", \"10s\"]\n"),
            "nemesis.interval",
        ),
        (
            single("[nemesis]\nkinds = [\"kill\"]\nduration = [\"8s\", \"2s\"]\n"),
            "nemesis.duration",
        ),
        (
            single("[nemesis]\nkinds = [\"kill\"]\ninterval = [\"10s\"]\n"),
            "nemesis.interval",
        ),
        (
            single("[nemesis]\nkinds = [\"partition\"]\n"),
            "nemesis.kinds",
        ),
        (
            single("[nemesis]\nkinds = [\"leader_stepdown\"]\n"),
            "nemesis.kinds",
        ),
        (
            single("[nemesis]\nkinds = [\"kill\"]\nmax_concurrent = 2\n"),
            "nemesis.max_concurrent",
        ),
        (
            cluster("process", "[nemesis]\nkinds = [\"kill\"]\nmax_concurrent = 4\n"),
            "nemesis.max_concurrent",
        ),
        (
            cluster("container", "[nemesis]\nkinds = [\"route_latency\"]\n"),
            "nemesis.kinds",
        ),
        (
            cluster("process", "[nemesis]\nkinds = [\"kill\"]\ntargets = [\"leaderr\"]\n"),
            "nemesis.targets",
        ),
        (
            single("[nemesis]\nkinds = [\"pause\"]\nduration = [\"0s\", \"1s\"]\n"),
            "nemesis.duration",
        ),
        (
            single("[nemesis]\nkinds = [\"kill\"]\n[[faults]]\nkind = \"pause\"\nstart = \"1s\"\nduration = \"1s\"\n"),
            "nemesis",
        ),
        (
            single("[nemesis]\nkinds = [\"kill\"]\n").replace("duration = \"10s\"", "messages = 1000"),
            "nemesis",
        ),
        (single("[nemesis]\nkinds = [\"explode\"]\n"), "nemesis.kinds"),
    ];
    let d = tempfile::tempdir().unwrap();
    for (text, field) in cases {
        let p = write(d.path(), "bad.toml", &text);
        let out = jsbench()
            .args(["run", "--no-progress", "--out"])
            .arg(d.path().join("r"))
            .arg(&p)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text}\n{stderr}");
        assert!(
            stderr.contains(&format!("{field}:")) || stderr.contains(&format!("{field}[")),
            "{text}\nshould name {field}:\n{stderr}"
        );
    }
    assert!(!d.path().join("r").exists(), "a bad scenario started a run");
}

/// Ctrl-C during the shipped soak (process backend, 3 nodes): exit 130, an incomplete result
/// that counts what was published, schedule.toml beside it, and no nats-server left.
#[test]
fn ctrl_c_during_a_soak_writes_an_incomplete_result_and_leaves_nothing() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let soak = root.join("scenarios/soak/r3-ka4-msgid-nemesis.toml");
    let d = tempfile::tempdir().unwrap();
    let out_dir = d.path().join("r");
    let mut child = jsbench()
        .args([
            "run",
            "--no-progress",
            "--backend",
            "process",
            "--duration",
            "5m",
            "--out",
        ])
        .arg(&out_dir)
        .arg(&soak)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut seen = Vec::new();
    let start = Instant::now();
    // Wait until the run has stored messages (warm-up included), not for a fixed time.
    loop {
        let nodes = common::server_children(pid);
        for &p in &nodes {
            if !seen.contains(&p) {
                seen.push(p);
            }
        }
        let stored = nodes
            .iter()
            .filter_map(|&p| common::monitor_of_process(p))
            .filter_map(|m| rt.block_on(common::stored_in_streams(&m, "JSB_SOAK_R3_KA4_")))
            .max()
            .unwrap_or(0);
        if stored > 2_000 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(120) && child.try_wait().unwrap().is_none(),
            "the soak never published"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(seen.len(), 3, "three nodes: {seen:?}");
    // SAFETY: sending SIGINT to our own child.
    unsafe { libc::kill(pid as libc::pid_t, libc::SIGINT) };
    let deadline = Instant::now() + Duration::from_secs(120);
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
        .flatten()
        .map(|e| e.path())
        .find(|p| p.join("result.json").is_file())
        .expect("a result dir");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("result.json")).unwrap())
            .unwrap();
    assert_eq!(v["status"], "incomplete");
    assert!(v["counts"]["published"].as_u64().unwrap() > 0);
    assert!(run_dir.join("schedule.toml").is_file());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("replay:  jsbench run "),
        "an incomplete run prints its replay command"
    );
    for p in seen {
        common::assert_process_gone(p, "after Ctrl-C during a soak");
    }
}

/// The shipped soak scenarios validate as written (10 minutes), shortened (the quick bench's
/// 30 s) and extended (`--duration 1h`), and draw their faults over the whole run.
#[test]
fn shipped_soak_scenarios_draw_over_their_length() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios/soak");
    let files = scenario::files_in(&dir).unwrap();
    assert!(!files.is_empty());
    for file in files {
        for (duration, at_least) in [
            (None, 600 / 30 - 1),
            (Some(30), 1),
            (Some(3600), 3600 / 30 - 1),
        ] {
            let o = Overrides {
                duration: duration.map(Duration::from_secs),
                ..Overrides::default()
            };
            let p = scenario::load(&file, &o).unwrap_or_else(|e| panic!("{e}"));
            let length = match p.workload.amount {
                scenario::Amount::Duration(d) => d,
                other => panic!("{}: {other:?}", file.display()),
            };
            assert_eq!(length.as_secs(), duration.unwrap_or(600));
            assert!(
                p.nemesis.is_some() && p.faults.len() >= at_least,
                "{}",
                p.faults.len()
            );
            for f in &p.faults {
                let end = f.schedule.start.unwrap() + f.schedule.duration.unwrap_or_default();
                assert!(end <= length, "{f:?}");
            }
        }
    }
}
