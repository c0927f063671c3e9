//! `jsbench compare` end to end: synthetic baseline / candidate sets built from the recorded
//! fixtures (repeats with controlled noise), run through the binary; exit codes, table text and
//! the github-action-benchmark files.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use jsbench::checker::Verdict;
use jsbench::result::{write_report, Report};

const SCENARIOS: [&str; 2] = ["single-async-none", "ka4-async-none"];

fn fixture(scenario: &str) -> Report {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/recorded");
    let dir = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .ends_with(&format!("Z-{scenario}"))
        })
        .unwrap_or_else(|| panic!("no fixture for {scenario}"));
    Report::load(&dir.join("result.json")).unwrap()
}

/// One run of `scenario`: throughput × `tput`, every publish_ack latency × `lat`.
fn run(scenario: &str, tput: f64, lat: f64) -> Report {
    let mut r = fixture(scenario);
    r.throughput.msgs_per_sec *= tput;
    let l = r.latency_us.get_mut("publish_ack").unwrap();
    l.p50 *= lat;
    l.p99 *= lat;
    l.p999 *= lat;
    r
}

/// Writes one run directory per factor and scenario under `dir`; returns the run directories.
/// `tput(scenario)` scales throughput, `lat(scenario)` latency, each times (1 + noise).
fn write_set(
    dir: &Path,
    noise: &[f64],
    tput: impl Fn(&str) -> f64,
    lat: impl Fn(&str) -> f64,
) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for s in SCENARIOS {
        for (i, e) in noise.iter().enumerate() {
            let d = dir.join(format!("20260101T00000{i}Z-{s}"));
            std::fs::create_dir_all(&d).unwrap();
            write_report(&d, &run(s, tput(s) * (1.0 + e), lat(s) * (1.0 + e))).unwrap();
            out.push(d);
        }
    }
    out
}

fn jsbench(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_jsbench"));
    for a in args {
        c.arg(a);
    }
    c.output().unwrap()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

const NOISE: [f64; 5] = [0.0, 0.01, -0.01, 0.02, -0.02];
const NOISE_B: [f64; 5] = [0.015, -0.005, 0.005, -0.015, 0.0];

#[test]
fn a_throughput_drop_fails_the_gate_and_writes_every_output() {
    let t = tempfile::tempdir().unwrap();
    let (base, cand, out) = (t.path().join("base"), t.path().join("cand"), t.path());
    write_set(&base, &NOISE, |_| 1.0, |_| 1.0);
    // single-async-none loses 30 % throughput; ka4-async-none only moves within the noise.
    write_set(
        &cand,
        &NOISE_B,
        |s| if s == "single-async-none" { 0.7 } else { 1.0 },
        |_| 1.0,
    );
    let (json, md, gh) = (out.join("c.json"), out.join("c.md"), out.join("gh"));
    let o = jsbench(&[
        &"compare",
        &base,
        &cand,
        &"--json",
        &json,
        &"--markdown",
        &md,
        &"--gh-bench-dir",
        &gh,
    ]);
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{stdout}\n{stderr}");
    let regression_rows: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("**REGRESSION**"))
        .collect();
    assert_eq!(regression_rows.len(), 1, "{stdout}");
    assert!(
        regression_rows[0].starts_with("| single-async-none | msgs_per_sec |"),
        "{stdout}"
    );
    assert!(regression_rows[0].contains("-30.0% worse"), "{stdout}");
    assert!(stdout.ends_with("1 regression(s)\n"), "{stdout}");
    assert_eq!(std::fs::read_to_string(&md).unwrap(), stdout);

    let c: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(c["regressions"], 1);
    assert_eq!(c["rows"].as_array().unwrap().len(), 8);

    let read = |name: &str| -> Vec<serde_json::Value> {
        serde_json::from_slice::<serde_json::Value>(&std::fs::read(gh.join(name)).unwrap())
            .unwrap()
            .as_array()
            .unwrap()
            .clone()
    };
    let bigger = read("bigger-is-better.json");
    let names: Vec<&str> = bigger.iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "ka4-async-none - msgs_per_sec",
            "single-async-none - msgs_per_sec"
        ]
    );
    // The candidate median: the run with noise 0.
    let want = fixture("single-async-none").throughput.msgs_per_sec * 0.7;
    let got = bigger[1]["value"].as_f64().unwrap();
    assert!((got - want).abs() < 0.01, "{got} vs {want}");
    assert_eq!(bigger[1]["unit"], "msgs/s");
    assert!(bigger[1]["range"].as_str().unwrap().starts_with("± "));
    assert!(bigger[1]["extra"]
        .as_str()
        .unwrap()
        .starts_with("n=5; baseline "));
    let smaller = read("smaller-is-better.json");
    let names: Vec<&str> = smaller
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "ka4-async-none - p50",
            "ka4-async-none - p99",
            "ka4-async-none - p999",
            "single-async-none - p50",
            "single-async-none - p99",
            "single-async-none - p999"
        ]
    );
    let want = fixture("single-async-none").latency_us["publish_ack"].p99;
    let got = smaller[4]["value"].as_f64().unwrap();
    assert!((got - want).abs() < 0.01, "{got} vs {want}");
    assert!(smaller.iter().all(|e| e["unit"] == "µs"));
}

#[test]
fn noise_alone_passes_the_gate() {
    let t = tempfile::tempdir().unwrap();
    let (base, cand) = (t.path().join("base"), t.path().join("cand"));
    write_set(&base, &[0.03, -0.03, 0.0, 0.02, -0.01], |_| 1.0, |_| 1.0);
    write_set(&cand, &[-0.03, -0.02, 0.01, -0.01, 0.03], |_| 1.0, |_| 1.0);
    let o = jsbench(&[&"compare", &base, &cand]);
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(!stdout.contains("REGRESSION"), "{stdout}");
    assert_eq!(stdout.matches("| unchanged |").count(), 8, "{stdout}");
    assert!(stdout.ends_with("no regression\n"), "{stdout}");
    // A latency rise well beyond the noise fails.
    let slow = t.path().join("slow");
    write_set(&slow, &NOISE_B, |_| 1.0, |_| 1.5);
    let o = jsbench(&[&"compare", &base, &slow]);
    let (stdout, _) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{stdout}");
    assert!(stdout.ends_with("6 regression(s)\n"), "{stdout}");
}

#[test]
fn single_runs_need_min_runs_1() {
    let t = tempfile::tempdir().unwrap();
    let (base, cand) = (t.path().join("base"), t.path().join("cand"));
    let b = write_set(&base, &[0.0], |_| 1.0, |_| 1.0);
    let c = write_set(&cand, &[0.0], |_| 0.7, |_| 1.0);
    // Single run directories and result.json files are result sets too.
    let cand_file = c[0].join("result.json");
    let o = jsbench(&[&"compare", &b[0], &cand_file]);
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("insufficient samples (n=1 vs n=1, need 3)"),
        "{stdout}"
    );
    let o = jsbench(&[&"compare", &b[0], &cand_file, &"--min-runs", &"1"]);
    let (stdout, _) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{stdout}");
    assert!(stdout.ends_with("1 regression(s)\n"), "{stdout}");
    // A looser threshold lets it pass.
    let o = jsbench(&[
        &"compare",
        &b[0],
        &cand_file,
        &"--min-runs",
        &"1",
        &"--threshold",
        &"msgs_per_sec=35",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o).0);
}

#[test]
fn suite_dirs_and_a_claim_flip() {
    let t = tempfile::tempdir().unwrap();
    let (base, cand) = (t.path().join("base"), t.path().join("cand"));
    write_set(&base, &NOISE, |_| 1.0, |_| 1.0);
    let c = write_set(&cand, &NOISE, |_| 1.0, |_| 1.0);
    // The candidate: a suite directory beside its runs, listing them relative to itself.
    let suite = cand.join("20260101T000009Z-suite");
    std::fs::create_dir_all(&suite).unwrap();
    let runs: Vec<serde_json::Value> = c
        .iter()
        .map(|d| {
            serde_json::json!({
                "scenario": "x",
                "result": format!("../{}/result.json", d.file_name().unwrap().to_string_lossy()),
                "status": "complete",
                "verdict": "pass",
            })
        })
        .collect();
    std::fs::write(
        suite.join("suite.json"),
        serde_json::to_vec(&serde_json::json!({"schema": "jsbench.suite/1", "runs": runs}))
            .unwrap(),
    )
    .unwrap();
    let o = jsbench(&[&"compare", &base, &suite]);
    let (stdout, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{stdout}\n{stderr}");
    // The results root holding both the runs and the suite counts each run once.
    let o = jsbench(&[
        &"compare",
        &base,
        &cand,
        &"--json",
        &t.path().join("c.json"),
    ]);
    assert_eq!(o.status.code(), Some(0));
    let j: serde_json::Value =
        serde_json::from_slice(&std::fs::read(t.path().join("c.json")).unwrap()).unwrap();
    assert_eq!(j["rows"][0]["candidate"]["n"], 5);

    // One candidate run fails a claim that every baseline run passed: a regression, whatever
    // the metrics say.
    let flipped = &c[3];
    let mut r = Report::load(&flipped.join("result.json")).unwrap();
    let v = r
        .verdicts
        .iter_mut()
        .find(|v| v.claim == "storage_order")
        .unwrap();
    v.verdict = Verdict::Fail;
    v.figure = "12 late".into();
    write_report(flipped, &r).unwrap();
    let o = jsbench(&[&"compare", &base, &suite]);
    let (stdout, _) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{stdout}");
    assert!(!stdout.contains("**REGRESSION**"), "{stdout}");
    assert!(
        stdout.contains("claim `storage_order: preserved`: baseline pass in 5/5 runs → candidate fail in 1/5 runs (12 late)"),
        "{stdout}"
    );
    assert!(stdout.ends_with("1 regression(s)\n"), "{stdout}");
}

#[test]
fn missing_scenarios_warn_without_failing() {
    let t = tempfile::tempdir().unwrap();
    let (base, cand) = (t.path().join("base"), t.path().join("cand"));
    write_set(&base, &NOISE, |_| 1.0, |_| 1.0);
    let c = write_set(&cand, &NOISE, |_| 1.0, |_| 1.0);
    for d in c.iter().filter(|d| d.to_string_lossy().contains("ka4")) {
        std::fs::remove_dir_all(d).unwrap();
    }
    let o = jsbench(&[&"compare", &base, &cand]);
    let (stdout, _) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("Missing in the candidate (warning): ka4-async-none"),
        "{stdout}"
    );
}

#[test]
fn bad_input_exits_2() {
    let t = tempfile::tempdir().unwrap();
    let base = t.path().join("base");
    write_set(&base, &NOISE, |_| 1.0, |_| 1.0);

    let o = jsbench(&[&"compare", &base, &t.path().join("nope")]);
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr.contains("candidate: ") && stderr.contains("nope: no such file or directory"),
        "{stderr}"
    );

    let empty = t.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let o = jsbench(&[&"compare", &empty, &base]);
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr.contains("baseline: ") && stderr.contains("no result.json here"),
        "{stderr}"
    );

    let broken = t.path().join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(broken.join("result.json"), "{\"schema\": 1}").unwrap();
    let o = jsbench(&[&"compare", &base, &broken]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o).1);

    let o = jsbench(&[&"compare", &base, &base, &"--threshold", &"p95=5"]);
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr.contains("msgs_per_sec, p50, p99, p999, end_to_end_p99"),
        "{stderr}"
    );
    let o = jsbench(&[&"compare", &base, &base, &"--threshold", &"p99"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn sets_from_different_environments_are_refused_with_exit_3_unless_allowed() {
    let t = tempfile::tempdir().unwrap();
    let (base, cand) = (t.path().join("base"), t.path().join("cand"));
    write_set(&base, &NOISE, |_| 1.0, |_| 1.0);
    let dirs = write_set(&cand, &NOISE_B, |_| 1.0, |_| 1.0);
    // The candidate ran on another machine: more CPUs, another model.
    for d in &dirs {
        let mut r = Report::load(&d.join("result.json")).unwrap();
        r.environment.host.cpus = 64;
        r.environment.host.cpu_model = "Some Other CPU".into();
        write_report(d, &r).unwrap();
    }
    let o = jsbench(&[&"compare", &base, &cand]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(3), "{out}{err}");
    assert!(out.starts_with("**Refused"), "{out}");
    assert!(out.contains("- cpus: baseline 2 ≠ candidate 64"), "{out}");
    // The recorded baseline predates cpu_model: an unknown value is not held against it.
    assert!(!out.contains("cpu_model"), "{out}");
    let o = jsbench(&[&"compare", &base, &cand, &"--allow-env-diff"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert!(out.starts_with("**Warning"), "{out}");
    assert!(out.ends_with("no regression\n"), "{out}");
}
