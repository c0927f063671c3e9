//! Observations made while publishing: the run clock, latency histograms, the throughput
//! timeline, and the wire tap that records the order ack replies reach the client.
//!
//! Everything here is on the hot path, so it only does pre-allocated work: an HdrHistogram
//! record, an indexed counter increment, one atomic fetch-add per ack. No logging.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// Monotonic nanoseconds since the run started.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    start: Instant,
}

impl Clock {
    pub fn start() -> Clock {
        Clock {
            start: Instant::now(),
        }
    }

    pub fn now_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    pub fn instant_at(&self, ns: u64) -> Instant {
        self.start + Duration::from_nanos(ns)
    }
}

/// Highest latency tracked: one hour, in ns (larger values saturate).
const MAX_TRACKABLE_NS: u64 = 3_600_000_000_000;

/// A latency histogram in nanoseconds with 3 significant digits.
pub fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_TRACKABLE_NS, 3).expect("static histogram bounds are valid")
}

/// Counts per fixed time bucket (acks and publishes over time).
#[derive(Debug, Clone)]
pub struct Timeline {
    pub bucket_ns: u64,
    /// Bucket 0 starts when the measured phase starts.
    pub origin_ns: u64,
    pub acked: Vec<u64>,
    pub published: Vec<u64>,
}

impl Timeline {
    pub fn new(bucket: Duration, expected: Option<Duration>) -> Timeline {
        let bucket_ns = bucket.as_nanos().max(1) as u64;
        let cap = expected.map_or(1024, |d| (d.as_nanos() as u64 / bucket_ns) as usize + 16);
        Timeline {
            bucket_ns,
            origin_ns: 0,
            acked: Vec::with_capacity(cap),
            published: Vec::with_capacity(cap),
        }
    }

    fn slot(v: &mut Vec<u64>, i: usize) -> &mut u64 {
        if i >= v.len() {
            v.resize(i + 1, 0);
        }
        &mut v[i]
    }

    pub fn ack(&mut self, at_ns: u64) {
        let i = (at_ns.saturating_sub(self.origin_ns) / self.bucket_ns) as usize;
        *Self::slot(&mut self.acked, i) += 1;
    }

    pub fn publish(&mut self, at_ns: u64) {
        let i = (at_ns.saturating_sub(self.origin_ns) / self.bucket_ns) as usize;
        *Self::slot(&mut self.published, i) += 1;
    }
}

/// Length of one interval in the HdrHistogram interval logs (`latency-*.hlog`): one second, the
/// interval HdrHistogram's own tools (HistogramLogProcessor, wrk2) use by default.
pub const LOG_INTERVAL: Duration = Duration::from_secs(1);

/// A latency histogram for the whole phase plus the same values split into fixed intervals, so
/// the run can be written as a true HdrHistogram interval log (latency over time, not only one
/// total).
///
/// Hot-path cost: one record into each of two pre-allocated histograms. When an interval ends,
/// its non-empty buckets are copied out (a few hundred pairs) and the interval histogram is reset
/// in place: no allocation of histograms while publishing, and memory grows with the number of
/// distinct latencies per interval, not with the histogram's full bucket array.
#[derive(Debug)]
pub struct LatencyLog {
    /// Every value of the phase.
    pub total: Histogram<u64>,
    current: Histogram<u64>,
    current_idx: u64,
    interval_ns: u64,
    origin_ns: u64,
    /// Finished intervals, in order; empty intervals are left out.
    pub intervals: Vec<Interval>,
    /// Where each finished interval is also handed for the live line, when it is on.
    live: Option<Arc<Progress>>,
}

/// One interval of a [`LatencyLog`]: its index (start = index × interval from the phase start)
/// and its recorded (value, count) pairs, packed ([`Interval::counts`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interval {
    pub index: u64,
    /// The pairs in ascending value, each as two LEB128 varints: the value's increase over the
    /// previous pair's, and the count. About 3 B a pair where `(u64, u64)` is 16: an hour
    /// keeps 3,600 intervals of up to a few thousand pairs per latency kind.
    packed: Box<[u8]>,
}

impl Interval {
    /// An interval of `counts` ((value, count) pairs; sorted here when they are not).
    pub fn new(index: u64, counts: &[(u64, u64)]) -> Interval {
        let mut sorted;
        let mut counts = counts;
        if !counts.is_sorted_by_key(|&(v, _)| v) {
            sorted = counts.to_vec();
            sorted.sort_by_key(|&(v, _)| v);
            counts = &sorted;
        }
        let mut packed = Vec::with_capacity(3 * counts.len());
        let mut prev = 0;
        for &(v, n) in counts {
            put_varint(&mut packed, v - prev);
            put_varint(&mut packed, n);
            prev = v;
        }
        Interval {
            index,
            packed: packed.into_boxed_slice(),
        }
    }

    /// The (value, count) pairs, in ascending value.
    pub fn counts(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        let mut bytes = self.packed.iter().copied();
        let mut prev = 0u64;
        std::iter::from_fn(move || {
            let dv = get_varint(&mut bytes)?;
            let n = get_varint(&mut bytes)?;
            prev += dv;
            Some((prev, n))
        })
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn get_varint(bytes: &mut impl Iterator<Item = u8>) -> Option<u64> {
    let (mut v, mut shift) = (0u64, 0);
    loop {
        let b = bytes.next()?;
        v |= ((b & 0x7f) as u64) << shift;
        if b < 0x80 {
            return Some(v);
        }
        shift += 7;
    }
}

impl LatencyLog {
    pub fn new(interval: Duration) -> LatencyLog {
        LatencyLog {
            total: latency_histogram(),
            current: latency_histogram(),
            current_idx: 0,
            interval_ns: interval.as_nanos().max(1) as u64,
            origin_ns: 0,
            intervals: Vec::new(),
            live: None,
        }
    }

    /// Also hands every finished interval to `progress`'s [`IntervalSink`] (the live line's
    /// interval p99).
    pub fn share_intervals(&mut self, progress: Arc<Progress>) {
        progress.live.ack_latency.prepare();
        self.live = Some(progress);
    }

    /// Sets the phase start (ns on the run clock); intervals count from here.
    pub fn set_origin(&mut self, origin_ns: u64) {
        self.origin_ns = origin_ns;
        if let Some(p) = &self.live {
            p.live.origin_ns.store(origin_ns, Ordering::Relaxed);
        }
    }

    pub fn interval(&self) -> Duration {
        Duration::from_nanos(self.interval_ns)
    }

    /// Records `value_ns` observed at `at_ns` (run clock).
    pub fn record(&mut self, at_ns: u64, value_ns: u64) {
        self.total.saturating_record(value_ns);
        let idx = at_ns.saturating_sub(self.origin_ns) / self.interval_ns;
        // A value observed slightly out of time order stays in the current interval.
        if idx > self.current_idx {
            self.roll();
            self.current_idx = idx;
        }
        self.current.saturating_record(value_ns);
    }

    fn roll(&mut self) {
        if self.current.is_empty() {
            return;
        }
        let counts = self
            .current
            .iter_recorded()
            .map(|v| (v.value_iterated_to(), v.count_at_value()))
            .collect::<Vec<_>>();
        if let Some(p) = &self.live {
            p.live.ack_latency.add(&counts);
        }
        self.intervals
            .push(Interval::new(self.current_idx, &counts));
        self.current.reset();
    }

    /// Closes the last interval (call once the phase has ended).
    pub fn finish(&mut self) {
        self.roll();
    }

    /// The histogram of one finished interval.
    pub fn interval_histogram(&self, i: &Interval) -> Histogram<u64> {
        let mut h = latency_histogram();
        for (v, n) in i.counts() {
            h.saturating_record_n(v, n);
        }
        h
    }
}

/// Everything recorded during one phase.
#[derive(Debug)]
pub struct Recorder {
    /// Actual send → ack arrival, by ack arrival time.
    pub publish_ack: LatencyLog,
    /// How long the application's publish call blocked: from the call until it returned
    /// control (sync: the ack; async: queued, plus any wait for a free slot in the window), by
    /// return time. The latency an async caller feels, beside the ack latency it does not wait
    /// for.
    pub publish_call: LatencyLog,
    /// Open loop: intended send time → actual send (how far the publisher fell behind), by send
    /// time.
    pub send_delay: Option<LatencyLog>,
    /// Open loop: intended send time → ack arrival (latency corrected for coordinated omission),
    /// by ack arrival time.
    pub intended_ack: Option<LatencyLog>,
    pub timeline: Timeline,
    /// Phase start and end (first send, last ack or failure), ns on the run clock.
    pub started_ns: u64,
    pub ended_ns: u64,
}

impl Recorder {
    pub fn new(open_loop: bool, bucket: Duration, expected: Option<Duration>) -> Recorder {
        let log = || LatencyLog::new(LOG_INTERVAL);
        Recorder {
            publish_ack: log(),
            publish_call: log(),
            send_delay: open_loop.then(log),
            intended_ack: open_loop.then(log),
            timeline: Timeline::new(bucket, expected),
            started_ns: 0,
            ended_ns: 0,
        }
    }

    /// Marks the start of the phase: the timeline and the interval logs count from here.
    pub fn start_at(&mut self, ns: u64) {
        self.started_ns = ns;
        self.ended_ns = ns;
        self.timeline.origin_ns = ns;
        self.publish_ack.set_origin(ns);
        self.publish_call.set_origin(ns);
        for l in [self.send_delay.as_mut(), self.intended_ack.as_mut()]
            .into_iter()
            .flatten()
        {
            l.set_origin(ns);
        }
    }

    /// Closes the interval logs.
    pub fn finish(&mut self) {
        self.publish_ack.finish();
        self.publish_call.finish();
        for l in [self.send_delay.as_mut(), self.intended_ack.as_mut()]
            .into_iter()
            .flatten()
        {
            l.finish();
        }
    }
}

/// Shared by every in-flight ack: hands out wire arrival ranks.
#[derive(Debug)]
pub struct WireTap {
    next_rank: AtomicU32,
    clock: Clock,
}

impl WireTap {
    pub fn new(clock: Clock) -> Arc<WireTap> {
        Arc::new(WireTap {
            next_rank: AtomicU32::new(0),
            clock,
        })
    }

    /// Takes the next arrival rank and the arrival time.
    pub fn arrive(&self) -> (u32, u64) {
        let rank = self.next_rank.fetch_add(1, Ordering::Relaxed);
        (rank, self.clock.now_ns())
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }
}

/// What the measured phase has done so far, shared with the task that draws the progress bar and
/// prints the live line (`runner/progress.rs`, `runner/live.rs`). The publisher's task writes,
/// the drawing task reads a few times a second: the hot path only stores numbers.
#[derive(Debug, Default)]
pub struct Progress {
    pub published: AtomicU64,
    pub acked: AtomicU64,
    /// Planned messages (0 when duration-bound).
    pub planned: AtomicU64,
    /// The live line's figures; untouched unless the runner hands [`LiveTally`] to the history
    /// and this to the publish→ack [`LatencyLog`] and the nemesis.
    pub live: LiveFigures,
}

/// Number of [`Outcome`](super::history::Outcome) values (the index range of
/// [`LiveFigures::outcomes`]).
pub const OUTCOMES: usize = 9;

/// The figures of the live line, so far in the measured phase.
#[derive(Debug, Default)]
pub struct LiveFigures {
    /// Messages by their current outcome (index `Outcome as u8`; `NotSent`, index 0, is not
    /// kept): what `History::outcome_counts` would say now. A failed message that is retried
    /// moves back to in flight, so these go down as well as up.
    pub outcomes: [AtomicU64; OUTCOMES],
    /// Acks so far (each message once): what `counts.acked` will say.
    pub acks: AtomicU64,
    /// Acks that completed after a later-published message of their key had completed: the
    /// ack completion order's `late_per_key` so far.
    pub late_per_key: AtomicU64,
    /// Fault windows opened (the fault injected, or its injection tried) and closed (healed, or
    /// the one-shot fault done) so far.
    pub faults_started: AtomicU64,
    pub faults_ended: AtomicU64,
    /// Publish→ack latencies of the [`LOG_INTERVAL`]s closed since the live line last took them.
    pub ack_latency: IntervalSink,
    /// When those intervals count from (ns on the run clock; 0 until the phase starts), so the
    /// live line is sampled just after an interval closes.
    pub origin_ns: AtomicU64,
}

/// Adds one to a counter only one task writes (a load and a store, no locked instruction).
#[inline]
fn bump(a: &AtomicU64, by: u64) {
    a.store(
        a.load(Ordering::Relaxed).wrapping_add(by),
        Ordering::Relaxed,
    );
}

/// Takes one from a counter only one task writes.
#[inline]
fn drop_one(a: &AtomicU64) {
    a.store(a.load(Ordering::Relaxed).wrapping_sub(1), Ordering::Relaxed);
}

/// Closed latency intervals handed from the publisher's task to the live line: the publisher adds
/// an interval's (value, count) pairs once a second (one uncontended lock), the live line takes
/// the sum once per line. No histogram is allocated on the hot path: [`IntervalSink::prepare`]
/// allocates it before the phase.
#[derive(Debug, Default)]
pub struct IntervalSink {
    hist: Mutex<Option<Histogram<u64>>>,
}

/// What the live line takes from an [`IntervalSink`]: how many latencies, and their p99 (ns).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IntervalLatency {
    pub count: u64,
    pub p99_ns: Option<u64>,
}

impl IntervalSink {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Histogram<u64>>> {
        self.hist.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Allocates the histogram (before the phase starts).
    pub fn prepare(&self) {
        self.lock().get_or_insert_with(latency_histogram);
    }

    /// Adds one closed interval.
    pub fn add(&self, counts: &[(u64, u64)]) {
        let mut g = self.lock();
        let h = g.get_or_insert_with(latency_histogram);
        for &(v, n) in counts {
            h.saturating_record_n(v, n);
        }
    }

    /// What was added since the last take, and starts afresh.
    pub fn take(&self) -> IntervalLatency {
        let mut g = self.lock();
        let Some(h) = g.as_mut() else {
            return IntervalLatency::default();
        };
        let out = IntervalLatency {
            count: h.len(),
            p99_ns: (!h.is_empty()).then(|| h.value_at_quantile(0.99)),
        };
        h.reset();
        out
    }
}

/// The history's side of the live line: keeps [`LiveFigures`] as outcomes change and acks
/// complete. Its own memory is one number per key (the latest message of the key acked so far).
#[derive(Debug)]
pub struct LiveTally {
    shared: Arc<Progress>,
    /// Per key, 1 + the highest message index acked so far (0: none yet).
    key_latest: Vec<u32>,
}

impl LiveTally {
    pub fn new(shared: Arc<Progress>, keys: u32) -> LiveTally {
        LiveTally {
            shared,
            key_latest: vec![0; keys as usize],
        }
    }

    /// A message's outcome went from `old` to `new` (`Outcome as u8`).
    #[inline]
    pub fn outcome(&self, old: u8, new: u8) {
        if old == new {
            return;
        }
        let o = &self.shared.live.outcomes;
        if old != 0 {
            if let Some(a) = o.get(old as usize) {
                drop_one(a);
            }
        }
        if let Some(a) = o.get(new as usize) {
            bump(a, 1);
        }
    }

    /// Message `idx` of key `key` was acked (its outcome is told apart through [`Self::outcome`]).
    #[inline]
    pub fn ack(&mut self, key: u32, idx: u32) {
        let live = &self.shared.live;
        bump(&live.acks, 1);
        if let Some(latest) = self.key_latest.get_mut(key as usize) {
            // Late: a later message of its key (a higher index) was acked before it.
            if idx + 1 < *latest {
                bump(&live.late_per_key, 1);
            } else {
                *latest = idx + 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeline_buckets() {
        let mut t = Timeline::new(Duration::from_millis(100), None);
        t.origin_ns = 1_000;
        t.ack(1_000);
        t.ack(100_000_999);
        t.ack(100_001_000);
        t.ack(350_000_000);
        assert_eq!(t.acked, vec![2, 1, 0, 1]);
    }

    #[test]
    fn wire_ranks_are_dense() {
        let tap = WireTap::new(Clock::start());
        assert_eq!(tap.arrive().0, 0);
        assert_eq!(tap.arrive().0, 1);
    }

    #[test]
    fn latency_log_splits_into_intervals() {
        let mut l = LatencyLog::new(Duration::from_secs(1));
        l.set_origin(500);
        l.record(500, 10);
        l.record(999_999_999, 20); // still interval 0 (origin 500)
        l.record(1_000_000_500, 30); // interval 1
        l.record(3_500_000_000, 40); // interval 3; interval 2 had nothing
        l.record(3_400_000_000, 50); // out of time order: stays in interval 3
        l.finish();
        assert_eq!(l.total.len(), 5);
        let idx: Vec<u64> = l.intervals.iter().map(|i| i.index).collect();
        assert_eq!(idx, vec![0, 1, 3]);
        let lens: Vec<u64> = l
            .intervals
            .iter()
            .map(|i| l.interval_histogram(i).len())
            .collect();
        assert_eq!(lens, vec![2, 1, 2]);
        let sum: u64 = lens.iter().sum();
        assert_eq!(sum, l.total.len());
        assert_eq!(l.interval_histogram(&l.intervals[1]).max(), 30);
    }

    #[test]
    fn histogram_saturates_instead_of_failing() {
        let mut h = latency_histogram();
        h.saturating_record(u64::MAX);
        h.saturating_record(5);
        assert_eq!(h.len(), 2);
    }
    #[test]
    fn closed_intervals_reach_the_live_sink_once() {
        let p = Arc::new(Progress::default());
        let mut l = LatencyLog::new(Duration::from_secs(1));
        l.share_intervals(p.clone());
        for v in 1..=100u64 {
            l.record(v, v * 1_000); // interval 0: 1..100 µs
        }
        // Interval 0 is still open: nothing to take yet.
        assert_eq!(p.live.ack_latency.take().count, 0);
        l.record(1_500_000_000, 7); // closes interval 0
        let t = p.live.ack_latency.take();
        assert_eq!(t.count, 100);
        let p99 = t.p99_ns.unwrap();
        assert!((98_900..=99_100).contains(&p99), "{p99}");
        // Taken: the next take starts afresh.
        assert_eq!(p.live.ack_latency.take(), IntervalLatency::default());
        l.finish();
        assert_eq!(p.live.ack_latency.take().count, 1);
        // The hlog's own intervals are unchanged by the sharing.
        assert_eq!(l.intervals.len(), 2);
    }

    #[test]
    fn an_interval_packs_its_pairs_and_gives_them_back() {
        let pairs = [(1u64, 3u64), (2, 1), (1_000_000, 200), (u64::MAX - 1, 1)];
        let i = Interval::new(7, &pairs);
        assert!(i.counts().eq(pairs.iter().copied()));
        // Out of order (a merge of two workers' intervals) comes back sorted.
        let mut shuffled = pairs;
        shuffled.reverse();
        assert_eq!(Interval::new(7, &shuffled), i);
        assert_eq!(Interval::new(0, &[]).counts().count(), 0);
        // A second of 2,000 publish → ack latencies: far below 16 B a pair.
        let mut h = latency_histogram();
        for k in 0..2000u64 {
            h.record(1_000_000 + k * k * 7 % 9_000_000).unwrap();
        }
        let counts: Vec<(u64, u64)> = h
            .iter_recorded()
            .map(|v| (v.value_iterated_to(), v.count_at_value()))
            .collect();
        let packed = Interval::new(0, &counts);
        assert!(
            packed.packed.len() * 3 < counts.len() * 16,
            "{} B for {} pairs",
            packed.packed.len(),
            counts.len()
        );
        assert!(packed.counts().eq(counts.iter().copied()));
    }
}
