//! Scenario files: the declarative TOML a user writes, and the validated [`Plan`] built from it.
//!
//! A scenario goes through two steps, each in its own place:
//!
//! 1. `raw/`: the TOML is parsed strictly into the `*Section` structs (unknown fields and wrong
//!    TOML types are errors with a line number). Types are loose there (strings for durations,
//!    raw values for fields that accept several forms) so that step 2 can name the field.
//! 2. `validate/`: one function per section, one file each, turns the sections into a
//!    [`Plan`], collecting every problem at once (`error.rs`), each naming the file, the field
//!    path and what is allowed.
//!
//! A `[nemesis]` section is drawn into `[[faults]]` entries during step 2
//! (`validate/nemesis.rs`); `schedule.rs` writes them out as the run's `schedule.toml`.
//!
//! The runner accepts only a [`Plan`] (`plan.rs`, plus the claims of `expect.rs`): every
//! default filled in and every value checked, so nothing downstream re-validates or guesses.
//! The Plan is recorded in result.json (`scenario.plan`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::server::Backend;

mod error;
mod expect;
mod follow;
mod plan;
mod raw;
mod schedule;
mod validate;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_publish;

pub use error::{FieldError, ScenarioError};
pub use expect::{ClaimDef, Expect, Needs, OrderClaim, Presence, Written, CLAIMS};
pub use follow::Follow;
pub use plan::{
    Amount, Api, ClientAdapter, ClientPlan, ConnectTo, ConnectionsPlan, ConsumePlan, ConsumeWhen,
    ConsumerKind, GapMode, KeyDistribution, Mode, ObservePlan, OnFail, OnInProcess, PersistMode,
    Plan, PoolModel, ProcessingDistribution, PublishPlan, Rate, RetryPlan, ServerPlan, Storage,
    Strategy, StreamPlan, Warmup, Wire, WorkloadPlan, TAG_LEN,
};
pub(crate) use raw::parse_strict;
pub use raw::{
    ClientSection, ConnectionsSection, ConsumeSection, FaultSection, NemesisSection,
    ObserveSection, PublishSection, RetrySection, Scenario, ServerSection, StreamSection,
    WorkloadSection,
};
pub use schedule::NemesisPlan;
pub use validate::{validate, DEFAULT_MAX_MESSAGES};

/// Command-line overrides, applied before validation so they are checked like file values.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub messages: Option<u64>,
    pub duration: Option<Duration>,
    pub backend: Option<Backend>,
    pub server_url: Option<String>,
    pub image: Option<String>,
    pub seed: Option<u64>,
    pub keep_stream: bool,
    pub warmup: Option<Warmup>,
    /// `--follow`: replaces `observe.follow`.
    pub follow: Option<Follow>,
    /// `--cross-check`: a following run also reads the stream back at the end and compares.
    pub cross_check: bool,
}

/// Reads, parses and validates one scenario file.
pub fn load(path: &Path, overrides: &Overrides) -> Result<Plan, ScenarioError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        ScenarioError::one(&file, None, String::new(), format!("cannot read file: {e}"))
    })?;
    let mut plan = parse(&text, &file, overrides)?;
    plan.file = Some(path.to_path_buf());
    // Again, now that it can name the file it comes from.
    with_schedule(&mut plan, &text, overrides);
    Ok(plan)
}

/// Parses and validates scenario text; `file` names it in errors.
pub fn parse(text: &str, file: &str, overrides: &Overrides) -> Result<Plan, ScenarioError> {
    let scenario = raw::parse(text, file)?;
    let mut plan = validate(&scenario, file, overrides)?;
    with_schedule(&mut plan, text, overrides);
    Ok(plan)
}

/// `[nemesis]`: the text of the run's `schedule.toml`.
fn with_schedule(plan: &mut Plan, text: &str, overrides: &Overrides) {
    if let Some(s) = schedule::render(text, plan, overrides) {
        if let Some(n) = plan.nemesis.as_mut() {
            n.schedule = s;
        }
    }
}

/// Lists the scenario files of a path: the file itself, or a directory's `*.toml` sorted by name.
pub fn files_in(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        files.sort();
        Ok(files)
    } else if path.exists() {
        Ok(vec![path.to_path_buf()])
    } else {
        Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{}: no such file or directory", path.display()),
        ))
    }
}
