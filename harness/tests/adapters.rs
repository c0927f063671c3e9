//! The adapter contract end to end (docs/adapters.md), against real nats-servers: every faulty
//! adapter of issue 22 gets its own error, naming the offending line or exit status and quoting
//! the adapter's stderr, and leaves no process behind; the shipped adapters pass `jsbench adapter
//! check`.
//!
//! The faulty adapters are `tests/fixtures/adapters/faulty.py MODE PIDFILE`: a fake that speaks
//! the protocol (its acks are made up) and breaks it as MODE says; it writes its pid first, so
//! each test checks that very process is gone.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use jsbench::adapter::{
    AdapterCommand, AdapterError, ExitStatus, Init, InitMode, Report, Session, Shipped,
};
use jsbench::record::observe::Clock;
use jsbench::server::Server;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/adapters")
        .join(name)
}

fn init_for(server: &Server, mode: InitMode) -> Init {
    Init {
        run: "0000beef".into(),
        connections: vec![vec![server.url().to_string()]],
        token: server.credential().map(|c| c.token().to_string()),
        user: None,
        password: None,
        stream: "JSB_ADAPTER_TEST".into(),
        subjects: "jsb.0000beef.>".into(),
        mode,
        max_pending: 100,
        ack_timeout_ms: 1_000,
        msg_id: false,
        payload_size: 32,
        filler: "7a".repeat(8),
    }
}

/// `faulty.py MODE PIDFILE`, its pid file in a temp dir of its own.
fn faulty(mode: &str) -> (AdapterCommand, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    let argv = [
        fixture("faulty.py").display().to_string(),
        mode.to_string(),
        pidfile.display().to_string(),
    ];
    (AdapterCommand::user(&argv).unwrap(), dir)
}

/// The pid the fake wrote (it writes it first thing).
fn pid_of(dir: &tempfile::TempDir) -> u32 {
    let path = dir.path().join("pid");
    for _ in 0..500 {
        if let Some(pid) = std::fs::read_to_string(&path)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            return pid;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("the fake adapter never wrote {}", path.display());
}

fn assert_adapter_gone(pid: u32) {
    // SAFETY: kill(2) with signal 0 only checks for existence (a zombie counts).
    let exists = unsafe { libc::kill(pid as libc::pid_t, 0) == 0 };
    assert!(!exists, "adapter process {pid} is still there");
}

/// Starts `mode`'s fake, which must fail to start; returns the error and the fake's pid.
async fn failed_start(mode: &str) -> (AdapterError, u32) {
    let server = common::process_server().await;
    let (cmd, dir) = faulty(mode);
    let r = Session::start(&cmd, &init_for(&server, InitMode::Sync), Clock::start()).await;
    server.stop().await.unwrap();
    let e = r.err().expect("the start must fail");
    (e, pid_of(&dir))
}

/// Starts `mode`'s fake, publishes ids 0..5 (async) and reads reports until the error.
async fn failed_run(mode: &str) -> (AdapterError, u32, Vec<Report>) {
    let server = common::process_server().await;
    let (cmd, dir) = faulty(mode);
    let mut s = Session::start(&cmd, &init_for(&server, InitMode::Async), Clock::start())
        .await
        .expect("the fake answers init");
    assert_eq!(s.pid(), pid_of(&dir));
    for id in 0..5u64 {
        s.publish(id, 0, &format!("jsb.0000beef.m.k{id}"), None, &[7; 24])
            .unwrap();
    }
    s.flush().await.unwrap();
    let mut reports = Vec::new();
    let e = loop {
        match tokio::time::timeout(Duration::from_secs(30), s.next_report()).await {
            Ok(Ok(r)) => reports.push(r),
            Ok(Err(e)) => break e,
            Err(_) => panic!("no error from the {mode} fake; reports {reports:?}"),
        }
    };
    let end = s.abort().await;
    assert!(!end.killed, "the error path already ended the process");
    server.stop().await.unwrap();
    (e, pid_of(&dir), reports)
}

#[test]
fn not_found() {
    let missing = fixture("no-such-adapter").display().to_string();
    let e = AdapterCommand::user(std::slice::from_ref(&missing)).unwrap_err();
    assert!(matches!(e, AdapterError::NotFound { .. }), "{e}");
    assert!(e.to_string().contains(&missing), "{e}");
    let e = AdapterCommand::user(&["no-such-adapter-on-path".into()]).unwrap_err();
    assert!(e.to_string().ends_with("not found on PATH"), "{e}");
}

#[test]
fn not_executable() {
    let path = fixture("not-executable.sh");
    let e = AdapterCommand::user(&[path.display().to_string()]).unwrap_err();
    assert!(matches!(e, AdapterError::NotExecutable { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("not-executable.sh is not executable"),
        "{e}"
    );
}

#[tokio::test]
async fn exits_before_init() {
    let (e, pid) = failed_start("exit-before-init").await;
    match &e {
        AdapterError::ExitedBeforeInit { status, .. } => assert_eq!(*status, ExitStatus::Code(7)),
        other => panic!("{other}"),
    }
    let text = e.to_string();
    assert!(text.contains("exit status 7"), "{text}");
    assert!(
        text.contains("| faulty adapter (exit-before-init): cannot start: giving up"),
        "{text}"
    );
    assert_adapter_gone(pid);
}

#[tokio::test]
async fn never_answers_init() {
    let (e, pid) = failed_start("silent").await;
    assert!(
        matches!(e, AdapterError::NoInitAnswer { secs: 10, .. }),
        "{e}"
    );
    let text = e.to_string();
    assert!(text.contains("no answer to init within 10 s"), "{text}");
    assert!(
        text.contains("| faulty adapter (silent): read init, answering nothing"),
        "{text}"
    );
    assert_adapter_gone(pid);
}

#[tokio::test]
async fn malformed_line() {
    let (e, pid, reports) = failed_run("malformed").await;
    match &e {
        AdapterError::Malformed { line, why, .. } => {
            assert_eq!(line, "s 1 zero 1");
            assert_eq!(why, "t0 is not a decimal number");
        }
        other => panic!("{other}"),
    }
    assert!(
        e.to_string()
            .contains("| faulty adapter (malformed): about to write a bad line"),
        "{e}"
    );
    // What came before the bad line was reported: id 0's s and a.
    assert_eq!(reports.len(), 2, "{reports:?}");
    assert_adapter_gone(pid);
}

#[tokio::test]
async fn ack_of_an_id_never_sent() {
    let (e, pid, _) = failed_run("unknown-id").await;
    match &e {
        AdapterError::UnknownId { line, id, .. } => {
            assert_eq!(*id, 999);
            assert!(line.starts_with("a 999 "), "{line}");
        }
        other => panic!("{other}"),
    }
    assert!(e.to_string().contains("which jsbench never sent"), "{e}");
    assert!(
        e.to_string()
            .contains("| faulty adapter (unknown-id): started"),
        "{e}"
    );
    assert_adapter_gone(pid);
}

#[tokio::test]
async fn acked_twice() {
    let (e, pid, reports) = failed_run("twice").await;
    match &e {
        AdapterError::ReportedTwice { line, id, .. } => {
            assert_eq!(*id, 1);
            assert!(line.starts_with("a 1 "), "{line}");
        }
        other => panic!("{other}"),
    }
    assert!(
        e.to_string().contains("| faulty adapter (twice): started"),
        "{e}"
    );
    assert!(
        matches!(reports.last(), Some(Report::Acked { id: 1, .. })),
        "{reports:?}"
    );
    assert_adapter_gone(pid);
}

#[tokio::test]
async fn resolved_before_sent() {
    let (e, pid, _) = failed_run("out-of-order").await;
    match &e {
        AdapterError::OutOfOrder { line, id, .. } => {
            assert_eq!(*id, 1);
            assert!(line.starts_with("a 1 "), "{line}");
        }
        other => panic!("{other}"),
    }
    assert_adapter_gone(pid);
}

#[tokio::test]
async fn crash_mid_run() {
    let (e, pid, reports) = failed_run("crash").await;
    match &e {
        AdapterError::Crashed { status, .. } => assert_eq!(*status, ExitStatus::Code(5)),
        other => panic!("{other}"),
    }
    let text = e.to_string();
    assert!(
        text.contains("exit status 5") && text.contains("while its stdin was open"),
        "{text}"
    );
    assert!(
        text.contains("| faulty adapter (crash): crashing on purpose"),
        "{text}"
    );
    // Ids 0, 1 and 2 were resolved before the crash: their reports were all handed out.
    assert_eq!(reports.len(), 6, "{reports:?}");
    assert_adapter_gone(pid);
}

#[tokio::test]
async fn late_reports_are_counted_and_a_clean_end_is_recorded() {
    let server = common::process_server().await;
    let (cmd, dir) = faulty("ok");
    let mut s = Session::start(&cmd, &init_for(&server, InitMode::Sync), Clock::start())
        .await
        .unwrap();
    let fit = s.clock_fit().unwrap();
    s.publish(0, 0, "jsb.0000beef.m.k0", None, &[1; 24])
        .unwrap();
    // jsbench's deadline for id 0 passed before anything was read: its s and a are late.
    s.give_up(0);
    s.publish(1, 0, "jsb.0000beef.m.k1", Some("m-1"), &[2; 24])
        .unwrap();
    s.flush().await.unwrap();
    let sent = s.next_report().await.unwrap();
    let acked = s.next_report().await.unwrap();
    match (&sent, &acked) {
        (
            Report::Sent {
                id: 1,
                t0_ns,
                t1_ns,
            },
            Report::Acked {
                id: 1,
                at_ns,
                seq: 2,
                duplicate: false,
            },
        ) => {
            // On jsbench's clock: after the session started, in order.
            assert!(t0_ns <= t1_ns && t1_ns <= at_ns, "{sent:?} {acked:?}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.outstanding(), 0);
    let end = s.finish().await;
    assert_eq!(end.late_reports, 2, "{end:?}");
    assert_eq!(
        (end.exit, end.killed, end.violation.as_deref()),
        (Some(0), false, None),
        "{end:?}"
    );
    assert_eq!(end.clock_offset_ns, fit.offset_ns);
    assert!(end.clock_drift_ns.is_some());
    assert_eq!(
        end.stderr_tail.last().map(String::as_str),
        Some("faulty adapter (ok): end of input")
    );
    server.stop().await.unwrap();
    assert_adapter_gone(pid_of(&dir));
}

// ---- jsbench adapter check ----

fn adapter_check(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_jsbench"))
        .arg("adapter")
        .arg("check")
        .args(args)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code(), text)
}

/// The conformance check of one shipped adapter (building it first if it is built by a script).
fn shipped_conforms(s: Shipped) {
    if let Some(dir) = s.source_dir() {
        assert!(dir.is_dir(), "{} is missing", dir.display());
    }
    let (code, text) = adapter_check(&[s.name()]);
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains(&format!("adapter {}: conforms (protocol 1)", s.name())),
        "{text}"
    );
}

#[test]
fn async_nats_stdio_conforms() {
    shipped_conforms(Shipped::AsyncNatsStdio);
}

#[test]
fn nats_go_conforms() {
    shipped_conforms(Shipped::NatsGo);
}

#[test]
fn nats_c_conforms() {
    shipped_conforms(Shipped::NatsC);
}

#[test]
fn nats_py_conforms() {
    shipped_conforms(Shipped::NatsPy);
}

#[test]
fn check_prints_each_violation_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid").display().to_string();
    let fake = fixture("faulty.py").display().to_string();
    let (code, text) = adapter_check(&["--", &fake, "twice", &pidfile]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("violation: sync session: adapter"), "{text}");
    assert!(text.contains("reports id 1 a second time"), "{text}");
    // A fake that makes its acks up never stores anything: the read-back says so.
    assert!(
        text.contains("read-back: the stream holds 0 messages"),
        "{text}"
    );
    assert_adapter_gone(
        std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap(),
    );
}

#[test]
fn check_usage_errors_exit_2() {
    let (code, text) = adapter_check(&["nats.rs"]);
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("allowed: nats.go, nats.c, nats.py, async-nats-stdio"),
        "{text}"
    );
    let (code, text) = adapter_check(&["--", "no-such-adapter-on-path"]);
    assert_eq!(code, Some(2), "{text}");
    let (code, text) = adapter_check(&["--", &fixture("not-executable.sh").display().to_string()]);
    assert_eq!(code, Some(2), "{text}");
    let (code, text) = adapter_check(&["async-nats-stdio", "--", "cat"]);
    assert_eq!(code, Some(2), "{text}");
}
