//! The summary table: one row per run, the orders side by side. Each cell carries its text and
//! its [`Tone`], so the markdown table (text only) and the HTML table (coloured) are the same
//! table.

use crate::checker::bound::Bound;

use super::order::{late_per_key_cell, OrderKind};
use super::phrase::{consume_cell, faults_cell, fmt_us};
use super::tone::Tone;
use super::{RunView, SuiteView};

/// One cell of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub text: String,
    pub tone: Tone,
}

impl Cell {
    fn new(text: impl Into<String>, tone: Tone) -> Cell {
        Cell {
            text: text.into(),
            tone,
        }
    }

    /// A figure, or a plain "-" when it was not measured.
    fn number_or_dash(v: Option<String>) -> Cell {
        match v {
            Some(v) => Cell::new(v, Tone::Number),
            None => Cell::new("-", Tone::Plain),
        }
    }
}

/// One column: its header and how a run fills it.
#[derive(Clone, Copy)]
pub struct Column {
    pub header: &'static str,
    pub cell: fn(&RunView) -> Cell,
}

/// The columns, left to right. A new column is one more entry here; the markdown and the HTML
/// table both follow.
pub const SUMMARY_COLUMNS: [Column; 17] = [
    Column {
        header: "scenario",
        cell: |r| Cell::new(r.label.clone(), Tone::Run),
    },
    Column {
        header: "status",
        cell: |r| {
            let tone = if r.status().is_complete() {
                Tone::Plain
            } else {
                Tone::Warning
            };
            Cell::new(r.status().as_str(), tone)
        },
    },
    Column {
        header: "verdict",
        cell: |r| Cell::new(r.verdict().as_str(), Tone::Verdict(r.verdict())),
    },
    Column {
        header: "publish order",
        cell: |r| {
            let published = r.report.counts.published;
            Cell::new(format!("reference ({published})"), Tone::Plain)
        },
    },
    Column {
        header: OrderKind::AckWire.title(),
        cell: |r| order_column(r, OrderKind::AckWire),
    },
    Column {
        header: OrderKind::AckCompletion.title(),
        cell: |r| order_column(r, OrderKind::AckCompletion),
    },
    Column {
        header: OrderKind::Storage.title(),
        cell: |r| order_column(r, OrderKind::Storage),
    },
    Column {
        header: OrderKind::Consume.title(),
        cell: |r| Cell::new(consume_cell(r.report), r.order(OrderKind::Consume).tone()),
    },
    Column {
        header: "faults",
        cell: |r| Cell::new(faults_cell(r.report), Tone::Plain),
    },
    Column {
        header: "lost",
        cell: |r| match r.report.counts.lost {
            Some(0) => Cell::new("0", Tone::Number),
            Some(n) => Cell::new(n.to_string(), Tone::Bad),
            None => Cell::new("-", Tone::Plain),
        },
    },
    Column {
        header: "replicas",
        cell: |r| match r.report.cluster.as_ref().and_then(|c| c.replicas.as_ref()) {
            Some(s) if s.agree => Cell::new("agree", Tone::Kept),
            Some(_) => Cell::new("DIVERGE", Tone::Bad),
            None => Cell::new("-", Tone::Plain),
        },
    },
    Column {
        header: "dup",
        cell: |r| Cell::number_or_dash(r.report.counts.duplicates.map(|v| v.to_string())),
    },
    Column {
        header: "unknown (stored)",
        cell: |r| {
            let c = &r.report.counts;
            let text = match c.recovered {
                Some(rec) => format!("{} ({rec})", c.unknown),
                None => c.unknown.to_string(),
            };
            Cell::new(text, Tone::Number)
        },
    },
    Column {
        header: "retry reorders",
        cell: |r| {
            let reorders = r.report.retry.and_then(|t| t.retry_reorders);
            Cell::number_or_dash(reorders.map(|v| v.to_string()))
        },
    },
    Column {
        header: "msgs/s",
        cell: |r| {
            let rate = r.report.throughput.msgs_per_sec;
            Cell::new(format!("{rate:.0}"), Tone::Number)
        },
    },
    Column {
        header: "p99",
        cell: |r| Cell::number_or_dash(r.publish_ack().map(|l| fmt_us(l.p99))),
    },
    Column {
        header: "bound",
        cell: bound_column,
    },
];

/// Which side was busy: client, server, machine (both, filling its cores), neither.
fn bound_column(r: &RunView) -> Cell {
    let text = r.report.resources.bound.map_or("-", |b| match b {
        Bound::Client => "client",
        Bound::Server => "server",
        Bound::Machine => "machine",
        Bound::Neither => "neither",
    });
    Cell::new(text, Tone::Plain)
}

/// The compact table that fits a terminal (120 columns): what a reader looks at first. Every
/// other column stays in summary.md, the HTML page and `--wide`. The order columns are the
/// share of messages late within their key; the legend under the table says so.
pub const COMPACT_COLUMNS: [Column; 10] = [
    SUMMARY_COLUMNS[0],
    Column {
        header: "verdict",
        // A run that did not complete says so here: its verdict is not the headline.
        cell: |r| {
            if r.status().is_complete() {
                Cell::new(r.verdict().as_str(), Tone::Verdict(r.verdict()))
            } else {
                Cell::new(r.status().as_str(), Tone::Warning)
            }
        },
    },
    SUMMARY_COLUMNS[14],
    SUMMARY_COLUMNS[15],
    Column {
        header: "storage",
        cell: |r| late_per_key_column(r, OrderKind::Storage),
    },
    Column {
        header: "consume",
        cell: |r| late_per_key_column(r, OrderKind::Consume),
    },
    SUMMARY_COLUMNS[9],
    SUMMARY_COLUMNS[10],
    SUMMARY_COLUMNS[11],
    SUMMARY_COLUMNS[16],
];

/// A compact order column: late per key, "-" when not measured.
fn late_per_key_column(r: &RunView, kind: OrderKind) -> Cell {
    let order = r.order(kind);
    let text = match &order.figures {
        Some(f) if f.messages > 0 => late_per_key_cell(f),
        _ => "-".into(),
    };
    Cell::new(text, order.tone())
}

/// An order column: its cell, "-" when not measured.
fn order_column(r: &RunView, kind: OrderKind) -> Cell {
    let order = r.order(kind);
    Cell::new(order.cell_or("-"), order.tone())
}

/// The summary table as text cells: what the markdown table prints and tests compare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryTable {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl SuiteView<'_> {
    /// The table's cells, a row per run, in [`SUMMARY_COLUMNS`] order.
    pub fn summary_cells(&self) -> Vec<Vec<Cell>> {
        self.runs
            .iter()
            .map(|r| SUMMARY_COLUMNS.iter().map(|c| (c.cell)(r)).collect())
            .collect()
    }

    /// The compact table as text; columns after the first two that no run fills (all "-": no
    /// consume side, no cluster) are left out.
    pub fn compact_table(&self) -> SummaryTable {
        let cells: Vec<Vec<String>> = self
            .runs
            .iter()
            .map(|r| COMPACT_COLUMNS.iter().map(|c| (c.cell)(r).text).collect())
            .collect();
        let keep: Vec<bool> = (0..COMPACT_COLUMNS.len())
            .map(|i| i < 2 || cells.iter().any(|row| row[i] != "-"))
            .collect();
        let pick = |row: Vec<String>| -> Vec<String> {
            row.into_iter()
                .zip(&keep)
                .filter(|(_, k)| **k)
                .map(|(c, _)| c)
                .collect()
        };
        SummaryTable {
            headers: pick(
                COMPACT_COLUMNS
                    .iter()
                    .map(|c| c.header.to_string())
                    .collect(),
            ),
            rows: cells.into_iter().map(pick).collect(),
        }
    }

    /// The table as text.
    pub fn summary_table(&self) -> SummaryTable {
        SummaryTable {
            headers: SUMMARY_COLUMNS
                .iter()
                .map(|c| c.header.to_string())
                .collect(),
            rows: self
                .summary_cells()
                .into_iter()
                .map(|row| row.into_iter().map(|c| c.text).collect())
                .collect(),
        }
    }
}

#[cfg(test)]
mod compact_tests {
    use super::COMPACT_COLUMNS;

    #[test]
    fn the_compact_table_takes_the_columns_it_names() {
        // Some columns are taken from SUMMARY_COLUMNS by position: a reordering shows up here.
        let headers: Vec<&str> = COMPACT_COLUMNS.iter().map(|c| c.header).collect();
        assert_eq!(
            headers,
            [
                "scenario", "verdict", "msgs/s", "p99", "storage", "consume", "lost", "replicas",
                "dup", "bound"
            ]
        );
    }
}
