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
//!
//! A server jsbench started can also be made to fail ([`ServerFault`]): paused, killed
//! (kill -9) and started again, or restarted gracefully. It keeps its JetStream store and
//! its client URL through all of them, so clients under test can reconnect, and stopping or
//! dropping it cleans up whatever state a fault left it in.

mod binary;
mod container;
mod credential;
mod error;
mod external;
mod fault;
mod image;
mod port_hold;
mod probe;
mod process;

use std::path::PathBuf;

pub use binary::{cache_dir, find_or_fetch_binary, pinned_binary, BIN_ENV};
pub use container::{docker_available, kill_orphans};
pub use credential::Credential;
pub use error::ServerError;
pub use fault::ServerFault;
pub use image::ImageChoice;

use fault::Action;

/// The nats-server version jsbench pins (fetched binary, images).
pub const NATS_VERSION: &str = "2.15.1";
/// The official image real users get from Docker Hub.
pub const DEFAULT_IMAGE: &str = "nats:2.15.1";
/// The image jsbench builds locally FROM scratch when the official one cannot be had (also
/// what `docker/build-nats-image.sh` builds).
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

    /// Whether this backend can inject `fault`: all of them for the servers jsbench starts
    /// (auto, process, container), none for an external server it does not control.
    pub fn supports(&self, fault: ServerFault) -> bool {
        match fault {
            ServerFault::Pause | ServerFault::Kill | ServerFault::Restart => {
                *self != Backend::External
            }
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
    /// The per-run credential of a server jsbench started (None for an external one).
    credential: Option<Credential>,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    // Boxed: both handles are large (the child, paths and fault state; the testcontainers
    // handle) and this enum lives in every Server.
    Process(Box<process::ProcessServer>),
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
                    credential: None,
                    kind: Kind::External,
                })
            }
            Backend::Process => Self::start_process().await,
            Backend::Container => {
                let choice =
                    Self::resolve_image(spec.image.as_deref(), container::PULL_TIMEOUT).await?;
                Self::start_container(&choice).await
            }
            Backend::Auto => Self::start_auto(spec).await,
        }
    }

    /// The image the container backend would run (see `image.rs`): `explicit`, else
    /// `$JSBENCH_NATS_IMAGE`, else the official image, else the local one, built if need be.
    pub async fn resolve_image(
        explicit: Option<&str>,
        pull_timeout: std::time::Duration,
    ) -> Result<ImageChoice, ServerError> {
        let docker = container::docker()
            .await
            .map_err(|reason| ServerError::DockerUnavailable { reason })?;
        image::resolve_image(&docker, explicit, pull_timeout).await
    }

    async fn start_auto(spec: &ServerSpec) -> Result<Server, ServerError> {
        if !docker_available().await {
            tracing::info!("server backend auto: no Docker engine answers; using process");
            return Self::start_process().await;
        }
        let choice =
            match Self::resolve_image(spec.image.as_deref(), container::AUTO_PULL_TIMEOUT).await {
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
        let credential = Credential::generate();
        let server = process::ProcessServer::start(&bin, &credential).await?;
        Ok(Server {
            url: server.url().to_string(),
            backend: Backend::Process,
            source: format!("process: {} ({origin})", bin.display()),
            auth: Auth::default(),
            credential: Some(credential),
            kind: Kind::Process(Box::new(server)),
        })
    }

    async fn start_container(choice: &ImageChoice) -> Result<Server, ServerError> {
        let credential = Credential::generate();
        let server = container::ContainerServer::start(&choice.image, &credential).await?;
        Ok(Server {
            url: server.url().to_string(),
            backend: Backend::Container,
            source: format!("container: image {} ({})", choice.image, choice.how),
            auth: Auth::default(),
            credential: Some(credential),
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

    /// The current nats-server child's pid (process backend): after a restart the new
    /// child's, after a kill (until started again) the killed one's.
    pub fn pid(&self) -> Option<u32> {
        match &self.kind {
            Kind::Process(p) => Some(p.pid()),
            _ => None,
        }
    }

    /// The per-run credential of a server jsbench started; None for an external server.
    pub fn credential(&self) -> Option<&Credential> {
        self.credential.as_ref()
    }

    /// The monitoring endpoint (`http://127.0.0.1:PORT`, serving `/varz`, `/jsz`) of a server
    /// jsbench started; None for an external server.
    pub fn monitor_url(&self) -> Option<&str> {
        match &self.kind {
            Kind::Process(p) => Some(p.monitor_url()),
            Kind::Container(c) => Some(c.monitor_url()),
            Kind::External => None,
        }
    }

    /// The container id (container backend).
    pub fn container_id(&self) -> Option<String> {
        match &self.kind {
            Kind::Container(c) => Some(c.id().to_string()),
            _ => None,
        }
    }

    /// Options to connect to this server: auth and TLS applied for an external server, the
    /// per-run credential for the servers jsbench starts. Async because async-nats reads a
    /// credentials file asynchronously.
    pub async fn connect_options(&self) -> Result<async_nats::ConnectOptions, ServerError> {
        match (&self.kind, &self.credential) {
            (Kind::External, _) => external::connect_options(&self.url, &self.auth).await,
            (_, Some(c)) => Ok(c.apply(async_nats::ConnectOptions::new())),
            (_, None) => Ok(async_nats::ConnectOptions::new()),
        }
    }

    /// Freezes the server: SIGSTOP to the process, `docker pause` for a container.
    /// Connections stay open, nothing is answered. Returns once the freeze is in effect.
    pub async fn pause(&self) -> Result<(), ServerError> {
        match &self.kind {
            Kind::Process(p) => p.pause().await,
            Kind::Container(c) => c.pause().await,
            Kind::External => Err(self.unsupported(Action::Pause)),
        }
    }

    /// Undoes [`Server::pause`]: SIGCONT / `docker unpause`.
    pub async fn resume(&self) -> Result<(), ServerError> {
        match &self.kind {
            Kind::Process(p) => p.resume().await,
            Kind::Container(c) => c.resume().await,
            Kind::External => Err(self.unsupported(Action::Resume)),
        }
    }

    /// kill -9: SIGKILL to the process / `docker kill` of the container (also when paused).
    /// The JetStream store is kept (the same temp dir; the same container and volume).
    /// Returns once the server is dead (reaped). Clients see their connections drop and
    /// reconnects refused until [`Server::start_again`].
    pub async fn kill(&self) -> Result<(), ServerError> {
        match &self.kind {
            Kind::Process(p) => p.kill().await,
            Kind::Container(c) => c.kill().await,
            Kind::External => Err(self.unsupported(Action::Kill)),
        }
    }

    /// Starts the server again after [`Server::kill`], on the same store and the same
    /// client URL, and waits until it accepts connections; clients configured with
    /// [`Server::url`] reconnect by themselves.
    pub async fn start_again(&self) -> Result<(), ServerError> {
        match &self.kind {
            Kind::Process(p) => p.start_again().await,
            Kind::Container(c) => c.start_again().await,
            Kind::External => Err(self.unsupported(Action::StartAgain)),
        }
    }

    /// Graceful restart: SIGTERM and a bounded wait for the exit (then SIGKILL) /
    /// `docker stop` with a grace period; then as [`Server::start_again`]. A paused server
    /// is resumed first, so that it can shut down cleanly.
    pub async fn restart(&self) -> Result<(), ServerError> {
        match &self.kind {
            Kind::Process(p) => p.restart().await,
            Kind::Container(c) => c.restart().await,
            Kind::External => Err(self.unsupported(Action::Restart)),
        }
    }

    fn unsupported(&self, action: Action) -> ServerError {
        ServerError::FaultUnsupported {
            fault: action.fault(),
            backend: self.backend,
        }
    }

    /// Stops and removes what was started (gracefully, then forcibly), whatever state a
    /// fault left it in (paused, killed); a no-op for an external server.
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
