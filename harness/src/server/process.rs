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
//!   from one dedicated thread that lives as long as the process — restarted children too;
//! - [`ProcessServer::stop`] sends SIGTERM (and SIGCONT, in case it is paused), waits, then
//!   SIGKILLs; Drop SIGKILLs, which also ends a stopped process. Both reap.
//!
//! The flags used (`-a -p -1 -js -sd --ports_file_dir`) exist in nats-server 2.9 (Debian's
//! package) as well as 2.15. `-p -1` makes the server pick a free port itself, and the
//! ports file tells us which, so there is no pick-then-bind race.
//!
//! Faults: pause/resume are SIGSTOP/SIGCONT; kill is SIGKILL + reap; start_again runs the
//! same binary on the same store dir with `-p <the port it had>`, so JetStream data and the
//! client URL survive. While the server is down its port is held (see [`PortHold`]).

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{mpsc, OnceLock};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::config::NodeConfig;
use super::fault::{Action, Status};
use super::port_hold::PortHold;
use super::{pid_alive, probe, tail_lines, ServerError};

/// How long the server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a graceful stop may take before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// How long SIGSTOP / SIGCONT may take to show in /proc.
const SIGNAL_SETTLE: Duration = Duration::from_secs(1);
const POLL: Duration = Duration::from_millis(20);
const LOG_TAIL_LINES: usize = 20;
/// Temp dirs are named `jsbench-nats-<our pid>-<random>`, so that a later run can tell
/// the ones whose jsbench died without cleaning up (SIGKILL) from live ones.
const DIR_PREFIX: &str = "jsbench-nats-";

/// A running nats-server child and the temp dir holding its store, log and ports file.
pub(crate) struct ProcessServer {
    // A tokio Mutex: fault actions hold it across awaits (a graceful exit, readiness),
    // which also keeps two of them from interleaving.
    live: tokio::sync::Mutex<Live>,
    // The current child's pid, readable without the lock because `pid()` is not async.
    pid: AtomicU32,
    bin: PathBuf,
    paths: Paths,
    url: String,
    /// The monitoring endpoint (`/varz`, `/jsz`), on loopback like the client port.
    monitor_url: String,
    /// The client and monitoring ports, kept across restarts.
    ports: [u16; 2],
    // Removed when dropped, which happens after Drop::drop has killed the child, so the
    // server can no longer write into it.
    dir: Option<TempDir>,
}

/// Where a server's files live, inside its temp dir; the same for every start.
struct Paths {
    store: PathBuf,
    ports_dir: PathBuf,
    log: PathBuf,
    /// The config file holding the per-run credential (mode 0600: never on a command line,
    /// where any local user could read it in /proc).
    config: PathBuf,
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
    pub(crate) async fn start(
        bin: &Path,
        config: &NodeConfig,
    ) -> Result<ProcessServer, ServerError> {
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
        std::fs::create_dir(&paths.ports_dir).map_err(|e| {
            ServerError::io(format!("cannot create {}", paths.ports_dir.display()), e)
        })?;
        write_private(&paths.config, config.render().as_bytes())?;

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
            dir: Some(dir),
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

    /// The current child's pid; after a kill, the killed one's until started again.
    pub(crate) fn pid(&self) -> u32 {
        self.pid.load(Ordering::Relaxed)
    }

    /// SIGSTOP; returns once the process is stopped.
    pub(crate) async fn pause(&self) -> Result<(), ServerError> {
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
    pub(crate) async fn resume(&self) -> Result<(), ServerError> {
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
    pub(crate) async fn kill(&self) -> Result<(), ServerError> {
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
    pub(crate) async fn start_again(&self) -> Result<(), ServerError> {
        let mut live = self.live.lock().await;
        live.status(self.ports).check(Action::StartAgain)?;
        self.respawn(&mut live).await
    }

    /// Graceful stop (as in [`ProcessServer::stop`]), then [`ProcessServer::start_again`].
    pub(crate) async fn restart(&self) -> Result<(), ServerError> {
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

    /// Graceful stop: SIGTERM, up to [`STOP_GRACE`] for a clean JetStream shutdown, then
    /// SIGKILL; reaps the child and removes the temp dir. A server that is down already
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

/// The nats-server command line. `ports` (client, monitoring) are `-1` (pick a free one) at
/// the first start and the ports it picked on later starts. The log is appended to on later
/// starts, so that it tells the whole story.
fn server_command(
    bin: &Path,
    paths: &Paths,
    ports: [&str; 2],
    append_log: bool,
) -> Result<Command, ServerError> {
    // A file, not a pipe: nobody has to drain it, so a chatty server can never block on
    // a full pipe, and it survives for error messages.
    let log = OpenOptions::new()
        .create(true)
        .write(true)
        .append(append_log)
        .truncate(!append_log)
        .open(&paths.log)
        .map_err(|e| ServerError::io(format!("cannot open {}", paths.log.display()), e))?;
    let log2: File = log
        .try_clone()
        .map_err(|e| ServerError::io("cannot duplicate the log file handle", e))?;
    let mut cmd = Command::new(bin);
    // Loopback only, client and monitoring ports alike (monitoring binds to `-a`'s host).
    cmd.arg("-c")
        .arg(&paths.config)
        .arg("-a")
        .arg("127.0.0.1")
        .arg("-p")
        .arg(ports[0])
        .arg("-m")
        .arg(ports[1])
        .arg("-js")
        .arg("-sd")
        .arg(&paths.store)
        .arg("--ports_file_dir")
        .arg(&paths.ports_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log2))
        .process_group(0);
    set_parent_death_signal(&mut cmd);
    Ok(cmd)
}

async fn spawn(bin: &Path, cmd: Command) -> Result<Child, ServerError> {
    spawn_from_long_lived_thread(cmd)
        .await
        .map_err(|source| ServerError::Spawn {
            path: bin.to_path_buf(),
            source,
        })
}

/// Polls for the ports file nats-server writes once it listens, then checks that the
/// port really answers with the NATS greeting.
async fn wait_ready(child: &mut Child, paths: &Paths) -> Result<Urls, ServerError> {
    let deadline = Instant::now() + START_TIMEOUT;
    let mut last_problem = String::from("no ports file yet");
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(ServerError::Exited {
                status: status.to_string(),
                log_tail: log_tail(&paths.log),
            });
        }
        match read_ports_file(&paths.ports_dir, child.id()) {
            Ok(Some(urls)) => match probe::nats_greeting(&urls.client).await {
                Ok(()) => return Ok(urls),
                Err(e) => last_problem = format!("{} does not answer: {e}", urls.client),
            },
            Ok(None) => {}
            // Written with a plain write, so it may be read half-done: retry.
            Err(e) => last_problem = e,
        }
        if Instant::now() >= deadline {
            return Err(ServerError::StartTimeout {
                secs: START_TIMEOUT.as_secs(),
                what: last_problem,
                log_tail: log_tail(&paths.log),
            });
        }
        tokio::time::sleep(POLL).await;
    }
}

fn log_tail(path: &Path) -> String {
    match std::fs::read(path) {
        Ok(bytes) => tail_lines(&String::from_utf8_lossy(&bytes), LOG_TAIL_LINES),
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

/// `nats://127.0.0.1:4222` -> 4222.
fn port_of(url: &str) -> Option<u16> {
    url.trim_end_matches('/').rsplit_once(':')?.1.parse().ok()
}

/// SIGTERM, then up to [`STOP_GRACE`] for a clean JetStream shutdown, then SIGKILL.
/// Always reaps the child.
async fn terminate(child: &mut Child) -> Result<(), ServerError> {
    let pid = child.id();
    // SIGTERM stays pending in a paused (stopped) process; SIGCONT lets it act on it.
    // Failures are ignored: the child is not reaped, so it exists, if only as a zombie.
    let _ = send(pid, libc::SIGTERM);
    let _ = send(pid, libc::SIGCONT);
    let deadline = Instant::now() + STOP_GRACE;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return Ok(()),
            Ok(None) if Instant::now() < deadline => tokio::time::sleep(POLL).await,
            Ok(None) => {
                tracing::warn!(
                    "nats-server pid {pid} ignored SIGTERM for {STOP_GRACE:?}; killing it"
                );
                return kill_and_reap(child)
                    .map_err(|e| ServerError::io(format!("killing nats-server pid {pid}"), e));
            }
            Err(e) => {
                if let Err(e) = kill_and_reap(child) {
                    tracing::warn!("cannot kill nats-server pid {pid}: {e}");
                }
                return Err(ServerError::io(
                    format!("waiting for nats-server pid {pid}"),
                    e,
                ));
            }
        }
    }
}

/// Waits (bounded) until the process shows as stopped (`T`) or no longer stopped in
/// /proc, so that a pause is in effect when `pause()` returns. The signals themselves are
/// delivered asynchronously, to every thread of the process.
async fn settle(pid: u32, stopped: bool) {
    let deadline = Instant::now() + SIGNAL_SETTLE;
    loop {
        match process_state(pid) {
            Some(state) if (state == 'T') == stopped => return,
            None => return,
            Some(_) if Instant::now() >= deadline => {
                tracing::warn!(
                    "nats-server pid {pid} not {} after {SIGNAL_SETTLE:?}",
                    if stopped { "stopped" } else { "running again" }
                );
                return;
            }
            Some(_) => tokio::time::sleep(Duration::from_millis(2)).await,
        }
    }
}

/// The state letter of /proc/<pid>/stat (`R`, `S`, `T`, ...), None if unreadable.
fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name in parentheses may contain spaces and ')': the state follows the
    // last ')'.
    stat.rsplit_once(')')?.1.trim_start().chars().next()
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

/// SIGKILL then wait. The wait returns promptly: SIGKILL cannot be caught, and it ends a
/// stopped process too.
fn kill_and_reap(child: &mut Child) -> io::Result<()> {
    if let Err(e) = child.kill() {
        // InvalidInput means it already exited; it is reaped below either way.
        if e.kind() != io::ErrorKind::InvalidInput {
            return Err(e);
        }
    }
    child.wait().map(|_| ())
}

/// Sends `sig` to the child `pid`. The child is not reaped yet (its `Child` is held and not
/// waited for), so the pid cannot have been reused by another process.
fn send(pid: u32, sig: libc::c_int) -> io::Result<()> {
    let pid = libc::pid_t::try_from(pid).map_err(io::Error::other)?;
    // SAFETY: kill(2) has no memory-safety preconditions.
    if unsafe { libc::kill(pid, sig) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
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

/// The endpoints a started server listens on.
struct Urls {
    client: String,
    monitor: String,
}

/// Reads `<dir>/<exe>_<pid>.ports` (`{"nats":["nats://127.0.0.1:PORT"], "monitoring": [..]}`).
/// The file name depends on the executable's name, so match on the pid suffix only.
fn read_ports_file(dir: &Path, pid: u32) -> Result<Option<Urls>, String> {
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
