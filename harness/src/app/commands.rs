//! The small commands: `check` (scenario files; `--workers N` splits them too) and `list`, `compare` (baseline vs candidate),
//! `report` (an HTML report for any results) and `fetch-server` (the process backend's binary).

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::{suite, Exit};
use crate::compare::{self, CompareOptions};
use crate::render::{comparison, html};
use crate::result::{load, write_atomic};
use crate::scenario::{self, FieldError, Overrides, ScenarioError};
use crate::split;

/// `jsbench check`: validates every file; with `workers`, also splits each plan across that
/// many workers (`split::split`) and prints each worker's segment and the faults the
/// coordinator runs; what workers cannot do yet (`split::not_yet`) is an error, as for `run`.
/// 0 when every file is valid (and splits), 2 otherwise: each problem names the file, the field
/// and why.
pub fn check(paths: &[PathBuf], workers: Option<usize>) -> Exit {
    let plans = match suite::load_all(paths, &Overrides::default()) {
        Ok(plans) => plans,
        Err(e) => return bad_scenarios(&e),
    };
    let mut unsplittable = Vec::new();
    for p in &plans {
        let file = p
            .file
            .as_ref()
            .map(|f| f.display().to_string())
            .unwrap_or_default();
        let Some(n) = workers else {
            println!("ok  {file}  ({})", p.name);
            continue;
        };
        // What workers cannot do yet is refused as `run --workers` refuses it.
        let not_yet = split::not_yet(p);
        unsplittable.extend(not_yet.iter().map(|r| FieldError {
            file: file.clone(),
            line: None,
            field: r.field().to_string(),
            message: format!("not with --workers yet: {r}"),
        }));
        match split::split(p, n) {
            Ok(segments) if not_yet.is_empty() => {
                println!("ok  {file}  ({}) across {n} worker(s)", p.name);
                for s in &segments {
                    println!("    {}", segment_line(s));
                }
                for f in &p.faults {
                    println!(
                        "    fault {} ({}): run by the coordinator",
                        f.name,
                        f.fault.kind().as_str()
                    );
                }
            }
            Ok(_) => {}
            Err(e) => unsplittable.extend(e.reasons.iter().map(|r| FieldError {
                file: file.clone(),
                line: None,
                field: r.field().to_string(),
                message: format!("cannot split across {n} workers: {r}"),
            })),
        }
    }
    if unsplittable.is_empty() {
        Exit::SUCCESS
    } else {
        bad_scenarios(&ScenarioError {
            errors: unsplittable,
        })
    }
}

fn bad_scenarios(e: &ScenarioError) -> Exit {
    eprintln!("{e}");
    eprintln!(
        "{} error(s); see scenarios/README.md for every field",
        e.errors.len()
    );
    Exit::BAD_INPUT
}

/// One worker's segment in a line: `worker 0: 8 keys (k0 k2 k4 …), connections 0–1, 5,012
/// messages (50.1%), 1,002 msgs/s`.
fn segment_line(s: &split::Segment) -> String {
    let shown: Vec<String> = s.keys.iter().take(6).map(|k| format!("k{k}")).collect();
    let more = if s.keys.len() > shown.len() {
        " …"
    } else {
        ""
    };
    let conns = match s.connections.len() {
        1 => format!("connection {}", s.connections.start),
        _ => format!(
            "connections {}–{}",
            s.connections.start,
            s.connections.end - 1
        ),
    };
    let mut line = format!(
        "worker {}: {} key(s) ({}{more}), {conns}",
        s.worker,
        s.keys.len(),
        shown.join(" ")
    );
    match s.messages {
        Some(m) => line.push_str(&format!(", {m} messages ({:.1}%)", s.share * 100.0)),
        None => line.push_str(&format!(", {:.1}% of the messages", s.share * 100.0)),
    }
    if let Some(r) = s.rate {
        line.push_str(&format!(", {r:.0} msgs/s"));
    }
    line
}

/// `jsbench list`: every scenario of a directory with its description, names aligned.
pub fn list(path: &Path) -> Exit {
    let files = match scenario::files_in(path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return Exit::BAD_INPUT;
        }
    };
    let mut bad = false;
    let mut plans = Vec::new();
    for f in files {
        match scenario::load(&f, &Overrides::default()) {
            Ok(p) => plans.push(p),
            Err(e) => {
                bad = true;
                eprintln!("{e}");
            }
        }
    }
    let width = plans.iter().map(|p| p.name.len()).max().unwrap_or(0);
    for p in &plans {
        println!("{:<width$}  {}", p.name, p.description);
    }
    if bad {
        Exit::BAD_INPUT
    } else {
        Exit::SUCCESS
    }
}

/// What `jsbench compare` is asked to do.
#[derive(Debug, Clone)]
pub struct CompareRequest {
    pub baseline: PathBuf,
    pub candidate: PathBuf,
    pub options: CompareOptions,
    pub json: Option<PathBuf>,
    pub gh_bench_dir: Option<PathBuf>,
    pub markdown: Option<PathBuf>,
}

/// Why a command could not do its job; each names what it was working on.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("{side}: {source}")]
    Input {
        side: &'static str,
        source: compare::CompareError,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the HTML report: {0}")]
    Html(#[from] html::HtmlError),
    #[error("{0}")]
    Claims(crate::scenario::ScenarioError),
}

impl CommandError {
    /// Bad input is exit 2; a file that cannot be written is 1.
    pub fn exit(&self) -> Exit {
        match self {
            CommandError::Input { .. } | CommandError::Claims(_) => Exit::BAD_INPUT,
            _ => Exit::FAILED,
        }
    }
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), CommandError> {
    write_atomic(path, bytes).map_err(|source| CommandError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// `jsbench compare`: 0 no regression, 1 a regression, 3 refused (the environments differ);
/// errors for bad input.
pub fn compare(req: &CompareRequest) -> Result<Exit, CommandError> {
    let base = compare::load_set(&req.baseline).map_err(|source| CommandError::Input {
        side: "baseline",
        source,
    })?;
    let cand = compare::load_set(&req.candidate).map_err(|source| CommandError::Input {
        side: "candidate",
        source,
    })?;
    let c = compare::compare(&base, &cand, &req.options);
    let table = comparison::render_table(&c);
    print!("{table}");
    if let Some(path) = &req.markdown {
        write_file(path, table.as_bytes())?;
    }
    if let Some(path) = &req.json {
        let json = serde_json::to_vec_pretty(&c).map_err(|e| CommandError::Write {
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        write_file(path, &json)?;
    }
    if let Some(dir) = &req.gh_bench_dir {
        let (bigger, smaller) = comparison::gh_benchmark_json(&c);
        for (name, v) in [
            ("bigger-is-better.json", bigger),
            ("smaller-is-better.json", smaller),
        ] {
            let bytes = serde_json::to_vec_pretty(&v).unwrap_or_default();
            write_file(&dir.join(name), &bytes)?;
        }
    }
    Ok(if c.refused {
        Exit::REFUSED
    } else if c.regressions > 0 {
        Exit::FAILED
    } else {
        Exit::SUCCESS
    })
}

/// What `jsbench report` is asked to do.
#[derive(Debug, Clone)]
pub struct ReportRequest {
    pub paths: Vec<PathBuf>,
    pub out: Option<PathBuf>,
    pub title: Option<String>,
    pub baseline: Option<PathBuf>,
    pub min_runs: usize,
    /// Claims files whose answers open the page.
    pub claims: Vec<PathBuf>,
}

/// `jsbench report`: writes index.html and prints its path.
pub fn report(req: &ReportRequest) -> Result<Exit, CommandError> {
    let claims = super::claims::load_all(&req.claims).map_err(CommandError::Claims)?;
    let runs = load::collect_runs(&req.paths).map_err(|e| CommandError::Input {
        side: "results",
        source: e.into(),
    })?;
    let stamp = load::utc_stamp(SystemTime::now());
    let suites: Vec<PathBuf> = req
        .paths
        .iter()
        .filter_map(|p| load::suite_dir(p))
        .collect();
    let dir = match (&req.out, suites.as_slice()) {
        (None, [suite]) if req.paths.len() == 1 => suite.clone(),
        (out, _) => out
            .clone()
            .unwrap_or_else(|| PathBuf::from("results"))
            .join(format!("{stamp}-report")),
    };
    let title = req
        .title
        .clone()
        .unwrap_or_else(|| format!("jsbench report {stamp}"));
    let comparison = match &req.baseline {
        Some(b) => {
            let base = compare::load_set(b).map_err(|source| CommandError::Input {
                side: "baseline",
                source,
            })?;
            let opts = CompareOptions {
                min_runs: req.min_runs,
                ..Default::default()
            };
            Some(compare::compare(&base, &runs, &opts))
        }
        None => None,
    };
    let answers = super::claims::answers(&claims, &runs);
    let path = html::write_report(&dir, &runs, comparison.as_ref(), &answers, &title)?;
    eprintln!("{} run(s)", runs.len());
    println!("{}", path.display());
    Ok(Exit::SUCCESS)
}

/// `jsbench fetch-server`: prints the nats-server binary's path, fetching it if needed.
pub fn fetch_server() -> Exit {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the tokio runtime: {e}");
            return Exit::FAILED;
        }
    };
    match rt.block_on(crate::server::find_or_fetch_binary()) {
        Ok((path, source)) => {
            eprintln!("{source}");
            println!("{}", path.display());
            Exit::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            Exit::FAILED
        }
    }
}
