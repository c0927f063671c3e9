//! The analysis over small histories: each checker's figures land where the report reads them.

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
    for i in 0..h.published as usize {
        let sent = h.sent_at(i).unwrap_or(0);
        rec.timeline.publish(sent);
        if let Some(l) = rec.send_delay.as_mut() {
            l.record(sent, MS);
        }
        let acked = h.acked_at(i).unwrap_or(0);
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
    untimed.untimed();
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
