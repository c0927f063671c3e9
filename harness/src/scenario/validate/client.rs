//! `[client]`: which client library publishes — async-nats in jsbench's own process (the
//! default), a shipped adapter, or the scenario's own adapter program (docs/adapters.md).
//!
//! Only the name of a shipped adapter is checked here: its program is built on first use, when a
//! run needs it, so `jsbench check` works before any toolchain is installed. A `command` is the
//! user's own program, so it must exist and be executable now. What the contract cannot carry
//! is refused: batch and fast mode (no per-message publish to drive), the per-key guard (its
//! expected-sequence header is not a line of the contract), the headers wire format (the
//! contract sends the 24-byte payload tag) and TLS or credentials files (the init message
//! carries a token or a user and password only).

use std::path::{Path, PathBuf};

use crate::scenario::error::Checker;
use crate::scenario::{
    Api, ClientAdapter, ClientPlan, ClientSection, PublishPlan, ServerPlan, Wire,
};

/// The largest `max_pending` accepted: well above any window jsbench keeps (1 000 000).
const MAX_PENDING: i64 = 10_000_000;

pub(super) fn validate(
    c: &mut Checker,
    s: &ClientSection,
    publish: &PublishPlan,
    server: &ServerPlan,
) -> ClientPlan {
    let adapter = adapter(c, s);
    // nats.go counts the publish being made against PublishAsyncMaxPending: with exactly
    // max_in_flight, jsbench's last slot would stall the client (README "Client libraries").
    let max_pending = c.range(
        "client.max_pending",
        s.max_pending,
        publish.max_in_flight as i64 + 1,
        1,
        MAX_PENDING,
    ) as u64;
    let resolve_timeout = c.duration(
        "client.resolve_timeout",
        s.resolve_timeout.as_deref(),
        publish.ack_timeout * 2,
    );
    let plan = ClientPlan {
        adapter,
        command: s.command.clone(),
        max_pending,
        resolve_timeout,
    };
    if plan.is_in_process() {
        for (field, given) in [
            ("client.max_pending", s.max_pending.is_some()),
            ("client.resolve_timeout", s.resolve_timeout.is_some()),
        ] {
            if given {
                c.err(
                    field,
                    "is for a client through an adapter (client.adapter other than \
                     \"async-nats\", or client.command); async-nats in-process uses \
                     publish.max_in_flight and publish.ack_timeout",
                );
            }
        }
    } else {
        what_adapters_cannot_do(c, publish, server);
    }
    plan
}

/// `adapter` or `command`, not both; a known name; a command that can be started.
fn adapter(c: &mut Checker, s: &ClientSection) -> ClientAdapter {
    let names = || {
        ClientAdapter::NAMES
            .iter()
            .map(|a| format!("\"{}\"", a.as_str()))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match (s.adapter.as_deref(), s.command.as_deref()) {
        (Some(_), Some(_)) => {
            c.err(
                "client.command",
                "is exclusive with client.adapter: name a shipped adapter or give your own \
                 command, not both",
            );
            ClientAdapter::Command
        }
        (None, Some(argv)) => {
            command(c, argv);
            ClientAdapter::Command
        }
        (Some(name), None) => ClientAdapter::from_name(name).unwrap_or_else(|| {
            c.err(
                "client.adapter",
                format!(
                    "{name:?} is not a known client: one of {} (or client.command = \
                     [\"prog\", \"arg\", …] for your own adapter)",
                    names()
                ),
            );
            ClientAdapter::AsyncNats
        }),
        (None, None) => ClientAdapter::AsyncNats,
    }
}

/// `command`: a non-empty argv whose program is found (a path, or a name on `PATH`) and is an
/// executable file.
fn command(c: &mut Checker, argv: &[String]) {
    let field = "client.command";
    let Some(prog) = argv.first().filter(|p| !p.is_empty()) else {
        c.err(
            field,
            "must name a program: [\"prog\", \"arg\", …] (got an empty list or name)",
        );
        return;
    };
    match resolve(prog) {
        None => c.err(
            field,
            format!(
                "program {prog:?} not found (a path relative to the working directory, or a \
                 name on PATH)"
            ),
        ),
        Some(path) if !is_executable(&path) => c.err(
            field,
            format!(
                "program {} is not executable (chmod +x it, or name its interpreter first: \
                 [\"python3\", \"{prog}\"])",
                path.display()
            ),
        ),
        Some(_) => {}
    }
}

/// The file a program name stands for: itself when it has a `/`, else the first match on
/// `PATH` (an existing file, executable or not, so the error can say which).
pub(crate) fn resolve(prog: &str) -> Option<PathBuf> {
    if prog.contains('/') {
        let p = PathBuf::from(prog);
        return p.is_file().then_some(p);
    }
    let path = std::env::var_os("PATH")?;
    let found: Vec<PathBuf> = std::env::split_paths(&path)
        .map(|d| d.join(prog))
        .filter(|p| p.is_file())
        .collect();
    found
        .iter()
        .find(|p| is_executable(p))
        .or(found.first())
        .cloned()
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// What the adapter contract cannot carry (see the module comment).
fn what_adapters_cannot_do(c: &mut Checker, publish: &PublishPlan, server: &ServerPlan) {
    use crate::scenario::Mode;
    if matches!(publish.mode, Mode::Batch | Mode::Fast) {
        c.err(
            "publish.mode",
            format!(
                "{:?} is not supported through an adapter: use \"sync\" or \"async\" (the \
                 contract drives one publish at a time; batch and fast mode are async-nats \
                 in-process only)",
                publish.mode.as_str()
            ),
        );
    }
    if publish.expect_last_subject_seq {
        c.err(
            "publish.expect_last_subject_seq",
            "is not supported through an adapter (the contract sets no header but \
             Nats-Msg-Id); remove it or use client.adapter = \"async-nats\"",
        );
    }
    if publish.repeat_msg_id_every.is_some() {
        c.err(
            "publish.repeat_msg_id_every",
            "is not supported through an adapter yet (remove it or use client.adapter = \
             \"async-nats\")",
        );
    }
    if publish.api != Api::Jetstream {
        c.err(
            "publish.api",
            format!(
                "{:?} is the in-process client's path; through an adapter the adapter's client \
                 publishes its own way. Allowed: \"jetstream\" (the default), or remove \
                 [client] for the in-process lean path",
                publish.api.as_str()
            ),
        );
    }
    if publish.wire != Wire::Payload {
        c.err(
            "publish.wire",
            format!(
                "{:?} is not supported through an adapter: the contract sends the 24-byte \
                 payload tag (wire = \"payload\")",
                publish.wire.as_str()
            ),
        );
    }
    let auth = &server.auth;
    for (field, given) in [
        ("server.creds", auth.creds.is_some()),
        ("server.tls_ca", auth.tls_ca.is_some()),
        ("server.tls_cert", auth.tls_cert.is_some()),
        ("server.tls_key", auth.tls_key.is_some()),
    ] {
        if given {
            c.err(
                field,
                "is not supported through an adapter (the init message carries a token, or a \
                 user and password, only)",
            );
        }
    }
    let tls_url = server
        .url
        .as_deref()
        .is_some_and(|u| u.split(',').any(|u| u.trim().starts_with("tls://")));
    if tls_url {
        c.err(
            "server.url",
            "tls:// is not supported through an adapter (no TLS settings in the init message)",
        );
    }
}
