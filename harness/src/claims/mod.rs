//! Claims files: what people believe about publishing ("a single connection keeps order",
//! "async is 3–5× faster", "retry with Msg-Id and nothing is duplicated"), written as
//! predicates over sets of results and judged from the runs present — confirmed, refuted,
//! inconclusive, or not measured, never a guess — together with the analysis's order table.
//!
//! (A scenario's own `[expect]` block is judged per run by `checker::claims`; this module judges
//! across runs.) `claims/publish-order.toml` is the analysis's set; teams write their own.
//!
//! - `file`: the TOML format, parsed strictly;
//! - `select`: which runs a claim is about;
//! - `judge`: order, figure and ratio claims judged;
//! - `ratio`: matched pairs and the bootstrap interval of their ratio;
//! - `table`: the order table (strategy × order).

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::result::Report;

pub mod file;
pub mod judge;
pub mod ratio;
pub mod select;
pub mod table;

pub use file::{load, parse, Claim, ClaimsFile, OrderName, Test};
pub use judge::{Judgement, Outcome};
pub use select::{RunFacts, Selector};
pub use table::{OrderRow, OrderTable};

/// The answer a claims file gets from a set of runs: its order table and every claim judged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Answer {
    pub schema: &'static str,
    /// The claims file, as given.
    pub file: String,
    pub title: String,
    pub about: String,
    /// How many runs were offered (complete or not).
    pub runs: usize,
    pub table: OrderTable,
    pub judgements: Vec<Judgement>,
}

impl Answer {
    /// How many claims had each outcome, in [`Outcome`] order.
    pub fn tally(&self) -> Vec<(Outcome, usize)> {
        [
            Outcome::Confirmed,
            Outcome::Refuted,
            Outcome::Inconclusive,
            Outcome::NotMeasured,
        ]
        .into_iter()
        .map(|o| (o, self.judgements.iter().filter(|j| j.outcome == o).count()))
        .filter(|(_, n)| *n > 0)
        .collect()
    }
}

/// Judges every claim of `file` and builds the order table from `results`.
pub fn answer(file: &ClaimsFile, results: &[(PathBuf, Report)]) -> Answer {
    let runs: Vec<(RunFacts, &Report)> =
        results.iter().map(|(_, r)| (RunFacts::of(r), r)).collect();
    Answer {
        schema: "jsbench.claims/1",
        file: file.file.clone(),
        title: file.title.clone(),
        about: file.about.clone(),
        runs: results.len(),
        table: table::order_table(&runs, &file.table),
        judgements: file.claims.iter().map(|c| judge::judge(c, &runs)).collect(),
    }
}

/// The claims files of a path: the file itself, or a directory's `*.toml` sorted by name.
pub fn files_in(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    crate::scenario::files_in(path)
}
