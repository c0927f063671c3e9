//! Observations made while publishing: the run clock, latency histograms, the throughput
//! timeline, and the wire tap that records the order ack replies reach the client.
//!
//! Everything here is on the hot path, so it only does pre-allocated work: an HdrHistogram
//! record, an indexed counter increment, one atomic fetch-add per ack. No logging.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
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
}

/// One interval of a [`LatencyLog`]: its index (start = index × interval from the phase start)
/// and its recorded (value, count) pairs.
#[derive(Debug, Clone)]
pub struct Interval {
    pub index: u64,
    pub counts: Vec<(u64, u64)>,
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
        }
    }

    /// Sets the phase start (ns on the run clock); intervals count from here.
    pub fn set_origin(&mut self, origin_ns: u64) {
        self.origin_ns = origin_ns;
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
            .collect();
        self.intervals.push(Interval {
            index: self.current_idx,
            counts,
        });
        self.current.reset();
    }

    /// Closes the last interval (call once the phase has ended).
    pub fn finish(&mut self) {
        self.roll();
    }

    /// The histogram of one finished interval.
    pub fn interval_histogram(&self, i: &Interval) -> Histogram<u64> {
        let mut h = latency_histogram();
        for &(v, n) in &i.counts {
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

/// Progress shared with the progress bar: messages acked so far in the measured phase.
#[derive(Debug, Default)]
pub struct Progress {
    pub published: AtomicU64,
    pub acked: AtomicU64,
    /// Planned messages (0 when duration-bound).
    pub planned: AtomicU64,
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
}
