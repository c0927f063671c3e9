//! The page's opening: each claims file's answer — the order table with ✅/❌ and figures, the
//! claims judged, and the "which strategy" charts — before anything else.

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::claims::{Answer, OrderName};
use crate::render::chart::strategy_charts;
use crate::result::Report;

use super::markup::esc;

pub(super) fn section(h: &mut String, answer: &Answer, runs: &[(PathBuf, Report)]) {
    let _ = writeln!(h, "<h2 id=\"answer\">{}</h2>", esc(&answer.title));
    if !answer.about.trim().is_empty() {
        let _ = writeln!(h, "<p>{}</p>", esc(answer.about.trim()));
    }
    let _ = writeln!(
        h,
        "<p class=\"when\">Judged from {} run(s) with <code>{}</code>.</p>",
        answer.runs,
        esc(&answer.file)
    );
    order_table(h, answer);
    claims_table(h, answer);
    for c in strategy_charts(runs, answer) {
        h.push_str("<figure>\n");
        match &c.svg {
            Ok(svg) => h.push_str(svg),
            Err(e) => {
                let _ = write!(
                    h,
                    "<p class=\"note\">chart not drawn: {}</p>",
                    esc(&e.to_string())
                );
            }
        }
        let _ = writeln!(
            h,
            "<figcaption>{} (also <a href=\"charts/{}\">charts/{}</a> beside this page when it \
             was written by a suite)</figcaption>\n</figure>",
            esc(c.caption),
            c.file,
            c.file
        );
    }
}

fn order_table(h: &mut String, a: &Answer) {
    if a.table.rows.is_empty() {
        let _ = writeln!(
            h,
            "<p>Order table: no complete run matches {} (not measured).</p>",
            esc(&a.table.runs)
        );
        return;
    }
    let _ = writeln!(
        h,
        "<p>Order within each key, {}:</p>\n<table class=\"answer\">\n<tr><th></th>",
        esc(&a.table.runs)
    );
    for o in OrderName::ALL {
        let _ = write!(h, "<th>{}</th>", esc(o.as_str()));
    }
    h.push_str("</tr>\n");
    for r in &a.table.rows {
        let _ = write!(h, "<tr><th>{}</th>", esc(&r.label));
        for c in &r.cells {
            match c {
                Some(v) => {
                    let (class, mark) = if v.preserved {
                        ("ok", "✅")
                    } else {
                        ("broken", "❌")
                    };
                    let _ = write!(
                        h,
                        "<td class=\"{class}\" title=\"{}\">{mark} {}</td>",
                        esc(&v.runs.join(", ")),
                        esc(&v.figure)
                    );
                }
                None => h.push_str("<td class=\"none\">– not measured</td>"),
            }
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
}

fn claims_table(h: &mut String, a: &Answer) {
    h.push_str(
        "<table class=\"claims\">\n<tr><th></th><th>claim</th><th>figure</th><th>runs</th></tr>\n",
    );
    for j in &a.judgements {
        let class = match j.outcome {
            crate::claims::Outcome::Confirmed => "pass",
            crate::claims::Outcome::Refuted => "fail",
            crate::claims::Outcome::Inconclusive => "unknown",
            crate::claims::Outcome::NotMeasured => "none",
        };
        let runs = if j.runs.is_empty() {
            "–".to_string()
        } else {
            j.runs.join(", ")
        };
        let _ = writeln!(
            h,
            "<tr><td class=\"{class}\">{} {}</td><td><strong>{}</strong>: {}</td><td>{}</td><td>{}</td></tr>",
            j.outcome.mark(),
            j.outcome.as_str(),
            esc(&j.id),
            esc(&j.says),
            esc(&j.figure),
            esc(&runs)
        );
    }
    h.push_str("</table>\n");
}
