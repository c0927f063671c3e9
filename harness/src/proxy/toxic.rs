//! The toxics and their scheduling: what each fault is (named as in Toxiproxy), and the small
//! decisions the copy loop asks of it — when a chunk is due, how big a slice to write, when the
//! next write may go.
//!
//! Latency delays a chunk by its arrival time (plus seeded jitter, never reordering bytes);
//! bandwidth and slicer pace at write time; timeout (and a zero bandwidth) hold the bytes until
//! the toxic changes.

use std::time::Duration;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use tokio::time::Instant;

/// Which way a toxic applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Client → server.
    Upstream,
    /// Server → client.
    Downstream,
    /// Both directions.
    Both,
}

/// A network fault, named as in Toxiproxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Toxic {
    /// Delay every chunk by `latency` ± a uniform, seeded `jitter`. Bytes are never reordered:
    /// a chunk is delivered at `max(previous delivery, arrival + delay)`.
    Latency { latency: Duration, jitter: Duration },
    /// Limit throughput to `bytes_per_sec` (0 holds the bytes, like `Timeout`).
    Bandwidth { bytes_per_sec: u64 },
    /// Split data into slices of `average_size` ± `size_variation` bytes, `delay` apart.
    Slicer {
        average_size: usize,
        size_variation: usize,
        delay: Duration,
    },
    /// Blackhole: hold the bytes (the connection stays open) until cleared.
    Timeout,
    /// One-shot: close every existing link with a TCP RST on both sides. New connections are
    /// accepted normally. Does not change the directional toxics; the direction is ignored.
    ResetPeer,
    /// Close new connections at once (RST) and drop existing links, until `clear`. The direction
    /// is ignored; setting a directional toxic later does not end the outage.
    Down,
}

/// One direction of a link, for picking the toxic, the counter and the jitter RNG.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Dir {
    Up,
    Down,
}

impl Direction {
    /// Whether a toxic set for `self` applies to the link direction `dir`.
    pub(super) fn includes(self, dir: Dir) -> bool {
        match dir {
            Dir::Up => matches!(self, Direction::Upstream | Direction::Both),
            Dir::Down => matches!(self, Direction::Downstream | Direction::Both),
        }
    }
}

/// Derives an independent RNG seed per link and direction (splitmix64 finaliser).
pub(super) fn mix(seed: u64, n: u64) -> u64 {
    let mut z = seed ^ n.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// When a chunk arriving now may be delivered. Only latency delays by arrival; the other toxics
/// pace at write time.
pub(super) fn due_time(
    toxic: Option<Toxic>,
    rng: &mut ChaCha8Rng,
    last_due: &mut Instant,
) -> Instant {
    let now = Instant::now();
    let due = match toxic {
        Some(Toxic::Latency { latency, jitter }) => {
            let delay = if jitter.is_zero() {
                latency
            } else {
                let j = jitter.as_nanos().min(u64::MAX as u128 / 2) as u64;
                let offset = rng.random_range(0..=2 * j) as i128 - j as i128;
                let nanos = (latency.as_nanos() as i128 + offset).max(0);
                Duration::from_nanos(nanos.min(u64::MAX as i128) as u64)
            };
            // Never before the previous chunk: jitter must not reorder bytes.
            (now + delay).max(*last_due)
        }
        _ => now,
    };
    *last_due = due;
    due
}

/// When the head of the held bytes may be written under `toxic`: at its due time (latency), at
/// the pace (bandwidth, slicer), at once (no toxic any more: flush in order), or `None` to hold
/// it until the toxic changes.
pub(super) fn release_at(
    toxic: Option<Toxic>,
    head_due: Instant,
    pace_next: Instant,
) -> Option<Instant> {
    match toxic {
        Some(Toxic::Timeout) | Some(Toxic::Bandwidth { bytes_per_sec: 0 }) => None,
        Some(Toxic::Latency { .. }) => Some(head_due),
        Some(Toxic::Bandwidth { .. }) | Some(Toxic::Slicer { .. }) => Some(pace_next),
        // No toxic (just cleared): flush what is queued, in order.
        _ => Some(Instant::now()),
    }
}

/// How many bytes of the head chunk to write in one go under the current toxic.
pub(super) fn slice_len(toxic: Option<Toxic>, rng: &mut ChaCha8Rng, remaining: usize) -> usize {
    let len = match toxic {
        Some(Toxic::Slicer {
            average_size,
            size_variation,
            ..
        }) => {
            let avg = average_size.max(1);
            let var = size_variation.min(avg - 1);
            rng.random_range(avg - var..=avg + var)
        }
        // Slices of ~50 ms worth of bytes keep the rate smooth at any chunk size (never more
        // than the chunk: one read, so at most the copy loop's buffer).
        Some(Toxic::Bandwidth { bytes_per_sec }) => {
            (bytes_per_sec / 20).clamp(1, remaining as u64) as usize
        }
        _ => remaining,
    };
    len.clamp(1, remaining)
}

/// The earliest time the next slice may be written, after writing `slice` bytes that started
/// at `started` (bandwidth: the time those bytes take at the rate; slicer: its delay).
pub(super) fn next_pace(
    toxic: Option<Toxic>,
    pace_next: Instant,
    started: Instant,
    slice: usize,
) -> Instant {
    match toxic {
        Some(Toxic::Slicer { delay, .. }) => Instant::now() + delay,
        Some(Toxic::Bandwidth { bytes_per_sec }) if bytes_per_sec > 0 => {
            pace_next.max(started) + Duration::from_secs_f64(slice as f64 / bytes_per_sec as f64)
        }
        _ => Instant::now(),
    }
}
