//! One run's section of the page: how it ended, where it ran, its counts, latencies and orders
//! with all their figures, the consume side and retries, its claims, its fault windows and the
//! validated plan, with a link to its result.json.

use std::fmt::Write as _;
use std::path::Path;

use crate::render::chart;
use crate::render::view::{
    consume_figures, consume_setup, dash, fmt_us, lost_phrase, OrderView, RunView,
};

use super::faults;
use super::markup::{esc, href, td};

/// The section of `run`; `page_dir` is where the page lives (for the link to result.json).
pub(super) fn section(h: &mut String, page_dir: &Path, run: &RunView) {
    header(h, page_dir, run);
    environment(h, run);
    counts(h, run);
    latencies(h, run);
    orders(h, run);
    consume_retries_errors(h, run);
    super::cluster::block(h, run);
    claims(h, run);
    if !run.faults().is_empty() {
        h.push_str("<h4>Faults</h4>\n");
        for f in run.faults() {
            faults::block(h, f);
        }
    }
    let _ = writeln!(
        h,
        "<details><summary>Plan (the validated scenario, defaults filled in)</summary>\
         <pre>{}</pre></details>\n</section>",
        esc(&run.plan_json())
    );
}

/// The run's name in its colour, its description, status and verdict, and a loss first.
fn header(h: &mut String, page_dir: &Path, run: &RunView) {
    let r = run.report;
    let _ = writeln!(
        h,
        "<section class=\"run\" id=\"run-{}\">\n<h3><span class=\"sw\" style=\"background:{}\"></span>{}</h3>",
        run.index,
        chart::scenario_color_hex(run.index),
        esc(&run.label)
    );
    let _ = writeln!(h, "<p>{}</p>", esc(&r.scenario.description));
    let verdict = run.verdict().as_str();
    let _ = writeln!(
        h,
        "<p>Status <strong>{}</strong>{} · verdict <span class=\"{verdict}\">{}</span> · \
         <a href=\"{}\">result.json</a></p>",
        esc(run.status().as_str()),
        r.status_reason
            .as_ref()
            .map_or(String::new(), |s| format!(" ({})", esc(s))),
        esc(&verdict.to_uppercase()),
        esc(&href(page_dir, &run.result_path()))
    );
    if let Some(lost) = run.lost() {
        let _ = writeln!(h, "<p class=\"fail\">LOST: {}</p>", esc(&lost_phrase(lost)));
    }
}

fn environment(h: &mut String, run: &RunView) {
    h.push_str("<h4>Environment</h4>\n<table>\n");
    for (k, v) in run.environment() {
        let _ = writeln!(h, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(&v));
    }
    h.push_str("</table>\n");
}

fn counts(h: &mut String, run: &RunView) {
    let c = &run.report.counts;
    let t = &run.report.throughput;
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
        dash(c.stored),
        if run.lost().is_some() { " fail" } else { "" },
        dash(c.lost),
        dash(c.duplicates),
        dash(c.unexpected),
        t.msgs_per_sec,
        t.duration_s
    );
}

fn latencies(h: &mut String, run: &RunView) {
    if run.latencies.is_empty() {
        return;
    }
    h.push_str(
        "<table>\n<tr><th>latency</th><th>p50</th><th>p90</th><th>p99</th>\
                <th>p99.9</th><th>max</th><th>mean</th><th>count</th></tr>\n",
    );
    for l in &run.latencies {
        let p = l.summary;
        let _ = write!(h, "<tr><th>{}</th>", esc(&l.label));
        for v in [p.p50, p.p90, p.p99, p.p999, p.max, p.mean] {
            let _ = write!(h, "<td class=\"num\">{}</td>", esc(&fmt_us(v)));
        }
        let _ = writeln!(h, "<td class=\"num\">{}</td></tr>", p.count);
    }
    h.push_str("</table>\n");
}

fn orders(h: &mut String, run: &RunView) {
    h.push_str(
        "<table>\n<tr><th>order</th><th>summary</th><th>late per key</th>\
                <th>late globally</th><th>inversions</th><th>max displacement</th>\
                <th>keys affected</th></tr>\n",
    );
    for o in &run.orders {
        order_row(h, o);
    }
    h.push_str("</table>\n");
}

fn order_row(h: &mut String, o: &OrderView) {
    let name = esc(&o.name());
    let Some(f) = &o.figures else {
        let _ = writeln!(
            h,
            "<tr><th>{name}</th><td colspan=\"6\">not measured</td></tr>"
        );
        return;
    };
    let _ = writeln!(
        h,
        "<tr><th>{name}</th>{}{}</td><td class=\"num\">{}</td>\
         <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
         <td class=\"num\">{}/{}</td></tr>",
        td(o.tone()),
        esc(&o.cell_or("-")),
        f.late_per_key,
        f.late,
        f.inversions,
        f.max_displacement,
        f.keys_affected,
        f.keys
    );
}

fn consume_retries_errors(h: &mut String, run: &RunView) {
    if let Some(retries) = run.retries() {
        let _ = writeln!(h, "<p>Retries: {}</p>", esc(&retries));
    }
    if let Some(c) = run.consume() {
        let _ = writeln!(
            h,
            "<p>Consume side: {} · {}</p>",
            esc(&consume_setup(c)),
            esc(&consume_figures(c))
        );
    }
    if let Some(errors) = run.errors() {
        let _ = writeln!(h, "<p>Errors: {}</p>", esc(&errors));
    }
}

fn claims(h: &mut String, run: &RunView) {
    h.push_str("<h4>Claims</h4>\n");
    if run.claims().is_empty() {
        h.push_str("<p>The scenario claims nothing (verdict none).</p>\n");
        return;
    }
    h.push_str(
        "<table>\n<tr><th>claim</th><th>expected</th><th>measured</th><th>verdict</th></tr>\n",
    );
    for v in run.claims() {
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
