//! The scenario suite as a bench: `cargo bench` runs every scenario of scenarios/ against its own
//! ephemeral server and writes results/ plus the summary table.
//!
//! Profiles (JSBENCH_PROFILE):
//! - `quick` (default): each scenario without faults shortened to 50k messages (async) or 5k
//!   (sync), so the whole matrix takes a few minutes on a laptop; fault scenarios are
//!   scheduled in time and written short, so they run as written;
//! - `full`: the scenario files exactly as written.
//!
//! JSBENCH_SCENARIOS overrides the directory (or file); JSBENCH_RESULTS the output directory;
//! JSBENCH_REPEAT=N runs every scenario N times in rounds (what `jsbench compare` needs to judge
//! noise; default 1).
//! Claims that do not hold are reported in the table (that is a finding, not a bench failure);
//! a run that fails or stops early makes the bench exit non-zero.

use std::path::PathBuf;
use std::time::Duration;

use jsbench::cancel::Cancel;
use jsbench::report;
use jsbench::runner::RunOptions;
use jsbench::scenario::{Amount, Mode, Overrides, Warmup};
use jsbench::suite;

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
    let profile = std::env::var("JSBENCH_PROFILE").unwrap_or_else(|_| "quick".into());
    anyhow::ensure!(
        profile == "quick" || profile == "full",
        "JSBENCH_PROFILE must be quick or full (got {profile:?})"
    );

    let mut plans = suite::load_all(std::slice::from_ref(&scenarios), &Overrides::default())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if profile == "quick" {
        // Fault scenarios are scheduled in time and written short already: kept as they are.
        for p in plans.iter_mut().filter(|p| p.faults.is_empty()) {
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
            print!("{}", report::terminal_summary(&o.report, &o.dir));
        })
        .await
    })?;
    rt.shutdown_timeout(Duration::from_secs(1));

    let rows: Vec<_> = outputs
        .iter()
        .map(|o| (o.dir.clone(), o.report.clone()))
        .collect();
    println!("\n{}", report::summary_table(&rows));
    let dir = suite::write_summary(&results, &outputs)?;
    println!("summary: {}", dir.join("summary.md").display());
    let bad: Vec<&str> = outputs
        .iter()
        .filter(|o| o.report.status != "complete")
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
