//! The scenario suite as a bench: `cargo bench` runs every scenario of scenarios/ against its own
//! ephemeral server and writes results/ plus the summary table.
//!
//! Profiles (JSBENCH_PROFILE):
//! - `quick` (default): each scenario without faults or a consume side shortened to 50k
//!   messages (async) or 5k (sync), so the whole matrix takes a few minutes on a laptop; fault
//!   and consume scenarios are written short (in time, or paced for their workers), so they run
//!   as written;
//! - `full`: the scenario files exactly as written.
//!
//! JSBENCH_SCENARIOS overrides the directory (or file); JSBENCH_RESULTS the output directory;
//! JSBENCH_REPEAT=N runs every scenario N times in rounds (what `jsbench compare` needs to judge
//! noise; default 1).
//! Claims that do not hold are reported in the table (that is a finding, not a bench failure);
//! a run that fails or stops early makes the bench exit non-zero.
//!
//! Baselines, named like criterion's (and given the same way, so one `cargo bench -- …` line
//! serves every bench):
//! - `cargo bench -- --save-baseline NAME` keeps this suite's results (result.json and latency
//!   logs) as `<results>/baselines/NAME/`, replacing an older one of that name;
//! - `cargo bench -- --baseline NAME` compares this suite with it (`jsbench compare`'s rule and
//!   default thresholds) and puts the comparison in summary.md, compare.md and index.html.
//!
//! The suite dir's `index.html` is the one file to open afterwards.

use std::path::PathBuf;
use std::time::Duration;

use jsbench::app::suite;
use jsbench::cancel::Cancel;
use jsbench::compare;
use jsbench::render::text;
use jsbench::runner::RunOptions;
use jsbench::scenario::{Amount, Mode, Overrides, Warmup};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    // `cargo test --benches` runs this without --bench: do nothing then.
    if !std::env::args().any(|a| a == "--bench") {
        return Ok(());
    }
    // Benches run in harness/; the suite lives at the workspace root.
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default();
    let scenarios = std::env::var_os("JSBENCH_SCENARIOS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("scenarios"));
    let results = std::env::var_os("JSBENCH_RESULTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("results"));
    let save_baseline = arg_value("--save-baseline")?;
    let baseline = arg_value("--baseline")?;
    let baselines = results.join("baselines");
    // Fail before an hour of runs, not after, when the baseline to compare with is not there.
    let base_runs = match &baseline {
        Some(name) => Some(load_baseline(&baselines, name)?),
        None => None,
    };
    let profile = std::env::var("JSBENCH_PROFILE").unwrap_or_else(|_| "quick".into());
    anyhow::ensure!(
        profile == "quick" || profile == "full",
        "JSBENCH_PROFILE must be quick or full (got {profile:?})"
    );

    let mut plans = suite::load_all(std::slice::from_ref(&scenarios), &Overrides::default())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if profile == "quick" {
        // Fault and consume scenarios are written short (in time, or paced for their workers)
        // already: kept as they are.
        for p in plans
            .iter_mut()
            .filter(|p| p.faults.is_empty() && p.consume.is_none())
        {
            let (n, w) = match p.publish.mode {
                Mode::Sync => (5_000, 200),
                Mode::Async => (50_000, 5_000),
            };
            p.workload.amount = Amount::Messages(n);
            p.workload.warmup = Warmup::Messages(w);
        }
    }
    let repeat: u32 = match std::env::var("JSBENCH_REPEAT") {
        Ok(v) => v
            .parse()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| anyhow::anyhow!("JSBENCH_REPEAT must be 1..=100 (got {v:?})"))?,
        Err(_) => 1,
    };
    let scenario_count = plans.len();
    let plans = suite::repeated(&plans, repeat);
    println!(
        "jsbench suite: {scenario_count} scenarios × {repeat} from {} ({profile} profile) → {}",
        scenarios.display(),
        results.display()
    );

    // The same runtime as `jsbench run` (JSBENCH_RUNTIME=multi_thread to compare).
    let rt = std::env::var("JSBENCH_RUNTIME")
        .ok()
        .and_then(|s| jsbench::runner::RuntimeKind::parse(&s))
        .unwrap_or_default()
        .build()?;
    let cancel = Cancel::new();
    let opts = RunOptions {
        out_root: results.clone(),
        cancel: cancel.clone(),
        progress: true,
    };
    let outputs = rt.block_on(async {
        let c = cancel.clone();
        tokio::spawn(async move {
            while tokio::signal::ctrl_c().await.is_ok() {
                c.request();
            }
        });
        suite::run_all(&plans, &opts, |o| {
            print!("{}", text::terminal_summary(&o.report, &o.dir));
        })
        .await
    })?;
    rt.shutdown_timeout(Duration::from_secs(1));

    let rows: Vec<_> = outputs
        .iter()
        .map(|o| (o.dir.clone(), o.report.clone()))
        .collect();
    println!("\n{}", text::summary_table(&rows));
    let comparison = base_runs.map(|base| {
        let cand: Vec<_> = outputs
            .iter()
            .map(|o| (o.dir.clone(), o.report.clone()))
            .collect();
        compare::compare(&base, &cand, &compare::CompareOptions::default())
    });
    if let (Some(c), Some(name)) = (&comparison, &baseline) {
        println!(
            "\nagainst baseline {name:?}:\n\n{}",
            compare::render_table(c)
        );
    }
    let dir = suite::write_summary(&results, &outputs, comparison.as_ref())?;
    println!("summary: {}", dir.join("summary.md").display());
    println!("report:  {}  (open this)", dir.join("index.html").display());
    if let Some(name) = &save_baseline {
        let kept = save_as_baseline(&baselines, name, &outputs)?;
        println!("baseline {name:?} saved: {}", kept.display());
    }
    let bad: Vec<&str> = outputs
        .iter()
        .filter(|o| !o.report.status.is_complete())
        .map(|o| o.report.scenario.name.as_str())
        .collect();
    anyhow::ensure!(
        bad.is_empty(),
        "runs that did not complete: {}",
        bad.join(", ")
    );
    anyhow::ensure!(!cancel.is_requested(), "interrupted");
    Ok(())
}

/// The value after `flag` among the bench's arguments (`cargo bench -- --baseline main`).
fn arg_value(flag: &str) -> anyhow::Result<Option<String>> {
    let args: Vec<String> = std::env::args().collect();
    match args.iter().position(|a| a == flag) {
        None => Ok(None),
        Some(i) => match args.get(i + 1) {
            Some(v) if !v.starts_with('-') && !v.is_empty() => Ok(Some(v.clone())),
            _ => anyhow::bail!("{flag} needs a name, e.g. {flag} main"),
        },
    }
}

fn load_baseline(
    baselines: &std::path::Path,
    name: &str,
) -> anyhow::Result<Vec<(PathBuf, jsbench::result::Report)>> {
    let dir = baselines.join(name);
    if !dir.is_dir() {
        let known: Vec<String> = std::fs::read_dir(baselines)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .filter(|e| e.path().is_dir())
                    .map(|e| e.file_name().to_string_lossy().to_string())
                    .filter(|n| !n.starts_with('.'))
                    .collect()
            })
            .unwrap_or_default();
        anyhow::bail!(
            "no baseline {name:?} in {} (saved baselines: {}); save one with `cargo bench -- --save-baseline {name}`",
            baselines.display(),
            if known.is_empty() { "none".to_string() } else { known.join(", ") }
        );
    }
    compare::load_set(&dir).map_err(|e| anyhow::anyhow!("baseline {name:?}: {e}"))
}

/// Copies every run's result.json and latency logs to `<baselines>/<name>/<run dir>/`, built
/// beside the old baseline and swapped in by rename, so a failure never leaves half a baseline.
fn save_as_baseline(
    baselines: &std::path::Path,
    name: &str,
    outputs: &[jsbench::runner::RunOutput],
) -> anyhow::Result<PathBuf> {
    anyhow::ensure!(
        !name.contains(['/', '\\']) && !name.starts_with('.'),
        "--save-baseline: {name:?} is not a plain name"
    );
    std::fs::create_dir_all(baselines)?;
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}-"))
        .tempdir_in(baselines)?;
    for o in outputs {
        let run = o.dir.file_name().map(PathBuf::from).unwrap_or_default();
        let to = tmp.path().join(&run);
        std::fs::create_dir_all(&to)?;
        for e in std::fs::read_dir(&o.dir)? {
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
    }
    let dest = baselines.join(name);
    let old = baselines.join(format!(".{name}-old"));
    if dest.exists() {
        let _ = std::fs::remove_dir_all(&old);
        std::fs::rename(&dest, &old)?;
    }
    std::fs::rename(tmp.keep(), &dest)?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(dest)
}
