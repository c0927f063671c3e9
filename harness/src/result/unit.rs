//! The units of result figures: how a figure's unit is written, and the unit a large latency
//! reads better in. Outputs decide on a unit by this type, never by comparing its text.

use serde::Serialize;

/// A unit of a figure, serialized as outputs write it ("msgs/s", "µs", "ms").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Unit {
    #[serde(rename = "msgs/s")]
    MsgsPerSec,
    /// The unit of every latency in result.json (`latency_us`).
    #[serde(rename = "µs")]
    Micros,
    /// Latencies on an axis once they are large ([`Unit::readable`]).
    #[serde(rename = "ms")]
    Millis,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::MsgsPerSec => "msgs/s",
            Unit::Micros => "µs",
            Unit::Millis => "ms",
        }
    }

    /// The unit values up to `max` (in this unit) read best in, and what they are divided by to
    /// be in it: µs read as ms once the largest reaches 10 ms; every other unit stays.
    pub fn readable(self, max: f64) -> (Unit, f64) {
        match self {
            Unit::Micros if max >= 10_000.0 => (Unit::Millis, 1000.0),
            u => (u, 1.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialized_as_written() {
        for u in [Unit::MsgsPerSec, Unit::Micros, Unit::Millis] {
            assert_eq!(serde_json::to_value(u).unwrap(), u.as_str());
        }
    }

    #[test]
    fn large_latencies_read_in_ms() {
        assert_eq!(Unit::Micros.readable(9_999.0), (Unit::Micros, 1.0));
        assert_eq!(Unit::Micros.readable(10_000.0), (Unit::Millis, 1000.0));
        assert_eq!(Unit::MsgsPerSec.readable(1e9), (Unit::MsgsPerSec, 1.0));
    }
}
