//! The phases of a run on an open rig: warm-up (excluded from every figure), the measured phase
//! (the publisher, and the nemesis on the same task when there are faults), the consume side
//! (alongside or after publishing), and the read-back.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::live;
use super::observers::{self, Observers, Sampler};
use super::progress::Show;
use super::rig::Rig;
use super::streaming::{self, Following, Streamed};
use super::{Measured, RunOptions};
use crate::adapter::SessionEnd;
use crate::checker::StoreLive;
use crate::client::adapter::Link;
use crate::client::pool::Router;
use crate::client::{Limit, Publisher, Stop};
use crate::consume::{self, ConsumeLog, ConsumeSetup};
use crate::nemesis::{Nemesis, NemesisLog, StreamRef};
use crate::proxy::Proxy;
use crate::record::cluster::{ClusterRecord, NodeSample};
use crate::record::history::{History, ReadBack};
use crate::record::observe::{Clock, LiveTally, Progress, Recorder, WireTap};
use crate::record::readback::{self, ReadBackCheck, READ_BACK_IDLE};
use crate::record::usage::{NodesSpan, Span, Usage};
use crate::scenario::{Amount, ConsumeWhen, Plan, Rate, Warmup};
use crate::server::Server;
use crate::workload::{key_name, warmup_seed, KeyGen, Pacer, Reader};

/// How long the round trip that proves a connection drained may take (a reconnect after a
/// fault included).
const ROUND_TRIP_TIMEOUT: Duration = Duration::from_secs(10);

/// What the phases work with; borrowed from the runner.
pub(super) struct Phases<'a> {
    pub(super) plan: &'a Plan,
    pub(super) opts: &'a RunOptions,
    pub(super) server: &'a Server,
    pub(super) proxies: &'a [Vec<Proxy>],
    pub(super) rig: &'a Rig,
    pub(super) run_id: &'a str,
    /// A distributed run's map from what a tag says (key hash, the worker's local number) to
    /// the plan's index (`merge::IndexMap`); `None` when one process published.
    pub(super) remap: Option<&'a (dyn Fn(u64, u32) -> Option<u32> + Sync)>,
}

/// The measured phase's own record.
struct Published {
    history: History,
    rec: Recorder,
    stop: Stop,
    nemesis: NemesisLog,
    nemesis_origin_ns: u64,
    /// What was seen of a cluster while publishing.
    cluster: Option<ClusterRecord>,
    /// jsbench's CPU and wall time while publishing.
    client: Option<Usage>,
    /// A single server's `/varz` samples while publishing (a cluster's are in `cluster`).
    server_samples: (Vec<String>, Vec<Vec<NodeSample>>),
    /// Each node's CPU use in cores while publishing, from its process (when it is one here).
    server_cores: Vec<Option<f64>>,
    /// The adapter process's CPU use in cores while publishing (runs through an adapter).
    adapter_cores: Option<f64>,
}

/// The consume side while it runs: a task, or a setup waiting for publishing to end.
struct Consuming {
    task: Option<JoinHandle<ConsumeLog>>,
    deferred: Option<ConsumeSetup>,
    published_tx: watch::Sender<bool>,
    published_rx: watch::Receiver<bool>,
}

/// What the read-back found, how it made sure, and anything worth a note.
#[derive(Default)]
pub(super) struct ReadBackOutcome {
    pub(super) read_back: Option<ReadBack>,
    pub(super) check: Option<ReadBackCheck>,
    pub(super) note: Option<String>,
    /// What the follower read and judged (a following run).
    pub(super) streaming: Option<Streamed>,
}

impl Phases<'_> {
    /// Warm-up, measured phase with the consume side, read-back.
    /// With `link`, every phase publishes through the adapter; the session is ended (finished,
    /// or killed after an error or Ctrl-C) before the read-back, and its end returned.
    pub(super) async fn run(
        &self,
        clock: Clock,
        mut link: Option<Link>,
    ) -> (Measured, Option<SessionEnd>) {
        let w = &self.plan.workload;
        let key_names: Vec<String> = (0..w.keys).map(key_name).collect();
        let router = Router::new(&self.plan.connections, w.keys);
        let progress = Arc::new(Progress::default());
        // Declared before the publisher, which borrows it for the measured phase.
        let (stopped_tx, stopped_rx) = watch::channel(false);
        let mut publisher = self.publisher(&router, &key_names, &progress, clock);
        self.warm_up(&publisher, link.as_mut()).await;
        let disk_faults = self.plan.server_spec().faultfs;
        if disk_faults {
            // The durability rule of disk-fault runs (`checker/durability.rs`).
            if let Err(e) = self.server.checkpoint_disks() {
                tracing::warn!("cannot checkpoint the fault filesystems: {e}");
            }
        }
        let mut consuming = self.start_consumer(clock);
        // Distributed runs (`remap`) read back at the end: the coordinator has no follower yet.
        let (following, store) = match self.remap {
            Some(_) => None,
            None => streaming::start(self.plan, self.rig, self.run_id, &self.opts.cancel),
        }
        .unzip();
        // Only the measured phase tells the nemesis that publishing stopped, and repeats.
        publisher.stopped = Some(&stopped_tx);
        publisher.repeat_every = self.plan.publish.repeat_msg_id_every;
        let published = self
            .measured(
                &publisher,
                link.as_mut(),
                (&progress, store),
                clock,
                stopped_rx,
            )
            .await;
        // The adapter's connections close before the read-back: what it still had queued has
        // reached the server or never will.
        let end = match link {
            Some(l) => Some(super::adapter::end(l, self.opts.cancel.is_requested()).await),
            None => None,
        };
        let consume = self.finish_consumer(&mut consuming).await;
        let mut cluster = published.cluster;
        // On a cluster the read-back's consumer reads one node's replica: wait until the
        // replicas agree (a node that was paused or cut off catches up) before reading, or it
        // would read a replica that is behind and count its missing tail as lost.
        if let (Some(c), true) = (cluster.as_mut(), self.plan.observe.read_back) {
            observers::survey(self.server, self.rig, c).await;
        }
        let disk_survey = self.disk_survey(cluster.as_ref(), disk_faults).await;
        let rb = self.read_back(&published.history, following).await;
        let m = Measured {
            streaming: rb.streaming,
            disk_survey,
            history: published.history,
            rec: published.rec,
            stop: published.stop,
            read_back: rb.read_back,
            read_back_check: rb.check,
            read_back_note: rb.note,
            nemesis: published.nemesis,
            nemesis_origin_ns: published.nemesis_origin_ns,
            consume,
            cluster,
            client: published.client,
            server_samples: published.server_samples,
            server_cores: published.server_cores,
            adapter_cores: published.adapter_cores,
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            workers: Vec::new(),
            unsent: 0,
        };
        (m, end)
    }

    /// The publisher of this run's phases (the measured phase adds `stopped` and `repeat_every`).
    fn publisher<'p>(
        &'p self,
        router: &'p Router,
        key_names: &'p [String],
        progress: &'p Progress,
        clock: Clock,
    ) -> Publisher<'p> {
        let w = &self.plan.workload;
        Publisher {
            contexts: &self.rig.pool.contexts,
            clients: &self.rig.pool.clients,
            api: self.plan.publish.api,
            router,
            subjects: &self.rig.subjects,
            run_id: self.run_id,
            key_names,
            wire: self.plan.publish.wire,
            payload_size: w.payload_size,
            mode: self.plan.publish.mode,
            window: self.plan.publish.max_in_flight,
            batch_size: self.plan.publish.batch_size.unwrap_or(1),
            flow: self.plan.publish.flow.unwrap_or(100),
            max_outstanding_acks: self.plan.publish.max_outstanding_acks.unwrap_or(2),
            gap: self.plan.publish.gap.unwrap_or_default(),
            ack_timeout: self.plan.publish.ack_timeout,
            msg_id: self.plan.publish.msg_id,
            expect_last_subject_seq: self.plan.publish.expect_last_subject_seq,
            pacer: Pacer::new(w.rate),
            tap: WireTap::new(clock),
            cancel: &self.opts.cancel,
            progress: Some(progress),
            retry: self.plan.publish.retry,
            stopped: None,
            repeat_every: None,
        }
    }

    /// A single node's replica after a disk-fault run (a cluster's is surveyed with the
    /// cluster): what the durability checker compares with the acks.
    pub(super) async fn disk_survey(
        &self,
        cluster: Option<&ClusterRecord>,
        disk_faults: bool,
    ) -> Option<crate::record::cluster::ReplicaSurvey> {
        if cluster.is_some() || !(disk_faults && self.plan.observe.read_back) {
            return None;
        }
        Some(
            crate::record::cluster::survey_replicas(
                self.server.nodes(),
                &self.rig.stream,
                std::time::Duration::from_secs(5),
            )
            .await,
        )
    }

    /// One phase, in-process or through the adapter of `link`.
    async fn phase(
        publisher: &Publisher<'_>,
        link: Option<&mut Link>,
        warmup: bool,
        limit: Limit,
        keygen: &mut KeyGen,
        h: &mut History,
        r: &mut Recorder,
    ) -> Stop {
        match link {
            Some(l) => {
                publisher
                    .run_adapter_phase(l, warmup, limit, keygen, h, r)
                    .await
            }
            None => publisher.run_phase(warmup, limit, keygen, h, r).await,
        }
    }

    /// Same code path as the measured phase, its own keys and a throwaway history.
    async fn warm_up(&self, publisher: &Publisher<'_>, link: Option<&mut Link>) {
        let w = &self.plan.workload;
        let limit = match w.warmup {
            Warmup::Messages(0) => return,
            Warmup::Messages(n) => Limit::Messages(n),
            Warmup::Duration(d) => Limit::Duration {
                duration: d,
                max: w.max_messages,
            },
        };
        let mut keygen = KeyGen::new(w, warmup_seed(self.plan.seed));
        let first = match limit {
            Limit::Messages(n) => keygen.take(n as usize),
            Limit::Duration { .. } => Vec::new(),
        };
        let mut h = History::new(first, w.keys);
        let mut r = Recorder::new(false, self.plan.observe.timeline_bucket, None);
        Self::phase(publisher, link, true, limit, &mut keygen, &mut h, &mut r).await;
    }

    /// The measured phase: the publisher and, with faults, the nemesis on the same task.
    async fn measured(
        &self,
        publisher: &Publisher<'_>,
        link: Option<&mut Link>,
        (progress, store): (&Arc<Progress>, Option<Arc<StoreLive>>),
        clock: Clock,
        stopped_rx: watch::Receiver<bool>,
    ) -> Published {
        let w = &self.plan.workload;
        let (limit, expected, planned) = match w.amount {
            Amount::Messages(n) => (Limit::Messages(n), None, n),
            Amount::Duration(d) => (
                Limit::Duration {
                    duration: d,
                    max: w.max_messages,
                },
                Some(d),
                0,
            ),
        };
        let mut keygen = KeyGen::new(w, self.plan.seed);
        let mut history = self.history(&mut keygen);
        let open_loop = publisher.pacer.is_open_loop();
        let mut rec = Recorder::new(open_loop, self.plan.observe.timeline_bucket, expected);
        progress.planned.store(planned, Ordering::Relaxed);
        let nemesis_origin_ns = clock.now_ns();
        let (live, bar) = self.show(progress, store, (&mut history, &mut rec), expected, clock);
        let observers = Observers::start(self.server, self.rig, clock, nemesis_origin_ns).await;
        let sampler = observers
            .is_none()
            .then(|| Sampler::start(self.server, clock, nemesis_origin_ns))
            .flatten();
        let nodes_span = NodesSpan::start(&self.node_pids().await);
        let adapter_pid = [link.as_ref().map(|l| l.pid())];
        let adapter_span = NodesSpan::start(&adapter_pid);
        let span = Span::start();
        let publishing = Self::phase(
            publisher,
            link,
            false,
            limit,
            &mut keygen,
            &mut history,
            &mut rec,
        );
        let (stop, nemesis) = if self.plan.faults.is_empty() {
            (publishing.await, NemesisLog::default())
        } else {
            // The nemesis first: faults due at once are set before the first message goes out.
            let nemesis = self.nemesis(clock, live.then_some(&**progress));
            let (log, stop) = tokio::join!(nemesis.run(nemesis_origin_ns, stopped_rx), publishing);
            (stop, log)
        };
        let client = span.end();
        let server_cores = nodes_span.end(&self.node_pids().await);
        let adapter_cores = adapter_span.end(&adapter_pid).pop().flatten();
        if let Some(bar) = bar {
            bar.finish().await;
        }
        let cluster = match observers {
            Some(o) => Some(o.stop().await),
            None => None,
        };
        let server_samples = match sampler {
            Some(s) => s.stop().await,
            None => Default::default(),
        };
        Published {
            history,
            rec,
            stop,
            nemesis,
            nemesis_origin_ns,
            cluster,
            client,
            server_samples,
            server_cores,
            adapter_cores,
        }
    }

    /// Switches the live line's counters on when it will be printed (`--live` and the planned
    /// length), and starts the task that shows the bar and the line. True when the line is on.
    fn show(
        &self,
        progress: &Arc<Progress>,
        store: Option<Arc<StoreLive>>,
        (history, rec): (&mut History, &mut Recorder),
        expected: Option<Duration>,
        clock: Clock,
    ) -> (bool, Option<super::progress::BarHandle>) {
        let live = live::schedule(self.opts.live, live::planned_length(self.plan));
        if live.is_some() {
            history.live = Some(LiveTally::new(progress.clone(), self.plan.workload.keys));
            rec.publish_ack.share_intervals(progress.clone());
        }
        let show = Show {
            bar: self.opts.progress,
            live,
            duration: expected,
            name: self.plan.name.clone(),
            clock,
            origin_ns: clock.now_ns(),
            store,
        };
        let handle = (self.opts.progress || live.is_some())
            .then(|| super::progress::spawn(progress.clone(), show));
        (live.is_some(), handle)
    }

    /// Each node's host pid (for its CPU time), when it has one.
    async fn node_pids(&self) -> Vec<Option<u32>> {
        let mut pids = Vec::new();
        for i in 0..self.server.nodes().len() {
            pids.push(self.server.node_host_pid(i).await);
        }
        pids
    }

    /// The nemesis, on the publisher's task, so it borrows the server and proxies; the
    /// publisher yields at every await, which is often enough for fault times to be kept to a
    /// millisecond or so (the windows record the real times anyway).
    fn nemesis<'p>(&'p self, clock: Clock, progress: Option<&'p Progress>) -> Nemesis<'p> {
        Nemesis {
            faults: &self.plan.faults,
            server: self.server,
            proxies: self.proxies,
            clock,
            stream: (self.server.nodes().len() > 1).then_some(StreamRef {
                js: &self.rig.admin,
                name: &self.rig.stream,
            }),
            seed: self.plan.seed,
            progress,
        }
    }

    /// The measured phase's history, with the keys of the messages known up front.
    fn history(&self, keygen: &mut KeyGen) -> History {
        let w = &self.plan.workload;
        let first = match (w.amount, w.rate) {
            (Amount::Messages(n), _) => n as usize,
            (Amount::Duration(d), Rate::PerSec(r)) => {
                ((d.as_secs_f64() * r as f64) as usize + 1).min(w.max_messages as usize)
            }
            (Amount::Duration(_), Rate::Max) => 1 << 20,
        };
        let keys = keygen.take_keys(first);
        let p = self.plan;
        // A followed run is a long one: its per-message columns, completion order and attempt
        // log go to disk from the start, not 14 B per message and more in memory
        // (`record/column.rs`). Should no temp file be made, that part stays in memory: the
        // same figures, more memory.
        let history = if p.observe.following {
            let cap = match w.amount {
                Amount::Messages(n) => n,
                Amount::Duration(_) => w.max_messages,
            };
            let (history, error) = History::on_disk(keys, w.keys, cap as usize);
            if let Some(e) = error {
                tracing::warn!("part of the history stays in memory: no temp file for it ({e})");
            }
            history
        } else {
            History::with_keys(keys, w.keys)
        };
        if !p.faults.is_empty() || p.publish.retry.attempts > 1 || p.consume.is_some() {
            // Send and ack times per message: the fault-window checkers split by them.
            history.timed()
        } else {
            history
        }
    }

    /// The consume side: spawned now when concurrent, kept for after publishing otherwise.
    fn start_consumer(&self, clock: Clock) -> Consuming {
        let (published_tx, published_rx) = watch::channel(false);
        let setup = self.plan.consume.as_ref().map(|cp| ConsumeSetup {
            js: self.rig.admin.clone(),
            stream: self.rig.stream.clone(),
            filter: self.rig.subjects.measured_filter.clone(),
            reader: Reader::new(self.plan.publish.wire, self.run_id),
            name: format!("jsb-consume-{}", self.run_id),
            plan: cp.clone(),
            seed: self.plan.seed,
            clock,
        });
        let mut c = Consuming {
            task: None,
            deferred: None,
            published_tx,
            published_rx,
        };
        match setup {
            Some(s) if s.plan.when == ConsumeWhen::Concurrent => {
                c.task = Some(self.spawn_consumer(s, c.published_rx.clone()));
            }
            s => c.deferred = s,
        }
        c
    }

    fn spawn_consumer(
        &self,
        setup: ConsumeSetup,
        published: watch::Receiver<bool>,
    ) -> JoinHandle<ConsumeLog> {
        tokio::spawn(consume::run(setup, published, self.opts.cancel.clone()))
    }

    /// Tells the consumer publishing has ended (starting it now when it runs after), and
    /// waits until it has drained.
    async fn finish_consumer(&self, c: &mut Consuming) -> Option<ConsumeLog> {
        let _ = c.published_tx.send(true);
        if let Some(setup) = c.deferred.take() {
            c.task = Some(self.spawn_consumer(setup, c.published_rx.clone()));
        }
        let task = c.task.take()?;
        Some(task.await.unwrap_or_else(|e| ConsumeLog {
            error: Some(format!("the consumer task failed: {e}")),
            ..Default::default()
        }))
    }

    /// The stream's own account of what was stored, in which order. Every fault is healed by
    /// now (the nemesis heals when publishing stops); each publishing connection is proven
    /// drained through its own path, proxy included, so that nothing still queued reaches the
    /// stream after it was read.
    /// The stream as stored: the follower's tail when the run follows (`following`), else (or
    /// when it falls back, or for `--cross-check`) a whole read-back.
    pub(super) async fn read_back(
        &self,
        history: &History,
        following: Option<Following>,
    ) -> ReadBackOutcome {
        if !self.plan.observe.read_back || self.opts.cancel.is_urgent() {
            return ReadBackOutcome::default();
        }
        let (flushed, notes) = self.prove_drained().await;
        let Some(following) = following else {
            return self.whole_read_back(history, flushed, notes).await;
        };
        let (mut streamed, rb) = streaming::finish(self.plan, history, following).await;
        let mut out = match rb {
            Ok(Some(rb)) => ReadBackOutcome {
                read_back: Some(rb),
                note: (!notes.is_empty()).then(|| notes.join("; ")),
                ..Default::default()
            },
            Ok(None) if !self.plan.observe.cross_check => ReadBackOutcome {
                note: (!notes.is_empty()).then(|| notes.join("; ")),
                ..Default::default()
            },
            Ok(None) => {
                streamed.from = crate::result::FiguresFrom::ReadBack;
                streamed.against = Some(crate::result::CheckedAgainst::ReadBack);
                self.whole_read_back(history, flushed, notes).await
            }
            Err(_) => self.whole_read_back(history, flushed, notes).await,
        };
        out.streaming = Some(streamed);
        out
    }

    /// Reads the whole stream back (module docs of `record::readback`).
    async fn whole_read_back(
        &self,
        history: &History,
        flushed: usize,
        mut notes: Vec<String>,
    ) -> ReadBackOutcome {
        let reader = Reader::new(self.plan.publish.wire, self.run_id);
        let spec = readback::ReadSpec {
            js: &self.rig.admin,
            stream: &self.rig.stream,
            filter: &self.rig.subjects.measured_filter,
            tag_in_payload: reader.in_payload(),
            identify: &|headers, payload| {
                let id = reader.identify(headers, payload)?;
                let idx = match self.remap {
                    Some(global) => global(id.key_hash, id.idx)?,
                    None => id.idx,
                };
                Some((idx, id.attempt))
            },
            expected_hint: history.published as usize,
            idle: READ_BACK_IDLE,
            cancel: &self.opts.cancel,
        };
        let mut out = ReadBackOutcome::default();
        match readback::read_back(&spec).await {
            Ok((rb, mut check)) => {
                check.connections = self.rig.pool.clients.len();
                check.connections_flushed = flushed;
                if !rb.complete {
                    notes.push(match check.stream_count {
                        Some(n) => format!(
                            "read-back incomplete: {} messages read, the stream holds {n}",
                            check.read
                        ),
                        None => format!("read-back incomplete: {} messages read", check.read),
                    });
                }
                out.read_back = Some(rb);
                out.check = Some(check);
            }
            Err(e) => notes.push(format!("read-back failed: {e}")),
        }
        out.note = (!notes.is_empty()).then(|| notes.join("; "));
        out
    }

    /// A round trip on every publishing connection; how many answered, and notes on the others.
    async fn prove_drained(&self) -> (usize, Vec<String>) {
        let mut notes = Vec::new();
        let mut flushed = 0;
        for (i, c) in self.rig.pool.clients.iter().enumerate() {
            match readback::round_trip(c, ROUND_TRIP_TIMEOUT).await {
                Ok(()) => flushed += 1,
                Err(e) => notes.push(format!(
                    "connection {i} could not be proven drained before the read-back: {e}"
                )),
            }
        }
        (flushed, notes)
    }
}
