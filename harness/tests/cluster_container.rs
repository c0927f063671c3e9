//! Clusters on the container backend, against real containers: three nodes on Docker networks
//! the run creates, each publishing its client and monitoring ports on 127.0.0.1 only; an R3
//! stream is replicated on every node; the stream leader can be killed (-9) and started again on
//! the same URL; a partition isolating it moves stream leadership while clients still reach it;
//! and whatever way the server goes (stop, Drop, Drop in a panic, a start cut off midway, a
//! jsbench process that died), no container, network or volume is left behind.
//!
//! Container tests need a Docker engine; the image is resolved as the container backend resolves
//! it. Without an engine they fail, unless JSBENCH_SKIP_CONTAINER_TESTS=1 says to skip them.
//! The tests take turns (one lock), because each checks that nothing of this process is left
//! in Docker afterwards, and because the machines that run them have two cores.

mod common;

use std::time::Duration;

use async_nats::jetstream::{self, stream};
use jsbench::server::{kill_orphans, monitor, Backend, Server, ServerError, ServerSpec};
use testcontainers::bollard::models::NetworkCreateRequest;
use testcontainers::bollard::Docker;

const STREAM: &str = "R3";
const MESSAGES: u64 = 100;

/// One test at a time (module docs).
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn docker() -> Docker {
    testcontainers::core::client::docker_client_instance()
        .await
        .expect("docker client")
}

fn spec(image: String, nodes: usize) -> ServerSpec {
    ServerSpec {
        backend: Backend::Container,
        image: Some(image),
        nodes,
        ..ServerSpec::default()
    }
}

/// A 3-node container cluster with its meta leader, or None when container tests are skipped.
async fn cluster() -> Option<Server> {
    let image = common::container_test_image().await?;
    let server = Server::start(&spec(image, 3))
        .await
        .expect("start a 3-node container cluster");
    Some(server)
}

async fn jetstream_on(server: &Server, nodes: &[usize]) -> jetstream::Context {
    let urls: Vec<async_nats::ServerAddr> = nodes
        .iter()
        .map(|&i| server.nodes()[i].url.parse().unwrap())
        .collect();
    let client = server
        .connect_options()
        .await
        .unwrap()
        .reconnect_delay_callback(|_| Duration::from_millis(100))
        .connection_timeout(Duration::from_secs(2))
        .connect(urls.as_slice())
        .await
        .expect("connect to the cluster");
    jetstream::ContextBuilder::new()
        .timeout(Duration::from_secs(5))
        .build(client)
}

/// An R3 stream holding [`MESSAGES`] acknowledged messages.
async fn filled_r3_stream(js: &jetstream::Context) {
    common::create_stream_on_cluster(
        js,
        stream::Config {
            name: STREAM.into(),
            subjects: vec!["r3.>".into()],
            num_replicas: 3,
            ..Default::default()
        },
    )
    .await;
    common::publish_first(js, "r3.0").await;
    for i in 1..MESSAGES {
        js.publish(format!("r3.{i}"), "x".into())
            .await
            .unwrap()
            .await
            .expect("ack");
    }
}

/// Node `i`'s own view of the stream: its replica's message count and the leader it knows.
async fn replica(server: &Server, i: usize) -> Option<(u64, String)> {
    let m = server.nodes()[i].monitor_url.as_deref().unwrap();
    let jsz: monitor::Jsz = monitor::get_json(m, "/jsz?streams=true").await.ok()?;
    let s = jsz.stream(STREAM)?;
    let leader = s
        .cluster
        .as_ref()
        .map(|c| c.leader.clone())
        .unwrap_or_default();
    Some((s.state.messages, leader))
}

/// Polls `check` every 100 ms for up to `secs` seconds.
async fn eventually<F, Fut>(secs: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} (waited {secs} s)"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The stream leader every node but `except` reports, once they agree on one other than
/// `not` (a leader that lost its place).
async fn agreed_stream_leader(server: &Server, except: Option<usize>, not: Option<&str>) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let mut views = Vec::new();
        for i in (0..server.nodes().len()).filter(|&i| Some(i) != except) {
            views.push(replica(server, i).await.map(|(_, l)| l).unwrap_or_default());
        }
        views.dedup();
        if let [one] = views.as_slice() {
            if !one.is_empty() && Some(one.as_str()) != not {
                return one.clone();
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the nodes (but {except:?}) did not agree on a stream leader (not {not:?}): {views:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn index_of(server: &Server, name: &str) -> usize {
    server.nodes().iter().position(|n| n.name == name).unwrap()
}

/// What Docker holds for a node's container: its networks, its volumes and its port bindings
/// (container port, host address) as configured and as live.
struct Held {
    networks: Vec<String>,
    volumes: Vec<String>,
    bindings: Vec<(String, String)>,
}

async fn held_by(id: &str) -> Held {
    let info = docker()
        .await
        .inspect_container(id, None)
        .await
        .expect("inspect");
    let settings = info.network_settings.unwrap_or_default();
    let mut networks: Vec<String> = settings.networks.unwrap_or_default().into_keys().collect();
    networks.sort();
    let volumes = info
        .mounts
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.name)
        .collect();
    let configured = info.host_config.and_then(|h| h.port_bindings);
    let live = settings.ports;
    let mut bindings = Vec::new();
    for map in [configured, live].into_iter().flatten() {
        for (port, list) in map {
            for b in list.unwrap_or_default() {
                bindings.push((port.clone(), b.host_ip.unwrap_or_default()));
            }
        }
    }
    Held {
        networks,
        volumes,
        bindings,
    }
}

/// Everything of this process in Docker: containers and networks labelled with its pid.
async fn ours() -> (Vec<String>, Vec<String>) {
    let pid = format!("jsbench.pid={}", std::process::id());
    (
        common::containers_matching("label", &pid).await,
        common::networks_matching("label", &pid).await,
    )
}

/// Asserts that nothing of this process is left in Docker, nor any of `volumes`.
async fn assert_nothing_left(volumes: &[String], when: &str) {
    common::assert_nothing_left_in_docker(std::process::id(), volumes, when).await;
}

/// The volumes of every node's container.
async fn volumes_of(server: &Server) -> Vec<String> {
    let mut volumes = Vec::new();
    for i in 0..server.nodes().len() {
        let id = server.node_container_id(i).expect("container id");
        volumes.extend(held_by(&id).await.volumes);
    }
    volumes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_three_node_container_cluster_serves_an_r3_stream_on_loopback_ports() {
    let _turn = TURN.lock().await;
    let Some(server) = cluster().await else {
        return;
    };
    let names: Vec<&str> = server.nodes().iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["n0", "n1", "n2"]);
    assert!(server.source().contains("3 nodes"), "{}", server.source());
    let leader = server.meta_leader().await.expect("a meta leader");
    assert!(names.contains(&leader.as_str()), "{leader}");
    let (_, mut run_networks) = ours().await;
    run_networks.sort();
    assert_eq!(run_networks.len(), 2, "a clients and a routes network");
    for (i, n) in server.nodes().iter().enumerate() {
        assert!(n.url.starts_with("nats://127.0.0.1:"), "{}", n.url);
        let m = n.monitor_url.as_deref().unwrap();
        assert!(m.starts_with("http://127.0.0.1:"), "{m}");
        let held = held_by(&server.node_container_id(i).unwrap()).await;
        let ports: std::collections::BTreeSet<&str> =
            held.bindings.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            ports,
            ["4222/tcp", "8222/tcp"].into_iter().collect(),
            "only client and monitoring ports published: {:?}",
            held.bindings
        );
        assert!(
            held.bindings.iter().all(|(_, ip)| ip == "127.0.0.1"),
            "every binding on loopback: {:?}",
            held.bindings
        );
        assert_eq!(
            held.networks, run_networks,
            "node {i} is on the run's networks only"
        );
        assert_eq!(
            held.volumes.len(),
            1,
            "node {i}'s store on a volume of its own"
        );
    }
    let js = jetstream_on(&server, &[0, 1, 2]).await;
    filled_r3_stream(&js).await;
    eventually(
        10,
        "every node holds the messages in its replica",
        || async {
            let mut all = true;
            for i in 0..3 {
                all &= replica(&server, i)
                    .await
                    .is_some_and(|(m, _)| m == MESSAGES);
            }
            all
        },
    )
    .await;
    let volumes = volumes_of(&server).await;
    server.stop().await.expect("stop");
    assert_nothing_left(&volumes, "after stop").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_stream_leader_moves_leadership_and_it_comes_back_on_its_url() {
    let _turn = TURN.lock().await;
    let Some(server) = cluster().await else {
        return;
    };
    let js = jetstream_on(&server, &[0, 1, 2]).await;
    filled_r3_stream(&js).await;
    let leader = agreed_stream_leader(&server, None, None).await;
    let li = index_of(&server, &leader);
    let url = server.nodes()[li].url.clone();

    server
        .kill_node(li)
        .await
        .expect("kill -9 the stream leader");
    let acked = common::publish_until_acked(&js, "r3.k", 10).await;
    assert!(acked >= 10, "the two survivors accept publishes");
    let new_leader = agreed_stream_leader(&server, Some(li), Some(&leader)).await;
    assert_ne!(new_leader, leader);

    server.start_again_node(li).await.expect("start it again");
    assert_eq!(server.nodes()[li].url, url);
    // Back on the same URL, with the store it had, it catches up with what it missed.
    let direct = jetstream_on(&server, &[li]).await;
    assert!(direct.get_stream(STREAM).await.is_ok(), "{url} answers");
    eventually(15, "the restarted node catches up", || async {
        replica(&server, li)
            .await
            .is_some_and(|(m, _)| m == MESSAGES + acked)
    })
    .await;
    let volumes = volumes_of(&server).await;
    server.stop().await.expect("stop");
    assert_nothing_left(&volumes, "after stop").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn isolating_the_stream_leader_moves_leadership_while_clients_still_reach_it() {
    let _turn = TURN.lock().await;
    let Some(server) = cluster().await else {
        return;
    };
    let js = jetstream_on(&server, &[0, 1, 2]).await;
    filled_r3_stream(&js).await;
    let leader = agreed_stream_leader(&server, None, None).await;
    let li = index_of(&server, &leader);
    let id = server.node_container_id(li).unwrap();
    let on_networks = held_by(&id).await.networks.len();

    server.partition(&[li], true).await.expect("partition");
    assert_eq!(
        held_by(&id).await.networks.len(),
        on_networks - 1,
        "the isolated node left the routes network"
    );
    let new_leader = agreed_stream_leader(&server, Some(li), Some(&leader)).await;
    assert_ne!(
        new_leader, leader,
        "the majority elected another stream leader"
    );
    // The isolated node still answers its clients and its monitoring endpoint.
    let direct = server
        .connect_options()
        .await
        .unwrap()
        .connect(server.nodes()[li].url.as_str())
        .await
        .expect("a client reaches the isolated node");
    direct
        .flush()
        .await
        .expect("a round trip to the isolated node");
    assert!(
        replica(&server, li).await.is_some(),
        "its monitoring answers"
    );
    // The majority side goes on accepting publishes.
    let others: Vec<usize> = (0..3).filter(|&i| i != li).collect();
    let majority = jetstream_on(&server, &others).await;
    majority
        .publish("r3.p", "z".into())
        .await
        .unwrap()
        .await
        .expect("the majority acks");
    // Idempotent: cutting twice is the same cut.
    server.partition(&[li], true).await.expect("cut again");

    server.partition(&[li], false).await.expect("heal");
    assert_eq!(held_by(&id).await.networks.len(), on_networks);
    eventually(20, "the healed node catches up", || async {
        replica(&server, li)
            .await
            .is_some_and(|(m, _)| m == MESSAGES + 1)
    })
    .await;
    let volumes = volumes_of(&server).await;
    server.stop().await.expect("stop");
    assert_nothing_left(&volumes, "after stop").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_in_a_panic_and_cancelled_starts_leave_nothing_behind() {
    let _turn = TURN.lock().await;
    let Some(image) = common::container_test_image().await else {
        return;
    };
    // Dropped while a task unwinds a panic, with one node killed and one paused.
    let server = Server::start(&spec(image.clone(), 2))
        .await
        .expect("start a 2-node container cluster");
    let volumes = volumes_of(&server).await;
    server.kill_node(0).await.expect("kill");
    server.pause_node(1).await.expect("pause");
    let panicked = tokio::spawn(async move {
        let _server = server;
        panic!("a run that panics");
    })
    .await;
    assert!(panicked.is_err_and(|e| e.is_panic()));
    assert_nothing_left(&volumes, "after Drop in a panic").await;

    // A start cut off at different points (networks created, containers starting, cluster
    // forming): what it created goes with the dropped future.
    for cut_ms in [30, 300, 900] {
        let three = spec(image.clone(), 3);
        let start = Server::start(&three);
        if let Ok(started) = tokio::time::timeout(Duration::from_millis(cut_ms), start).await {
            started.expect("start").stop().await.expect("stop");
        }
        assert_nothing_left(&[], &format!("after a start cut off at {cut_ms} ms")).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsupported_container_cluster_requests_fail_clearly() {
    let _turn = TURN.lock().await;
    let Some(image) = common::container_test_image().await else {
        return;
    };
    let too_many = Server::start(&spec(image.clone(), 6)).await.unwrap_err();
    assert!(
        matches!(too_many, ServerError::ClusterUnsupported { .. }),
        "{too_many}"
    );
    let single = Server::start(&spec(image, 1)).await.expect("start");
    let err = single.partition(&[0], true).await.unwrap_err();
    assert!(err.to_string().contains("2 or more nodes"), "{err}");
    let err = single
        .set_route_toxic(0, 1, jsbench::proxy::Toxic::Timeout, true)
        .unwrap_err();
    assert!(err.to_string().contains("process backend"), "{err}");
    single.stop().await.expect("stop");
    assert_nothing_left(&[], "after stop").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_orphans_removes_networks_of_dead_runs_only() {
    let _turn = TURN.lock().await;
    if common::container_test_image().await.is_none() {
        return;
    }
    // A pid that is certainly gone: a child that has exited and been reaped.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let docker = docker().await;
    let create = |name: &str, pid: u32| NetworkCreateRequest {
        name: name.to_string(),
        labels: Some(
            [
                ("jsbench".to_string(), "1".to_string()),
                ("jsbench.pid".to_string(), pid.to_string()),
                ("jsbench.instance".to_string(), format!("test-{name}")),
            ]
            .into(),
        ),
        ..Default::default()
    };
    let orphan = format!("jsbench-test-orphan-{}", std::process::id());
    let live = format!("jsbench-test-live-{}", std::process::id());
    docker.create_network(create(&orphan, dead)).await.unwrap();
    docker
        .create_network(create(&live, std::process::id()))
        .await
        .unwrap();

    assert!(kill_orphans().await >= 1);
    assert!(
        common::networks_matching("name", &orphan).await.is_empty(),
        "orphaned network {orphan} survived kill_orphans"
    );
    assert_eq!(
        common::networks_matching("name", &live).await,
        vec![live.clone()],
        "kill_orphans removed a network of a live run"
    );
    docker.remove_network(&live).await.unwrap();
}
