//! Fault windows: the figures of the messages first sent before, during and after each fault
//! occurrence, and the time from the heal to the first successful ack.

use serde::{Deserialize, Serialize};

use super::safety::PerMessage;
use crate::record::history::{History, Outcome};

/// Figures for the messages first sent in one stretch of time around a fault window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    /// ms since the measured phase started.
    pub from_ms: f64,
    pub to_ms: f64,
    /// Messages whose first attempt was sent in this segment (the figures below are about them).
    pub published: u64,
    pub acked: u64,
    pub failed: u64,
    pub unknown: u64,
    /// Last answered "duplicate message id is in process" and not retried after.
    #[serde(default)]
    pub in_process: u64,
    pub retried: u64,
    pub lost: Option<u64>,
    pub duplicates: Option<u64>,
    /// Unknown outcome, found stored.
    pub recovered: Option<u64>,
    /// Messages stored after a later-published message of their key.
    pub storage_late_per_key: Option<u64>,
    pub retry_reorders: Option<u64>,
    /// Acks that arrived in this segment, per second of the segment.
    pub acks_per_sec: f64,
    /// First send → ack, for messages acked in this segment (µs).
    pub latency_p50_us: Option<f64>,
    pub latency_p99_us: Option<f64>,
}

/// A fault window's before / during / after split, and how long acks took to come back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowSplit {
    pub before: Segment,
    pub during: Segment,
    pub after: Segment,
    /// From the heal to the first successful ack after it (ms); null when none came.
    pub recover_ms: Option<f64>,
}

/// Splits the history around one fault window. Times are ns on the run clock; the phase spans
/// `[phase_start, phase_end]`. A message belongs to the segment its first attempt was sent in.
pub fn split_by_window(
    h: &History,
    pm: Option<&PerMessage>,
    phase: (u64, u64),
    window: (u64, u64),
) -> WindowSplit {
    let (p0, p1) = phase;
    let (w0, w1) = (window.0.max(p0), window.1.max(window.0));
    let mut t = Tally::new(w0, w1, pm.is_some());
    let timed = if h.is_timed() { h.planned() } else { 0 };
    for i in 0..(h.published as usize).min(timed) {
        if h.sent_at(i) == Some(0) && h.attempts(i) == 0 {
            continue;
        }
        t.count(h, pm, i);
    }
    let segs = t.finish([(p0, w0), (w0, w1), (w1, p1.max(w1))], p0);
    WindowSplit {
        before: segs[0],
        during: segs[1],
        after: segs[2],
        recover_ms: t.recover.map(|r| (r - w1) as f64 / 1e6),
    }
}

/// The three segments being counted, with what is needed for their rates and latencies.
struct Tally {
    /// The window, healed at `w1`.
    w0: u64,
    w1: u64,
    segs: [Segment; 3],
    hists: Vec<hdrhistogram::Histogram<u64>>,
    acks_in: [u64; 3],
    /// The first successful ack at or after the heal.
    recover: Option<u64>,
}

impl Tally {
    fn new(w0: u64, w1: u64, stored_known: bool) -> Tally {
        let mut segs = [Segment::default(); 3];
        if stored_known {
            for s in &mut segs {
                s.lost = Some(0);
                s.duplicates = Some(0);
                s.recovered = Some(0);
                s.storage_late_per_key = Some(0);
                s.retry_reorders = Some(0);
            }
        }
        Tally {
            w0,
            w1,
            segs,
            hists: (0..3)
                .map(|_| crate::record::observe::latency_histogram())
                .collect(),
            acks_in: [0; 3],
            recover: None,
        }
    }

    fn seg_of(&self, t: u64) -> usize {
        if t < self.w0 {
            0
        } else if t < self.w1 {
            1
        } else {
            2
        }
    }

    /// Counts message `i` in the segment of its first send, and its ack in the segment of the
    /// ack's arrival.
    fn count(&mut self, h: &History, pm: Option<&PerMessage>, i: usize) {
        let sent = h.sent_at(i).unwrap_or(0);
        let o = h.outcome(i);
        let s = &mut self.segs[self.seg_of(sent)];
        s.published += 1;
        match o {
            Outcome::Ok | Outcome::Duplicate => s.acked += 1,
            Outcome::Fail | Outcome::Rejected => s.failed += 1,
            // Unresolved by an adapter's client: like a timeout, it may be stored.
            Outcome::Unknown | Outcome::Unresolved => s.unknown += 1,
            Outcome::InProcess => s.in_process += 1,
            _ => {}
        }
        if h.attempts(i) > 1 {
            s.retried += 1;
        }
        if let Some(pm) = pm {
            let stored = pm.copies[i] > 0;
            let add = |v: &mut Option<u64>, n: u64| *v = Some(v.unwrap_or(0) + n);
            add(&mut s.lost, (o.is_acked() && !stored) as u64);
            add(&mut s.duplicates, (pm.copies[i] as u64).saturating_sub(1));
            add(&mut s.recovered, (o == Outcome::Unknown && stored) as u64);
            add(&mut s.storage_late_per_key, pm.late_per_key[i] as u64);
            add(&mut s.retry_reorders, pm.retry_reordered[i] as u64);
        }
        let acked_at = h.acked_at(i).unwrap_or(0);
        if o.is_acked() && acked_at > 0 {
            let k = self.seg_of(acked_at);
            self.acks_in[k] += 1;
            self.hists[k].saturating_record(acked_at.saturating_sub(sent).max(1));
            if acked_at >= self.w1 && self.recover.is_none_or(|r| acked_at < r) {
                self.recover = Some(acked_at);
            }
        }
    }

    /// The segments with their spans (ms since `p0`), ack rates and latencies.
    fn finish(&self, bounds: [(u64, u64); 3], p0: u64) -> [Segment; 3] {
        let mut segs = self.segs;
        for (k, s) in segs.iter_mut().enumerate() {
            let (a, b) = bounds[k];
            s.from_ms = a.saturating_sub(p0) as f64 / 1e6;
            s.to_ms = b.saturating_sub(p0) as f64 / 1e6;
            let secs = b.saturating_sub(a) as f64 / 1e9;
            s.acks_per_sec = if secs > 0.0 {
                self.acks_in[k] as f64 / secs
            } else {
                0.0
            };
            if !self.hists[k].is_empty() {
                s.latency_p50_us = Some(self.hists[k].value_at_quantile(0.5) as f64 / 1e3);
                s.latency_p99_us = Some(self.hists[k].value_at_quantile(0.99) as f64 / 1e3);
            }
        }
        segs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checker::safety::per_message;
    use crate::checker::testkit::retried_history;

    #[test]
    fn split_by_fault_window() {
        let (h, rb) = retried_history();
        let pm = per_message(&h, &rb);
        let ms = 1_000_000u64;
        let w = split_by_window(
            &h,
            Some(&pm),
            (1000 * ms, 1060 * ms),
            (1015 * ms, 1035 * ms),
        );
        // Before: messages 0, 1 (sent at 0 and 10 ms); during: 2, 3; after: 4.
        assert_eq!(
            (w.before.published, w.during.published, w.after.published),
            (2, 2, 1)
        );
        assert_eq!(w.before.duplicates, Some(1));
        assert_eq!(w.during.retried, 1);
        assert_eq!(w.during.retry_reorders, Some(1));
        assert_eq!(w.during.storage_late_per_key, Some(1));
        assert_eq!(w.during.lost, Some(0));
        assert_eq!(w.after.retry_reorders, Some(0));
        assert_eq!((w.before.from_ms, w.before.to_ms), (0.0, 15.0));
        assert_eq!((w.during.from_ms, w.during.to_ms), (15.0, 35.0));
        // First ack at or after the heal (35 ms): message 3's at 36 ms.
        assert_eq!(w.recover_ms, Some(1.0));
        // Acks by arrival: 1 before (5 ms), none during, 4 after.
        assert_eq!(w.during.acks_per_sec, 0.0);
        assert!((w.after.acks_per_sec - 4.0 / 0.025).abs() < 1e-6);
        // Without read-back the storage figures are not measured.
        let w = split_by_window(&h, None, (1000 * ms, 1060 * ms), (1015 * ms, 1035 * ms));
        assert_eq!(w.during.lost, None);
        assert_eq!(w.during.unknown + w.during.acked, 2);
    }
}
