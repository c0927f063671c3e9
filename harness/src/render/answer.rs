//! The answer of a claims file, as text: the order table and the judged claims, for a terminal
//! (within 120 columns) and as markdown (summary.md, claims.md, the README's opening).

use crate::claims::judge::OrderVerdict;
use crate::claims::{Answer, OrderName, Outcome};

/// Terminal width the text fits in.
const WIDTH: usize = 120;

/// Columns of a string on a terminal: the marks ✅ ❌ ❔ ➖ take two.
fn width(s: &str) -> usize {
    s.chars()
        .map(|c| {
            if matches!(c, '✅' | '❌' | '❔' | '➖') {
                2
            } else {
                1
            }
        })
        .sum()
}

fn pad(s: &str, w: usize) -> String {
    format!("{s}{}", " ".repeat(w.saturating_sub(width(s))))
}

fn mark(v: &OrderVerdict) -> &'static str {
    if v.preserved {
        Outcome::Confirmed.mark()
    } else {
        Outcome::Refuted.mark()
    }
}

/// "Does PublishAsync reorder my events? (claims/publish-order.toml, 14 runs)"
fn heading(a: &Answer) -> String {
    format!("{}  ({}, {} runs)", a.title, a.file, a.runs)
}

/// The terminal text: the heading, the order table, the claims with their figures.
pub fn terminal(a: &Answer) -> String {
    let mut out = format!("{}\n\n", heading(a));
    out.push_str(&terminal_table(a));
    out.push('\n');
    out.push_str(&terminal_claims(a));
    out
}

fn terminal_table(a: &Answer) -> String {
    if a.table.rows.is_empty() {
        return format!(
            "order table: no complete run matches {} (not measured)\n",
            a.table.runs
        );
    }
    // Full cells when they fit, else the percentage alone.
    let cells = |short: bool| -> Vec<Vec<String>> {
        a.table
            .rows
            .iter()
            .map(|r| {
                r.cells
                    .iter()
                    .map(|c| match c {
                        None => "–".to_string(),
                        Some(v) if short && !v.preserved => {
                            format!("{} {}", mark(v), v.short.split(' ').next().unwrap_or(""))
                        }
                        Some(v) => format!("{} {}", mark(v), v.short),
                    })
                    .collect()
            })
            .collect()
    };
    let head: Vec<&str> = OrderName::ALL.iter().map(|o| o.as_str()).collect();
    let layout = |cells: &Vec<Vec<String>>| -> (usize, Vec<usize>) {
        let label_w = a
            .table
            .rows
            .iter()
            .map(|r| width(&r.label))
            .max()
            .unwrap_or(0);
        let widths = (0..head.len())
            .map(|i| {
                cells
                    .iter()
                    .map(|row| width(&row[i]))
                    .chain([width(head[i])])
                    .max()
                    .unwrap_or(0)
            })
            .collect::<Vec<_>>();
        (label_w, widths)
    };
    let mut body = cells(false);
    let (mut label_w, mut widths) = layout(&body);
    if label_w + widths.iter().map(|w| w + 2).sum::<usize>() > WIDTH {
        body = cells(true);
        (label_w, widths) = layout(&body);
    }
    let mut out = format!("order per key, {}:\n", a.table.runs);
    let line = |label: &str, row: &[String]| -> String {
        let mut s = pad(label, label_w);
        for (c, w) in row.iter().zip(&widths) {
            s.push_str("  ");
            s.push_str(&pad(c, *w));
        }
        format!("{}\n", s.trim_end())
    };
    let head_row: Vec<String> = head.iter().map(|s| s.to_string()).collect();
    out.push_str(&line("", &head_row));
    for (r, row) in a.table.rows.iter().zip(&body) {
        out.push_str(&line(&r.label, row));
    }
    out
}

fn terminal_claims(a: &Answer) -> String {
    let tally: Vec<String> = a
        .tally()
        .iter()
        .map(|(o, n)| format!("{n} {}", o.as_str()))
        .collect();
    let mut out = format!("claims: {}\n", tally.join(" · "));
    let indent = 17;
    for j in &a.judgements {
        let head = format!("{} {}", j.outcome.mark(), j.outcome.as_str());
        out.push_str(&pad(&head, indent));
        out.push_str(&format!("{}: {}\n", j.id, j.says));
        for l in wrap(&j.figure, WIDTH - indent) {
            out.push_str(&format!("{}{l}\n", " ".repeat(indent)));
        }
    }
    out
}

/// Splits text into lines of at most `w` columns at spaces.
fn wrap(text: &str, w: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut cur = String::new();
    for word in text.split(' ') {
        if !cur.is_empty() && width(&cur) + 1 + width(word) > w {
            lines.push(std::mem::take(&mut cur));
        }
        if !cur.is_empty() {
            cur.push(' ');
        }
        cur.push_str(word);
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    lines
}

/// Markdown: the heading, the order table with full figures, the claims table.
pub fn markdown(a: &Answer) -> String {
    let mut out = format!("## {}\n\n", a.title);
    if !a.about.is_empty() {
        out.push_str(&format!("{}\n\n", a.about.trim()));
    }
    out.push_str(&format!(
        "Judged by jsbench from {} runs with `{}`.\n\n",
        a.runs, a.file
    ));
    out.push_str(&markdown_table(a));
    out.push('\n');
    out.push_str("| | claim | figure | runs |\n|---|---|---|---|\n");
    for j in &a.judgements {
        let runs = match j.runs.len() {
            0 => "–".to_string(),
            1..=3 => j.runs.join(", "),
            n => format!("{}, … ({n} runs)", j.runs[..2].join(", ")),
        };
        out.push_str(&format!(
            "| {} {} | **{}**: {} | {} | {} |\n",
            j.outcome.mark(),
            j.outcome.as_str(),
            j.id,
            cell(&j.says),
            cell(&j.figure),
            cell(&runs)
        ));
    }
    out
}

fn markdown_table(a: &Answer) -> String {
    if a.table.rows.is_empty() {
        return format!(
            "Order table: no complete run matches {} (not measured).\n",
            a.table.runs
        );
    }
    let mut out = format!("Order per key, {}:\n\n| |", a.table.runs);
    for o in OrderName::ALL {
        out.push_str(&format!(" {} |", o.as_str()));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(OrderName::ALL.len()));
    out.push('\n');
    for r in &a.table.rows {
        out.push_str(&format!("| {} |", r.label));
        for c in &r.cells {
            match c {
                Some(v) => out.push_str(&format!(" {} {} |", mark(v), cell(&v.figure))),
                None => out.push_str(" – not measured |"),
            }
        }
        out.push('\n');
    }
    out
}

/// A markdown table cell: no pipes or line breaks.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// Replaces the text between `<!-- jsbench:answer:begin -->` and `<!-- jsbench:answer:end -->`
/// with `block`; `None` when the markers are missing.
pub fn replace_marked(doc: &str, block: &str) -> Option<String> {
    const BEGIN: &str = "<!-- jsbench:answer:begin -->";
    const END: &str = "<!-- jsbench:answer:end -->";
    let b = doc.find(BEGIN)? + BEGIN.len();
    let e = doc[b..].find(END)? + b;
    Some(format!(
        "{}\n{}\n{}",
        &doc[..b],
        block.trim_end(),
        &doc[e..]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_are_two_columns_wide() {
        assert_eq!(width("✅ 0 of 5"), 9);
        assert_eq!(pad("❌", 4), "❌  ");
    }

    #[test]
    fn wraps_at_spaces() {
        assert_eq!(wrap("aa bb cc", 5), vec!["aa bb", "cc"]);
        assert_eq!(wrap("", 5), Vec::<String>::new());
    }

    #[test]
    fn marked_block_is_replaced() {
        let doc = "# T\n<!-- jsbench:answer:begin -->\nold\n<!-- jsbench:answer:end -->\nrest\n";
        assert_eq!(
            replace_marked(doc, "new\n").unwrap(),
            "# T\n<!-- jsbench:answer:begin -->\nnew\n<!-- jsbench:answer:end -->\nrest\n"
        );
        assert!(replace_marked("no markers", "x").is_none());
    }
}
