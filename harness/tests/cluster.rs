//! Clusters jsbench starts (process backend): three nats-server nodes with routes between them,
//! every route through a proxy of its own, each node on loopback with the run's credential and a
//! known monitoring endpoint; an R3 stream works; a node can be killed and started again; the
//! routes around a node can be cut and healed, and nothing is left behind.

mod common;

use std::time::Duration;

use async_nats::jetstream::{self, stream};
use jsbench::proxy::Toxic;
use jsbench::server::{monitor, Backend, Server, ServerSpec};

async fn cluster(nodes: usize) -> Server {
    Server::start(&ServerSpec {
        backend: Backend::Process,
        nodes,
        ..ServerSpec::default()
    })
    .await
    .expect("start a cluster")
}

async fn jetstream(server: &Server) -> jetstream::Context {
    let urls: Vec<async_nats::ServerAddr> = server
        .nodes()
        .iter()
        .map(|n| n.url.parse().unwrap())
        .collect();
    let client = server
        .connect_options()
        .await
        .unwrap()
        .connect(urls.as_slice())
        .await
        .expect("connect to the cluster");
    jetstream::ContextBuilder::new()
        .timeout(Duration::from_secs(10))
        .build(client)
}

/// The stream's leader as the JetStream API reports it, once it has one.
async fn stream_leader(js: &jetstream::Context, name: &str) -> String {
    for _ in 0..100 {
        if let Ok(mut s) = js.get_stream(name).await {
            if let Ok(info) = s.info().await {
                if let Some(l) = info.cluster.as_ref().and_then(|c| c.leader.clone()) {
                    return l;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("stream {name} has no leader");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_three_node_cluster_serves_an_r3_stream_and_survives_a_node_kill() {
    let server = cluster(3).await;
    assert_eq!(server.nodes().len(), 3);
    let names: Vec<&str> = server.nodes().iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["n0", "n1", "n2"]);
    for n in server.nodes() {
        assert!(n.url.starts_with("nats://127.0.0.1:"), "{}", n.url);
        assert!(n
            .monitor_url
            .as_deref()
            .unwrap()
            .starts_with("http://127.0.0.1:"));
    }
    let leader = server.meta_leader().await.expect("a meta leader");
    assert!(names.contains(&leader.as_str()), "{leader}");

    let js = jetstream(&server).await;
    common::create_stream_on_cluster(
        &js,
        stream::Config {
            name: "R3".into(),
            subjects: vec!["r3.>".into()],
            num_replicas: 3,
            ..Default::default()
        },
    )
    .await;
    common::publish_first(&js, "r3.0").await;
    for i in 1..100 {
        js.publish(format!("r3.{i}"), "x".into())
            .await
            .unwrap()
            .await
            .expect("ack");
    }
    let leader = stream_leader(&js, "R3").await;
    let li = names.iter().position(|n| *n == leader).unwrap();
    // Every node holds the 100 messages in its own replica.
    for n in server.nodes() {
        let jsz: monitor::Jsz =
            monitor::get_json(n.monitor_url.as_deref().unwrap(), "/jsz?streams=true")
                .await
                .unwrap();
        let s = jsz.stream("R3").expect("every node holds a replica");
        assert_eq!(s.state.messages, 100, "node {}", n.name);
    }

    // kill -9 of the stream leader: another node takes over and publishing goes on.
    server.kill_node(li).await.expect("kill the leader");
    let acked = common::publish_until_acked(&js, "r3.", 10).await;
    assert!(acked >= 10, "the two survivors accept publishes");
    let new_leader = stream_leader(&js, "R3").await;
    assert_ne!(new_leader, leader);
    server.start_again_node(li).await.expect("start it again");
    server.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cutting_the_routes_of_the_meta_leader_moves_leadership() {
    let server = cluster(3).await;
    let leader = server.meta_leader().await.unwrap();
    let li = server
        .nodes()
        .iter()
        .position(|n| n.name == leader)
        .unwrap();
    for other in (0..3).filter(|&o| o != li) {
        server
            .set_route_toxic(li, other, Toxic::Timeout, true)
            .unwrap();
    }
    // The two others elect a new meta leader among themselves.
    let mut moved = false;
    for _ in 0..150 {
        let mut views = Vec::new();
        for (i, n) in server.nodes().iter().enumerate() {
            if i == li {
                continue;
            }
            let jsz: monitor::Jsz = monitor::get_json(n.monitor_url.as_deref().unwrap(), "/jsz")
                .await
                .unwrap();
            views.push(jsz.meta_cluster.unwrap_or_default().leader);
        }
        if views.iter().all(|v| !v.is_empty() && *v != leader) {
            moved = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(moved, "the majority side elected a new meta leader");
    for other in (0..3).filter(|&o| o != li) {
        server
            .set_route_toxic(li, other, Toxic::Timeout, false)
            .unwrap();
    }
    server.stop().await.expect("stop");
}
