//! Integration tests of server faults (pause, kill + start_again, graceful restart) against
//! real NATS servers, process and container backends, never a mock: a paused server answers
//! nothing until resumed; JetStream data and the client URL survive kills and restarts, so a
//! reconnecting client carries on; and whatever state a fault left the server in, stop()
//! and Drop leave no process, temp dir or container behind (also when jsbench is killed).
//!
//! Container tests need a Docker engine; the image is resolved as the container backend resolves
//! it (`$JSBENCH_NATS_IMAGE`, nats:2.15.1, else jsbench's local image, built on first use).
//! Without an engine they
//! fail, unless JSBENCH_SKIP_CONTAINER_TESTS=1 says to skip them.

mod common;

use std::future::IntoFuture;
use std::io::BufRead;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, stream};
use common::{assert_container_gone, process_running, process_server, temp_dir_of};
use jsbench::server::{Auth, Backend, Server, ServerError, ServerFault, ServerSpec};
use tracing_subscriber::layer::SubscriberExt;

const STREAM: &str = "FAULTS";
const MESSAGES: u64 = 100;
/// How long "does not complete while paused" is watched.
const PAUSED_WATCH: Duration = Duration::from_millis(500);

fn spec(backend: Backend) -> ServerSpec {
    ServerSpec {
        backend,
        url: None,
        image: None,
        auth: Auth::default(),
        ..ServerSpec::default()
    }
}

/// A container server, or None when container tests are skipped.
async fn container_server() -> Option<Server> {
    let image = common::container_test_image().await?;
    let server = Server::start(&ServerSpec {
        image: Some(image),
        ..spec(Backend::Container)
    })
    .await
    .expect("start container server");
    Some(server)
}

/// A client that reconnects quickly (the default backoff would dominate the tests).
async fn connect(server: &Server) -> async_nats::Client {
    let options = server
        .connect_options()
        .await
        .expect("connect options")
        .reconnect_delay_callback(|_| Duration::from_millis(50))
        .connection_timeout(Duration::from_secs(2));
    tokio::time::timeout(Duration::from_secs(5), options.connect(server.url()))
        .await
        .expect("connect timed out")
        .expect("connect")
}

/// A file-storage stream holding [`MESSAGES`] acknowledged messages.
async fn filled_stream(client: &async_nats::Client) -> jetstream::Context {
    let js = jetstream::new(client.clone());
    js.create_stream(stream::Config {
        name: STREAM.into(),
        subjects: vec!["faults.>".into()],
        storage: stream::StorageType::File,
        ..Default::default()
    })
    .await
    .expect("create stream");
    let mut acks = Vec::new();
    for i in 0..MESSAGES {
        let ack = js
            .publish(format!("faults.{i}"), "payload".into())
            .await
            .expect("publish");
        acks.push(ack);
    }
    for ack in acks {
        ack.await.expect("publish ack");
    }
    assert_eq!(messages_in(&js).await, MESSAGES);
    js
}

/// The stream's message count, retried while the client is still reconnecting.
async fn messages_in(js: &jetstream::Context) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let attempt = tokio::time::timeout(Duration::from_secs(2), js.get_stream(STREAM)).await;
        match attempt {
            Ok(Ok(stream)) => return stream.cached_info().state.messages,
            other if Instant::now() >= deadline => {
                panic!("stream info still unavailable after 10 s: {other:?}")
            }
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Whether anything accepts TCP connections at the server's URL.
async fn accepts_connections(url: &str) -> bool {
    let addr = url.trim_start_matches("nats://");
    tokio::time::timeout(Duration::from_secs(1), tokio::net::TcpStream::connect(addr))
        .await
        .is_ok_and(|r| r.is_ok())
}

/// A JetStream publish and a flush do not complete while the server is paused; both do
/// once it is resumed.
async fn check_pause(server: &Server) {
    let client = connect(server).await;
    let js = filled_stream(&client).await;

    server.pause().await.expect("pause");
    let mut ack = std::pin::pin!(js
        .publish("faults.paused", "payload".into())
        .await
        .expect("publish (queued)")
        .into_future());
    // A JetStream API request too (client.flush() would not do: it completes once the bytes
    // are in the socket, without waiting for the server).
    let mut info = std::pin::pin!(js.get_stream(STREAM));
    assert!(
        tokio::time::timeout(PAUSED_WATCH, &mut ack).await.is_err(),
        "a publish was acknowledged by a paused server"
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(50), &mut info)
            .await
            .is_err(),
        "a paused server answered a stream info request"
    );

    server.resume().await.expect("resume");
    tokio::time::timeout(Duration::from_secs(5), ack)
        .await
        .expect("the ack did not come after resume")
        .expect("publish ack");
    tokio::time::timeout(Duration::from_secs(5), info)
        .await
        .expect("the stream info request did not complete after resume")
        .expect("stream info");
    assert_eq!(messages_in(&js).await, MESSAGES + 1);
}

/// After a kill or a restart (`fault`), the server is back at the same URL with all the
/// data, the old client reconnects, and publishing works again.
async fn check_comes_back(server: &Server, fault: ServerFault) {
    let url = server.url().to_string();
    let client = connect(server).await;
    let js = filled_stream(&client).await;

    let started = Instant::now();
    match fault {
        ServerFault::Kill => {
            server.kill().await.expect("kill");
            eprintln!("{} kill took {:?}", server.backend(), started.elapsed());
            assert!(
                !accepts_connections(&url).await,
                "{url} still accepts connections after kill"
            );
            server.start_again().await.expect("start again");
        }
        ServerFault::Restart => server.restart().await.expect("restart"),
        ServerFault::Pause => unreachable!("pause does not take the server down"),
    }
    let back = started.elapsed();
    assert_eq!(server.url(), url, "the URL changed");
    let messages = messages_in(&js).await;
    eprintln!(
        "{} {fault}: server back after {back:?}, client reading the stream after {:?}; \
         {messages} of {MESSAGES} messages kept",
        server.backend(),
        started.elapsed()
    );
    assert_eq!(messages, MESSAGES, "messages lost across {fault}");

    js.publish("faults.after", "payload".into())
        .await
        .expect("publish after")
        .await
        .expect("ack after");
    assert_eq!(messages_in(&js).await, MESSAGES + 1);
}

/// Counts the warnings jsbench's server module logs on the thread that installed it, while
/// its guard lives: a stop that gave up waiting and fell back to SIGKILL says so in one.
#[derive(Clone, Default)]
struct ServerWarnings(Arc<AtomicUsize>);

impl ServerWarnings {
    fn install(&self) -> tracing::subscriber::DefaultGuard {
        tracing::subscriber::set_default(tracing_subscriber::registry().with(self.clone()))
    }

    fn count(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for ServerWarnings {
    fn on_event(&self, e: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let m = e.metadata();
        if *m.level() == tracing::Level::WARN && m.target().starts_with("jsbench::server") {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}

// ---- process backend ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_pause_holds_answers_until_resume() {
    let server = process_server().await;
    let pid = server.pid().expect("pid");
    check_pause(&server).await;
    assert_eq!(server.pid(), Some(pid), "pause/resume keep the process");
    server.stop().await.expect("stop");
    assert!(!process_running(pid));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_kill_and_start_again_keep_data_and_url() {
    let server = process_server().await;
    let old_pid = server.pid().expect("pid");
    let dir = temp_dir_of(old_pid);
    check_comes_back(&server, ServerFault::Kill).await;
    let new_pid = server.pid().expect("pid");
    assert_ne!(new_pid, old_pid, "pid() reports the new child");
    assert!(!process_running(old_pid), "the killed child is gone");
    assert_eq!(temp_dir_of(new_pid), dir, "the same store dir");

    server.stop().await.expect("stop");
    assert!(
        !process_running(old_pid) && !process_running(new_pid),
        "a child survived stop"
    );
    assert!(!dir.exists(), "temp dir {} left behind", dir.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_graceful_restart_keeps_data_and_url() {
    let server = process_server().await;
    let old_pid = server.pid().expect("pid");
    let dir = temp_dir_of(old_pid);
    check_comes_back(&server, ServerFault::Restart).await;
    let new_pid = server.pid().expect("pid");
    assert_ne!(new_pid, old_pid);
    assert!(!process_running(old_pid));

    server.stop().await.expect("stop");
    assert!(
        !process_running(new_pid),
        "the restarted child survived stop"
    );
    assert!(!dir.exists(), "temp dir {} left behind", dir.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_stop_while_paused_or_killed_leaves_nothing() {
    // Paused: stop must thaw it to let it act on SIGTERM (or kill it).
    let server = process_server().await;
    let pid = server.pid().expect("pid");
    let dir = temp_dir_of(pid);
    server.pause().await.expect("pause");
    // The stop runs on this thread (the test's own future), so its warnings are counted here.
    let warnings = ServerWarnings::default();
    let counting = warnings.install();
    server.stop().await.expect("stop while paused");
    drop(counting);
    assert!(
        !process_running(pid),
        "paused nats-server pid {pid} survived stop"
    );
    assert!(!dir.exists(), "temp dir {} left behind", dir.display());
    assert_eq!(
        warnings.count(),
        0,
        "stop of a paused server ignored its SIGTERM until the SIGKILL deadline"
    );

    // Killed while paused and never started again: stop just cleans up.
    let server = process_server().await;
    let pid = server.pid().expect("pid");
    let dir = temp_dir_of(pid);
    server.pause().await.expect("pause");
    server.kill().await.expect("kill while paused");
    assert!(!process_running(pid));
    server.stop().await.expect("stop after kill");
    assert!(!dir.exists(), "temp dir {} left behind", dir.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_drop_kills_a_restarted_or_paused_child() {
    let server = process_server().await;
    let old_pid = server.pid().expect("pid");
    let dir = temp_dir_of(old_pid);
    server.kill().await.expect("kill");
    server.start_again().await.expect("start again");
    let new_pid = server.pid().expect("pid");
    assert!(process_running(new_pid));
    server.pause().await.expect("pause");
    drop(server);
    assert!(
        !process_running(new_pid),
        "restarted paused pid {new_pid} survived Drop"
    );
    assert!(!dir.exists(), "temp dir {} left behind", dir.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_fault_actions_that_do_not_fit_the_state_are_errors() {
    let server = process_server().await;
    let err = server.resume().await.expect_err("resume while running");
    assert!(matches!(err, ServerError::FaultState { .. }), "{err:?}");
    assert!(err.to_string().contains("resume"), "{err}");
    let err = server
        .start_again()
        .await
        .expect_err("start again while running");
    assert!(matches!(err, ServerError::FaultState { .. }), "{err:?}");

    server.kill().await.expect("kill");
    for (what, result) in [
        ("pause", server.pause().await),
        ("kill", server.kill().await),
        ("restart", server.restart().await),
    ] {
        let err = result.expect_err(what);
        assert!(
            matches!(err, ServerError::FaultState { .. }),
            "{what}: {err:?}"
        );
        assert!(err.to_string().contains("down"), "{what}: {err}");
    }
    server.stop().await.expect("stop");
}

/// Set in the child process of [`process_child_restarted_before_jsbench_died_dies_too`].
const CHILD_ENV: &str = "JSBENCH_FAULTS_PDEATHSIG_CHILD";

/// Not a test of its own (hence ignored): the body of the child process of the next test,
/// which runs it with `--ignored`. It starts a server, kills and restarts it, reports the pid
/// and waits to be killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "helper: the child process of process_child_restarted_before_jsbench_died_dies_too"]
async fn pdeathsig_child_helper() {
    assert_eq!(
        std::env::var(CHILD_ENV).as_deref(),
        Ok("1"),
        "only process_child_restarted_before_jsbench_died_dies_too runs this helper"
    );
    let server = process_server().await;
    server.kill().await.expect("kill");
    server.start_again().await.expect("start again");
    let pid = server.pid().expect("pid");
    println!("CHILD pid={pid} dir={}", temp_dir_of(pid).display());
    tokio::time::sleep(Duration::from_secs(60)).await;
    drop(server);
}

#[test]
fn process_child_restarted_before_jsbench_died_dies_too() {
    let exe = std::env::current_exe().expect("test binary");
    let mut child = std::process::Command::new(exe)
        .args([
            "pdeathsig_child_helper",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD_ENV, "1")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn the test binary");
    let stdout = child.stdout.take().expect("stdout");
    let line = std::io::BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find(|l| l.starts_with("CHILD "))
        .expect("the child reports its server");
    let (pid, dir) = line["CHILD pid=".len()..]
        .split_once(" dir=")
        .expect("pid and dir");
    let pid: u32 = pid.parse().expect("pid");
    assert!(process_running(pid));

    // No Drop, no stop: only the kernel's parent-death signal can end the server now.
    child.kill().expect("SIGKILL the child");
    child.wait().expect("reap the child");
    let deadline = Instant::now() + Duration::from_secs(5);
    while process_running(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    // The temp dir of a dead jsbench is swept by its next run; this test removes it now.
    let _ = std::fs::remove_dir_all(dir);
    assert!(
        !process_running(pid),
        "restarted nats-server pid {pid} outlived the jsbench that started it"
    );
}

// ---- container backend ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_pause_holds_answers_until_resume() {
    let Some(server) = container_server().await else {
        return;
    };
    check_pause(&server).await;
    let id = server.container_id().expect("id");
    server.stop().await.expect("stop");
    assert_container_gone(&id, "after stop").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_kill_and_start_again_keep_data_and_url() {
    let Some(server) = container_server().await else {
        return;
    };
    let id = server.container_id().expect("id");
    check_comes_back(&server, ServerFault::Kill).await;
    assert_eq!(
        server.container_id(),
        Some(id.clone()),
        "the same container"
    );
    server.stop().await.expect("stop");
    assert_container_gone(&id, "after stop").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_graceful_restart_keeps_data_and_url() {
    let Some(server) = container_server().await else {
        return;
    };
    let id = server.container_id().expect("id");
    check_comes_back(&server, ServerFault::Restart).await;
    server.stop().await.expect("stop");
    assert_container_gone(&id, "after stop").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_stop_or_drop_in_any_state_leaves_nothing() {
    // Paused, then stopped.
    let Some(server) = container_server().await else {
        return;
    };
    let id = server.container_id().expect("id");
    server.pause().await.expect("pause");
    server.stop().await.expect("stop while paused");
    assert_container_gone(&id, "after stop while paused").await;

    // Killed while paused and never started again, then stopped.
    let server = container_server().await.expect("container server");
    let id = server.container_id().expect("id");
    server.pause().await.expect("pause");
    server.kill().await.expect("kill while paused");
    server.stop().await.expect("stop after kill");
    assert_container_gone(&id, "after stop of a killed container").await;

    // Paused, then dropped.
    let server = container_server().await.expect("container server");
    let id = server.container_id().expect("id");
    server.pause().await.expect("pause");
    drop(server);
    assert_container_gone(&id, "after Drop while paused").await;
}

// ---- external backend ----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_servers_suffer_no_faults() {
    assert!(!Backend::External.supports(ServerFault::Kill));
    for fault in [ServerFault::Pause, ServerFault::Kill, ServerFault::Restart] {
        assert!(!Backend::External.supports(fault));
        for backend in [Backend::Auto, Backend::Process, Backend::Container] {
            assert!(backend.supports(fault), "{backend} supports {fault}");
        }
    }

    let process = process_server().await;
    let external = Server::start(&ServerSpec {
        url: Some(process.url().to_string()),
        ..spec(Backend::External)
    })
    .await
    .expect("external");
    let err = external
        .pause()
        .await
        .expect_err("pause of an external server");
    assert!(
        matches!(
            err,
            ServerError::FaultUnsupported {
                fault: ServerFault::Pause,
                backend: Backend::External
            }
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("pause") && text.contains("external"),
        "{text}"
    );
    for result in [
        external.resume().await,
        external.kill().await,
        external.start_again().await,
        external.restart().await,
    ] {
        assert!(
            matches!(result, Err(ServerError::FaultUnsupported { .. })),
            "{result:?}"
        );
    }
    // Nothing was done to the server behind it.
    let pid = process.pid().expect("pid");
    assert!(process_running(pid));
    assert!(accepts_connections(process.url()).await);
    process.stop().await.expect("stop");
}

#[test]
fn server_faults_serialize_in_snake_case() {
    let json =
        serde_json::to_string(&[ServerFault::Pause, ServerFault::Kill, ServerFault::Restart])
            .expect("serialize");
    assert_eq!(json, r#"["pause","kill","restart"]"#);
    let back: ServerFault = serde_json::from_str(r#""restart""#).expect("deserialize");
    assert_eq!(back, ServerFault::Restart);
}
