//! Checkers: pure functions from a recorded history (and the stream read-back) to figures and
//! verdicts. Nothing here touches the network or the clock, so every figure can be unit-tested
//! on hand-made histories.
//!
//! An *order* is a sequence of message indexes (publish index, from 0) as some observer saw them:
//! acks on the wire, ack futures completing, messages in the stream. Publish order is the
//! reference: index order. A message is *late* when it comes after a message published after it.

use serde::{Deserialize, Serialize};

use crate::history::{History, Outcome, ReadBack};
use crate::scenario::{Expect, OrderClaim, Presence};

/// Divergence of one observed order from publish order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderFigures {
    /// Messages in this order (first occurrences).
    pub messages: u64,
    /// Messages that come after a later-published message.
    pub late: u64,
    /// Pairs (a, b) where a was published before b but b comes first.
    pub inversions: u64,
    /// Largest distance between a message's position here and its position in publish order
    /// (both counted among the messages present in this order).
    pub max_displacement: u64,
    /// Messages that come after a later-published message of the same key.
    pub late_per_key: u64,
    /// Keys with at least one message late within its key.
    pub keys_affected: u64,
    /// Keys present in this order.
    pub keys: u64,
}

impl OrderFigures {
    pub fn late_share(&self) -> f64 {
        ratio(self.late, self.messages)
    }

    pub fn late_per_key_share(&self) -> f64 {
        ratio(self.late_per_key, self.messages)
    }

    /// "preserved (0 of N)" or "broken: 71% late per key" (per key first: that is what an
    /// aggregate sees; a global-only break says so).
    pub fn describe(&self) -> String {
        if self.messages == 0 {
            "no data".to_string()
        } else if self.late == 0 {
            format!("preserved (0 of {})", self.messages)
        } else if self.late_per_key > 0 {
            format!(
                "broken: {} late per key",
                percent(self.late_per_key_share())
            )
        } else {
            format!("per key kept; {} late globally", percent(self.late_share()))
        }
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Formats a share as a percentage with sensible precision ("71%", "0.02%").
pub fn percent(share: f64) -> String {
    let p = share * 100.0;
    if p == 0.0 {
        "0%".into()
    } else if p < 0.01 {
        "<0.01%".into()
    } else if p < 1.0 {
        format!("{p:.2}%")
    } else if p < 10.0 {
        format!("{p:.1}%")
    } else {
        format!("{p:.0}%")
    }
}

/// Fenwick tree over message indexes: counts how many were seen below a given index.
struct Fenwick {
    tree: Vec<u32>,
}

impl Fenwick {
    fn new(n: usize) -> Fenwick {
        Fenwick {
            tree: vec![0; n + 1],
        }
    }

    fn add(&mut self, i: usize) {
        let mut i = i + 1;
        while i < self.tree.len() {
            self.tree[i] += 1;
            i += i & i.wrapping_neg();
        }
    }

    /// Number of added indexes < i.
    fn below(&self, i: usize) -> u64 {
        let mut i = i;
        let mut s = 0u64;
        while i > 0 {
            s += self.tree[i] as u64;
            i &= i - 1;
        }
        s
    }
}

/// Computes the divergence figures of `order` against publish order. `keys[idx]` is the key of
/// message `idx`. Repeated indexes (a message stored twice) count at their first occurrence.
pub fn divergence(order: &[u32], keys: &[u32], num_keys: u32) -> OrderFigures {
    let n = keys.len();
    let mut seen = vec![false; n];
    let mut key_max: Vec<i64> = vec![-1; num_keys as usize];
    let mut key_late = vec![false; num_keys as usize];
    let mut key_present = vec![false; num_keys as usize];
    let mut fenwick = Fenwick::new(n);
    let mut f = OrderFigures::default();
    let mut global_max: i64 = -1;

    for &idx in order {
        let i = idx as usize;
        if i >= n || seen[i] {
            continue;
        }
        seen[i] = true;
        let k = keys[i] as usize;
        key_present[k] = true;
        if (idx as i64) < global_max {
            f.late += 1;
        } else {
            global_max = idx as i64;
        }
        if (idx as i64) < key_max[k] {
            f.late_per_key += 1;
            key_late[k] = true;
        } else {
            key_max[k] = idx as i64;
        }
        // Earlier-positioned messages with a larger index each form an inversion with this one.
        f.inversions += f.messages - fenwick.below(i);
        fenwick.add(i);
        f.messages += 1;
    }

    // Displacement: position here vs. rank among the same set in publish order.
    seen.iter_mut().for_each(|s| *s = false);
    let mut pos = 0u64;
    for &idx in order {
        let i = idx as usize;
        if i >= n || seen[i] {
            continue;
        }
        seen[i] = true;
        let rank = fenwick.below(i);
        f.max_displacement = f.max_displacement.max(pos.abs_diff(rank));
        pos += 1;
    }

    f.keys = key_present.iter().filter(|&&p| p).count() as u64;
    f.keys_affected = key_late.iter().filter(|&&l| l).count() as u64;
    f
}

/// What the read-back says about acknowledged data.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Safety {
    /// Distinct messages of this run found in the stream.
    pub stored: u64,
    /// Acknowledged, but not in the stream: a safety failure.
    pub lost: u64,
    /// Extra copies: the same key+seq stored more than once.
    pub duplicates: u64,
    /// Stored, but never published by this run.
    pub unexpected: u64,
    /// Outcome unknown (timed out) and found stored.
    pub unknown_stored: u64,
    /// Outcome unknown and not in the stream.
    pub unknown_missing: u64,
    /// Reported as failed, yet stored.
    pub failed_but_stored: u64,
    /// Acked with a stream sequence that differs from where the read-back found the message.
    pub ack_seq_mismatches: u64,
}

/// Compares the history with the stream's content.
pub fn safety(history: &History, read_back: &ReadBack) -> Safety {
    let n = history.planned();
    let mut copies = vec![0u8; n];
    // Whether one of the message's stored copies sits at the sequence its ack reported (a
    // retried message's ack may name its second copy).
    let mut ack_matched = vec![false; n];
    let mut s = Safety {
        unexpected: read_back.unexpected,
        ..Default::default()
    };
    for (pos, &idx) in read_back.order.iter().enumerate() {
        let i = idx as usize;
        if i >= n || i as u64 >= history.published {
            s.unexpected += 1;
            continue;
        }
        if copies[i] == 0 {
            s.stored += 1;
        } else {
            s.duplicates += 1;
        }
        copies[i] = copies[i].saturating_add(1);
        if read_back.seqs.get(pos).copied() == Some(history.stream_seq[i]) {
            ack_matched[i] = true;
        }
    }
    if read_back.complete {
        s.ack_seq_mismatches = (0..(history.published as usize).min(n))
            .filter(|&i| history.outcome(i) == Outcome::Ok && copies[i] > 0 && !ack_matched[i])
            .count() as u64;
    }
    for (i, &c) in copies.iter().enumerate().take(history.published as usize) {
        let stored = c > 0;
        match history.outcome(i) {
            Outcome::Ok | Outcome::Duplicate => {
                if !stored {
                    s.lost += 1;
                }
            }
            Outcome::Unknown => {
                if stored {
                    s.unknown_stored += 1;
                } else {
                    s.unknown_missing += 1;
                }
            }
            Outcome::Fail => {
                if stored {
                    s.failed_but_stored += 1;
                }
            }
            Outcome::InFlight | Outcome::NotSent => {}
        }
    }
    s
}

/// What the read-back says about each message, for the checkers that split by message.
#[derive(Debug, Default)]
pub struct PerMessage {
    /// Copies of each message in the stream.
    pub copies: Vec<u8>,
    /// The message's first stored copy comes after a later-published message of its key.
    pub late_per_key: Vec<bool>,
    /// The message's first stored copy came from a retry and is late within its key.
    pub retry_reordered: Vec<bool>,
}

/// Walks the read-back once and marks every message (see [`PerMessage`]).
pub fn per_message(history: &History, rb: &ReadBack) -> PerMessage {
    let n = history.planned();
    let mut pm = PerMessage {
        copies: vec![0; n],
        late_per_key: vec![false; n],
        retry_reordered: vec![false; n],
    };
    let mut key_max: Vec<i64> = vec![-1; history.num_keys as usize];
    for (pos, &idx) in rb.order.iter().enumerate() {
        let i = idx as usize;
        if i >= n {
            continue;
        }
        let first = pm.copies[i] == 0;
        pm.copies[i] = pm.copies[i].saturating_add(1);
        if !first {
            continue;
        }
        let k = history.keys[i] as usize;
        if (idx as i64) < key_max[k] {
            pm.late_per_key[i] = true;
            if rb.attempts.get(pos).copied().unwrap_or(1) > 1 {
                pm.retry_reordered[i] = true;
            }
        } else {
            key_max[k] = idx as i64;
        }
    }
    pm
}

/// What retries did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryFigures {
    /// Messages sent more than once.
    pub retried: u64,
    /// Attempts beyond the first.
    pub extra_attempts: u64,
    /// Stored copies that came from a retry (`Jsb-Attempt` > 1); null without read-back.
    pub stored_from_retries: Option<u64>,
    /// Messages whose first stored copy came from a retry and landed after a later-published
    /// message of the same key: the "order trap" of retrying async publishes. Null without
    /// read-back.
    pub retry_reorders: Option<u64>,
    /// Keys with at least one retry reorder.
    pub keys_affected: Option<u64>,
}

pub fn retry_figures(h: &History, rb: Option<(&ReadBack, &PerMessage)>) -> RetryFigures {
    let mut f = RetryFigures {
        retried: h.retried(),
        extra_attempts: h.total_attempts().saturating_sub(
            h.attempts[..h.published as usize]
                .iter()
                .filter(|&&a| a > 0)
                .count() as u64,
        ),
        ..Default::default()
    };
    if let Some((rb, pm)) = rb {
        f.stored_from_retries = Some(rb.attempts.iter().filter(|&&a| a > 1).count() as u64);
        let mut keys = vec![false; h.num_keys as usize];
        let mut n = 0;
        for (i, &r) in pm.retry_reordered.iter().enumerate() {
            if r {
                n += 1;
                keys[h.keys[i] as usize] = true;
            }
        }
        f.retry_reorders = Some(n);
        f.keys_affected = Some(keys.iter().filter(|&&k| k).count() as u64);
    }
    f
}

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
    let bounds = [(p0, w0), (w0, w1), (w1, p1.max(w1))];
    let mut segs = [Segment::default(); 3];
    if pm.is_some() {
        for s in &mut segs {
            s.lost = Some(0);
            s.duplicates = Some(0);
            s.recovered = Some(0);
            s.storage_late_per_key = Some(0);
            s.retry_reorders = Some(0);
        }
    }
    let mut hists: Vec<hdrhistogram::Histogram<u64>> = (0..3)
        .map(|_| crate::observe::latency_histogram())
        .collect();
    let mut acks_in = [0u64; 3];
    let seg_of = |t: u64| -> usize {
        if t < w0 {
            0
        } else if t < w1 {
            1
        } else {
            2
        }
    };
    let mut recover: Option<u64> = None;
    let published = h.published as usize;
    for i in 0..published.min(h.first_send_ns.len()) {
        let sent = h.first_send_ns[i];
        if sent == 0 && h.attempts[i] == 0 {
            continue;
        }
        let s = &mut segs[seg_of(sent)];
        let o = h.outcome(i);
        s.published += 1;
        match o {
            Outcome::Ok | Outcome::Duplicate => s.acked += 1,
            Outcome::Fail => s.failed += 1,
            Outcome::Unknown => s.unknown += 1,
            _ => {}
        }
        if h.attempts[i] > 1 {
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
        let acked_at = h.ack_ns[i];
        if o.is_acked() && acked_at > 0 {
            let k = seg_of(acked_at);
            acks_in[k] += 1;
            hists[k].saturating_record(acked_at.saturating_sub(sent).max(1));
            if acked_at >= w1 && recover.is_none_or(|r| acked_at < r) {
                recover = Some(acked_at);
            }
        }
    }
    for (k, s) in segs.iter_mut().enumerate() {
        let (a, b) = bounds[k];
        s.from_ms = a.saturating_sub(p0) as f64 / 1e6;
        s.to_ms = b.saturating_sub(p0) as f64 / 1e6;
        let secs = b.saturating_sub(a) as f64 / 1e9;
        s.acks_per_sec = if secs > 0.0 {
            acks_in[k] as f64 / secs
        } else {
            0.0
        };
        if !hists[k].is_empty() {
            s.latency_p50_us = Some(hists[k].value_at_quantile(0.5) as f64 / 1e3);
            s.latency_p99_us = Some(hists[k].value_at_quantile(0.99) as f64 / 1e3);
        }
    }
    WindowSplit {
        before: segs[0],
        during: segs[1],
        after: segs[2],
        recover_ms: recover.map(|r| (r - w1) as f64 / 1e6),
    }
}

/// What the consume side did, judged against publish order and the stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumeFigures {
    /// Distinct messages processed at least once.
    pub processed: u64,
    /// Successful processings in all: a message processed again after a redelivery counts twice.
    pub processings: u64,
    /// Messages handed to workers (every delivery) and deliveries after the first.
    pub deliveries: u64,
    pub redelivered: u64,
    /// Messages whose first processing came from a redelivery and came after a later-published
    /// message of the same key: the reorders redelivery caused.
    pub redelivered_late_per_key: u64,
    /// Processings that failed (nak'd or left un-acked).
    pub failures: u64,
    /// Messages of the run found in the stream but never processed (null without a complete
    /// read-back).
    pub unprocessed: Option<u64>,
}

/// The consume order: each message at its first successful processing, in finish order
/// (`processed` must be sorted by finish time). Returns the order and, per entry, the delivery
/// it came from.
pub fn consume_order(processed: &[crate::consumer::Processed]) -> (Vec<u32>, Vec<u32>) {
    // Indexes are dense (0..published): a bitmap, not a hash set (5× faster on 1M).
    let len = processed
        .iter()
        .map(|p| p.idx as usize + 1)
        .max()
        .unwrap_or(0);
    let mut seen = vec![false; len];
    let mut order = Vec::with_capacity(processed.len());
    let mut delivered = Vec::with_capacity(processed.len());
    for p in processed {
        let s = &mut seen[p.idx as usize];
        if !*s {
            *s = true;
            order.push(p.idx);
            delivered.push(p.delivered);
        }
    }
    (order, delivered)
}

/// Figures of the consume side. `order`/`delivered` come from [`consume_order`]; `keys` is the
/// history's key per message; `stored` the distinct messages the read-back found (when complete).
pub fn consume_figures(
    log: &crate::consumer::ConsumeLog,
    order: &[u32],
    delivered: &[u32],
    keys: &[u32],
    num_keys: u32,
    stored: Option<&ReadBack>,
) -> ConsumeFigures {
    // Late within its key: a later-published message of the key (higher index) came first.
    let mut max_per_key: Vec<Option<u32>> = vec![None; num_keys as usize];
    let mut redelivered_late = 0;
    for (&idx, &d) in order.iter().zip(delivered) {
        let Some(&k) = keys.get(idx as usize) else {
            continue;
        };
        let slot = &mut max_per_key[k as usize];
        match *slot {
            Some(m) if idx < m => {
                if d > 1 {
                    redelivered_late += 1;
                }
            }
            _ => *slot = Some(idx),
        }
    }
    let unprocessed = stored.filter(|rb| rb.complete).map(|rb| {
        // 0 = not stored, 1 = stored, 2 = processed (or counted): each stored index once.
        let len = rb
            .order
            .iter()
            .chain(order)
            .map(|&i| i as usize + 1)
            .max()
            .unwrap_or(0);
        let mut state = vec![0u8; len];
        for &i in order {
            state[i as usize] = 2;
        }
        let mut missing = 0;
        for &i in &rb.order {
            let s = &mut state[i as usize];
            if *s == 0 {
                missing += 1;
                *s = 2;
            }
        }
        missing
    });
    ConsumeFigures {
        processed: order.len() as u64,
        processings: log.processed.len() as u64,
        deliveries: log.deliveries,
        redelivered: log.redeliveries,
        redelivered_late_per_key: redelivered_late,
        failures: log.failures,
        unprocessed,
    }
}

/// A judgement: of one claim, or of a run's claims together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Nothing was claimed, so nothing was judged (a run's verdict only): not a pass.
    None,
    Pass,
    Unknown,
    Fail,
}

impl Verdict {
    /// Combines verdicts: fail beats unknown beats pass; `None` when there is nothing to judge.
    pub fn combine(items: impl IntoIterator<Item = Verdict>) -> Verdict {
        items.into_iter().max().unwrap_or(Verdict::None)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::None => "none",
            Verdict::Pass => "pass",
            Verdict::Unknown => "unknown",
            Verdict::Fail => "fail",
        }
    }
}

/// One claim of the scenario's `expect` block, judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimResult {
    /// Which claim, e.g. "storage_order".
    pub claim: String,
    /// What was claimed, e.g. "preserved per key".
    pub expected: String,
    /// The measured figure behind the verdict.
    pub figure: String,
    pub verdict: Verdict,
}

/// The figures the claims are judged on; `None` when not measured (e.g. no read-back).
pub struct Evidence<'a> {
    pub ack_wire: Option<&'a OrderFigures>,
    pub ack_completion: Option<&'a OrderFigures>,
    pub storage: Option<&'a OrderFigures>,
    pub safety: Option<&'a Safety>,
    pub published: u64,
    pub acked: u64,
    /// Messages whose final outcome is unknown.
    pub unknown: u64,
    pub retry: Option<&'a RetryFigures>,
    pub consume: Option<&'a OrderFigures>,
    pub consume_figures: Option<&'a ConsumeFigures>,
    /// False when the run did not finish (interrupted, failed): "broken" claims can still be
    /// judged, but "preserved"/"none" claims only on what was seen, so they become unknown.
    pub complete: bool,
}

fn judge_order(
    name: &str,
    claim: OrderClaim,
    f: Option<&OrderFigures>,
    complete: bool,
) -> ClaimResult {
    let (figure, verdict) = match f {
        None => ("not measured".to_string(), Verdict::Unknown),
        Some(f) if f.messages == 0 => ("no messages".to_string(), Verdict::Unknown),
        Some(f) => {
            let figure = format!(
                "{} of {} late ({} late per key, {}/{} keys affected)",
                f.late, f.messages, f.late_per_key, f.keys_affected, f.keys
            );
            let holds = match claim {
                OrderClaim::Preserved => f.late == 0,
                OrderClaim::PreservedPerKey => f.late_per_key == 0,
                OrderClaim::Broken => f.late > 0,
                OrderClaim::BrokenPerKey => f.late_per_key > 0,
            };
            let verdict = match (holds, complete) {
                (false, _) => Verdict::Fail,
                (true, true) => Verdict::Pass,
                // A break seen in part of a run is a break; "preserved" over part is not proven.
                (true, false) => match claim {
                    OrderClaim::Broken | OrderClaim::BrokenPerKey => Verdict::Pass,
                    _ => Verdict::Unknown,
                },
            };
            (figure, verdict)
        }
    };
    ClaimResult {
        claim: name.to_string(),
        expected: claim.describe().to_string(),
        figure,
        verdict,
    }
}

fn judge_zero(
    name: &str,
    expected: &str,
    value: Option<u64>,
    what: &str,
    complete: bool,
) -> ClaimResult {
    let (figure, verdict) = match value {
        None => ("not measured".to_string(), Verdict::Unknown),
        Some(0) if !complete => (format!("0 {what} (run incomplete)"), Verdict::Unknown),
        Some(0) => (format!("0 {what}"), Verdict::Pass),
        Some(v) => (format!("{v} {what}"), Verdict::Fail),
    };
    ClaimResult {
        claim: name.to_string(),
        expected: expected.to_string(),
        figure,
        verdict,
    }
}

/// A "none" / "some" claim about a count.
fn judge_presence(
    name: &str,
    claim: Presence,
    value: Option<u64>,
    what: &str,
    complete: bool,
) -> ClaimResult {
    match claim {
        Presence::None => judge_zero(name, &format!("no {what}"), value, what, complete),
        Presence::Some => {
            let (figure, verdict) = match value {
                None => ("not measured".to_string(), Verdict::Unknown),
                Some(0) if !complete => (format!("0 {what} (run incomplete)"), Verdict::Unknown),
                Some(0) => (format!("0 {what}"), Verdict::Fail),
                // Seen in part of a run is seen.
                Some(v) => (format!("{v} {what}"), Verdict::Pass),
            };
            ClaimResult {
                claim: name.to_string(),
                expected: format!("some {what}"),
                figure,
                verdict,
            }
        }
    }
}

/// Turns the scenario's claims into verdicts.
pub fn judge(expect: &Expect, e: &Evidence) -> Vec<ClaimResult> {
    let mut out = Vec::new();
    if let Some(c) = expect.ack_wire_order {
        out.push(judge_order("ack_wire_order", c, e.ack_wire, e.complete));
    }
    if let Some(c) = expect.ack_completion_order {
        out.push(judge_order(
            "ack_completion_order",
            c,
            e.ack_completion,
            e.complete,
        ));
    }
    if let Some(c) = expect.storage_order {
        out.push(judge_order("storage_order", c, e.storage, e.complete));
    }
    if expect.no_loss == Some(true) {
        out.push(judge_zero(
            "no_loss",
            "nothing acknowledged is lost",
            e.safety.map(|s| s.lost),
            "lost",
            e.complete,
        ));
    }
    if expect.no_duplicates == Some(true) {
        out.push(judge_zero(
            "no_duplicates",
            "no key+seq stored twice",
            e.safety.map(|s| s.duplicates),
            "duplicates",
            e.complete,
        ));
    }
    if expect.all_acked == Some(true) {
        out.push(judge_zero(
            "all_acked",
            "every published message acknowledged",
            Some(e.published - e.acked.min(e.published)),
            "not acknowledged",
            e.complete,
        ));
    }
    if let Some(c) = expect.duplicates {
        out.push(judge_presence(
            "duplicates",
            c,
            e.safety.map(|s| s.duplicates),
            "duplicates",
            e.complete,
        ));
    }
    if let Some(c) = expect.retry_reorders {
        out.push(judge_presence(
            "retry_reorders",
            c,
            e.retry.and_then(|r| r.retry_reorders),
            "retry reorders",
            e.complete,
        ));
    }
    if let Some(c) = expect.lost {
        out.push(judge_presence(
            "lost",
            c,
            e.safety.map(|s| s.lost),
            "lost",
            e.complete,
        ));
    }
    if let Some(c) = expect.unacked {
        out.push(judge_presence(
            "unacked",
            c,
            Some(e.published - e.acked.min(e.published)),
            "not acknowledged",
            e.complete,
        ));
    }
    if let Some(c) = expect.unknown {
        out.push(judge_presence(
            "unknown",
            c,
            Some(e.unknown),
            "unknown outcomes",
            e.complete,
        ));
    }
    if let Some(c) = expect.consume_order {
        out.push(judge_order("consume_order", c, e.consume, e.complete));
    }
    if expect.all_processed == Some(true) {
        out.push(judge_zero(
            "all_processed",
            "every stored message processed at least once",
            e.consume_figures.and_then(|f| f.unprocessed),
            "stored but never processed",
            e.complete,
        ));
    }
    if let Some(c) = expect.unprocessed {
        out.push(judge_presence(
            "unprocessed",
            c,
            e.consume_figures.and_then(|f| f.unprocessed),
            "stored but never processed",
            e.complete,
        ));
    }
    if let Some(c) = expect.redelivered {
        out.push(judge_presence(
            "redelivered",
            c,
            e.consume_figures.map(|f| f.redelivered),
            "redeliveries",
            e.complete,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fig(order: &[u32], keys: &[u32]) -> OrderFigures {
        let nk = keys.iter().max().map_or(0, |m| m + 1);
        divergence(order, keys, nk)
    }

    #[test]
    fn consume_claims_are_judged() {
        let broken = OrderFigures {
            messages: 10,
            late: 3,
            late_per_key: 2,
            keys_affected: 1,
            keys: 2,
            ..Default::default()
        };
        let figures = ConsumeFigures {
            processed: 10,
            processings: 11,
            redelivered: 1,
            unprocessed: Some(0),
            ..Default::default()
        };
        let expect = Expect {
            consume_order: Some(OrderClaim::PreservedPerKey),
            all_processed: Some(true),
            redelivered: Some(Presence::Some),
            ..Default::default()
        };
        let e = Evidence {
            ack_wire: None,
            ack_completion: None,
            storage: None,
            safety: None,
            published: 10,
            acked: 10,
            unknown: 0,
            retry: None,
            consume: Some(&broken),
            consume_figures: Some(&figures),
            complete: true,
        };
        let v = judge(&expect, &e);
        let get = |n: &str| v.iter().find(|c| c.claim == n).unwrap().verdict;
        assert_eq!(get("consume_order"), Verdict::Fail);
        assert_eq!(get("all_processed"), Verdict::Pass);
        assert_eq!(get("redelivered"), Verdict::Pass);
        let unprocessed = ConsumeFigures {
            unprocessed: Some(2),
            ..figures
        };
        let v = judge(
            &expect,
            &Evidence {
                consume_figures: Some(&unprocessed),
                ..e
            },
        );
        let get = |n: &str| v.iter().find(|c| c.claim == n).unwrap().verdict;
        assert_eq!(get("all_processed"), Verdict::Fail);
    }

    #[test]
    fn consume_figures_count_redelivery_reorders_and_unprocessed() {
        use crate::consumer::{ConsumeLog, Processed};
        // Keys: 0 1 0 1 0. Message 2 (key 0) fails first, is redelivered and processed after 4
        // (key 0): late within its key, from a redelivery. 1 is processed twice.
        let keys = [0, 1, 0, 1, 0];
        let p = |idx, at_ns, delivered| Processed {
            idx,
            at_ns,
            delivered,
            worker: 0,
        };
        let log = ConsumeLog {
            processed: vec![p(0, 1, 1), p(1, 2, 1), p(4, 3, 1), p(2, 4, 2), p(1, 5, 2)],
            deliveries: 7,
            redeliveries: 2,
            failures: 1,
            ..Default::default()
        };
        let (order, delivered) = consume_order(&log.processed);
        assert_eq!(order, vec![0, 1, 4, 2]);
        assert_eq!(delivered, vec![1, 1, 1, 2]);
        let rb = ReadBack {
            order: vec![0, 1, 2, 3, 4],
            seqs: vec![1, 2, 3, 4, 5],
            attempts: vec![1; 5],
            unexpected: 0,
            complete: true,
        };
        let f = consume_figures(&log, &order, &delivered, &keys, 2, Some(&rb));
        assert_eq!(f.processed, 4);
        assert_eq!(f.processings, 5);
        assert_eq!(f.redelivered, 2);
        assert_eq!(f.redelivered_late_per_key, 1);
        assert_eq!(f.unprocessed, Some(1), "message 3 was never processed");
        let o = divergence(&order, &keys, 2);
        assert_eq!(o.late_per_key, 1);
        // Without a complete read-back, unprocessed is unknown.
        let partial = ReadBack {
            complete: false,
            ..rb
        };
        let f = consume_figures(&log, &order, &delivered, &keys, 2, Some(&partial));
        assert_eq!(f.unprocessed, None);
    }

    #[test]
    fn publish_order_has_no_divergence() {
        let keys = [0, 1, 0, 1, 2];
        let f = fig(&[0, 1, 2, 3, 4], &keys);
        assert_eq!(
            f,
            OrderFigures {
                messages: 5,
                keys: 3,
                ..Default::default()
            }
        );
        assert_eq!(f.describe(), "preserved (0 of 5)");
    }

    #[test]
    fn one_swap_across_keys() {
        // 1 (key 1) overtakes 0 (key 0): globally late, per key fine.
        let keys = [0, 1, 0, 1];
        let f = fig(&[1, 0, 2, 3], &keys);
        assert_eq!(f.late, 1);
        assert_eq!(f.inversions, 1);
        assert_eq!(f.max_displacement, 1);
        assert_eq!(f.late_per_key, 0);
        assert_eq!(f.keys_affected, 0);
        assert_eq!(f.keys, 2);
        assert!(f.describe().starts_with("per key kept"));
    }

    #[test]
    fn swap_within_a_key() {
        let keys = [0, 1, 0, 1];
        let f = fig(&[2, 1, 0, 3], &keys);
        // 1 after 2, 0 after 2: late = 2; per key: 0 after 2 (key 0) = 1.
        assert_eq!(f.late, 2);
        assert_eq!(f.inversions, 3);
        assert_eq!(f.max_displacement, 2);
        assert_eq!(f.late_per_key, 1);
        assert_eq!(f.keys_affected, 1);
        assert_eq!(f.describe(), "broken: 25% late per key");
    }

    #[test]
    fn full_reversal() {
        let keys = [0; 5];
        let f = fig(&[4, 3, 2, 1, 0], &keys);
        assert_eq!(f.late, 4);
        assert_eq!(f.inversions, 10);
        assert_eq!(f.max_displacement, 4);
        assert_eq!(f.late_per_key, 4);
        assert_eq!(f.keys_affected, 1);
    }

    #[test]
    fn subsets_and_duplicates() {
        // Only some messages present (e.g. acked ones); displacement counts among present ones.
        let keys = [0, 0, 0, 0, 0, 0];
        let f = fig(&[1, 5, 3, 3, 5], &keys);
        assert_eq!(f.messages, 3);
        assert_eq!(f.late, 1); // 3 after 5
        assert_eq!(f.inversions, 1);
        assert_eq!(f.max_displacement, 1);
        // Out-of-range indexes are ignored.
        assert_eq!(fig(&[0, 99], &[0]).messages, 1);
    }

    #[test]
    fn fenwick_matches_brute_force() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        for _ in 0..50 {
            let n = rng.random_range(1..60usize);
            let keys: Vec<u32> = (0..n).map(|_| rng.random_range(0..4)).collect();
            let mut order: Vec<u32> = (0..n as u32).collect();
            for i in (1..n).rev() {
                if rng.random_bool(0.3) {
                    order.swap(i, rng.random_range(0..=i));
                }
            }
            let f = divergence(&order, &keys, 4);
            let mut inv = 0;
            let mut late = 0;
            let mut late_k = 0;
            for q in 0..n {
                if (0..q).any(|p| order[p] > order[q]) {
                    late += 1;
                }
                if (0..q).any(|p| {
                    order[p] > order[q] && keys[order[p] as usize] == keys[order[q] as usize]
                }) {
                    late_k += 1;
                }
                inv += (0..q).filter(|&p| order[p] > order[q]).count() as u64;
            }
            let disp = (0..n)
                .map(|p| p.abs_diff(order[p] as usize) as u64)
                .max()
                .unwrap();
            assert_eq!(
                (f.inversions, f.late, f.late_per_key, f.max_displacement),
                (inv, late, late_k, disp)
            );
        }
    }

    fn history(outcomes: &[Outcome], seqs: &[u64]) -> History {
        let mut h = History::new(vec![0; outcomes.len()], 1);
        h.published = outcomes.len() as u64;
        for (i, (&o, &s)) in outcomes.iter().zip(seqs).enumerate() {
            h.set_outcome(i, o);
            h.stream_seq[i] = s;
        }
        h
    }

    #[test]
    fn safety_figures() {
        use Outcome::*;
        let h = history(&[Ok, Ok, Unknown, Unknown, Fail, Ok], &[1, 2, 0, 0, 0, 4]);
        let rb = ReadBack {
            // 0 stored, 1 lost, 2 stored (recovered), 3 missing, 4 failed but stored,
            // 5 stored twice, then a foreign message (idx 77).
            order: vec![0, 2, 4, 5, 5, 77],
            seqs: vec![1, 2, 3, 4, 5, 6],
            unexpected: 1,
            complete: true,
            ..Default::default()
        };
        let s = safety(&h, &rb);
        assert_eq!(s.stored, 4);
        assert_eq!(s.lost, 1);
        assert_eq!(s.duplicates, 1);
        assert_eq!(s.unexpected, 2);
        assert_eq!(s.unknown_stored, 1);
        assert_eq!(s.unknown_missing, 1);
        assert_eq!(s.failed_but_stored, 1);
        assert_eq!(s.ack_seq_mismatches, 0);
    }

    #[test]
    fn ack_seq_mismatch_is_counted() {
        let h = history(&[Outcome::Ok, Outcome::Ok], &[1, 2]);
        let rb = ReadBack {
            order: vec![1, 0],
            seqs: vec![1, 2],
            unexpected: 0,
            complete: true,
            ..Default::default()
        };
        assert_eq!(safety(&h, &rb).ack_seq_mismatches, 2);
    }

    #[test]
    fn verdicts() {
        let broken = OrderFigures {
            messages: 10,
            late: 3,
            late_per_key: 2,
            keys_affected: 1,
            keys: 2,
            ..Default::default()
        };
        let kept = OrderFigures {
            messages: 10,
            keys: 2,
            ..Default::default()
        };
        let safe = Safety::default();
        let expect = Expect {
            storage_order: Some(OrderClaim::PreservedPerKey),
            ack_wire_order: Some(OrderClaim::Preserved),
            ack_completion_order: Some(OrderClaim::BrokenPerKey),
            no_loss: Some(true),
            no_duplicates: Some(true),
            all_acked: Some(true),
            ..Default::default()
        };
        let e = Evidence {
            ack_wire: Some(&kept),
            ack_completion: Some(&broken),
            storage: Some(&broken),
            safety: Some(&safe),
            published: 10,
            acked: 10,
            unknown: 0,
            retry: None,
            consume: None,
            consume_figures: None,
            complete: true,
        };
        let v = judge(&expect, &e);
        let get = |n: &str| v.iter().find(|c| c.claim == n).unwrap().verdict;
        assert_eq!(get("storage_order"), Verdict::Fail);
        assert_eq!(get("ack_wire_order"), Verdict::Pass);
        assert_eq!(get("ack_completion_order"), Verdict::Pass);
        assert_eq!(get("no_loss"), Verdict::Pass);
        assert_eq!(get("all_acked"), Verdict::Pass);
        assert_eq!(Verdict::combine(v.iter().map(|c| c.verdict)), Verdict::Fail);

        // Incomplete run: "preserved" cannot be proven, a seen break still counts; no read-back → unknown.
        let e2 = Evidence {
            storage: None,
            safety: None,
            complete: false,
            ..e
        };
        let v = judge(&expect, &e2);
        let get = |n: &str| v.iter().find(|c| c.claim == n).unwrap().verdict;
        assert_eq!(get("ack_wire_order"), Verdict::Unknown);
        assert_eq!(get("ack_completion_order"), Verdict::Pass);
        assert_eq!(get("storage_order"), Verdict::Unknown);
        assert_eq!(get("no_loss"), Verdict::Unknown);
        assert_eq!(
            Verdict::combine([Verdict::Pass, Verdict::Unknown]),
            Verdict::Unknown
        );
        // Nothing claimed is nothing judged: not a pass.
        assert_eq!(Verdict::combine([]), Verdict::None);
        assert_eq!(Verdict::None.as_str(), "none");
    }

    #[test]
    fn the_opposite_claims_of_the_booleans_can_fail() {
        let safety = Safety {
            lost: 2,
            ..Default::default()
        };
        let consumed = ConsumeFigures {
            unprocessed: Some(0),
            ..Default::default()
        };
        let expect = Expect {
            lost: Some(Presence::Some),
            unacked: Some(Presence::Some),
            unprocessed: Some(Presence::Some),
            ..Default::default()
        };
        let e = Evidence {
            ack_wire: None,
            ack_completion: None,
            storage: None,
            safety: Some(&safety),
            published: 10,
            acked: 10,
            unknown: 0,
            retry: None,
            consume: None,
            consume_figures: Some(&consumed),
            complete: true,
        };
        let v = judge(&expect, &e);
        let get = |n: &str| v.iter().find(|c| c.claim == n).unwrap().clone();
        assert_eq!(get("lost").verdict, Verdict::Pass, "{:?}", get("lost"));
        assert_eq!(get("lost").figure, "2 lost");
        assert_eq!(get("unacked").verdict, Verdict::Fail);
        assert_eq!(get("unprocessed").verdict, Verdict::Fail);
    }

    /// Key 0: messages 0, 2, 4; key 1: messages 1, 3. Message 2's first attempt was lost and
    /// its retry (attempt 2) stored after message 4; message 1 was stored twice (a retry
    /// without Msg-Id after an unknown outcome).
    fn retried_history() -> (History, ReadBack) {
        let mut h = History::new(vec![0, 1, 0, 1, 0], 2).timed();
        h.published = 5;
        let ms = 1_000_000u64;
        // Sent at 0, 10, 20, 30, 40 ms after a phase start at 1000 ms; the fault window is
        // [15 ms, 35 ms).
        for i in 0..5u32 {
            h.record_send(i, 1, 1000 * ms + (i as u64) * 10 * ms);
        }
        let acks = [(0, 1, 1005), (1, 2, 1040), (3, 4, 1036), (4, 5, 1045)];
        for (idx, seq, at) in acks {
            h.record_ack(idx, seq, false, idx);
            h.record_ack_time(idx, at * ms);
        }
        h.record_failure(2, Outcome::Unknown, "timed_out");
        h.record_send(2, 2, 1050 * ms);
        h.record_ack(2, 6, false, 9);
        h.record_ack_time(2, 1060 * ms);
        h.record_send(1, 2, 1041 * ms);
        let rb = ReadBack {
            order: vec![0, 1, 3, 4, 1, 2],
            seqs: vec![1, 2, 4, 5, 6, 7],
            attempts: vec![1, 1, 1, 1, 2, 2],
            unexpected: 0,
            complete: true,
        };
        (h, rb)
    }

    #[test]
    fn retry_reorders_are_found() {
        let (h, rb) = retried_history();
        let pm = per_message(&h, &rb);
        assert_eq!(pm.copies, vec![1, 2, 1, 1, 1]);
        // Message 2 (key 0) is stored after message 4 (key 0), from its second attempt.
        assert_eq!(pm.late_per_key, vec![false, false, true, false, false]);
        assert_eq!(pm.retry_reordered, vec![false, false, true, false, false]);
        let r = retry_figures(&h, Some((&rb, &pm)));
        assert_eq!(r.retried, 2);
        assert_eq!(r.extra_attempts, 2);
        assert_eq!(r.stored_from_retries, Some(2));
        assert_eq!(r.retry_reorders, Some(1));
        assert_eq!(r.keys_affected, Some(1));
        // A late first copy from a first attempt is not a retry reorder.
        let plain = ReadBack {
            order: vec![1, 0],
            seqs: vec![1, 2],
            attempts: vec![1, 1],
            unexpected: 0,
            complete: true,
        };
        let mut h2 = History::new(vec![0, 0], 1);
        h2.published = 2;
        let pm2 = per_message(&h2, &plain);
        assert_eq!(pm2.late_per_key, vec![true, false]);
        assert_eq!(
            retry_figures(&h2, Some((&plain, &pm2))).retry_reorders,
            Some(0)
        );
    }

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

    #[test]
    fn presence_claims() {
        let expect = Expect {
            duplicates: Some(Presence::Some),
            retry_reorders: Some(Presence::None),
            unknown: Some(Presence::Some),
            ..Default::default()
        };
        let safe = Safety {
            duplicates: 3,
            ..Default::default()
        };
        let r = RetryFigures {
            retry_reorders: Some(2),
            ..Default::default()
        };
        let e = Evidence {
            ack_wire: None,
            ack_completion: None,
            storage: None,
            safety: Some(&safe),
            published: 10,
            acked: 10,
            unknown: 0,
            retry: Some(&r),
            consume: None,
            consume_figures: None,
            complete: true,
        };
        let v = judge(&expect, &e);
        let get = |n: &str| v.iter().find(|c| c.claim == n).unwrap().verdict;
        assert_eq!(get("duplicates"), Verdict::Pass);
        assert_eq!(get("retry_reorders"), Verdict::Fail);
        assert_eq!(get("unknown"), Verdict::Fail);
        let e2 = Evidence {
            complete: false,
            ..e
        };
        let v = judge(&expect, &e2);
        let get = |n: &str| v.iter().find(|c| c.claim == n).unwrap().verdict;
        assert_eq!(get("unknown"), Verdict::Unknown);
        assert_eq!(get("duplicates"), Verdict::Pass);
    }
}
