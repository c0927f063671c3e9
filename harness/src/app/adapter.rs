//! `jsbench adapter check [NAME] [-- CMD…]` and `jsbench adapter build NAME`.
//!
//! The check starts a nats-server of its own (process backend, loopback, the run's own token),
//! creates a stream, and drives the adapter through a small conformance sequence — init and
//! probes; a sync session and an async one, each with and without Msg-Id, on two connections;
//! a duplicate Msg-Id (must ack with dup 1 and the first one's sequence); a publish to a
//! subject no stream has (must fail `d` with code 503: nobody listened) — then reads the stream
//! back: every acked message stored at its sequence with its subject, payload and Msg-Id, and
//! nothing else. Each violation is printed with the offending line. The server goes whatever
//! happened.

use std::collections::HashMap;
use std::time::Duration;

use async_nats::jetstream::{self, stream};

use super::Exit;
use crate::adapter::protocol::{hex, TAG_LEN};
use crate::adapter::{
    AdapterCommand, AdapterError, FailClass, Init, InitMode, Report, Session, Shipped,
};
use crate::record::observe::Clock;
use crate::server::{Backend, Server, ServerSpec};

const PAYLOAD_SIZE: usize = 64;
const ACK_TIMEOUT_MS: u64 = 2_000;
/// How long one report may take (the ack timeout, then some).
const REPORT_WAIT: Duration = Duration::from_secs(10);
const SYNC_MESSAGES: u64 = 10;
const ASYNC_MESSAGES: u64 = 200;
const OP_TIMEOUT: Duration = Duration::from_secs(10);

/// What to check: one shipped adapter, a command, or (neither) every shipped adapter.
pub fn check(name: Option<&str>, command: &[String]) -> Exit {
    let targets: Vec<Result<Shipped, AdapterCommand>> = match (name, command.is_empty()) {
        (Some(_), false) => {
            eprintln!("error: give an adapter NAME or a command after --, not both");
            return Exit::BAD_INPUT;
        }
        (Some(n), true) => match Shipped::parse(n) {
            Ok(s) => vec![Ok(s)],
            Err(e) => return usage(&e),
        },
        (None, false) => match AdapterCommand::user(command) {
            Ok(c) => vec![Err(c)],
            Err(e) => return usage(&e),
        },
        (None, true) => Shipped::ALL.into_iter().map(Ok).collect(),
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the tokio runtime: {e}");
            return Exit::FAILED;
        }
    };
    let mut failed = 0;
    for t in &targets {
        let ok = rt.block_on(async {
            let cmd = match t {
                Ok(s) => match s.command().await {
                    Ok(c) => c,
                    Err(e) => {
                        println!("adapter {}: cannot be built: {e}", s.name());
                        return false;
                    }
                },
                Err(c) => c.clone(),
            };
            check_one(&cmd).await
        });
        failed += usize::from(!ok);
    }
    if targets.len() > 1 {
        println!(
            "{} of {} adapters conform",
            targets.len() - failed,
            targets.len()
        );
    }
    if failed == 0 {
        Exit::SUCCESS
    } else {
        Exit::FAILED
    }
}

/// `jsbench adapter build NAME`: builds it (if not built yet) and prints its executable.
pub fn build(name: &str) -> Exit {
    let shipped = match Shipped::parse(name) {
        Ok(s) => s,
        Err(e) => return usage(&e),
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the tokio runtime: {e}");
            return Exit::FAILED;
        }
    };
    match rt.block_on(shipped.command()) {
        Ok(c) => {
            println!("{}", c.program.display());
            Exit::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            Exit::FAILED
        }
    }
}

fn usage(e: &AdapterError) -> Exit {
    eprintln!("error: {e}");
    Exit::BAD_INPUT
}

/// Runs the conformance sequence against `cmd` and prints what it found; true when it conforms.
async fn check_one(cmd: &AdapterCommand) -> bool {
    println!(
        "adapter {}: checking against a nats-server of its own",
        cmd.label
    );
    let server = match Server::start(&ServerSpec {
        backend: Backend::Process,
        ..ServerSpec::default()
    })
    .await
    {
        Ok(s) => s,
        Err(e) => {
            println!("adapter {}: cannot start a nats-server: {e}", cmd.label);
            return false;
        }
    };
    let outcome = conformance(&server, cmd).await;
    if let Err(e) = server.stop().await {
        tracing::warn!("stopping the check's nats-server: {e}");
    }
    match outcome {
        Ok(v) if v.0.is_empty() => {
            println!("adapter {}: conforms (protocol 1)", cmd.label);
            true
        }
        Ok(v) => {
            for line in &v.0 {
                println!("  violation: {line}");
            }
            println!("adapter {}: {} violation(s)", cmd.label, v.0.len());
            false
        }
        Err(e) => {
            println!("adapter {}: the check itself failed: {e}", cmd.label);
            false
        }
    }
}

/// Violations found, each a line of text naming the offending line.
#[derive(Default)]
struct Violations(Vec<String>);

impl Violations {
    fn add(&mut self, text: impl Into<String>) {
        self.0.push(text.into());
    }
}

/// One message the check publishes, and what it expects back.
#[derive(Clone)]
struct Msg {
    subject: String,
    msg_id: Option<String>,
    tag: [u8; TAG_LEN],
    conn: usize,
    expect: Expect,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Expect {
    /// Acked, a new sequence.
    Stored,
    /// Acked with dup 1 and the sequence of message `of`'s ack.
    Duplicate { of: u64 },
    /// Failed: `d`, code 503.
    NoResponders,
}

/// What came back for one id.
#[derive(Default, Clone)]
struct Seen {
    sent: bool,
    resolved: Option<(Report, String)>,
}

/// The whole sequence: both sessions, then the read-back. `Err` only when the check could not
/// run (the server, the stream); the adapter's faults are violations.
async fn conformance(server: &Server, cmd: &AdapterCommand) -> anyhow::Result<Violations> {
    let run = format!("{:08x}", rand::random::<u32>());
    let stream_name = format!("JSB_CHECK_{}", run.to_uppercase());
    let client = tokio::time::timeout(
        OP_TIMEOUT,
        server.connect_options().await?.connect(server.url()),
    )
    .await
    .map_err(|_| anyhow::anyhow!("connecting to the check's server timed out"))??;
    let js = jetstream::new(client.clone());
    js.create_stream(stream::Config {
        name: stream_name.clone(),
        subjects: vec![format!("jsb.{run}.>")],
        storage: stream::StorageType::File,
        num_replicas: 1,
        ..Default::default()
    })
    .await?;
    let mut v = Violations::default();
    let mut acked: HashMap<u64, Msg> = HashMap::new();
    for mode in [InitMode::Sync, InitMode::Async] {
        let init = Init {
            run: run.clone(),
            connections: vec![
                vec![server.url().to_string()],
                vec![server.url().to_string()],
            ],
            token: server.credential().map(|c| c.token().to_string()),
            user: None,
            password: None,
            stream: stream_name.clone(),
            subjects: format!("jsb.{run}.>"),
            mode,
            max_pending: 1_000,
            ack_timeout_ms: ACK_TIMEOUT_MS,
            msg_id: true,
            payload_size: PAYLOAD_SIZE,
            filler: hex(&filler()),
        };
        let phase = if mode == InitMode::Sync { 's' } else { 'a' };
        let msgs = plan(
            &run,
            phase,
            if mode == InitMode::Sync {
                SYNC_MESSAGES
            } else {
                ASYNC_MESSAGES
            },
        );
        session(cmd, &init, &msgs, &mut v, &mut acked).await;
    }
    readback(&js, &stream_name, &acked, &mut v).await?;
    let _ = js.delete_stream(&stream_name).await;
    let _ = tokio::time::timeout(Duration::from_secs(2), client.drain()).await;
    Ok(v)
}

fn filler() -> Vec<u8> {
    (0..PAYLOAD_SIZE - TAG_LEN)
        .map(|i| b'a' + (i % 26) as u8)
        .collect()
}

/// `n` messages (even ones with a Msg-Id, on alternating connections), then a duplicate of the
/// first's Msg-Id, then one to a subject no stream has.
fn plan(run: &str, phase: char, n: u64) -> Vec<Msg> {
    let tag = |i: u64| -> [u8; TAG_LEN] {
        let mut t = [0u8; TAG_LEN];
        t[..4].copy_from_slice(b"JSB1");
        t[4..8].copy_from_slice(&(phase as u32).to_be_bytes());
        t[8..16].copy_from_slice(&i.to_be_bytes());
        t
    };
    let mut msgs: Vec<Msg> = (0..n)
        .map(|i| Msg {
            subject: format!("jsb.{run}.{phase}.k{}", i % 3),
            msg_id: (i % 2 == 0).then(|| format!("{run}-{phase}-{i}")),
            tag: tag(i),
            conn: (i % 2) as usize,
            expect: Expect::Stored,
        })
        .collect();
    let mut dup = msgs[0].clone();
    dup.conn = 1;
    dup.expect = Expect::Duplicate { of: 0 };
    msgs.push(dup);
    msgs.push(Msg {
        subject: format!("jsbx.{run}.{phase}.nostream"),
        msg_id: None,
        tag: tag(n + 1),
        conn: 0,
        expect: Expect::NoResponders,
    });
    msgs
}

/// One session: sync sends each message after the previous one resolved; async pipelines the
/// plain ones, then sends the duplicate and the no-stream one once they all resolved.
async fn session(
    cmd: &AdapterCommand,
    init: &Init,
    msgs: &[Msg],
    v: &mut Violations,
    acked: &mut HashMap<u64, Msg>,
) {
    let mode = init.mode.feature();
    let mut s = match Session::start(cmd, init, Clock::start()).await {
        Ok(s) => s,
        Err(e) => return v.add(format!("{mode} session: {e}")),
    };
    let h = s.hello().clone();
    if h.client.name.is_empty() || h.client.version.is_empty() {
        v.add(format!(
            "{mode} session: init_ok names no client name or version: {h:?}"
        ));
    }
    let mut seen = vec![Seen::default(); msgs.len()];
    let batches: Vec<std::ops::Range<usize>> = match init.mode {
        InitMode::Sync => (0..msgs.len()).map(|i| i..i + 1).collect(),
        InitMode::Async => vec![
            0..msgs.len() - 2,
            msgs.len() - 2..msgs.len() - 1,
            msgs.len() - 1..msgs.len(),
        ],
    };
    let mut failed = false;
    'batches: for b in batches {
        for i in b.clone() {
            let m = &msgs[i];
            if let Err(e) = s.publish(i as u64, m.conn, &m.subject, m.msg_id.as_deref(), &m.tag) {
                v.add(format!("{mode} session: {e}"));
                failed = true;
                break 'batches;
            }
        }
        if let Err(e) = collect(&mut s, b, &mut seen).await {
            v.add(format!("{mode} session: {e}"));
            failed = true;
            break;
        }
    }
    // What resolved before a failure is judged (and read back) too.
    judge(mode, msgs, &seen, v, acked);
    if failed {
        s.abort().await;
        return;
    }
    let end = s.finish().await;
    if let Some(problem) = end.violation {
        v.add(format!("{mode} session, at the end: {problem}"));
    }
    if end.killed || end.exit != Some(0) {
        v.add(format!(
            "{mode} session: after stdin closed, exit {:?}, killed {}",
            end.exit, end.killed
        ));
    }
}

/// Flushes, then reads reports until every id of `range` resolved.
async fn collect(
    s: &mut Session,
    range: std::ops::Range<usize>,
    seen: &mut [Seen],
) -> Result<(), String> {
    s.flush().await.map_err(|e| e.to_string())?;
    while range.clone().any(|i| seen[i].resolved.is_none()) {
        let r = match tokio::time::timeout(REPORT_WAIT, s.next_report()).await {
            Err(_) => {
                let open: Vec<usize> = range
                    .clone()
                    .filter(|&i| seen[i].resolved.is_none())
                    .collect();
                return Err(format!(
                    "ids {open:?} unresolved after {} s",
                    REPORT_WAIT.as_secs()
                ));
            }
            Ok(r) => r.map_err(|e| e.to_string())?,
        };
        let i = r.id() as usize;
        match &r {
            Report::Sent { .. } => seen[i].sent = true,
            _ => seen[i].resolved = Some((r, s.last_line())),
        }
    }
    Ok(())
}

/// What came back against what each message expects; acked messages go to `acked` by sequence.
fn judge(
    mode: &str,
    msgs: &[Msg],
    seen: &[Seen],
    v: &mut Violations,
    acked: &mut HashMap<u64, Msg>,
) {
    let mut seq_of: HashMap<usize, u64> = HashMap::new();
    for (i, (m, s)) in msgs.iter().zip(seen).enumerate() {
        let Some((r, line)) = &s.resolved else {
            continue;
        };
        let bad = |what: &str| format!("{mode} session, line {line:?}: {what}");
        match (m.expect, r) {
            (Expect::Stored, Report::Acked { seq, duplicate, .. }) => {
                if *duplicate {
                    v.add(bad("dup 1 for a message published once"));
                } else if *seq == 0 || acked.insert(*seq, m.clone()).is_some() {
                    v.add(bad("a sequence already acked for another message (or 0)"));
                }
                seq_of.insert(i, *seq);
            }
            (Expect::Duplicate { of }, Report::Acked { seq, duplicate, .. }) => {
                if !duplicate {
                    v.add(bad(
                        "a second publish with the same Msg-Id acked with dup 0 (expected 1)",
                    ));
                }
                if seq_of.get(&(of as usize)) != Some(seq) {
                    v.add(bad(&format!(
                        "duplicate acked with seq {seq}, not the first one's {:?}",
                        seq_of.get(&(of as usize))
                    )));
                }
            }
            (Expect::NoResponders, Report::Failed { class, code, .. }) => {
                if *class != FailClass::Definite || *code != 503 {
                    v.add(bad(
                        "a publish nobody listened to must fail d with code 503",
                    ));
                }
            }
            (want, _) => v.add(bad(&format!("expected {want:?}"))),
        }
    }
}

/// The stream holds exactly the acked messages, each as published.
async fn readback(
    js: &jetstream::Context,
    name: &str,
    acked: &HashMap<u64, Msg>,
    v: &mut Violations,
) -> anyhow::Result<()> {
    let mut stream = js.get_stream(name).await?;
    let stored = stream.info().await?.state.messages;
    if stored != acked.len() as u64 {
        v.add(format!(
            "read-back: the stream holds {stored} messages, the adapter acked {} distinct ones",
            acked.len()
        ));
    }
    let mut want = filler();
    for (seq, m) in acked {
        let got = match stream.get_raw_message(*seq).await {
            Ok(g) => g,
            Err(e) => {
                v.add(format!(
                    "read-back: seq {seq} (acked for {}) not readable: {e}",
                    m.subject
                ));
                continue;
            }
        };
        want.splice(..0, m.tag);
        let id = got
            .headers
            .get("Nats-Msg-Id")
            .map(|h| h.as_str().to_string());
        if got.subject.as_str() != m.subject
            || got.payload.as_ref() != want.as_slice()
            || id != m.msg_id
        {
            v.add(format!(
                "read-back: seq {seq} holds subject {} Msg-Id {id:?} payload {}…, expected {} Msg-Id {:?} payload {}…",
                got.subject,
                hex(&got.payload[..got.payload.len().min(TAG_LEN)]),
                m.subject,
                m.msg_id,
                hex(&m.tag)
            ));
        }
        want.drain(..TAG_LEN);
    }
    Ok(())
}
