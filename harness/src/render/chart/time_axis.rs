//! The time axis shared by the throughput and consume timelines: seconds since the measured
//! phase started along x, a rate or count up y, and per-bucket counts turned into rates.

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

/// Counts per bucket as `(seconds at the bucket's middle, per second)`; empty without a bucket
/// width.
pub(super) fn bucket_rates(bucket_ms: f64, counts: &[u64]) -> Vec<(f64, f64)> {
    if bucket_ms <= 0.0 {
        return Vec::new();
    }
    let per_sec = 1000.0 / bucket_ms;
    counts
        .iter()
        .enumerate()
        .map(|(i, &n)| ((i as f64 + 0.5) * bucket_ms / 1000.0, n as f64 * per_sec))
        .collect()
}

/// The largest of `values`, at least `floor`: an axis top that is never 0.
pub(super) fn peak(values: impl Iterator<Item = f64>, floor: f64) -> f64 {
    values.fold(0.0f64, f64::max).max(floor)
}
