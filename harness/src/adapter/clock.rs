//! Aligning the adapter's clock with jsbench's (docs/adapters.md "Clocks"): the NTP method over
//! a set of probes. Pure, so that it is tested on numbers alone.
//!
//! A probe is three readings: jsbench's clock when it wrote `c n` (`j0`), the adapter's clock in
//! its answer (`t`), and jsbench's clock when the answer arrived (`j1`). The adapter read its
//! clock somewhere inside `[j0, j1]`; assuming the middle, its offset is `t − (j0 + j1) / 2`,
//! wrong by at most half the round trip. The probe with the smallest round trip bounds the error
//! best, so it alone is used (queueing only ever adds to a round trip).

use serde::Serialize;

/// Probes per set: before publishing, and again after (for the drift).
pub const PROBES: u64 = 16;

/// One probe's readings (ns): jsbench's clock at `j0` and `j1`, the adapter's at `t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    pub j0: u64,
    pub t: u64,
    pub j1: u64,
}

/// The offset of the adapter's clock (adapter − jsbench, ns) and how sure it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Fit {
    pub offset_ns: i64,
    /// Half the round trip of the probe used: the offset is right within ± this.
    pub uncertainty_ns: u64,
    pub round_trip_ns: u64,
}

/// The fit of a set of probes (the smallest round trip wins; the earliest among equals), or
/// None for no probes.
pub fn fit(probes: &[Probe]) -> Option<Fit> {
    let best = probes.iter().min_by_key(|p| p.j1.saturating_sub(p.j0))?;
    let rtt = best.j1.saturating_sub(best.j0);
    // Twice the midpoint, in i128: no overflow and no rounding before the one division.
    let twice_mid = best.j0 as i128 + best.j1 as i128;
    let offset = (2 * best.t as i128 - twice_mid).div_euclid(2);
    Some(Fit {
        offset_ns: offset.clamp(i64::MIN as i128, i64::MAX as i128) as i64,
        uncertainty_ns: rtt.div_ceil(2),
        round_trip_ns: rtt,
    })
}

/// How far the adapter's clock moved against jsbench's between two fits (ns; positive: the
/// adapter's runs fast).
pub fn drift(before: &Fit, after: &Fit) -> i64 {
    after.offset_ns.saturating_sub(before.offset_ns)
}

/// An adapter time on jsbench's clock (ns since the run's start); a time before jsbench's
/// origin (only possible within the uncertainty) is 0.
#[inline]
pub fn to_local(t: u64, offset_ns: i64) -> u64 {
    let local = t as i128 - offset_ns as i128;
    local.clamp(0, u64::MAX as i128) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(j0: u64, t: u64, j1: u64) -> Probe {
        Probe { j0, t, j1 }
    }

    #[test]
    fn the_smallest_round_trip_decides() {
        // Adapter clock = jsbench + 1_000_000. Slow probes lie (answer read late); the fast one
        // is used.
        let probes = [
            p(100, 1_000_400, 900),     // rtt 800, mid 500 → offset 999_900
            p(2_000, 1_003_010, 2_020), // rtt 20, mid 2010 → offset 1_001_000
            p(5_000, 1_005_500, 6_000), // rtt 1000
        ];
        let f = fit(&probes).unwrap();
        assert_eq!(f.round_trip_ns, 20);
        assert_eq!(f.uncertainty_ns, 10);
        assert_eq!(f.offset_ns, 1_001_000);
        assert_eq!(fit(&[]), None);
    }

    #[test]
    fn offsets_may_be_negative_and_huge() {
        // An adapter whose clock started after jsbench's (offset < 0), and one on
        // CLOCK_MONOTONIC since boot (offset near u64::MAX / 2).
        let f = fit(&[p(10_000, 3_000, 10_010)]).unwrap();
        assert_eq!(f.offset_ns, 3_000 - 10_005);
        let big = u64::MAX / 2;
        let f = fit(&[p(1, big, 3)]).unwrap();
        assert_eq!(f.offset_ns, (big - 2) as i64);
        // An odd round trip: uncertainty rounds up, the offset rounds down.
        let f = fit(&[p(0, 10, 3)]).unwrap();
        assert_eq!((f.offset_ns, f.uncertainty_ns), (8, 2));
        // A clock reading that would overflow i64 saturates instead of wrapping.
        let f = fit(&[p(0, u64::MAX, 0)]).unwrap();
        assert_eq!(f.offset_ns, i64::MAX);
    }

    #[test]
    fn conversion_and_drift() {
        let before = fit(&[p(1_000, 501_000, 1_000)]).unwrap(); // offset 500_000
        assert_eq!(to_local(600_000, before.offset_ns), 100_000);
        assert_eq!(to_local(100, before.offset_ns), 0);
        assert_eq!(to_local(100, -50), 150);
        // 10 s later the adapter's clock is 2 µs ahead.
        let after = fit(&[p(10_000_001_000, 10_000_503_000, 10_000_001_000)]).unwrap();
        assert_eq!(drift(&before, &after), 2_000);
        // Equal round trips: the earliest probe is used.
        let f = fit(&[p(0, 100, 10), p(100, 300, 110)]).unwrap();
        assert_eq!(f.offset_ns, 95);
    }
}
