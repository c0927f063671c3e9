//! Helpers shared by the integration tests: the container-test gate (Docker must answer, or the
//! test fails, unless JSBENCH_SKIP_CONTAINER_TESTS=1 says to skip) and container listing.
// Each test binary uses only some of these.
#![allow(dead_code)]

use std::collections::HashMap;

use jsbench::server::{docker_available, LOCAL_IMAGE};
use testcontainers::bollard::query_parameters::ListContainersOptionsBuilder;

/// The image for container tests, or None when they are to be skipped.
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
    Some(std::env::var("JSBENCH_NATS_IMAGE").unwrap_or_else(|_| LOCAL_IMAGE.to_string()))
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
