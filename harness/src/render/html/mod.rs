//! HTML report: one self-contained `index.html` for a set of runs (a suite, or whatever
//! `jsbench report` was given): the summary table, the charts inline as SVG, and per run its
//! environment, plan, claims and fault windows.
//!
//! Self-contained on purpose: inline CSS, inline SVG, no JavaScript, no fonts or scripts from
//! elsewhere, so the file opens offline, can be attached to a ticket or archived by CI, and
//! shows the same thing in ten years. The markup is also well-formed XML (void elements closed),
//! which lets the tests check it with a plain XML well-formedness check.
//!
//! This file owns the page's skeleton, its stylesheet and its "how to read this"; the sections,
//! top to bottom, each in its own file, all drawn from the suite's [`SuiteView`]:
//! - `answer`: each claims file's answer (order table, claims, which-strategy charts), first;
//! - `summary`: the summary table;
//! - `charts`: the figures of [`crate::render::chart::FIGURES`];
//! - `comparison`: the comparison with a baseline, when there is one;
//! - `run` (with `faults`): one section per run.
//!
//! `markup` has the escaping and links they share.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::claims::Answer;
use crate::compare::Comparison;
use crate::render::view::SuiteView;
use crate::result::{self, Report};

mod answer;
mod charts;
mod cluster;
mod comparison;
mod faults;
mod markup;
mod run;
mod summary;

pub use crate::render::chart::E2E_TITLE;
pub use markup::esc;

#[derive(Debug, thiserror::Error)]
pub enum HtmlError {
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Writes `<dir>/index.html` atomically for `runs` (`(run directory, report)`), with the
/// comparison chart when `comparison` is given and each claims answer first. Returns the file's
/// path.
pub fn write_report(
    dir: &Path,
    runs: &[(PathBuf, Report)],
    comparison: Option<&Comparison>,
    answers: &[Answer],
    title: &str,
) -> Result<PathBuf, HtmlError> {
    let path = dir.join("index.html");
    let io = |source| HtmlError::Io {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let html = render(dir, runs, comparison, answers, title);
    result::write_atomic(&path, html.as_bytes()).map_err(io)?;
    Ok(path)
}

/// The page as a string; `dir` is where it will live (for relative links).
pub fn render(
    dir: &Path,
    runs: &[(PathBuf, Report)],
    comparison: Option<&Comparison>,
    answers: &[Answer],
    title: &str,
) -> String {
    let suite = SuiteView::new(runs);
    let mut h = String::new();
    head(&mut h, title, &suite);
    for a in answers {
        answer::section(&mut h, a, runs);
    }
    h.push_str(HOW_TO_READ);
    summary::section(&mut h, &suite);
    charts::section(&mut h, &suite);
    if let Some(c) = comparison {
        comparison::section(&mut h, c);
    }
    h.push_str("<h2 id=\"runs\">Runs</h2>\n");
    for run in &suite.runs {
        run::section(&mut h, dir, run);
    }
    h.push_str("</body>\n</html>\n");
    h
}

/// Everything up to the page's title, and when and what it shows.
fn head(h: &mut String, title: &str, suite: &SuiteView) {
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\" />\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\" />\n\
         <title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        esc(title),
        esc(title)
    );
    let _ = writeln!(
        h,
        "<p class=\"when\">Generated {} · {} run(s){}</p>",
        esc(&now_utc()),
        suite.runs.len(),
        suite.span().map_or(String::new(), |(a, b)| format!(
            " · runs from {} to {}",
            esc(a),
            esc(b)
        ))
    );
}

fn now_utc() -> String {
    time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second] UTC"
        ))
        .unwrap_or_default()
}

const CSS: &str = "
body { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; margin: 2em auto; max-width: 1200px; padding: 0 1em; color: #222; line-height: 1.4; }
h1 { margin-bottom: 0.2em; }
h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em; margin-top: 2em; }
.when { color: #666; margin-top: 0; }
.howto { background: #f6f8fa; border-left: 4px solid #4e79a7; padding: 0.6em 1em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.pass { background: #e3f4e1; color: #1e6b1e; font-weight: bold; }
.fail { background: #fbe0e0; color: #a11; font-weight: bold; }
.unknown, .warn { background: #fff4d6; color: #7a5b00; }
.none { background: #eeeeee; color: #555; }
.ok { color: #1e6b1e; }
.broken { color: #a04000; }
.sw { display: inline-block; width: 0.9em; height: 0.9em; border-radius: 2px; margin-right: 0.4em; vertical-align: -0.1em; }
figure { margin: 1em 0; }
figure svg { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9em; }
.multiples figure { margin: 0.5em 0; }
.note { color: #7a5b00; }
pre { background: #f6f8fa; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
section.run { border-top: 2px solid #eee; margin-top: 1.5em; }
";

const HOW_TO_READ: &str = "<div class=\"howto\"><p><strong>How to read this.</strong> \
Each run published messages with a per-key sequence and recorded the orders: the <em>publish</em> \
order (the reference), the <em>ack</em> order as the replies reached the connection (wire) and as \
the application's ack futures completed (completion), and the <em>storage</em> order the stream \
holds — and, for scenarios with a consume side, the <em>consume</em> order its workers processed \
the messages in. An order is <em>preserved</em> when no message comes after a later-published one of the \
same key; <em>broken: N% late per key</em> says how many did. <em>lost</em> counts acknowledged \
messages missing from the stream (must be 0), <em>dup</em> messages stored twice, <em>unknown</em> \
publishes that timed out (never counted as lost; in brackets how many were found stored). The \
verdict judges the scenario's own claims (its <code>expect</code> block): fail beats unknown beats \
pass, and <em>none</em> means the scenario claims nothing. Latency is publish → ack per message; \
throughput counts acks per second. Fault windows are \
shaded in the timelines, and each run's section splits its figures into before / during / after \
every fault.</p></div>\n";
