//! What a run asks of server provisioning ([`ServerSpec`]: which [`Backend`], how many nodes,
//! JetStream's sync setting, [`Auth`] for an external server) and how it addresses each node of
//! what it gets ([`Node`]).
//!
//! Plain data, shared by the scenario (which validates and fills it in), the backends and the
//! errors: this file imports nothing of the server module but the leaf types its fields name.

use std::path::PathBuf;

use super::config::SyncInterval;
use super::fault::ServerFault;

/// The largest cluster jsbench starts.
pub const MAX_NODES: usize = 5;

/// How the server for a run is provided. Which one `auto` resolves to, and how each is
/// driven, is decided in `backend.rs`.
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
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ServerSpec {
    /// Which backend to use; [`Backend::Auto`] picks one.
    pub backend: Backend,
    /// External only.
    pub url: Option<String>,
    /// Container only; default `$JSBENCH_NATS_IMAGE`, else
    /// [`DEFAULT_IMAGE`](crate::server::DEFAULT_IMAGE) (or
    /// [`LOCAL_IMAGE`](crate::server::LOCAL_IMAGE) when only that one is present).
    pub image: Option<String>,
    /// External only.
    pub auth: Auth,
    /// Nodes to start (0 and 1: a single server). Not for external servers.
    pub nodes: usize,
    /// JetStream's fsync setting on every node jsbench starts.
    pub sync: SyncInterval,
    /// Drives the jitter of route latency faults.
    pub seed: u64,
    /// Mount a fault filesystem (`crate::faultfs`) under each node's store: the scenario has
    /// disk faults. Process backend only (validation refuses the others).
    pub faultfs: bool,
}

/// One node of a server: its name (the `server_name` streams report their leader by), its
/// client URL and its monitoring endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub index: usize,
    pub name: String,
    pub url: String,
    /// `http://127.0.0.1:PORT`; None for an external server.
    pub monitor_url: Option<String>,
}
