//! The distributed-run commands (issue 25): `jsbench worker` (one worker process), and what
//! `jsbench run --workers N` and `jsbench coordinate` check and need before anything runs
//! (every plan splits, asks for nothing workers cannot do yet, and has its scenario text at
//! hand for the workers; `coordinate`'s address and token are allowed).

use std::path::Path;
use std::time::Duration;

use super::Exit;
use crate::cancel::Cancel;
use crate::coord::{self, External, IndexChoice, Launch, Source, TOKEN_ENV, URL_ENV};
use crate::runner::RuntimeKind;
use crate::scenario::{Overrides, Plan};
use crate::split::{not_yet, split, Segment};

/// Where Kubernetes' Indexed Jobs put a pod's index.
pub const INDEX_ENV: &str = "JOB_COMPLETION_INDEX";

/// `jsbench worker`: a worker of the coordinator at `url` (or `$JSBENCH_COORDINATOR`), index
/// `index` (or `$JOB_COMPLETION_INDEX`, or the lowest free one), of `of` workers when given,
/// with the coordination credential from `$JSBENCH_COORDINATOR_TOKEN`.
pub fn worker(url: Option<String>, index: Option<usize>, of: Option<usize>) -> Exit {
    let Some(url) = url.or_else(|| std::env::var(URL_ENV).ok().filter(|u| !u.is_empty())) else {
        eprintln!("error: give --coordinator URL, or set {URL_ENV}");
        return Exit::BAD_INPUT;
    };
    let choice = match index {
        Some(i) => IndexChoice::Given(i),
        None => match std::env::var(INDEX_ENV) {
            Err(_) => IndexChoice::Claim,
            Ok(v) => match v.trim().parse() {
                Ok(i) => IndexChoice::Given(i),
                Err(_) => {
                    eprintln!("error: {INDEX_ENV}={v:?} is not an index (0, 1, ...)");
                    return Exit::BAD_INPUT;
                }
            },
        },
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
        tokio::spawn(super::signals::on_interrupts(move || {
            c.request();
        }));
        coord::work(&url, &token, choice, of, cancel.clone()).await
    });
    rt.shutdown_timeout(Duration::from_secs(1));
    match outcome {
        Ok(()) => Exit::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            if e.is_refusal() {
                Exit::BAD_INPUT
            } else {
                Exit::FAILED
            }
        }
    }
}

/// `jsbench coordinate`'s launch: `--listen` checked against `$JSBENCH_COORDINATOR_TOKEN`,
/// `coordinator.env` under the results root `out`; or the error to print (exit 2).
pub fn external(listen: &str, register_timeout: Duration, out: &Path) -> Result<Launch, String> {
    let token = std::env::var(TOKEN_ENV).ok();
    External::new(listen, register_timeout, token, out)
        .map(Launch::External)
        .map_err(|e| e.to_string())
}

/// A plan ready to run across workers: its segments and where it came from.
#[derive(Debug, Clone)]
pub struct Distributed {
    pub segments: Vec<Segment>,
    pub source: Source,
}

/// Every plan split across `n` workers whose coming `launch` says, or every reason one cannot
/// be (file: field: why). Workers started by someone else do one run each: `coordinate` takes
/// one plan.
pub fn prepare(
    plans: &[Plan],
    n: usize,
    overrides: &Overrides,
    launch: &Launch,
) -> Result<Vec<Distributed>, Vec<String>> {
    let mut errors = Vec::new();
    if matches!(launch, Launch::External(_)) && plans.len() != 1 {
        errors.push(format!(
            "coordinate runs one scenario once (its workers do one run each): got {} runs \
             (scenario files × --repeat)",
            plans.len()
        ));
    }
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
                launch: launch.clone(),
            },
        });
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}
