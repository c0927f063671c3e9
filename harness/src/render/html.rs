//! HTML report: one self-contained `index.html` for a set of runs (a suite, or whatever
//! `jsbench report` was given): the summary table, the charts inline as SVG, and per run its
//! environment, plan, claims and fault windows.
//!
//! Self-contained on purpose: inline CSS, inline SVG, no JavaScript, no fonts or scripts from
//! elsewhere, so the file opens offline, can be attached to a ticket or archived by CI, and
//! shows the same thing in ten years. The markup is also well-formed XML (void elements closed),
//! which lets the tests check it with a plain XML well-formedness check.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

use crate::chart::{self, ChartError, ConsumeSeries, FaultSpan, OrderRow, SpectrumSeries};
use crate::checker::OrderFigures;
use crate::compare::{Comparison, Decision};
use crate::render::text::{self, fmt_us};
use crate::result::{self, FaultReport, Report};

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
/// comparison chart when `comparison` is given. Returns the file's path.
pub fn write_report(
    dir: &Path,
    runs: &[(PathBuf, Report)],
    comparison: Option<&Comparison>,
    title: &str,
) -> Result<PathBuf, HtmlError> {
    let path = dir.join("index.html");
    let io = |source| HtmlError::Io {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let html = render(dir, runs, comparison, title);
    result::write_atomic(&path, html.as_bytes()).map_err(io)?;
    Ok(path)
}

/// The page as a string; `dir` is where it will live (for relative links).
pub fn render(
    dir: &Path,
    runs: &[(PathBuf, Report)],
    comparison: Option<&Comparison>,
    title: &str,
) -> String {
    let labels = run_labels(runs);
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\" />\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\" />\n\
         <title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        esc(title),
        esc(title)
    );
    let first = runs.iter().map(|(_, r)| r.started_at.as_str()).min();
    let last = runs.iter().map(|(_, r)| r.finished_at.as_str()).max();
    let _ = writeln!(
        h,
        "<p class=\"when\">Generated {} · {} run(s){}</p>",
        esc(&now_utc()),
        runs.len(),
        match (first, last) {
            (Some(a), Some(b)) => format!(" · runs from {} to {}", esc(a), esc(b)),
            _ => String::new(),
        }
    );
    h.push_str(HOW_TO_READ);

    // Summary table.
    h.push_str("<h2 id=\"summary\">Summary</h2>\n");
    summary_table(&mut h, runs, &labels);

    // Charts.
    h.push_str("<h2 id=\"charts\">Charts</h2>\n");
    let spectrum: Vec<SpectrumSeries> = runs
        .iter()
        .zip(&labels)
        .map(|((d, r), name)| SpectrumSeries {
            name: name.clone(),
            points: spectrum_points(d, r, "publish_ack"),
        })
        .collect();
    figure(
        &mut h,
        chart::latency_spectrum(&spectrum),
        "Publish → ack latency of every message by percentile: a line further right is rarer; \
         a step up is a group of slow messages (a fault, a retry, a queue).",
    );
    // End to end only where a consume side measured it; the other runs keep their position (and
    // so their colour) with no points.
    let has_e2e = |r: &Report| {
        r.latency_us.get("end_to_end").is_some_and(|l| l.count > 0)
            || r.files.contains_key("latency_end_to_end")
    };
    if runs.iter().any(|(_, r)| has_e2e(r)) {
        let e2e: Vec<SpectrumSeries> = runs
            .iter()
            .zip(&labels)
            .map(|((d, r), name)| SpectrumSeries {
                name: name.clone(),
                points: if has_e2e(r) {
                    spectrum_points(d, r, "end_to_end")
                } else {
                    Vec::new()
                },
            })
            .collect();
        figure(
            &mut h,
            chart::latency_spectrum_titled(E2E_TITLE, &e2e),
            "Publish → processed latency by percentile, for runs with a consume side: from a \
             message's first send to the end of its first successful processing. It includes the \
             time the message waited in the backlog, redeliveries and the processing itself, so \
             a consumer that falls behind lifts the whole line, not just its right end.",
        );
    }
    let timelines: Vec<chart::TimelineSeries> = runs
        .iter()
        .zip(&labels)
        .map(|((_, r), name)| chart::TimelineSeries::from_report(name, r))
        .collect();
    let faults: Vec<FaultSpan> = runs
        .iter()
        .zip(&labels)
        .flat_map(|((_, r), name)| FaultSpan::from_report(name, r))
        .collect();
    figure(
        &mut h,
        chart::throughput_timeline(&timelines, &faults),
        "Acks per second over time, all runs. Shaded: fault windows in their run's colour.",
    );
    if runs.len() > 1 || !faults.is_empty() {
        match chart::throughput_timelines(&timelines, &faults) {
            Ok(list) => {
                h.push_str("<h3>Throughput per run</h3>\n<div class=\"multiples\">\n");
                for (_, svg) in list {
                    let _ = writeln!(h, "<figure>{svg}</figure>");
                }
                h.push_str("</div>\n");
            }
            Err(e) => note(&mut h, &e),
        }
    }
    if runs.iter().any(|(_, r)| r.consume.is_some()) {
        let consume: Vec<ConsumeSeries> = runs
            .iter()
            .zip(&labels)
            .map(|((_, r), name)| {
                // Runs without a consume side stay as empty series: same colours as above.
                ConsumeSeries::from_report(name, r).unwrap_or_else(|| ConsumeSeries {
                    name: name.clone(),
                    bucket_ms: 0.0,
                    processed: Vec::new(),
                    backlog: Vec::new(),
                    published: Vec::new(),
                })
            })
            .collect();
        h.push_str("<h3>Consume side</h3>\n");
        figure(
            &mut h,
            chart::consume_timeline(&consume, &faults),
            "Above: messages processed per second (solid) against messages published per second \
             (dashed, same colour), for the runs with a consume side. Where the solid line runs \
             below the dashed one the consumer falls behind; where it runs above, it catches up. \
             Below: the backlog, how many published messages wait to be processed (published so \
             far minus processed so far). End-to-end latency grows with the backlog: a message \
             published into a backlog of N waits for those N to be processed first.",
        );
    }
    let orders: Vec<OrderRow> = runs
        .iter()
        .zip(&labels)
        .map(|((_, r), name)| OrderRow::from_report(name, r))
        .collect();
    figure(
        &mut h,
        chart::order_divergence(&orders),
        "Share of messages that arrive after a later-published one. Solid: late within its key \
         (what a consumer of one aggregate sees); light: late globally. 0 means the order was kept.",
    );
    if let Some(c) = comparison {
        h.push_str("<h2 id=\"comparison\">Comparison with the baseline</h2>\n");
        let _ = writeln!(
            h,
            "<p class=\"{}\"><b>{}</b>. A metric regresses when its median moved the wrong way \
             by more than its threshold <i>and</i> the 95% bootstrap interval of the change \
             excludes 0 (it needs at least {} complete runs per side); a claim, run status or \
             loss that flips from pass to fail always regresses.</p>",
            if c.regressions > 0 { "fail" } else { "pass" },
            if c.regressions > 0 {
                format!("{} regression(s)", c.regressions)
            } else {
                "No regression".to_string()
            },
            c.min_runs
        );
        let bars = c.bars();
        if !bars.is_empty() {
            figure(
                &mut h,
                chart::comparison(&bars),
                "Baseline (grey) against candidate (median of the runs) per scenario; red marks \
                 a regression.",
            );
        }
        comparison_table(&mut h, c);
    }

    // Per run details.
    h.push_str("<h2 id=\"runs\">Runs</h2>\n");
    for (i, ((d, r), label)) in runs.iter().zip(&labels).enumerate() {
        run_section(&mut h, dir, i, d, r, label);
    }
    h.push_str("</body>\n</html>\n");
    h
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

/// Chart labels: the scenario name, with the run id when a scenario appears more than once.
fn run_labels(runs: &[(PathBuf, Report)]) -> Vec<String> {
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, r) in runs {
        *count.entry(r.scenario.name.as_str()).or_default() += 1;
    }
    runs.iter()
        .map(|(_, r)| {
            if count[r.scenario.name.as_str()] > 1 {
                // Repeats read as "#2"; other runs of one name by their run id.
                match r.scenario.repetition {
                    Some(k) => format!("{} #{k} ({})", r.scenario.name, r.run_id),
                    None => format!("{} ({})", r.scenario.name, r.run_id),
                }
            } else {
                r.scenario.name.clone()
            }
        })
        .collect()
}

/// Title of the end-to-end spectrum (the tests look for it).
pub const E2E_TITLE: &str = "Publish → processed (end-to-end) latency by percentile";

/// The spectrum of latency `name` ("publish_ack", "end_to_end") from the run's histogram log,
/// or from its summary points.
fn spectrum_points(dir: &Path, r: &Report, name: &str) -> Vec<(f64, f64)> {
    match result::hlog::load_histogram(dir, r, name) {
        Ok(Some(h)) if !h.is_empty() => chart::spectrum_from_histogram(&h),
        Ok(_) => summary_points(r, name),
        Err(e) => {
            tracing::warn!("{e}; using the summary percentiles");
            summary_points(r, name)
        }
    }
}

fn summary_points(r: &Report, name: &str) -> Vec<(f64, f64)> {
    r.latency_us
        .get(name)
        .map(chart::spectrum_from_summary)
        .unwrap_or_default()
}

fn figure(h: &mut String, svg: Result<String, ChartError>, caption: &str) {
    match svg {
        Ok(svg) => {
            let _ = writeln!(
                h,
                "<figure>{svg}<figcaption>{}</figcaption></figure>",
                esc(caption)
            );
        }
        Err(e) => note(h, &e),
    }
}

fn note(h: &mut String, e: &ChartError) {
    let _ = writeln!(
        h,
        "<p class=\"note\">Chart not drawn: {}</p>",
        esc(&e.to_string())
    );
}

fn summary_table(h: &mut String, runs: &[(PathBuf, Report)], labels: &[String]) {
    let t = text::summary_rows(runs);
    h.push_str("<table class=\"summary\">\n<tr>");
    for head in &t.headers {
        let _ = write!(h, "<th>{}</th>", esc(head));
    }
    h.push_str("</tr>\n");
    let col = |name: &str| t.headers.iter().position(|x| x == name);
    let (verdict, status, lost, scenario) =
        (col("verdict"), col("status"), col("lost"), col("scenario"));
    for (i, row) in t.rows.iter().enumerate() {
        h.push_str("<tr>");
        for (c, cell) in row.iter().enumerate() {
            let class = if Some(c) == verdict {
                cell.as_str()
            } else if Some(c) == status {
                if cell == "complete" {
                    ""
                } else {
                    "warn"
                }
            } else if Some(c) == lost {
                if cell != "0" && cell != "-" {
                    "fail"
                } else {
                    "num"
                }
            } else if cell.starts_with("broken") {
                "broken"
            } else if cell.starts_with("preserved") || cell.starts_with("per key kept") {
                "ok"
            } else if cell.chars().next().is_some_and(|ch| ch.is_ascii_digit()) {
                "num"
            } else {
                ""
            };
            let open = if class.is_empty() {
                "<td>".to_string()
            } else {
                format!("<td class=\"{class}\">")
            };
            if Some(c) == scenario {
                let _ = write!(
                    h,
                    "{open}<span class=\"sw\" style=\"background:{}\"></span><a href=\"#run-{i}\">{}</a></td>",
                    chart::scenario_color_hex(i),
                    esc(&labels[i])
                );
            } else {
                let _ = write!(h, "{open}{}</td>", esc(cell));
            }
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
}

fn comparison_table(h: &mut String, c: &Comparison) {
    h.push_str(
        "<table>\n<tr><th>scenario</th><th>metric</th><th>baseline</th><th>candidate</th>\
         <th>change</th><th>95% interval</th><th>threshold</th><th>decision</th></tr>\n",
    );
    let sample = |s: &crate::compare::Sample, unit: &str| {
        if s.n == 0 {
            "-".to_string()
        } else {
            format!("{:.2} {} (n={})", s.median, esc(unit), s.n)
        }
    };
    for r in &c.rows {
        let class = match r.decision {
            Decision::Regression => "fail",
            Decision::Improved => "pass",
            _ => "",
        };
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}{:.0}%</td>\
             <td class=\"{class}\">{}</td></tr>",
            esc(&r.scenario),
            esc(&r.metric),
            sample(&r.baseline, &r.unit),
            sample(&r.candidate, &r.unit),
            r.change_pct.map_or("-".into(), |v| format!("{v:+.1}%")),
            r.ci_pct
                .map_or("-".into(), |(lo, hi)| format!("{lo:+.1}% … {hi:+.1}%")),
            if r.bigger_is_better { "-" } else { "+" },
            r.threshold_pct,
            esc(&r.decision.label().replace("**", "")),
        );
    }
    h.push_str("</table>\n");
    if !c.flips.is_empty() {
        h.push_str("<p class=\"fail\">Regressions regardless of noise:</p>\n<ul>\n");
        for f in &c.flips {
            let _ = writeln!(
                h,
                "<li class=\"fail\">{}: {} {} — baseline {}, candidate {}</li>",
                esc(&f.scenario),
                esc(&f.kind),
                esc(&f.what),
                esc(&f.baseline),
                esc(&f.candidate)
            );
        }
        h.push_str("</ul>\n");
    }
    if !c.missing.is_empty() {
        let _ = writeln!(
            h,
            "<p>Missing in the candidate: {}</p>",
            esc(&c.missing.join(", "))
        );
    }
    if !c.new.is_empty() {
        let _ = writeln!(
            h,
            "<p>New in the candidate (no baseline): {}</p>",
            esc(&c.new.join(", "))
        );
    }
}

fn run_section(h: &mut String, page_dir: &Path, i: usize, dir: &Path, r: &Report, label: &str) {
    let _ = writeln!(
        h,
        "<section class=\"run\" id=\"run-{i}\">\n<h3><span class=\"sw\" style=\"background:{}\"></span>{}</h3>",
        chart::scenario_color_hex(i),
        esc(label)
    );
    let _ = writeln!(h, "<p>{}</p>", esc(&r.scenario.description));
    let verdict_class = r.verdict.as_str();
    let _ = writeln!(
        h,
        "<p>Status <strong>{}</strong>{} · verdict <span class=\"{verdict_class}\">{}</span> · \
         <a href=\"{}\">result.json</a></p>",
        esc(r.status.as_str()),
        r.status_reason
            .as_ref()
            .map_or(String::new(), |s| format!(" ({})", esc(s))),
        esc(&r.verdict.as_str().to_uppercase()),
        esc(&href(page_dir, &dir.join("result.json")))
    );
    if let Some(lost) = r.counts.lost.filter(|&l| l > 0) {
        let _ = writeln!(
            h,
            "<p class=\"fail\">LOST: {lost} acknowledged message(s) are not in the stream</p>"
        );
    }

    // Environment.
    let e = &r.environment;
    let env_rows: Vec<(&str, String)> = vec![
        ("run id", r.run_id.clone()),
        (
            "started / finished",
            format!("{} / {}", r.started_at, r.finished_at),
        ),
        ("backend", e.backend.clone()),
        ("server version", e.server_version.clone()),
        ("server source", e.server_source.clone()),
        ("client", e.client.clone()),
        ("jsbench", e.jsbench_version.clone()),
        ("connections", e.connections.to_string()),
        ("runtime", e.runtime.clone()),
        (
            "host",
            format!("{} {} · {} CPUs", e.host.os, e.host.arch, e.host.cpus),
        ),
        (
            "stream",
            format!(
                "{} · {} · R{} · subjects {}",
                r.stream.name,
                r.stream.storage,
                r.stream.replicas,
                r.stream.subjects.join(", ")
            ),
        ),
        ("seed", r.seed.to_string()),
        (
            "scenario file",
            r.scenario.file.clone().unwrap_or_else(|| "-".into()),
        ),
    ];
    h.push_str("<h4>Environment</h4>\n<table>\n");
    for (k, v) in env_rows {
        let _ = writeln!(h, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(&v));
    }
    h.push_str("</table>\n");

    // Counts, throughput, latency, orders.
    let c = &r.counts;
    let o = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
    h.push_str(
        "<h4>Figures</h4>\n<table>\n<tr><th>published</th><th>acked</th><th>failed</th>\
                <th>unknown</th><th>stored</th><th>lost</th><th>duplicates</th><th>unexpected</th>\
                <th>msgs/s</th><th>duration</th></tr>\n",
    );
    let _ = writeln!(
        h,
        "<tr><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
         <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num{}\">{}</td>\
         <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{:.0}</td>\
         <td class=\"num\">{:.2} s</td></tr>\n</table>",
        c.published,
        c.acked,
        c.failed,
        c.unknown,
        o(c.stored),
        if c.lost.unwrap_or(0) > 0 { " fail" } else { "" },
        o(c.lost),
        o(c.duplicates),
        o(c.unexpected),
        r.throughput.msgs_per_sec,
        r.throughput.duration_s
    );
    if r.latency_us.values().any(|l| l.count > 0) {
        h.push_str(
            "<table>\n<tr><th>latency</th><th>p50</th><th>p90</th><th>p99</th>\
                    <th>p99.9</th><th>max</th><th>mean</th><th>count</th></tr>\n",
        );
        for (name, l) in r.latency_us.iter().filter(|(_, l)| l.count > 0) {
            let _ = writeln!(
                h,
                "<tr><th>{}</th><td class=\"num\">{}</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
                 <td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                esc(&name.replace('_', " → ")),
                esc(&fmt_us(l.p50)),
                esc(&fmt_us(l.p90)),
                esc(&fmt_us(l.p99)),
                esc(&fmt_us(l.p999)),
                esc(&fmt_us(l.max)),
                esc(&fmt_us(l.mean)),
                l.count
            );
        }
        h.push_str("</table>\n");
    }
    let orders: [(&str, &Option<OrderFigures>); 5] = [
        ("ack (wire)", &r.order.ack_wire),
        ("ack (completion)", &r.order.ack_completion),
        ("storage", &r.order.storage),
        ("storage, from the acks", &r.order.storage_from_acks),
        ("consume (processed)", &r.order.consume),
    ];
    h.push_str(
        "<table>\n<tr><th>order</th><th>summary</th><th>late per key</th>\
                <th>late globally</th><th>inversions</th><th>max displacement</th>\
                <th>keys affected</th></tr>\n",
    );
    for (name, f) in orders {
        let name = if name == "storage" && !r.order.storage_source.is_empty() {
            format!("storage ({})", r.order.storage_source)
        } else {
            name.to_string()
        };
        match f {
            None => {
                let _ = writeln!(
                    h,
                    "<tr><th>{}</th><td colspan=\"6\">not measured</td></tr>",
                    esc(&name)
                );
            }
            Some(f) => {
                let cell = text::order_cell(f);
                let class = if f.late > 0 { "broken" } else { "ok" };
                let _ = writeln!(
                    h,
                    "<tr><th>{}</th><td class=\"{class}\">{}</td><td class=\"num\">{}</td>\
                     <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
                     <td class=\"num\">{}/{}</td></tr>",
                    esc(&name),
                    esc(&cell),
                    f.late_per_key,
                    f.late,
                    f.inversions,
                    f.max_displacement,
                    f.keys_affected,
                    f.keys
                );
            }
        }
    }
    h.push_str("</table>\n");
    if let Some(rt) = &r.retry {
        let _ = writeln!(
            h,
            "<p>Retries: {} message(s) retried ({} extra attempts) · stored from retries {} · \
             retry reorders {}</p>",
            rt.retried,
            rt.extra_attempts,
            o(rt.stored_from_retries),
            o(rt.retry_reorders)
        );
    }
    if let Some(c) = &r.consume {
        let f = &c.figures;
        let _ = writeln!(
            h,
            "<p>Consume side: {} consumer, {} pool of {} worker(s), {} publishing · processed {} \
             ({} processings) · redelivered {} ({} of them late within their key) · failures {} · \
             never processed {} · {:.0} msgs/s · backlog peak {}{}</p>",
            esc(&c.consumer),
            esc(&c.model),
            c.workers,
            if c.when == "after" { "after" } else { "while" },
            f.processed,
            f.processings,
            f.redelivered,
            f.redelivered_late_per_key,
            f.failures,
            o(f.unprocessed),
            c.msgs_per_sec,
            c.timeline.backlog.iter().max().copied().unwrap_or(0),
            c.error
                .as_ref()
                .map_or(String::new(), |e| format!(" · stopped: {}", esc(e)))
        );
    }
    if !r.errors.is_empty() {
        let list: Vec<String> = r.errors.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = writeln!(h, "<p>Errors: {}</p>", esc(&list.join(" · ")));
    }

    // Claims.
    h.push_str("<h4>Claims</h4>\n");
    if r.verdicts.is_empty() {
        h.push_str("<p>The scenario claims nothing (verdict none).</p>\n");
    } else {
        h.push_str(
            "<table>\n<tr><th>claim</th><th>expected</th><th>measured</th><th>verdict</th></tr>\n",
        );
        for v in &r.verdicts {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"{}\">{}</td></tr>",
                esc(&v.claim),
                esc(&v.expected),
                esc(&v.figure),
                v.verdict.as_str(),
                v.verdict.as_str()
            );
        }
        h.push_str("</table>\n");
    }

    // Faults.
    if !r.faults.is_empty() {
        h.push_str("<h4>Faults</h4>\n");
        for f in &r.faults {
            fault_block(h, f);
        }
    }

    // Plan.
    let plan = serde_json::to_string_pretty(&r.scenario.plan).unwrap_or_default();
    let _ = writeln!(
        h,
        "<details><summary>Plan (the validated scenario, defaults filled in)</summary>\
         <pre>{}</pre></details>\n</section>",
        esc(&plan)
    );
}

fn fault_block(h: &mut String, f: &FaultReport) {
    let w = &f.window;
    let _ = writeln!(
        h,
        "<p><strong>{}</strong> #{} · {} · {} · {} · {:.0}–{:.0} ms{}{}</p>",
        esc(&w.name),
        w.occurrence,
        esc(w.kind.as_str()),
        esc(&w.detail),
        esc(&w.target),
        w.start_ms,
        w.end_ms,
        if w.truncated {
            " (healed early: publishing ended)"
        } else {
            ""
        },
        w.error.as_ref().map_or(String::new(), |e| format!(
            " <span class=\"fail\">ERROR: {}</span>",
            esc(e)
        ))
    );
    let Some(sp) = &f.split else {
        return;
    };
    h.push_str("<table>\n<tr><th></th><th>from–to (ms)</th><th>published</th><th>acked</th>\
                <th>failed</th><th>unknown (stored)</th><th>retried</th><th>lost</th><th>dup</th>\
                <th>late per key</th><th>retry reorders</th><th>acks/s</th><th>p50</th><th>p99</th></tr>\n");
    let o = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
    for (name, s) in [
        ("before", &sp.before),
        ("during", &sp.during),
        ("after", &sp.after),
    ] {
        let _ = writeln!(
            h,
            "<tr><th>{name}</th><td class=\"num\">{:.0}–{:.0}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{} ({})</td>\
             <td class=\"num\">{}</td><td class=\"num{}\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{:.0}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            s.from_ms,
            s.to_ms,
            s.published,
            s.acked,
            s.failed,
            s.unknown,
            o(s.recovered),
            s.retried,
            if s.lost.unwrap_or(0) > 0 { " fail" } else { "" },
            o(s.lost),
            o(s.duplicates),
            o(s.storage_late_per_key),
            o(s.retry_reorders),
            s.acks_per_sec,
            esc(&s.latency_p50_us.map_or("-".into(), fmt_us)),
            esc(&s.latency_p99_us.map_or("-".into(), fmt_us)),
        );
    }
    h.push_str("</table>\n");
    let _ = writeln!(
        h,
        "<p>Recovery: {}</p>",
        sp.recover_ms
            .map_or("no successful ack after the heal".to_string(), |m| format!(
                "first successful ack {m:.0} ms after the heal"
            ))
    );
}

/// Escapes text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A relative URL from `from_dir` to `to` ("../run/result.json"), percent-encoded; absolute
/// (file path) only when they share no root.
fn href(from_dir: &Path, to: &Path) -> String {
    let abs = |p: &Path| {
        std::fs::canonicalize(p)
            .or_else(|_| std::path::absolute(p))
            .unwrap_or_else(|_| p.to_path_buf())
    };
    let (a, b) = (abs(from_dir), abs(to));
    let ac: Vec<Component> = a.components().collect();
    let bc: Vec<Component> = b.components().collect();
    let common = ac.iter().zip(&bc).take_while(|(x, y)| x == y).count();
    if common == 0 {
        return b.display().to_string();
    }
    let mut parts: Vec<String> = vec!["..".to_string(); ac.len() - common];
    parts.extend(
        bc[common..]
            .iter()
            .map(|c| url_segment(&c.as_os_str().to_string_lossy())),
    );
    parts.join("/")
}

fn url_segment(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~+,:@=".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

fn now_utc() -> String {
    time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!(
            "[year]-[month]-[day] [hour]:[minute]:[second] UTC"
        ))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hrefs_are_relative_and_encoded() {
        let d = tempfile::tempdir().unwrap();
        let page = d.path().join("20261127T1-suite");
        let run = d.path().join("run a&b");
        std::fs::create_dir_all(&page).unwrap();
        std::fs::create_dir_all(&run).unwrap();
        assert_eq!(
            href(&page, &run.join("result.json")),
            "../run%20a%26b/result.json"
        );
        assert_eq!(href(&run, &run.join("result.json")), "result.json");
    }

    #[test]
    fn escapes() {
        assert_eq!(esc("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
    }
}
