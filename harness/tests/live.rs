//! The live line (`jsbench run --live`, issue 24 item 3) on a real server: a short
//! duration-bound run with a pause prints a line a second on stderr whose fields parse and add
//! up against the run's result.json; a short run left at `auto` prints none. Counts and
//! consistency only, never timings.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const SCENARIO: &str = r#"
name = "live-test"
seed = 5

[server]
backend = "process"

[connections]
strategy = "single"

[publish]
mode = "async"
max_in_flight = 500
ack_timeout = "1s"
msg_id = true

[publish.retry]
attempts = 5
backoff = "100ms"
max_backoff = "500ms"

[workload]
duration = "4s"
warmup = 200
keys = 8
rate = 2000

[[faults]]
name = "freeze"
kind = "pause"
start = "1500ms"
duration = "700ms"
"#;

/// Runs the scenario with `args`; (exit code, stderr, result.json).
fn run(args: &[&str], duration: &str) -> (Option<i32>, String, serde_json::Value) {
    let d = tempfile::tempdir().unwrap();
    let file = d.path().join("live.toml");
    std::fs::write(
        &file,
        SCENARIO.replace("\"4s\"", &format!("\"{duration}\"")),
    )
    .unwrap();
    let out_dir = d.path().join("r");
    let out = Command::new(env!("CARGO_BIN_EXE_jsbench"))
        .args(["run", "--no-progress", "--format", "quiet"])
        .args(args)
        .arg("--out")
        .arg(&out_dir)
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let result = result_json(&out_dir).unwrap_or_else(|| panic!("no result.json:\n{stderr}"));
    (out.status.code(), stderr, result)
}

fn result_json(out_dir: &Path) -> Option<serde_json::Value> {
    let dir: PathBuf = std::fs::read_dir(out_dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.join("result.json").is_file())?;
    serde_json::from_str(&std::fs::read_to_string(dir.join("result.json")).ok()?).ok()
}

/// One live line's `field=value` pairs.
fn fields(line: &str) -> HashMap<&str, &str> {
    line.split_whitespace()
        .filter_map(|f| f.split_once('='))
        .collect()
}

fn num(f: &HashMap<&str, &str>, key: &str) -> f64 {
    let v = f.get(key).unwrap_or_else(|| panic!("no {key} in {f:?}"));
    v.trim_end_matches("MiB")
        .trim_end_matches("ms")
        .trim_end_matches('s')
        .parse()
        .unwrap_or_else(|_| panic!("{key}={v} is not a number"))
}

fn count(v: &serde_json::Value, path: &[&str]) -> u64 {
    let mut v = v;
    for p in path {
        v = &v[p];
    }
    v.as_u64()
        .unwrap_or_else(|| panic!("{path:?} is not a count: {v}"))
}

#[test]
fn a_line_a_second_whose_figures_add_up() {
    let (code, stderr, result) = run(&["--live", "1s"], "4s");
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(result["status"], "complete", "{stderr}");
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("live live-test "))
        .collect();
    // A 4 s phase (plus its drain) at one line a second: about 4 lines.
    let phase_s = result["throughput"]["duration_s"].as_f64().unwrap();
    assert!(lines.len() >= 2, "{stderr}");
    assert!(
        lines.len() as f64 <= phase_s.ceil() + 1.0,
        "{} lines for a {phase_s} s phase:\n{stderr}",
        lines.len()
    );
    let parsed: Vec<HashMap<&str, &str>> = lines.iter().map(|l| fields(l)).collect();
    let mut prev_t = 0.0;
    let mut prev_published = 0.0;
    for f in &parsed {
        let t = num(f, "t");
        let published = num(f, "published");
        assert!(t > prev_t, "{f:?}");
        assert!(published >= prev_published, "{f:?}");
        // The rate is the interval's: published messages over the time since the last line
        // (each `t` is rounded to 0.1 s, the rate to a message per second).
        let (sent, dt) = (published - prev_published, t - prev_t);
        let pub_rate = num(f, "pub/s");
        assert!(pub_rate >= sent / (dt + 0.1) - 1.0, "{f:?}");
        assert!(pub_rate <= sent / (dt - 0.1).max(0.01) + 1.0, "{f:?}");
        num(f, "ack/s");
        assert!(num(f, "acked") <= published, "{f:?}");
        for k in ["in_flight", "dup_acks", "failed", "unknown", "late_per_key"] {
            num(f, k);
        }
        let (started, ended) = f["faults"].split_once('/').expect("faults=started/ended");
        let (started, ended): (u64, u64) = (started.parse().unwrap(), ended.parse().unwrap());
        assert!(ended <= started && started <= 1, "{f:?}");
        assert!(num(f, "rss") > 0.0, "{f:?}");
        (prev_t, prev_published) = (t, published);
    }
    // Acks flow in most seconds: some line has a p99 of the seconds it covers.
    assert!(
        parsed.iter().any(|f| f["ack_p99"] != "-"),
        "no p99 on any line:\n{stderr}"
    );
    for f in parsed.iter().filter(|f| f["ack_p99"] != "-") {
        assert!(num(f, "ack_p99") > 0.0, "{f:?}");
    }
    // So far never exceeds the end.
    let last = parsed.last().unwrap();
    assert!(num(last, "published") as u64 <= count(&result, &["counts", "published"]));
    assert!(num(last, "acked") as u64 <= count(&result, &["counts", "acked"]));
    assert!(
        num(last, "late_per_key") as u64
            <= count(&result, &["order", "ack_completion", "late_per_key"])
    );
    let faults = result["faults"].as_array().map_or(0, Vec::len) as u64;
    let started: u64 = last["faults"].split_once('/').unwrap().0.parse().unwrap();
    assert!(started <= faults, "{last:?} vs {faults} faults");
}

#[test]
fn a_short_run_left_at_auto_prints_no_line() {
    let (code, stderr, result) = run(&[], "2s");
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(result["status"], "complete", "{stderr}");
    assert!(!stderr.lines().any(|l| l.starts_with("live ")), "{stderr}");
}
