//! `jsbench`: the command line. Thin on purpose — parsing, exit codes and printing; the library
//! does the work.
//!
//! Exit codes: 0 every run complete and no claim failed; 1 a run failed or was incomplete, or a
//! claim failed; 2 bad usage or an invalid scenario file; 130 interrupted by Ctrl-C.
//! `compare`: 0 no regression, 1 a regression, 2 bad input (unreadable path, no result, bad flag).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use jsbench::app::suite;
use jsbench::cancel::Cancel;
use jsbench::checker::Verdict;
use jsbench::compare;
use jsbench::render::machine::{self as output, Format};
use jsbench::render::text;
use jsbench::result::{self, load as results};
use jsbench::runner::{RunOptions, RuntimeKind};
use jsbench::scenario::{self, Overrides, Warmup};
use jsbench::server::Backend;

// glibc's malloc serialises on an arena lock when one thread allocates what another frees, which
// is the client's pattern (publisher task → connection task); it cost ~15% of client CPU.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "jsbench",
    version,
    about = "Benchmark and chaos-test harness for NATS JetStream publishers"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run scenario files (or directories of them) and write results.
    Run(RunArgs),
    /// Validate scenario files without running them.
    Check {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// List the scenarios of a directory with their descriptions.
    List {
        #[arg(default_value = "scenarios")]
        path: PathBuf,
    },
    /// Print the path of the nats-server binary the process backend uses, fetching it if needed.
    FetchServer,
    /// Compare a candidate result set against a baseline; exit 1 on a regression.
    Compare(CompareArgs),
    /// Write a self-contained HTML report (summary, charts, per-run details) for results.
    Report(ReportArgs),
}

#[derive(clap::Args)]
struct ReportArgs {
    /// Run directories, result.json files, suite directories (suite.json) or a results root
    /// (every */result.json one level down).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Results root for the report directory: writes <out>/<UTC timestamp>-report/index.html.
    /// Without it, a single suite directory gets its index.html in place, anything else goes to
    /// results/<UTC timestamp>-report/.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Page title (default "jsbench report <timestamp>").
    #[arg(long)]
    title: Option<String>,
    /// Compare against this baseline result set (same forms as `jsbench compare`) and add the
    /// comparison (chart, table, decisions) to the page.
    #[arg(long)]
    baseline: Option<PathBuf>,
    /// Complete runs needed on each side for a decision (with --baseline).
    #[arg(long, default_value_t = 3)]
    min_runs: usize,
}

#[derive(clap::Args)]
struct CompareArgs {
    /// Baseline: a result.json, a run or suite directory, or a results directory.
    baseline: PathBuf,
    /// Candidate, in the same forms.
    candidate: PathBuf,
    /// Threshold of one metric in percent, e.g. p99=15 (repeatable).
    #[arg(long = "threshold", value_name = "METRIC=PCT", value_parser = parse_threshold)]
    thresholds: Vec<(String, f64)>,
    /// Complete runs needed on each side for a decision.
    #[arg(long, default_value_t = 3)]
    min_runs: usize,
    /// Seed of the bootstrap (default: a fixed constant, so reruns give the same intervals).
    #[arg(long)]
    seed: Option<u64>,
    /// Write the comparison as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write github-action-benchmark files (bigger-is-better.json, smaller-is-better.json) here.
    #[arg(long, value_name = "DIR")]
    gh_bench_dir: Option<PathBuf>,
    /// Write the markdown table to this file (e.g. $GITHUB_STEP_SUMMARY).
    #[arg(long, value_name = "FILE")]
    markdown: Option<PathBuf>,
}

fn parse_threshold(s: &str) -> Result<(String, f64), String> {
    compare::parse_threshold(s).map_err(|e| e.to_string())
}

#[derive(clap::Args)]
struct RunArgs {
    /// Scenario files or directories (every *.toml in it).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Where results go.
    #[arg(long, default_value = "results")]
    out: PathBuf,
    /// Override the server backend of every scenario.
    #[arg(long, value_parser = parse_backend)]
    backend: Option<Backend>,
    /// Use an existing server (implies --backend external).
    #[arg(long)]
    server_url: Option<String>,
    /// Container image for the container backend.
    #[arg(long)]
    image: Option<String>,
    /// Publish exactly N messages (overrides the scenario's messages/duration).
    #[arg(long, conflicts_with = "duration")]
    messages: Option<u64>,
    /// Publish for a duration, e.g. 10s (overrides the scenario's messages/duration).
    #[arg(long, value_parser = humantime::parse_duration)]
    duration: Option<Duration>,
    /// Warm-up: a message count or a duration (e.g. 1000 or 2s).
    #[arg(long, value_parser = parse_warmup)]
    warmup: Option<Warmup>,
    /// Seed for every random choice (overrides the scenario's).
    #[arg(long)]
    seed: Option<u64>,
    /// Leave the stream on the server after the run.
    #[arg(long)]
    keep_stream: bool,
    /// Never draw a progress bar.
    #[arg(long)]
    no_progress: bool,
    /// Tokio runtime: current-thread (default; fastest on small machines) or multi-thread.
    #[arg(long, default_value = "current-thread", value_parser = parse_runtime)]
    runtime: RuntimeKind,
    /// Run every scenario N times (rounds: each scenario once per round), to judge noise.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    repeat: u32,
    /// What to print on stdout: text (people), json or csv (one summary document at the end),
    /// quiet (nothing; exit code and result files only).
    #[arg(long, default_value = "text", value_parser = parse_format)]
    format: Format,
}

fn parse_format(s: &str) -> Result<Format, String> {
    Format::parse(s).ok_or_else(|| format!("allowed: {}", Format::ALLOWED))
}

fn parse_runtime(s: &str) -> Result<RuntimeKind, String> {
    RuntimeKind::parse(s).ok_or_else(|| "allowed: current-thread, multi-thread".into())
}

fn parse_backend(s: &str) -> Result<Backend, String> {
    s.parse()
}

fn parse_warmup(s: &str) -> Result<Warmup, String> {
    if let Ok(n) = s.parse::<u64>() {
        return Ok(Warmup::Messages(n));
    }
    humantime::parse_duration(s)
        .map(Warmup::Duration)
        .map_err(|_| "a message count (e.g. 1000) or a duration (e.g. 2s)".into())
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("JSBENCH_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("jsbench=info,warn")),
        )
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Check { paths } => check(&paths),
        Command::List { path } => list(&path),
        Command::Run(args) => match run(args) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::from(1)
            }
        },
        Command::Compare(args) => match compare_cmd(args) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::from(2)
            }
        },
        Command::Report(args) => match report_cmd(args) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::from(1)
            }
        },
        Command::FetchServer => {
            let rt = match runtime(RuntimeKind::CurrentThread) {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("error: {e:#}");
                    return ExitCode::from(1);
                }
            };
            match rt.block_on(jsbench::server::find_or_fetch_binary()) {
                Ok((path, source)) => {
                    eprintln!("{source}");
                    println!("{}", path.display());
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(1)
                }
            }
        }
    }
}

fn check(paths: &[PathBuf]) -> ExitCode {
    match suite::load_all(paths, &Overrides::default()) {
        Ok(plans) => {
            for p in &plans {
                let file = p
                    .file
                    .as_ref()
                    .map(|f| f.display().to_string())
                    .unwrap_or_default();
                println!("ok  {file}  ({})", p.name);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            eprintln!(
                "{} error(s); see scenarios/README.md for every field",
                e.errors.len()
            );
            ExitCode::from(2)
        }
    }
}

fn list(path: &Path) -> ExitCode {
    let files = match scenario::files_in(path) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
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
    // Names line up whatever their length.
    let width = plans.iter().map(|p| p.name.len()).max().unwrap_or(0);
    for p in &plans {
        println!("{:<width$}  {}", p.name, p.description);
    }
    if bad {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    }
}

/// `jsbench compare`: 0 no regression, 1 regression, 2 bad input (returned as an error).
fn compare_cmd(args: CompareArgs) -> anyhow::Result<ExitCode> {
    let base = compare::load_set(&args.baseline).context("baseline")?;
    let cand = compare::load_set(&args.candidate).context("candidate")?;
    let mut opts = compare::CompareOptions {
        min_runs: args.min_runs,
        ..Default::default()
    };
    opts.thresholds.extend(args.thresholds);
    if let Some(seed) = args.seed {
        opts.seed = seed;
    }
    let c = compare::compare(&base, &cand, &opts);
    let table = compare::render_table(&c);
    print!("{table}");
    if let Some(path) = &args.markdown {
        result::write_atomic(path, table.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(path) = &args.json {
        let json = serde_json::to_vec_pretty(&c)?;
        result::write_atomic(path, &json)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(dir) = &args.gh_bench_dir {
        let (bigger, smaller) = compare::gh_benchmark_json(&c);
        for (name, v) in [
            ("bigger-is-better.json", bigger),
            ("smaller-is-better.json", smaller),
        ] {
            let path = dir.join(name);
            result::write_atomic(&path, &serde_json::to_vec_pretty(&v)?)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
    }
    Ok(if c.regressions > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `jsbench report`: exit 2 when the paths name no readable result (bad usage), 1 when the
/// report cannot be written.
fn report_cmd(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let runs = match results::collect_runs(&args.paths) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let stamp = results::utc_stamp();
    let suites: Vec<PathBuf> = args
        .paths
        .iter()
        .filter_map(|p| results::suite_dir(p))
        .collect();
    let dir = match (&args.out, suites.as_slice()) {
        (None, [suite]) if args.paths.len() == 1 => suite.clone(),
        (out, _) => out
            .clone()
            .unwrap_or_else(|| PathBuf::from("results"))
            .join(format!("{stamp}-report")),
    };
    let title = args
        .title
        .unwrap_or_else(|| format!("jsbench report {stamp}"));
    let comparison = match &args.baseline {
        Some(b) => {
            let base = match compare::load_set(b) {
                Ok(base) => base,
                Err(e) => {
                    eprintln!("error: baseline: {e}");
                    return Ok(ExitCode::from(2));
                }
            };
            let opts = compare::CompareOptions {
                min_runs: args.min_runs,
                ..Default::default()
            };
            Some(compare::compare(&base, &runs, &opts))
        }
        None => None,
    };
    let path = jsbench::render::html::write_report(&dir, &runs, comparison.as_ref(), &title)
        .context("cannot write the HTML report")?;
    eprintln!("{} run(s)", runs.len());
    println!("{}", path.display());
    Ok(ExitCode::SUCCESS)
}

fn runtime(kind: RuntimeKind) -> anyhow::Result<tokio::runtime::Runtime> {
    kind.build().context("cannot start the tokio runtime")
}

fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let overrides = Overrides {
        messages: args.messages,
        duration: args.duration,
        backend: args.backend,
        server_url: args.server_url.clone(),
        image: args.image.clone(),
        seed: args.seed,
        keep_stream: args.keep_stream,
        warmup: args.warmup,
    };
    let plans = match suite::load_all(&args.paths, &overrides) {
        Ok(p) => suite::repeated(&p, args.repeat),
        Err(e) => {
            eprintln!("{e}");
            eprintln!("{} error(s); nothing was run", e.errors.len());
            return Ok(ExitCode::from(2));
        }
    };
    let rt = runtime(args.runtime)?;
    let cancel = Cancel::new();
    let opts = RunOptions {
        out_root: args.out.clone(),
        cancel: cancel.clone(),
        // Machine-readable output is for pipelines: no bar there either.
        progress: !args.no_progress && args.format == Format::Text,
    };
    let text = args.format == Format::Text;
    let outputs = rt.block_on(async {
        let c = cancel.clone();
        tokio::spawn(async move {
            while tokio::signal::ctrl_c().await.is_ok() {
                match c.request() {
                    1 => eprintln!("\ninterrupted: stopping publishing, finishing the run cleanly (Ctrl-C again to skip waiting)"),
                    _ => eprintln!("\ninterrupted again: skipping the drain and read-back, removing the server"),
                }
            }
        });
        suite::run_all(&plans, &opts, |o| {
            if text {
                print!("{}", text::terminal_summary(&o.report, &o.dir));
            }
        })
        .await
    })?;
    // Leave no runtime task behind (the Ctrl-C listener) holding the process.
    rt.shutdown_timeout(Duration::from_secs(1));

    let rows: Vec<_> = outputs
        .iter()
        .map(|o| (o.dir.clone(), o.report.clone()))
        .collect();
    if outputs.len() > 1 {
        if text {
            println!("\n{}", text::summary_table(&rows));
        }
        let dir = suite::write_summary(&args.out, &outputs, None).with_context(|| {
            format!(
                "cannot write the suite summary under {}",
                args.out.display()
            )
        })?;
        if text {
            println!("summary: {}", dir.join("summary.md").display());
        } else {
            eprintln!("summary: {}", dir.join("summary.md").display());
        }
    }
    match args.format {
        Format::Json => print!("{}", output::json(&rows)),
        Format::Csv => print!("{}", output::csv(&rows)),
        Format::Text | Format::Quiet => {}
    }
    if cancel.is_requested() {
        return Ok(ExitCode::from(130));
    }
    let bad = outputs
        .iter()
        .any(|o| !o.report.status.is_complete() || o.report.verdict == Verdict::Fail);
    Ok(if bad {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
