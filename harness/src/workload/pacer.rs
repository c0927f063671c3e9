//! The pacer: closed loop (as fast as acks allow) or open loop at a target rate, with the
//! intended send time of every message so that latency can be corrected for coordinated
//! omission.

use std::time::Duration;

use crate::scenario::Rate;

/// Intended send times for open-loop runs.
#[derive(Debug, Clone, Copy)]
pub struct Pacer {
    /// Nanoseconds between intended sends; 0 = closed loop.
    interval_ns: f64,
}

impl Pacer {
    pub fn new(rate: Rate) -> Pacer {
        Pacer {
            interval_ns: match rate {
                Rate::Max => 0.0,
                Rate::PerSec(r) => 1e9 / r as f64,
            },
        }
    }

    pub fn is_open_loop(&self) -> bool {
        self.interval_ns > 0.0
    }

    /// Intended send time of message `i`, in ns since the phase started.
    pub fn intended_ns(&self, i: u64) -> u64 {
        (i as f64 * self.interval_ns) as u64
    }

    /// How long to wait before message `i`, given `now_ns` since the phase started. tokio's timer
    /// has ~1 ms resolution, so the wait is rounded and the resulting lateness shows up honestly
    /// in the send-delay histogram.
    pub fn wait(&self, i: u64, now_ns: u64) -> Option<Duration> {
        if !self.is_open_loop() {
            return None;
        }
        let due = self.intended_ns(i);
        (due > now_ns).then(|| Duration::from_nanos(due - now_ns))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pacer_intended_times() {
        let p = Pacer::new(Rate::PerSec(1000));
        assert_eq!(p.intended_ns(0), 0);
        assert_eq!(p.intended_ns(10), 10_000_000);
        assert_eq!(p.wait(10, 4_000_000), Some(Duration::from_millis(6)));
        assert_eq!(p.wait(10, 11_000_000), None);
        assert!(Pacer::new(Rate::Max).wait(5, 0).is_none());
    }
}
