//! The page's summary table: the suite's summary table (the one the terminal prints), its cells
//! coloured by tone, each run's name linked to its section beside its chart colour.

use std::fmt::Write as _;

use crate::render::chart;
use crate::render::view::{Cell, RunView, SuiteView, Tone, SUMMARY_COLUMNS};

use super::markup::{esc, td};

pub(super) fn section(h: &mut String, suite: &SuiteView) {
    h.push_str("<h2 id=\"summary\">Summary</h2>\n");
    h.push_str("<table class=\"summary\">\n<tr>");
    for column in &SUMMARY_COLUMNS {
        let _ = write!(h, "<th>{}</th>", esc(column.header));
    }
    h.push_str("</tr>\n");
    for (run, row) in suite.runs.iter().zip(suite.summary_cells()) {
        h.push_str("<tr>");
        for c in &row {
            cell(h, run, c);
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
}

fn cell(h: &mut String, run: &RunView, c: &Cell) {
    let open = td(c.tone);
    if c.tone == Tone::Run {
        let _ = write!(
            h,
            "{open}<span class=\"sw\" style=\"background:{}\"></span><a href=\"#run-{}\">{}</a></td>",
            chart::scenario_color_hex(run.index),
            run.index,
            esc(&c.text)
        );
    } else {
        let _ = write!(h, "{open}{}</td>", esc(&c.text));
    }
}
