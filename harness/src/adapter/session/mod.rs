//! One adapter process for one run ([`Session`]): the handshake, the clock probes, publish lines
//! out, reports in — each validated against what jsbench sent — and the end.
//!
//! Which ids were sent and what came back for each is `../ids.rs` (bounded memory); the end
//! (`finish`, `abort`, [`SessionEnd`]) is `end.rs`.
//!
//! Every error about the adapter is fatal for the session. It is first noted (`pending`), then
//! the process group is killed and its stderr read to the end, and only then returned with the
//! stderr quoted — so a cancelled wait (the `select!` the runner puts `next_report` in) leaves
//! it noted, and the next call finishes the job.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::clock::{self, Fit, Probe, PROBES};
use super::command::AdapterCommand;
use super::error::{AdapterError, ExitStatus, StderrTail};
use super::ids::{Ids, Verdict};
use super::process::{Chunk, Process};
use super::protocol::{self, Hello, Init, InitAnswer, Line, Report, TAG_LEN};
use crate::record::observe::Clock;

mod end;

pub use end::SessionEnd;

/// How long an adapter may take to answer init (docs/adapters.md).
pub const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one clock probe may wait for its answer.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the adapter may take to exit after its stdin closed before it is killed.
pub const EXIT_TIMEOUT: Duration = Duration::from_secs(10);
/// Publish lines are handed to the writer once this many bytes are queued.
const FLUSH_AT: usize = 64 * 1024;
/// How long an error waits for the rest of the adapter's stderr.
const STDERR_WAIT: Duration = Duration::from_secs(1);
/// Distinct error kinds interned; beyond this each report gets its own copy.
const MAX_KINDS: usize = 256;

/// Lines quoted in errors are cut at this many bytes.
pub const QUOTE_MAX: usize = 300;

/// `line`, cut at [`QUOTE_MAX`] bytes (on a character boundary) with `…` after the cut.
fn clip(mut line: String) -> String {
    if line.len() > QUOTE_MAX {
        let mut at = QUOTE_MAX;
        while !line.is_char_boundary(at) {
            at -= 1;
        }
        line.truncate(at);
        line.push('…');
    }
    line
}

/// What one line from the adapter amounts to.
enum Step {
    Report(Report),
    /// A late report (for an id given up on): counted, not returned.
    Late,
    Probe {
        n: u64,
        t: u64,
    },
    Fail(AdapterError),
}

/// What the stdout reader gave next.
enum Next {
    Line(Range<usize>),
    Eof,
    Fail(AdapterError),
}

pub struct Session {
    proc: Process,
    label: String,
    hello: Hello,
    clock: Clock,
    connections: usize,
    before: Option<Fit>,
    after: Option<Fit>,
    out: Vec<u8>,
    cur: Bytes,
    pos: usize,
    last: Range<usize>,
    ids: Ids,
    kinds: HashMap<Box<str>, Arc<str>>,
    probe_n: u64,
    pending: Option<AdapterError>,
    failed: bool,
}

impl Session {
    /// Spawns (stdin/stdout piped, stderr kept as its last 20 lines, kill_on_drop, own process
    /// group), writes init, waits ≤ 10 s for init_ok (errors: exited before init, no answer,
    /// refused, a feature the init needs missing), then 16 clock probes. On error nothing of the
    /// adapter is left running.
    pub async fn start(
        cmd: &AdapterCommand,
        init: &Init,
        clock: Clock,
    ) -> Result<Session, AdapterError> {
        let proc = Process::spawn(cmd).await?;
        let mut s = Session {
            proc,
            label: cmd.label.clone(),
            hello: Hello {
                client: protocol::NameVersion {
                    name: String::new(),
                    version: String::new(),
                },
                adapter: protocol::NameVersion {
                    name: String::new(),
                    version: String::new(),
                },
                features: Vec::new(),
                settings: BTreeMap::new(),
            },
            clock,
            connections: init.connections.len(),
            before: None,
            after: None,
            out: Vec::with_capacity(FLUSH_AT + 512),
            cur: Bytes::new(),
            pos: 0,
            last: 0..0,
            ids: Ids::default(),
            kinds: HashMap::new(),
            probe_n: 0,
            pending: None,
            failed: false,
        };
        match s.handshake(init).await {
            Ok(()) => Ok(s),
            Err(e) => {
                s.proc.kill().await;
                Err(e)
            }
        }
    }

    async fn handshake(&mut self, init: &Init) -> Result<(), AdapterError> {
        self.proc.send(init.to_line().into_bytes());
        let answer = tokio::time::timeout(INIT_TIMEOUT, self.next_line()).await;
        let range = match answer {
            Err(_) => {
                return Err(self
                    .fail(AdapterError::NoInitAnswer {
                        adapter: self.label.clone(),
                        secs: INIT_TIMEOUT.as_secs(),
                        stderr: StderrTail::default(),
                    })
                    .await)
            }
            Ok(Next::Line(r)) => r,
            Ok(Next::Eof) => {
                let e = AdapterError::ExitedBeforeInit {
                    adapter: self.label.clone(),
                    status: ExitStatus::Unknown,
                    stderr: StderrTail::default(),
                };
                return Err(self.fail(e).await);
            }
            Ok(Next::Fail(e)) => return Err(self.fail(e).await),
        };
        let line = String::from_utf8_lossy(&self.cur[range]).into_owned();
        // An adapter that echoes its input must not put the run's credential into an error.
        let mut quoted = line.clone();
        for secret in [&init.token, &init.password].into_iter().flatten() {
            if !secret.is_empty() {
                quoted = quoted.replace(secret.as_str(), "<redacted>");
            }
        }
        let quoted = clip(quoted);
        let refused = |text: String| AdapterError::InitRefused {
            adapter: self.label.clone(),
            text,
            line: quoted.clone(),
            stderr: StderrTail::default(),
        };
        let hello = match protocol::parse_init_answer(&line) {
            Ok(InitAnswer::Ok(h)) => h,
            Ok(InitAnswer::Error(text)) => return Err(self.fail(refused(text)).await),
            Err(why) => return Err(self.fail(refused(why)).await),
        };
        let mut needed = vec![init.mode.feature()];
        if init.msg_id {
            needed.push("msg_id");
        }
        if let Some(f) = needed.into_iter().find(|f| !hello.has(f)) {
            let e = AdapterError::MissingFeature {
                adapter: self.label.clone(),
                feature: f.to_string(),
                features: hello.features.clone(),
                stderr: StderrTail::default(),
            };
            return Err(self.fail(e).await);
        }
        self.hello = hello;
        self.before = Some(self.probe_set().await?);
        Ok(())
    }

    pub fn hello(&self) -> &Hello {
        &self.hello
    }

    /// The adapter's process id (its process group's too).
    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }

    pub fn label(&self) -> &str {
        &self.label
    }

    /// The clock fit of the probes before publishing.
    pub fn clock_fit(&self) -> Option<Fit> {
        self.before
    }

    /// The text of the line the last report (or error) came from, for messages that quote it.
    /// Clipped to [`QUOTE_MAX`] bytes.
    pub fn last_line(&self) -> String {
        clip(
            String::from_utf8_lossy(self.cur.get(self.last.clone()).unwrap_or_default())
                .into_owned(),
        )
    }

    /// Ids sent and not yet resolved (nor given up).
    pub fn outstanding(&self) -> usize {
        self.ids.outstanding()
    }

    /// Queues one `p` line (buffered; handed to the writer by `flush`, or when the buffer passes
    /// ~64 KiB). Ids must be 0, 1, 2, … in order; the subject and Msg-Id must be one field each
    /// (no space, no control character, the Msg-Id not `-`). An adapter that stopped reading
    /// its stdin is reported by the next `flush` or `next_report`.
    pub fn publish(
        &mut self,
        id: u64,
        conn: usize,
        subject: &str,
        msg_id: Option<&str>,
        tag: &[u8; TAG_LEN],
    ) -> Result<(), AdapterError> {
        if self.failed || self.pending.is_some() {
            return Err(AdapterError::Ended {
                adapter: self.label.clone(),
            });
        }
        let usage = |what: String| AdapterError::Usage {
            adapter: self.label.clone(),
            what,
        };
        if id != self.ids.next() {
            return Err(usage(format!(
                "publish id {id}, expected {} (ids are 0, 1, 2, … in publish order)",
                self.ids.next()
            )));
        }
        if conn >= self.connections {
            return Err(usage(format!(
                "connection {conn} of {} connections",
                self.connections
            )));
        }
        if !protocol::is_field(subject)
            || msg_id.is_some_and(|m| !protocol::is_field(m) || m == "-")
        {
            return Err(usage(format!(
                "subject {subject:?} or Msg-Id {msg_id:?} is not one field of a p line"
            )));
        }
        protocol::write_publish(&mut self.out, id, conn, subject, msg_id, tag);
        self.ids.sent();
        if self.out.len() >= FLUSH_AT {
            self.push_out();
        }
        Ok(())
    }

    /// Hands what `publish` queued to the writer (it never waits for the adapter to read it).
    pub async fn flush(&mut self) -> Result<(), AdapterError> {
        self.push_out();
        if let Some(e) = self.pending.take() {
            return Err(self.fail(e).await);
        }
        if self.failed {
            return Err(AdapterError::Ended {
                adapter: self.label.clone(),
            });
        }
        Ok(())
    }

    fn push_out(&mut self) {
        if self.out.is_empty() {
            return;
        }
        // A right-sized copy goes to the writer task and the big buffer stays for reuse:
        // handing the buffer itself over queued 64 KiB per flush, and a flush can carry one
        // line (peak RSS grew by the window × 64 KiB before).
        let buf = self.out.clone();
        self.out.clear();
        if !self.proc.send(buf) && self.pending.is_none() && !self.failed {
            self.pending = Some(self.crashed("it stopped reading its stdin"));
        }
    }

    /// The next report; Err on malformed line / unknown id / twice / a before s / crash (EOF on
    /// stdout or exit while stdin is open). Cancel-safe (usable in tokio::select!).
    /// Reports for ids given up (`give_up`) are not returned: they are counted as late.
    pub async fn next_report(&mut self) -> Result<Report, AdapterError> {
        loop {
            if let Some(e) = self.pending.take() {
                return Err(self.fail(e).await);
            }
            if self.failed {
                return Err(AdapterError::Ended {
                    adapter: self.label.clone(),
                });
            }
            let range = match self.next_line().await {
                Next::Line(r) => r,
                Next::Eof => {
                    self.pending = Some(self.crashed("it closed its stdout"));
                    continue;
                }
                Next::Fail(e) => {
                    self.pending = Some(e);
                    continue;
                }
            };
            match self.on_line(range) {
                Step::Report(r) => return Ok(r),
                Step::Late => {}
                Step::Probe { .. } => {
                    let why = "a clock answer while no probe is pending";
                    self.pending = Some(self.malformed(why.into()));
                }
                Step::Fail(e) => self.pending = Some(e),
            }
        }
    }

    /// The client never resolved `id` by jsbench's deadline: forget it; later reports for it are
    /// late.
    pub fn give_up(&mut self, id: u64) {
        self.ids.give_up(id);
    }

    /// One set of [`PROBES`] clock probes, each after the previous answer.
    async fn probe_set(&mut self) -> Result<Fit, AdapterError> {
        let mut probes = Vec::with_capacity(PROBES as usize);
        for _ in 0..PROBES {
            let n = self.probe_n;
            self.probe_n += 1;
            let mut line = Vec::with_capacity(24);
            protocol::write_probe(&mut line, n);
            let j0 = self.clock.now_ns();
            self.out.extend_from_slice(&line);
            self.push_out();
            let answer = tokio::time::timeout(PROBE_TIMEOUT, self.probe_answer(n)).await;
            let j1 = self.clock.now_ns();
            match answer {
                Ok(Ok(t)) => probes.push(Probe { j0, t, j1 }),
                Ok(Err(e)) => return Err(self.fail(e).await),
                Err(_) => {
                    let e = AdapterError::NoProbeAnswer {
                        adapter: self.label.clone(),
                        n,
                        secs: PROBE_TIMEOUT.as_secs(),
                        stderr: StderrTail::default(),
                    };
                    return Err(self.fail(e).await);
                }
            }
        }
        Ok(clock::fit(&probes).expect("PROBES > 0"))
    }

    /// Reads until the answer to probe `n`; reports in between (only late ones can come) are
    /// counted as late. The error returned is not yet failed (see `fail`).
    async fn probe_answer(&mut self, n: u64) -> Result<u64, AdapterError> {
        if let Some(e) = self.pending.take() {
            return Err(e);
        }
        loop {
            let range = match self.next_line().await {
                Next::Line(r) => r,
                Next::Eof => {
                    return Err(self.crashed("it closed its stdout during the clock probes"))
                }
                Next::Fail(e) => return Err(e),
            };
            match self.on_line(range) {
                Step::Probe { n: m, t } if m == n => return Ok(t),
                Step::Probe { n: m, .. } => {
                    return Err(
                        self.malformed(format!("answer to probe {m} while probe {n} was asked"))
                    )
                }
                // Counted as late: jsbench no longer waits for anything.
                Step::Report(_) => self.ids.count_late(),
                Step::Late => {}
                Step::Fail(e) => return Err(e),
            }
        }
    }

    /// The next line of stdout (its range in `cur`). Cancel-safe: the only await is the channel.
    async fn next_line(&mut self) -> Next {
        loop {
            if self.pos < self.cur.len() {
                let rest = &self.cur[self.pos..];
                // The reader hands over whole lines only.
                let len = rest.iter().position(|&c| c == b'\n').unwrap_or(rest.len());
                let range = self.pos..self.pos + len;
                self.pos += len + 1;
                self.last = range.clone();
                return Next::Line(range);
            }
            match self.proc.next_chunk().await {
                Chunk::Lines(b) => {
                    self.cur = b;
                    self.pos = 0;
                }
                Chunk::TooLong(b) => {
                    self.cur = b;
                    self.pos = self.cur.len();
                    self.last = 0..self.cur.len();
                    let why = format!(
                        "longer than {} bytes without a newline",
                        super::process::MAX_LINE
                    );
                    return Next::Fail(self.malformed(why));
                }
                Chunk::Eof => return Next::Eof,
                Chunk::Error(e) => {
                    return Next::Fail(AdapterError::io(
                        format!("adapter {}: reading its stdout", self.label),
                        e,
                    ))
                }
            }
        }
    }

    /// Validates one line against what was sent (see the module docs).
    fn on_line(&mut self, range: Range<usize>) -> Step {
        let cur = self.cur.clone();
        let Ok(text) = std::str::from_utf8(&cur[range]) else {
            return Step::Fail(self.malformed("not UTF-8".into()));
        };
        let line = match protocol::parse_line(text) {
            Ok(l) => l,
            Err(why) => return Step::Fail(self.malformed(why.into())),
        };
        let off = self.before.map_or(0, |f| f.offset_ns);
        let local = |t| clock::to_local(t, off);
        let verdict = match line {
            Line::Clock { n, t } => return Step::Probe { n, t },
            Line::Sent { id, .. } => (id, self.ids.on_sent(id)),
            Line::Acked { id, .. } | Line::Failed { id, .. } => (id, self.ids.on_resolved(id)),
        };
        let (id, verdict) = verdict;
        match verdict {
            Verdict::Accepted => {}
            Verdict::Late => return Step::Late,
            Verdict::Twice => return Step::Fail(self.twice(id)),
            Verdict::Unknown => {
                return Step::Fail(AdapterError::UnknownId {
                    adapter: self.label.clone(),
                    line: self.last_line(),
                    id,
                    stderr: StderrTail::default(),
                })
            }
            Verdict::BeforeSent => {
                return Step::Fail(AdapterError::OutOfOrder {
                    adapter: self.label.clone(),
                    line: self.last_line(),
                    id,
                    stderr: StderrTail::default(),
                })
            }
        }
        Step::Report(match line {
            Line::Sent { id, t0, t1 } => Report::Sent {
                id,
                t0_ns: local(t0),
                t1_ns: local(t1),
            },
            Line::Acked { id, t, seq, dup } => Report::Acked {
                id,
                at_ns: local(t),
                seq,
                duplicate: dup,
            },
            Line::Failed {
                id,
                t,
                class,
                code,
                kind,
                text,
            } => Report::Failed {
                id,
                at_ns: local(t),
                class,
                code,
                kind: self.intern(kind),
                text: text.to_string(),
            },
            Line::Clock { .. } => unreachable!("answered above"),
        })
    }

    fn intern(&mut self, kind: &str) -> Arc<str> {
        if let Some(k) = self.kinds.get(kind) {
            return k.clone();
        }
        let k: Arc<str> = Arc::from(kind);
        if self.kinds.len() < MAX_KINDS {
            self.kinds.insert(kind.into(), k.clone());
        }
        k
    }

    fn twice(&self, id: u64) -> AdapterError {
        AdapterError::ReportedTwice {
            adapter: self.label.clone(),
            line: self.last_line(),
            id,
            stderr: StderrTail::default(),
        }
    }

    fn malformed(&self, why: String) -> AdapterError {
        AdapterError::Malformed {
            adapter: self.label.clone(),
            line: self.last_line(),
            why,
            stderr: StderrTail::default(),
        }
    }

    fn crashed(&self, how: &str) -> AdapterError {
        AdapterError::Crashed {
            adapter: self.label.clone(),
            how: how.into(),
            status: ExitStatus::Unknown,
            stderr: StderrTail::default(),
        }
    }

    /// Makes `e` final: its exit status (for a crash, waiting a moment for the process to end by
    /// itself), the process group killed, stderr read to its end and quoted. Cancel-safe: `e`
    /// stays pending until the end.
    async fn fail(&mut self, e: AdapterError) -> AdapterError {
        self.pending = Some(e);
        let exits = matches!(
            self.pending,
            Some(AdapterError::Crashed { .. } | AdapterError::ExitedBeforeInit { .. })
        );
        let by_itself = if exits {
            self.proc.wait_exit(STDERR_WAIT).await
        } else {
            None
        };
        let status = match by_itself {
            Some(s) => s,
            None => self.proc.kill().await,
        };
        let tail = self.proc.stderr_tail(STDERR_WAIT).await;
        let mut e = self.pending.take().expect("set above");
        if let AdapterError::Crashed { status: s, .. }
        | AdapterError::ExitedBeforeInit { status: s, .. } = &mut e
        {
            *s = status;
        }
        if let Some(t) = e.stderr_mut() {
            *t = tail;
        }
        self.failed = true;
        e
    }
}
