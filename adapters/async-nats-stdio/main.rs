//! `jsbench-adapter-async-nats`: the adapter contract (docs/adapters.md) spoken with async-nats,
//! the client jsbench runs in-process — so that a run through this adapter against one without
//! it measures what the contract itself costs (benches/adapter.rs). Shipped as
//! `async-nats-stdio`.
//!
//! It publishes the way jsbench's in-process client does: JetStream `send_publish` on the
//! connection the line names; in async mode the ack futures go into a `FuturesUnordered` (the
//! usual application pattern, so the order of its `a` lines is that collection's completion
//! order), in sync mode each is awaited before the next line is read.
//!
//! Fast on purpose: stdin is read in large chunks (an epoll-driven pipe when it is one), reports
//! are gathered in one buffer and written with one `write` when the input runs dry — never held
//! while the adapter waits for jsbench or for its client.

use std::fs::File;
use std::future::{Future, IntoFuture};
use std::io::Write;
use std::mem::ManuallyDrop;
use std::os::fd::FromRawFd;
use std::pin::Pin;
use std::process::ExitCode;
use std::task::{Context as TaskContext, Poll};
use std::time::{Duration, Instant};

use async_nats::jetstream::context::{PublishAckFuture, PublishError, PublishErrorKind};
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::{self, publish::PublishAck, Context};
use bytes::BytesMut;
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::task::coop::Unconstrained;

use jsbench::adapter::protocol::{self, Command, FailClass, Hello, InitIn, InitMode, NameVersion};
use jsbench::client::{error_name, reply_code, DUPLICATE_IN_PROCESS, NO_RESPONDERS};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The lock file of the workspace, to name the async-nats version this bin was built with
/// (async-nats does not export its own).
const CARGO_LOCK: &str = include_str!("../../Cargo.lock");
/// Read stdin in chunks of at least this much.
const READ_CHUNK: usize = 256 * 1024;

type AckResult = Result<PublishAck, PublishError>;
type Input = Box<dyn AsyncRead + Unpin>;

/// One ack future with its id, polled outside tokio's cooperative budget as jsbench's own
/// publisher polls its futures.
struct Pending {
    id: u64,
    fut: Unconstrained<Pin<Box<dyn Future<Output = AckResult> + Send>>>,
}

impl Future for Pending {
    type Output = (u64, AckResult);
    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let id = self.id;
        Pin::new(&mut self.fut).poll(cx).map(|r| (id, r))
    }
}

/// Where reports go: one buffer, written to fd 1 with one `write` when flushed (std's stdout
/// is line-buffered: a syscall per line).
struct Out {
    buf: Vec<u8>,
    origin: Instant,
    stdout: ManuallyDrop<File>,
}

impl Out {
    fn now(&self) -> u64 {
        self.origin.elapsed().as_nanos() as u64
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            self.stdout.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    /// The `a` or `e` line of a resolved ack future.
    fn resolved(&mut self, id: u64, r: AckResult) {
        let t = self.now();
        match r {
            Ok(ack) => protocol::write_acked(&mut self.buf, id, t, ack.sequence, ack.duplicate),
            Err(e) => self.failed(id, t, &e, false),
        }
    }

    /// The `e` line of an error, from the publish call (`at_send`) or from its ack.
    fn failed(&mut self, id: u64, t: u64, e: &PublishError, at_send: bool) {
        let code = reply_code(e);
        let (class, kind) = classify(e.kind(), code, at_send);
        protocol::write_failed(&mut self.buf, id, t, class, code, kind, &e.to_string());
    }
}

/// Definite only when the message certainly was not stored: refused before it was sent, a 503
/// (nobody listened), or an error reply of the stream (other than "in process").
fn classify(kind: PublishErrorKind, code: u32, at_send: bool) -> (FailClass, &'static str) {
    let name = match (kind, code) {
        (PublishErrorKind::Other, c) if c != 0 && c != DUPLICATE_IN_PROCESS => "api_error",
        _ => error_name(kind, code),
    };
    let definite = match kind {
        _ if code == DUPLICATE_IN_PROCESS => false,
        PublishErrorKind::TimedOut => false,
        _ if at_send => true,
        PublishErrorKind::StreamNotFound => code == NO_RESPONDERS,
        PublishErrorKind::WrongLastSequence | PublishErrorKind::WrongLastMessageId => true,
        PublishErrorKind::Other => code != 0,
        _ => false,
    };
    let class = if definite {
        FailClass::Definite
    } else {
        FailClass::Indefinite
    };
    (class, name)
}

fn async_nats_version() -> String {
    let mut lines = CARGO_LOCK.lines();
    while let Some(l) = lines.next() {
        if l == "name = \"async-nats\"" {
            if let Some(v) = lines.next().and_then(|v| v.strip_prefix("version = \"")) {
                return v.trim_end_matches('"').to_string();
            }
        }
    }
    "unknown".into()
}

/// Stdin as an epoll-driven pipe when it is one, else tokio's (thread-backed) stdin.
fn input() -> Input {
    // SAFETY: fd 0 is this process's stdin; nothing else in the process reads it.
    let file = unsafe { File::from_raw_fd(0) };
    match tokio::net::unix::pipe::Receiver::from_file(file) {
        Ok(r) => Box::new(r),
        Err(_) => Box::new(tokio::io::stdin()),
    }
}

/// The next line of `buf` from `start` (without its newline), advancing `start`.
fn next_line<'a>(buf: &'a [u8], start: &mut usize) -> Option<&'a [u8]> {
    let rest = &buf[*start..];
    let n = rest.iter().position(|&c| c == b'\n')?;
    *start += n + 1;
    Some(&rest[..n])
}

async fn read_more(input: &mut Input, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    if buf.capacity() - buf.len() < READ_CHUNK / 4 {
        buf.reserve(READ_CHUNK);
    }
    input.read_buf(buf).await
}

/// Reads the init line (the first line of stdin); returns it and what followed it.
async fn read_init(input: &mut Input) -> Result<(InitIn, Vec<u8>), String> {
    let mut buf = Vec::with_capacity(READ_CHUNK);
    loop {
        if let Some(n) = buf.iter().position(|&c| c == b'\n') {
            let line = String::from_utf8_lossy(&buf[..n]).into_owned();
            let init = protocol::Init::from_line(&line)?;
            buf.drain(..=n);
            return Ok((init, buf));
        }
        match read_more(input, &mut buf).await {
            Ok(0) => return Err("end of input before init".into()),
            Ok(_) => {}
            Err(e) => return Err(format!("reading stdin: {e}")),
        }
    }
}

/// One client connection per entry of `connections`, and its JetStream context.
async fn connect(init: &InitIn) -> Result<Vec<Context>, String> {
    let mut contexts = Vec::with_capacity(init.connections.len());
    for (i, urls) in init.connections.iter().enumerate() {
        let addrs: Vec<async_nats::ServerAddr> = urls
            .iter()
            .map(|u| {
                u.parse()
                    .map_err(|e| format!("connection {i}: url {u:?}: {e}"))
            })
            .collect::<Result<_, _>>()?;
        let mut opts =
            async_nats::ConnectOptions::new().name(format!("jsbench-adapter-{}-{i}", init.run));
        if let Some(t) = &init.token {
            opts = opts.token(t.clone());
        }
        if let (Some(u), Some(p)) = (&init.user, &init.password) {
            opts = opts.user_and_password(u.clone(), p.clone());
        }
        // As jsbench's own client: the primary first, and no URL learned from the servers
        // (which would take the connection around its fault proxy).
        let client = opts
            .retain_servers_order()
            .ignore_discovered_servers()
            .connect(addrs.as_slice())
            .await
            .map_err(|e| format!("connect {}: {e}", urls.join(",")))?;
        contexts.push(
            jetstream::ContextBuilder::new()
                .timeout(Duration::from_millis(init.ack_timeout_ms))
                .max_ack_inflight(init.max_pending.max(1) as usize)
                .backpressure_on_inflight(true)
                .build(client),
        );
    }
    Ok(contexts)
}

fn hello(init: &InitIn) -> Hello {
    let mut settings = std::collections::BTreeMap::new();
    settings.insert(
        "max_pending".into(),
        format!(
            "ContextBuilder::max_ack_inflight({}) with backpressure_on_inflight(true)",
            init.max_pending
        ),
    );
    settings.insert(
        "ack_timeout".into(),
        format!(
            "ContextBuilder::timeout({} ms), sync and async",
            init.ack_timeout_ms
        ),
    );
    settings.insert(
        "connection".into(),
        "retain_servers_order, ignore_discovered_servers; async-nats defaults otherwise".into(),
    );
    Hello {
        client: NameVersion {
            name: "async-nats".into(),
            version: async_nats_version(),
        },
        adapter: NameVersion {
            name: "jsbench-adapter-async-nats".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        features: vec!["sync".into(), "async".into(), "msg_id".into()],
        settings,
    }
}

/// What every publish needs: the connections, the mode, the payload's filler.
struct Publisher {
    contexts: Vec<Context>,
    mode: InitMode,
    payload_size: usize,
    filler: Vec<u8>,
}

impl Publisher {
    /// Publishes one `p` line's message; its `s` (and in sync mode its `a`/`e`) go to `out`.
    async fn publish(
        &self,
        out: &mut Out,
        inflight: &mut FuturesUnordered<Pending>,
        cmd: (u64, usize, &str, Option<&str>, &[u8; protocol::TAG_LEN]),
    ) -> Result<(), String> {
        let (id, conn, subject, msg_id, tag) = cmd;
        let ctx = self
            .contexts
            .get(conn)
            .ok_or_else(|| format!("p {id}: connection {conn} of {}", self.contexts.len()))?;
        let mut payload = BytesMut::with_capacity(self.payload_size);
        payload.extend_from_slice(tag);
        payload.extend_from_slice(&self.filler);
        let mut msg = PublishMessage::build().payload(payload.freeze());
        if let Some(m) = msg_id {
            msg = msg.message_id(m);
        }
        let subject = async_nats::Subject::from(subject);
        let t0 = out.now();
        match self.mode {
            InitMode::Sync => {
                let r = match ctx.send_publish(subject, msg).await {
                    Ok(f) => f.await.map_err(|e| (e, false)),
                    Err(e) => Err((e, true)),
                };
                let t1 = out.now();
                protocol::write_sent(&mut out.buf, id, t0, t1);
                match r {
                    Ok(ack) => {
                        protocol::write_acked(&mut out.buf, id, t1, ack.sequence, ack.duplicate)
                    }
                    Err((e, at_send)) => out.failed(id, t1, &e, at_send),
                }
            }
            InitMode::Async => {
                let r = send_async(ctx, subject, msg, out, inflight).await;
                let t1 = out.now();
                protocol::write_sent(&mut out.buf, id, t0, t1);
                match r {
                    Ok(f) => inflight.push(Pending {
                        id,
                        fut: tokio::task::coop::unconstrained(f.into_future()),
                    }),
                    Err(e) => out.failed(id, t1, &e, true),
                }
            }
        }
        Ok(())
    }
}

/// The async publish call, handling acks that complete meanwhile (the client may wait for an
/// ack permit, which only completed futures give back).
async fn send_async(
    ctx: &Context,
    subject: async_nats::Subject,
    msg: PublishMessage,
    out: &mut Out,
    inflight: &mut FuturesUnordered<Pending>,
) -> Result<PublishAckFuture, PublishError> {
    let send = ctx.send_publish(subject, msg);
    tokio::pin!(send);
    loop {
        tokio::select! {
            biased;
            r = &mut send => return r,
            Some((id, r)) = inflight.next(), if !inflight.is_empty() => out.resolved(id, r),
        }
    }
}

/// The publish loop: lines in, reports out, until end of input.
async fn serve(
    p: &Publisher,
    out: &mut Out,
    input: &mut Input,
    mut buf: Vec<u8>,
) -> Result<(), String> {
    let mut inflight = FuturesUnordered::new();
    let mut eof = false;
    loop {
        let mut start = 0;
        while let Some(line) = next_line(&buf, &mut start) {
            let text =
                std::str::from_utf8(line).map_err(|_| "a line that is not UTF-8".to_string())?;
            match protocol::parse_command(text) {
                Ok(Command::Probe { n }) => {
                    let t = out.now();
                    protocol::write_clock(&mut out.buf, n, t)
                }
                Ok(Command::Publish {
                    id,
                    conn,
                    subject,
                    msg_id,
                    tag,
                }) => {
                    p.publish(out, &mut inflight, (id, conn, subject, msg_id, &tag))
                        .await?
                }
                Err(why) => return Err(format!("malformed line {text:?}: {why}")),
            }
        }
        buf.drain(..start);
        while let Some(Some((id, r))) = inflight.next().now_or_never() {
            out.resolved(id, r);
        }
        if eof {
            return out.flush().map_err(|e| format!("writing stdout: {e}"));
        }
        // More input already there: read it before writing anything out.
        match read_more(input, &mut buf).now_or_never() {
            Some(Ok(0)) => eof = true,
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(format!("reading stdin: {e}")),
            None => {
                // Idle: nothing is held back while waiting for jsbench or the client.
                out.flush().map_err(|e| format!("writing stdout: {e}"))?;
                tokio::select! {
                    biased;
                    Some((id, r)) = inflight.next(), if !inflight.is_empty() => out.resolved(id, r),
                    r = read_more(input, &mut buf) => match r {
                        Ok(0) => eof = true,
                        Ok(_) => {}
                        Err(e) => return Err(format!("reading stdin: {e}")),
                    },
                }
            }
        }
    }
}

async fn run() -> Result<(), String> {
    let mut input = input();
    // SAFETY: fd 1 is this process's stdout; ManuallyDrop keeps it open past `Out`.
    let stdout = ManuallyDrop::new(unsafe { File::from_raw_fd(1) });
    let mut out = Out {
        buf: Vec::with_capacity(READ_CHUNK),
        origin: Instant::now(),
        stdout,
    };
    let (init, rest) = read_init(&mut input).await?;
    let contexts = match connect(&init).await {
        Ok(c) => c,
        Err(text) => {
            let line = serde_json::json!({"type": "error", "text": text}).to_string() + "\n";
            let _ = out.stdout.write_all(line.as_bytes());
            return Err(text);
        }
    };
    let filler = protocol::unhex(&init.filler).ok_or("init: filler is not hex")?;
    out.buf.extend_from_slice(hello(&init).to_line().as_bytes());
    out.flush().map_err(|e| format!("writing stdout: {e}"))?;
    let p = Publisher {
        contexts,
        mode: init.mode,
        payload_size: init.payload_size,
        filler,
    };
    serve(&p, &mut out, &mut input, rest).await?;
    // End of input: what the client still has pending is not waited for (the protocol says so).
    for ctx in &p.contexts {
        let _ = tokio::time::timeout(Duration::from_secs(2), ctx.client().flush()).await;
    }
    Ok(())
}

fn main() -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("jsbench-adapter-async-nats: cannot start tokio: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("jsbench-adapter-async-nats: {e}");
            ExitCode::FAILURE
        }
    }
}
