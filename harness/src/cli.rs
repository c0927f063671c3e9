//! The `jsbench` command line's definition (clap): every subcommand, its flags and their
//! parsers. Only `main.rs` uses it; what each command does is in `jsbench::app`.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use jsbench::compare;
use jsbench::render::machine::Format;
use jsbench::runner::RuntimeKind;
use jsbench::scenario::{Follow, Warmup};
use jsbench::server::Backend;

#[derive(Parser)]
#[command(
    name = "jsbench",
    version,
    about = "Benchmark and chaos-test harness for NATS JetStream publishers"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
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
pub(crate) enum AdapterCmd {
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
pub(crate) enum ImageCmd {
    /// Build the image through the Docker API from this jsbench binary, its shared libraries,
    /// the pinned nats-server and docker/jsbench.Dockerfile; print its tag on stdout.
    Build {
        /// The image's name and tag (default: jsbench/jsbench:<version of this jsbench>).
        #[arg(long, value_name = "NAME[:TAG]")]
        tag: Option<String>,
    },
}

#[derive(clap::Args)]
pub(crate) struct WorkerArgs {
    /// The coordination server's URL, nats://host:port (default: $JSBENCH_COORDINATOR). Tried
    /// for up to 120 s: the coordinator may start after the worker.
    #[arg(long, value_name = "URL")]
    pub(crate) coordinator: Option<String>,
    /// This worker's number, from 0 (default: $JOB_COMPLETION_INDEX, else the lowest index no
    /// other worker has claimed).
    #[arg(long)]
    pub(crate) index: Option<usize>,
    /// How many workers the run has (default: the coordinator's number; when given, it must
    /// be that).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) of: Option<u16>,
}

#[derive(clap::Args)]
pub(crate) struct CoordinateArgs {
    #[command(flatten)]
    pub(crate) run: RunArgs,
    /// Where the coordination server listens, IP:PORT (port 0: a free one). An address other
    /// than loopback needs a token of your own in $JSBENCH_COORDINATOR_TOKEN.
    #[arg(long, value_name = "IP:PORT", default_value = jsbench::coord::launch::DEFAULT_LISTEN)]
    pub(crate) listen: String,
    /// How long the N workers have to register, e.g. 60s.
    #[arg(
        long,
        value_name = "DUR",
        default_value = "300s",
        value_parser = humantime::parse_duration
    )]
    pub(crate) register_timeout: Duration,
}

#[derive(clap::Args)]
pub(crate) struct ClaimsArgs {
    /// A claims file, or a directory of them.
    pub(crate) claims: PathBuf,
    /// Results: run directories, result.json files, suite directories or a results root.
    #[arg(required = true)]
    pub(crate) results: Vec<PathBuf>,
    /// Write the answers as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub(crate) json: Option<PathBuf>,
    /// Write the answers as markdown to this file.
    #[arg(long, value_name = "FILE")]
    pub(crate) markdown: Option<PathBuf>,
    /// Replace the block between `<!-- jsbench:answer:begin -->` and `<!-- jsbench:answer:end -->`
    /// of this file (e.g. README.md) with the markdown answer.
    #[arg(long, value_name = "FILE")]
    pub(crate) update: Option<PathBuf>,
    /// Exit 1 unless every claim is confirmed.
    #[arg(long)]
    pub(crate) strict: bool,
}

#[derive(clap::Args)]
pub(crate) struct ReportArgs {
    /// Run directories, result.json files, suite directories (suite.json) or a results root
    /// (every */result.json one level down).
    #[arg(required = true)]
    pub(crate) paths: Vec<PathBuf>,
    /// Results root for the report directory: writes <out>/<UTC timestamp>-report/index.html.
    /// Without it, a single suite directory gets its index.html in place, anything else goes to
    /// results/<UTC timestamp>-report/.
    #[arg(long)]
    pub(crate) out: Option<PathBuf>,
    /// Page title (default "jsbench report <timestamp>").
    #[arg(long)]
    pub(crate) title: Option<String>,
    /// Compare against this baseline result set (same forms as `jsbench compare`) and add the
    /// comparison (chart, table, decisions) to the page.
    #[arg(long)]
    pub(crate) baseline: Option<PathBuf>,
    /// Complete runs needed on each side for a decision (with --baseline).
    #[arg(long, default_value_t = 3)]
    pub(crate) min_runs: usize,
    /// Open the page with this claims file's answer (or every one in a directory). Repeatable.
    #[arg(long, value_name = "PATH")]
    pub(crate) claims: Vec<PathBuf>,
}

#[derive(clap::Args)]
pub(crate) struct CompareArgs {
    /// Baseline: a result.json, a run or suite directory, or a results directory.
    pub(crate) baseline: PathBuf,
    /// Candidate, in the same forms.
    pub(crate) candidate: PathBuf,
    /// Threshold of one metric in percent, e.g. p99=15 (repeatable).
    #[arg(long = "threshold", value_name = "METRIC=PCT", value_parser = parse_threshold)]
    pub(crate) thresholds: Vec<(String, f64)>,
    /// Complete runs needed on each side for a decision.
    #[arg(long, default_value_t = 3)]
    pub(crate) min_runs: usize,
    /// Seed of the bootstrap (default: a fixed constant, so reruns give the same intervals).
    #[arg(long)]
    pub(crate) seed: Option<u64>,
    /// Write the comparison as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub(crate) json: Option<PathBuf>,
    /// Write github-action-benchmark files (bigger-is-better.json, smaller-is-better.json) here.
    #[arg(long, value_name = "DIR")]
    pub(crate) gh_bench_dir: Option<PathBuf>,
    /// Write the markdown table to this file (e.g. $GITHUB_STEP_SUMMARY).
    #[arg(long, value_name = "FILE")]
    pub(crate) markdown: Option<PathBuf>,
    /// Judge the sets even when they were measured in different environments (backend, server
    /// or client version, CPU count or model, runtime); without it compare refuses (exit 3).
    #[arg(long)]
    pub(crate) allow_env_diff: bool,
}

pub(crate) fn parse_threshold(s: &str) -> Result<(String, f64), String> {
    compare::parse_threshold(s).map_err(|e| e.to_string())
}

#[derive(clap::Args)]
pub(crate) struct RunArgs {
    /// Scenario files or directories (every *.toml in it).
    #[arg(required = true)]
    pub(crate) paths: Vec<PathBuf>,
    /// Where results go.
    #[arg(long, default_value = "results")]
    pub(crate) out: PathBuf,
    /// Override the server backend of every scenario.
    #[arg(long, value_parser = parse_backend)]
    pub(crate) backend: Option<Backend>,
    /// Use an existing server (implies --backend external).
    #[arg(long)]
    pub(crate) server_url: Option<String>,
    /// Container image for the container backend.
    #[arg(long)]
    pub(crate) image: Option<String>,
    /// Publish exactly N messages (overrides the scenario's messages/duration).
    #[arg(long, conflicts_with = "duration")]
    pub(crate) messages: Option<u64>,
    /// Publish for a duration, e.g. 10s (overrides the scenario's messages/duration).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub(crate) duration: Option<Duration>,
    /// Warm-up: a message count or a duration (e.g. 1000 or 2s).
    #[arg(long, value_parser = parse_warmup)]
    pub(crate) warmup: Option<Warmup>,
    /// Seed for every random choice (overrides the scenario's).
    #[arg(long)]
    pub(crate) seed: Option<u64>,
    /// Leave the stream on the server after the run.
    #[arg(long)]
    pub(crate) keep_stream: bool,
    /// Read the stream while the run goes on (auto, on, off; replaces `observe.follow`): the
    /// streaming checkers judge it as it is read, and only the tail is left to read at the end.
    #[arg(long, value_parser = parse_follow)]
    pub(crate) follow: Option<Follow>,
    /// A following run also reads the whole stream back at the end, judges it with the
    /// end-of-run checkers and says in result.json (`streaming.cross_check`) whether both agree.
    #[arg(long)]
    pub(crate) cross_check: bool,
    /// Never draw a progress bar.
    #[arg(long)]
    pub(crate) no_progress: bool,
    /// A line on stderr every N seconds while publishing (rates, p99, outcomes, faults, RSS):
    /// auto (every 10s on runs planned for 60s or more), off, or a duration such as 10s.
    #[arg(long, default_value = "auto", value_parser = jsbench::runner::live::LiveMode::parse)]
    pub(crate) live: jsbench::runner::live::LiveMode,
    /// Tokio runtime: current-thread (default; fastest on small machines) or multi-thread.
    #[arg(long, default_value = "current-thread", value_parser = parse_runtime)]
    pub(crate) runtime: RuntimeKind,
    /// Run every scenario N times (rounds: each scenario once per round), to judge noise.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub(crate) repeat: u32,
    /// What to print on stdout: text (people), json or csv (one summary document at the end),
    /// quiet (nothing; exit code and result files only).
    #[arg(long, default_value = "text", value_parser = parse_format)]
    pub(crate) format: Format,
    /// The summary table with every column (default: the table that fits 120 columns; summary.md
    /// and index.html always have every column).
    #[arg(long)]
    pub(crate) wide: bool,
    /// Compare this run with the saved baseline NAME (`<out>/baselines/NAME/`) and put the
    /// comparison into the suite summary and its HTML report.
    #[arg(long, value_name = "NAME")]
    pub(crate) baseline: Option<String>,
    /// Judge this claims file (or every one in a directory, e.g. claims/) against the runs and
    /// print its answer under the table (also in the suite's summary.md, claims.json and
    /// index.html). Repeatable.
    #[arg(long, value_name = "PATH")]
    pub(crate) claims: Vec<PathBuf>,
    /// Keep this run's results as the baseline NAME (`<out>/baselines/NAME/`), replacing an
    /// older one of that name.
    #[arg(long, value_name = "NAME")]
    pub(crate) save_baseline: Option<String>,
    /// Publish each scenario from N local worker processes (`jsbench worker`), coordinated by
    /// this one, merged into one result (README "Distributed load"). A scenario that cannot be
    /// split, or asks for what workers cannot do yet, is an error (exit 2).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) workers: Option<u16>,
}

pub(crate) fn parse_format(s: &str) -> Result<Format, String> {
    Format::parse(s).ok_or_else(|| format!("allowed: {}", Format::ALLOWED))
}

pub(crate) fn parse_runtime(s: &str) -> Result<RuntimeKind, String> {
    RuntimeKind::parse(s).ok_or_else(|| "allowed: current-thread, multi-thread".into())
}

pub(crate) fn parse_backend(s: &str) -> Result<Backend, String> {
    s.parse()
}

pub(crate) fn parse_follow(s: &str) -> Result<Follow, String> {
    Follow::parse(s).ok_or_else(|| format!("allowed: {}", Follow::ALLOWED))
}

pub(crate) fn parse_warmup(s: &str) -> Result<Warmup, String> {
    if let Ok(n) = s.parse::<u64>() {
        return Ok(Warmup::Messages(n));
    }
    humantime::parse_duration(s)
        .map(Warmup::Duration)
        .map_err(|_| "a message count (e.g. 1000) or a duration (e.g. 2s)".into())
}
