//! Text views of results: the terminal summary of one run and the summary table of a set
//! (markdown, also what the terminal prints at the end of a suite).

use std::path::{Path, PathBuf};

use crate::checker::{percent, OrderFigures};
use crate::result::{FaultReport, Report};

/// A short multi-line summary of one run for the terminal.
pub fn terminal_summary(r: &Report, dir: &Path) -> String {
    let mut s = String::new();
    let c = &r.counts;
    let opt = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
    s.push_str(&format!(
        "{} [{}] {} · {} · server {} ({})\n",
        r.scenario.name,
        r.status,
        r.verdict.as_str().to_uppercase(),
        r.run_id,
        r.environment.server_version,
        r.environment.backend
    ));
    if let Some(lost) = c.lost.filter(|&l| l > 0) {
        // A safety failure: first, and impossible to miss.
        s.push_str(&format!(
            "  !! LOST: {lost} acknowledged message(s) are not in the stream\n"
        ));
    }
    if let Some(reason) = &r.status_reason {
        s.push_str(&format!("  note: {reason}\n"));
    }
    s.push_str(&format!(
        "  published {} · acked {} · failed {} · unknown {} · stored {} · lost {} · duplicates {} · unexpected {}\n",
        c.published,
        c.acked,
        c.failed,
        c.unknown,
        opt(c.stored),
        opt(c.lost),
        opt(c.duplicates),
        opt(c.unexpected)
    ));
    s.push_str(&format!(
        "  throughput {:.0} msgs/s over {:.2}s",
        r.throughput.msgs_per_sec, r.throughput.duration_s
    ));
    if let Some(rss) = r.resources.peak_rss_bytes {
        s.push_str(&format!(" · jsbench peak RSS {} MB", rss / (1024 * 1024)));
    }
    s.push('\n');
    for (name, l) in &r.latency_us {
        if l.count > 0 {
            s.push_str(&format!(
                "  latency {name}: p50 {} · p90 {} · p99 {} · p99.9 {} · max {}\n",
                fmt_us(l.p50),
                fmt_us(l.p90),
                fmt_us(l.p99),
                fmt_us(l.p999),
                fmt_us(l.max)
            ));
        }
    }
    let ord = |f: &Option<OrderFigures>| f.as_ref().map_or("not measured".to_string(), order_cell);
    s.push_str(&format!(
        "  ack order (wire):       {}\n",
        ord(&r.order.ack_wire)
    ));
    s.push_str(&format!(
        "  ack order (completion): {}\n",
        ord(&r.order.ack_completion)
    ));
    s.push_str(&format!(
        "  storage order ({}): {}\n",
        r.order.storage_source,
        ord(&r.order.storage)
    ));
    if let Some(c) = &r.consume {
        s.push_str(&format!(
            "  consume order ({} ×{}, {} consumer, {}): {}\n",
            c.model,
            c.workers,
            c.consumer,
            c.when,
            ord(&r.order.consume)
        ));
        let f = &c.figures;
        s.push_str(&format!(
            "  consume: processed {} ({} processings) · redelivered {} ({} of them late per key) · failures {} · never processed {} · {:.0} msgs/s · backlog peak {}\n",
            f.processed,
            f.processings,
            f.redelivered,
            f.redelivered_late_per_key,
            f.failures,
            opt(f.unprocessed),
            c.msgs_per_sec,
            c.timeline.backlog.iter().max().copied().unwrap_or(0)
        ));
    }
    if let Some(rt) = &r.retry {
        s.push_str(&format!(
            "  retries: {} messages retried ({} extra attempts) · stored from retries {} · retry reorders {}\n",
            rt.retried,
            rt.extra_attempts,
            opt(rt.stored_from_retries),
            opt(rt.retry_reorders)
        ));
    }
    for f in &r.faults {
        s.push_str(&fault_lines(f));
    }
    for v in &r.verdicts {
        s.push_str(&format!(
            "  [{}] {} {}: {}\n",
            v.verdict.as_str(),
            v.claim,
            v.expected,
            v.figure
        ));
    }
    s.push_str(&format!("  → {}\n", dir.join("result.json").display()));
    s
}

/// What one fault window did, in a few lines for the terminal.
pub fn fault_lines(f: &FaultReport) -> String {
    let w = &f.window;
    let mut s = format!(
        "  fault {} #{} ({}, {}): {:.0}–{:.0} ms{}{}\n",
        w.name,
        w.occurrence,
        w.detail,
        w.target,
        w.start_ms,
        w.end_ms,
        if w.truncated {
            " (healed early: publishing ended)"
        } else {
            ""
        },
        w.error
            .as_ref()
            .map_or(String::new(), |e| format!(" ERROR: {e}"))
    );
    if let Some(sp) = &f.split {
        for (name, seg) in [
            ("before", &sp.before),
            ("during", &sp.during),
            ("after", &sp.after),
        ] {
            let o = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
            s.push_str(&format!(
                "    {name:<6} published {} · acked {} · failed {} · unknown {} (stored {}) · lost {} · dup {} · late per key {} · retry reorders {} · {:.0} acks/s · p99 {}\n",
                seg.published,
                seg.acked,
                seg.failed,
                seg.unknown,
                o(seg.recovered),
                o(seg.lost),
                o(seg.duplicates),
                o(seg.storage_late_per_key),
                o(seg.retry_reorders),
                seg.acks_per_sec,
                seg.latency_p99_us.map_or("-".to_string(), fmt_us)
            ));
        }
        s.push_str(&format!(
            "    recovered: {}\n",
            sp.recover_ms
                .map_or("no successful ack after the heal".to_string(), |m| format!(
                    "first successful ack {m:.0} ms after the heal"
                ))
        ));
    }
    s
}

/// The faults column of the summary table: "pause@2s 3.0s; kill@5s 1.2s".
pub fn faults_cell(r: &Report) -> String {
    if r.faults.is_empty() {
        return "-".into();
    }
    let mut parts: Vec<String> = Vec::new();
    for f in &r.faults {
        let w = &f.window;
        let span = w.end_ms - w.start_ms;
        let mut p = format!("{}@{:.1}s", w.kind.as_str(), w.start_ms / 1000.0);
        if span > 0.0 {
            p.push_str(&format!(" {:.1}s", span / 1000.0));
        }
        if w.target != "server" && w.target != "all connections" {
            p.push_str(&format!(" ({})", w.target));
        }
        if parts.len() >= 4 {
            parts.push(format!("+{} more", r.faults.len() - 4));
            break;
        }
        parts.push(p);
    }
    parts.join("; ")
}

/// One cell of the order columns: "preserved (0 of N)" or "broken: 71% late per key", with the
/// per-key figure first because that is what an aggregate sees.
pub fn order_cell(f: &OrderFigures) -> String {
    if f.messages > 0 && f.late > 0 && f.late_per_key > 0 {
        format!(
            "broken: {} late per key ({}/{} keys)",
            percent(f.late_per_key_share()),
            f.keys_affected,
            f.keys
        )
    } else {
        f.describe()
    }
}

pub fn fmt_us(us: f64) -> String {
    if us >= 1_000_000.0 {
        format!("{:.2}s", us / 1_000_000.0)
    } else if us >= 1000.0 {
        format!("{:.2}ms", us / 1000.0)
    } else {
        format!("{us:.0}µs")
    }
}

/// The summary table as cells: shared by the terminal / markdown table and the HTML report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SummaryTable {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// One row per run, the orders side by side.
pub fn summary_rows(reports: &[(PathBuf, Report)]) -> SummaryTable {
    let headers = [
        "scenario",
        "status",
        "verdict",
        "publish order",
        "ack order (wire)",
        "ack order (completion)",
        "storage order",
        "consume order",
        "faults",
        "lost",
        "dup",
        "unknown (stored)",
        "retry reorders",
        "msgs/s",
        "p99",
    ];
    let mut rows: Vec<Vec<String>> = Vec::new();
    for (_, r) in reports {
        let cell = |f: &Option<OrderFigures>| f.as_ref().map_or("-".to_string(), order_cell);
        rows.push(vec![
            r.scenario.name.clone(),
            r.status.to_string(),
            r.verdict.as_str().to_string(),
            format!("reference ({})", r.counts.published),
            cell(&r.order.ack_wire),
            cell(&r.order.ack_completion),
            cell(&r.order.storage),
            consume_cell(r),
            faults_cell(r),
            r.counts.lost.map_or("-".into(), |v| v.to_string()),
            r.counts.duplicates.map_or("-".into(), |v| v.to_string()),
            match r.counts.recovered {
                Some(rec) => format!("{} ({rec})", r.counts.unknown),
                None => r.counts.unknown.to_string(),
            },
            r.retry
                .and_then(|t| t.retry_reorders)
                .map_or("-".into(), |v| v.to_string()),
            format!("{:.0}", r.throughput.msgs_per_sec),
            r.p99_us().map_or("-".into(), fmt_us),
        ]);
    }
    SummaryTable {
        headers: headers.iter().map(|h| h.to_string()).collect(),
        rows,
    }
}

/// The consume order column: the order cell plus the pool ("… · keyed ×4"); "-" without
/// `[consume]`.
pub fn consume_cell(r: &Report) -> String {
    match (&r.order.consume, &r.consume) {
        (Some(f), Some(c)) => format!("{} · {} ×{}", order_cell(f), c.model, c.workers),
        (Some(f), None) => order_cell(f),
        _ => "-".into(),
    }
}

/// The table that ends a directory run: one row per scenario, the orders side by side.
pub fn summary_table(reports: &[(PathBuf, Report)]) -> String {
    let SummaryTable { headers, rows } = summary_rows(reports);
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let mut s = String::from("|");
        for (c, w) in cells.iter().zip(&widths) {
            s.push_str(&format!(" {}{} |", c, " ".repeat(w - c.chars().count())));
        }
        s.push('\n');
        s
    };
    let mut out = line(headers.clone());
    out.push('|');
    for w in &widths {
        out.push_str(&format!("{}|", "-".repeat(w + 2)));
    }
    out.push('\n');
    for row in rows {
        out.push_str(&line(row));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_cells() {
        let f = OrderFigures {
            messages: 100,
            late: 71,
            late_per_key: 71,
            keys_affected: 16,
            keys: 16,
            ..Default::default()
        };
        assert_eq!(order_cell(&f), "broken: 71% late per key (16/16 keys)");
        let ok = OrderFigures {
            messages: 100,
            keys: 4,
            ..Default::default()
        };
        assert_eq!(order_cell(&ok), "preserved (0 of 100)");
    }
}
