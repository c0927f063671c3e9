//! Helpers shared by the integration tests, so that each test file says only what it checks:
//! - runs: a plan from scenario text, a run of it with its results in a temp dir of its own;
//! - what a run leaves: a server's process or container gone, nothing of this test process left
//!   in Docker, nothing lost (every message acked and stored once);
//! - servers: a nats-server of the test's own, the `[server]` section pointing a run at it,
//!   its temp dir;
//! - watching a run from outside: its server among this process's children, its monitoring
//!   endpoint, what its stream holds — so a test acts on a run (cancel, kill) once the run has
//!   got somewhere, not after a fixed time;
//! - containers: the container-test gate (Docker must answer, or the test fails, unless
//!   JSBENCH_SKIP_CONTAINER_TESTS=1 says to skip), the image the tests run (resolved exactly as
//!   the container backend resolves it: nothing has to be built by hand), container and network
//!   listing;
//! - clusters: the first publish into a new stream, publishing until acked, creating a stream.
// Each test binary uses only some of these.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jsbench::cancel::Cancel;
use jsbench::result::Report;
use jsbench::runner::{self, RunOptions, RunOutput};
use jsbench::scenario::{self, Overrides, Plan};
use jsbench::server::{docker_available, Backend, Server, ServerSpec};
use testcontainers::bollard::query_parameters::ListContainersOptionsBuilder;

// ---- runs ----

/// A validated plan from a whole scenario text (errors name it `test.toml`).
pub fn plan(text: &str) -> Plan {
    scenario::parse(text, "test.toml", &Overrides::default()).expect("valid scenario")
}

/// Runs `plan` on a server of its own with its results in a fresh temp dir (returned: the
/// result stays readable until it is dropped), then asserts that the run's nats-server is gone.
pub async fn run(plan: &Plan) -> (RunOutput, tempfile::TempDir) {
    run_cancellable(plan, Cancel::new()).await
}

/// [`run`] with a cancel handle the test may pull.
pub async fn run_cancellable(plan: &Plan, cancel: Cancel) -> (RunOutput, tempfile::TempDir) {
    let out = tempfile::tempdir().unwrap();
    let r = runner::run(plan, &options(&out, cancel))
        .await
        .expect("result written");
    assert_run_server_gone(&r);
    (r, out)
}

/// [`run`] of a scenario text.
pub async fn run_text(text: &str) -> (RunOutput, tempfile::TempDir) {
    run(&plan(text)).await
}

/// Runs `plan` on `server`, which the test started and keeps (so a kept stream can be read
/// after the run), with its results in a fresh temp dir.
pub async fn run_on(plan: &Plan, server: &Server) -> (RunOutput, tempfile::TempDir) {
    let out = tempfile::tempdir().unwrap();
    let r = runner::run_on(plan, &options(&out, Cancel::new()), server)
        .await
        .expect("result written");
    (r, out)
}

fn options(out: &tempfile::TempDir, cancel: Cancel) -> RunOptions {
    RunOptions {
        out_root: out.path().to_path_buf(),
        cancel,
        progress: false,
        live: jsbench::runner::live::LiveMode::Off,
    }
}

/// Asserts that the run completed, showing why not.
pub fn assert_complete(r: &Report) {
    assert_eq!(
        r.status, "complete",
        "run not complete: {:?}",
        r.status_reason
    );
}

/// Asserts that everything published was acked and stored exactly once: nothing lost,
/// duplicated or foreign in the stream, nothing failed, unknown or still in flight.
pub fn assert_nothing_lost(r: &Report) {
    let c = &r.counts;
    assert!(c.published > 0);
    assert_eq!(c.acked, c.published, "acked: {c:?}");
    assert_eq!(c.stored, Some(c.published), "stored: {c:?}");
    assert_eq!(
        (c.lost, c.duplicates, c.unexpected),
        (Some(0), Some(0), Some(0)),
        "{c:?}"
    );
    assert_eq!((c.failed, c.unknown, c.in_flight), (0, 0, 0), "{c:?}");
}

// ---- what a run leaves behind ----

/// The run's own nats-server child (process backend; node 0 of a cluster) is gone. Tests run
/// in parallel, so only this run's is checked.
pub fn assert_run_server_gone(r: &RunOutput) {
    if let Some(pid) = r.server_pid {
        assert_process_gone(pid, "after the run");
    }
}

/// Asserts that process `pid` no longer exists, not even as a zombie: a server this process
/// started must have been reaped by its handle.
pub fn assert_process_gone(pid: u32, when: &str) {
    // SAFETY: kill(2) with signal 0 only checks for existence.
    let exists = unsafe { libc::kill(pid as libc::pid_t, 0) == 0 };
    assert!(!exists, "nats-server {pid} is still there {when}");
}

/// Asserts that process `pid` — not a child of this process, e.g. an adapter's own child, which
/// is reparented when its parent dies — stops running: a zombie counts as stopped (in a
/// container, PID 1 may never reap it), and a SIGKILL sent to its group is given up to 10 s to
/// land (a bound on waiting, not a timing assert).
pub fn assert_process_stops(pid: u32, when: &str) {
    for _ in 0..200 {
        if !process_running(pid) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("process {pid} still runs {when}");
}

/// Whether process `pid` runs: it exists and is not a zombie (a child reparented to PID 1 in
/// a container may never be reaped).
pub fn process_running(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// Asserts that container `id` is gone: not listed by id, nor among jsbench's containers.
pub async fn assert_container_gone(id: &str, when: &str) {
    assert!(
        containers_matching("id", id).await.is_empty(),
        "container {id} still listed {when}"
    );
    assert!(
        !containers_matching("label", "jsbench=1")
            .await
            .contains(&id.to_string()),
        "container {id} still labelled jsbench=1 {when}"
    );
}

/// Asserts that nothing the jsbench process `pid` started is left in Docker: no container or
/// network labelled with its pid, nor any of `volumes`.
pub async fn assert_nothing_left_in_docker(pid: u32, volumes: &[String], when: &str) {
    let label = format!("jsbench.pid={pid}");
    let containers = containers_matching("label", &label).await;
    assert!(
        containers.is_empty(),
        "containers left {when}: {containers:?}"
    );
    let networks = networks_matching("label", &label).await;
    assert!(networks.is_empty(), "networks left {when}: {networks:?}");
    let docker = testcontainers::core::client::docker_client_instance()
        .await
        .expect("docker client");
    for v in volumes {
        assert!(
            docker.inspect_volume(v).await.is_err(),
            "volume {v} left {when}"
        );
    }
}

// ---- servers ----

/// A nats-server of the test's own, as a child process (NATS_SERVER_BIN, PATH, or fetched).
pub async fn process_server() -> Server {
    Server::start(&ServerSpec {
        backend: Backend::Process,
        url: None,
        image: None,
        auth: Default::default(),
        ..ServerSpec::default()
    })
    .await
    .expect("process server")
}

/// A `[server]` section pointing a run at `server` as an external one, with its credential (a
/// server jsbench started admits only connections that present it).
pub fn external_section(server: &Server) -> String {
    format!(
        "[server]\nbackend = \"external\"\nurl = \"{}\"\ntoken = \"{}\"\n",
        server.url(),
        server
            .credential()
            .expect("a started server has a credential")
            .token()
    )
}

/// The temp dir of a running process server, read from its command line (`-sd <tmp>/store`).
pub fn temp_dir_of(pid: u32) -> PathBuf {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).expect("read cmdline");
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let at = args.iter().position(|a| a == "-sd").expect("-sd flag");
    let store = PathBuf::from(&args[at + 1]);
    let dir = store.parent().expect("store has a parent").to_path_buf();
    assert!(
        dir.is_dir(),
        "temp dir {} exists while running",
        dir.display()
    );
    dir
}

// ---- watching a run from outside ----

/// Pids of the nats-server processes whose parent is `parent` (a run's own server is a child
/// of the process that runs it).
pub fn server_children(parent: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        if &stat[open + 1..close] == "nats-server"
            && fields.get(1) == Some(&parent.to_string().as_str())
        {
            out.push(stat[..open].trim().parse().unwrap());
        }
    }
    out
}

/// A process's state letter in /proc (`R`, `S`, `T` when stopped: a paused server, `Z`).
pub fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// The monitoring URL of a nats-server process, from the ports file it writes once it listens
/// (`--ports_file_dir <dir>` on its command line: `<dir>/nats-server_<pid>.ports`).
pub fn monitor_of_process(pid: u32) -> Option<String> {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let at = args.iter().position(|a| a == "--ports_file_dir")?;
    let file = std::path::Path::new(args.get(at + 1)?).join(format!("nats-server_{pid}.ports"));
    let ports: serde_json::Value = serde_json::from_slice(&std::fs::read(file).ok()?).ok()?;
    ports["monitoring"][0].as_str().map(String::from)
}

/// Messages held by the streams whose names start with `prefix` on the server at `monitor`
/// (`/jsz`); None while no such stream exists or the server does not answer.
pub async fn stored_in_streams(monitor: &str, prefix: &str) -> Option<u64> {
    let jsz: serde_json::Value = jsbench::server::monitor::get_json(monitor, "/jsz?streams=true")
        .await
        .ok()?;
    let streams: Vec<&serde_json::Value> = jsz["account_details"]
        .as_array()?
        .iter()
        .filter_map(|a| a["stream_detail"].as_array())
        .flatten()
        .filter(|s| s["name"].as_str().is_some_and(|n| n.starts_with(prefix)))
        .collect();
    (!streams.is_empty()).then(|| {
        streams
            .iter()
            .filter_map(|s| s["state"]["messages"].as_u64())
            .sum()
    })
}

/// A run's own nats-server, as seen from outside while the run goes on: the child of this
/// process whose store holds a stream named `prefix…` (a run's stream is
/// `JSB_<SCENARIO NAME>_<run id>`), with its monitoring URL. Read from disk (`-sd <store>` on
/// its command line), so servers that are paused by other tests' faults cannot hold it up.
/// Bounded at 60 s.
pub async fn run_server(prefix: &str) -> (u32, String) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        for pid in server_children(std::process::id()) {
            if store_has_stream(pid, prefix) {
                if let Some(m) = monitor_of_process(pid) {
                    return (pid, m);
                }
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no nats-server of this process holds a stream {prefix}… after 60 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Whether the store of nats-server `pid` has a stream named `prefix…`
/// (`<store>/jetstream/<account>/streams/<name>`).
fn store_has_stream(pid: u32, prefix: &str) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let Some(store) = args
        .iter()
        .position(|a| a == "-sd")
        .and_then(|at| args.get(at + 1))
    else {
        return false;
    };
    let accounts = std::path::Path::new(store).join("jetstream");
    let names = |dir: std::path::PathBuf| -> Vec<String> {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect()
    };
    names(accounts.clone()).into_iter().any(|account| {
        names(accounts.join(account).join("streams"))
            .iter()
            .any(|n| n.starts_with(prefix))
    })
}

/// Waits (bounded at 60 s) until the streams named `prefix…` on the server at `monitor` hold a
/// message: the run is publishing (its first stored message, when it has no warm-up).
pub async fn until_stored(monitor: &str, prefix: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while stored_in_streams(monitor, prefix).await.unwrap_or(0) == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "nothing stored in {prefix}… at {monitor} after 60 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---- containers ----

/// The image for container tests, or None when they are to be skipped. It is what the container
/// backend itself would pick: `$JSBENCH_NATS_IMAGE`, else nats:2.15.1 when present or
/// pullable, else jsbench's local image, built on first use.
pub async fn container_test_image() -> Option<String> {
    if std::env::var("JSBENCH_SKIP_CONTAINER_TESTS").as_deref() == Ok("1") {
        eprintln!("container test skipped: JSBENCH_SKIP_CONTAINER_TESTS=1");
        return None;
    }
    assert!(
        docker_available().await,
        "no Docker engine answers: container tests need one (start Docker or set DOCKER_HOST), \
         or set JSBENCH_SKIP_CONTAINER_TESTS=1 to skip them"
    );
    let choice = Server::resolve_image(None, Duration::from_secs(120))
        .await
        .unwrap_or_else(|e| panic!("container tests need an image: {e}"));
    Some(choice.image)
}

/// Ids of all containers (running or not) matching a filter, like `docker ps -a -q`.
pub async fn containers_matching(key: &str, value: &str) -> Vec<String> {
    let docker = testcontainers::core::client::docker_client_instance()
        .await
        .expect("docker client");
    let filters = HashMap::from([(key, vec![value])]);
    let options = ListContainersOptionsBuilder::new()
        .all(true)
        .filters(&filters)
        .build();
    docker
        .list_containers(Some(options))
        .await
        .expect("list containers")
        .into_iter()
        .filter_map(|c| c.id)
        .collect()
}

/// Names of all networks matching a filter, like `docker network ls --filter key=value`.
pub async fn networks_matching(key: &str, value: &str) -> Vec<String> {
    let docker = testcontainers::core::client::docker_client_instance()
        .await
        .expect("docker client");
    let filters = HashMap::from([(key, vec![value])]);
    let options = testcontainers::bollard::query_parameters::ListNetworksOptionsBuilder::new()
        .filters(&filters)
        .build();
    docker
        .list_networks(Some(options))
        .await
        .expect("list networks")
        .into_iter()
        .filter_map(|n| n.name)
        .collect()
}

// ---- clusters ----

/// Publishes the first message into a stream just created on a cluster, and waits for its ack.
/// Until the stream's interest has reached the node this connection is on, that node answers
/// "no responders" (StreamNotFound) for a moment — jsbench's runs probe every connection for the
/// same reason (`runner::rig`). Only that error is retried: nothing received the message, so
/// sending it again cannot store it twice. Bounded at 10 s.
pub async fn publish_first(js: &async_nats::jetstream::Context, subject: &str) {
    use async_nats::jetstream::context::PublishErrorKind;
    let first = tokio::time::Instant::now();
    loop {
        match js
            .publish(subject.to_string(), "x".into())
            .await
            .unwrap()
            .await
        {
            Ok(_) => return,
            Err(e)
                if e.kind() == PublishErrorKind::StreamNotFound
                    && first.elapsed() < Duration::from_secs(10) =>
            {
                eprintln!("first publish: {e}; again");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("the stream took no message within 10 s: {e}"),
        }
    }
}

/// Publishes `<prefix><i>` for i = 0, 1, … (at most 200 tries, each given 2 s, 50 ms apart)
/// until `want` of them are acked — a cluster that lost a node must still take publishes —
/// and returns how many were acked.
pub async fn publish_until_acked(
    js: &async_nats::jetstream::Context,
    prefix: &str,
    want: u64,
) -> u64 {
    let mut acked = 0;
    for i in 0..200 {
        let r = async { js.publish(format!("{prefix}{i}"), "y".into()).await?.await };
        if tokio::time::timeout(Duration::from_secs(2), r)
            .await
            .is_ok_and(|r| r.is_ok())
        {
            acked += 1;
        }
        if acked >= want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    acked
}

/// Creates a stream on a cluster that has just formed, waiting out what jsbench's runner waits
/// out too (`record::readback::while_unavailable`): "no suitable peers for placement" while the
/// meta leader does not yet see every peer online, "temporarily unavailable", a late answer.
pub async fn create_stream_on_cluster(
    js: &async_nats::jetstream::Context,
    config: async_nats::jetstream::stream::Config,
) {
    jsbench::record::readback::while_unavailable(|| js.create_stream(config.clone()))
        .await
        .expect("a stream on the cluster");
}

// ---- results read back from a run's output directory ----

/// The result.json of the one run directory under `root`, if there is one.
pub fn only_result(root: &Path) -> Option<Report> {
    let dir = std::fs::read_dir(root)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.join("result.json").is_file())?;
    let text = std::fs::read_to_string(dir.join("result.json")).ok()?;
    Some(serde_json::from_str(&text).expect("result.json parses"))
}

/// Every claim's verdict, sorted by claim: what two runs of one question are compared on.
pub fn verdicts(r: &Report) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = r
        .verdicts
        .iter()
        .map(|c| (c.claim.clone(), format!("{:?}", c.verdict)))
        .collect();
    v.sort();
    v
}
