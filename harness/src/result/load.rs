//! Results: finds the runs behind paths a user names on the command line (for `jsbench report`,
//! and for anything else that reads result sets, such as a comparison).
//!
//! A path may be
//! - a run directory (holds `result.json`),
//! - a `result.json` file (any name ending in `.json` other than `suite.json`),
//! - a suite directory (holds `suite.json`, whose `runs[].result` are paths relative to it), or
//!   that `suite.json` file itself,
//! - a results root: every `*/result.json` one level down (suite directories there are skipped:
//!   their runs are already among the run directories).
//!
//! Every run is returned, including repeats of one scenario; a run named twice (e.g. a root and
//! a suite inside it) is returned once.
//!
//! The directories jsbench writes are named `<stamp>-<name>` with [`utc_stamp`], the one place
//! that format is spelled, so the runner, the suite and the report agree with what is found here.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::result::Report;

#[derive(Debug, thiserror::Error)]
pub enum ResultsError {
    #[error("{path}: no such file or directory")]
    NotFound { path: PathBuf },
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a jsbench result: {message}")]
    BadResult { path: PathBuf, message: String },
    #[error("{path}: bad suite.json: {message}")]
    BadSuite { path: PathBuf, message: String },
    #[error("{path}: no result.json here, nor in any directory one or two levels down (expected a result.json, a run or suite directory, or a results directory)")]
    NoRuns { path: PathBuf },
}

/// What a path named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathKind {
    Run,
    ResultFile,
    Suite,
    Root,
}

/// Tells what `path` is (see the module comment).
pub fn classify(path: &Path) -> Result<PathKind, ResultsError> {
    if path.is_file() {
        return Ok(if path.file_name().is_some_and(|n| n == "suite.json") {
            PathKind::Suite
        } else {
            PathKind::ResultFile
        });
    }
    if !path.is_dir() {
        return Err(ResultsError::NotFound {
            path: path.to_path_buf(),
        });
    }
    Ok(if path.join("result.json").is_file() {
        PathKind::Run
    } else if path.join("suite.json").is_file() {
        PathKind::Suite
    } else {
        PathKind::Root
    })
}

/// The suite directory a path names, if it names one.
pub fn suite_dir(path: &Path) -> Option<PathBuf> {
    match classify(path).ok()? {
        PathKind::Suite if path.is_file() => path.parent().map(Path::to_path_buf),
        PathKind::Suite => Some(path.to_path_buf()),
        _ => None,
    }
}

/// Loads every run the paths name, as `(run directory, report)`, sorted by scenario name, then
/// `started_at`, then directory. Repeats of a scenario are all returned.
pub fn collect_runs(paths: &[PathBuf]) -> Result<Vec<(PathBuf, Report)>, ResultsError> {
    let mut files: Vec<PathBuf> = Vec::new();
    for p in paths {
        match classify(p)? {
            PathKind::Run => files.push(p.join("result.json")),
            PathKind::ResultFile => files.push(p.clone()),
            PathKind::Suite => {
                let dir = if p.is_file() {
                    p.parent().unwrap_or(Path::new(".")).to_path_buf()
                } else {
                    p.clone()
                };
                files.extend(suite_results(&dir)?);
            }
            PathKind::Root => {
                let found = root_results(p)?;
                if found.is_empty() {
                    return Err(ResultsError::NoRuns { path: p.clone() });
                }
                files.extend(found);
            }
        }
    }
    let mut seen = BTreeSet::new();
    let mut runs = Vec::new();
    for f in files {
        let key = std::fs::canonicalize(&f).unwrap_or_else(|_| f.clone());
        if !seen.insert(key) {
            continue;
        }
        let report = Report::load(&f).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => ResultsError::NotFound { path: f.clone() },
            std::io::ErrorKind::InvalidData => ResultsError::BadResult {
                path: f.clone(),
                message: e.to_string(),
            },
            _ => ResultsError::Io {
                path: f.clone(),
                source: e,
            },
        })?;
        let dir = f
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        runs.push((dir, report));
    }
    runs.sort_by(|a, b| {
        (&a.1.scenario.name, &a.1.started_at, &a.0).cmp(&(
            &b.1.scenario.name,
            &b.1.started_at,
            &b.0,
        ))
    });
    Ok(runs)
}

/// The result.json files a suite.json lists, resolved against the suite directory.
fn suite_results(dir: &Path) -> Result<Vec<PathBuf>, ResultsError> {
    let path = dir.join("suite.json");
    let text = std::fs::read_to_string(&path).map_err(|source| ResultsError::Io {
        path: path.clone(),
        source,
    })?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| ResultsError::BadSuite {
        path: path.clone(),
        message: e.to_string(),
    })?;
    let runs = v
        .get("runs")
        .and_then(|r| r.as_array())
        .ok_or_else(|| ResultsError::BadSuite {
            path: path.clone(),
            message: "no \"runs\" list".into(),
        })?;
    runs.iter()
        .map(|r| {
            r.get("result")
                .and_then(|s| s.as_str())
                .map(|s| dir.join(s))
                .ok_or_else(|| ResultsError::BadSuite {
                    path: path.clone(),
                    message: "a run without a \"result\" path".into(),
                })
        })
        .collect()
}

/// Every `<root>/*/result.json`.
fn root_results(root: &Path) -> Result<Vec<PathBuf>, ResultsError> {
    let mut out = Vec::new();
    for dir in subdirs(root)? {
        let f = dir.join("result.json");
        if f.is_file() {
            out.push(f);
        } else if !dir.join("suite.json").is_file() {
            // One more level: a root of roots, e.g. a downloaded CI artifact holding
            // `candidate/<run>/`. Suite directories are skipped: their runs sit beside them.
            out.extend(
                subdirs(&dir)?
                    .into_iter()
                    .map(|d| d.join("result.json"))
                    .filter(|f| f.is_file()),
            );
        }
    }
    out.sort();
    Ok(out)
}

fn subdirs(dir: &Path) -> Result<Vec<PathBuf>, ResultsError> {
    let io = |source| ResultsError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).map_err(io)? {
        let p = e.map_err(io)?.path();
        if p.is_dir() {
            out.push(p);
        }
    }
    Ok(out)
}

/// The compact UTC stamp of `t` that starts the name of every directory jsbench writes (a run,
/// a suite, a report): `20261127T115747Z`. Sorting such names sorts them by time.
pub fn utc_stamp(t: std::time::SystemTime) -> String {
    time::OffsetDateTime::from(t)
        .format(time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixtures() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/recorded")
    }

    #[test]
    fn utc_stamp_is_compact() {
        let t = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000);
        assert_eq!(utc_stamp(t), "20270115T080000Z");
    }

    #[test]
    fn root_of_roots_is_searched_two_levels_down() {
        // A downloaded CI artifact: <root>/candidate/<run>/result.json, with a suite dir beside.
        let d = tempfile::tempdir().unwrap();
        let run = d.path().join("candidate/r1");
        std::fs::create_dir_all(&run).unwrap();
        std::fs::copy(
            fixtures().join("20261127T115747Z-single-sync-none/result.json"),
            run.join("result.json"),
        )
        .unwrap();
        std::fs::create_dir_all(d.path().join("candidate/x-suite")).unwrap();
        std::fs::write(
            d.path().join("candidate/x-suite/suite.json"),
            r#"{"schema":"jsbench.suite/1","runs":[{"result":"../r1/result.json"}]}"#,
        )
        .unwrap();
        let runs = collect_runs(&[d.path().to_path_buf()]).unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].0, run);
        // Three levels down is not searched.
        let deep = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(deep.path().join("a/b/c")).unwrap();
        std::fs::copy(
            fixtures().join("20261127T115747Z-single-sync-none/result.json"),
            deep.path().join("a/b/c/result.json"),
        )
        .unwrap();
        assert!(matches!(
            collect_runs(&[deep.path().to_path_buf()]),
            Err(ResultsError::NoRuns { .. })
        ));
    }

    #[test]
    fn root_with_repeats_returns_all_sorted() {
        let d = tempfile::tempdir().unwrap();
        let src = fixtures().join("20261127T115747Z-single-sync-none/result.json");
        let text = std::fs::read_to_string(&src).unwrap();
        // The same scenario three times, started in an order unlike the directory order.
        for (dir, started) in [
            ("c", "2026-01-01T00:00:01Z"),
            ("a", "2026-01-01T00:00:03Z"),
            ("b", "2026-01-01T00:00:02Z"),
        ] {
            let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
            v["started_at"] = started.into();
            std::fs::create_dir(d.path().join(dir)).unwrap();
            std::fs::write(d.path().join(dir).join("result.json"), v.to_string()).unwrap();
        }
        let other = fixtures().join("20261127T115755Z-single-async-none/result.json");
        std::fs::create_dir(d.path().join("z")).unwrap();
        std::fs::copy(other, d.path().join("z/result.json")).unwrap();
        // A suite dir in the root names runs already found: not counted twice.
        std::fs::create_dir(d.path().join("s-suite")).unwrap();
        std::fs::write(
            d.path().join("s-suite/suite.json"),
            r#"{"schema":"jsbench.suite/1","runs":[{"result":"../a/result.json"}]}"#,
        )
        .unwrap();
        let runs = collect_runs(&[d.path().to_path_buf(), d.path().join("s-suite")]).unwrap();
        let got: Vec<(String, String)> = runs
            .iter()
            .map(|(p, r)| {
                (
                    r.scenario.name.clone(),
                    p.file_name().unwrap().to_string_lossy().into_owned(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("single-async-none".to_string(), "z".to_string()),
                ("single-sync-none".to_string(), "c".to_string()),
                ("single-sync-none".to_string(), "b".to_string()),
                ("single-sync-none".to_string(), "a".to_string()),
            ]
        );
        assert_eq!(
            suite_dir(&d.path().join("s-suite")),
            Some(d.path().join("s-suite"))
        );
        assert_eq!(suite_dir(d.path()), None);
    }

    #[test]
    fn errors_name_the_path() {
        let e = collect_runs(&[PathBuf::from("/nonexistent/x")]).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/x"), "{e}");
        let d = tempfile::tempdir().unwrap();
        let e = collect_runs(&[d.path().to_path_buf()]).unwrap_err();
        assert!(matches!(e, ResultsError::NoRuns { .. }), "{e}");
        std::fs::write(d.path().join("bad.json"), "{}").unwrap();
        let e = collect_runs(&[d.path().join("bad.json")]).unwrap_err();
        assert!(matches!(e, ResultsError::BadResult { .. }), "{e}");
    }
}
