//! The nats-server child process itself: its command line, spawning it, waiting until it
//! serves, signalling it, and ending it.
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
//! - a graceful end ([`terminate`]) is SIGTERM (and SIGCONT, in case it is paused), a wait,
//!   then SIGKILL; a forced one ([`kill_and_reap`]) is SIGKILL, which also ends a stopped
//!   process. Both reap.
//!
//! The flags used (`-a -p -1 -js -sd --ports_file_dir`) exist in nats-server 2.9 (Debian's
//! package) as well as 2.15. `-p -1` makes the server pick a free port itself, and the
//! ports file tells us which, so there is no pick-then-bind race.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, OnceLock};
use std::time::{Duration, Instant};

use super::dir::{log_tail, read_ports_file, Paths, Urls};
use crate::server::error::ServerError;
use crate::server::probe;

/// How long the server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a graceful stop may take before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// How long SIGSTOP / SIGCONT may take to show in /proc.
const SIGNAL_SETTLE: Duration = Duration::from_secs(1);
const POLL: Duration = Duration::from_millis(20);

/// The nats-server command line. `ports` (client, monitoring) are `-1` (pick a free one) at
/// the first start and the ports it picked on later starts. The log is appended to on later
/// starts, so that it tells the whole story.
pub(super) fn server_command(
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

/// Spawns `cmd` (a [`server_command`] of `bin`) from the long-lived spawner thread.
pub(super) async fn spawn(bin: &Path, cmd: Command) -> Result<Child, ServerError> {
    spawn_from_long_lived_thread(cmd)
        .await
        .map_err(|source| ServerError::Spawn {
            path: bin.to_path_buf(),
            source,
        })
}

/// Polls for the ports file nats-server writes once it listens, then checks that the
/// port really answers with the NATS greeting.
pub(super) async fn wait_ready(child: &mut Child, paths: &Paths) -> Result<Urls, ServerError> {
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

/// SIGTERM, then up to [`STOP_GRACE`] for a clean JetStream shutdown, then SIGKILL.
/// Always reaps the child.
pub(super) async fn terminate(child: &mut Child) -> Result<(), ServerError> {
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
pub(super) async fn settle(pid: u32, stopped: bool) {
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

/// The state letter of `/proc/<pid>/stat` (`R`, `S`, `T`, ...), None if unreadable.
fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name in parentheses may contain spaces and ')': the state follows the
    // last ')'.
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

/// SIGKILL then wait. The wait returns promptly: SIGKILL cannot be caught, and it ends a
/// stopped process too.
pub(super) fn kill_and_reap(child: &mut Child) -> io::Result<()> {
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
pub(super) fn send(pid: u32, sig: libc::c_int) -> io::Result<()> {
    let pid = libc::pid_t::try_from(pid).map_err(io::Error::other)?;
    // SAFETY: kill(2) has no memory-safety preconditions.
    if unsafe { libc::kill(pid, sig) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Makes the kernel SIGKILL the child when its parent thread dies (see module docs). Adapter
/// processes (`adapter/process.rs`) follow the same rule, so it is shared.
pub(crate) fn set_parent_death_signal(cmd: &mut Command) {
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

/// Work for the spawner thread: a closure that spawns and hands the child to its caller.
pub(crate) type SpawnJob = Box<dyn FnOnce() + Send>;

/// Runs `job` on the long-lived spawner thread, so that a child it spawns gets
/// PR_SET_PDEATHSIG from a thread that lives as long as jsbench (see module docs); without that
/// thread (it could not be started), runs it here. Adapter processes are spawned through it too.
pub(crate) fn on_spawner_thread(job: SpawnJob) -> io::Result<()> {
    static SPAWNER: OnceLock<Option<mpsc::Sender<SpawnJob>>> = OnceLock::new();
    let spawner = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnJob>();
        let started = std::thread::Builder::new()
            .name("jsbench-spawner".into())
            .spawn(move || {
                // The sender lives in a static, so this loop (and thread) never ends.
                for job in rx {
                    job();
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
    match spawner {
        Some(s) => s
            .send(job)
            .map_err(|_| io::Error::other("the spawner thread is gone")),
        None => {
            job();
            Ok(())
        }
    }
}

/// Spawns `cmd` from a thread that never exits, so PR_SET_PDEATHSIG fires only when the
/// whole jsbench process dies.
async fn spawn_from_long_lived_thread(mut cmd: Command) -> io::Result<Child> {
    let (reply, answer) = tokio::sync::oneshot::channel();
    on_spawner_thread(Box::new(move || {
        // If the caller is gone (its start was cancelled), nobody would ever stop this child:
        // kill it right away.
        if let Err(Ok(mut child)) = reply.send(cmd.spawn()) {
            let _ = child.kill();
            let _ = child.wait();
        }
    }))?;
    match answer.await {
        Ok(result) => result,
        Err(_) => Err(io::Error::other("the spawner thread dropped the request")),
    }
}
