//! Suites: several scenario files (or directories of them) run one after another.
//!
//! Every file is validated before anything runs, so a typo in the last file does not cost the
//! time of the first runs. The suite ends with the summary table (also written as `summary.md`
//! and `suite.json` in `<out>/<UTC timestamp>-suite/`, beside `index.html`: the HTML report with
//! charts).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::Serialize;

use crate::claims::Answer;
use crate::compare::Comparison;

use crate::result::{self, Report};
use crate::runner::{self, RunOptions, RunOutput};
use crate::scenario::{self, FieldError, Overrides, Plan, ScenarioError};

/// Expands files and directories into scenario files, then loads and validates all of them.
/// Returns every error of every file.
pub fn load_all(paths: &[PathBuf], overrides: &Overrides) -> Result<Vec<Plan>, ScenarioError> {
    let mut errors: Vec<FieldError> = Vec::new();
    let mut plans = Vec::new();
    for p in paths {
        let files = match scenario::files_in(p) {
            Ok(f) => f,
            Err(e) => {
                errors.push(FieldError {
                    file: p.display().to_string(),
                    line: None,
                    field: String::new(),
                    message: e.to_string(),
                });
                continue;
            }
        };
        if files.is_empty() {
            errors.push(FieldError {
                file: p.display().to_string(),
                line: None,
                field: String::new(),
                message: "no *.toml scenario files in this directory".into(),
            });
        }
        for f in files {
            match scenario::load(&f, overrides) {
                Ok(plan) => plans.push(plan),
                Err(e) => errors.extend(e.errors),
            }
        }
    }
    let mut seen = std::collections::BTreeMap::new();
    for plan in &plans {
        let file = plan
            .file
            .as_ref()
            .map(|f| f.display().to_string())
            .unwrap_or_default();
        if let Some(first) = seen.insert(plan.name.clone(), file.clone()) {
            errors.push(FieldError {
                file,
                line: None,
                field: "name".into(),
                message: format!(
                    "{:?} is also the name of {first}; names must be unique in a run",
                    plan.name
                ),
            });
        }
    }
    if errors.is_empty() {
        Ok(plans)
    } else {
        Err(ScenarioError { errors })
    }
}

#[derive(Serialize)]
struct SuiteEntry<'a> {
    scenario: &'a str,
    result: String,
    status: &'a str,
    verdict: &'a str,
}

/// The plans of `repeat` rounds: every scenario once per round, rounds one after another
/// (A1 B1 A2 B2, not A1 A2 B1 B2), so a slow drift of the machine spreads over all scenarios
/// instead of biasing one. Each copy carries its repetition number; the seed stays the same, so
/// repeats differ only by the noise a comparison has to judge.
pub fn repeated(plans: &[Plan], repeat: u32) -> Vec<Plan> {
    if repeat <= 1 {
        return plans.to_vec();
    }
    let mut out = Vec::with_capacity(plans.len() * repeat as usize);
    for k in 1..=repeat {
        for p in plans {
            let mut p = p.clone();
            p.repetition = Some(k);
            out.push(p);
        }
    }
    out
}

/// Runs plans in order; stops early (without starting the next) once a cancel is requested.
/// `each` sees every finished run (to print its summary).
pub async fn run_all(
    plans: &[Plan],
    opts: &RunOptions,
    each: impl FnMut(&RunOutput),
) -> Result<Vec<RunOutput>, runner::RunError> {
    run_all_with(plans, opts, None, each).await
}

/// [`run_all`], each plan's measured phase published by worker processes when `workers` is
/// given (one entry per plan, from `worker::prepare`).
pub async fn run_all_with(
    plans: &[Plan],
    opts: &RunOptions,
    workers: Option<&[super::worker::Distributed]>,
    mut each: impl FnMut(&RunOutput),
) -> Result<Vec<RunOutput>, runner::RunError> {
    let mut out = Vec::new();
    for (i, plan) in plans.iter().enumerate() {
        if opts.cancel.is_requested() {
            break;
        }
        let r = match workers.and_then(|w| w.get(i)) {
            Some(d) => crate::coord::run(plan, opts, &d.source, d.segments.clone()).await?,
            None => runner::run(plan, opts).await?,
        };
        each(&r);
        out.push(r);
    }
    Ok(out)
}

/// Writes `summary.md`, `suite.json` and `index.html` (charts) for a suite run, and with a
/// comparison against a baseline also `compare.md` (its table, also appended to summary.md);
/// returns the directory.
pub fn write_summary(
    root: &Path,
    outputs: &[RunOutput],
    comparison: Option<&Comparison>,
    answers: &[Answer],
) -> std::io::Result<PathBuf> {
    let stamp = result::load::utc_stamp(SystemTime::now());
    let mut dir = root.join(format!("{stamp}-suite"));
    let mut n = 2;
    while dir.exists() {
        dir = root.join(format!("{stamp}-suite-{n}"));
        n += 1;
    }
    std::fs::create_dir_all(&dir)?;
    let rows: Vec<(PathBuf, Report)> = outputs
        .iter()
        .map(|o| (o.dir.clone(), o.report.clone()))
        .collect();
    let table = crate::render::text::summary_table(&rows);
    let mut md = String::from("# jsbench suite\n\n");
    // The answer first: each claims file's order table and claims, then the table of runs.
    for a in answers {
        md.push_str(&crate::render::answer::markdown(a));
        md.push('\n');
    }
    write_answers(&dir, &rows, answers)?;
    md.push_str(&table);
    md.push_str("\nCharts and per-run details: [index.html](index.html)\n");
    if let Some(c) = comparison {
        let table = crate::render::comparison::render_table(c);
        result::write_atomic(&dir.join("compare.md"), table.as_bytes())?;
        md.push_str("\n## Against the baseline\n\n");
        md.push_str(&table);
    }
    md.push_str("\nResults:\n\n");
    for o in outputs {
        md.push_str(&format!(
            "- {}: {}\n",
            o.report.scenario.name,
            relative(&dir, &o.dir.join("result.json"))
        ));
    }
    result::write_atomic(&dir.join("summary.md"), md.as_bytes())?;
    let entries: Vec<SuiteEntry> = outputs
        .iter()
        .map(|o| SuiteEntry {
            scenario: &o.report.scenario.name,
            result: relative(&dir, &o.dir.join("result.json")),
            status: o.report.status.as_str(),
            verdict: o.report.verdict.as_str(),
        })
        .collect();
    let json = serde_json::to_vec_pretty(&serde_json::json!({
        "schema": "jsbench.suite/1",
        "runs": entries,
    }))
    .map_err(std::io::Error::other)?;
    result::write_atomic(&dir.join("suite.json"), &json)?;
    crate::render::html::write_report(
        &dir,
        &rows,
        comparison,
        answers,
        &format!("jsbench suite {stamp}"),
    )
    .map_err(std::io::Error::other)?;
    Ok(dir)
}

/// `claims.json` and `claims.md` (every answer), and each answer's charts as standalone SVG
/// files under `charts/`.
fn write_answers(
    dir: &Path,
    rows: &[(PathBuf, Report)],
    answers: &[Answer],
) -> std::io::Result<()> {
    if answers.is_empty() {
        return Ok(());
    }
    let mut json = serde_json::to_vec_pretty(answers).map_err(std::io::Error::other)?;
    json.push(b'\n');
    result::write_atomic(&dir.join("claims.json"), &json)?;
    let md: Vec<String> = answers
        .iter()
        .map(crate::render::answer::markdown)
        .collect();
    result::write_atomic(&dir.join("claims.md"), md.join("\n").as_bytes())?;
    for a in answers {
        for c in crate::render::chart::strategy_charts(rows, a) {
            if let Ok(svg) = &c.svg {
                result::write_atomic(&dir.join("charts").join(c.file), svg.as_bytes())?;
            }
        }
    }
    Ok(())
}

/// `to` relative to `from_dir` when both sit under the same results root (`../<run>/result.json`).
fn relative(from_dir: &Path, to: &Path) -> String {
    match (from_dir.parent(), to.parent().and_then(|p| p.parent())) {
        (Some(a), Some(b)) if a == b => {
            let rest = to.strip_prefix(b).unwrap_or(to);
            format!("../{}", rest.display())
        }
        _ => to.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_is_validated_as_a_whole() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("a.toml"),
            "name = \"a\"\n[workload]\nmessages = 5\n",
        )
        .unwrap();
        std::fs::write(
            d.path().join("b.toml"),
            "name = \"a\"\n[workload]\nmessages = 0\n",
        )
        .unwrap();
        std::fs::write(
            d.path().join("c.toml"),
            "name = \"c\"\n[workload]\nbogus = 1\n",
        )
        .unwrap();
        let e = load_all(&[d.path().to_path_buf()], &Overrides::default()).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("b.toml: workload.messages: must be between 1"),
            "{text}"
        );
        assert!(
            text.contains("c.toml:3: workload.bogus: unknown field"),
            "{text}"
        );
        assert_eq!(e.errors.len(), 2, "{text}");
    }

    #[test]
    fn duplicate_names_are_rejected() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("a.toml"),
            "name = \"same\"\n[workload]\nmessages = 5\n",
        )
        .unwrap();
        std::fs::write(
            d.path().join("b.toml"),
            "name = \"same\"\n[workload]\nmessages = 5\n",
        )
        .unwrap();
        let e = load_all(&[d.path().to_path_buf()], &Overrides::default()).unwrap_err();
        assert!(e.to_string().contains("names must be unique"));
    }

    #[test]
    fn repeats_interleave_rounds() {
        let d = tempfile::tempdir().unwrap();
        for n in ["a", "b"] {
            std::fs::write(
                d.path().join(format!("{n}.toml")),
                format!("name = \"{n}\"\n[workload]\nmessages = 5\n"),
            )
            .unwrap();
        }
        let plans = load_all(&[d.path().to_path_buf()], &Overrides::default()).unwrap();
        let r = repeated(&plans, 3);
        let got: Vec<(String, Option<u32>)> =
            r.iter().map(|p| (p.name.clone(), p.repetition)).collect();
        assert_eq!(got.len(), 6);
        assert_eq!(got[0], ("a".into(), Some(1)));
        assert_eq!(got[1], ("b".into(), Some(1)));
        assert_eq!(got[5], ("b".into(), Some(3)));
        assert!(r.iter().all(|p| p.seed == plans[0].seed || p.name == "b"));
        assert_eq!(repeated(&plans, 1)[0].repetition, None);
    }

    #[test]
    fn missing_path_is_an_error() {
        let e = load_all(&[PathBuf::from("/nonexistent/x")], &Overrides::default()).unwrap_err();
        assert!(e.to_string().contains("no such file"));
    }
}
