//! One node of the process backend: a `nats-server` child on a free loopback port, with
//! JetStream storing into its own temp dir (`dir.rs`), and the faults it can suffer.
//!
//! Faults, each a method of [`ProcessServer`] ([`ProcessServer::act`] lists them):
//! - pause/resume are SIGSTOP/SIGCONT;
//! - kill is SIGKILL + reap ([`ProcessServer::kill`]); the store dir stays as the dead
//!   process left it;
//! - start_again runs the same binary on the same store dir with `-p <the port it had>`
//!   ([`ProcessServer::start_again`], through `respawn`), so JetStream data and the client URL
//!   survive;
//! - restart is a graceful end (SIGTERM, bounded wait, SIGKILL) followed by the same respawn.
//!
//! While the server is down its ports are held (see [`PortHold`]), so that nobody else takes
//! them before it comes back. How the child is spawned, signalled and ended is `child.rs`.

use std::io;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::atomic::{AtomicU32, Ordering};

use tempfile::TempDir;

use super::child::{kill_and_reap, send, server_command, settle, spawn, terminate, wait_ready};
use super::dir::{self, port_of, Paths};
use crate::faultfs::Mount;
use crate::server::config::NodeConfig;
use crate::server::error::ServerError;
use crate::server::fault::{Action, Status};
use crate::server::port_hold::PortHold;

/// A running nats-server child and the temp dir holding its store, log and ports file.
pub(crate) struct ProcessServer {
    // A tokio Mutex: fault actions hold it across awaits (a graceful exit, readiness),
    // which also keeps two of them from interleaving.
    live: tokio::sync::Mutex<Live>,
    // The current child's pid, readable without the lock because `pid()` is not async.
    pid: AtomicU32,
    bin: PathBuf,
    /// The store, log, ports file and config (`dir.rs`); the same for every start.
    paths: Paths,
    url: String,
    /// The monitoring endpoint (`/varz`, `/jsz`), on loopback like the client port.
    monitor_url: String,
    /// The client and monitoring ports, kept across restarts.
    ports: [u16; 2],
    /// The fault filesystem mounted on the store, when the run has disk faults. Declared
    /// before `dir`: unmounted (on drop too) after the child is killed, before the dir goes.
    disk: Option<Mount>,
    // Removed when dropped, which happens after Drop::drop has killed the child, so the
    // server can no longer write into it.
    dir: Option<TempDir>,
}

/// What changes when faults are injected.
struct Live {
    /// None once killed or stopped (always reaped by then).
    child: Option<Child>,
    paused: bool,
    /// Taken at the first time the server is down, then kept until the server is stopped.
    holds: Vec<PortHold>,
}

impl Live {
    /// The state; notices (and reaps) a child that exited on its own.
    fn status(&mut self, ports: [u16; 2]) -> Status {
        let Some(child) = self.child.as_mut() else {
            return Status::Down;
        };
        // waitpid without WUNTRACED: a stopped child is not reported, only an exited one.
        if let Ok(Some(status)) = child.try_wait() {
            tracing::warn!(
                "nats-server pid {} exited on its own ({status})",
                child.id()
            );
            self.child = None;
            self.went_down(ports);
            return Status::Down;
        }
        if self.paused {
            Status::Paused
        } else {
            Status::Running
        }
    }

    /// Records that the child is gone (already reaped) and holds its ports.
    fn went_down(&mut self, ports: [u16; 2]) {
        self.paused = false;
        if self.holds.is_empty() {
            for port in ports {
                match PortHold::bind(port) {
                    Ok(hold) => self.holds.push(hold),
                    // Not fatal: start_again will say so if somebody took the port meanwhile.
                    Err(e) => {
                        tracing::warn!("cannot hold port {port} while nats-server is down: {e}")
                    }
                }
            }
        }
    }
}

impl ProcessServer {
    /// Starts `bin` with `config` (which holds the per-run credential) and waits until it
    /// accepts connections.
    /// `faultfs: Some(node index)` mounts a fault filesystem on the store first (`dir.rs`).
    pub(crate) async fn start(
        bin: &Path,
        config: &NodeConfig,
        faultfs: Option<usize>,
    ) -> Result<ProcessServer, ServerError> {
        let (temp, paths) = dir::create(config)?;
        let disk = match faultfs {
            Some(node) => Some(
                dir::mount_store(temp.path(), &paths)
                    .map_err(|source| ServerError::FaultFs { node, source })?,
            ),
            None => None,
        };
        let cmd = server_command(bin, &paths, ["-1", "-1"], false)?;
        let child = spawn(bin, cmd).await?;
        let pid = child.id();
        tracing::debug!("started nats-server pid {pid} ({})", bin.display());
        // From here on, any early return drops `server`, which kills and reaps the child.
        let mut server = ProcessServer {
            live: tokio::sync::Mutex::new(Live {
                child: Some(child),
                paused: false,
                holds: Vec::new(),
            }),
            pid: AtomicU32::new(pid),
            bin: bin.to_path_buf(),
            paths,
            url: String::new(),
            monitor_url: String::new(),
            ports: [0, 0],
            disk,
            dir: Some(temp),
        };
        let urls = match server.live.get_mut().child.as_mut() {
            Some(child) => wait_ready(child, &server.paths).await?,
            None => unreachable!("the child was just stored"),
        };
        let port = |url: &str| {
            port_of(url).ok_or_else(|| {
                ServerError::io(
                    format!("nats-server's ports file names {url:?}, which has no port"),
                    io::ErrorKind::InvalidData.into(),
                )
            })
        };
        server.ports = [port(&urls.client)?, port(&urls.monitor)?];
        server.url = urls.client;
        server.monitor_url = urls.monitor;
        Ok(server)
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    pub(crate) fn monitor_url(&self) -> &str {
        &self.monitor_url
    }

    /// The fault filesystem under the store, if one was mounted.
    pub(crate) fn disk(&self) -> Option<&Mount> {
        self.disk.as_ref()
    }

    /// The current child's pid; after a kill, the killed one's until started again.
    pub(crate) fn pid(&self) -> u32 {
        self.pid.load(Ordering::Relaxed)
    }

    /// Applies one fault action (the module docs say what each does).
    pub(crate) async fn act(&self, action: Action) -> Result<(), ServerError> {
        match action {
            Action::Pause => self.pause().await,
            Action::Resume => self.resume().await,
            Action::Kill => self.kill().await,
            Action::StartAgain => self.start_again().await,
            Action::Restart => self.restart().await,
        }
    }

    /// SIGSTOP; returns once the process is stopped.
    async fn pause(&self) -> Result<(), ServerError> {
        let mut live = self.live.lock().await;
        live.status(self.ports).check(Action::Pause)?;
        let pid = self.pid();
        send(pid, libc::SIGSTOP)
            .map_err(|e| ServerError::io(format!("SIGSTOP to nats-server pid {pid}"), e))?;
        live.paused = true;
        settle(pid, true).await;
        Ok(())
    }

    /// SIGCONT; returns once the process runs again.
    async fn resume(&self) -> Result<(), ServerError> {
        let mut live = self.live.lock().await;
        live.status(self.ports).check(Action::Resume)?;
        let pid = self.pid();
        send(pid, libc::SIGCONT)
            .map_err(|e| ServerError::io(format!("SIGCONT to nats-server pid {pid}"), e))?;
        live.paused = false;
        settle(pid, false).await;
        Ok(())
    }

    /// SIGKILL (which also ends a stopped process) and reap. The store dir stays.
    async fn kill(&self) -> Result<(), ServerError> {
        let mut live = self.live.lock().await;
        live.status(self.ports).check(Action::Kill)?;
        if let Some(child) = live.child.as_mut() {
            let pid = child.id();
            // On failure the child stays in `live`, for stop()/Drop to try again.
            kill_and_reap(child)
                .map_err(|e| ServerError::io(format!("killing nats-server pid {pid}"), e))?;
        }
        live.child = None;
        // Only now are the ports free to hold.
        live.went_down(self.ports);
        Ok(())
    }

    /// Starts the binary again after a kill, on the same store and port.
    async fn start_again(&self) -> Result<(), ServerError> {
        let mut live = self.live.lock().await;
        live.status(self.ports).check(Action::StartAgain)?;
        self.respawn(&mut live).await
    }

    /// Graceful stop (as in [`ProcessServer::stop`]), then [`ProcessServer::start_again`].
    async fn restart(&self) -> Result<(), ServerError> {
        let mut live = self.live.lock().await;
        live.status(self.ports).check(Action::Restart)?;
        if let Some(child) = live.child.as_mut() {
            // The child stays in `live` until it is reaped, so a cancelled or failed restart
            // still leaves it to stop()/Drop.
            terminate(child).await?;
        }
        live.child = None;
        live.went_down(self.ports);
        self.respawn(&mut live).await
    }

    /// Runs the binary again on the same store dir and ports, and waits until it serves on the
    /// same URL: the second half of both kill → start_again and restart.
    async fn respawn(&self, live: &mut Live) -> Result<(), ServerError> {
        let ports = self.ports.map(|p| p.to_string());
        let cmd = server_command(&self.bin, &self.paths, [&ports[0], &ports[1]], true)?;
        let child = spawn(&self.bin, cmd).await?;
        let pid = child.id();
        self.pid.store(pid, Ordering::Relaxed);
        tracing::debug!(
            "started nats-server again, pid {pid}, ports {:?}",
            self.ports
        );
        // Stored before waiting, so that stop()/Drop kill it should this future be dropped.
        let ready = wait_ready(live.child.insert(child), &self.paths).await;
        let ready = ready.and_then(|urls| {
            if urls.client == self.url {
                Ok(())
            } else {
                Err(ServerError::UrlChanged {
                    before: self.url.clone(),
                    after: urls.client,
                })
            }
        });
        if ready.is_err() {
            if let Some(mut child) = live.child.take() {
                if let Err(e) = kill_and_reap(&mut child) {
                    tracing::warn!("cannot kill nats-server pid {pid}: {e}");
                }
            }
            live.went_down(self.ports);
        }
        ready
    }

    /// Graceful stop: SIGTERM, a grace period for a clean JetStream shutdown, then SIGKILL
    /// (`child::terminate`); reaps the child and removes the temp dir. A server that is down already
    /// (killed and not started again) just has its dir removed.
    pub(crate) async fn stop(mut self) -> Result<(), ServerError> {
        let live = self.live.get_mut();
        // The child stays in `live` while we wait, so if this future is dropped midway (or
        // the stop fails), Drop still kills and reaps it, before the temp dir goes.
        if let Some(child) = live.child.as_mut() {
            terminate(child).await?;
        }
        live.child = None;
        live.holds.clear();
        if let Some(disk) = self.disk.take() {
            let at = disk.mountpoint().to_path_buf();
            disk.unmount()
                .map_err(|e| ServerError::io(format!("cannot unmount {}", at.display()), e))?;
        }
        if let Some(dir) = self.dir.take() {
            let path = dir.path().to_path_buf();
            dir.close()
                .map_err(|e| ServerError::io(format!("cannot remove {}", path.display()), e))?;
        }
        Ok(())
    }
}

impl Drop for ProcessServer {
    fn drop(&mut self) {
        // Forced: Drop also runs while unwinding a panic, when there is no time to be nice.
        if let Some(mut child) = self.live.get_mut().child.take() {
            if let Err(e) = kill_and_reap(&mut child) {
                tracing::warn!("cannot kill nats-server pid {}: {e}", child.id());
            }
        }
    }
}

impl std::fmt::Debug for ProcessServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessServer")
            .field("pid", &self.pid())
            .field("url", &self.url)
            .field("dir", &self.dir.as_ref().map(|d| d.path().to_path_buf()))
            .finish()
    }
}
