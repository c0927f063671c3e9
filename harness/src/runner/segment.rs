//! One worker's segment of a plan (`jsbench worker`, issue 25): its own connections to the
//! system under test, its warm-up and measured phase through the one [`Publisher`] every run
//! uses, and what it measured ([`SegmentRecord`]). No stream, server or read-back here: those
//! belong to the coordinator (`crate::coord`).
//!
//! The publisher is handed a history of the worker's own messages only (`split::draws`), so
//! it numbers them locally; the coordinator maps them back to the plan's (see `split/mod.rs`).

use std::time::Instant;

use async_nats::jetstream;

use crate::cancel::Cancel;
use crate::client::pool::{Pool, Router};
use crate::client::{Limit, Publisher, Stop};
use crate::record::history::History;
use crate::record::observe::{Clock, Recorder, WireTap};
use crate::record::usage::{Span, Usage};
use crate::scenario::{Amount, ConnectionsPlan, Plan, Rate, Strategy, Warmup};
use crate::split::{draws, Segment};
use crate::workload::{key_name, warmup_seed, KeyGen, Pacer, Subjects};

/// What a worker measured in its measured phase, on its own clock.
pub struct SegmentRecord {
    /// Its own messages, numbered locally (`split::Draws` maps them to the plan's).
    pub history: History,
    pub rec: Recorder,
    pub stop: Stop,
    /// This process's CPU and wall time while publishing.
    pub client: Option<Usage>,
}

/// A worker's connections: its block of the plan's connections, and how messages map to them.
pub struct SegmentRig {
    pool: Pool,
    /// Indexed as the router answers: the block (round robin, single), or every plan index
    /// (key affine; indexes outside the block are never routed to and hold a clone).
    contexts: Vec<jetstream::Context>,
    router: Router,
    subjects: Subjects,
}

impl SegmentRig {
    /// Connects the segment's connections to `seeds` (every connection gets every seed, as in
    /// a single-process run without proxies).
    pub async fn open(
        plan: &Plan,
        seg: &Segment,
        seeds: &[String],
        options: async_nats::ConnectOptions,
        run_id: &str,
    ) -> Result<SegmentRig, String> {
        let n = seg.connections.len();
        let urls = vec![seeds.to_vec()];
        let name = format!("{}-w{}", plan.name, seg.worker);
        let pool = Pool::connect(
            &urls,
            || options.clone(),
            n,
            &name,
            plan.publish.ack_timeout,
            plan.publish.max_in_flight,
            10,
        )
        .await
        .map_err(|e| format!("cannot connect to {}: {e}", seeds.join(", ")))?;
        let keys = plan.workload.keys;
        let (contexts, router) = match seg.strategy {
            Strategy::KeyAffine => {
                let contexts = (0..seg.pool)
                    .map(|c| {
                        let local = c.checked_sub(seg.connections.start).filter(|&l| l < n);
                        pool.contexts[local.unwrap_or(0)].clone()
                    })
                    .collect();
                (contexts, Router::new(&plan.connections, keys))
            }
            Strategy::RoundRobin | Strategy::Single => {
                let block = ConnectionsPlan {
                    count: n,
                    ..plan.connections.clone()
                };
                (pool.contexts.clone(), Router::new(&block, keys))
            }
        };
        Ok(SegmentRig {
            pool,
            contexts,
            router,
            subjects: Subjects::new(run_id, keys),
        })
    }

    /// Flushes and closes the connections.
    pub async fn close(self) {
        self.pool.close().await;
    }

    /// Warm-up (its own messages of the plan's warm-up), then waits until `start`, then the
    /// measured phase: every message of the segment, paced at the segment's rate.
    pub async fn publish(
        &self,
        plan: &Plan,
        seg: &Segment,
        run_id: &str,
        clock: Clock,
        cancel: &Cancel,
        start: Instant,
    ) -> SegmentRecord {
        let w = &plan.workload;
        let key_names: Vec<String> = (0..w.keys).map(key_name).collect();
        let rate = match w.rate {
            Rate::Max => Rate::Max,
            Rate::PerSec(r) => Rate::PerSec(((r as f64 * seg.share).round() as u64).max(1)),
        };
        let publisher = Publisher {
            contexts: &self.contexts,
            router: &self.router,
            subjects: &self.subjects,
            run_id,
            key_names: &key_names,
            wire: plan.publish.wire,
            payload_size: w.payload_size,
            mode: plan.publish.mode,
            window: plan.publish.max_in_flight,
            batch_size: plan.publish.batch_size.unwrap_or(1),
            flow: plan.publish.flow.unwrap_or(100),
            max_outstanding_acks: plan.publish.max_outstanding_acks.unwrap_or(2),
            gap: plan.publish.gap.unwrap_or_default(),
            ack_timeout: plan.publish.ack_timeout,
            msg_id: plan.publish.msg_id,
            expect_last_subject_seq: plan.publish.expect_last_subject_seq,
            pacer: Pacer::new(rate),
            tap: WireTap::new(clock),
            cancel,
            progress: None,
            retry: plan.publish.retry,
            stopped: None,
            repeat_every: None,
            // `split::not_yet` refuses the lean path for workers: the JetStream path only.
            clients: &[],
            api: crate::scenario::Api::Jetstream,
        };
        warm_up(&publisher, plan, seg).await;
        tokio::time::sleep_until(start.into()).await;
        let n = match w.amount {
            Amount::Messages(n) => n,
            // Refused before a worker starts (`split::not_yet`).
            Amount::Duration(_) => 0,
        };
        let mine = draws(w, plan.seed, n, seg);
        // Always timed: the merge interleaves the workers' acks by their arrival times.
        let mut history = History::new(mine.keys, w.keys).timed();
        let mut rec = Recorder::new(
            publisher.pacer.is_open_loop(),
            plan.observe.timeline_bucket,
            None,
        );
        let mut keygen = KeyGen::new(w, plan.seed);
        let limit = Limit::Messages(history.planned() as u64);
        let span = Span::start();
        let stop = publisher
            .run_phase(false, limit, &mut keygen, &mut history, &mut rec)
            .await;
        SegmentRecord {
            history,
            rec,
            stop,
            client: span.end(),
        }
    }
}

/// The segment's share of the warm-up, through the same publisher; nothing of it is kept.
async fn warm_up(publisher: &Publisher<'_>, plan: &Plan, seg: &Segment) {
    let w = &plan.workload;
    let seed = warmup_seed(plan.seed);
    let (limit, keys) = match w.warmup {
        Warmup::Messages(0) => return,
        Warmup::Messages(n) => {
            let mine = draws(w, seed, n, seg).keys;
            (Limit::Messages(mine.len() as u64), mine)
        }
        // Its own keys first; a long warm-up draws on from the plan's (excluded anyway).
        Warmup::Duration(d) => (
            Limit::Duration {
                duration: d,
                max: w.max_messages,
            },
            draws(w, seed, 1 << 16, seg).keys,
        ),
    };
    let mut keygen = KeyGen::new(w, seed);
    let mut h = History::new(keys, w.keys);
    let mut r = Recorder::new(false, plan.observe.timeline_bucket, None);
    publisher
        .run_phase(true, limit, &mut keygen, &mut h, &mut r)
        .await;
}
