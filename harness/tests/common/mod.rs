//! Helpers shared by the integration tests: the container-test gate (Docker must answer, or the
//! test fails, unless JSBENCH_SKIP_CONTAINER_TESTS=1 says to skip), the image the tests run
//! (resolved exactly as the container backend resolves it: nothing has to be built by hand) and
//! container and network listing.
// Each test binary uses only some of these.
#![allow(dead_code)]

use std::collections::HashMap;

use std::time::Duration;

use jsbench::server::{docker_available, Backend, Server, ServerSpec};
use testcontainers::bollard::query_parameters::ListContainersOptionsBuilder;

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
