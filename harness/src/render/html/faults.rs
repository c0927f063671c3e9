//! One fault window in a run's section: what it was and when, its figures before / during /
//! after it, and how long acks took to come back.

use std::fmt::Write as _;

use crate::checker::Segment;
use crate::render::view::{
    dash, dash_us, fault_leader, fault_span, healed_early, recovery, segments,
};
use crate::result::FaultReport;

use super::markup::esc;

pub(super) fn block(h: &mut String, f: &FaultReport) {
    let w = &f.window;
    let _ = writeln!(
        h,
        "<p><strong>{}</strong> #{} · {} · {} · {} · {}{}{}</p>",
        esc(&w.name),
        w.occurrence,
        esc(w.kind.as_str()),
        esc(&w.detail),
        esc(&w.target),
        fault_span(w),
        healed_early(w),
        w.error.as_ref().map_or(String::new(), |e| format!(
            " <span class=\"fail\">ERROR: {}</span>",
            esc(e)
        ))
    );
    if let Some(leader) = fault_leader(f) {
        let _ = writeln!(h, "<p>{}</p>", esc(&leader));
    }
    let Some(sp) = &f.split else {
        return;
    };
    h.push_str("<table>\n<tr><th></th><th>from–to (ms)</th><th>published</th><th>acked</th>\
                <th>failed</th><th>unknown (stored)</th><th>retried</th><th>lost</th><th>dup</th>\
                <th>late per key</th><th>retry reorders</th><th>acks/s</th><th>p50</th><th>p99</th></tr>\n");
    for (name, s) in segments(sp) {
        segment_row(h, name, s);
    }
    h.push_str("</table>\n");
    let _ = writeln!(h, "<p>Recovery: {}</p>", recovery(sp));
}

fn segment_row(h: &mut String, name: &str, s: &Segment) {
    let _ = writeln!(
        h,
        "<tr><th>{name}</th><td class=\"num\">{:.0}–{:.0}</td><td class=\"num\">{}</td>\
         <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{} ({})</td>\
         <td class=\"num\">{}</td><td class=\"num{}\">{}</td><td class=\"num\">{}</td>\
         <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{:.0}</td>\
         <td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
        s.from_ms,
        s.to_ms,
        s.published,
        s.acked,
        s.failed,
        s.unknown,
        dash(s.recovered),
        s.retried,
        if s.lost.unwrap_or(0) > 0 { " fail" } else { "" },
        dash(s.lost),
        dash(s.duplicates),
        dash(s.storage_late_per_key),
        dash(s.retry_reorders),
        s.acks_per_sec,
        esc(&dash_us(s.latency_p50_us)),
        esc(&dash_us(s.latency_p99_us)),
    );
}
