//! Server provisioning: starts (or attaches to) the NATS server a run publishes to.
//!
//! Every run gets its own ephemeral server unless the user points jsbench at an
//! external URL. Three backends:
//! - `process`: a `nats-server` child process on a free loopback port with a temp store dir
//!   (see [`find_or_fetch_binary`] for where the binary comes from);
//! - `container`: a container started through testcontainers;
//! - `external`: an existing server or cluster; nothing is started or stopped.
//!
//! `auto` resolves to `container` when a Docker engine answers and the image is present
//! (or pullable), else to `process`. The returned [`Server`] records which backend was used
//! and how the server was obtained, and removes what it started when stopped or dropped
//! (also on panic). If jsbench itself is killed, the kernel kills a process server
//! (`PR_SET_PDEATHSIG`), and [`kill_orphans`] removes containers left behind.

mod binary;
mod container;
mod error;
mod external;
mod probe;
mod process;

use std::path::PathBuf;

pub use binary::{cache_dir, find_or_fetch_binary, BIN_ENV};
pub use container::{docker_available, kill_orphans};
pub use error::ServerError;

/// The nats-server version jsbench pins (fetched binary, images).
pub const NATS_VERSION: &str = "2.15.1";
/// The official image real users get from Docker Hub.
pub const DEFAULT_IMAGE: &str = "nats:2.15.1";
/// The image `docker/build-nats-image.sh` builds locally.
pub const LOCAL_IMAGE: &str = "jsbench/nats-server:2.15.1";
/// Environment variable overriding the default image when none is given explicitly.
pub const IMAGE_ENV: &str = "JSBENCH_NATS_IMAGE";

/// How the server for a run is provided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// Container if Docker and the image are usable, else process.
    #[default]
    Auto,
    /// A container started through testcontainers.
    Container,
    /// A `nats-server` child process.
    Process,
    /// An existing server at a given URL; nothing is started or stopped.
    External,
}

impl Backend {
    /// The lowercase name, as in configs and on the command line.
    pub fn as_str(&self) -> &'static str {
        match self {
            Backend::Auto => "auto",
            Backend::Container => "container",
            Backend::Process => "process",
            Backend::External => "external",
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Backend {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Backend::Auto),
            "container" => Ok(Backend::Container),
            "process" => Ok(Backend::Process),
            "external" => Ok(Backend::External),
            other => Err(format!(
                "unknown server backend {other:?} (expected auto, container, process or external)"
            )),
        }
    }
}

/// Authentication and TLS for an external server (ignored by the other backends).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Auth {
    /// NATS credentials file (JWT + nkey seed).
    pub creds: Option<PathBuf>,
    /// CA certificate(s) to trust for the server's TLS certificate.
    pub tls_ca: Option<PathBuf>,
    /// Client certificate for mutual TLS (needs `tls_key`).
    pub tls_cert: Option<PathBuf>,
    /// Client key for mutual TLS (needs `tls_cert`).
    pub tls_key: Option<PathBuf>,
    /// User name (needs `password`).
    pub user: Option<String>,
    /// Password (needs `user`).
    pub password: Option<String>,
    /// Authentication token.
    pub token: Option<String>,
}

/// What server a run wants.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerSpec {
    /// Which backend to use; [`Backend::Auto`] picks one.
    pub backend: Backend,
    /// External only.
    pub url: Option<String>,
    /// Container only; default `$JSBENCH_NATS_IMAGE`, else [`DEFAULT_IMAGE`] (or
    /// [`LOCAL_IMAGE`] when only that one is present).
    pub image: Option<String>,
    /// External only.
    pub auth: Auth,
}

/// The server of one run. Call [`Server::stop`] when done; dropping it instead removes
/// what was started too, forcibly.
#[derive(Debug)]
pub struct Server {
    url: String,
    backend: Backend,
    source: String,
    auth: Auth,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Process(process::ProcessServer),
    // Boxed: the testcontainers handle is large and this enum lives in every Server.
    Container(Box<container::ContainerServer>),
    External,
}

impl Server {
    /// Provisions the server `spec` asks for and waits until it accepts connections.
    pub async fn start(spec: &ServerSpec) -> Result<Server, ServerError> {
        if spec.backend != Backend::External && spec.auth != Auth::default() {
            tracing::warn!(
                "authentication/TLS settings apply to the external backend only; the {} \
                 server jsbench starts runs without them",
                spec.backend
            );
        }
        match spec.backend {
            Backend::External => {
                let url = external::check_url(spec.url.as_deref())?;
                Ok(Server {
                    source: format!("external: {url}"),
                    url,
                    backend: Backend::External,
                    auth: spec.auth.clone(),
                    kind: Kind::External,
                })
            }
            Backend::Process => Self::start_process().await,
            Backend::Container => {
                let choice =
                    container::resolve_image(spec.image.as_deref(), container::PULL_TIMEOUT)
                        .await?;
                Self::start_container(&choice).await
            }
            Backend::Auto => Self::start_auto(spec).await,
        }
    }

    async fn start_auto(spec: &ServerSpec) -> Result<Server, ServerError> {
        if !docker_available().await {
            tracing::info!("server backend auto: no Docker engine answers; using process");
            return Self::start_process().await;
        }
        let choice =
            match container::resolve_image(spec.image.as_deref(), container::AUTO_PULL_TIMEOUT)
                .await
            {
                Ok(choice) => choice,
                Err(e) => {
                    tracing::info!("server backend auto: Docker answers but {e}; using process");
                    return Self::start_process().await;
                }
            };
        tracing::info!(
            "server backend auto: using container (Docker answers, image {} {})",
            choice.image,
            choice.how
        );
        match Self::start_container(&choice).await {
            Ok(server) => Ok(server),
            Err(e) => {
                // `auto` promises a server, not a particular backend.
                tracing::warn!("server backend auto: the container failed ({e}); using process");
                Self::start_process().await
            }
        }
    }

    async fn start_process() -> Result<Server, ServerError> {
        let (bin, origin) = find_or_fetch_binary().await?;
        let server = process::ProcessServer::start(&bin).await?;
        Ok(Server {
            url: server.url().to_string(),
            backend: Backend::Process,
            source: format!("process: {} ({origin})", bin.display()),
            auth: Auth::default(),
            kind: Kind::Process(server),
        })
    }

    async fn start_container(choice: &container::ImageChoice) -> Result<Server, ServerError> {
        let server = container::ContainerServer::start(&choice.image).await?;
        Ok(Server {
            url: server.url().to_string(),
            backend: Backend::Container,
            source: format!("container: image {} ({})", choice.image, choice.how),
            auth: Auth::default(),
            kind: Kind::Container(Box::new(server)),
        })
    }

    /// The client URL, e.g. `nats://127.0.0.1:34567`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The backend actually used (never [`Backend::Auto`]).
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// How the server was obtained, for reports and logs.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The nats-server child's pid (process backend).
    pub fn pid(&self) -> Option<u32> {
        match &self.kind {
            Kind::Process(p) => Some(p.pid()),
            _ => None,
        }
    }

    /// The container id (container backend).
    pub fn container_id(&self) -> Option<String> {
        match &self.kind {
            Kind::Container(c) => Some(c.id().to_string()),
            _ => None,
        }
    }

    /// Options to connect to this server: auth and TLS applied for an external server,
    /// plain options for the servers jsbench starts. Async because async-nats reads a
    /// credentials file asynchronously.
    pub async fn connect_options(&self) -> Result<async_nats::ConnectOptions, ServerError> {
        match self.kind {
            Kind::External => external::connect_options(&self.url, &self.auth).await,
            _ => Ok(async_nats::ConnectOptions::new()),
        }
    }

    /// Stops and removes what was started (gracefully, then forcibly); a no-op for an
    /// external server.
    pub async fn stop(self) -> Result<(), ServerError> {
        match self.kind {
            Kind::Process(p) => p.stop().await,
            Kind::Container(c) => c.stop().await,
            Kind::External => Ok(()),
        }
    }
}

/// The last `n` lines of `text`, for error messages quoting a log.
fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Whether a process with this pid exists (EPERM means it exists but is not ours).
fn pid_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: kill(2) with signal 0 only checks for existence and permission.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}
