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

/// Everything recorded during one phase.
#[derive(Debug)]
pub struct Recorder {
    /// Actual send → ack arrival.
    pub publish_ack: Histogram<u64>,
    /// Open loop: intended send time → actual send (how far the publisher fell behind).
    pub send_delay: Option<Histogram<u64>>,
    /// Open loop: intended send time → ack arrival (latency corrected for coordinated omission).
    pub intended_ack: Option<Histogram<u64>>,
    pub timeline: Timeline,
    /// Phase start and end (first send, last ack or failure), ns on the run clock.
    pub started_ns: u64,
    pub ended_ns: u64,
}

impl Recorder {
    pub fn new(open_loop: bool, bucket: Duration, expected: Option<Duration>) -> Recorder {
        Recorder {
            publish_ack: latency_histogram(),
            send_delay: open_loop.then(latency_histogram),
            intended_ack: open_loop.then(latency_histogram),
            timeline: Timeline::new(bucket, expected),
            started_ns: 0,
            ended_ns: 0,
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
    fn histogram_saturates_instead_of_failing() {
        let mut h = latency_histogram();
        h.saturating_record(u64::MAX);
        h.saturating_record(5);
        assert_eq!(h.len(), 2);
    }
}
