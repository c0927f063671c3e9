//! The process backend: a `nats-server` child on a free loopback port, with JetStream
//! storing into a temp dir that is removed with the server.
//!
//! Lifetime rules, because the child must never outlive the run:
//! - the child gets its own process group, so a terminal Ctrl-C reaches only jsbench
//!   (which then stops the run and this server cleanly) instead of killing the server
//!   mid-measurement;
//! - `PR_SET_PDEATHSIG(SIGKILL)` kills the child if jsbench dies without running Drop
//!   (SIGKILL, abort). The kernel fires it when the *thread* that forked the child exits,
//!   not the process. Tokio threads come and go (blocking-pool threads idle out; a worker
//!   that calls `block_in_place` hands its core to a new thread), so children are forked
//!   from one dedicated thread that lives as long as the process;
//! - [`ProcessServer::stop`] sends SIGTERM, waits, then SIGKILLs; Drop SIGKILLs. Both reap.
//!
//! The flags used (`-a -p -1 -js -sd --ports_file_dir`) exist in nats-server 2.9 (Debian's
//! package) as well as 2.15. `-p -1` makes the server pick a free port itself, and the
//! ports file tells us which, so there is no pick-then-bind race.

use std::fs::File;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, OnceLock};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::{pid_alive, probe, tail_lines, ServerError};

/// How long the server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a graceful stop may take before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(20);
const LOG_TAIL_LINES: usize = 20;
/// Temp dirs are named `jsbench-nats-<our pid>-<random>`, so that a later run can tell
/// the ones whose jsbench died without cleaning up (SIGKILL) from live ones.
const DIR_PREFIX: &str = "jsbench-nats-";

/// A running nats-server child and the temp dir holding its store, log and ports file.
pub(crate) struct ProcessServer {
    child: Option<Child>,
    pid: u32,
    url: String,
    log_path: PathBuf,
    // Removed when dropped, which happens after Drop::drop has killed the child, so the
    // server can no longer write into it.
    dir: Option<TempDir>,
}

impl ProcessServer {
    /// Starts `bin` and waits until it accepts connections.
    pub(crate) async fn start(bin: &Path) -> Result<ProcessServer, ServerError> {
        sweep_stale_dirs();
        let dir = tempfile::Builder::new()
            .prefix(&format!("{DIR_PREFIX}{}-", std::process::id()))
            .tempdir()
            .map_err(|e| ServerError::io("cannot create a temp dir for nats-server", e))?;
        let store = dir.path().join("store");
        let ports_dir = dir.path().join("ports");
        std::fs::create_dir(&ports_dir)
            .map_err(|e| ServerError::io(format!("cannot create {}", ports_dir.display()), e))?;
        let log_path = dir.path().join("nats-server.log");
        // A file, not a pipe: nobody has to drain it, so a chatty server can never block on
        // a full pipe, and it survives for error messages.
        let log = File::create(&log_path)
            .map_err(|e| ServerError::io(format!("cannot create {}", log_path.display()), e))?;
        let log2 = log
            .try_clone()
            .map_err(|e| ServerError::io("cannot duplicate the log file handle", e))?;

        let mut cmd = Command::new(bin);
        cmd.arg("-a")
            .arg("127.0.0.1")
            .arg("-p")
            .arg("-1")
            .arg("-js")
            .arg("-sd")
            .arg(&store)
            .arg("--ports_file_dir")
            .arg(&ports_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(log2))
            .process_group(0);
        set_parent_death_signal(&mut cmd);

        let child =
            spawn_from_long_lived_thread(cmd)
                .await
                .map_err(|source| ServerError::Spawn {
                    path: bin.to_path_buf(),
                    source,
                })?;
        let pid = child.id();
        tracing::debug!("started nats-server pid {pid} ({})", bin.display());
        // From here on, any early return drops `server`, which kills and reaps the child.
        let mut server = ProcessServer {
            child: Some(child),
            pid,
            url: String::new(),
            log_path,
            dir: Some(dir),
        };
        server.url = server.wait_ready(&ports_dir).await?;
        Ok(server)
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// Polls for the ports file nats-server writes once it listens, then checks that the
    /// port really answers with the NATS greeting.
    async fn wait_ready(&mut self, ports_dir: &Path) -> Result<String, ServerError> {
        let deadline = Instant::now() + START_TIMEOUT;
        let mut last_problem = String::from("no ports file yet");
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(ServerError::Exited {
                        status: status.to_string(),
                        log_tail: self.log_tail(),
                    });
                }
            }
            match read_ports_file(ports_dir, self.pid) {
                Ok(Some(url)) => match probe::nats_greeting(&url).await {
                    Ok(()) => return Ok(url),
                    Err(e) => last_problem = format!("{url} does not answer: {e}"),
                },
                Ok(None) => {}
                // Written with a plain write, so it may be read half-done: retry.
                Err(e) => last_problem = e,
            }
            if Instant::now() >= deadline {
                return Err(ServerError::StartTimeout {
                    secs: START_TIMEOUT.as_secs(),
                    what: last_problem,
                    log_tail: self.log_tail(),
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }

    fn log_tail(&self) -> String {
        match std::fs::read(&self.log_path) {
            Ok(bytes) => tail_lines(&String::from_utf8_lossy(&bytes), LOG_TAIL_LINES),
            Err(e) => format!("(cannot read {}: {e})", self.log_path.display()),
        }
    }

    /// Graceful stop: SIGTERM, up to [`STOP_GRACE`] for a clean JetStream shutdown, then
    /// SIGKILL; reaps the child and removes the temp dir.
    pub(crate) async fn stop(mut self) -> Result<(), ServerError> {
        // The child stays in `self` while we wait, so if this future is dropped midway,
        // Drop still kills and reaps it.
        let pid = self.pid;
        if let Some(child) = self.child.as_mut() {
            signal(pid, libc::SIGTERM);
            let deadline = Instant::now() + STOP_GRACE;
            loop {
                match child.try_wait() {
                    Ok(Some(_)) => break,
                    Ok(None) if Instant::now() < deadline => tokio::time::sleep(POLL).await,
                    Ok(None) => {
                        tracing::warn!(
                            "nats-server pid {pid} ignored SIGTERM for {STOP_GRACE:?}; killing it"
                        );
                        kill_and_reap(child);
                        break;
                    }
                    Err(e) => {
                        kill_and_reap(child);
                        self.child = None;
                        return Err(ServerError::io(
                            format!("waiting for nats-server pid {pid}"),
                            e,
                        ));
                    }
                }
            }
            self.child = None;
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
        if let Some(mut child) = self.child.take() {
            kill_and_reap(&mut child);
        }
    }
}

impl std::fmt::Debug for ProcessServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessServer")
            .field("pid", &self.pid)
            .field("url", &self.url)
            .field("dir", &self.dir.as_ref().map(|d| d.path().to_path_buf()))
            .finish()
    }
}

/// Removes temp dirs (JetStream stores can be large) left by a jsbench that was killed
/// before it could clean up. Best effort; a dir whose pid is alive is left alone.
fn sweep_stale_dirs() {
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

/// SIGKILL then wait. The wait returns promptly: SIGKILL cannot be caught.
fn kill_and_reap(child: &mut Child) {
    if let Err(e) = child.kill() {
        // InvalidInput means it already exited; it is reaped below either way.
        if e.kind() != io::ErrorKind::InvalidInput {
            tracing::warn!("cannot kill nats-server pid {}: {e}", child.id());
        }
    }
    if let Err(e) = child.wait() {
        tracing::warn!("cannot reap nats-server pid {}: {e}", child.id());
    }
}

fn signal(pid: u32, sig: libc::c_int) {
    // The child is not reaped yet (we hold its `Child` and have not waited), so the pid
    // cannot have been reused by another process.
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill(2) has no memory-safety preconditions.
        unsafe {
            libc::kill(pid, sig);
        }
    }
}

/// Makes the kernel SIGKILL the child when its parent thread dies (see module docs).
fn set_parent_death_signal(cmd: &mut Command) {
    let parent = libc::pid_t::try_from(std::process::id()).unwrap_or(0);
    // SAFETY: the closure runs between fork and exec and only calls the async-signal-safe
    // prctl(2) and getppid(2); it allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) == -1
            {
                return Err(io::Error::last_os_error());
            }
            // If jsbench died between fork and prctl, the signal will never come: give up.
            if libc::getppid() != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
}

type SpawnRequest = (Command, tokio::sync::oneshot::Sender<io::Result<Child>>);

/// Spawns `cmd` from a thread that never exits, so PR_SET_PDEATHSIG fires only when the
/// whole jsbench process dies.
async fn spawn_from_long_lived_thread(cmd: Command) -> io::Result<Child> {
    static SPAWNER: OnceLock<Option<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        let started = std::thread::Builder::new()
            .name("jsbench-spawner".into())
            .spawn(move || {
                // The sender lives in a static, so this loop (and thread) never ends.
                for (mut cmd, reply) in rx {
                    // If the caller is gone (its start was cancelled), nobody would ever
                    // stop this child: kill it right away.
                    if let Err(Ok(mut child)) = reply.send(cmd.spawn()) {
                        let _ = child.kill();
                        let _ = child.wait();
                    }
                }
            });
        match started {
            Ok(_) => Some(tx),
            Err(e) => {
                tracing::warn!("cannot start the spawner thread ({e}); spawning directly");
                None
            }
        }
    });
    let Some(spawner) = spawner else {
        let mut cmd = cmd;
        return cmd.spawn();
    };
    let (reply, answer) = tokio::sync::oneshot::channel();
    spawner
        .send((cmd, reply))
        .map_err(|_| io::Error::other("the spawner thread is gone"))?;
    match answer.await {
        Ok(result) => result,
        Err(_) => Err(io::Error::other("the spawner thread dropped the request")),
    }
}

/// Reads `<dir>/<exe>_<pid>.ports` (`{"nats":["nats://127.0.0.1:PORT"], ...}`). The file
/// name depends on the executable's name, so match on the pid suffix only.
fn read_ports_file(dir: &Path, pid: u32) -> Result<Option<String>, String> {
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
        }
        let ports: Ports = serde_json::from_str(&text).map_err(|e| {
            format!(
                "ports file {} not parsable yet: {e}",
                entry.path().display()
            )
        })?;
        return match ports.nats.into_iter().next() {
            Some(url) => Ok(Some(url)),
            None => Err(format!(
                "ports file {} lists no client URL",
                entry.path().display()
            )),
        };
    }
    Ok(None)
}
