//! The coordinator's side of a distributed run: its coordination server and buckets, the plan
//! and the barrier, the workers started and watched, their results fetched and merged. The
//! runner does the rest (`runner::run_coordinated`): the system under test, the stream, the
//! read-back, the checkers, result.json.
//!
//! Workers the coordinator started ([`Launch::Children`]) are judged by their process and their
//! state; workers someone else started ([`Launch::External`]) by their state alone, so one that
//! says neither done nor failed within [`watch_timeout`] after the barrier is lost as timed out.

use std::time::Duration;

use async_nats::jetstream::{self, kv, object_store};
use tokio::io::AsyncReadExt;

use super::children::Children;
use super::launch::{EnvFile, External, Launch, Source};
use super::protocol::{
    result_object, worker_key, OverridesMsg, PlanMsg, Start, WorkerState, BUCKET, RESULTS,
};
use super::server::CoordServer;
use crate::record::observe::Clock;
use crate::result::{Lost, WorkerReport, WorkerSegment};
use crate::runner::merge::{self, IndexMap, Input};
use crate::runner::part::Part;
use crate::runner::{self, Distributed, RunError, RunOptions, RunOutput, Target};
use crate::scenario::{Amount, Plan, Rate, Warmup};
use crate::split::{draws, Draws, Segment};
use crate::workload::KeyGen;

/// How long every worker the coordinator started has to register (start, connect, measure its
/// clock); `jsbench coordinate`'s is `--register-timeout`.
const REGISTER_TIMEOUT: Duration = Duration::from_secs(60);
/// An external worker's margin past the plan's paced length (see [`watch_timeout`]).
const WATCH_MARGIN: Duration = Duration::from_secs(300);
/// The barrier is this far ahead of the moment every worker registered: enough for the `start`
/// key to reach them all.
const BARRIER_LEAD: Duration = Duration::from_millis(500);
/// How often the coordinator looks at its workers while they run.
const POLL: Duration = Duration::from_millis(50);
/// After Ctrl-C, how long workers get to upload what they published before being killed.
const INTERRUPT_GRACE: Duration = Duration::from_secs(10);

/// Runs `plan` split across worker processes (`segments` from `split::split`), started as
/// `source.launch` says.
pub async fn run(
    plan: &Plan,
    opts: &RunOptions,
    source: &Source,
    segments: Vec<Segment>,
) -> Result<RunOutput, RunError> {
    runner::run_coordinated(plan, opts, |target| async move {
        drive(plan, source, &segments, target).await
    })
    .await
}

/// The buckets and the handles of one coordination.
struct Coordination {
    server: CoordServer,
    kv: kv::Store,
    results: object_store::ObjectStore,
    token: String,
}

impl Coordination {
    async fn start(clock: Clock, launch: &Launch) -> Result<Coordination, String> {
        let (server, token) = CoordServer::start(launch).await?;
        let client = async_nats::ConnectOptions::new()
            .token(token.clone())
            .name("jsbench-coordinator")
            .connect(server.local_url())
            .await
            .map_err(|e| format!("cannot connect to the coordination server: {e}"))?;
        tokio::spawn(super::clock::serve(client.clone(), clock));
        let js = jetstream::new(client);
        let kv = js
            .create_key_value(kv::Config {
                bucket: BUCKET.into(),
                storage: jetstream::stream::StorageType::Memory,
                ..Default::default()
            })
            .await
            .map_err(|e| format!("cannot create the KV bucket {BUCKET}: {e}"))?;
        let results = js
            .create_object_store(object_store::Config {
                bucket: RESULTS.into(),
                storage: jetstream::stream::StorageType::Memory,
                ..Default::default()
            })
            .await
            .map_err(|e| format!("cannot create the object store {RESULTS}: {e}"))?;
        Ok(Coordination {
            server,
            kv,
            results,
            token,
        })
    }

    /// Worker `i`'s state; `Unread` when the bucket did not answer (a loaded machine), which
    /// the loops treat as "still running" rather than judging an exited worker from it.
    async fn state(&self, i: usize) -> Read {
        match self.kv.get(worker_key(i)).await {
            Ok(Some(v)) => serde_json::from_slice(&v).map_or(Read::Absent, Read::State),
            Ok(None) => Read::Absent,
            Err(_) => Read::Unread,
        }
    }

    async fn put<T: serde::Serialize>(&self, key: &str, v: &T) -> Result<(), String> {
        let bytes = serde_json::to_vec(v).map_err(|e| e.to_string())?;
        self.kv
            .put(key, bytes.into())
            .await
            .map(|_| ())
            .map_err(|e| format!("cannot write {key} to the coordination bucket: {e}"))
    }

    async fn part(&self, i: usize) -> Result<Part, String> {
        let mut obj = self
            .results
            .get(result_object(i))
            .await
            .map_err(|e| format!("its result is not in the object store: {e}"))?;
        let mut bytes = Vec::new();
        obj.read_to_end(&mut bytes)
            .await
            .map_err(|e| format!("cannot read its result: {e}"))?;
        serde_json::from_slice(&bytes).map_err(|e| format!("its result does not parse: {e}"))
    }
}

/// What the coordinator knows of each worker as the run goes.
#[derive(Default, Clone)]
struct Seen {
    registered: Option<(String, u32, i64, u64)>,
    done: bool,
    lost: Option<Lost>,
    /// Polls since the worker exited in which its state could not be read.
    unread_after_exit: u32,
}

/// What one look at a worker's state key gave.
enum Read {
    State(WorkerState),
    /// No key yet (or not one this coordinator can parse).
    Absent,
    /// The coordination bucket did not answer.
    Unread,
}

/// How many unanswered looks (× [`POLL`]) an exited worker gets before it is judged by its exit.
const UNREAD_AFTER_EXIT_LIMIT: u32 = 100;

impl Seen {
    /// The verdict on an exited worker whose state said neither done nor failed; `None` while
    /// its state could not be read and the limit is not reached (looked at again next poll).
    fn exited(&mut self, read: &Read, status: String) -> Option<Lost> {
        if matches!(read, Read::Unread) && self.unread_after_exit < UNREAD_AFTER_EXIT_LIMIT {
            self.unread_after_exit += 1;
            return None;
        }
        Some(Lost::Exited { status })
    }
}

/// The measured phase of a distributed run, start to merge.
async fn drive(
    plan: &Plan,
    source: &Source,
    segments: &[Segment],
    target: Target,
) -> Result<Distributed, String> {
    let n = segments.len();
    let co = Coordination::start(target.clock, &source.launch).await?;
    let msg = PlanMsg {
        run_id: target.run_id.clone(),
        workers: n,
        text: source.text.clone(),
        file: source.file.clone(),
        overrides: OverridesMsg::of(&source.overrides, plan.seed),
        plan: serde_json::to_value(plan).map_err(|e| e.to_string())?,
        seeds: target.seeds.clone(),
        token: target.token.clone(),
    };
    co.put("plan", &msg).await?;
    let (mut children, register_timeout, env_file) = match &source.launch {
        Launch::Children => (
            Children::spawn(n, &co.server.local_url(), &co.token)?,
            REGISTER_TIMEOUT,
            None,
        ),
        Launch::External(x) => (Children::none(n), x.register_timeout, announce(&co, x, n)?),
    };
    let mut seen = vec![Seen::default(); n];
    register(&co, &mut children, &mut seen, &target, register_timeout).await;
    let start_ns = target.clock.now_ns() + BARRIER_LEAD.as_nanos() as u64;
    let admitted = (0..n).filter(|&i| seen[i].registered.is_some()).collect();
    co.put(
        "start",
        &Start {
            at_ns: start_ns,
            workers: Some(admitted),
        },
    )
    .await?;
    // The nemesis's origin: the faults are scheduled from the barrier, on this clock.
    target.cues.barrier(start_ns);
    let kill = kill_hook(n);
    let timeout = matches!(source.launch, Launch::External(_)).then(|| watch_timeout(plan));
    watch(
        &co,
        &mut children,
        &mut seen,
        &target,
        kill,
        (start_ns, timeout),
    )
    .await;
    // Every worker is done or lost: the nemesis heals what is active and starts nothing new.
    target.cues.stopped();
    let pids: Vec<Option<u32>> = (0..n).map(|i| children.pid(i)).collect();
    children.stop().await;
    let parts = fetch_parts(&co, &mut seen).await;
    drop(env_file);
    co.server.stop().await;
    Ok(assemble(plan, segments, &seen, &parts, &pids, start_ns))
}

/// The results of the workers that said done; one that cannot be read makes its worker lost.
async fn fetch_parts(co: &Coordination, seen: &mut [Seen]) -> Vec<Option<Part>> {
    let mut parts = Vec::with_capacity(seen.len());
    for (i, s) in seen.iter_mut().enumerate() {
        parts.push(match (s.done, s.lost.is_none()) {
            (true, true) => match co.part(i).await {
                Ok(p) => Some(p),
                Err(error) => {
                    s.lost = Some(Lost::Failed { error });
                    None
                }
            },
            _ => None,
        });
    }
    parts
}

/// `jsbench coordinate`: says where the workers should go, and with a generated token writes
/// `coordinator.env` (removed when the returned guard drops). The token is never printed.
fn announce(co: &Coordination, x: &External, n: usize) -> Result<Option<EnvFile>, String> {
    let CoordServer::Listening(l) = &co.server else {
        return Ok(None);
    };
    let file = match x.token {
        Some(_) => None,
        None => Some(EnvFile::write(&x.env_dir, l.url(), &co.token).map_err(|e| {
            format!(
                "cannot write {}: {e}",
                x.env_dir.join(super::protocol::ENV_FILE).display()
            )
        })?),
    };
    if let Some(f) = &file {
        eprintln!(
            "coordinator: URL and token for the workers in {}",
            f.path().display()
        );
    }
    eprintln!("coordinator: {} waiting for {n} workers", l.url());
    Ok(file)
}

/// How long an external worker has, from the barrier, to say done or failed: the plan's paced
/// length (warm-up and measured messages at `rate`, a timed warm-up) twice, plus
/// [`WATCH_MARGIN`]; an unpaced plan gets the margin alone.
pub(super) fn watch_timeout(plan: &Plan) -> Duration {
    let w = &plan.workload;
    let messages = match w.amount {
        Amount::Messages(n) => n,
        Amount::Duration(_) => 0,
    };
    let (warm_msgs, warm_time) = match w.warmup {
        Warmup::Messages(m) => (m, Duration::ZERO),
        Warmup::Duration(d) => (0, d),
    };
    let paced = match w.rate {
        Rate::PerSec(r) if r > 0 => {
            Duration::from_secs_f64((messages + warm_msgs) as f64 / r as f64)
        }
        _ => Duration::ZERO,
    };
    let amount = match w.amount {
        Amount::Duration(d) => d,
        Amount::Messages(_) => Duration::ZERO,
    };
    (paced + warm_time + amount) * 2 + WATCH_MARGIN
}

/// Waits until every worker registered, ended or failed, or the timeout passed (those that
/// did not register by then are lost).
async fn register(
    co: &Coordination,
    children: &mut Children,
    seen: &mut [Seen],
    t: &Target,
    timeout: Duration,
) {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let mut waiting = 0;
        for (i, s) in seen.iter_mut().enumerate() {
            if s.registered.is_some() || s.lost.is_some() {
                continue;
            }
            // The exit is looked at before the state: a worker writes its state (acknowledged
            // by the server) before it exits, so a state read after an observed exit is final.
            // The other order loses a race: state read, worker writes Done and exits, exit seen.
            let ended = children.ended(i);
            match co.state(i).await {
                Read::State(WorkerState::Registered {
                    host,
                    pid,
                    offset_ns,
                    uncertainty_ns,
                }) => s.registered = Some((host, pid, offset_ns, uncertainty_ns)),
                Read::State(WorkerState::Failed { error }) => s.lost = Some(Lost::Failed { error }),
                read => match ended.and_then(|status| s.exited(&read, status)) {
                    Some(lost) => s.lost = Some(lost),
                    None => waiting += 1,
                },
            }
        }
        if waiting == 0 {
            return;
        }
        if t.cancel.is_requested() || tokio::time::Instant::now() >= deadline {
            for s in seen
                .iter_mut()
                .filter(|s| s.registered.is_none() && s.lost.is_none())
            {
                s.lost = Some(if t.cancel.is_requested() {
                    Lost::Interrupted
                } else {
                    Lost::NotRegistered {
                        timeout_s: timeout.as_secs(),
                    }
                });
            }
            return;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// `JSBENCH_TEST_KILL_WORKER=<i>`: the worker a test wants killed mid-run.
fn kill_hook(n: usize) -> Option<usize> {
    std::env::var(super::KILL_HOOK_ENV)
        .ok()?
        .parse()
        .ok()
        .filter(|&i| i < n)
}

/// Watches the registered workers until each is done, failed or gone (or, given a timeout,
/// silent that long after the barrier `start_ns`). After Ctrl-C they get [`INTERRUPT_GRACE`]
/// to upload what they published; then the rest are killed and lost.
async fn watch(
    co: &Coordination,
    children: &mut Children,
    seen: &mut [Seen],
    t: &Target,
    mut kill: Option<usize>,
    (start_ns, timeout): (u64, Option<Duration>),
) {
    let mut interrupted_at: Option<tokio::time::Instant> = None;
    let timed_out = |now: u64| timeout.filter(|d| now > start_ns + d.as_nanos() as u64);
    loop {
        if let Some(i) = kill.filter(|_| t.clock.now_ns() > start_ns + 300_000_000) {
            children.kill(i);
            kill = None;
        }
        let mut running = 0;
        for (i, s) in seen.iter_mut().enumerate() {
            if s.done || s.lost.is_some() {
                continue;
            }
            let ended = children.ended(i); // before the state, as in `register`
            match co.state(i).await {
                Read::State(WorkerState::Done) => s.done = true,
                Read::State(WorkerState::Failed { error }) => s.lost = Some(Lost::Failed { error }),
                read => match ended.and_then(|status| s.exited(&read, status)) {
                    Some(lost) => s.lost = Some(lost),
                    None => running += 1,
                },
            }
        }
        if running == 0 {
            return;
        }
        if let Some(d) = timed_out(t.clock.now_ns()) {
            for s in seen.iter_mut().filter(|s| !s.done && s.lost.is_none()) {
                s.lost = Some(Lost::TimedOut {
                    after_s: d.as_secs(),
                });
            }
            return;
        }
        if t.cancel.is_requested() {
            if interrupted_at.is_none() {
                children.interrupt();
            }
            let at = *interrupted_at.get_or_insert_with(tokio::time::Instant::now);
            if at.elapsed() >= INTERRUPT_GRACE || t.cancel.is_urgent() {
                for s in seen.iter_mut().filter(|s| !s.done && s.lost.is_none()) {
                    s.lost = Some(Lost::Interrupted);
                }
                return;
            }
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The merge, and each worker's entry of result.json `workers`.
fn assemble(
    plan: &Plan,
    segments: &[Segment],
    seen: &[Seen],
    parts: &[Option<Part>],
    pids: &[Option<u32>],
    start_ns: u64,
) -> Distributed {
    let w = &plan.workload;
    let n = match w.amount {
        Amount::Messages(n) => n,
        Amount::Duration(_) => 0,
    };
    let all: Vec<Draws> = segments.iter().map(|s| draws(w, plan.seed, n, s)).collect();
    let inputs: Vec<Input<'_>> = segments
        .iter()
        .zip(&all)
        .zip(seen.iter().zip(parts))
        .map(|((segment, draws), (s, p))| Input {
            segment,
            draws,
            part: p.as_ref().zip(s.registered.as_ref().map(|r| r.2)),
        })
        .collect();
    let keys = KeyGen::new(w, plan.seed).take(n as usize);
    let merged = merge::merge(plan, keys, &inputs, start_ns);
    let workers = segments
        .iter()
        .enumerate()
        .map(|(i, seg)| worker_report(seg, &seen[i], parts[i].as_ref(), pids[i]))
        .collect();
    Distributed {
        merged,
        workers,
        index: IndexMap::new(segments, &all),
    }
}

fn worker_report(seg: &Segment, s: &Seen, part: Option<&Part>, pid: Option<u32>) -> WorkerReport {
    let reg = s.registered.as_ref();
    let wall_s = part.map(|p| p.ended_ns.saturating_sub(p.started_ns) as f64 / 1e9);
    let acked = part.map(Part::acked);
    WorkerReport {
        index: seg.worker,
        host: reg.map_or_else(String::new, |r| r.0.clone()),
        pid: reg.map(|r| r.1).or(pid),
        segment: WorkerSegment {
            keys: seg.keys.len(),
            key_list: seg.keys.clone(),
            connections: [seg.connections.start, seg.connections.end],
            messages: seg.messages.unwrap_or(0),
        },
        clock_offset_ns: reg.map(|r| r.2),
        clock_uncertainty_ns: reg.map(|r| r.3),
        published: part.map(|p| p.published),
        acked,
        msgs_per_sec: acked
            .zip(wall_s)
            .filter(|(_, s)| *s > 0.0)
            .map(|(a, s)| a as f64 / s),
        client_cpu_ns_per_msg: part
            .and_then(|p| p.usage().map(|u| (u, p.published)))
            .filter(|(_, n)| *n > 0)
            .map(|(u, n)| u.cpu_ns as f64 / n as f64),
        lost: s.lost.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_exited_worker_whose_state_was_read_is_judged_by_its_exit_at_once() {
        let mut s = Seen::default();
        let lost = s.exited(&Read::Absent, "exit status: 0".into());
        assert_eq!(
            lost,
            Some(Lost::Exited {
                status: "exit status: 0".into()
            })
        );
    }

    fn plan(workload: &str) -> Plan {
        let text = format!(
            "name = \"t\"\n[server]\nbackend = \"process\"\n[connections]\n\
             strategy = \"key_affine\"\ncount = 4\n[publish]\nmode = \"async\"\n\
             [workload]\n{workload}"
        );
        crate::scenario::parse(&text, "t.toml", &Default::default()).unwrap()
    }

    #[test]
    fn an_external_worker_gets_twice_the_paced_length_plus_the_margin() {
        // 6000 + 2000 warm-up messages at 2000/s: 4 s paced.
        let paced = plan("messages = 6000\nwarmup = 2000\nkeys = 16\nrate = 2000\n");
        assert_eq!(watch_timeout(&paced), Duration::from_secs(8) + WATCH_MARGIN);
        let unpaced = plan("messages = 6000\nwarmup = 0\nkeys = 16\n");
        assert_eq!(watch_timeout(&unpaced), WATCH_MARGIN);
    }

    #[test]
    fn an_unanswered_read_after_exit_is_looked_at_again_up_to_the_limit() {
        let mut s = Seen::default();
        for _ in 0..UNREAD_AFTER_EXIT_LIMIT {
            assert_eq!(s.exited(&Read::Unread, "signal: 9".into()), None);
        }
        assert!(matches!(
            s.exited(&Read::Unread, "signal: 9".into()),
            Some(Lost::Exited { .. })
        ));
    }
}
