//! Building an image through the Docker API from a build context held in memory: the machinery
//! shared by the two images jsbench builds itself — the nats-server image of the container
//! backend (`image.rs`) and the jsbench image (`crate::image`, `jsbench image build`).
//!
//! Why the API and not the `docker` CLI: the CLI may be missing or lack the buildx plugin that
//! its default builder needs, while the engine's own (legacy) builder is always there, and the
//! client is the one the container backend already uses (same DOCKER_HOST resolution). Both
//! images are `FROM scratch`, so a build pulls nothing and works without a registry.
//!
//! A context is a tar archive ([`Context`]) holding the Dockerfile and the files it copies;
//! [`build`] sends it, follows the build's progress stream to its end (an error in the stream
//! fails the build with the builder's message), bounds it in time, and checks the image exists.
//! A rebuild under the same tag leaves the old image untagged (`<none>`); [`remove_replaced`]
//! removes it so that repeated builds do not fill the disk.

use std::collections::HashMap;
use std::io;
use std::path::Path;
use std::time::Duration;

use futures::StreamExt;
use testcontainers::bollard::query_parameters::{
    BuildImageOptionsBuilder, RemoveImageOptionsBuilder,
};
use testcontainers::bollard::Docker;

use super::docker::{call, DOCKER_CALL_TIMEOUT};
use crate::server::error::ServerError;

/// The name of the recipe inside every context.
const DOCKERFILE: &str = "Dockerfile";

/// A Docker build context being assembled: the Dockerfile, then files and directories at
/// relative paths with explicit modes (owner root, no timestamps, so the same inputs give the
/// same archive).
pub(crate) struct Context {
    archive: tar::Builder<Vec<u8>>,
}

impl Context {
    /// A context holding `dockerfile` as its recipe.
    pub(crate) fn new(dockerfile: &str) -> io::Result<Self> {
        let mut context = Context {
            archive: tar::Builder::new(Vec::new()),
        };
        context.bytes(DOCKERFILE, dockerfile.as_bytes(), 0o644)?;
        Ok(context)
    }

    /// Adds `bytes` as the file `path` with `mode`.
    pub(crate) fn bytes(&mut self, path: &str, bytes: &[u8], mode: u32) -> io::Result<()> {
        let mut header = file_header(bytes.len() as u64, mode);
        self.archive.append_data(&mut header, path, bytes)
    }

    /// Adds the file at `source` (symbolic links followed) as `path` with `mode`, streamed
    /// from disk (a debug jsbench binary is hundreds of MB).
    pub(crate) fn file(&mut self, path: &str, source: &Path, mode: u32) -> io::Result<()> {
        let file = std::fs::File::open(source)?;
        let len = file.metadata()?.len();
        let mut header = file_header(len, mode);
        self.archive
            .append_data(&mut header, path, io::Read::take(file, len))
    }

    /// Adds the empty directory `path` with `mode` (e.g. 0o1777 for a /tmp).
    pub(crate) fn dir(&mut self, path: &str, mode: u32) -> io::Result<()> {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Directory);
        header.set_size(0);
        header.set_mode(mode);
        header.set_cksum();
        self.archive.append_data(&mut header, path, io::empty())
    }

    /// The finished archive, as the build API takes it.
    pub(crate) fn into_tar(self) -> io::Result<Vec<u8>> {
        self.archive.into_inner()
    }
}

fn file_header(len: u64, mode: u32) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_size(len);
    header.set_mode(mode);
    header.set_cksum();
    header
}

/// What a build is given besides its context: the image's labels and the Dockerfile's `ARG`s.
#[derive(Debug, Default)]
pub(crate) struct Recipe<'a> {
    pub labels: HashMap<&'a str, &'a str>,
    pub args: HashMap<&'a str, &'a str>,
}

/// Builds `image` from `context` (a [`Context`]'s archive) as `recipe` says, within `limit`;
/// the error says what failed, in one line.
pub(crate) async fn build(
    docker: &Docker,
    image: &str,
    context: Vec<u8>,
    recipe: &Recipe<'_>,
    limit: Duration,
) -> Result<(), String> {
    let options = BuildImageOptionsBuilder::new()
        .dockerfile(DOCKERFILE)
        .t(image)
        .rm(true)
        .forcerm(true)
        .labels(&recipe.labels)
        .buildargs(&recipe.args)
        .build();
    let run = async {
        let mut stream = docker.build_image(
            options,
            None,
            Some(testcontainers::bollard::body_full(context.into())),
        );
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| format!("the Docker build failed: {e}"))?;
            if let Some(detail) = info.error_detail {
                return Err(format!(
                    "the Docker build failed: {}",
                    detail.message.unwrap_or_default()
                ));
            }
        }
        Ok(())
    };
    tokio::time::timeout(limit, run)
        .await
        .map_err(|_| format!("the Docker build did not finish within {limit:?}"))??;
    match image_id(docker, image).await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err("the Docker build reported success but the image is not there".into()),
        Err(e) => Err(e.to_string()),
    }
}

/// The id of `image` in the engine, `None` when it is not there.
pub(crate) async fn image_id(docker: &Docker, image: &str) -> Result<Option<String>, ServerError> {
    use testcontainers::bollard::errors::Error;
    match tokio::time::timeout(DOCKER_CALL_TIMEOUT, docker.inspect_image(image)).await {
        Ok(Ok(inspect)) => Ok(Some(inspect.id.unwrap_or_default())),
        Ok(Err(Error::DockerResponseServerError {
            status_code: 404, ..
        })) => Ok(None),
        Ok(Err(e)) => Err(ServerError::DockerUnavailable {
            reason: format!("inspecting image {image}: {e}"),
        }),
        Err(_) => Err(ServerError::DockerUnavailable {
            reason: format!("inspecting image {image} took over {DOCKER_CALL_TIMEOUT:?}"),
        }),
    }
}

/// Removes the image `old_id` that a rebuild under the same tag replaced, unless it is in use
/// (a container made from it, another tag): then it stays, and why is returned for a report.
pub(crate) async fn remove_replaced(docker: &Docker, old_id: &str) -> Result<(), String> {
    let options = RemoveImageOptionsBuilder::new()
        .force(false)
        .noprune(false)
        .build();
    call(
        format!("removing the replaced image {old_id}"),
        DOCKER_CALL_TIMEOUT,
        docker.remove_image(old_id, Some(options), None),
    )
    .await
    .map(|_| ())
    .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_context_holds_the_recipe_files_and_directories_with_their_modes() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("bin");
        std::fs::write(&source, b"\x7fELF fake").unwrap();
        let mut context = Context::new("FROM scratch\n").unwrap();
        context.file("rootfs/bin", &source, 0o755).unwrap();
        context
            .bytes("rootfs/etc/passwd", b"root\n", 0o644)
            .unwrap();
        context.dir("rootfs/tmp", 0o1777).unwrap();
        let tar = context.into_tar().unwrap();
        let mut archive = tar::Archive::new(tar.as_slice());
        let entries: Vec<(String, u32, u64)> = archive
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let name = e.path().unwrap().display().to_string();
                (name, e.header().mode().unwrap(), e.header().size().unwrap())
            })
            .collect();
        assert_eq!(
            entries,
            vec![
                ("Dockerfile".into(), 0o644, 13),
                ("rootfs/bin".into(), 0o755, 9),
                ("rootfs/etc/passwd".into(), 0o644, 5),
                ("rootfs/tmp".into(), 0o1777, 0),
            ]
        );
    }
}
