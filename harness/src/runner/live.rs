//! The live line: while the measured phase runs, one line on stderr every N seconds, for long
//! runs and their logs (an hour-long soak shows how it goes without waiting for the end).
//!
//! ```text
//! live r3-soak t=70.0s pub/s=1998 ack/s=1995 ack_p99=12.345ms published=139860 acked=139700 in_flight=148 dup_acks=0 failed=12 unknown=3 late_per_key=45 faults=5/4 rss=246MiB
//! ```
//!
//! Rates and the p99 are over the last interval, the rest so far. Everything comes from counters
//! the publisher's task keeps anyway (`record::observe::Progress`: plain stores of numbers, the
//! closed 1-second latency intervals the hlog keeps, handed over under a lock once a second);
//! this file turns two snapshots of them into the line's fields, a pure function. What the
//! client knows so far: failed and unknown outcomes, duplicate acks, late acks per key. A run
//! that follows its stream (`observe.follow`) adds what the follower has read so far, from the
//! streaming checkers' counters (`checker::StoreLive`): `stored=` copies read, `stored_dups=`
//! extra copies, `storage_late_per_key=` copies stored after a later message of their key.
//! Lost messages are not on the line: a message acked but not read yet may only be behind the
//! follower, so loss is known once the tail has been read, after the phase.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::time::Duration;

use std::sync::Arc;

use crate::checker::{StoreLive, StoreSoFar};
use crate::record::history::Outcome;
use crate::record::observe::{IntervalLatency, Progress, OUTCOMES};
use crate::scenario::{Amount, Plan, Rate};

/// How often `auto` prints.
pub const AUTO_EVERY: Duration = Duration::from_secs(10);
/// `auto` prints for runs planned at least this long (and, when the length is not known, from
/// this far into the run).
pub const AUTO_FROM: Duration = Duration::from_secs(60);
/// The shortest interval: the p99 is built from 1-second latency intervals.
pub const MIN_EVERY: Duration = Duration::from_secs(1);

/// `jsbench run --live`: when the live line is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LiveMode {
    /// Every [`AUTO_EVERY`] on runs planned for [`AUTO_FROM`] or longer; on message-bound runs
    /// at full rate (length unknown), from [`AUTO_FROM`] on.
    #[default]
    Auto,
    Off,
    Every(Duration),
}

impl LiveMode {
    pub const ALLOWED: &'static str = "auto, off, or a duration of at least 1s (e.g. 10s)";

    pub fn parse(s: &str) -> Result<LiveMode, String> {
        match s {
            "auto" => Ok(LiveMode::Auto),
            "off" => Ok(LiveMode::Off),
            _ => match humantime::parse_duration(s) {
                Ok(d) if d >= MIN_EVERY => Ok(LiveMode::Every(d)),
                _ => Err(format!("allowed: {}", Self::ALLOWED)),
            },
        }
    }
}

/// When lines are due: every `every` from the phase start, printed from `first_after` on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveSpec {
    pub every: Duration,
    pub first_after: Duration,
}

/// How long the measured phase is planned to last, when the plan says.
pub fn planned_length(plan: &Plan) -> Option<Duration> {
    match (plan.workload.amount, plan.workload.rate) {
        (Amount::Duration(d), _) => Some(d),
        (Amount::Messages(n), Rate::PerSec(r)) if r > 0 => {
            Some(Duration::from_secs_f64(n as f64 / r as f64))
        }
        (Amount::Messages(_), _) => None,
    }
}

/// Whether and how often a run prints the line, from `--live` and the run's planned length.
pub fn schedule(mode: LiveMode, length: Option<Duration>) -> Option<LiveSpec> {
    match (mode, length) {
        (LiveMode::Off, _) => None,
        (LiveMode::Every(every), _) => Some(LiveSpec {
            every,
            first_after: every,
        }),
        (LiveMode::Auto, Some(l)) if l < AUTO_FROM => None,
        (LiveMode::Auto, Some(_)) => Some(LiveSpec {
            every: AUTO_EVERY,
            first_after: AUTO_EVERY,
        }),
        (LiveMode::Auto, None) => Some(LiveSpec {
            every: AUTO_EVERY,
            first_after: AUTO_FROM,
        }),
    }
}

/// The counters at one moment, `at` after the measured phase started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub at: Duration,
    pub published: u64,
    pub acks: u64,
    pub outcomes: [u64; OUTCOMES],
    pub late_per_key: u64,
    pub faults_started: u64,
    pub faults_ended: u64,
    /// What the follower has read and judged so far (a following run).
    pub stored: Option<StoreSoFar>,
}

impl Snapshot {
    pub fn read(p: &Progress, at: Duration) -> Snapshot {
        let l = &p.live;
        let get = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
        Snapshot {
            at,
            published: get(&p.published),
            acks: get(&l.acks),
            outcomes: std::array::from_fn(|i| get(&l.outcomes[i])),
            late_per_key: get(&l.late_per_key),
            faults_started: get(&l.faults_started),
            faults_ended: get(&l.faults_ended),
            stored: None,
        }
    }

    fn count(&self, o: Outcome) -> u64 {
        self.outcomes[o as usize]
    }
}

/// The fields of one line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Line {
    /// Since the measured phase started.
    pub elapsed: Duration,
    /// Messages handed to the client per second, over the last interval.
    pub published_per_sec: f64,
    /// Acks per second, over the last interval.
    pub acked_per_sec: f64,
    /// Publish→ack p99 (ns) of the 1-second latency intervals that closed in the last interval.
    pub ack_p99_ns: Option<u64>,
    /// So far (the same meaning as result.json's `counts`, at this moment):
    pub published: u64,
    pub acked: u64,
    pub in_flight: u64,
    pub duplicate_acks: u64,
    pub failed: u64,
    pub unknown: u64,
    pub in_process: u64,
    pub rejected: u64,
    pub unresolved: u64,
    /// Acks completed after a later-published message of their key.
    pub late_per_key: u64,
    pub faults_started: u64,
    pub faults_ended: u64,
    /// The follower's figures so far (a following run).
    pub stored: Option<StoreSoFar>,
    /// jsbench's resident memory now.
    pub rss_bytes: Option<u64>,
}

/// The line from the previous snapshot, this one, the latencies closed in between and the RSS.
pub fn line(prev: &Snapshot, now: &Snapshot, latency: IntervalLatency, rss: Option<u64>) -> Line {
    let secs = now.at.saturating_sub(prev.at).as_secs_f64();
    let rate = |a: u64, b: u64| {
        if secs > 0.0 {
            b.saturating_sub(a) as f64 / secs
        } else {
            0.0
        }
    };
    Line {
        elapsed: now.at,
        published_per_sec: rate(prev.published, now.published),
        acked_per_sec: rate(prev.acks, now.acks),
        ack_p99_ns: latency.p99_ns,
        published: now.published,
        acked: now.count(Outcome::Ok) + now.count(Outcome::Duplicate),
        in_flight: now.count(Outcome::InFlight),
        duplicate_acks: now.count(Outcome::Duplicate),
        failed: now.count(Outcome::Fail),
        unknown: now.count(Outcome::Unknown),
        in_process: now.count(Outcome::InProcess),
        rejected: now.count(Outcome::Rejected),
        unresolved: now.count(Outcome::Unresolved),
        late_per_key: now.late_per_key,
        faults_started: now.faults_started,
        faults_ended: now.faults_ended,
        stored: now.stored,
        rss_bytes: rss,
    }
}

impl Line {
    /// `live <name> t=… pub/s=… …`: space-separated `field=value`, so logs grep and split
    /// easily. `in_process`, `rejected` and `unresolved` appear only when not 0.
    pub fn render(&self, name: &str) -> String {
        let mut s = format!(
            "live {name} t={:.1}s pub/s={:.0} ack/s={:.0} ack_p99=",
            self.elapsed.as_secs_f64(),
            self.published_per_sec,
            self.acked_per_sec
        );
        match self.ack_p99_ns {
            Some(ns) => {
                let _ = write!(s, "{:.3}ms", ns as f64 / 1e6);
            }
            None => s.push('-'),
        }
        let _ = write!(
            s,
            " published={} acked={} in_flight={} dup_acks={} failed={} unknown={}",
            self.published,
            self.acked,
            self.in_flight,
            self.duplicate_acks,
            self.failed,
            self.unknown
        );
        for (name, n) in [
            ("in_process", self.in_process),
            ("rejected", self.rejected),
            ("unresolved", self.unresolved),
        ] {
            if n > 0 {
                let _ = write!(s, " {name}={n}");
            }
        }
        let _ = write!(s, " late_per_key={}", self.late_per_key);
        if let Some(st) = self.stored {
            let _ = write!(
                s,
                " stored={} stored_dups={} storage_late_per_key={}",
                st.read, st.duplicates, st.late_per_key
            );
        }
        let _ = write!(
            s,
            " faults={}/{} rss=",
            self.faults_started, self.faults_ended
        );
        match self.rss_bytes {
            Some(b) => {
                let _ = write!(s, "{}MiB", b / (1024 * 1024));
            }
            None => s.push('-'),
        }
        s
    }
}

/// This process's resident memory now (Linux `VmRSS`), when the OS says.
pub fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse::<u64>()
        .ok()?;
    Some(kb * 1024)
}

/// The run's live line between two lines: what the previous one saw, when the next is due.
#[derive(Debug)]
pub struct LiveLog {
    spec: LiveSpec,
    name: String,
    prev: Snapshot,
    next_due: Duration,
    /// The streaming checkers' counters, when the run follows its stream.
    store: Option<Arc<StoreLive>>,
}

impl LiveLog {
    pub fn new(spec: LiveSpec, name: String) -> LiveLog {
        LiveLog {
            spec,
            name,
            prev: Snapshot::default(),
            next_due: spec.every,
            store: None,
        }
    }

    /// Adds the follower's figures to every line.
    pub fn with_store(mut self, store: Option<Arc<StoreLive>>) -> LiveLog {
        self.store = store;
        self
    }

    /// When the next line is due, from the phase start.
    pub fn next_due(&self) -> Duration {
        self.next_due
    }

    /// Takes a snapshot `at` (at or after the due time); the line to print, or `None` before
    /// [`LiveSpec::first_after`]. The interval still closes then, so the first printed line is
    /// over one interval like every other.
    pub fn sample(&mut self, p: &Progress, at: Duration) -> Option<String> {
        let mut now = Snapshot::read(p, at);
        now.stored = self.store.as_ref().map(|s| s.so_far());
        let l = line(&self.prev, &now, p.live.ack_latency.take(), rss_bytes());
        self.prev = now;
        while self.next_due <= at {
            self.next_due += self.spec.every;
        }
        (at >= self.spec.first_after).then(|| l.render(&self.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(at_s: u64, published: u64, acks: u64) -> Snapshot {
        Snapshot {
            at: Duration::from_secs(at_s),
            published,
            acks,
            ..Default::default()
        }
    }

    #[test]
    fn rates_are_over_the_interval_and_counts_so_far() {
        let prev = snap(10, 10_000, 9_000);
        let mut now = snap(20, 30_000, 28_000);
        now.outcomes[Outcome::Ok as usize] = 27_990;
        now.outcomes[Outcome::Duplicate as usize] = 10;
        now.outcomes[Outcome::InFlight as usize] = 1_950;
        now.outcomes[Outcome::Fail as usize] = 40;
        now.outcomes[Outcome::Unknown as usize] = 10;
        now.late_per_key = 7;
        now.faults_started = 3;
        now.faults_ended = 2;
        let lat = IntervalLatency {
            count: 19_000,
            p99_ns: Some(12_345_678),
        };
        let l = line(&prev, &now, lat, Some(300 * 1024 * 1024 + 5));
        assert_eq!(l.published_per_sec, 2_000.0);
        assert_eq!(l.acked_per_sec, 1_900.0);
        assert_eq!(l.acked, 28_000);
        assert_eq!(
            l.render("soak"),
            "live soak t=20.0s pub/s=2000 ack/s=1900 ack_p99=12.346ms published=30000 \
             acked=28000 in_flight=1950 dup_acks=10 failed=40 unknown=10 late_per_key=7 \
             faults=3/2 rss=300MiB"
        );
    }

    #[test]
    fn rare_outcomes_show_only_when_present_and_nothing_is_invented() {
        let prev = snap(0, 0, 0);
        let mut now = snap(0, 5, 0);
        now.outcomes[Outcome::Rejected as usize] = 2;
        let l = line(&prev, &now, IntervalLatency::default(), None);
        // No time passed: no rate; no closed interval: no p99; no RSS known: none shown.
        assert_eq!(l.published_per_sec, 0.0);
        let s = l.render("x");
        assert!(s.contains(" ack_p99=- "), "{s}");
        assert!(s.contains(" rejected=2 late_per_key=0"), "{s}");
        assert!(!s.contains("in_process"), "{s}");
        assert!(s.ends_with(" rss=-"), "{s}");
    }

    #[test]
    fn a_following_run_shows_what_its_follower_read_so_far() {
        let store = Arc::new(StoreLive::default());
        let spec = LiveSpec {
            every: Duration::from_secs(1),
            first_after: Duration::from_secs(1),
        };
        let p = Progress::default();
        let mut log = LiveLog::new(spec, "x".into()).with_store(Some(store.clone()));
        let s = log.sample(&p, Duration::from_secs(1)).unwrap();
        assert!(
            s.contains(" late_per_key=0 stored=0 stored_dups=0 storage_late_per_key=0 faults="),
            "{s}"
        );
        // Without a follower, none of it.
        let mut plain = LiveLog::new(spec, "x".into());
        let s = plain.sample(&p, Duration::from_secs(1)).unwrap();
        assert!(!s.contains("stored="), "{s}");
    }

    #[test]
    fn modes_parse_and_schedule() {
        assert_eq!(LiveMode::parse("auto"), Ok(LiveMode::Auto));
        assert_eq!(LiveMode::parse("off"), Ok(LiveMode::Off));
        assert_eq!(
            LiveMode::parse("10s"),
            Ok(LiveMode::Every(Duration::from_secs(10)))
        );
        assert!(LiveMode::parse("500ms").is_err());
        assert!(LiveMode::parse("often").unwrap_err().contains("auto, off"));
        let min = Duration::from_secs(60);
        assert_eq!(schedule(LiveMode::Auto, Some(min - MIN_EVERY)), None);
        assert_eq!(
            schedule(LiveMode::Auto, Some(min)),
            Some(LiveSpec {
                every: AUTO_EVERY,
                first_after: AUTO_EVERY
            })
        );
        assert_eq!(
            schedule(LiveMode::Auto, None).unwrap().first_after,
            AUTO_FROM
        );
        assert_eq!(schedule(LiveMode::Off, Some(min * 60)), None);
        let every = Duration::from_secs(2);
        assert_eq!(
            schedule(LiveMode::Every(every), Some(MIN_EVERY)),
            Some(LiveSpec {
                every,
                first_after: every
            })
        );
    }

    #[test]
    fn the_log_prints_from_first_after_and_keeps_its_cadence() {
        let p = Progress::default();
        let spec = LiveSpec {
            every: Duration::from_secs(10),
            first_after: Duration::from_secs(20),
        };
        let mut log = LiveLog::new(spec, "x".into());
        assert_eq!(log.next_due(), Duration::from_secs(10));
        p.published.store(100, Ordering::Relaxed);
        assert!(log.sample(&p, Duration::from_millis(10_050)).is_none());
        assert_eq!(log.next_due(), Duration::from_secs(20));
        p.published.store(300, Ordering::Relaxed);
        let s = log.sample(&p, Duration::from_millis(20_050)).unwrap();
        // 200 messages over the 10 s since the silent sample.
        assert!(s.starts_with("live x t=20.1s pub/s=20 "), "{s}");
        // A late wake-up skips the missed due times instead of printing a burst.
        log.sample(&p, Duration::from_secs(45));
        assert_eq!(log.next_due(), Duration::from_secs(50));
    }
    /// The history's live tally, fed by the same calls the publisher makes, ends with the
    /// figures the end-of-run analysis computes from the whole history.
    #[test]
    fn the_tally_ends_where_the_analysis_does() {
        use crate::record::history::History;
        use crate::record::observe::LiveTally;
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let (n, keys) = (2_000u32, 5u32);
        let p = std::sync::Arc::new(Progress::default());
        let mut h = History::new((0..n).map(|_| rng.random_range(0..keys)).collect(), keys);
        h.live = Some(LiveTally::new(p.clone(), keys));
        h.published = n as u64;
        // Sent in order; answered in a shuffled order, some failing, some failing then retried.
        for i in 0..n {
            h.set_outcome(i as usize, Outcome::InFlight);
        }
        let mut order: Vec<u32> = (0..n).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, rng.random_range(0..=i));
        }
        for &i in &order {
            match rng.random_range(0..10) {
                0 => h.record_failure(i, Outcome::Fail, "broken_pipe"),
                1 => h.record_failure(i, Outcome::Unknown, "timed_out"),
                2 => {
                    h.record_failure(i, Outcome::Fail, "no_responders");
                    h.set_outcome(i as usize, Outcome::InFlight);
                    h.record_ack(i, 1, true, 0);
                }
                3 => {} // still awaiting its ack
                _ => h.record_ack(i, 1, false, 0),
            }
        }
        let c = h.outcome_counts();
        let s = Snapshot::read(&p, Duration::from_secs(1));
        let l = line(&Snapshot::default(), &s, IntervalLatency::default(), None);
        assert_eq!(l.acked, c.ok + c.duplicate_acks);
        assert_eq!(s.acks, l.acked);
        assert_eq!(l.duplicate_acks, c.duplicate_acks);
        assert_eq!(l.failed, c.failed);
        assert_eq!(l.unknown, c.unknown);
        assert_eq!(l.in_flight, c.in_flight);
        assert!(l.failed > 0 && l.unknown > 0 && l.duplicate_acks > 0 && l.in_flight > 0);
        let figs = crate::checker::divergence(
            &h.completion.iter().collect::<Vec<_>>(),
            &h.keys,
            h.num_keys,
        );
        assert!(figs.late_per_key > 0);
        assert_eq!(l.late_per_key, figs.late_per_key);
    }
}
