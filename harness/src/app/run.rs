//! The run command, shared by `jsbench run` and `cargo bench`'s suite: runs validated plans one
//! after another on a runtime of their own, with Ctrl-C stopping cleanly; prints each run's
//! summary, the table and the answers of claims files; writes the suite's summary, compares with
//! a saved baseline and saves one; decides the exit code.

use std::path::PathBuf;
use std::time::Duration;

use super::{baseline, suite, Exit};
use crate::cancel::Cancel;
use crate::checker::Verdict;
use crate::claims::Answer;
use crate::compare::{self, Comparison};
use crate::render::machine::{self, Format};
use crate::render::{answer, text};
use crate::result::Report;
use crate::runner::live::LiveMode;
use crate::runner::{RunOptions, RunOutput, RuntimeKind};
use crate::scenario::Plan;

/// What makes a finished set of runs a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitPolicy {
    /// `jsbench run`: a run that did not complete, or a claim that failed.
    RunsAndClaims,
    /// `cargo bench`: only a run that did not complete. A claim that does not hold is a finding
    /// shown in the table, not a broken bench.
    Runs,
}

/// When the suite summary (summary.md, suite.json, index.html) is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SummaryPolicy {
    Always,
    /// Only for more than one run (a single `jsbench run` has its result dir, and that is all).
    WhenSeveral,
}

/// Everything the run command needs.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub plans: Vec<Plan>,
    /// The results root.
    pub out: PathBuf,
    pub runtime: RuntimeKind,
    pub format: Format,
    /// Draw progress bars (text format, on a terminal).
    pub progress: bool,
    /// The live line on stderr (`--live`); `auto` prints nothing with `--format quiet`.
    pub live: LiveMode,
    /// Compare with this saved baseline afterwards (checked before anything runs).
    pub baseline: Option<String>,
    /// Save this suite as a baseline of that name.
    pub save_baseline: Option<String>,
    /// Print the summary table with every column, not the one that fits a terminal.
    pub wide: bool,
    pub exit: ExitPolicy,
    pub summary: SummaryPolicy,
    /// Claims files judged against this run's results (validated before anything runs).
    pub claims: Vec<crate::claims::ClaimsFile>,
    /// Print the claims' answer judged from the first N runs as soon as they are done (text
    /// format), before the rest of the suite: the answer first, the final one at the end.
    pub early_answer_after: Option<usize>,
}

/// Why the run command could not do its job (as opposed to runs that failed: those are in the
/// exit code and the results).
#[derive(Debug, thiserror::Error)]
pub enum RunCommandError {
    #[error(transparent)]
    Baseline(#[from] baseline::BaselineError),
    #[error("cannot start the tokio runtime: {0}")]
    Runtime(std::io::Error),
    #[error(transparent)]
    Run(#[from] crate::runner::RunError),
    #[error("cannot write the suite summary under {dir}: {source}")]
    Summary {
        dir: PathBuf,
        source: std::io::Error,
    },
}

/// Runs the request; see the module docs.
pub fn execute(req: &RunRequest) -> Result<Exit, RunCommandError> {
    execute_with(req, None)
}

/// [`execute`], each plan published by worker processes when `workers` is given (one entry per
/// plan, from `worker::prepare`): `jsbench run --workers N`.
pub fn execute_with(
    req: &RunRequest,
    workers: Option<&[super::worker::Distributed]>,
) -> Result<Exit, RunCommandError> {
    let baselines = baseline::dir_of(&req.out);
    // Fail before an hour of runs, not after, when the baseline to compare with is not there.
    let base = match &req.baseline {
        Some(name) => Some(baseline::load(&baselines, name)?),
        None => None,
    };
    let cancel = Cancel::new();
    let outputs = run_plans(req, &cancel, workers)?;
    let rows: Vec<(PathBuf, Report)> = outputs
        .iter()
        .map(|o| (o.dir.clone(), o.report.clone()))
        .collect();
    let comparison = base.map(|b| compare::compare(&b, &rows, &compare::CompareOptions::default()));
    let answers = super::claims::answers(&req.claims, &rows);
    write_summaries(req, &outputs, &rows, comparison.as_ref(), &answers)?;
    if let Some(name) = &req.save_baseline {
        let kept = baseline::save(&baselines, name, &outputs)?;
        say(req, &format!("baseline {name:?} saved: {}", kept.display()));
    }
    match req.format {
        Format::Json => print!("{}", machine::json(&rows)),
        Format::Csv => print!("{}", machine::csv(&rows)),
        Format::Text | Format::Quiet => {}
    }
    Ok(exit_code(req.exit, &outputs, &cancel))
}

/// Runs every plan on one runtime, printing each summary as it ends (text format).
fn run_plans(
    req: &RunRequest,
    cancel: &Cancel,
    workers: Option<&[super::worker::Distributed]>,
) -> Result<Vec<RunOutput>, RunCommandError> {
    let rt = req.runtime.build().map_err(RunCommandError::Runtime)?;
    let opts = RunOptions {
        out_root: req.out.clone(),
        cancel: cancel.clone(),
        // Machine-readable output is for pipelines: no bar there either.
        progress: req.progress && req.format == Format::Text,
        live: match (req.live, req.format) {
            (LiveMode::Auto, Format::Quiet) => LiveMode::Off,
            (l, _) => l,
        },
    };
    let text_out = req.format == Format::Text;
    let mut done: Vec<(PathBuf, Report)> = Vec::new();
    let early = req
        .early_answer_after
        .filter(|n| text_out && !req.claims.is_empty() && *n < req.plans.len());
    let outputs = rt.block_on(async {
        tokio::spawn(listen_for_ctrl_c(cancel.clone()));
        suite::run_all_with(&req.plans, &opts, workers, |o| {
            if !text_out {
                print_replay(req, o);
                return;
            }
            print!("{}", text::terminal_summary(&o.report, &o.dir));
            print_replay(req, o);
            let Some(n) = early else { return };
            done.push((o.dir.clone(), o.report.clone()));
            if done.len() == n {
                print_early_answer(req, &done);
            }
        })
        .await
    });
    // Leave no runtime task behind (the Ctrl-C listener) holding the process.
    rt.shutdown_timeout(Duration::from_secs(1));
    Ok(outputs?)
}

/// A `[nemesis]` run that failed its claims or did not complete: how to replay its schedule.
fn print_replay(req: &RunRequest, o: &RunOutput) {
    let schedule = o.dir.join(crate::runner::SCHEDULE);
    let failed = o.report.verdict == Verdict::Fail || !o.report.status.is_complete();
    if failed && schedule.is_file() {
        say(req, &format!("replay:  jsbench run {}", schedule.display()));
    }
}

/// The claims judged from the runs so far, marked as such.
fn print_early_answer(req: &RunRequest, done: &[(PathBuf, Report)]) {
    let rest = req.plans.len() - done.len();
    println!(
        "\n── the answer from the first {} runs ({rest} more follow; the final answer ends the suite) ──\n",
        done.len()
    );
    for a in super::claims::answers(&req.claims, done) {
        println!("{}", answer::terminal(&a));
    }
}

/// The first Ctrl-C stops publishing and lets the run finish cleanly; the second skips the
/// waiting (drain, read-back) and goes straight to removing the server.
/// SIGTERM (`docker stop`, a pod deleted) counts as a Ctrl-C (`app::signals`).
async fn listen_for_ctrl_c(cancel: Cancel) {
    super::signals::on_interrupts(move || match cancel.request() {
        1 => eprintln!(
            "\ninterrupted: stopping publishing, finishing the run cleanly (Ctrl-C again to skip waiting)"
        ),
        _ => eprintln!("\ninterrupted again: skipping the drain and read-back, removing the server"),
    })
    .await
}

/// The table, the suite directory (summary.md, suite.json, index.html) and the comparison.
fn write_summaries(
    req: &RunRequest,
    outputs: &[RunOutput],
    rows: &[(PathBuf, Report)],
    comparison: Option<&Comparison>,
    answers: &[Answer],
) -> Result<(), RunCommandError> {
    // Claims are judged across runs: asking for them asks for the suite summary too.
    let several = outputs.len() > 1 || !answers.is_empty();
    if req.format == Format::Text && (several || req.summary == SummaryPolicy::Always) {
        let table = if req.wide {
            text::summary_table(rows)
        } else {
            text::compact_table(rows)
        };
        println!("\n{table}");
        // Under the table, each claims file's answer judged from these runs.
        for a in answers {
            println!("\n{}", answer::terminal(a));
        }
    }
    if let (Some(c), Some(name)) = (comparison, &req.baseline) {
        if req.format == Format::Text {
            println!(
                "\nagainst baseline {name:?}:\n\n{}",
                crate::render::comparison::render_table(c)
            );
        }
    }
    if !(several || req.summary == SummaryPolicy::Always || comparison.is_some()) {
        return Ok(());
    }
    let dir = suite::write_summary(&req.out, outputs, comparison, answers).map_err(|source| {
        RunCommandError::Summary {
            dir: req.out.clone(),
            source,
        }
    })?;
    say(
        req,
        &format!("summary: {}", dir.join("summary.md").display()),
    );
    say(
        req,
        &format!("report:  {}  (open this)", dir.join("index.html").display()),
    );
    Ok(())
}

/// A line for people: stdout in text format, stderr otherwise (stdout is the document).
fn say(req: &RunRequest, line: &str) {
    if req.format == Format::Text {
        println!("{line}");
    } else {
        eprintln!("{line}");
    }
}

fn exit_code(policy: ExitPolicy, outputs: &[RunOutput], cancel: &Cancel) -> Exit {
    if cancel.is_requested() {
        return Exit::INTERRUPTED;
    }
    let incomplete: Vec<&str> = outputs
        .iter()
        .filter(|o| !o.report.status.is_complete())
        .map(|o| o.report.scenario.name.as_str())
        .collect();
    if !incomplete.is_empty() {
        eprintln!("runs that did not complete: {}", incomplete.join(", "));
    }
    let claim_failed = policy == ExitPolicy::RunsAndClaims
        && outputs.iter().any(|o| o.report.verdict == Verdict::Fail);
    if !incomplete.is_empty() || claim_failed {
        Exit::FAILED
    } else {
        Exit::SUCCESS
    }
}
