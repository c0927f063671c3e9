//! The scenario suite as a bench: `cargo bench` runs every scenario of scenarios/ against its own
//! ephemeral server and writes results/ plus the summary table.
//!
//! Profiles (JSBENCH_PROFILE):
//! - `quick` (default): each scenario without faults or a consume side shortened to 50k
//!   messages (async) or 5k (sync), so the whole matrix takes a few minutes on a laptop; fault
//!   and consume scenarios are written short (in time, or paced for their workers), so they run
//!   as written;
//! - `full`: the scenario files exactly as written, plus scenarios/adapters/ (the nats.go, nats.c
//!   and nats.py adapters) and scenarios/disk/ (power loss and disk faults).
//!
//! JSBENCH_SCENARIOS overrides the directory (or file); JSBENCH_RESULTS the output directory;
//! JSBENCH_CLAIMS the claims judged at the end (default: every file of claims/; "none": none);
//! JSBENCH_REPEAT=N runs every scenario N times in rounds (what `jsbench compare` needs to judge
//! noise; default 1).
//! Claims that do not hold are reported in the table (that is a finding, not a bench failure);
//! a run that fails or stops early makes the bench exit non-zero.
//!
//! The run itself is `jsbench run`'s (`jsbench::app::run`): the same Ctrl-C handling, summary
//! and baselines. Baselines, named like criterion's (and given the same way, so one
//! `cargo bench -- …` line serves every bench):
//! - `cargo bench -- --save-baseline NAME` keeps this suite's results (result.json and latency
//!   logs) as `<results>/baselines/NAME/`, replacing an older one of that name;
//! - `cargo bench -- --baseline NAME` compares this suite with it (`jsbench compare`'s rule and
//!   default thresholds) and puts the comparison in summary.md, compare.md and index.html.
//! - `cargo bench --bench suite -- --wide` prints the table with every column (by default, the
//!   one that fits 120 columns; summary.md always has every column). Only this bench knows
//!   `--wide`: criterion's benches would refuse it.
//!
//! Order: scenarios without faults, a consume side or a cluster run first (sorted by name within
//! each group), and the claims' answer judged from them is printed as soon as they are done (a
//! minute or so into the suite); the final answer, from every run, ends it.
//!
//! The suite dir's `index.html` is the one file to open afterwards.

use std::path::PathBuf;
use std::process::ExitCode;

use jsbench::app::run::{self, ExitPolicy, RunRequest, SummaryPolicy};
use jsbench::app::suite;
use jsbench::render::machine::Format;
use jsbench::runner::RuntimeKind;
use jsbench::scenario::{Amount, Mode, Overrides, Plan, Warmup};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<ExitCode> {
    // `cargo test --benches` runs this without --bench: do nothing then.
    if !std::env::args().any(|a| a == "--bench") {
        return Ok(ExitCode::SUCCESS);
    }
    // Benches run in harness/; the suite lives at the workspace root.
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .unwrap_or_default();
    let scenarios = env_path("JSBENCH_SCENARIOS").unwrap_or_else(|| root.join("scenarios"));
    let results = env_path("JSBENCH_RESULTS").unwrap_or_else(|| root.join("results"));
    let profile = std::env::var("JSBENCH_PROFILE").unwrap_or_else(|_| "quick".into());
    anyhow::ensure!(
        profile == "quick" || profile == "full",
        "JSBENCH_PROFILE must be quick or full (got {profile:?})"
    );
    let mut plans = load_plans(&root, &scenarios, &profile)?;
    // The answer first: runs without faults, a consume side or a cluster (the order table and
    // the sync/async comparisons) go first, and their answer is printed as soon as they are done.
    plans.sort_by_key(|p| (p.is_cluster(), !p.faults.is_empty(), p.consume.is_some()));
    let first = plans
        .iter()
        .filter(|p| !p.is_cluster() && p.faults.is_empty() && p.consume.is_none())
        .count();
    let repeat = repeat()?;
    println!(
        "jsbench suite: {} scenarios × {repeat} from {} ({profile} profile) → {}",
        plans.len(),
        scenarios.display(),
        results.display()
    );
    let claims = claims_from_env(&root)?;
    let request = RunRequest {
        claims,
        early_answer_after: Some(first),
        plans: suite::repeated(&plans, repeat),
        out: results,
        // The same runtime as `jsbench run` (JSBENCH_RUNTIME=multi_thread to compare).
        runtime: std::env::var("JSBENCH_RUNTIME")
            .ok()
            .and_then(|s| RuntimeKind::parse(&s))
            .unwrap_or_default(),
        format: Format::Text,
        progress: true,
        // Its 30-second soak is under auto's 60 s: no live line in the quick profile.
        live: jsbench::runner::live::LiveMode::Auto,
        baseline: arg_value("--baseline")?,
        save_baseline: arg_value("--save-baseline")?,
        wide: std::env::args().any(|a| a == "--wide"),
        exit: ExitPolicy::Runs,
        summary: SummaryPolicy::Always,
    };
    let exit = run::execute(&request)?;
    Ok(ExitCode::from(exit.0))
}

/// The suite's plans: every scenario of `scenarios` (shortened in the quick profile), then the
/// soak scenarios, and in the full profile the adapter and disk scenarios.
fn load_plans(
    root: &std::path::Path,
    scenarios: &std::path::Path,
    profile: &str,
) -> anyhow::Result<Vec<Plan>> {
    let mut plans = suite::load_all(&[scenarios.to_path_buf()], &Overrides::default())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if profile == "quick" {
        shorten(&mut plans);
    }
    // The soak scenarios (scenarios/soak/, a subdirectory, so `jsbench run scenarios/` leaves
    // them out): 30 s each in the quick profile, as written (10 minutes) in the full one.
    if std::env::var_os("JSBENCH_SCENARIOS").is_none() && root.join("scenarios/soak").is_dir() {
        let soak = Overrides {
            duration: (profile == "quick").then_some(SOAK_QUICK),
            ..Overrides::default()
        };
        plans.extend(
            suite::load_all(&[root.join("scenarios/soak")], &soak)
                .map_err(|e| anyhow::anyhow!("{e}"))?,
        );
    }
    // The client-library adapters (scenarios/adapters/: nats.go, nats.c, nats.py) and the disk
    // faults (scenarios/disk/) in the full profile only, as written: building the adapters and
    // the power-loss runs cost minutes that CI's quick run (25 minutes in all) does not have;
    // `cargo test` runs every adapter and every disk fault kind against real servers instead.
    if profile == "full" && std::env::var_os("JSBENCH_SCENARIOS").is_none() {
        for sub in ["scenarios/adapters", "scenarios/disk"] {
            if root.join(sub).is_dir() {
                plans.extend(
                    suite::load_all(&[root.join(sub)], &Overrides::default())
                        .map_err(|e| anyhow::anyhow!("{e}"))?,
                );
            }
        }
    }
    Ok(plans)
}

/// The claims judged at the end: claims/ (JSBENCH_CLAIMS overrides; "none" judges none).
fn claims_from_env(root: &std::path::Path) -> anyhow::Result<Vec<jsbench::claims::ClaimsFile>> {
    Ok(match std::env::var("JSBENCH_CLAIMS").ok().as_deref() {
        Some("none") => Vec::new(),
        Some(p) => load_claims(PathBuf::from(p), root)?,
        None if root.join("claims").is_dir() => load_claims(root.join("claims"), root)?,
        None => Vec::new(),
    })
}

/// How long a soak scenario runs in the quick profile.
const SOAK_QUICK: std::time::Duration = std::time::Duration::from_secs(30);

/// The quick profile: scenarios without faults or a consume side shortened to 50k messages
/// (async, batch) or 5k (sync). Fault and consume scenarios are written short (in time, or paced for
/// their workers) already: kept as they are.
fn shorten(plans: &mut [Plan]) {
    for p in plans
        .iter_mut()
        .filter(|p| p.faults.is_empty() && p.consume.is_none())
    {
        let (n, w) = match p.publish.mode {
            Mode::Sync => (5_000, 200),
            Mode::Async | Mode::Batch | Mode::Fast => (50_000, 5_000),
        };
        p.workload.amount = Amount::Messages(n);
        p.workload.warmup = Warmup::Messages(w);
    }
}

/// The claims files of `path`, each named relative to the workspace root when it lies inside
/// it (the bench runs in harness/, so it is given absolute paths).
fn load_claims(
    path: PathBuf,
    root: &std::path::Path,
) -> anyhow::Result<Vec<jsbench::claims::ClaimsFile>> {
    let mut files = jsbench::app::claims::load_all(&[path]).map_err(|e| anyhow::anyhow!("{e}"))?;
    for f in &mut files {
        if let Ok(rel) = std::path::Path::new(&f.file).strip_prefix(root) {
            f.file = rel.display().to_string();
        }
    }
    Ok(files)
}

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name).map(PathBuf::from)
}

/// JSBENCH_REPEAT: every scenario N times, in rounds (default 1).
fn repeat() -> anyhow::Result<u32> {
    match std::env::var("JSBENCH_REPEAT") {
        Ok(v) => v
            .parse()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| anyhow::anyhow!("JSBENCH_REPEAT must be 1..=100 (got {v:?})")),
        Err(_) => Ok(1),
    }
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
