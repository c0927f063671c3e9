//! `[stream]`: the stream the run creates.

use std::time::Duration;

use super::parse_bytes;
use crate::scenario::error::Checker;
use crate::scenario::{Storage, StreamPlan, StreamSection};
use crate::server::Backend;

/// `backend` and `nodes`: replicas need a cluster of at least that many nodes, one jsbench
/// starts (`server.nodes`) or an external one. `keep`: from `--keep-stream`.
pub(super) fn validate(
    c: &mut Checker,
    s: &StreamSection,
    (backend, nodes): (Backend, usize),
    keep: bool,
) -> StreamPlan {
    let replicas = c.range("stream.replicas", s.replicas, 1, 1, 5) as usize;
    if replicas > nodes && backend != Backend::External {
        c.err(
            "stream.replicas",
            format!(
                "{replicas} replicas need a cluster of at least {replicas} nodes: set server.nodes = {replicas} (now {nodes}), or use backend = \"external\" with a cluster url"
            ),
        );
    }
    let duplicate_window = c.duration(
        "stream.duplicate_window",
        s.duplicate_window.as_deref(),
        Duration::from_secs(120),
    );
    StreamPlan {
        storage: s.storage.unwrap_or(Storage::File),
        replicas,
        duplicate_window,
        max_bytes: max_bytes(c, s.max_bytes.as_ref()),
        keep,
        persist_mode: s.persist_mode,
    }
}

/// A byte count, -1 (unlimited, the default) or a size like "1GiB".
fn max_bytes(c: &mut Checker, value: Option<&toml::Value>) -> i64 {
    match value {
        None => -1,
        Some(toml::Value::Integer(v)) if *v == -1 || *v > 0 => *v,
        Some(toml::Value::String(v)) => match parse_bytes(v) {
            Some(b) => b as i64,
            None => {
                c.err(
                    "stream.max_bytes",
                    format!("{v:?} is not a size: use bytes (integer) or e.g. \"512MiB\", \"2GB\""),
                );
                -1
            }
        },
        Some(v) => {
            c.err(
                "stream.max_bytes",
                format!("{v} is not allowed: a positive number of bytes, -1 (unlimited) or a size like \"1GiB\""),
            );
            -1
        }
    }
}
