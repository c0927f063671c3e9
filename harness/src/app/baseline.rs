//! Named baselines: a suite's results kept under `<results>/baselines/<name>/` (result.json and
//! latency logs of every run), to compare later suites with — the same names criterion uses
//! (`--save-baseline NAME`, `--baseline NAME`), from `jsbench run` and from `cargo bench`.

use std::path::{Path, PathBuf};

use crate::compare;
use crate::result::Report;
use crate::runner::RunOutput;

/// Why a baseline could not be loaded or saved.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error(
        "no baseline {name:?} in {dir} (saved baselines: {known}); save one with `--save-baseline {name}`"
    )]
    Missing {
        name: String,
        dir: PathBuf,
        known: String,
    },
    #[error("baseline {name:?}: {source}")]
    Unreadable {
        name: String,
        source: compare::CompareError,
    },
    #[error("--save-baseline: {0:?} is not a plain name (no '/', '\\\\', no leading '.')")]
    BadName(String),
    #[error("cannot save baseline {name:?} in {dir}: {source}")]
    Io {
        name: String,
        dir: PathBuf,
        source: std::io::Error,
    },
}

/// Where baselines live for a results directory.
pub fn dir_of(results: &Path) -> PathBuf {
    results.join("baselines")
}

/// The runs of baseline `name` under `baselines`.
pub fn load(baselines: &Path, name: &str) -> Result<Vec<(PathBuf, Report)>, BaselineError> {
    let dir = baselines.join(name);
    if !dir.is_dir() {
        return Err(BaselineError::Missing {
            name: name.to_string(),
            dir: baselines.to_path_buf(),
            known: known(baselines),
        });
    }
    compare::load_set(&dir).map_err(|source| BaselineError::Unreadable {
        name: name.to_string(),
        source,
    })
}

fn known(baselines: &Path) -> String {
    let names: Vec<String> = std::fs::read_dir(baselines)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.path().is_dir())
                .map(|e| e.file_name().to_string_lossy().to_string())
                .filter(|n| !n.starts_with('.'))
                .collect()
        })
        .unwrap_or_default();
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

/// Copies every run's result.json and latency logs to `<baselines>/<name>/<run dir>/`, built
/// beside the old baseline and swapped in by rename, so a failure never leaves half a baseline.
pub fn save(baselines: &Path, name: &str, outputs: &[RunOutput]) -> Result<PathBuf, BaselineError> {
    if name.contains(['/', '\\']) || name.starts_with('.') || name.is_empty() {
        return Err(BaselineError::BadName(name.to_string()));
    }
    let io = |source| BaselineError::Io {
        name: name.to_string(),
        dir: baselines.to_path_buf(),
        source,
    };
    std::fs::create_dir_all(baselines).map_err(io)?;
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}-"))
        .tempdir_in(baselines)
        .map_err(io)?;
    for o in outputs {
        copy_run(&o.dir, tmp.path()).map_err(io)?;
    }
    let dest = baselines.join(name);
    let old = baselines.join(format!(".{name}-old"));
    if dest.exists() {
        let _ = std::fs::remove_dir_all(&old);
        std::fs::rename(&dest, &old).map_err(io)?;
    }
    std::fs::rename(tmp.keep(), &dest).map_err(io)?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(dest)
}

/// Copies one run's result.json and `*.hlog` into `<into>/<run dir name>/`.
fn copy_run(run: &Path, into: &Path) -> std::io::Result<()> {
    let to = into.join(run.file_name().unwrap_or_default());
    std::fs::create_dir_all(&to)?;
    for e in std::fs::read_dir(run)? {
        let p = e?.path();
        let file = p
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        if file == "result.json" || file.ends_with(".hlog") {
            std::fs::copy(&p, to.join(&file))?;
        }
    }
    Ok(())
}
