//! `[server]`: which server, how to reach it, how to authenticate. Command-line overrides
//! (`--backend`, `--server-url`, `--image`) replace the file's values before the checks.

use crate::scenario::error::Checker;
use crate::scenario::{Overrides, ServerPlan, ServerSection};
use crate::server::{Auth, Backend, SyncInterval, MAX_NODES};

pub(super) fn validate(c: &mut Checker, s: &ServerSection, o: &Overrides) -> ServerPlan {
    let (backend, url) = endpoint(c, s, o);
    let auth = auth(c, s, backend);
    let image = o.image.clone().or_else(|| s.image.clone());
    if image.is_some() && matches!(backend, Backend::Process | Backend::External) {
        c.err(
            "server.image",
            format!(
                "is only used with backend = \"container\" or \"auto\" (backend is {:?})",
                backend.as_str()
            ),
        );
    }
    ServerPlan {
        backend,
        url,
        image,
        auth,
        nodes: nodes(c, s, backend),
        sync_interval: sync_interval(c, s, backend),
    }
}

/// `nodes`: how many nodes jsbench starts (1..=5); not for an external server, which is
/// whatever it is.
fn nodes(c: &mut Checker, s: &ServerSection, backend: Backend) -> usize {
    let n = c.range("server.nodes", s.nodes, 1, 1, MAX_NODES as i64) as usize;
    if backend == Backend::External && s.nodes.is_some() {
        c.err(
            "server.nodes",
            "applies to the servers jsbench starts: an external server or cluster is what it is (remove nodes, or use backend = \"process\", \"container\" or \"auto\")",
        );
    }
    n
}

/// `sync_interval`: "default", "always" or a duration ("2s"), for the nodes jsbench starts.
fn sync_interval(c: &mut Checker, s: &ServerSection, backend: Backend) -> SyncInterval {
    let Some(v) = s.sync_interval.as_deref() else {
        return SyncInterval::Default;
    };
    if backend == Backend::External {
        c.err(
            "server.sync_interval",
            "applies to the servers jsbench starts (an external server keeps its own setting)",
        );
    }
    match v {
        "default" => SyncInterval::Default,
        "always" => SyncInterval::Always,
        d => match humantime::parse_duration(d) {
            Ok(d) if !d.is_zero() => SyncInterval::Every(d),
            _ => {
                c.err(
                    "server.sync_interval",
                    format!("{d:?} is not allowed: \"default\", \"always\" or a duration such as \"1s\""),
                );
                SyncInterval::Default
            }
        },
    }
}

/// The backend and, for an external server, its URL: one `nats://…` URL or a comma-separated
/// seed list of them, as the nats CLI takes it. `--server-url` alone implies
/// `backend = "external"`.
fn endpoint(c: &mut Checker, s: &ServerSection, o: &Overrides) -> (Backend, Option<String>) {
    let mut backend = s.backend.unwrap_or(Backend::Auto);
    let mut url = s.url.clone();
    if let Some(b) = o.backend {
        backend = b;
    }
    if let Some(u) = &o.server_url {
        url = Some(u.clone());
        if o.backend.is_none() {
            backend = Backend::External;
        }
    }
    if backend == Backend::External && url.is_none() {
        c.err(
            "server.url",
            "is required with backend = \"external\" (e.g. \"nats://127.0.0.1:4222\")",
        );
    }
    if backend != Backend::External && url.is_some() && o.server_url.is_none() {
        c.err(
            "server.url",
            format!(
                "is only used with backend = \"external\" (backend is {:?})",
                backend.as_str()
            ),
        );
    }
    if let Some(u) = &url {
        // A seed list: every entry must parse, and the error names the one that does not.
        if let Err(e) = crate::server::seed_urls(u) {
            c.err("server.url", e.to_string());
        }
    }
    (backend, url)
}

/// Credentials: only for an external server (a server jsbench starts has its own).
fn auth(c: &mut Checker, s: &ServerSection, backend: Backend) -> Auth {
    let auth = Auth {
        creds: s.creds.clone(),
        tls_ca: s.tls_ca.clone(),
        tls_cert: s.tls_cert.clone(),
        tls_key: s.tls_key.clone(),
        user: s.user.clone(),
        password: s.password.clone(),
        token: s.token.clone(),
    };
    if backend != Backend::External && auth != Auth::default() {
        c.err(
            "server",
            "creds, tls_*, user, password and token apply only to backend = \"external\"",
        );
    }
    if auth.tls_cert.is_some() != auth.tls_key.is_some() {
        c.err(
            "server.tls_cert",
            "tls_cert and tls_key must be given together",
        );
    }
    if auth.user.is_some() != auth.password.is_some() {
        c.err("server.user", "user and password must be given together");
    }
    auth
}
