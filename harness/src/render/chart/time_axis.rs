//! The time axis shared by the throughput and consume timelines: seconds since the measured
//! phase started along x, a rate or count up y, and per-bucket counts turned into rates, merged
//! into at most [`MAX_POINTS`] points so an hour-long run still draws a readable line.

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::canvas::{DESC_SIZE, FONT, LABEL_SIZE};
use super::palette::GRID_COLOR;
use super::ticks::fmt_num;
use super::ChartError;

/// What every timeline's x axis says.
pub(super) const TIME_DESC: &str = "time since the measured phase started (s)";

/// A time axis chart: seconds along x, a linear quantity up y.
pub(super) type TimeChart<'a, 's> =
    ChartContext<'a, SVGBackend<'s>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// The axes and grid of a time chart; `x_desc` is `None` for an upper panel that shares the x
/// axis with the one below it.
pub(super) fn time_mesh(
    chart: &mut TimeChart<'_, '_>,
    x_desc: Option<&str>,
    y_desc: &str,
) -> Result<(), ChartError> {
    let mut mesh = chart.configure_mesh();
    if let Some(d) = x_desc {
        mesh.x_desc(d);
    }
    mesh.y_desc(y_desc)
        .y_label_formatter(&|v| fmt_num(*v))
        .x_label_formatter(&|v| fmt_num(*v))
        .label_style((FONT, LABEL_SIZE))
        .axis_desc_style((FONT, DESC_SIZE))
        .light_line_style(WHITE)
        .bold_line_style(GRID_COLOR)
        .draw()?;
    Ok(())
}

/// Most points a timeline draws per series. Beyond that adjacent buckets are merged (an hour at
/// 100 ms buckets, 36,000 of them, becomes 600 points of 6 s): a line of tens of thousands of
/// points is an unreadable smear and a heavy page. Only the drawing is merged; result.json keeps
/// every bucket.
pub(super) const MAX_POINTS: usize = 600;

/// Adjacent buckets merged into one drawn point for `n` buckets.
pub(super) fn merge_factor(n: usize) -> usize {
    n.div_ceil(MAX_POINTS).max(1)
}

/// Buckets merged [`merge_factor`] at a time: `(start s, width s, values of the group)`. The last
/// group may hold fewer buckets; its width says how many.
fn groups(bucket_ms: f64, values: &[u64]) -> impl Iterator<Item = (f64, f64, &[u64])> {
    let k = merge_factor(values.len());
    values.chunks(k).enumerate().map(move |(g, c)| {
        let start = (g * k) as f64 * bucket_ms / 1000.0;
        (start, c.len() as f64 * bucket_ms / 1000.0, c)
    })
}

/// Counts per bucket as `(seconds at the middle, per second)`; empty without a bucket width.
/// Counts of merged buckets are summed and divided by the merged width, so the area under the
/// line (the messages) is kept.
pub(super) fn bucket_rates(bucket_ms: f64, counts: &[u64]) -> Vec<(f64, f64)> {
    if bucket_ms <= 0.0 {
        return Vec::new();
    }
    groups(bucket_ms, counts)
        .map(|(start, width, c)| {
            let sum: u64 = c.iter().sum();
            (start + width / 2.0, sum as f64 / width)
        })
        .collect()
}

/// A level sampled at each bucket's end (e.g. a backlog) as `(seconds at the end, level)`;
/// merged buckets keep their highest level, so a peak is never drawn lower than it was.
pub(super) fn bucket_levels(bucket_ms: f64, levels: &[u64]) -> Vec<(f64, f64)> {
    if bucket_ms <= 0.0 {
        return Vec::new();
    }
    groups(bucket_ms, levels)
        .map(|(start, width, c)| {
            let max = c.iter().copied().max().unwrap_or(0);
            (start + width, max as f64)
        })
        .collect()
}

/// The largest of `values`, at least `floor`: an axis top that is never 0.
pub(super) fn peak(values: impl Iterator<Item = f64>, floor: f64) -> f64 {
    values.fold(0.0f64, f64::max).max(floor)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An hour at 100 ms buckets, with an outage and a spike.
    fn hour() -> Vec<u64> {
        (0..36_000u64)
            .map(|i| match i {
                10_000..=10_070 => 0,
                20_000 => 5_000,
                _ => 100 + i % 7,
            })
            .collect()
    }

    #[test]
    fn an_hour_is_drawn_in_a_bounded_number_of_points_keeping_the_messages() {
        let counts = hour();
        let pts = bucket_rates(100.0, &counts);
        assert!(pts.len() <= MAX_POINTS, "{} points", pts.len());
        assert!(pts.len() >= MAX_POINTS / 2, "{} points", pts.len());
        // Rate × width over the points gives back every message.
        let k = merge_factor(counts.len());
        let width = k as f64 * 0.1;
        let drawn: f64 = pts.iter().map(|p| p.1 * width).sum();
        let total: u64 = counts.iter().sum();
        assert!(
            (drawn - total as f64).abs() < 1e-6 * total as f64,
            "{drawn} vs {total}"
        );
        // Points stay in time order, within the hour, each at its group's middle.
        assert!(pts.windows(2).all(|w| w[0].0 < w[1].0));
        assert!((pts[0].0 - width / 2.0).abs() < 1e-9);
        assert!(pts.last().unwrap().0 < 3_600.0);
        // The outage (7 s without an ack) still shows as a dip.
        let typical = pts[0].1;
        assert!(
            pts.iter().any(|p| p.1 < typical * 0.2),
            "outage merged away"
        );
    }

    #[test]
    fn a_short_last_group_is_a_rate_over_its_own_width() {
        // 1,201 buckets of 1 s: merged 3 at a time; the last group holds one bucket.
        let counts = vec![10u64; 1_201];
        let pts = bucket_rates(1_000.0, &counts);
        assert_eq!(merge_factor(counts.len()), 3);
        assert_eq!(pts.len(), 401);
        assert!(
            pts.iter().all(|p| (p.1 - 10.0).abs() < 1e-9),
            "{:?}",
            pts.last()
        );
        assert!((pts.last().unwrap().0 - 1_200.5).abs() < 1e-9);
    }

    #[test]
    fn short_timelines_are_drawn_bucket_by_bucket() {
        assert_eq!(
            bucket_rates(500.0, &[1, 2, 3]),
            vec![(0.25, 2.0), (0.75, 4.0), (1.25, 6.0)]
        );
        assert_eq!(bucket_levels(500.0, &[4, 2]), vec![(0.5, 4.0), (1.0, 2.0)]);
        assert!(bucket_rates(0.0, &[1]).is_empty());
    }

    #[test]
    fn merged_levels_keep_their_peak() {
        let mut levels = vec![3u64; 36_000];
        levels[20_001] = 90_000;
        let pts = bucket_levels(100.0, &levels);
        assert!(pts.len() <= MAX_POINTS);
        assert_eq!(pts.iter().map(|p| p.1 as u64).max(), Some(90_000));
        assert!((pts.last().unwrap().0 - 3_600.0).abs() < 1e-6);
    }
}
