//! How figures read in words, the same in every output: durations in µs/ms/s, a figure that was
//! not measured, and the sentences about retries, the consume side, losses and fault windows.
//! (The names of the latencies are `result::LatencyKind`'s.)

use crate::checker::{Replies, RetryFigures, Safety, Segment, WindowSplit};
use crate::nemesis::FaultWindow;
use crate::result::{ClusterReport, ConsumeReport, FaultReport, Report};

use super::order::order_cell;

/// A latency in µs as people read it: "478µs", "14.04ms", "3.71s".
pub fn fmt_us(us: f64) -> String {
    if us >= 1_000_000.0 {
        format!("{:.2}s", us / 1_000_000.0)
    } else if us >= 1000.0 {
        format!("{:.2}ms", us / 1000.0)
    } else {
        format!("{us:.0}µs")
    }
}

/// A count, or "-" when it was not measured (e.g. no read-back).
pub fn dash(v: Option<u64>) -> String {
    v.map_or("-".to_string(), |v| v.to_string())
}

/// A latency in µs ([`fmt_us`]), or "-" when there was none.
pub fn dash_us(v: Option<f64>) -> String {
    v.map_or("-".to_string(), fmt_us)
}

/// "3 acknowledged message(s) are not in the stream": the loss, said first wherever it shows.
pub fn lost_phrase(lost: u64) -> String {
    format!("{lost} acknowledged message(s) are not in the stream")
}

/// Where the lost messages sit among the stored ones, as Jepsen classifies them.
pub fn loss_shape(s: &Safety) -> String {
    format!(
        "lost-prefix {}, lost-middle {}, lost-postfix {}",
        s.lost_prefix, s.lost_middle, s.lost_postfix
    )
}

/// Every reply by kind, and the success acks overtaken — only when something but success acks
/// came back: "ok 9,000 · duplicate 0 · error 10158 ×900 · … · overtaken 8,800 (…)".
pub fn replies_phrase(r: &Replies) -> Option<String> {
    let o = &r.overtaken;
    let quiet = r.duplicate == 0 && r.errors.is_empty() && r.timed_out == 0 && r.no_reply == 0;
    if quiet && o.any == 0 {
        return None;
    }
    let errors: Vec<String> = r
        .errors
        .iter()
        .map(|(code, n)| format!("error {code} ×{n}"))
        .collect();
    let errors = if errors.is_empty() {
        "no error replies".to_string()
    } else {
        errors.join(" · ")
    };
    Some(format!(
        "ok {} · duplicate {} · {errors} · timed out {} · no reply {} · success acks overtaken by a later message's reply {} (by duplicate {}, by in-process {}, by error {})",
        r.ok, r.duplicate, r.timed_out, r.no_reply, o.any, o.by_duplicate, o.by_in_process, o.by_error
    ))
}

/// A cluster in a few lines: its nodes and leaders, the longest stretch without an ack, the
/// replicas after the run, and each node's figures.
pub fn cluster_lines(c: &ClusterReport) -> Vec<String> {
    let u = &c.unavailable;
    let mut lines = vec![format!(
        "cluster: {} nodes ({}) · connections → {} · leader at start {} · {} leader change(s), {} election(s) · longest stretch without an ack {} (from {:.1} s, by {})",
        c.nodes.len(),
        c.nodes.join(", "),
        c.primaries.join(", "),
        c.leader_at_start.as_deref().unwrap_or("unknown"),
        c.leader_changes,
        c.elections,
        fmt_us(u.longest_ms * 1e3),
        u.from_ms / 1e3,
        u.measured_by
    )];
    lines.push(replicas_line(c));
    let nodes: Vec<String> = c
        .node_figures
        .iter()
        .map(|n| {
            format!(
                "{} cpu {:.0}% (peak {:.0}%) mem {} MB",
                n.node,
                n.cpu_mean,
                n.cpu_peak,
                n.mem_peak_bytes / (1024 * 1024)
            )
        })
        .collect();
    lines.push(format!("nodes: {}", nodes.join(" · ")));
    lines
}

/// "replicas agree: 1,234 messages, 1–1,234" or "replicas DISAGREE: n0 …, n1 …".
pub fn replicas_line(c: &ClusterReport) -> String {
    let Some(s) = &c.replicas else {
        return "replicas: not surveyed (no read-back)".to_string();
    };
    let each: Vec<String> = s
        .nodes
        .iter()
        .map(|n| match (&n.state, &n.error) {
            (Some(st), _) => format!(
                "{} {} msgs, seq {}–{}",
                n.node, st.messages, st.first_seq, st.last_seq
            ),
            (None, Some(e)) => format!("{} ({e})", n.node),
            (None, None) => format!("{} (no answer)", n.node),
        })
        .collect();
    if s.agree {
        format!("replicas agree: {}", each.join(" · "))
    } else {
        format!(
            "replicas DISAGREE after {:.1} s: {}",
            s.waited_ms / 1e3,
            each.join(" · ")
        )
    }
}

/// On a cluster, which nodes a fault hit and what became of the stream's leader.
pub fn fault_leader(f: &FaultReport) -> Option<String> {
    let w = &f.window;
    if w.leader_before.is_none() && w.nodes.is_empty() {
        return None;
    }
    let after = match (&w.leader_before, &w.leader_after) {
        (Some(b), Some(a)) if a != b => format!(
            "leader {b} → {a}{}",
            f.new_leader_ms.map_or(String::new(), |ms| format!(
                " (new leader after {ms:.0} ms)"
            ))
        ),
        (Some(b), Some(_)) => match f.new_leader_ms {
            Some(ms) => format!("leader {b} re-elected {ms:.0} ms after the fault began"),
            None => format!("leader {b} kept"),
        },
        (Some(b), None) => format!(
            "leader {b}; no leader {} s after the heal{}",
            crate::nemesis::LEADER_AFTER_WAIT.as_secs(),
            f.new_leader_ms.map_or(String::new(), |ms| format!(
                " (a leader elected {ms:.0} ms after the fault began)"
            ))
        ),
        (None, Some(a)) => format!("no leader → {a}"),
        (None, None) => "no leader seen".into(),
    };
    Some(after)
}

/// What retries did: "12 message(s) retried (30 extra attempts) · stored from retries 12 ·
/// retry reorders 0".
pub fn retry_phrase(rt: &RetryFigures) -> String {
    format!(
        "{} message(s) retried ({} extra attempts) · stored from retries {} · retry reorders {}",
        rt.retried,
        rt.extra_attempts,
        dash(rt.stored_from_retries),
        dash(rt.retry_reorders)
    )
}

/// The consume pool in short, as the summary table's consume column ends: "keyed ×4".
pub fn consume_pool(c: &ConsumeReport) -> String {
    format!("{} ×{}", c.model, c.workers)
}

/// How the consume side was set up: "keyed ×4, durable consumer, while publishing".
pub fn consume_setup(c: &ConsumeReport) -> String {
    let when = if c.when == "after" {
        "after publishing"
    } else {
        "while publishing"
    };
    format!("{}, {} consumer, {when}", consume_pool(c), c.consumer)
}

/// What the consume side did: processed, redelivered, failed, left over, how fast, how far
/// behind, and why it stopped when it did not drain.
pub fn consume_figures(c: &ConsumeReport) -> String {
    let f = &c.figures;
    format!(
        "processed {} ({} processings) · redelivered {} ({} of them late per key) · failures {} · \
         never processed {} · {:.0} msgs/s · backlog peak {}{}",
        f.processed,
        f.processings,
        f.redelivered,
        f.redelivered_late_per_key,
        f.failures,
        dash(f.unprocessed),
        c.msgs_per_sec,
        c.timeline.backlog.iter().max().copied().unwrap_or(0),
        c.error
            .as_ref()
            .map_or(String::new(), |e| format!(" · stopped: {e}"))
    )
}

/// A fault window's time span: "1501–4501 ms".
pub fn fault_span(w: &FaultWindow) -> String {
    format!("{:.0}–{:.0} ms", w.start_ms, w.end_ms)
}

/// Said after the span of a window that ended before its time.
pub fn healed_early(w: &FaultWindow) -> &'static str {
    if w.truncated {
        " (healed early: publishing ended)"
    } else {
        ""
    }
}

/// How long acks took to come back after the heal.
pub fn recovery(sp: &WindowSplit) -> String {
    sp.recover_ms
        .map_or("no successful ack after the heal".to_string(), |m| {
            format!("first successful ack {m:.0} ms after the heal")
        })
}

/// The three stretches of a window's split, named.
pub fn segments(sp: &WindowSplit) -> [(&'static str, &Segment); 3] {
    [
        ("before", &sp.before),
        ("during", &sp.during),
        ("after", &sp.after),
    ]
}

/// The consume order column of the summary table: the order cell plus the pool ("… · keyed
/// ×4"); "-" without `[consume]`.
pub fn consume_cell(r: &Report) -> String {
    match (&r.order.consume, &r.consume) {
        (Some(f), Some(c)) => format!("{} · {}", order_cell(f), consume_pool(c)),
        (Some(f), None) => order_cell(f),
        _ => dash(None),
    }
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
        // The usual targets go without saying; a single connection is worth naming.
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

/// What a run cost, in one line: "jsbench 3315 ns/msg (0.72 cores) · server n0 0.89 cores,
/// 45 MB peak → machine-bound"; `None` when it was not measured.
pub fn cpu_phrase(r: &crate::result::Resources) -> Option<String> {
    let ns = r.client_cpu_ns_per_msg?;
    let mut s = format!(
        "jsbench {:.0} ns/msg ({:.2} cores)",
        ns,
        r.client_cpu_cores.unwrap_or(0.0)
    );
    if let (Some(ns), Some(cores)) = (r.adapter_cpu_ns_per_msg, r.adapter_cpu_cores) {
        s.push_str(&format!(" · adapter {ns:.0} ns/msg ({cores:.2} cores)"));
    }
    for n in &r.server {
        let cpu = match n.cpu_cores {
            Some(c) => format!("{c:.2} cores"),
            None => format!("{:.0}% of a core (/varz)", n.cpu_mean),
        };
        s.push_str(&format!(
            " · server {} {cpu}, {} MB peak",
            n.node,
            n.mem_peak_bytes / (1024 * 1024)
        ));
    }
    if let Some(b) = r.bound {
        s.push_str(&format!(" → {}", b.as_str()));
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_names() {
        assert_eq!(fmt_us(478.0), "478µs");
        assert_eq!(fmt_us(14_041.0), "14.04ms");
        assert_eq!(fmt_us(3_710_000.0), "3.71s");
        assert_eq!(dash(None), "-");
        assert_eq!(dash_us(Some(12.0)), "12µs");
    }

    #[test]
    fn consume_phrases() {
        let mut c = ConsumeReport {
            consumer: "durable".into(),
            model: "keyed".into(),
            workers: 4,
            when: "concurrent".into(),
            figures: Default::default(),
            msgs_per_sec: 1234.4,
            duration_s: 1.0,
            complete: false,
            error: None,
            timeline: crate::result::ConsumeTimeline {
                bucket_ms: 100.0,
                processed: vec![5, 5],
                backlog: vec![7, 3],
            },
        };
        assert_eq!(
            consume_setup(&c),
            "keyed ×4, durable consumer, while publishing"
        );
        assert!(consume_figures(&c).ends_with(" · 1234 msgs/s · backlog peak 7"));
        c.error = Some("deleted".into());
        assert!(consume_figures(&c).ends_with(" · backlog peak 7 · stopped: deleted"));
    }

    #[test]
    fn what_became_of_the_leader() {
        let mut f = FaultReport {
            window: crate::nemesis::FaultWindow {
                name: "kill-leader".into(),
                kind: crate::nemesis::FaultKind::Kill,
                occurrence: 1,
                target: "node n0".into(),
                detail: String::new(),
                start_ms: 2000.0,
                end_ms: 8000.0,
                truncated: false,
                error: None,
                nodes: vec!["n0".into()],
                leader_before: Some("n0".into()),
                leader_after: Some("n1".into()),
                disk: Vec::new(),
            },
            new_leader_ms: Some(5242.4),
            split: None,
        };
        assert_eq!(
            fault_leader(&f).unwrap(),
            "leader n0 → n1 (new leader after 5242 ms)"
        );
        f.window.leader_after = Some("n0".into());
        assert_eq!(
            fault_leader(&f).unwrap(),
            "leader n0 re-elected 5242 ms after the fault began"
        );
        f.new_leader_ms = None;
        assert_eq!(fault_leader(&f).unwrap(), "leader n0 kept");
        f.new_leader_ms = Some(5242.4);
        // No leader by the time the window looked must not read as "kept".
        f.window.leader_after = None;
        assert_eq!(
            fault_leader(&f).unwrap(),
            "leader n0; no leader 3 s after the heal (a leader elected 5242 ms after the fault began)"
        );
    }
}
