//! A run's cluster in its section: the nodes and their figures, the stream's leaders over time,
//! the longest stretch without an ack, the replicas after the run (a disagreement in red), and
//! the replies when they were not all success acks.

use std::fmt::Write as _;

use crate::render::view::{fmt_us, replicas_line, replies_phrase, RunView};
use crate::result::ClusterReport;

use super::markup::esc;

pub(super) fn block(h: &mut String, run: &RunView) {
    if let Some(c) = &run.report.cluster {
        h.push_str("<h4>Cluster</h4>\n");
        summary(h, c);
        nodes(h, c);
        leaders(h, c);
    }
    if let Some(line) = run.report.replies.as_ref().and_then(replies_phrase) {
        let _ = writeln!(h, "<p>Replies: {}</p>", esc(&line));
    }
}

fn summary(h: &mut String, c: &ClusterReport) {
    let u = &c.unavailable;
    let _ = writeln!(
        h,
        "<p>{} nodes · connections → {} · leader at start {} · {} leader change(s), {} \
         election(s) · longest stretch without an ack <strong>{}</strong> (from {:.1} s, measured \
         by {})</p>",
        c.nodes.len(),
        esc(&c.primaries.join(", ")),
        esc(c.leader_at_start.as_deref().unwrap_or("unknown")),
        c.leader_changes,
        c.elections,
        esc(&fmt_us(u.longest_ms * 1e3)),
        u.from_ms / 1e3,
        esc(&u.measured_by)
    );
    let agree = c.replicas.as_ref().is_some_and(|s| s.agree);
    let class = if agree || c.replicas.is_none() {
        ""
    } else {
        " class=\"fail\""
    };
    let _ = writeln!(h, "<p{class}>{}</p>", esc(&replicas_line(c)));
}

fn nodes(h: &mut String, c: &ClusterReport) {
    h.push_str(
        "<table>\n<tr><th>node</th><th>cpu mean</th><th>cpu peak</th><th>memory peak</th>\
         <th>messages in</th><th>messages out</th><th>samples</th></tr>\n",
    );
    for n in &c.node_figures {
        let _ = writeln!(
            h,
            "<tr><th>{}</th><td class=\"num\">{:.0}%</td><td class=\"num\">{:.0}%</td>\
             <td class=\"num\">{} MB</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td></tr>",
            esc(&n.node),
            n.cpu_mean,
            n.cpu_peak,
            n.mem_peak_bytes / (1024 * 1024),
            n.in_msgs,
            n.out_msgs,
            n.samples
        );
    }
    h.push_str("</table>\n");
}

fn leaders(h: &mut String, c: &ClusterReport) {
    if c.leaders.is_empty() {
        return;
    }
    h.push_str("<table>\n<tr><th>from (ms)</th><th>stream leader</th><th>seen by</th></tr>\n");
    for l in &c.leaders {
        let _ = writeln!(
            h,
            "<tr><td class=\"num\">{:.0}</td><td>{}</td><td>{}</td></tr>",
            l.at_ms,
            esc(l.leader.as_deref().unwrap_or("none")),
            esc(&l.seen_by)
        );
    }
    h.push_str("</table>\n");
}
