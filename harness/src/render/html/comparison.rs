//! The page's comparison with a baseline (`--baseline`): the gate's verdict, the comparison
//! chart, the table of metrics with their intervals and decisions, and the flips, missing and
//! new scenarios.

use std::fmt::Write as _;

use crate::compare::{Comparison, Decision, MetricRow, Sample};
use crate::render::chart;
use crate::result::Unit;

use super::charts::write_figure;
use super::markup::esc;

pub(super) fn section(h: &mut String, c: &Comparison) {
    h.push_str("<h2 id=\"comparison\">Comparison with the baseline</h2>\n");
    let _ = writeln!(
        h,
        "<p class=\"{}\"><b>{}</b>. A metric regresses when its median moved the wrong way \
         by more than its threshold <i>and</i> the 95% bootstrap interval of the change \
         excludes 0 (it needs at least {} complete runs per side); a claim, run status or \
         loss that flips from pass to fail always regresses.</p>",
        if c.regressions > 0 || c.refused {
            "fail"
        } else {
            "pass"
        },
        if c.refused {
            let fields: Vec<&str> = c.env_diffs.iter().map(|d| d.field.as_str()).collect();
            format!(
                "Refused: the sides were measured in different environments ({}); no decision",
                fields.join(", ")
            )
        } else if c.regressions > 0 {
            format!("{} regression(s)", c.regressions)
        } else {
            "No regression".to_string()
        },
        c.min_runs
    );
    let bars = chart::ComparisonBar::from_comparison(c);
    if !bars.is_empty() {
        write_figure(
            h,
            chart::comparison(&bars),
            "Baseline (grey) against candidate (median of the runs) per scenario; red marks \
             a regression.",
        );
    }
    table(h, c);
    flips(h, c);
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

fn table(h: &mut String, c: &Comparison) {
    h.push_str(
        "<table>\n<tr><th>scenario</th><th>metric</th><th>baseline</th><th>candidate</th>\
         <th>change</th><th>95% interval</th><th>threshold</th><th>decision</th></tr>\n",
    );
    for r in &c.rows {
        row(h, r);
    }
    h.push_str("</table>\n");
}

fn row(h: &mut String, r: &MetricRow) {
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
        sample(&r.baseline, r.unit),
        sample(&r.candidate, r.unit),
        r.change_pct.map_or("-".into(), |v| format!("{v:+.1}%")),
        r.ci_pct
            .map_or("-".into(), |(lo, hi)| format!("{lo:+.1}% … {hi:+.1}%")),
        if r.bigger_is_better { "-" } else { "+" },
        r.threshold_pct,
        esc(&r.decision.label().replace("**", "")),
    );
}

/// "12.30 µs (n=3)", or "-" without runs.
fn sample(s: &Sample, unit: Unit) -> String {
    if s.n == 0 {
        "-".to_string()
    } else {
        format!("{:.2} {} (n={})", s.median, esc(unit.as_str()), s.n)
    }
}

/// Claims, statuses and losses that went from pass to fail: regressions whatever the noise.
fn flips(h: &mut String, c: &Comparison) {
    if c.flips.is_empty() {
        return;
    }
    h.push_str("<p class=\"fail\">Regressions regardless of noise:</p>\n<ul>\n");
    for f in &c.flips {
        let (class, note) = if f.tolerated {
            (
                "warn",
                " (timing-dependent, a minority of the candidate's runs: not counted)",
            )
        } else {
            ("fail", "")
        };
        let _ = writeln!(
            h,
            "<li class=\"{class}\">{}: {} {} — baseline {}, candidate {}{note}</li>",
            esc(&f.scenario),
            esc(f.kind.as_str()),
            esc(&f.what),
            esc(&f.baseline),
            esc(&f.candidate)
        );
    }
    h.push_str("</ul>\n");
}
