//! The jsbench container image (`jsbench image build`): the running jsbench binary in an image
//! `FROM scratch`, for workers (and coordinators) started by an engine — docker-compose
//! (docker-compose.workers.yml), a Kubernetes Job (deploy/kubernetes/) — rather than by
//! `jsbench run --workers N` on this machine.
//!
//! Why the running binary (`std::env::current_exe()`) and not a build inside Docker: the image
//! must hold exactly the jsbench the user runs (a worker refuses a plan that its own code
//! validates differently from the coordinator's), and a Rust build inside Docker would need a
//! toolchain image and crates.io from inside the build — neither exists on a machine without a
//! registry. So the image holds that binary, the shared libraries it links and its loader
//! ([`libs`]), the pinned static nats-server (`jsbench coordinate` starts its coordination server
//! with it), an empty /tmp and a few /etc files ([`rootfs`]); docker/jsbench.Dockerfile is the
//! recipe.
//!
//! Why a folder of its own and not `server/container/`: that folder is the container *backend*
//! (servers under test); this image is what jsbench itself runs in, and it depends on the server
//! module (the pinned binary, the Docker client) rather than the reverse. The machinery both
//! share — a build context in memory, a build through the Docker API — lives in
//! `server/container/build.rs`, used by both.

mod libs;
mod rootfs;

use std::path::PathBuf;
use std::time::Duration;

pub use libs::{needed, Needed};

use crate::server::{self, ServerError};

/// The repository of the image; the default tag is [`default_tag`].
pub const REPOSITORY: &str = "jsbench/jsbench";
/// The recipe, shared with docker/build-jsbench-image.sh (which runs `jsbench image build`).
const DOCKERFILE: &str = include_str!("../../../docker/jsbench.Dockerfile");
/// A debug binary is ~300 MB; the build copies it once and pulls nothing.
const BUILD_TIMEOUT: Duration = Duration::from_secs(600);

/// `jsbench/jsbench:<crate version>`.
pub fn default_tag() -> String {
    format!("{REPOSITORY}:{}", env!("CARGO_PKG_VERSION"))
}

/// Why the image could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The tag given is not a Docker image reference.
    #[error(
        "--tag {tag:?}: {why}; allowed: [REGISTRY[:PORT]/]NAME[:TAG], NAME in lowercase \
         letters, digits and . _ - / (e.g. {REPOSITORY}:dev)"
    )]
    BadTag { tag: String, why: &'static str },
    /// The running executable cannot be found or read.
    #[error("cannot find the running jsbench executable to put into the image: {0}")]
    Exe(#[source] std::io::Error),
    /// The shared libraries of the executable cannot be listed.
    #[error("cannot list the shared libraries of {}: {reason}", exe.display())]
    Ldd { exe: PathBuf, reason: String },
    /// No Docker engine, or no nats-server binary.
    #[error(transparent)]
    Server(#[from] ServerError),
    /// The build context could not be packed (a file unreadable).
    #[error("cannot pack the build context: {0}")]
    Context(#[source] std::io::Error),
    /// The engine's build failed.
    #[error("building {tag}: {reason}")]
    Build { tag: String, reason: String },
    /// No runtime for the Docker calls.
    #[error("cannot start the tokio runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

impl ImageError {
    /// True for bad input (the tag), false for a failure of the machine.
    pub fn is_bad_input(&self) -> bool {
        matches!(self, ImageError::BadTag { .. })
    }
}

/// What was built, for the report.
#[derive(Debug, Clone)]
pub struct Built {
    pub tag: String,
    /// The image id (sha256:…).
    pub id: String,
    /// The binary put into it.
    pub exe: PathBuf,
    /// The shared libraries and loader put beside it.
    pub needed: Vec<Needed>,
    pub nats_server: PathBuf,
    /// What happened to an older image of the same tag, when there was one.
    pub replaced: Option<String>,
}

/// Builds the image under `tag` (default [`default_tag`]); blocks on a runtime of its own.
pub fn build(tag: Option<&str>) -> Result<Built, ImageError> {
    let tag = tag.map_or_else(default_tag, |t| t.trim().to_string());
    check_tag(&tag)?;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ImageError::Runtime)?
        .block_on(build_tagged(tag))
}

async fn build_tagged(tag: String) -> Result<Built, ImageError> {
    let exe = std::env::current_exe().map_err(ImageError::Exe)?;
    let needed = libs::needed(&exe)?;
    let docker = server::docker_client().await?;
    let nats_server = server::pinned_binary().await?;
    let inputs = rootfs::Inputs {
        exe: &exe,
        nats_server: &nats_server,
        needed: &needed,
    };
    let context = rootfs::context(DOCKERFILE, &inputs).map_err(ImageError::Context)?;
    let lib_path = rootfs::library_path(&needed);
    let version = env!("CARGO_PKG_VERSION");
    let recipe = server::Recipe {
        labels: [
            ("org.opencontainers.image.title", "jsbench"),
            ("org.opencontainers.image.version", version),
            ("jsbench.nats-server.version", server::NATS_VERSION),
        ]
        .into(),
        args: [("JSBENCH_LIB_PATH", lib_path.as_str())].into(),
    };
    let old = server::image_id(&docker, &tag).await?;
    server::build_image(&docker, &tag, context, &recipe, BUILD_TIMEOUT)
        .await
        .map_err(|reason| ImageError::Build {
            tag: tag.clone(),
            reason,
        })?;
    let id = server::image_id(&docker, &tag).await?.unwrap_or_default();
    let replaced = match old.filter(|old| *old != id) {
        Some(old) => Some(match server::remove_replaced(&docker, &old).await {
            Ok(()) => format!("the image it replaced ({old}) was removed"),
            Err(why) => format!("the image it replaced ({old}) stays: {why}"),
        }),
        None => None,
    };
    Ok(Built {
        tag,
        id,
        exe,
        needed,
        nats_server,
        replaced,
    })
}

/// A light check of a Docker image reference, so that a typo is bad input (exit 2) with the
/// rule, not a build error; the engine checks the rest.
fn check_tag(tag: &str) -> Result<(), ImageError> {
    let bad = |why| {
        Err(ImageError::BadTag {
            tag: tag.to_string(),
            why,
        })
    };
    if tag.is_empty() {
        return bad("empty");
    }
    if tag.chars().any(|c| c.is_whitespace() || c == '@') {
        return bad("no spaces or digests (@) allowed");
    }
    let name_start = tag.rfind('/').map_or(0, |i| i + 1);
    let (name, version) = match tag[name_start..].rfind(':') {
        Some(i) => (&tag[..name_start + i], Some(&tag[name_start + i + 1..])),
        None => (tag, None),
    };
    // A first part with '.' or ':' (or localhost) is a registry, which may hold a port and
    // upper case; the path may not.
    let path = match name.split_once('/') {
        Some((registry, path)) if registry.contains(['.', ':']) || registry == "localhost" => path,
        _ => name,
    };
    if path.is_empty() || path.chars().any(|c| c.is_ascii_uppercase()) {
        return bad("the name must be non-empty and lowercase");
    }
    if let Some(v) = version {
        let ok = !v.is_empty()
            && v.len() <= 128
            && !v.starts_with(['.', '-'])
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
        if !ok {
            return bad("the tag after ':' must be 1-128 of letters, digits, _ . - (not first)");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_checked() {
        for good in [
            "jsbench/jsbench:0.1.0",
            "jsbench",
            "registry:5000/team/jsbench:dev_1",
            "Registry.Example/jsbench",
        ] {
            assert!(check_tag(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "Jsbench/x",
            "jsbench:",
            "jsbench:-x",
            "a b",
            "x@sha256:00",
        ] {
            let e = check_tag(bad).unwrap_err();
            assert!(
                e.is_bad_input() && e.to_string().contains("allowed"),
                "{bad}"
            );
        }
        assert!(default_tag().starts_with("jsbench/jsbench:"));
        assert!(DOCKERFILE.contains("FROM scratch") && DOCKERFILE.contains(rootfs::JSBENCH));
    }
}
