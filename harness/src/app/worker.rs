//! The distributed-run commands (issue 25): `jsbench worker` (one worker process), and what
//! `jsbench run --workers N` checks and needs before anything runs (every plan splits, asks for
//! nothing workers cannot do yet, and has its scenario text at hand for the workers).

use std::time::Duration;

use super::Exit;
use crate::cancel::Cancel;
use crate::coord::{self, Source, TOKEN_ENV};
use crate::runner::RuntimeKind;
use crate::scenario::{Overrides, Plan};
use crate::split::{not_yet, split, Segment};

/// Where Kubernetes' Indexed Jobs put a pod's index.
pub const INDEX_ENV: &str = "JOB_COMPLETION_INDEX";

/// `jsbench worker`: worker `index` (or `$JOB_COMPLETION_INDEX`) of `of`, coordinated by
/// `url`, with the coordination credential from `$JSBENCH_COORDINATOR_TOKEN`.
pub fn worker(url: &str, index: Option<usize>, of: usize) -> Exit {
    let index = match index.or_else(|| std::env::var(INDEX_ENV).ok()?.parse().ok()) {
        Some(i) if i < of => i,
        Some(i) => {
            eprintln!("error: --index {i} is not below --of {of}");
            return Exit::BAD_INPUT;
        }
        None => {
            eprintln!("error: give --index, or set {INDEX_ENV}");
            return Exit::BAD_INPUT;
        }
    };
    let Ok(token) = std::env::var(TOKEN_ENV) else {
        eprintln!("error: {TOKEN_ENV} is not set (the coordination server's credential)");
        return Exit::BAD_INPUT;
    };
    let rt = match RuntimeKind::CurrentThread.build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the tokio runtime: {e}");
            return Exit::FAILED;
        }
    };
    let cancel = Cancel::new();
    let outcome = rt.block_on(async {
        let c = cancel.clone();
        tokio::spawn(async move {
            while tokio::signal::ctrl_c().await.is_ok() {
                c.request();
            }
        });
        coord::work(url, &token, index, of, cancel.clone()).await
    });
    rt.shutdown_timeout(Duration::from_secs(1));
    match outcome {
        Ok(()) => Exit::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            Exit::FAILED
        }
    }
}

/// A plan ready to run across workers: its segments and where it came from.
#[derive(Debug, Clone)]
pub struct Distributed {
    pub segments: Vec<Segment>,
    pub source: Source,
}

/// Every plan split across `n` workers, or every reason one cannot be (file: field: why).
pub fn prepare(
    plans: &[Plan],
    n: usize,
    overrides: &Overrides,
) -> Result<Vec<Distributed>, Vec<String>> {
    let mut errors = Vec::new();
    let mut out = Vec::new();
    for p in plans {
        let file = p
            .file
            .as_ref()
            .map_or_else(|| p.name.clone(), |f| f.display().to_string());
        for r in not_yet(p) {
            errors.push(format!(
                "{file}: {}: not with --workers yet: {r}",
                r.field()
            ));
        }
        let segments = match split(p, n) {
            Ok(s) => s,
            Err(e) => {
                for r in &e.reasons {
                    errors.push(format!(
                        "{file}: {}: cannot split across {n} workers: {r}",
                        r.field()
                    ));
                }
                continue;
            }
        };
        let text = match p.file.as_ref().map(std::fs::read_to_string) {
            Some(Ok(t)) => t,
            _ => {
                errors.push(format!(
                    "{file}: cannot read the scenario text for the workers"
                ));
                continue;
            }
        };
        out.push(Distributed {
            segments,
            source: Source {
                text,
                file,
                overrides: overrides.clone(),
            },
        });
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}
