//! Workers started by someone else (`jsbench coordinate`, issue 25 item 3), against real
//! nats-servers (process backend; `jsbench fetch-server` provides the binary). The test plays
//! docker compose: it starts the coordinator, reads `coordinator.env` as compose's `env_file`
//! would, and starts `jsbench worker`s with that environment and no index (they claim one):
//! - three claiming workers complete a run: indexes 0, 1, 2 once each, the merged histogram
//!   counts what was published, the verdicts are one process's; the env file is 0600 while the
//!   coordinator waits and gone after;
//! - `--listen` off loopback without a token of one's own, or with a short token: exit 2;
//! - a worker whose index is taken (or whose `--of` is not the coordinator's) is refused, and a
//!   claiming worker then takes the free index;
//! - with `--register-timeout 3s` and 2 of 3 workers, the run is incomplete and names the
//!   missing worker as not registered; the coordination server is gone afterwards;
//! - a worker started before its coordinator retries until it is there, and a token of one's
//!   own (`$JSBENCH_COORDINATOR_TOKEN`) is used, with no `coordinator.env` written.
//!
//! Every process started here is killed and reaped on every way out (the [`Proc`] guard).
//! Counts and statuses only: never timings.

mod common;
use common::{only_result, verdicts};

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use jsbench::result::{LatencyKind, Lost, Report};

const TOKEN_ENV: &str = "JSBENCH_COORDINATOR_TOKEN";
const URL_ENV: &str = "JSBENCH_COORDINATOR";

fn jsbench() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_jsbench"));
    // Whatever the test runner's environment holds, these tests set them themselves.
    c.env_remove(TOKEN_ENV)
        .env_remove(URL_ENV)
        .env_remove("JOB_COMPLETION_INDEX")
        .env_remove("JSBENCH_TEST_KILL_WORKER");
    c
}

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios")
        .join(format!("{name}.toml"))
}

/// A process of this test, killed (SIGKILL) and reaped when dropped, panics included. Its
/// stderr goes to a file (no pipe to drain).
struct Proc {
    child: Option<Child>,
    stderr: PathBuf,
}

impl Proc {
    fn start(mut cmd: Command, stderr: PathBuf) -> Proc {
        let file = std::fs::File::create(&stderr).unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("jsbench starts");
        Proc {
            child: Some(child),
            stderr,
        }
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// Waits for it to end (at most `secs`; then the test fails).
    fn wait(&mut self, secs: u64) -> ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let child = self.child.as_mut().unwrap();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "pid {} still runs after {secs} s; stderr:\n{}",
                child.id(),
                self.err()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn err(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A coordinator's results root and the directory of the test's logs.
struct Dirs {
    out: tempfile::TempDir,
    logs: tempfile::TempDir,
}

impl Dirs {
    fn new() -> Dirs {
        Dirs {
            out: tempfile::tempdir().unwrap(),
            logs: tempfile::tempdir().unwrap(),
        }
    }

    fn log(&self, name: &str) -> PathBuf {
        self.logs.path().join(name)
    }

    fn env_file(&self) -> PathBuf {
        self.out.path().join("coordinator.env")
    }
}

/// `jsbench coordinate` of `name` across `workers`, on a free loopback port.
fn coordinator(d: &Dirs, name: &str, workers: usize, extra: &[&str]) -> Proc {
    let mut cmd = jsbench();
    cmd.arg("coordinate")
        .arg(scenario(name))
        .args(["--workers", &workers.to_string(), "--listen", "127.0.0.1:0"])
        .args(["--backend", "process", "--format", "quiet", "--no-progress"])
        .args(["--messages", "20000", "--warmup", "1000"])
        .arg("--out")
        .arg(d.out.path())
        .args(extra);
    Proc::start(cmd, d.log("coordinator.err"))
}

/// The coordinator's `coordinator.env` once written (URL, token); it must be mode 0600.
fn read_env_file(d: &Dirs, coord: &mut Proc) -> (String, String) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let path = d.env_file();
    while !path.is_file() {
        let ended = coord.child.as_mut().unwrap().try_wait().unwrap();
        assert!(ended.is_none(), "coordinator ended: {}", coord.err());
        assert!(Instant::now() < deadline, "no {path:?}: {}", coord.err());
        std::thread::sleep(Duration::from_millis(50));
    }
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "coordinator.env's mode");
    let text = std::fs::read_to_string(&path).unwrap();
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or_else(|| panic!("no {k} in {text:?}"))
            .to_string()
    };
    (get(URL_ENV), get(TOKEN_ENV))
}

/// A `jsbench worker` given the coordinator through its environment, as compose's env_file
/// gives it; `args` are its own (none: it claims an index).
fn worker(d: &Dirs, env: &(String, String), args: &[&str], log: &str) -> Proc {
    let mut cmd = jsbench();
    cmd.arg("worker")
        .args(args)
        .env(URL_ENV, &env.0)
        .env(TOKEN_ENV, &env.1);
    Proc::start(cmd, d.log(log))
}

/// One process's run of `name` (the same overrides as [`coordinator`]).
fn one_process(name: &str) -> Report {
    let out = tempfile::tempdir().unwrap();
    let o = jsbench()
        .arg("run")
        .arg(scenario(name))
        .args(["--backend", "process", "--format", "quiet", "--no-progress"])
        .args(["--messages", "20000", "--warmup", "1000"])
        .arg("--out")
        .arg(out.path())
        .output()
        .unwrap();
    only_result(out.path())
        .unwrap_or_else(|| panic!("no result: {}", String::from_utf8_lossy(&o.stderr)))
}

#[test]
fn claiming_workers_complete_a_run_with_the_verdicts_of_one_process() {
    let name = "ka4-async-none";
    let one = one_process(name);
    let d = Dirs::new();
    let mut coord = coordinator(&d, name, 3, &[]);
    let env = read_env_file(&d, &mut coord);
    let mut workers: Vec<Proc> = (0..3)
        .map(|i| worker(&d, &env, &[], &format!("w{i}.err")))
        .collect();
    let status = coord.wait(300);
    let err = coord.err();
    assert!(
        err.contains(&format!("coordinator: {} waiting for 3 workers", env.0)),
        "{err}"
    );
    assert!(!err.contains(&env.1), "the token is never printed");
    assert!(status.success(), "{err}");
    for w in &mut workers {
        assert!(w.wait(60).success(), "{}", w.err());
    }
    assert!(
        !d.env_file().exists(),
        "coordinator.env removed after the run"
    );
    let r = only_result(d.out.path()).expect("result.json");
    assert_eq!(r.status, "complete", "{:?}", r.status_reason);
    let mut indexes: Vec<usize> = r.workers.iter().map(|w| w.index).collect();
    indexes.sort();
    assert_eq!(indexes, vec![0, 1, 2], "each index exactly once");
    let c = &r.counts;
    assert_eq!(c.published, 20_000, "{c:?}");
    assert_eq!((c.acked, c.stored), (20_000, Some(20_000)), "{c:?}");
    assert_eq!(
        (c.lost, c.duplicates, c.unexpected),
        (Some(0), Some(0), Some(0))
    );
    let ack = r.latency(LatencyKind::PublishAck).expect("publish-to-ack");
    assert_eq!(ack.count, c.acked, "merged histogram count");
    let published: u64 = r.workers.iter().map(|w| w.published.unwrap()).sum();
    assert_eq!(published, 20_000);
    assert!(
        r.workers.iter().all(|w| w.lost.is_none()),
        "{:?}",
        r.workers
    );
    assert_eq!(verdicts(&r), verdicts(&one), "verdicts");
}

/// `coordinate` with `--listen listen` and `token` in the environment: must exit 2 before
/// anything runs. Returns stderr.
fn refused_listen(listen: &str, token: Option<&str>) -> String {
    let out = tempfile::tempdir().unwrap();
    let mut cmd = jsbench();
    cmd.arg("coordinate")
        .arg(scenario("ka4-async-none"))
        .args(["--workers", "2", "--listen", listen, "--format", "quiet"])
        .arg("--out")
        .arg(out.path());
    if let Some(t) = token {
        cmd.env(TOKEN_ENV, t);
    }
    let o = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(only_result(out.path()).is_none(), "nothing was run");
    assert!(!out.path().join("coordinator.env").exists());
    err
}

#[test]
fn listening_off_loopback_needs_a_token_of_ones_own_and_it_must_be_long_enough() {
    let err = refused_listen("0.0.0.0:0", None);
    assert!(err.contains("--listen"), "{err}");
    assert!(err.contains(TOKEN_ENV), "{err}");
    let err = refused_listen("0.0.0.0:0", Some("short-token"));
    assert!(
        err.contains(TOKEN_ENV) && err.contains("too short"),
        "{err}"
    );
    let err = refused_listen("127.0.0.1:0", Some("short-token"));
    assert!(err.contains("too short"), "{err}");
    let err = refused_listen("not-an-address", None);
    assert!(err.contains("--listen"), "{err}");
}

/// Waits until KV `claim.<i>` exists on the coordination server.
fn wait_for_claim(env: &(String, String), i: usize) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = async_nats::ConnectOptions::new()
            .token(env.1.clone())
            .connect(&env.0)
            .await
            .expect("the coordination server admits its token");
        let kv = async_nats::jetstream::new(client)
            .get_key_value("jsbench_coord")
            .await
            .expect("the coordination bucket");
        let deadline = Instant::now() + Duration::from_secs(60);
        while !matches!(kv.get(format!("claim.{i}")).await, Ok(Some(_))) {
            assert!(Instant::now() < deadline, "claim.{i} never appeared");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
}

#[test]
fn a_taken_index_is_refused_and_a_claiming_worker_takes_the_free_one() {
    let d = Dirs::new();
    let mut coord = coordinator(&d, "ka4-async-none", 2, &[]);
    let env = read_env_file(&d, &mut coord);
    let mut first = worker(&d, &env, &["--index", "0", "--of", "2"], "first.err");
    wait_for_claim(&env, 0);
    let mut second = worker(&d, &env, &["--index", "0"], "second.err");
    assert_eq!(second.wait(60).code(), Some(2), "{}", second.err());
    assert!(
        second.err().contains("index 0 is taken"),
        "{}",
        second.err()
    );
    let mut wrong_of = worker(&d, &env, &["--of", "3"], "of.err");
    assert_eq!(wrong_of.wait(60).code(), Some(2), "{}", wrong_of.err());
    assert!(
        wrong_of
            .err()
            .contains("--of 3, but the coordinator runs 2 workers"),
        "{}",
        wrong_of.err()
    );
    let mut third = worker(&d, &env, &[], "third.err");
    assert!(coord.wait(300).success(), "{}", coord.err());
    assert!(first.wait(60).success(), "{}", first.err());
    assert!(third.wait(60).success(), "{}", third.err());
    let r = only_result(d.out.path()).expect("result.json");
    assert_eq!(r.status, "complete", "{:?}", r.status_reason);
    let mut indexes: Vec<usize> = r.workers.iter().map(|w| w.index).collect();
    indexes.sort();
    assert_eq!(indexes, vec![0, 1]);
    let by_index = |i: usize| r.workers.iter().find(|w| w.index == i).unwrap().pid;
    assert_eq!(by_index(0), Some(first.pid()), "the explicit worker is 0");
    assert_eq!(by_index(1), Some(third.pid()), "the claiming worker took 1");
}

#[test]
fn a_worker_that_never_registers_is_named_and_nothing_is_left_running() {
    let d = Dirs::new();
    let mut coord = coordinator(&d, "ka4-async-none", 3, &["--register-timeout", "3s"]);
    let env = read_env_file(&d, &mut coord);
    let mut workers: Vec<Proc> = (0..2)
        .map(|i| worker(&d, &env, &[], &format!("w{i}.err")))
        .collect();
    let status = coord.wait(300);
    assert_eq!(status.code(), Some(1), "{}", coord.err());
    for w in &mut workers {
        assert!(w.wait(60).success(), "{}", w.err());
    }
    let r = only_result(d.out.path()).expect("result.json");
    assert_eq!(r.status, "incomplete");
    let why = r.status_reason.clone().unwrap_or_default();
    assert!(why.contains("worker 2 "), "{why}");
    let lost: Vec<_> = r.workers.iter().filter(|w| w.lost.is_some()).collect();
    assert_eq!(lost.len(), 1, "{:?}", r.workers);
    assert_eq!(lost[0].index, 2);
    assert_eq!(lost[0].lost, Some(Lost::NotRegistered { timeout_s: 3 }));
    // Nothing left: the env file, and the coordination server (its port refuses).
    assert!(!d.env_file().exists());
    let addr = env.0.trim_start_matches("nats://");
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "the coordination server at {addr} is gone"
    );
}

#[test]
fn a_worker_started_before_its_coordinator_waits_for_it_and_a_token_of_ones_own_is_used() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let d = Dirs::new();
    let env = (
        format!("nats://127.0.0.1:{port}"),
        "a-token-of-my-own-0123".to_string(),
    );
    let mut w = worker(&d, &env, &[], "w.err");
    std::thread::sleep(Duration::from_secs(2)); // it is retrying by now
    let mut cmd = jsbench();
    cmd.arg("coordinate")
        .arg(scenario("ka4-async-none"))
        .args(["--workers", "1", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--backend", "process", "--format", "quiet", "--no-progress"])
        .args(["--messages", "5000", "--warmup", "0"])
        .arg("--out")
        .arg(d.out.path())
        .env(TOKEN_ENV, &env.1);
    let mut coord = Proc::start(cmd, d.log("coordinator.err"));
    assert!(coord.wait(300).success(), "{}", coord.err());
    assert!(w.wait(60).success(), "{}", w.err());
    assert!(
        !d.env_file().exists(),
        "no coordinator.env with a token of one's own"
    );
    let err = coord.err();
    assert!(
        err.contains(&format!("coordinator: {} waiting for 1 workers", env.0)),
        "{err}"
    );
    let r = only_result(d.out.path()).expect("result.json");
    assert_eq!(r.status, "complete", "{:?}", r.status_reason);
    assert_eq!(r.counts.published, 5000);
    assert_eq!(r.workers.len(), 1);
}
