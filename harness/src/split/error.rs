//! Why a plan cannot be split: [`SplitError`] holds every reason at once, each an
//! [`Unsplittable`] that names the scenario field to change (so `jsbench check --workers N`
//! reports it like any other field error) and what would make the split possible.

use std::fmt;
use std::ops::Range;

/// One reason a plan cannot be split across the workers asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unsplittable {
    /// Zero workers.
    #[error("at least one worker is needed")]
    NoWorkers,
    /// `strategy = "single"` across several workers.
    #[error(
        "strategy = \"single\" sends every message on one connection, which cannot be shared by \
         {workers} workers; use key_affine (keeps per-key order) or round_robin with \
         connections.count >= {workers}"
    )]
    SingleConnection { workers: usize },
    /// Fewer connections than workers.
    #[error(
        "{count} connection(s) cannot be divided among {workers} workers (each needs one of its \
         own): set connections.count >= {workers}, or use fewer workers"
    )]
    FewerConnections { count: usize, workers: usize },
    /// Fewer keys than workers.
    #[error(
        "{keys} key(s) cannot be divided among {workers} workers (all of a key's messages stay \
         on one worker, so that its order means something): set workload.keys >= {workers}, or \
         use fewer workers"
    )]
    FewerKeys { keys: u32, workers: usize },
    /// A worker that no key falls to: with `key_affine`, no key maps to its connections.
    #[error(
        "worker {worker} would get connection(s) {} and no key: key_affine maps a key to \
         connection FNV-1a(name) mod {pool}, and none of the {keys} keys maps there; use more \
         keys, or fewer workers", Connections(.connections)
    )]
    IdleWorker {
        worker: usize,
        connections: Range<usize>,
        pool: usize,
        keys: u32,
    },
}

impl Unsplittable {
    /// The scenario field to change (or `workers`, the command-line value).
    pub fn field(&self) -> &'static str {
        match self {
            Unsplittable::NoWorkers => "workers",
            Unsplittable::SingleConnection { .. } => "connections.strategy",
            Unsplittable::FewerConnections { .. } => "connections.count",
            Unsplittable::FewerKeys { .. } | Unsplittable::IdleWorker { .. } => "workload.keys",
        }
    }
}

/// A plan that cannot be split across `workers`, with every reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct SplitError {
    pub workers: usize,
    pub reasons: Vec<Unsplittable>,
}

impl fmt::Display for SplitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot split across {} workers", self.workers)?;
        for r in &self.reasons {
            write!(f, "; {}: {r}", r.field())?;
        }
        Ok(())
    }
}

/// A connection range as people read it: "2" or "2–3".
struct Connections<'a>(&'a Range<usize>);

impl fmt::Display for Connections<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.len() {
            1 => write!(f, "{}", self.0.start),
            _ => write!(f, "{}–{}", self.0.start, self.0.end - 1),
        }
    }
}
