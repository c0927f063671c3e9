//! Workers started by docker-compose (docker-compose.workers.yml, issue 25 item 3) for a
//! coordinator started by hand (`jsbench coordinate`), on the local Docker engine (required:
//! the test fails with a message without one, or without docker-compose / `docker compose`,
//! unless JSBENCH_SKIP_CONTAINER_TESTS=1 says to skip, as for every container test):
//! - `jsbench image build` gives the image the compose file runs;
//! - `jsbench coordinate` of a shipped R3 scenario that splits across 3 workers (container
//!   backend, its 3 nodes, coordination server on a free loopback port) writes coordinator.env
//!   (mode 0600, in its --out root, named on stderr) with the URL it listens on and a token of
//!   its own;
//! - `docker-compose up --scale worker=3` with those two variables runs three worker containers
//!   that each exit 0;
//! - the coordinator exits 0 and its result is complete: 3 workers (indexes 0, 1, 2), the merged
//!   publish-to-ack histogram counts every published message, none lost or duplicated.
//!
//! With `network_mode: host` every worker reports the machine's hostname and, as its
//! container's PID 1, pid 1 (checked: a worker started as a local process would not be), so the
//! workers are told apart by their indexes and by the three containers compose ran — not by
//! host or pid.
//!
//! Nothing is left: `docker-compose down` and the coordinator's kill run in guards (also on a
//! panic); the end checks that no container of the compose project or of the coordinator
//! remains. Counts and statuses only: never timings.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use jsbench::result::{LatencyKind, Report};

const SCENARIO: &str = "r3-ka4-async-none";
const MESSAGES: u64 = 6000;
const WORKERS: usize = 3;
/// The coordinator writes coordinator.env once its coordination server listens; the container
/// backend may first build its nats-server image.
const ENV_FILE_WAIT: Duration = Duration::from_secs(300);
const COORDINATOR_WAIT: Duration = Duration::from_secs(300);

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// docker-compose 1.x when installed, else `docker compose` (v2); panics with the fix when
/// neither (or no engine) is there. `None`: skipped on request.
fn compose_gate() -> Option<Vec<String>> {
    if std::env::var("JSBENCH_SKIP_CONTAINER_TESTS").as_deref() == Ok("1") {
        eprintln!("container test skipped: JSBENCH_SKIP_CONTAINER_TESTS=1");
        return None;
    }
    let ok = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    assert!(
        ok("docker", &["info"]),
        "no Docker engine answers (docker info): this test needs one, or set \
         JSBENCH_SKIP_CONTAINER_TESTS=1 to skip it"
    );
    if ok("docker-compose", &["version"]) {
        return Some(vec!["docker-compose".into()]);
    }
    if ok("docker", &["compose", "version"]) {
        return Some(vec!["docker".into(), "compose".into()]);
    }
    panic!("neither docker-compose nor `docker compose` is installed: this test needs one");
}

/// A free loopback port (the OS picks it; released for the coordinator to take).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The coordinator, killed (and reaped) on drop unless it has ended.
struct Coordinator(Child);

impl Drop for Coordinator {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
        }
        let _ = self.0.wait();
    }
}

/// The compose project, taken down on drop.
struct Project {
    compose: Vec<String>,
    name: String,
}

impl Project {
    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.compose[0]);
        cmd.args(&self.compose[1..])
            .args(["-p", &self.name, "-f"])
            .arg(repo().join("docker-compose.workers.yml"));
        cmd
    }

    /// Ids of the project's containers, running or not.
    fn containers(&self) -> Vec<String> {
        let label = format!("label=com.docker.compose.project={}", self.name);
        let o = Command::new("docker")
            .args(["ps", "-aq", "--filter", &label])
            .output()
            .unwrap();
        text(&o.stdout)
            .split_whitespace()
            .map(String::from)
            .collect()
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = self.command().args(["down", "--remove-orphans"]).output();
    }
}

fn build_image() -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_jsbench"))
        .args(["image", "build"])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "image build failed: {}",
        text(&o.stderr)
    );
    text(&o.stdout).trim().to_string()
}

fn start_coordinator(port: u16, out: &Path, log: &Path) -> Coordinator {
    let scenario = repo().join("scenarios").join(format!("{SCENARIO}.toml"));
    let child = Command::new(env!("CARGO_BIN_EXE_jsbench"))
        .arg("coordinate")
        .arg(scenario)
        .args(["--workers", &WORKERS.to_string()])
        .args(["--backend", "container"]) // the scenario has nodes = 3
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--messages", &MESSAGES.to_string(), "--warmup", "1000"])
        .args(["--format", "quiet", "--no-progress"])
        .arg("--out")
        .arg(out)
        .env_remove("JSBENCH_COORDINATOR_TOKEN")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .expect("jsbench coordinate starts");
    Coordinator(child)
}

/// The first file named `name` under `root` (any depth).
fn find(root: &Path, name: &str) -> Option<PathBuf> {
    for entry in std::fs::read_dir(root).ok()?.flatten() {
        let path = entry.path();
        if path.file_name().is_some_and(|n| n == name) {
            return Some(path);
        }
        if path.is_dir() {
            if let Some(found) = find(&path, name) {
                return Some(found);
            }
        }
    }
    None
}

/// Waits for the coordinator's coordinator.env and returns its variables; fails with the
/// coordinator's stderr if it ends first or never writes it.
fn coordinator_env(coordinator: &mut Coordinator, out: &Path, log: &Path) -> Vec<(String, String)> {
    let deadline = Instant::now() + ENV_FILE_WAIT;
    let path = loop {
        if let Some(path) = find(out, "coordinator.env") {
            // Written whole: both lines present.
            let body = std::fs::read_to_string(&path).unwrap_or_default();
            if body.lines().filter(|l| l.contains('=')).count() >= 2 {
                break path;
            }
        }
        if let Ok(Some(status)) = coordinator.0.try_wait() {
            panic!(
                "the coordinator ended ({status}) before writing coordinator.env:\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        assert!(
            Instant::now() < deadline,
            "no coordinator.env under {} after {ENV_FILE_WAIT:?}; stderr:\n{}",
            out.display(),
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{} holds a token", path.display());
    // Named on stderr (just after it is written).
    let named = || {
        let stderr = std::fs::read_to_string(log).unwrap_or_default();
        stderr
            .contains(&path.display().to_string())
            .then_some(())
            .ok_or(stderr)
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while named().is_err() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    if let Err(stderr) = named() {
        panic!(
            "the coordinator names {} on stderr:\n{stderr}",
            path.display()
        );
    }
    std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

/// Waits for the coordinator to end (bounded), returning its exit code.
fn wait_coordinator(coordinator: &mut Coordinator, log: &Path) -> Option<i32> {
    let deadline = Instant::now() + COORDINATOR_WAIT;
    loop {
        if let Some(status) = coordinator.0.try_wait().unwrap() {
            return status.code();
        }
        assert!(
            Instant::now() < deadline,
            "the coordinator did not end within {COORDINATOR_WAIT:?} after the workers; \
             stderr:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Each container's exit code.
fn exit_codes(ids: &[String]) -> Vec<i64> {
    ids.iter()
        .map(|id| {
            let o = Command::new("docker")
                .args(["inspect", "--format", "{{.State.ExitCode}}", id])
                .output()
                .unwrap();
            text(&o.stdout).trim().parse().unwrap_or(-1)
        })
        .collect()
}

fn check_result(out: &Path) -> Report {
    let path = find(out, "result.json").expect("the coordinator wrote result.json");
    let report: Report = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(report.status, "complete", "{:?}", report.status_reason);
    assert_eq!(report.workers.len(), WORKERS, "{:?}", report.workers);
    let indexes: BTreeSet<usize> = report.workers.iter().map(|w| w.index).collect();
    assert_eq!(indexes, (0..WORKERS).collect(), "one worker per index");
    for w in &report.workers {
        assert!(!w.host.is_empty() && w.lost.is_none(), "{w:?}");
        eprintln!("worker {}: host {}, pid {:?}", w.index, w.host, w.pid);
        // Each ran as its container's PID 1 (a process started otherwise would not be).
        assert_eq!(w.pid, Some(1), "worker {} ran in a container", w.index);
    }
    let c = &report.counts;
    assert_eq!(c.published, MESSAGES, "{c:?}");
    assert_eq!((c.lost, c.duplicates), (Some(0), Some(0)), "{c:?}");
    let ack = report
        .latency(LatencyKind::PublishAck)
        .expect("publish-to-ack measured");
    assert_eq!(ack.count, c.published, "merged histogram count");
    report
}

#[test]
fn compose_workers_complete_a_coordinated_r3_run() {
    let Some(compose) = compose_gate() else {
        return;
    };
    let image = build_image();
    let out = tempfile::tempdir().unwrap();
    let log = out.path().join("coordinator.stderr");
    let port = free_port();
    let mut coordinator = start_coordinator(port, out.path(), &log);
    let env = coordinator_env(&mut coordinator, out.path(), &log);
    let var = |k: &str| env.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    let url = var("JSBENCH_COORDINATOR").expect("coordinator.env names JSBENCH_COORDINATOR");
    assert_eq!(url, format!("nats://127.0.0.1:{port}"));
    let token = var("JSBENCH_COORDINATOR_TOKEN").expect("coordinator.env holds the token");
    assert!(!token.is_empty());

    let project = Project {
        compose,
        name: format!("jsbench-test-compose-{}", std::process::id()),
    };
    let up = project
        .command()
        .args(["up", "--no-color", "--scale", &format!("worker={WORKERS}")])
        .env("JSBENCH_COORDINATOR", &url)
        .env("JSBENCH_COORDINATOR_TOKEN", &token)
        .env("JSBENCH_IMAGE", &image)
        .output()
        .unwrap();
    let up_log = format!("{}{}", text(&up.stdout), text(&up.stderr));
    assert!(up.status.success(), "compose up failed:\n{up_log}");
    let containers = project.containers();
    assert_eq!(
        containers.len(),
        WORKERS,
        "three worker containers:\n{up_log}"
    );
    assert_eq!(exit_codes(&containers), vec![0; WORKERS], "{up_log}");

    let code = wait_coordinator(&mut coordinator, &log);
    let stderr = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(
        code,
        Some(0),
        "the coordinator failed:\n{stderr}\nworkers:\n{up_log}"
    );
    check_result(out.path());

    let coordinator_pid = coordinator.0.id();
    drop(project);
    assert!(
        containers_labelled(&format!("jsbench.pid={coordinator_pid}")).is_empty(),
        "the system under test's containers are gone"
    );
    let project = format!(
        "com.docker.compose.project=jsbench-test-compose-{}",
        std::process::id()
    );
    assert!(
        containers_labelled(&project).is_empty(),
        "no worker container left"
    );
}

/// The ids of every container, running or not, carrying `label` (`key=value`).
fn containers_labelled(label: &str) -> String {
    let o = Command::new("docker")
        .args(["ps", "-aq", "--filter", &format!("label={label}")])
        .output()
        .unwrap();
    text(&o.stdout).trim().to_string()
}
