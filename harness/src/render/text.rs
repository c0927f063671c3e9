//! Text for people: the terminal summary of one run, and the summary table of a set of runs as
//! markdown (what the terminal prints at the end of a suite, and `summary.md`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::result::{FaultReport, Report};

use super::view::{
    cluster_lines, consume_figures, consume_setup, dash, dash_us, fault_leader, fault_span,
    healed_early, loss_shape, lost_phrase, recovery, replies_phrase, segments, OrderKind, RunView,
    SuiteView,
};

// The cells and phrases every output shares, under the names callers have always used.
pub use super::view::{consume_cell, faults_cell, fmt_us, order_cell, SummaryTable};

/// A short multi-line summary of one run for the terminal.
pub fn terminal_summary(r: &Report, dir: &Path) -> String {
    let run = RunView::new(dir, r);
    let mut s = String::new();
    headline(&mut s, &run);
    counts(&mut s, &run);
    latencies(&mut s, &run);
    orders(&mut s, &run);
    consume_and_retries(&mut s, &run);
    cluster_and_replies(&mut s, &run);
    for f in run.faults() {
        s.push_str(&fault_lines(f));
    }
    for v in run.claims() {
        let _ = writeln!(
            s,
            "  [{}] {} {}: {}",
            v.verdict.as_str(),
            v.claim,
            v.expected,
            v.figure
        );
    }
    let _ = writeln!(s, "  → {}", run.result_path().display());
    s
}

/// Who ran, how it ended, and anything that must not be missed.
fn headline(s: &mut String, run: &RunView) {
    let r = run.report;
    let _ = writeln!(
        s,
        "{} [{}] {} · {} · server {} ({})",
        run.scenario(),
        run.status(),
        run.verdict().as_str().to_uppercase(),
        r.run_id,
        r.environment.server_version,
        r.environment.backend
    );
    if let Some(lost) = run.lost() {
        // A safety failure: first, and impossible to miss.
        let shape = r
            .safety
            .as_ref()
            .map_or(String::new(), |s| format!(" ({})", loss_shape(s)));
        let _ = writeln!(s, "  !! LOST: {}{shape}", lost_phrase(lost));
    }
    if let Some(c) = r
        .cluster
        .as_ref()
        .filter(|c| c.replicas.as_ref().is_some_and(|s| !s.agree))
    {
        let _ = writeln!(s, "  !! {}", super::view::replicas_line(c));
    }
    if let Some(reason) = &r.status_reason {
        let _ = writeln!(s, "  note: {reason}");
    }
}

fn counts(s: &mut String, run: &RunView) {
    let c = &run.report.counts;
    let _ = writeln!(
        s,
        "  published {} · acked {} · failed {} · unknown {} · stored {} · lost {} · duplicates {} · unexpected {}",
        c.published,
        c.acked,
        c.failed,
        c.unknown,
        dash(c.stored),
        dash(c.lost),
        dash(c.duplicates),
        dash(c.unexpected)
    );
    if c.in_process > 0 {
        // Neither acked, failed nor unknown: the fourth way a message's publishing ends.
        let stored = run.report.safety.as_ref().map(|s| s.in_process_stored);
        let _ = writeln!(
            s,
            "  in process {} (stored {}): last reply \"duplicate message id is in process\", not retried after",
            c.in_process,
            dash(stored)
        );
    }
    if c.rejected > 0 {
        let _ = writeln!(
            s,
            "  rejected {}: the key's subject did not end at the expected sequence (Nats-Expected-Last-Subject-Sequence), not retried after",
            c.rejected
        );
    }
    batch_lines(s, run);
    let t = &run.report.throughput;
    let _ = write!(
        s,
        "  throughput {:.0} msgs/s over {:.2}s",
        t.msgs_per_sec, t.duration_s
    );
    if let Some(rss) = run.report.resources.peak_rss_bytes {
        let _ = write!(s, " · jsbench peak RSS {} MB", rss / (1024 * 1024));
    }
    s.push('\n');
    cpu(s, &run.report.resources);
}

/// "  batches of 100: …" (batch mode) and "  fast ingest: …" (fast mode), when the run has them.
fn batch_lines(s: &mut String, run: &RunView) {
    if let Some(b) = &run.report.batches {
        let _ = writeln!(
            s,
            "  batches of {}: {} sent · committed {} · failed {} · unknown {} · stored whole {} · none {} · partial {} · interleaved {} · reordered inside {} ({} messages){} · stored after a later batch {}",
            b.size,
            b.batches,
            b.committed,
            b.failed,
            b.unknown,
            b.stored_whole,
            b.stored_none,
            b.partial,
            b.interleaved,
            b.reordered_inside,
            b.msgs_reordered_inside,
            if b.atomic() { " → atomic" } else { " → NOT atomic" },
            b.out_of_batch_order
        );
    }
    if let Some(f) = &run.report.fast {
        let _ = writeln!(
            s,
            "  fast ingest: {} batches · flow acks {} · gaps reported {} ({} messages) · errors {} · final flow {}",
            f.batches, f.flow_acks, f.gaps_reported, f.gap_messages, f.errors_reported, f.final_flow
        );
    }
}

/// "  cpu: jsbench 6220 ns/msg (0.98 cores) · server n0 85% of a core … → client-bound", when
/// the run measured it.
fn cpu(s: &mut String, r: &crate::result::Resources) {
    if let Some(p) = crate::render::view::cpu_phrase(r) {
        let _ = writeln!(s, "  cpu: {p}");
    }
}

fn latencies(s: &mut String, run: &RunView) {
    for l in &run.latencies {
        let p = l.summary;
        let _ = writeln!(
            s,
            "  latency {}: p50 {} · p90 {} · p99 {} · p99.9 {} · max {}",
            l.label,
            fmt_us(p.p50),
            fmt_us(p.p90),
            fmt_us(p.p99),
            fmt_us(p.p999),
            fmt_us(p.max)
        );
    }
}

/// The orders against publish order; consume only for runs with a consume side.
fn orders(s: &mut String, run: &RunView) {
    for kind in [OrderKind::AckWire, OrderKind::AckCompletion] {
        let o = run.order(kind);
        // Aligned on the longer of the two ack lines.
        let title = format!("{}:", o.title());
        let _ = writeln!(s, "  {title:<23} {}", o.cell_or("not measured"));
    }
    let storage = run.order(OrderKind::Storage);
    let _ = writeln!(
        s,
        "  {}: {}",
        storage.title(),
        storage.cell_or("not measured")
    );
    if let Some(c) = run.consume() {
        let consume = run.order(OrderKind::Consume);
        let _ = writeln!(
            s,
            "  {} ({}): {}",
            consume.title(),
            consume_setup(c),
            consume.cell_or("not measured")
        );
    }
}

fn consume_and_retries(s: &mut String, run: &RunView) {
    if let Some(c) = run.consume() {
        let _ = writeln!(s, "  consume: {}", consume_figures(c));
    }
    if let Some(retries) = run.retries() {
        let _ = writeln!(s, "  retries: {retries}");
    }
}

/// A cluster's nodes, leaders and replicas, and the replies when they were not all success
/// acks.
fn cluster_and_replies(s: &mut String, run: &RunView) {
    if let Some(c) = &run.report.cluster {
        for line in cluster_lines(c) {
            let _ = writeln!(s, "  {line}");
        }
    }
    if let Some(line) = run.report.replies.as_ref().and_then(replies_phrase) {
        let _ = writeln!(s, "  replies: {line}");
    }
}

/// What one fault window did, in a few lines for the terminal.
pub fn fault_lines(f: &FaultReport) -> String {
    let w = &f.window;
    let mut s = format!(
        "  fault {} #{} ({}, {}): {}{}{}\n",
        w.name,
        w.occurrence,
        w.detail,
        w.target,
        fault_span(w),
        healed_early(w),
        w.error
            .as_ref()
            .map_or(String::new(), |e| format!(" ERROR: {e}"))
    );
    if let Some(leader) = fault_leader(f) {
        let _ = writeln!(s, "    {leader}");
    }
    let Some(sp) = &f.split else {
        return s;
    };
    for (name, seg) in segments(sp) {
        let _ = writeln!(
            s,
            "    {name:<6} published {} · acked {} · failed {} · unknown {} (stored {}){} · lost {} · dup {} · late per key {} · retry reorders {} · {:.0} acks/s · p99 {}",
            seg.published,
            seg.acked,
            seg.failed,
            seg.unknown,
            dash(seg.recovered),
            if seg.in_process > 0 {
                format!(" · in process {}", seg.in_process)
            } else {
                String::new()
            },
            dash(seg.lost),
            dash(seg.duplicates),
            dash(seg.storage_late_per_key),
            dash(seg.retry_reorders),
            seg.acks_per_sec,
            dash_us(seg.latency_p99_us)
        );
    }
    let _ = writeln!(s, "    recovered: {}", recovery(sp));
    s
}

/// One row per run, the orders side by side: the summary table's cells.
pub fn summary_rows(reports: &[(PathBuf, Report)]) -> SummaryTable {
    SuiteView::new(reports).summary_table()
}

/// The table that ends a directory run, as markdown: one row per run, the orders side by side,
/// columns padded to line up in a terminal. Every column: summary.md, `--wide`.
pub fn summary_table(reports: &[(PathBuf, Report)]) -> String {
    markdown(&summary_rows(reports), usize::MAX)
}

/// The widest line [`compact_table`] prints, a common terminal's width.
pub const TERMINAL_WIDTH: usize = 120;

/// The table a terminal shows by default: verdict, msgs/s, p99, late per key for the storage and
/// consume orders, lost, replicas, dup — within [`TERMINAL_WIDTH`] columns (a long scenario name
/// is shortened with "…"), and a legend under it.
pub fn compact_table(reports: &[(PathBuf, Report)]) -> String {
    let table = SuiteView::new(reports).compact_table();
    let mut out = markdown(&table, TERMINAL_WIDTH);
    let legend = if table.headers.iter().any(|h| h == "consume") {
        "storage, consume: messages stored / processed after a later message of their key"
    } else {
        "storage: messages stored after a later message of their key"
    };
    let _ = writeln!(out, "{legend} (0: every key in order)");
    if table.headers.iter().any(|h| h == "bound") {
        let _ = writeln!(
            out,
            "bound: the busy side, so what msgs/s measures (client: jsbench, server, machine: both, \
             neither)"
        );
    }
    let _ = writeln!(out, "every column: summary.md, index.html, or --wide");
    out
}

/// A markdown table padded to line up; the first column is cut (ending in "…") where a line
/// would pass `max_width`.
fn markdown(table: &SummaryTable, max_width: usize) -> String {
    let SummaryTable { headers, rows } = table;
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    // "| a | b |": one bar, then three characters around every cell.
    let line_width = 1 + widths.iter().map(|w| w + 3).sum::<usize>();
    if line_width > max_width {
        let cut = line_width - max_width;
        widths[0] = widths[0]
            .saturating_sub(cut)
            .max(headers[0].chars().count());
    }
    let fit = |c: &str, w: usize| -> String {
        if c.chars().count() <= w {
            format!("{c}{}", " ".repeat(w - c.chars().count()))
        } else {
            let mut t: String = c.chars().take(w.saturating_sub(1)).collect();
            t.push('…');
            t
        }
    };
    let line = |cells: &[String]| {
        let mut s = String::from("|");
        for (c, w) in cells.iter().zip(&widths) {
            let _ = write!(s, " {} |", fit(c, *w));
        }
        s.push('\n');
        s
    };
    let mut out = line(headers);
    out.push('|');
    for w in &widths {
        let _ = write!(out, "{}|", "-".repeat(w + 2));
    }
    out.push('\n');
    for row in rows {
        out.push_str(&line(row));
    }
    out
}
