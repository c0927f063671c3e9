//! Where a process node's files live: one temp dir per node, holding its JetStream store, its
//! log, its ports file and its config, at the same paths for every start of the node.
//!
//! [`Paths::store`] is the one directory nats-server writes JetStream data to (`-sd`). It
//! outlives kills and restarts (only [`ProcessServer::stop`] removes the temp dir), which is what
//! lets a node come back with its data; anything that interposes on a node's disk hooks in
//! there.
//!
//! Temp dirs are named `jsbench-nats-<our pid>-<random>`, so that a later run can tell the ones
//! whose jsbench died without cleaning up (SIGKILL) from live ones, and remove them
//! ([`create`] sweeps them first: JetStream stores can be large).
//!
//! [`ProcessServer::stop`]: super::node::ProcessServer::stop

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use tempfile::TempDir;

use crate::faultfs::{FaultFs, FaultFsError, FaultFsOptions, Mount};
use crate::server::config::NodeConfig;
use crate::server::error::{tail_lines, ServerError};
use crate::server::probe::pid_alive;

const LOG_TAIL_LINES: usize = 20;
/// The prefix of every node's temp dir (module docs).
const DIR_PREFIX: &str = "jsbench-nats-";

/// Where a server's files live, inside its temp dir; the same for every start.
pub(super) struct Paths {
    /// The JetStream store (`-sd`); kept across kills and restarts.
    pub(super) store: PathBuf,
    /// Where nats-server writes its ports file (`--ports_file_dir`).
    pub(super) ports_dir: PathBuf,
    /// stdout and stderr of every start, appended.
    pub(super) log: PathBuf,
    /// The config file holding the per-run credential (mode 0600: never on a command line,
    /// where any local user could read it in /proc).
    pub(super) config: PathBuf,
}

/// Creates a node's temp dir (after sweeping stale ones) with its ports dir and its config
/// file; the store is left to nats-server to create.
pub(super) fn create(config: &NodeConfig) -> Result<(TempDir, Paths), ServerError> {
    sweep_stale_dirs();
    let dir = tempfile::Builder::new()
        .prefix(&format!("{DIR_PREFIX}{}-", std::process::id()))
        .tempdir()
        .map_err(|e| ServerError::io("cannot create a temp dir for nats-server", e))?;
    let paths = Paths {
        store: dir.path().join("store"),
        ports_dir: dir.path().join("ports"),
        log: dir.path().join("nats-server.log"),
        config: dir.path().join("nats-server.conf"),
    };
    std::fs::create_dir(&paths.ports_dir)
        .map_err(|e| ServerError::io(format!("cannot create {}", paths.ports_dir.display()), e))?;
    write_private(&paths.config, config.render().as_bytes())?;
    Ok((dir, paths))
}

/// Mounts a fault filesystem on the store (issue 23): the data lives in `<dir>/backing`, and
/// nats-server writes through the mount at `Paths::store`, both inside the node's temp dir.
pub(super) fn mount_store(dir: &Path, paths: &Paths) -> Result<Mount, FaultFsError> {
    let backing = dir.join("backing");
    for d in [&backing, &paths.store] {
        std::fs::create_dir(d).map_err(FaultFsError::io("create", d.as_path()))?;
    }
    FaultFs::mount(&backing, &paths.store, &FaultFsOptions::within(dir))
}

/// The last lines of the node's log, for error messages.
pub(super) fn log_tail(path: &Path) -> String {
    match std::fs::read(path) {
        Ok(bytes) => tail_lines(&String::from_utf8_lossy(&bytes), LOG_TAIL_LINES),
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

/// Removes temp dirs (JetStream stores can be large) left by a jsbench that was killed
/// before it could clean up. Best effort; a dir whose pid is alive is left alone.
fn sweep_stale_dirs() {
    // A dead run's fault filesystem first: removing a dir under a dead FUSE mount fails.
    if let Err(e) = crate::faultfs::sweep_stale_mounts() {
        tracing::warn!("cannot sweep stale fault filesystem mounts: {e}");
    }
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(DIR_PREFIX))
            .and_then(|rest| rest.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == std::process::id() || pid_alive(pid) {
            continue;
        }
        match std::fs::remove_dir_all(entry.path()) {
            Ok(()) => tracing::info!(
                "removed {} left behind by jsbench pid {pid}, which is gone",
                entry.path().display()
            ),
            Err(e) => tracing::debug!("cannot remove stale {}: {e}", entry.path().display()),
        }
    }
}

/// Writes a file only its owner can read (the config holding the per-run credential).
fn write_private(path: &Path, bytes: &[u8]) -> Result<(), ServerError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    OpenOptions::new()
        .create_new(true)
        .write(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(bytes))
        .map_err(|e| ServerError::io(format!("cannot write {}", path.display()), e))
}

/// The endpoints a started server listens on.
pub(super) struct Urls {
    pub(super) client: String,
    pub(super) monitor: String,
}

/// `nats://127.0.0.1:4222` -> 4222.
pub(super) fn port_of(url: &str) -> Option<u16> {
    url.trim_end_matches('/').rsplit_once(':')?.1.parse().ok()
}

/// Reads `<dir>/<exe>_<pid>.ports` (`{"nats":["nats://127.0.0.1:PORT"], "monitoring": [..]}`).
/// The file name depends on the executable's name, so match on the pid suffix only.
pub(super) fn read_ports_file(dir: &Path, pid: u32) -> Result<Option<Urls>, String> {
    let suffix = format!("_{pid}.ports");
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot list {}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        if !entry.file_name().to_string_lossy().ends_with(&suffix) {
            continue;
        }
        let text = std::fs::read_to_string(entry.path())
            .map_err(|e| format!("cannot read {}: {e}", entry.path().display()))?;
        #[derive(serde::Deserialize)]
        struct Ports {
            #[serde(default)]
            nats: Vec<String>,
            #[serde(default)]
            monitoring: Vec<String>,
        }
        let ports: Ports = serde_json::from_str(&text).map_err(|e| {
            format!(
                "ports file {} not parsable yet: {e}",
                entry.path().display()
            )
        })?;
        return match (
            ports.nats.into_iter().next(),
            ports.monitoring.into_iter().next(),
        ) {
            (Some(client), Some(monitor)) => Ok(Some(Urls { client, monitor })),
            _ => Err(format!(
                "ports file {} lists no client or no monitoring URL",
                entry.path().display()
            )),
        };
    }
    Ok(None)
}
