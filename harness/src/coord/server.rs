//! The coordination server ([`CoordServer`]): for `jsbench run --workers N`, a process-backend
//! `server::Server` (a free loopback port, its own generated credential); for `jsbench
//! coordinate`, a [`Listener`]: a nats-server child at the address the user chose (`--listen`),
//! admitting only the run's coordination token.
//!
//! Why not `server::Server` for both: that one always picks a free loopback port and generates
//! its own credential, which is right for a system under test and for `jsbench run --workers
//! N`'s children, but workers started by someone else need an address known in advance (a compose
//! file, a Kubernetes Service) and, off loopback, the token the user handed them. The child
//! rules are the same as the process backend's: spawned from jsbench's long-lived spawner
//! thread with `PR_SET_PDEATHSIG` (it dies with jsbench), a process group of its own (a
//! terminal's Ctrl-C reaches only jsbench), the token in a config file only its owner can read
//! (never on a command line), JetStream in a temp dir; killed, reaped and its dir removed when
//! dropped — on return, error and panic alike.

use std::io::Write as _;
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::launch::Launch;
use crate::server::{
    find_or_fetch_binary, on_spawner_thread, set_parent_death_signal, Backend, Credential, Server,
    ServerSpec,
};

/// How long the server may take to listen.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// The coordination server: a process-backend server at a free loopback port for workers the
/// coordinator starts, one at `--listen` for workers someone else starts.
pub(super) enum CoordServer {
    Managed(Server),
    Listening(Listener),
}

impl CoordServer {
    /// The server and its token, as `launch` needs them.
    pub(super) async fn start(launch: &Launch) -> Result<(CoordServer, String), String> {
        let failed = |e: String| format!("the coordination server did not start: {e}");
        let Launch::External(x) = launch else {
            let spec = ServerSpec {
                backend: Backend::Process,
                nodes: 1,
                ..Default::default()
            };
            let server = Server::start(&spec)
                .await
                .map_err(|e| failed(e.to_string()))?;
            let token = server
                .credential()
                .map(|c| c.token().to_string())
                .ok_or("the coordination server has no credential")?;
            return Ok((CoordServer::Managed(server), token));
        };
        let token = x.token.as_ref().map_or_else(
            || Credential::generate().token().to_string(),
            |t| t.0.clone(),
        );
        let listener = Listener::start(x.listen, &token).await.map_err(failed)?;
        Ok((CoordServer::Listening(listener), token))
    }

    /// The URL the coordinator itself connects to.
    pub(super) fn local_url(&self) -> String {
        match self {
            CoordServer::Managed(s) => s.url().to_string(),
            CoordServer::Listening(l) => l.local_url(),
        }
    }

    pub(super) async fn stop(self) {
        match self {
            CoordServer::Managed(s) => {
                if let Err(e) = s.stop().await {
                    tracing::warn!("coordination server removal reported: {e}");
                }
            }
            CoordServer::Listening(l) => drop(l),
        }
    }
}

/// A nats-server at `--listen`; see the module docs.
pub(super) struct Listener {
    child: Option<Child>,
    url: String,
    // Removed after the child is killed (fields drop after `Drop::drop`).
    dir: TempDir,
}

impl Listener {
    /// Starts nats-server on `listen` (port 0: a free one) with `token`, and waits until it
    /// listens.
    pub(super) async fn start(listen: SocketAddr, token: &str) -> Result<Listener, String> {
        let (bin, _) = find_or_fetch_binary()
            .await
            .map_err(|e| format!("no nats-server for the coordination server: {e}"))?;
        let dir = tempfile::Builder::new()
            .prefix("jsbench-coord-")
            .tempdir()
            .map_err(|e| format!("cannot create a temp dir: {e}"))?;
        let config = dir.path().join("coord.conf");
        write_config(&config, token).map_err(|e| format!("cannot write its config: {e}"))?;
        std::fs::create_dir(dir.path().join("ports"))
            .map_err(|e| format!("cannot create its ports dir: {e}"))?;
        let child = spawn(command(&bin, dir.path(), listen)?).await?;
        let mut me = Listener {
            child: Some(child),
            url: String::new(),
            dir,
        };
        let port = me.wait_ready().await?;
        me.url = format!("nats://{}", SocketAddr::new(listen.ip(), port));
        Ok(me)
    }

    /// `nats://HOST:PORT`: `--listen` with the port the server listens on.
    pub(super) fn url(&self) -> &str {
        &self.url
    }

    /// The URL this machine reaches it at (an unspecified address, e.g. 0.0.0.0, by loopback).
    pub(super) fn local_url(&self) -> String {
        self.url
            .replace("://0.0.0.0:", "://127.0.0.1:")
            .replace("://[::]:", "://[::1]:")
    }

    /// Polls for the ports file nats-server writes once it listens; its client port.
    async fn wait_ready(&mut self) -> Result<u16, String> {
        let deadline = Instant::now() + START_TIMEOUT;
        let ports = self.dir.path().join("ports");
        let log = self.dir.path().join("log");
        loop {
            let child = self.child.as_mut().ok_or("no child")?;
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("nats-server exited ({status}): {}", log_tail(&log)));
            }
            if let Some(port) = read_port(&ports) {
                return Ok(port);
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "nats-server did not listen within {START_TIMEOUT:?}: {}",
                    log_tail(&log)
                ));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The config: the token only (the address and JetStream are on the command line).
fn write_config(path: &Path, token: &str) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    write!(f, "authorization {{\n  token: \"{token}\"\n}}\n")
}

/// `nats-server -c conf -a HOST -p PORT|-1 -js -sd store --ports_file_dir ports`, logging to
/// a file in its dir.
fn command(bin: &Path, dir: &Path, listen: SocketAddr) -> Result<Command, String> {
    let log = std::fs::File::create(dir.join("log")).map_err(|e| format!("its log: {e}"))?;
    let log2 = log.try_clone().map_err(|e| format!("its log: {e}"))?;
    let port = match listen.port() {
        0 => "-1".to_string(),
        p => p.to_string(),
    };
    let mut cmd = Command::new(bin);
    cmd.arg("-c")
        .arg(dir.join("coord.conf"))
        .arg("-a")
        .arg(listen.ip().to_string())
        .arg("-p")
        .arg(port)
        .arg("-js")
        .arg("-sd")
        .arg(dir.join("store"))
        .arg("--ports_file_dir")
        .arg(dir.join("ports"))
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log2))
        .process_group(0);
    set_parent_death_signal(&mut cmd);
    Ok(cmd)
}

/// Spawns `cmd` from the spawner thread (see the module docs).
async fn spawn(mut cmd: Command) -> Result<Child, String> {
    let (reply, answer) = tokio::sync::oneshot::channel();
    on_spawner_thread(Box::new(move || {
        if let Err(Ok(mut child)) = reply.send(cmd.spawn()) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }))
    .map_err(|e| format!("cannot spawn nats-server: {e}"))?;
    answer
        .await
        .map_err(|_| "the spawner thread dropped the request".to_string())?
        .map_err(|e| format!("cannot spawn nats-server: {e}"))
}

/// The client port in the ports file (`{"nats":["nats://HOST:PORT",...],...}`), once written.
fn read_port(dir: &Path) -> Option<u16> {
    let entry = std::fs::read_dir(dir).ok()?.flatten().next()?;
    let text = std::fs::read_to_string(entry.path()).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    let url = v.get("nats")?.as_array()?.first()?.as_str()?;
    url.rsplit_once(':')?.1.parse().ok()
}

/// The last lines of the server's log, for an error message.
fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(5)..].join(" | ")
}
