//! The adapter's child process: spawned by the project's child-process rules (its own process
//! group, so a terminal's Ctrl-C reaches only jsbench; PR_SET_PDEATHSIG from the long-lived
//! spawner thread of `server/process/child.rs`, so it dies with jsbench; killed on drop), and
//! its three pipes, each served by a task of its own so that nothing here ever blocks the run:
//! - stdin: a writer task fed whole buffers over a channel ([`Process::send`] never waits);
//!   dropping the channel closes stdin once what was queued is written;
//! - stdout: a reader task handing complete lines over in chunks ([`Chunk`]), so a read is
//!   cancel-safe (a channel receive) and costs one channel message per pipe read, not per line;
//! - stderr: drained into a ring of its last [`STDERR_LINES`] lines, so a chatty adapter never
//!   blocks on a full pipe and an error can quote what it said.
//!
//! Ending it: SIGKILL to the whole group (an adapter that runs a child of its own, e.g. a
//! wrapper script, takes it along), then reap. The group is only signalled while its leader is
//! not yet reaped — exited or not, it then still holds its pid, so the signal can reach no
//! other process ([`Process::exited`] looks without reaping, `waitid(WNOWAIT)`).

use std::collections::VecDeque;
use std::io;
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStderr, ChildStdin, ChildStdout};
use tokio::sync::{mpsc, Notify};

use super::command::AdapterCommand;
use super::error::{AdapterError, ExitStatus, StderrTail, STDERR_LINES};
use crate::server::{on_spawner_thread, set_parent_death_signal};

/// What the stdout reader hands over.
#[derive(Debug)]
pub(crate) enum Chunk {
    /// One or more complete lines, each ending with `\n`.
    Lines(Bytes),
    /// A line longer than [`MAX_LINE`] (its start, for the error).
    TooLong(Bytes),
    Eof,
    Error(io::Error),
}

/// The longest line accepted from an adapter (an `e` line with a long error text fits).
pub(crate) const MAX_LINE: usize = 64 * 1024;
/// What one pipe read asks for at least.
const READ_CHUNK: usize = 64 * 1024;
/// Chunks the reader may be ahead of the session (back-pressure on the adapter beyond that).
const CHUNKS_AHEAD: usize = 64;
/// A stderr line is quoted up to this many bytes.
const STDERR_LINE_MAX: usize = 1000;
/// How often a wait for the process's end looks.
const POLL: Duration = Duration::from_millis(5);

pub(crate) struct Process {
    child: Child,
    pid: u32,
    /// Set once the leader is reaped: from then on its group is never signalled.
    reaped: Option<ExitStatus>,
    stdin: Option<mpsc::UnboundedSender<Vec<u8>>>,
    stdin_broken: Arc<AtomicBool>,
    stdout: mpsc::Receiver<Chunk>,
    stderr: Arc<StderrRing>,
}

#[derive(Default)]
struct StderrRing {
    lines: Mutex<VecDeque<String>>,
    done: AtomicBool,
    ended: Notify,
}

impl StderrRing {
    fn push(&self, raw: &[u8]) {
        let raw = raw.strip_suffix(b"\n").unwrap_or(raw);
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let mut line = String::from_utf8_lossy(&raw[..raw.len().min(STDERR_LINE_MAX)]).into_owned();
        if raw.len() > STDERR_LINE_MAX {
            line.push('…');
        }
        let mut ring = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        if ring.len() == STDERR_LINES {
            ring.pop_front();
        }
        ring.push_back(line);
    }

    fn snapshot(&self) -> StderrTail {
        let ring = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        StderrTail(ring.iter().cloned().collect())
    }
}

impl Process {
    /// Starts `cmd` with stdin and stdout piped and stderr drained (see the module docs).
    pub(crate) async fn spawn(cmd: &AdapterCommand) -> Result<Process, AdapterError> {
        let mut c = tokio::process::Command::new(&cmd.program);
        c.args(&cmd.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .process_group(0);
        set_parent_death_signal(c.as_std_mut());
        let spawn_err = |source| AdapterError::Spawn {
            adapter: cmd.label.clone(),
            source,
        };
        let handle = tokio::runtime::Handle::current();
        let (reply, answer) = tokio::sync::oneshot::channel();
        // If this start is cancelled, the reply is dropped with the child in it: kill_on_drop.
        on_spawner_thread(Box::new(move || {
            let _runtime = handle.enter();
            let _ = reply.send(c.spawn());
        }))
        .map_err(spawn_err)?;
        let mut child = answer
            .await
            .map_err(|_| spawn_err(io::Error::other("the spawner thread dropped the request")))?
            .map_err(spawn_err)?;
        let pid = child.id().unwrap_or(0);
        let (stdin, stdout, stderr) =
            match (child.stdin.take(), child.stdout.take(), child.stderr.take()) {
                (Some(i), Some(o), Some(e)) => (i, o, e),
                _ => return Err(spawn_err(io::Error::other("a pipe is missing"))),
            };
        let stdin_broken = Arc::new(AtomicBool::new(false));
        let (in_tx, in_rx) = mpsc::unbounded_channel();
        tokio::spawn(write_stdin(stdin, in_rx, stdin_broken.clone()));
        let (out_tx, out_rx) = mpsc::channel(CHUNKS_AHEAD);
        tokio::spawn(read_stdout(stdout, out_tx));
        let ring = Arc::new(StderrRing::default());
        tokio::spawn(drain_stderr(stderr, ring.clone()));
        Ok(Process {
            child,
            pid,
            reaped: None,
            stdin: Some(in_tx),
            stdin_broken,
            stdout: out_rx,
            stderr: ring,
        })
    }

    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// Queues bytes for stdin; false when stdin is closed or the adapter stopped reading it.
    pub(crate) fn send(&mut self, bytes: Vec<u8>) -> bool {
        if self.stdin_broken.load(Ordering::Relaxed) {
            return false;
        }
        match &self.stdin {
            Some(tx) => tx.send(bytes).is_ok(),
            None => false,
        }
    }

    /// Closes stdin once everything queued is written (the adapter then sees end of input).
    pub(crate) fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// The next chunk of stdout. Cancel-safe.
    pub(crate) async fn next_chunk(&mut self) -> Chunk {
        self.stdout.recv().await.unwrap_or(Chunk::Eof)
    }

    /// The exit status if the process has exited, reaping it then — after SIGKILL to what is
    /// left of its group (a child of its own that would outlive it).
    pub(crate) fn exited(&mut self) -> Option<ExitStatus> {
        if let Some(s) = self.reaped {
            return Some(s);
        }
        if !leader_exited(self.pid) {
            return None;
        }
        kill_group(self.pid);
        match self.child.try_wait() {
            Ok(Some(s)) => {
                self.reaped = Some(ExitStatus::from_std(s));
                self.reaped
            }
            Ok(None) => None,
            Err(_) => {
                self.reaped = Some(ExitStatus::Unknown);
                self.reaped
            }
        }
    }

    /// Waits up to `within` for the process to exit by itself.
    pub(crate) async fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let until = tokio::time::Instant::now() + within;
        loop {
            if let Some(s) = self.exited() {
                return Some(s);
            }
            if tokio::time::Instant::now() >= until {
                return None;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// SIGKILL to the group, then reap. Returns how it ended (a process that had already exited
    /// keeps its own status).
    pub(crate) async fn kill(&mut self) -> ExitStatus {
        if let Some(s) = self.exited() {
            return s;
        }
        kill_group(self.pid);
        let _ = self.child.start_kill();
        self.stdin = None;
        // SIGKILL cannot be caught; the bound only guards against a process stuck in the kernel
        // (kill_on_drop and tokio's orphan reaping then finish the job).
        match tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await {
            Ok(Ok(s)) => {
                self.reaped = Some(ExitStatus::from_std(s));
                self.reaped.unwrap_or(ExitStatus::Unknown)
            }
            _ => ExitStatus::Unknown,
        }
    }

    /// Whether the leader is reaped (it exited or was killed, and nothing of it runs).
    pub(crate) fn is_reaped(&self) -> bool {
        self.reaped.is_some()
    }

    /// The last stderr lines once stderr has ended (every writer gone), waiting up to `within`
    /// for that; what is there by then otherwise.
    pub(crate) async fn stderr_tail(&self, within: Duration) -> StderrTail {
        let ended = self.stderr.ended.notified();
        tokio::pin!(ended);
        // Registered before `done` is looked at, so the drain's notify cannot slip between.
        ended.as_mut().enable();
        if !self.stderr.done.load(Ordering::Acquire) {
            let _ = tokio::time::timeout(within, ended).await;
        }
        self.stderr.snapshot()
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // The group while the leader holds its pid; tokio's kill_on_drop sends the leader its
        // SIGKILL too and reaps it in the background.
        if self.reaped.is_none() {
            kill_group(self.pid);
        }
    }
}

/// Whether the process `pid` (our unreaped child) has exited, without reaping it.
fn leader_exited(pid: u32) -> bool {
    // SAFETY: waitid with WNOWAIT only reads the child's state into `info`, which is zeroed.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let r = libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        );
        // ECHILD: already reaped (by tokio): it has exited.
        (r == 0 && info.si_pid() != 0)
            || (r == -1 && io::Error::last_os_error().raw_os_error() == Some(libc::ECHILD))
    }
}

/// SIGKILL to the process group `pid` (the adapter's own, see the module docs).
fn kill_group(pid: u32) {
    if pid == 0 {
        return;
    }
    // SAFETY: killpg(2) has no memory-safety preconditions. ESRCH (nothing left) is fine.
    unsafe {
        libc::killpg(pid as libc::pid_t, libc::SIGKILL);
    }
}

async fn write_stdin(
    mut stdin: ChildStdin,
    mut rx: mpsc::UnboundedReceiver<Vec<u8>>,
    broken: Arc<AtomicBool>,
) {
    while let Some(buf) = rx.recv().await {
        if stdin.write_all(&buf).await.is_err() {
            broken.store(true, Ordering::Relaxed);
            return;
        }
    }
    // Every sender gone: dropping stdin here is the adapter's end of input.
    let _ = stdin.flush().await;
}

async fn read_stdout(mut out: ChildStdout, tx: mpsc::Sender<Chunk>) {
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    loop {
        if buf.capacity() - buf.len() < READ_CHUNK / 4 {
            buf.reserve(READ_CHUNK);
        }
        let before = buf.len();
        let chunk = match out.read_buf(&mut buf).await {
            Ok(0) => {
                if !buf.is_empty() {
                    // A last line without its newline is still a line.
                    buf.extend_from_slice(b"\n");
                    let _ = tx.send(Chunk::Lines(buf.split().freeze())).await;
                }
                let _ = tx.send(Chunk::Eof).await;
                return;
            }
            Ok(_) => match buf[before..].iter().rposition(|&c| c == b'\n') {
                Some(i) => Chunk::Lines(buf.split_to(before + i + 1).freeze()),
                None if buf.len() > MAX_LINE => {
                    let _ = tx.send(Chunk::TooLong(buf.split_to(200).freeze())).await;
                    return;
                }
                None => continue,
            },
            Err(e) => Chunk::Error(e),
        };
        let stop = matches!(chunk, Chunk::Error(_));
        if tx.send(chunk).await.is_err() || stop {
            return;
        }
    }
}

async fn drain_stderr(err: ChildStderr, ring: Arc<StderrRing>) {
    let mut r = BufReader::new(err);
    let mut line = Vec::new();
    loop {
        line.clear();
        // Bounded: a line without a newline is cut into pieces rather than grown forever.
        match (&mut r)
            .take(STDERR_LINE_MAX as u64 * 4)
            .read_until(b'\n', &mut line)
            .await
        {
            Ok(0) | Err(_) => break,
            Ok(_) => ring.push(&line),
        }
    }
    ring.done.store(true, Ordering::Release);
    ring.ended.notify_waiters();
}
