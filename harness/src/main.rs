//! `jsbench`: the command line. Thin on purpose: it parses arguments and dispatches to
//! `jsbench::app`, which does the work (and is what `cargo bench`'s suite calls too).
//!
//! Exit codes: 0 every run complete and no claim failed; 1 a run failed or was incomplete, or a
//! claim failed; 2 bad usage or an invalid scenario file; 130 interrupted by Ctrl-C.
//! `compare`: 0 no regression, 1 a regression, 2 bad input (unreadable path, no result, bad flag),
//! 3 refused: the two sides were measured in different environments (`--allow-env-diff`).
//! `claims`: 0 judged (with `--strict`: 1 unless every claim is confirmed), 2 bad input.
//! `adapter check`: 0 the adapter conforms, 1 a violation (or it cannot be built), 2 bad usage.
//! `image build`: 0 built, 1 Docker, ldd or the build failed, 2 a bad `--tag`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

use jsbench::app::adapter as app_adapter;
use jsbench::app::claims::{self as app_claims, ClaimsRequest};
use jsbench::app::commands::{self, CompareRequest, ReportRequest};
use jsbench::app::run::{self, ExitPolicy, RunRequest, SummaryPolicy};
use jsbench::app::{suite, worker as app_worker, Exit};
use jsbench::compare::{self, CompareOptions};
use jsbench::coord::Launch;
use jsbench::render::machine::Format;
use jsbench::runner::RuntimeKind;
use jsbench::scenario::{Overrides, Warmup};
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
        /// Also split each scenario across N workers (distributed load) and print each worker's
        /// keys, connections and share; a scenario that cannot be split is an error (exit 2)
        /// that says why.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
        workers: Option<u16>,
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
    /// Judge claims files (e.g. claims/publish-order.toml) against results: the order table and
    /// each claim confirmed, refuted, inconclusive or not measured, with its figure and runs.
    Claims(ClaimsArgs),
    /// Coordinate a distributed run whose workers someone else starts (docker compose, a
    /// Kubernetes Indexed Job, by hand): `run --workers N` without starting any worker. Waits for
    /// N `jsbench worker`s to register, then runs, merges and judges as `run` does.
    Coordinate(CoordinateArgs),
    /// One worker of a distributed run (`run --workers N` starts them itself; `coordinate`
    /// waits for them): publishes its segment of the coordinator's plan. The coordination
    /// credential comes from $JSBENCH_COORDINATOR_TOKEN.
    Worker(WorkerArgs),
    /// The jsbench container image (README "Distributed load"): this binary, FROM scratch.
    #[command(subcommand)]
    Image(ImageCmd),
    /// Client-library adapters (docs/adapters.md): check one against the protocol, or build a
    /// shipped one.
    #[command(subcommand)]
    Adapter(AdapterCmd),
}

#[derive(Subcommand)]
enum AdapterCmd {
    /// Run the conformance check against a nats-server of its own: a shipped adapter (NAME), a
    /// command (after --), or every shipped adapter (neither). Exit 0 when it conforms, 1 on a
    /// violation, 2 for an unknown name or a command that is not there.
    Check {
        /// A shipped adapter: nats.go, nats.c, nats.py or async-nats-stdio.
        name: Option<String>,
        /// The adapter's command line.
        #[arg(last = true, value_name = "CMD")]
        command: Vec<String>,
    },
    /// Build a shipped adapter (unless built already) and print its executable's path.
    Build { name: String },
}

#[derive(Subcommand)]
enum ImageCmd {
    /// Build the image through the Docker API from this jsbench binary, its shared libraries,
    /// the pinned nats-server and docker/jsbench.Dockerfile; print its tag on stdout.
    Build {
        /// The image's name and tag (default: jsbench/jsbench:<version of this jsbench>).
        #[arg(long, value_name = "NAME[:TAG]")]
        tag: Option<String>,
    },
}

#[derive(clap::Args)]
struct WorkerArgs {
    /// The coordination server's URL, nats://host:port (default: $JSBENCH_COORDINATOR). Tried
    /// for up to 120 s: the coordinator may start after the worker.
    #[arg(long, value_name = "URL")]
    coordinator: Option<String>,
    /// This worker's number, from 0 (default: $JOB_COMPLETION_INDEX, else the lowest index no
    /// other worker has claimed).
    #[arg(long)]
    index: Option<usize>,
    /// How many workers the run has (default: the coordinator's number; when given, it must
    /// be that).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    of: Option<u16>,
}

#[derive(clap::Args)]
struct CoordinateArgs {
    #[command(flatten)]
    run: RunArgs,
    /// Where the coordination server listens, IP:PORT (port 0: a free one). An address other
    /// than loopback needs a token of your own in $JSBENCH_COORDINATOR_TOKEN.
    #[arg(long, value_name = "IP:PORT", default_value = jsbench::coord::launch::DEFAULT_LISTEN)]
    listen: String,
    /// How long the N workers have to register, e.g. 60s.
    #[arg(
        long,
        value_name = "DUR",
        default_value = "300s",
        value_parser = humantime::parse_duration
    )]
    register_timeout: Duration,
}

#[derive(clap::Args)]
struct ClaimsArgs {
    /// A claims file, or a directory of them.
    claims: PathBuf,
    /// Results: run directories, result.json files, suite directories or a results root.
    #[arg(required = true)]
    results: Vec<PathBuf>,
    /// Write the answers as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write the answers as markdown to this file.
    #[arg(long, value_name = "FILE")]
    markdown: Option<PathBuf>,
    /// Replace the block between `<!-- jsbench:answer:begin -->` and `<!-- jsbench:answer:end -->`
    /// of this file (e.g. README.md) with the markdown answer.
    #[arg(long, value_name = "FILE")]
    update: Option<PathBuf>,
    /// Exit 1 unless every claim is confirmed.
    #[arg(long)]
    strict: bool,
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
    /// Open the page with this claims file's answer (or every one in a directory). Repeatable.
    #[arg(long, value_name = "PATH")]
    claims: Vec<PathBuf>,
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
    /// Judge the sets even when they were measured in different environments (backend, server
    /// or client version, CPU count or model, runtime); without it compare refuses (exit 3).
    #[arg(long)]
    allow_env_diff: bool,
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
    /// A line on stderr every N seconds while publishing (rates, p99, outcomes, faults, RSS):
    /// auto (every 10s on runs planned for 60s or more), off, or a duration such as 10s.
    #[arg(long, default_value = "auto", value_parser = jsbench::runner::live::LiveMode::parse)]
    live: jsbench::runner::live::LiveMode,
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
    /// The summary table with every column (default: the table that fits 120 columns; summary.md
    /// and index.html always have every column).
    #[arg(long)]
    wide: bool,
    /// Compare this run with the saved baseline NAME (`<out>/baselines/NAME/`) and put the
    /// comparison into the suite summary and its HTML report.
    #[arg(long, value_name = "NAME")]
    baseline: Option<String>,
    /// Judge this claims file (or every one in a directory, e.g. claims/) against the runs and
    /// print its answer under the table (also in the suite's summary.md, claims.json and
    /// index.html). Repeatable.
    #[arg(long, value_name = "PATH")]
    claims: Vec<PathBuf>,
    /// Keep this run's results as the baseline NAME (`<out>/baselines/NAME/`), replacing an
    /// older one of that name.
    #[arg(long, value_name = "NAME")]
    save_baseline: Option<String>,
    /// Publish each scenario from N local worker processes (`jsbench worker`), coordinated by
    /// this one, merged into one result (README "Distributed load"). A scenario that cannot be
    /// split, or asks for what workers cannot do yet, is an error (exit 2).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    workers: Option<u16>,
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
    let exit = match Cli::parse().command {
        Command::Check { paths, workers } => commands::check(&paths, workers.map(usize::from)),
        Command::List { path } => commands::list(&path),
        Command::Run(args) => run(args),
        Command::Compare(args) => compare(args),
        Command::Report(args) => report(args),
        Command::FetchServer => commands::fetch_server(),
        Command::Claims(args) => claims(args),
        Command::Adapter(AdapterCmd::Check { name, command }) => {
            app_adapter::check(name.as_deref(), &command)
        }
        Command::Adapter(AdapterCmd::Build { name }) => app_adapter::build(&name),
        Command::Coordinate(args) => coordinate(args),
        Command::Image(ImageCmd::Build { tag }) => image_build(tag.as_deref()),
        Command::Worker(a) => app_worker::worker(a.coordinator, a.index, a.of.map(usize::from)),
    };
    ExitCode::from(exit.0)
}

fn coordinate(args: CoordinateArgs) -> Exit {
    if args.run.workers.is_none() {
        eprintln!("error: coordinate needs --workers N (how many workers to wait for)");
        return Exit::BAD_INPUT;
    }
    match app_worker::external(&args.listen, args.register_timeout, &args.run.out) {
        Ok(launch) => run_with(args.run, launch),
        Err(e) => {
            eprintln!("error: {e}");
            Exit::BAD_INPUT
        }
    }
}

fn run(args: RunArgs) -> Exit {
    run_with(args, Launch::Children)
}

fn run_with(args: RunArgs, launch: Launch) -> Exit {
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
            return Exit::BAD_INPUT;
        }
    };
    let claims = match app_claims::load_all(&args.claims) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            eprintln!(
                "{} error(s) in claims files; nothing was run",
                e.errors.len()
            );
            return Exit::BAD_INPUT;
        }
    };
    let request = RunRequest {
        claims,
        early_answer_after: None,
        plans,
        out: args.out,
        runtime: args.runtime,
        format: args.format,
        progress: !args.no_progress,
        live: args.live,
        baseline: args.baseline,
        save_baseline: args.save_baseline,
        wide: args.wide,
        exit: ExitPolicy::RunsAndClaims,
        summary: SummaryPolicy::WhenSeveral,
    };
    let workers = match args
        .workers
        .map(|n| app_worker::prepare(&request.plans, n.into(), &overrides, &launch))
    {
        Some(Err(errors)) => {
            for e in &errors {
                eprintln!("{e}");
            }
            eprintln!("{} error(s); nothing was run", errors.len());
            return Exit::BAD_INPUT;
        }
        Some(Ok(w)) => Some(w),
        None => None,
    };
    run::execute_with(&request, workers.as_deref()).unwrap_or_else(|e| {
        eprintln!("error: {e}");
        match e {
            run::RunCommandError::Baseline(_) => Exit::BAD_INPUT,
            _ => Exit::FAILED,
        }
    })
}

fn image_build(tag: Option<&str>) -> Exit {
    match jsbench::image::build(tag) {
        Ok(built) => {
            eprintln!(
                "built {} ({}) FROM scratch: {} with {} shared file(s), nats-server from {}",
                built.tag,
                built.id,
                built.exe.display(),
                built.needed.len(),
                built.nats_server.display()
            );
            if let Some(replaced) = built.replaced {
                eprintln!("{replaced}");
            }
            println!("{}", built.tag);
            Exit::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            if e.is_bad_input() {
                Exit::BAD_INPUT
            } else {
                Exit::FAILED
            }
        }
    }
}

fn compare(args: CompareArgs) -> Exit {
    let mut options = CompareOptions {
        min_runs: args.min_runs,
        allow_env_diff: args.allow_env_diff,
        ..Default::default()
    };
    options.thresholds.extend(args.thresholds);
    if let Some(seed) = args.seed {
        options.seed = seed;
    }
    let request = CompareRequest {
        baseline: args.baseline,
        candidate: args.candidate,
        options,
        json: args.json,
        gh_bench_dir: args.gh_bench_dir,
        markdown: args.markdown,
    };
    commands::compare(&request).unwrap_or_else(|e| {
        eprintln!("error: {e}");
        // Every error of compare is bad input or an unwritable file: the gate must not pass.
        Exit::BAD_INPUT
    })
}

fn report(args: ReportArgs) -> Exit {
    let request = ReportRequest {
        paths: args.paths,
        out: args.out,
        title: args.title,
        baseline: args.baseline,
        min_runs: args.min_runs,
        claims: args.claims,
    };
    commands::report(&request).unwrap_or_else(|e| {
        eprintln!("error: {e}");
        e.exit()
    })
}

fn claims(args: ClaimsArgs) -> Exit {
    let request = ClaimsRequest {
        claims: vec![args.claims],
        results: args.results,
        json: args.json,
        markdown: args.markdown,
        update: args.update,
        strict: args.strict,
    };
    app_claims::run(&request).unwrap_or_else(|e| {
        eprintln!("error: {e}");
        e.exit()
    })
}
