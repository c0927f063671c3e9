//! Analysis: the checkers run over what a run measured — orders, safety, retries, the fault
//! windows, the consume side, counts, throughput, latency summaries. Pure: no file is written
//! and no clock or machine state is read here (even the CPU count comes in with the
//! measurements), so what a result says follows from what was recorded alone.

use std::collections::BTreeMap;
use std::time::Duration;

use super::streaming::StorageSide;
use super::Measured;
use crate::checker::{
    self, cluster, BatchFigures, ConsumeFigures, OrderFigures, PerMessage, Replies, RetryFigures,
    Safety,
};
use crate::consume::{ConsumeLog, Processed};
use crate::record::cluster::{ClusterRecord, NodeSample};
use crate::record::history::{FastFigures, History, Outcome, ReadBack, NONE};
use crate::record::observe::{LatencyLog, Recorder, LOG_INTERVAL};
use crate::result::{
    ClusterReport, ConsumeReport, ConsumeTimeline, Counts, FaultReport, LatencyKind,
    LatencySummary, Orders, Resources, ServerUsage, Throughput, TimelineReport,
};
use crate::scenario::{ConsumePlan, Mode, Plan};

/// Every figure of a run, ready for the report.
pub(super) struct Analysis {
    pub(super) orders: Orders,
    pub(super) safety: Option<Safety>,
    pub(super) counts: Counts,
    pub(super) throughput: Throughput,
    /// Keyed by [`LatencyKind::label`], as result.json has it.
    pub(super) latency_us: BTreeMap<String, LatencySummary>,
    pub(super) retry: Option<RetryFigures>,
    /// Batch mode: what happened to the atomic batches.
    pub(super) batches: Option<BatchFigures>,
    /// Fast mode: what the server said about the fast batches (counted by the publisher).
    pub(super) fast: Option<FastFigures>,
    pub(super) faults: Vec<FaultReport>,
    pub(super) consume: Option<ConsumeReport>,
    /// First send → first processing, per message; its interval log is written beside the rest.
    pub(super) end_to_end: Option<LatencyLog>,
    pub(super) replies: Replies,
    pub(super) cluster: Option<ClusterReport>,
    /// Things worth saying in `status_reason`.
    pub(super) notes: Vec<String>,
    /// A following run's `streaming` section.
    pub(super) streaming: Option<crate::result::StreamingReport>,
    /// What the measured phase cost the client and the server (the process's peak memory is
    /// added when the report is written).
    pub(super) resources: Resources,
}

/// Runs every checker over `m`.
pub(super) fn analyse(plan: &Plan, m: &Measured) -> Analysis {
    let h = &m.history;
    let StorageSide {
        rb,
        streamed,
        safety,
        per_msg,
        retry,
        streaming,
    } = super::streaming::storage_side(plan, m);
    let consume = m
        .consume
        .as_ref()
        .zip(plan.consume.as_ref())
        .map(|(log, cp)| consume_side(cp, log, h, rb, &m.rec, plan.observe.timeline_bucket));
    let owners = super::merge::key_owners(&m.workers, h.num_keys);
    let mut orders = orders(h, Storage::of(m, rb, streamed), owners.as_deref());
    let completion = completion_order(h, owners.as_deref());
    orders.ack_completion = completion.as_ref().ok().copied();
    if !wire_order_measured(plan) {
        orders.ack_wire = None;
    }
    let mut latency_us = latency_summaries(&m.rec);
    let mut end_to_end = None;
    let mut consume_report = None;
    if let Some(c) = consume {
        orders.consume = Some(c.order);
        if !c.end_to_end.total.is_empty() {
            latency_us.insert(
                LatencyKind::EndToEnd.label().to_string(),
                LatencySummary::from_ns(&c.end_to_end.total),
            );
            end_to_end = Some(c.end_to_end);
        }
        consume_report = Some(c.report);
    }
    let mut counts = counts(h, safety.as_ref(), m.consume.as_ref());
    // A lost worker's unsent messages were never handed to a client.
    counts.published -= m.unsent.min(counts.published);
    counts.in_flight -= m.unsent.min(counts.in_flight);
    let unknown = |why| format!("the ack completion order is not known: {why}");
    let mut notes: Vec<String> = completion.err().map(unknown).into_iter().collect();
    if let Some(n) = safety.as_ref().filter(|s| s.ack_seq_mismatches > 0) {
        notes.push(format!(
            "{} acks reported a stream sequence that differs from the read-back",
            n.ack_seq_mismatches
        ));
    }
    let (mut faults, fault_notes) = fault_windows(m, per_msg.as_ref());
    notes.splice(0..0, fault_notes);
    let cluster = m.cluster.as_ref().map(|c| cluster_report(c, m));
    if let Some(c) = &cluster {
        with_new_leaders(&mut faults, c);
    }
    let batches = plan
        .publish
        .batch_size
        .filter(|_| plan.publish.mode == Mode::Batch)
        .zip(rb)
        .map(|(size, rb)| checker::batch_figures(h, rb, size as u32));
    Analysis {
        batches,
        fast: h.fast,
        resources: resources(m, counts.published),
        replies: checker::replies(h),
        cluster,
        throughput: throughput(&m.rec, counts.acked),
        orders,
        safety,
        counts,
        latency_us,
        retry,
        faults,
        consume: consume_report,
        end_to_end,
        notes,
        streaming,
    }
}

/// Whether the run observes the order replies reach the sockets (else `order.ack_wire` is null,
/// never faked from another order):
/// - an adapter reports when the application saw each ack, not when its reply arrived;
/// - the lean path reads its connections' reply subscriptions in turn: across connections that
///   is the client's poll order, not the wire's (on one connection it is the socket's order).
fn wire_order_measured(plan: &Plan) -> bool {
    let lean_pool = plan.publish.api == crate::scenario::Api::Lean && plan.connections.count > 1;
    plan.client.is_in_process() && !lean_pool
}

/// jsbench's CPU per message and in cores, each server node's CPU and memory over the phase,
/// and which side was busy.
fn resources(m: &Measured, published: u64) -> Resources {
    let (names, samples) = match &m.cluster {
        Some(c) => (c.nodes.clone(), c.samples.clone()),
        None => m.server_samples.clone(),
    };
    let cores = |i: usize| m.server_cores.get(i).copied().flatten();
    let server: Vec<ServerUsage> = cluster::node_figures(&names, &samples)
        .into_iter()
        .zip(&samples)
        .enumerate()
        .filter(|(i, (_, s))| !s.is_empty() || cores(*i).is_some())
        .map(|(i, (f, s))| ServerUsage {
            node: f.node,
            cpu_cores: cores(i),
            cpu_mean: phase_cpu_mean(s),
            cpu_peak: f.cpu_peak,
            mem_peak_bytes: f.mem_peak_bytes,
            timeline: s.iter().map(|x| (x.at_ms, x.cpu, x.mem_bytes)).collect(),
        })
        .collect();
    let client = m.client.filter(|u| u.wall_ns > 0);
    let client_cores = client.map(|u| u.cpu_ns as f64 / u.wall_ns as f64);
    // Through an adapter the client side is two processes: jsbench and the adapter.
    let adapter_cores = m.adapter_cores;
    let client_side = client_cores.map(|c| c + adapter_cores.unwrap_or(0.0));
    // The processes' CPU time where every node has one; else the servers' own estimates.
    let server_cores = (!server.is_empty()).then(|| {
        match server.iter().map(|n| n.cpu_cores).sum::<Option<f64>>() {
            Some(exact) => exact,
            None => server.iter().map(|n| n.cpu_mean / 100.0).sum(),
        }
    });
    Resources {
        peak_rss_bytes: None,
        client_cpu_ns_per_msg: client
            .filter(|_| published > 0)
            .map(|u| u.cpu_ns as f64 / published as f64),
        client_cpu_cores: client_cores,
        adapter_cpu_ns_per_msg: adapter_cores
            .zip(client)
            .filter(|_| published > 0)
            .map(|(c, u)| c * u.wall_ns as f64 / published as f64),
        adapter_cpu_cores: adapter_cores,
        bound: client_side
            .zip(server_cores)
            .map(|(c, s)| checker::bound::bound(c, s, m.cpus)),
        server,
    }
}

/// A node's mean CPU over the phase. The server reports its CPU averaged over its own last
/// second, so the sample taken as the phase starts describes the second before it (warm-up,
/// set-up): left out when later samples exist.
fn phase_cpu_mean(s: &[NodeSample]) -> f64 {
    let during = if s.len() > 1 { &s[1..] } else { s };
    if during.is_empty() {
        return 0.0;
    }
    during.iter().map(|x| x.cpu).sum::<f64>() / during.len() as f64
}

fn order_figs(order: &[u32], h: &History) -> OrderFigures {
    checker::divergence(order, &h.keys, h.num_keys)
}

/// Where the storage order comes from.
enum Storage<'a> {
    /// A read-back (true: read by the follower while the run went on).
    ReadBack(&'a ReadBack, bool),
    /// The streaming checkers' figures.
    Streamed(OrderFigures),
    /// Neither: the order the acks' stream sequences imply.
    Acks,
}

impl<'a> Storage<'a> {
    fn of(
        m: &Measured,
        rb: Option<&'a ReadBack>,
        streamed: Option<&checker::StreamFigures>,
    ) -> Storage<'a> {
        match (rb, streamed) {
            (Some(rb), _) => Storage::ReadBack(rb, super::streaming::read_by_follower(m)),
            (None, Some(f)) => Storage::Streamed(f.storage),
            (None, None) => Storage::Acks,
        }
    }
}

/// The completion order's divergence: from the order in memory, or walked twice from its spool
/// (a followed run, `record/completion.rs`). An error when the spool could not be written or
/// read back whole.
fn completion_order(h: &History, owners: Option<&[u16]>) -> Result<OrderFigures, String> {
    if let Some(order) = h.completion.as_slice() {
        return Ok(match owners {
            Some(o) => super::merge::per_publisher(order, h, o),
            None => checker::divergence(order, &h.keys, h.num_keys),
        });
    }
    if let Some(e) = h.completion.error() {
        return Err(e.to_string());
    }
    let (mut first, mut again) = (h.completion.iter(), h.completion.iter());
    let f = checker::divergence_walked(&mut first, &mut again, &h.keys, h.num_keys);
    match first.read_error.or(again.read_error) {
        Some(e) => Err(e),
        None => f.map_err(|e| e.to_string()),
    }
}

/// Each fault window's time from its start to a new stream leader, from the leader timeline.
fn with_new_leaders(faults: &mut [FaultReport], c: &ClusterReport) {
    for f in faults {
        let before = f.window.leader_before.as_deref();
        f.new_leader_ms = cluster::new_leader_ms(&c.leaders, f.window.start_ms, before);
    }
}

/// The ack orders, and the storage order from the read-back when it is whole (else from the
/// acks, and it says so). With `owners` (a distributed run: key → worker) each order is judged
/// per publisher (`merge::per_publisher`). The ack orders by wire rank and by stream sequence are
/// judged from those ranks (`checker::divergence_by_rank`: about 1 bit per message, no order
/// built); the others, and those when ranks repeat, are built one at a time in one buffer (4 B
/// per message) and judged in bits per message.
fn orders(h: &History, storage: Storage<'_>, owners: Option<&[u16]>) -> Orders {
    let figs = |order: &[u32]| match owners {
        Some(o) => super::merge::per_publisher(order, h, o),
        None => checker::divergence(order, &h.keys, h.num_keys),
    };
    let mut buf = Vec::new();
    // Ordered by a rank each message has: judged from the ranks, without building the order,
    // unless ranks repeat or the run is judged per publisher (then sorted into `buf`).
    let mut ranked = |rank: &dyn Fn(usize) -> Option<u64>, build: &dyn Fn(&mut Vec<u32>)| {
        let n = h.published as usize;
        match owners
            .is_none()
            .then(|| checker::divergence_by_rank(n, rank, &h.keys, h.num_keys))
        {
            Some(Some(f)) => f,
            _ => {
                build(&mut buf);
                figs(&buf)
            }
        }
    };
    let from_acks = ranked(
        &|i| (h.outcome(i) == Outcome::Ok).then(|| h.ack_seq(i)),
        &|b| h.ack_storage_order_into(b),
    );
    let ack_wire = ranked(
        &|i| Some(h.wire_rank(i)).filter(|&r| r != NONE).map(u64::from),
        &|b| h.wire_order_into(b),
    );
    let (storage, source) = match storage {
        Storage::ReadBack(rb, false) => (figs(&rb.order), "read_back"),
        Storage::ReadBack(rb, true) => (figs(&rb.order), "follower"),
        Storage::Streamed(f) => (f, "follower"),
        Storage::Acks => (from_acks, "acks"),
    };
    // Publish order itself when nothing moved a message: its ranks are the indexes.
    let publish = if h.sent_in_publish_order() {
        Some(ranked(
            &|i| (h.attempts(i) >= 1).then_some(i as u64),
            &|b| {
                h.sent_order_into(b);
            },
        ))
    } else {
        h.sent_order_into(&mut buf).then(|| figs(&buf))
    };
    drop(buf);
    Orders {
        publish,
        ack_wire: Some(ack_wire),
        ack_completion: None,
        storage: Some(storage),
        consume: None,
        storage_source: source.to_string(),
        storage_from_acks: Some(from_acks),
    }
}

/// Each fault window with the figures before / during / after it (when send times were kept),
/// and notes on the nemesis's own troubles.
fn fault_windows(m: &Measured, per_msg: Option<&PerMessage>) -> (Vec<FaultReport>, Vec<String>) {
    let h = &m.history;
    let mut notes: Vec<String> = m.nemesis.notes.clone();
    let mut faults = Vec::new();
    for w in &m.nemesis.windows {
        if let Some(e) = &w.error {
            notes.push(format!("fault {} #{}: {e}", w.name, w.occurrence));
        }
        let split = h.is_timed().then(|| {
            let at = |ms: f64| m.nemesis_origin_ns + (ms * 1e6) as u64;
            checker::split_by_window(
                h,
                per_msg,
                (m.rec.started_ns, m.rec.ended_ns),
                (at(w.start_ms), at(w.end_ms)),
            )
        });
        faults.push(FaultReport {
            window: w.clone(),
            new_leader_ms: None,
            split,
        });
    }
    (faults, notes)
}

/// The leader timeline, how long publishing found no leader to ack, each node's figures and
/// the replicas' agreement.
fn cluster_report(c: &ClusterRecord, m: &Measured) -> ClusterReport {
    let tl = &m.rec.timeline;
    let unavailable = cluster::unavailability(
        &m.history,
        (m.rec.started_ns, m.rec.ended_ns),
        tl.bucket_ns as f64 / 1e6,
        &tl.acked,
    );
    let leaders_seen: Vec<&String> = c.leaders.iter().filter_map(|l| l.leader.as_ref()).collect();
    let leader_changes = leaders_seen.windows(2).filter(|w| w[0] != w[1]).count();
    let elections = c
        .leaders
        .iter()
        .filter(|l| l.seen_by == "advisory" && l.at_ms >= 0.0)
        .count();
    ClusterReport {
        nodes: c.nodes.clone(),
        primaries: c.primaries.clone(),
        leader_at_start: c.leader_at_start.clone(),
        leaders: c.leaders.clone(),
        leader_changes,
        elections,
        unavailable,
        node_figures: cluster::node_figures(&c.nodes, &c.samples),
        replicas: c.replicas.clone(),
    }
}

fn counts(h: &History, safety: Option<&Safety>, consume: Option<&ConsumeLog>) -> Counts {
    let oc = h.outcome_counts();
    Counts {
        published: h.published,
        acked: oc.ok + oc.duplicate_acks,
        duplicate_acks: oc.duplicate_acks,
        failed: oc.failed,
        unknown: oc.unknown,
        in_flight: oc.in_flight,
        in_process: oc.in_process,
        rejected: oc.rejected,
        unresolved: oc.unresolved,
        stored: safety.map(|s| s.stored),
        lost: safety.map(|s| s.lost),
        duplicates: safety.map(|s| s.duplicates),
        unexpected: safety.map(|s| s.unexpected),
        recovered: safety.map(|s| s.unknown_stored),
        redelivered: consume.map(|c| c.redeliveries),
    }
}

/// Acked msgs/s from the first send to the last ack, and the per-bucket timeline.
fn throughput(rec: &Recorder, acked: u64) -> Throughput {
    let duration_s = rec.ended_ns.saturating_sub(rec.started_ns) as f64 / 1e9;
    Throughput {
        msgs_per_sec: if duration_s > 0.0 {
            acked as f64 / duration_s
        } else {
            0.0
        },
        duration_s,
        timeline: TimelineReport {
            bucket_ms: rec.timeline.bucket_ns as f64 / 1e6,
            acked: rec.timeline.acked.clone(),
            published: rec.timeline.published.clone(),
        },
    }
}

/// The latency logs the publisher kept (`latency_us` entries, `latency-<label>.hlog` files).
pub(super) fn latency_logs(rec: &Recorder) -> Vec<(LatencyKind, &LatencyLog)> {
    let mut logs = vec![
        (LatencyKind::PublishAck, &rec.publish_ack),
        (LatencyKind::PublishCall, &rec.publish_call),
    ];
    if let Some(h) = &rec.send_delay {
        logs.push((LatencyKind::SendDelay, h));
    }
    if let Some(h) = &rec.intended_ack {
        logs.push((LatencyKind::IntendedAck, h));
    }
    logs
}

fn latency_summaries(rec: &Recorder) -> BTreeMap<String, LatencySummary> {
    latency_logs(rec)
        .into_iter()
        .map(|(kind, log)| {
            (
                kind.label().to_string(),
                LatencySummary::from_ns(&log.total),
            )
        })
        .collect()
}

/// What the consume side did, judged.
struct ConsumeSide {
    order: OrderFigures,
    report: ConsumeReport,
    end_to_end: LatencyLog,
}

/// The consume order (first successful processings), its figures, and end-to-end latency.
fn consume_side(
    cp: &ConsumePlan,
    log: &ConsumeLog,
    h: &History,
    rb: Option<&ReadBack>,
    rec: &Recorder,
    bucket: Duration,
) -> ConsumeSide {
    let (order, delivered) = checker::consume_order(&log.processed);
    let figures = checker::consume_figures(log, &order, &delivered, &h.keys, h.num_keys, rb);
    ConsumeSide {
        order: order_figs(&order, h),
        report: consume_report(cp, log, figures, rec, bucket),
        end_to_end: end_to_end(log, h, rec.started_ns),
    }
}

/// Each message's first successful processing, in finish order (indexes are dense: a bitmap).
fn first_processings(log: &ConsumeLog) -> impl Iterator<Item = &Processed> {
    let len = log
        .processed
        .iter()
        .map(|p| p.idx as usize + 1)
        .max()
        .unwrap_or(0);
    let mut seen = vec![false; len];
    log.processed.iter().filter(move |p| {
        let s = &mut seen[p.idx as usize];
        !std::mem::replace(s, true)
    })
}

/// End-to-end latency: first send of a message → its first successful processing, recorded by
/// processing time (so the interval log shows how it grew with the backlog).
fn end_to_end(log: &ConsumeLog, h: &History, origin_ns: u64) -> LatencyLog {
    let mut l = LatencyLog::new(LOG_INTERVAL);
    l.set_origin(origin_ns);
    for p in first_processings(log) {
        let Some(sent) = h.sent_at(p.idx as usize) else {
            continue;
        };
        if sent > 0 {
            l.record(p.at_ns, p.at_ns.saturating_sub(sent).max(1));
        }
    }
    l.finish();
    l
}

/// `consume` of result.json: figures, rate, and processed/backlog per timeline bucket.
fn consume_report(
    cp: &ConsumePlan,
    log: &ConsumeLog,
    figures: ConsumeFigures,
    rec: &Recorder,
    bucket: Duration,
) -> ConsumeReport {
    let bucket_ns = bucket.as_nanos().max(1) as u64;
    // First processings only: the backlog is what has not been processed yet.
    let firsts: Vec<u64> = first_processings(log).map(|p| p.at_ns).collect();
    let timeline = consume_timeline(&firsts, rec, bucket_ns);
    let span_ns = match (firsts.first(), firsts.last()) {
        (Some(a), Some(b)) if b > a => b - a,
        _ => 0,
    };
    let duration_s = span_ns as f64 / 1e9;
    let as_str = |v: serde_json::Value| v.as_str().unwrap_or_default().to_string();
    ConsumeReport {
        consumer: as_str(serde_json::json!(cp.consumer)),
        model: as_str(serde_json::json!(cp.model)),
        workers: cp.workers,
        when: as_str(serde_json::json!(cp.when)),
        figures,
        msgs_per_sec: if duration_s > 0.0 {
            firsts.len() as f64 / duration_s
        } else {
            0.0
        },
        duration_s,
        complete: log.complete,
        error: log.error.clone(),
        timeline,
    }
}

/// Processed per bucket and the backlog at each bucket's end (published minus processed).
fn consume_timeline(firsts: &[u64], rec: &Recorder, bucket_ns: u64) -> ConsumeTimeline {
    let mut processed: Vec<u64> = Vec::new();
    for &at in firsts {
        let i = (at.saturating_sub(rec.started_ns) / bucket_ns) as usize;
        if i >= processed.len() {
            processed.resize(i + 1, 0);
        }
        processed[i] += 1;
    }
    let published = &rec.timeline.published;
    let n = processed.len().max(published.len());
    let (mut pubs, mut done) = (0u64, 0u64);
    let mut backlog = Vec::with_capacity(n);
    for i in 0..n {
        pubs += published.get(i).copied().unwrap_or(0);
        done += processed.get(i).copied().unwrap_or(0);
        backlog.push(pubs.saturating_sub(done));
    }
    processed.resize(n, 0);
    ConsumeTimeline {
        bucket_ms: bucket_ns as f64 / 1e6,
        processed,
        backlog,
    }
}

#[cfg(test)]
#[path = "analysis_tests.rs"]
mod tests;
