//! The page's "Charts" section: every figure of [`chart::FIGURES`] the suite has something for,
//! in that order, each as inline SVG with its caption — or a note saying why it was not drawn.

use std::fmt::Write as _;

use crate::render::chart::{self, ChartError, Figure};
use crate::render::view::SuiteView;

use super::markup::esc;

pub(super) fn section(h: &mut String, suite: &SuiteView) {
    h.push_str("<h2 id=\"charts\">Charts</h2>\n");
    for figure in chart::FIGURES.iter().filter_map(|f| f(suite)) {
        match figure {
            Figure::Chart {
                heading,
                svg,
                caption,
            } => {
                if let Some(heading) = heading {
                    let _ = writeln!(h, "<h3>{}</h3>", esc(heading));
                }
                write_figure(h, svg, caption);
            }
            Figure::Multiples { heading, svgs } => match svgs {
                Ok(list) => {
                    let _ = writeln!(h, "<h3>{}</h3>\n<div class=\"multiples\">", esc(heading));
                    for svg in list {
                        let _ = writeln!(h, "<figure>{svg}</figure>");
                    }
                    h.push_str("</div>\n");
                }
                Err(e) => note(h, &e),
            },
        }
    }
}

/// One chart and its caption, or the note that it was not drawn.
pub(super) fn write_figure(h: &mut String, svg: Result<String, ChartError>, caption: &str) {
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
