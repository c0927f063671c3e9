//! Analysis: the checkers run over what a run measured — orders, safety, retries, the fault
//! windows, the consume side, counts, throughput, latency summaries. Pure: no file is written
//! and no clock or machine state is read here (even the CPU count comes in with the
//! measurements), so what a result says follows from what was recorded alone.

use std::collections::BTreeMap;
use std::time::Duration;

use super::Measured;
use crate::checker::{
    self, cluster, BatchFigures, ConsumeFigures, OrderFigures, PerMessage, Replies, RetryFigures,
    Safety,
};
use crate::consume::{ConsumeLog, Processed};
use crate::record::cluster::{ClusterRecord, NodeSample};
use crate::record::history::{FastFigures, History, ReadBack};
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
    let rb = m.read_back.as_ref().filter(|rb| rb.complete);
    // The streaming checkers' figures stand in for a read-back only when there is none.
    let streamed = m
        .streaming
        .as_ref()
        .and_then(|s| s.figures.as_ref())
        .filter(|_| rb.is_none());
    let safety = rb
        .map(|rb| checker::safety(h, rb))
        .or_else(|| streamed.map(|f| f.safety.clone()));
    let per_msg = rb.map(|rb| checker::per_message(h, rb));
    let retry = (plan.publish.retry.attempts > 1 || h.retried() > 0).then(|| {
        let r = checker::retry_figures(h, rb.zip(per_msg.as_ref()));
        streamed.map_or(r, |f| super::streaming::with_stored_retries(r, f))
    });
    let streaming = m.streaming.as_ref().map(|s| {
        let end_of_run = rb.zip(per_msg.as_ref()).map(|(rb, pm)| (h, rb, pm));
        super::streaming::report(s, end_of_run)
    });
    let consume = m
        .consume
        .as_ref()
        .zip(plan.consume.as_ref())
        .map(|(log, cp)| consume_side(cp, log, h, rb, &m.rec, plan.observe.timeline_bucket));
    let owners = super::merge::key_owners(&m.workers, h.num_keys);
    let storage = match (rb, streamed) {
        (Some(rb), _) => Storage::ReadBack(rb, super::streaming::read_by_follower(m)),
        (None, Some(f)) => Storage::Streamed(f.storage),
        (None, None) => Storage::Acks,
    };
    let mut orders = orders(h, storage, owners.as_deref());
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
    let mut notes = Vec::new();
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
        for f in &mut faults {
            let before = f.window.leader_before.as_deref();
            f.new_leader_ms = cluster::new_leader_ms(&c.leaders, f.window.start_ms, before);
        }
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

/// The ack orders, and the storage order from the read-back when it is whole (else from the
/// acks, and it says so). With `owners` (a distributed run: key → worker) each order is judged
/// per publisher (`merge::per_publisher`). The orders are built one at a time in one buffer and
/// judged in one [`checker::DivergenceScratch`]: their working memory is that of one order.
/// Where the storage order comes from.
enum Storage<'a> {
    /// A read-back (true: read by the follower while the run went on).
    ReadBack(&'a ReadBack, bool),
    /// The streaming checkers' figures.
    Streamed(OrderFigures),
    /// Neither: the order the acks' stream sequences imply.
    Acks,
}

fn orders(h: &History, storage: Storage<'_>, owners: Option<&[u16]>) -> Orders {
    let mut scratch = checker::DivergenceScratch::default();
    let mut figs = |order: &[u32]| match owners {
        Some(o) => super::merge::per_publisher(order, h, o),
        None => checker::divergence_in(order, &h.keys, h.num_keys, &mut scratch),
    };
    let mut buf = Vec::new();
    h.ack_storage_order_into(&mut buf);
    let from_acks = figs(&buf);
    let (storage, source) = match storage {
        Storage::ReadBack(rb, false) => (figs(&rb.order), "read_back"),
        Storage::ReadBack(rb, true) => (figs(&rb.order), "follower"),
        Storage::Streamed(f) => (f, "follower"),
        Storage::Acks => (from_acks, "acks"),
    };
    let publish = h.sent_order_into(&mut buf).then(|| figs(&buf));
    h.wire_order_into(&mut buf);
    let ack_wire = figs(&buf);
    drop(buf);
    Orders {
        publish,
        ack_wire: Some(ack_wire),
        ack_completion: Some(figs(&h.completion)),
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
        let Some(&sent) = h.first_send_ns.get(p.idx as usize) else {
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
mod tests {
    use super::*;
    use crate::checker::testkit::{clean_history, retried_history};
    use crate::client::Stop;
    use crate::consume::ConsumeLog;
    use crate::nemesis::{FaultKind, FaultWindow, NemesisLog};
    use crate::record::history::Outcome;
    use crate::record::usage::Usage;
    use crate::scenario::{parse, Overrides};

    const MS: u64 = 1_000_000;
    /// The phase starts at 1000 ms on the run clock, as in `checker::testkit`.
    const START: u64 = 1000 * MS;

    /// A plan of `messages` messages, with more TOML after its `[workload]` table.
    fn plan(messages: u32, more: &str) -> Plan {
        let text = format!("name = \"t\"\n[workload]\nmessages = {messages}\n{more}");
        parse(&text, "t.toml", &Overrides::default()).expect("a valid scenario")
    }

    /// What the publisher would have recorded for `h`: one send per published message, and
    /// publish → ack and publish call (both the ack latency, as in sync mode) per acked one; the
    /// phase ends at the last ack. Open loop also keeps send delay (1 ms) and intended → ack.
    fn recorder(plan: &Plan, h: &History, open_loop: bool) -> Recorder {
        let mut rec = Recorder::new(open_loop, plan.observe.timeline_bucket, None);
        rec.start_at(START);
        // An untimed history keeps no send or ack times: then only the phase start is known.
        let at = |times: &[u64], i: usize| times.get(i).copied().unwrap_or(0);
        for i in 0..h.published as usize {
            let sent = at(&h.first_send_ns, i);
            rec.timeline.publish(sent);
            if let Some(l) = rec.send_delay.as_mut() {
                l.record(sent, MS);
            }
            let acked = at(&h.ack_ns, i);
            if acked == 0 || !h.outcome(i).is_acked() {
                continue;
            }
            rec.timeline.ack(acked);
            rec.publish_ack.record(acked, acked - sent);
            rec.publish_call.record(acked, acked - sent);
            if let Some(l) = rec.intended_ack.as_mut() {
                l.record(acked, acked - sent + MS);
            }
            rec.ended_ns = rec.ended_ns.max(acked);
        }
        rec.finish();
        rec
    }

    fn measured(plan: &Plan, h: History, read_back: Option<ReadBack>) -> Measured {
        let rec = recorder(plan, &h, false);
        Measured {
            disk_survey: None,
            history: h,
            rec,
            stop: Stop::Done,
            read_back,
            read_back_check: None,
            read_back_note: None,
            streaming: None,
            nemesis: NemesisLog::default(),
            nemesis_origin_ns: START,
            consume: None,
            cluster: None,
            client: None,
            server_samples: Default::default(),
            server_cores: Vec::new(),
            adapter_cores: None,
            cpus: 2,
            workers: Vec::new(),
            unsent: 0,
        }
    }

    fn keys(a: &Analysis) -> Vec<&str> {
        a.latency_us.keys().map(String::as_str).collect()
    }

    #[test]
    fn a_clean_run_is_counted_timed_and_in_order() {
        let p = plan(4, "[observe]\ntimeline_bucket = \"10ms\"\n");
        let (h, rb) = clean_history();
        let a = analyse(&p, &measured(&p, h, Some(rb)));
        let c = &a.counts;
        assert_eq!(
            (c.published, c.acked, c.failed, c.unknown, c.in_flight),
            (4, 4, 0, 0, 0)
        );
        assert_eq!(
            (c.stored, c.lost, c.duplicates),
            (Some(4), Some(0), Some(0))
        );
        assert_eq!(
            (c.unexpected, c.recovered, c.redelivered),
            (Some(0), Some(0), None)
        );
        let safety = a.safety.clone().expect("a complete read-back is judged");
        assert_eq!(safety.ack_seq_mismatches, 0);
        assert_eq!(a.orders.storage_source, "read_back");
        for o in [
            &a.orders.publish,
            &a.orders.ack_wire,
            &a.orders.ack_completion,
            &a.orders.storage,
            &a.orders.storage_from_acks,
        ] {
            let o = o.as_ref().expect("every order of a timed history");
            assert_eq!((o.messages, o.late, o.late_per_key, o.keys), (4, 0, 0, 2));
        }
        assert!(a.orders.consume.is_none());
        // Sends at 0, 10, 20, 30 ms, acks 5 ms later: one of each per 10 ms bucket, and four
        // acks over the 35 ms from the first send to the last ack.
        assert_eq!(a.throughput.timeline.published, vec![1, 1, 1, 1]);
        assert_eq!(a.throughput.timeline.acked, vec![1, 1, 1, 1]);
        assert_eq!(a.throughput.timeline.bucket_ms, 10.0);
        assert!((a.throughput.duration_s - 0.035).abs() < 1e-9);
        assert!((a.throughput.msgs_per_sec - 4.0 / 0.035).abs() < 1e-6);
        // Closed loop: the two latencies the publisher keeps, 5 ms each.
        assert_eq!(keys(&a), ["publish_ack", "publish_call"]);
        let ack = &a.latency_us["publish_ack"];
        assert_eq!(ack.count, 4);
        assert!((ack.p50 - 5000.0).abs() < 10.0 && (ack.max - 5000.0).abs() < 10.0);
        // Nothing else happened, so nothing else is reported.
        assert!(a.retry.is_none() && a.batches.is_none() && a.fast.is_none());
        assert!(a.consume.is_none() && a.end_to_end.is_none() && a.cluster.is_none());
        assert!(a.faults.is_empty() && a.notes.is_empty(), "{:?}", a.notes);
    }

    #[test]
    fn an_empty_run_measures_nothing_and_does_not_panic() {
        let p = plan(4, "");
        let empty = || History::new(Vec::new(), 4).timed();
        let a = analyse(&p, &measured(&p, empty(), None));
        let c = &a.counts;
        assert_eq!((c.published, c.acked, c.in_flight), (0, 0, 0));
        assert_eq!((c.stored, c.lost), (None, None));
        assert_eq!(
            (a.throughput.msgs_per_sec, a.throughput.duration_s),
            (0.0, 0.0)
        );
        assert!(a.latency_us.values().all(|l| l.count == 0));
        assert!(a.safety.is_none());
        assert_eq!(a.orders.storage_source, "acks");
        assert_eq!(a.orders.storage.map(|o| o.messages), Some(0));
        assert!(a.retry.is_none() && a.notes.is_empty());
        // An empty stream read back whole: nothing stored, nothing lost.
        let rb = ReadBack {
            order: vec![],
            seqs: vec![],
            attempts: vec![],
            unexpected: 0,
            complete: true,
        };
        let a = analyse(&p, &measured(&p, empty(), Some(rb)));
        assert_eq!((a.counts.stored, a.counts.lost), (Some(0), Some(0)));
        assert_eq!(a.orders.storage_source, "read_back");
    }

    #[test]
    fn retries_are_figured_and_an_ack_naming_another_copy_is_noted() {
        // The plan does not retry, but the history did: the figures are still reported.
        let p = plan(5, "");
        let (h, rb) = retried_history();
        let a = analyse(&p, &measured(&p, h, Some(rb)));
        let r = a.retry.expect("a history with retries");
        assert_eq!((r.retried, r.extra_attempts), (2, 2));
        assert_eq!(r.stored_from_retries, Some(2));
        assert_eq!((r.retry_reorders, r.keys_affected), (Some(1), Some(1)));
        let c = &a.counts;
        assert_eq!((c.published, c.acked, c.unknown), (5, 5, 0));
        assert_eq!(
            (c.stored, c.lost, c.duplicates),
            (Some(5), Some(0), Some(1))
        );
        // Message 2's retry is stored after message 4 of its key; it was sent in order.
        let storage = a.orders.storage.unwrap();
        assert_eq!(
            (storage.late, storage.late_per_key, storage.keys_affected),
            (1, 1, 1)
        );
        assert_eq!(a.orders.publish.unwrap().late, 0);
        // Message 2's ack names sequence 6, where message 1's second copy sits.
        assert_eq!(a.safety.unwrap().ack_seq_mismatches, 1);
        assert_eq!(
            a.notes,
            ["1 acks reported a stream sequence that differs from the read-back"]
        );
        // A plan that retries reports its retry figures even when nothing was retried.
        let p = plan(4, "[publish.retry]\nattempts = 3\n");
        let (h, rb) = clean_history();
        let r = analyse(&p, &measured(&p, h, Some(rb)))
            .retry
            .expect("the plan retries");
        assert_eq!((r.retried, r.stored_from_retries), (0, Some(0)));
    }

    fn window(error: Option<&str>) -> FaultWindow {
        FaultWindow {
            name: "pause".into(),
            kind: FaultKind::Pause,
            occurrence: 1,
            target: "server".into(),
            detail: String::new(),
            start_ms: 15.0,
            end_ms: 35.0,
            truncated: false,
            error: error.map(String::from),
            nodes: Vec::new(),
            leader_before: None,
            leader_after: None,
            disk: Vec::new(),
        }
    }

    #[test]
    fn fault_windows_are_split_and_the_nemesis_troubles_noted_first() {
        let p = plan(5, "");
        let (h, rb) = retried_history();
        let mut m = measured(&p, h, Some(rb));
        m.nemesis.windows = vec![window(Some("proxy gone"))];
        m.nemesis.notes = vec!["occurrence 2 of pause never started".into()];
        let a = analyse(&p, &m);
        assert_eq!(a.faults.len(), 1);
        let f = &a.faults[0];
        assert_eq!(f.window, window(Some("proxy gone")));
        assert_eq!(f.new_leader_ms, None, "no cluster, no leader");
        let split = f.split.as_ref().expect("a timed history is split");
        let published = |s: &crate::checker::Segment| s.published;
        assert_eq!(
            (
                published(&split.before),
                published(&split.during),
                published(&split.after)
            ),
            (2, 2, 1)
        );
        assert_eq!(split.recover_ms, Some(1.0));
        assert_eq!(
            a.notes,
            [
                "occurrence 2 of pause never started",
                "fault pause #1: proxy gone",
                "1 acks reported a stream sequence that differs from the read-back",
            ]
        );
        // Without send times there is nothing to split by.
        let (mut untimed, rb) = retried_history();
        untimed.first_send_ns.clear();
        untimed.ack_ns.clear();
        let mut m = measured(&p, untimed, Some(rb));
        m.nemesis.windows = vec![window(None)];
        let a = analyse(&p, &m);
        assert!(a.faults[0].split.is_none());
    }

    #[test]
    fn an_incomplete_run_judges_storage_from_the_acks() {
        // Four planned, three acked; message 3 was sent and its ack never came; the read-back
        // stopped early.
        let p = plan(4, "");
        let mut h = History::new(vec![0, 1, 0, 1], 2).timed();
        h.published = 4;
        for i in 0..4u32 {
            let sent = START + i as u64 * 10 * MS;
            h.record_send(i, 1, sent);
            if i < 3 {
                h.record_ack(i, i as u64 + 1, false, i);
                h.record_ack_time(i, sent + 5 * MS);
            }
        }
        h.set_outcome(3, Outcome::InFlight);
        let rb = ReadBack {
            order: vec![0, 1],
            seqs: vec![1, 2],
            attempts: vec![1, 1],
            unexpected: 0,
            complete: false,
        };
        let a = analyse(&p, &measured(&p, h, Some(rb)));
        let c = &a.counts;
        assert_eq!((c.published, c.acked, c.in_flight), (4, 3, 1));
        // An incomplete read-back is not evidence of loss: no safety figures at all.
        assert!(a.safety.is_none());
        assert_eq!((c.stored, c.lost, c.duplicates), (None, None, None));
        assert_eq!(a.orders.storage_source, "acks");
        assert_eq!(a.orders.storage.unwrap().messages, 3);
        assert_eq!(a.orders.publish.unwrap().messages, 4);
        assert_eq!(a.latency_us["publish_ack"].count, 3);
        assert!((a.throughput.msgs_per_sec - 3.0 / 0.025).abs() < 1e-6);
    }

    #[test]
    fn open_loop_keeps_four_latency_logs() {
        let p = plan(4, "");
        let (h, _) = clean_history();
        let rec = recorder(&p, &h, true);
        let kinds: Vec<LatencyKind> = latency_logs(&rec).into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            kinds,
            [
                LatencyKind::PublishAck,
                LatencyKind::PublishCall,
                LatencyKind::SendDelay,
                LatencyKind::IntendedAck
            ]
        );
        let mut m = measured(&p, h, None);
        m.rec = rec;
        let a = analyse(&p, &m);
        assert_eq!(
            keys(&a),
            ["intended_ack", "publish_ack", "publish_call", "send_delay"]
        );
        assert!((a.latency_us["send_delay"].p50 - 1000.0).abs() < 2.0);
        assert!((a.latency_us["intended_ack"].p50 - 6000.0).abs() < 10.0);
    }

    #[test]
    fn the_consume_side_gets_its_order_backlog_and_end_to_end_latency() {
        let p = plan(
            4,
            "[observe]\ntimeline_bucket = \"10ms\"\n\
             [consume]\nconsumer = \"durable\"\nwhen = \"concurrent\"\nmodel = \"keyed\"\n\
             workers = 2\nprocessing = \"1ms\"\n",
        );
        let (h, rb) = clean_history();
        let done = |idx: u32, at_ms: u64, delivered: u32| crate::consume::Processed {
            idx,
            at_ns: START + at_ms * MS,
            delivered,
            worker: (idx % 2) as u16,
        };
        let mut m = measured(&p, h, Some(rb));
        m.consume = Some(ConsumeLog {
            // Message 1 (key 1) is processed after message 2 (key 0): late, but not within its
            // key. Message 3 is processed twice; only its first processing counts.
            processed: vec![
                done(0, 10, 1),
                done(2, 30, 1),
                done(1, 31, 1),
                done(3, 45, 1),
                done(3, 47, 2),
            ],
            deliveries: 5,
            redeliveries: 1,
            complete: true,
            ..Default::default()
        });
        let a = analyse(&p, &m);
        let order = a.orders.consume.expect("a consume order");
        assert_eq!((order.messages, order.late, order.late_per_key), (4, 1, 0));
        assert_eq!(a.counts.redelivered, Some(1));
        // First send → first processing: messages 0 and 2 after 10 ms, 1 after 21, 3 after 15.
        let e2e = &a.latency_us["end_to_end"];
        assert_eq!(e2e.count, 4);
        assert!((e2e.max - 21_000.0).abs() < 25.0, "{e2e:?}");
        assert!((e2e.p50 - 10_000.0).abs() < 10.0, "{e2e:?}");
        assert_eq!(a.end_to_end.as_ref().map(|l| l.total.len()), Some(4));
        let r = a.consume.expect("a consume report");
        assert_eq!(
            (r.consumer.as_str(), r.model.as_str()),
            ("durable", "keyed")
        );
        assert_eq!((r.when.as_str(), r.workers), ("concurrent", 2));
        assert_eq!(r.figures.processed, 4);
        assert!(r.complete);
        assert!((r.duration_s - 0.035).abs() < 1e-9);
        assert!((r.msgs_per_sec - 4.0 / 0.035).abs() < 1e-6);
        // Per 10 ms: published 1, 1, 1, 1; first processed at 10, 30, 31, 45 ms.
        assert_eq!(r.timeline.processed, vec![0, 1, 0, 2, 1]);
        assert_eq!(r.timeline.backlog, vec![1, 1, 2, 1, 0]);
    }

    #[test]
    fn batch_mode_judges_its_batches() {
        let p = plan(4, "[publish]\nmode = \"batch\"\nbatch_size = 2\n");
        let (h, rb) = clean_history();
        let b = analyse(&p, &measured(&p, h, Some(rb)))
            .batches
            .expect("batch mode with a read-back");
        assert_eq!((b.size, b.batches, b.stored_whole, b.partial), (2, 2, 2, 0));
        // Without a complete read-back there is nothing to judge them by.
        let (h, _) = clean_history();
        assert!(analyse(&p, &measured(&p, h, None)).batches.is_none());
    }

    #[test]
    fn resources_come_from_what_was_measured_including_the_cpu_count() {
        let p = plan(4, "");
        let sample = |at_ms: f64, cpu: f64| NodeSample {
            at_ms,
            cpu,
            mem_bytes: 1 << 20,
            ..Default::default()
        };
        let with = |cores: Option<f64>, cpus: usize| {
            let (h, rb) = clean_history();
            let mut m = measured(&p, h, Some(rb));
            m.client = Some(Usage {
                cpu_ns: 20 * MS,
                wall_ns: 40 * MS,
            });
            // The first sample describes the second before the phase: left out of the mean.
            m.server_samples = (
                vec!["n0".into()],
                vec![vec![
                    sample(0.0, 90.0),
                    sample(1000.0, 30.0),
                    sample(2000.0, 50.0),
                ]],
            );
            m.server_cores = vec![cores];
            m.cpus = cpus;
            analyse(&p, &m).resources
        };
        let r = with(None, 2);
        assert_eq!(r.client_cpu_cores, Some(0.5));
        assert_eq!(r.client_cpu_ns_per_msg, Some(5_000_000.0));
        assert_eq!(r.server.len(), 1);
        let n0 = &r.server[0];
        assert_eq!(
            (n0.node.as_str(), n0.cpu_mean, n0.cpu_peak),
            ("n0", 40.0, 90.0)
        );
        assert_eq!(n0.timeline.len(), 3);
        assert_eq!(r.peak_rss_bytes, None, "added when the report is written");
        // 0.5 + 0.4 cores: on 2 CPUs neither side is busy; on 1 the machine is full.
        use crate::checker::bound::Bound;
        assert_eq!(r.bound, Some(Bound::Neither));
        assert_eq!(with(None, 1).bound, Some(Bound::Machine));
        // A process's own CPU time, when known, replaces the server's estimate.
        assert_eq!(with(Some(1.2), 2).bound, Some(Bound::Machine));
        assert_eq!(with(Some(1.2), 2).server[0].cpu_cores, Some(1.2));
    }
}
