//! `jsbench`: the command line. Thin on purpose: it parses arguments and dispatches to
//! `jsbench::app`, which does the work (and is what `cargo bench`'s suite calls too).
//!
//! Exit codes: 0 every run complete and no claim failed; 1 a run failed or was incomplete, or a
//! claim failed; 2 bad usage or an invalid scenario file; 130 interrupted by Ctrl-C or SIGTERM.
//! `coordinate`: as `run`. `worker`: 0 its result uploaded, 1 it could not reach the coordinator
//! or do its part, 2 bad usage (no URL, a taken index, a wrong `--of`).
//! `compare`: 0 no regression, 1 a regression, 2 bad input (unreadable path, no result, bad flag),
//! 3 refused: the two sides were measured in different environments (`--allow-env-diff`).
//! `claims`: 0 judged (with `--strict`: 1 unless every claim is confirmed), 2 bad input.
//! `adapter check`: 0 the adapter conforms, 1 a violation (or it cannot be built), 2 bad usage.
//! `image build`: 0 built, 1 Docker, ldd or the build failed, 2 a bad `--tag`.

use std::process::ExitCode;

use clap::Parser;

use jsbench::app::adapter as app_adapter;
use jsbench::app::claims::{self as app_claims, ClaimsRequest};
use jsbench::app::commands::{self, CompareRequest, ReportRequest};
use jsbench::app::run::{self, ExitPolicy, RunRequest, SummaryPolicy};
use jsbench::app::{suite, worker as app_worker, Exit};
use jsbench::compare::CompareOptions;
use jsbench::coord::Launch;
use jsbench::scenario::Overrides;

// glibc's malloc serialises on an arena lock when one thread allocates what another frees, which
// is the client's pattern (publisher task → connection task); it cost ~15% of client CPU.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The arguments (clap definitions), apart from what each command does.
mod cli;

use cli::*;

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
        follow: args.follow,
        cross_check: args.cross_check,
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
