//! The merge of a distributed run (issue 25): the workers' [`Part`]s become the one history
//! and recorder a single-process run would have had, on the coordinator's clock.
//!
//! - **Positions**: worker `w`'s message `j` is the plan's message `draws[w].idx[j]`; the
//!   workers' indexes are disjoint, so the columns are filled in, never added.
//! - **Times**: every worker time `t` becomes `t + offset` (its measured clock offset to the
//!   coordinator); timelines and per-second latency intervals are re-bucketed from there.
//! - **Orders across workers**: the wire ranks and the completion order are each worker's own;
//!   they are interleaved by the (shifted) arrival time of each reply, each worker's own order
//!   kept. Per-key orders are exact (a key is one worker's); orders across keys of different
//!   workers are as exact as the clock offsets.
//! - **Counts**: histograms added, errors and repeats summed, CPU time summed.

use std::collections::HashMap;

use super::part::{LogPart, Part, TimelinePart};
use crate::checker::OrderFigures;
use crate::client::Stop;
use crate::record::history::{History, Outcome, NONE};
use crate::record::observe::{Interval, LatencyLog, Recorder, Timeline};
use crate::record::usage::Usage;
use crate::result::WorkerReport;
use crate::scenario::Plan;
use crate::split::{Draws, Segment};

/// One worker as the merge sees it: its segment, its messages, and its part with its clock
/// offset (None: the worker was lost, nothing of it arrived).
pub struct Input<'a> {
    pub segment: &'a Segment,
    pub draws: &'a Draws,
    pub part: Option<(&'a Part, i64)>,
}

/// The merged measured phase.
pub struct Merged {
    pub history: History,
    pub rec: Recorder,
    pub stop: Stop,
    /// The workers' CPU time summed, over the longest wall time.
    pub client: Option<Usage>,
    /// Messages below the merged `published` mark that their worker never sent (a lost or
    /// stopped worker's): counted as "not published", not as in flight.
    pub unsent: u64,
}

/// Merges the workers' parts; `keys` are the plan's measured keys, `start_ns` the barrier on
/// the coordinator's clock.
pub fn merge(plan: &Plan, keys: Vec<u32>, inputs: &[Input<'_>], start_ns: u64) -> Merged {
    let p = plan;
    let mut h = History::new(keys, plan.workload.keys).timed();
    let mut stop = Stop::Done;
    for i in inputs {
        let Some((part, offset)) = i.part else {
            continue;
        };
        fill(&mut h, i, part, offset);
        if stop == Stop::Done && part.stop.to_stop() != Stop::Done {
            stop = part.stop.to_stop();
        }
    }
    ranks_and_completion(&mut h, inputs);
    let (published, unsent) = published(inputs);
    h.published = published;
    if p.faults.is_empty() && p.publish.retry.attempts <= 1 && p.consume.is_none() {
        // As a single-process run keeps it: untimed (its sent order is the publish order).
        h.untimed();
    }
    Merged {
        history: h,
        rec: recorder(plan, inputs, start_ns),
        stop,
        client: usage(inputs),
        unsent,
    }
}

fn shifted(t: u64, offset: i64) -> u64 {
    if t == 0 {
        0
    } else {
        (t as i64).saturating_add(offset).max(1) as u64
    }
}

/// Worker `i`'s columns into the plan's positions.
fn fill(h: &mut History, i: &Input<'_>, part: &Part, offset: i64) {
    let idx = &i.draws.idx;
    let conn_base = match i.segment.strategy {
        crate::scenario::Strategy::KeyAffine => 0,
        _ => i.segment.connections.start as u16,
    };
    for (j, &g) in idx.iter().enumerate().take(part.published as usize) {
        let g = g as usize;
        h.set_outcome(g, Outcome::from_u8(part.outcome[j]));
        h.set_ack_seq(g, part.stream_seq[j]);
        h.set_attempts(g, part.attempts[j]);
        let at = |t: &[u64]| shifted(t.get(j).copied().unwrap_or(0), offset);
        h.set_times(g, at(&part.first_send_ns), at(&part.ack_ns));
    }
    for (k, n) in &part.errors {
        *h.errors.entry(k.clone()).or_default() += n;
    }
    h.repeats += part.repeats;
    if let Some(f) = part.fast {
        let m = h.fast.get_or_insert_with(Default::default);
        m.batches += f.batches;
        m.flow_acks += f.flow_acks;
        m.gaps_reported += f.gaps_reported;
        m.gap_messages += f.gap_messages;
        m.errors_reported += f.errors_reported;
        m.final_flow = f.final_flow;
    }
    // Ranks are renumbered later (`ranks_and_completion`); kept local for now.
    let shift = |t| shifted(t, offset);
    for a in &part.attempt_log {
        let g = idx.get(a.idx as usize).copied().unwrap_or(a.idx);
        h.attempt_log
            .push(a.record(g, a.conn + conn_base, a.rank, &shift));
    }
}

/// Global wire ranks (every worker's replies interleaved by arrival time) and the completion
/// order (each worker's own, interleaved by the arrival time of each ack).
fn ranks_and_completion(h: &mut History, inputs: &[Input<'_>]) {
    // (time, worker, local rank) of every reply any worker saw.
    let mut replies: Vec<(u64, usize, u32)> = Vec::new();
    let mut log_at = 0usize;
    let mut log_owner: Vec<usize> = Vec::new();
    for (w, i) in inputs.iter().enumerate() {
        let Some((part, offset)) = i.part else {
            continue;
        };
        for j in 0..part.wire_rank.len() {
            if part.wire_rank[j] != NONE {
                let t = shifted(part.ack_ns.get(j).copied().unwrap_or(0), offset);
                replies.push((t, w, part.wire_rank[j]));
            }
        }
        for a in &part.attempt_log {
            if a.rank != NONE {
                replies.push((shifted(a.end_ns, offset), w, a.rank));
            }
        }
        log_owner.extend(std::iter::repeat_n(w, part.attempt_log.len()));
    }
    replies.sort_unstable();
    replies.dedup_by_key(|r| (r.1, r.2));
    let global: HashMap<(usize, u32), u32> = replies
        .iter()
        .enumerate()
        .map(|(n, r)| ((r.1, r.2), n as u32))
        .collect();
    for (w, i) in inputs.iter().enumerate() {
        let Some((part, _)) = i.part else { continue };
        for j in 0..part.wire_rank.len().min(i.draws.idx.len()) {
            if part.wire_rank[j] != NONE {
                h.set_wire_rank(i.draws.idx[j] as usize, global[&(w, part.wire_rank[j])]);
            }
        }
    }
    for a in h.attempt_log.iter_mut() {
        let w = log_owner[log_at];
        log_at += 1;
        if a.rank != NONE {
            a.rank = global[&(w, a.rank)];
        }
    }
    h.completion.set(completion(inputs));
}

/// The completion orders merged: each worker's own order kept, the next taken from the worker
/// whose next ack arrived first.
fn completion(inputs: &[Input<'_>]) -> Vec<u32> {
    let lists: Vec<Option<(&Part, i64, &Draws)>> = inputs
        .iter()
        .map(|i| i.part.map(|(p, o)| (p, o, i.draws)))
        .collect();
    let mut heads = vec![0usize; lists.len()];
    let total: usize = lists.iter().flatten().map(|l| l.0.completion.len()).sum();
    let mut out = Vec::with_capacity(total);
    while out.len() < total {
        let next = lists
            .iter()
            .enumerate()
            .filter_map(|(w, l)| {
                let (p, o, _) = (*l)?;
                let j = *p.completion.get(heads[w])? as usize;
                Some((shifted(p.ack_ns.get(j).copied().unwrap_or(0), o), w))
            })
            .min();
        let Some((_, w)) = next else { break };
        let (p, _, d) = lists[w].expect("a head exists");
        out.push(d.idx[p.completion[heads[w]] as usize]);
        heads[w] += 1;
    }
    out
}

/// The merged `published` mark (one past the last message any worker sent) and how many of
/// the messages below it were never sent by their worker.
fn published(inputs: &[Input<'_>]) -> (u64, u64) {
    let mark = inputs
        .iter()
        .filter_map(|i| {
            let (p, _) = i.part?;
            let last = (p.published as usize).checked_sub(1)?;
            i.draws.idx.get(last).map(|&g| g as u64 + 1)
        })
        .max()
        .unwrap_or(0);
    let sent = |i: &Input<'_>| i.part.map_or(0, |(p, _)| p.published as usize);
    let unsent = inputs
        .iter()
        .map(|i| {
            i.draws.idx[sent(i).min(i.draws.idx.len())..].partition_point(|&g| (g as u64) < mark)
        })
        .sum::<usize>() as u64;
    (mark, unsent)
}

/// The recorders merged on the coordinator's clock from `start_ns`.
fn recorder(plan: &Plan, inputs: &[Input<'_>], start_ns: u64) -> Recorder {
    let open_loop = !matches!(plan.workload.rate, crate::scenario::Rate::Max);
    let mut rec = Recorder::new(open_loop, plan.observe.timeline_bucket, None);
    rec.start_at(start_ns);
    for i in inputs {
        let Some((part, offset)) = i.part else {
            continue;
        };
        let logs = [
            Some(&mut rec.publish_ack),
            Some(&mut rec.publish_call),
            rec.send_delay.as_mut(),
            rec.intended_ack.as_mut(),
        ];
        for (log, from) in logs.into_iter().zip(&part.logs) {
            if let (Some(log), Some(from)) = (log, from) {
                add_log(log, from, offset, start_ns);
            }
        }
        add_timeline(&mut rec.timeline, &part.timeline, offset);
        rec.ended_ns = rec.ended_ns.max(shifted(part.ended_ns, offset));
    }
    for log in [
        Some(&mut rec.publish_ack),
        Some(&mut rec.publish_call),
        rec.send_delay.as_mut(),
        rec.intended_ack.as_mut(),
    ]
    .into_iter()
    .flatten()
    {
        log.intervals.sort_by_key(|i| i.index);
    }
    rec
}

fn add_log(log: &mut LatencyLog, from: &LogPart, offset: i64, start_ns: u64) {
    let _ = log.total.add(from.total());
    let interval = from.interval_ns.max(1);
    for (index, counts) in &from.intervals {
        let at = shifted(from.origin_ns + index * interval, offset);
        let index = at.saturating_sub(start_ns) / interval;
        match log.intervals.iter_mut().find(|i| i.index == index) {
            Some(i) => {
                let mut all: Vec<(u64, u64)> = i.counts().collect();
                all.extend_from_slice(counts);
                *i = Interval::new(index, &all);
            }
            None => log.intervals.push(Interval::new(index, counts)),
        }
    }
}

fn add_timeline(t: &mut Timeline, from: &TimelinePart, offset: i64) {
    let bucket = from.bucket_ns.max(1);
    for (series, counts) in [
        (&mut t.acked, &from.acked),
        (&mut t.published, &from.published),
    ] {
        for (b, &n) in counts.iter().enumerate() {
            let at = shifted(from.origin_ns + b as u64 * bucket + 1, offset);
            let slot = (at.saturating_sub(t.origin_ns) / t.bucket_ns) as usize;
            if slot >= series.len() {
                series.resize(slot + 1, 0);
            }
            series[slot] += n;
        }
    }
}

/// CPU time summed over the workers, over the longest of their wall times.
fn usage(inputs: &[Input<'_>]) -> Option<Usage> {
    let all: Vec<Usage> = inputs.iter().filter_map(|i| i.part?.0.usage()).collect();
    (!all.is_empty()).then(|| Usage {
        cpu_ns: all.iter().map(|u| u.cpu_ns).sum(),
        wall_ns: all.iter().map(|u| u.wall_ns).max().unwrap_or(0),
    })
}

/// From what a stored message's tag says — its key (as the hash the reader gives) and the
/// worker's local number — to the plan's index: the key names its worker, the worker's draws
/// the index.
pub struct IndexMap {
    owner_of_hash: HashMap<u64, usize>,
    idx: Vec<Vec<u32>>,
}

impl IndexMap {
    pub fn new(segments: &[Segment], draws: &[Draws]) -> IndexMap {
        let owner_of_hash = segments
            .iter()
            .flat_map(|s| {
                s.keys
                    .iter()
                    .map(move |&k| (crate::workload::key_hash(k), s.worker))
            })
            .collect();
        IndexMap {
            owner_of_hash,
            idx: draws.iter().map(|d| d.idx.clone()).collect(),
        }
    }

    /// The plan's index of the message of key hash `key_hash` that its worker numbered `local`.
    pub fn global(&self, key_hash: u64, local: u32) -> Option<u32> {
        let w = *self.owner_of_hash.get(&key_hash)?;
        self.idx.get(w)?.get(local as usize).copied()
    }
}

/// Each key's worker in a distributed run (from result.json `workers[].segment.key_list`);
/// `None` for one process.
pub(super) fn key_owners(workers: &[WorkerReport], num_keys: u32) -> Option<Vec<u16>> {
    if workers.is_empty() {
        return None;
    }
    let mut owner = vec![0u16; num_keys as usize];
    for w in workers {
        for &k in &w.segment.key_list {
            if let Some(o) = owner.get_mut(k as usize) {
                *o = w.index as u16;
            }
        }
    }
    Some(owner)
}

/// An order judged per publisher: N workers publish concurrently, so there is no one publish
/// order across them to be "late" against. Each worker's messages are judged against its own
/// publish order (the plan's order of its messages) and the figures summed (the largest
/// displacement: the largest of any worker). Per-key figures are unchanged by this (a key is
/// one worker's); "late globally" then means what it means for one publisher.
pub(super) fn per_publisher(order: &[u32], h: &History, owner: &[u16]) -> OrderFigures {
    let workers = owner.iter().map(|&o| o as usize + 1).max().unwrap_or(0);
    let mut split: Vec<Vec<u32>> = vec![Vec::new(); workers];
    for &idx in order {
        if let Some(k) = h.keys.try_get(idx as usize) {
            split[owner[k as usize] as usize].push(idx);
        }
    }
    let mut f = OrderFigures::default();
    for part in split {
        let p = crate::checker::divergence(&part, &h.keys, h.num_keys);
        f.messages += p.messages;
        f.late += p.late;
        f.inversions += p.inversions;
        f.max_displacement = f.max_displacement.max(p.max_displacement);
        f.late_per_key += p.late_per_key;
        f.keys_affected += p.keys_affected;
        f.keys += p.keys;
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::history::Outcome;
    use crate::runner::segment::SegmentRecord;
    use crate::scenario::{parse, Overrides};
    use crate::split::{draws, split};

    const PLAN: &str = r#"
name = "merge"
seed = 3
[connections]
strategy = "round_robin"
count = 2
[workload]
messages = 40
warmup = 0
keys = 4
key_distribution = "uniform"
"#;

    /// What worker `w` would record: every message acked, stream sequence = 1000 + its plan
    /// index, acks in publish order, its clock starting at `t0`.
    fn record(d: &Draws, t0: u64) -> SegmentRecord {
        let mut h = History::new(d.keys.clone(), 4).timed();
        let mut rec = Recorder::new(false, std::time::Duration::from_millis(100), None);
        rec.start_at(t0);
        for (j, &g) in d.idx.iter().enumerate() {
            let sent = t0 + 10 * j as u64 + 1;
            h.record_send(j as u32, 1, sent);
            h.record_ack(j as u32, 1000 + g as u64, false, j as u32);
            h.record_ack_time(j as u32, sent + 5);
            rec.publish_ack.record(sent + 5, 5);
            rec.timeline.publish(sent);
            rec.timeline.ack(sent + 5);
            rec.ended_ns = sent + 5;
        }
        h.published = d.idx.len() as u64;
        rec.finish();
        SegmentRecord {
            history: h,
            rec,
            stop: Stop::Done,
            client: None,
        }
    }

    fn setup() -> (Plan, Vec<Segment>, Vec<Draws>, Vec<Part>) {
        let plan = parse(PLAN, "merge.toml", &Overrides::default()).unwrap();
        let segs = split(&plan, 2).unwrap();
        let all: Vec<Draws> = segs
            .iter()
            .map(|s| draws(&plan.workload, plan.seed, 40, s))
            .collect();
        let parts = all
            .iter()
            .enumerate()
            .map(|(w, d)| Part::of(w, &record(d, 1_000_000 * (w as u64 + 1))))
            .collect();
        (plan, segs, all, parts)
    }

    #[test]
    fn parts_fill_the_plans_positions() {
        let (plan, segs, all, parts) = setup();
        let keys = crate::workload::KeyGen::new(&plan.workload, plan.seed).take(40);
        let inputs: Vec<Input<'_>> = (0..2)
            .map(|w| Input {
                segment: &segs[w],
                draws: &all[w],
                part: Some((&parts[w], -(1_000_000 * (w as i64 + 1)) + 5_000_000)),
            })
            .collect();
        let m = merge(&plan, keys, &inputs, 5_000_000);
        let h = &m.history;
        assert_eq!((h.published, m.unsent), (40, 0));
        for g in 0..40 {
            assert_eq!(h.outcome(g), Outcome::Ok, "message {g}");
            assert_eq!(h.ack_seq(g), 1000 + g as u64);
        }
        let mut ranks: Vec<u32> = (0..h.planned()).map(|i| h.wire_rank(i)).collect();
        ranks.sort_unstable();
        assert_eq!(
            ranks,
            (0..40).collect::<Vec<u32>>(),
            "ranks renumbered, none twice"
        );
        let mut done: Vec<u32> = h.completion.iter().collect();
        done.sort_unstable();
        assert_eq!(done, (0..40).collect::<Vec<u32>>());
        assert_eq!(m.rec.publish_ack.total.len(), 40, "histograms added");
        let acked: u64 = m.rec.timeline.acked.iter().sum();
        assert_eq!(acked, 40, "timelines merged");
    }

    #[test]
    fn a_lost_workers_messages_are_not_published() {
        let (plan, segs, all, parts) = setup();
        let keys = crate::workload::KeyGen::new(&plan.workload, plan.seed).take(40);
        let inputs = vec![
            Input {
                segment: &segs[0],
                draws: &all[0],
                part: Some((&parts[0], 0)),
            },
            Input {
                segment: &segs[1],
                draws: &all[1],
                part: None,
            },
        ];
        let m = merge(&plan, keys, &inputs, 0);
        let mark = *all[0].idx.last().unwrap() as u64 + 1;
        let theirs = all[1].idx.iter().filter(|&&g| (g as u64) < mark).count() as u64;
        assert_eq!((m.history.published, m.unsent), (mark, theirs));
        for &g in &all[1].idx {
            assert_eq!(m.history.outcome(g as usize), Outcome::NotSent);
        }
    }

    #[test]
    fn a_tag_maps_back_to_the_plans_index() {
        let (_, segs, all, _) = setup();
        let map = IndexMap::new(&segs, &all);
        for d in &all {
            for (j, (&g, &k)) in d.idx.iter().zip(&d.keys).enumerate() {
                assert_eq!(map.global(crate::workload::key_hash(k), j as u32), Some(g));
            }
        }
        assert_eq!(map.global(crate::workload::key_hash(99), 0), None);
    }
}
