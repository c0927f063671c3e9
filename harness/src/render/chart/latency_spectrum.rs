//! The latency spectrum: per run, latency (y) by percentile on a "nines" axis (x: 90%, 99%,
//! 99.9%, … each step right ten times rarer), drawn from the run's histogram log or from its
//! summary percentiles. The page shows publish → ack, and publish → processed for runs with a
//! consume side.

use std::ops::Range;

use hdrhistogram::Histogram;
use plotters::prelude::*;

use crate::render::view::{RunView, SuiteView};
use crate::result::{self, LatencyKind, LatencySummary, Unit};

use super::canvas::{svg_chart, DESC_SIZE, FONT, LABEL_SIZE};
use super::legend::{legend, LegendItem};
use super::palette::{scenario_color, GRID_COLOR};
use super::ticks::{fmt_num, log_ticks, nice_ticks, Ticked};
use super::{ChartError, Figure};

/// Title of the end-to-end spectrum (the tests look for it).
pub const E2E_TITLE: &str = "Publish → processed (end-to-end) latency by percentile";

/// One scenario's latency by quantile: `(quantile 0..=1, latency µs)`, ascending quantile.
#[derive(Debug, Clone, PartialEq)]
pub struct SpectrumSeries {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// The spectrum's right edge: 99.999%.
const MAX_NINES: f64 = 5.0;

/// x position of a quantile on the "nines" axis: -log10(1 - q), so 90% → 1, 99% → 2, ...
fn nines(q: f64) -> f64 {
    if q >= 1.0 {
        MAX_NINES
    } else {
        (-(1.0 - q).log10()).clamp(0.0, MAX_NINES)
    }
}

fn nines_label(x: f64) -> String {
    let q = 1.0 - 10f64.powf(-x);
    let p = q * 100.0;
    if x < 1e-9 {
        "0%".into()
    } else if (x - x.round()).abs() > 1e-6 {
        format!("{p:.0}%")
    } else {
        // 90%, 99%, 99.9%, ...: as many decimals as nines beyond two.
        let decimals = (x.round() as usize).saturating_sub(2);
        format!("{p:.decimals$}%")
    }
}

/// Samples a histogram recorded in nanoseconds into `(quantile, µs)` points, evenly spaced on the
/// nines axis from the minimum (q = 0) to p99.999: 20 points per nine.
pub fn spectrum_from_histogram(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    if h.is_empty() {
        return Vec::new();
    }
    let steps = (MAX_NINES * 20.0) as i32;
    (0..=steps)
        .map(|i| {
            // The last point exactly at 99.999% (not 0.99999000000001).
            let q = if i == steps {
                1.0 - 1e-5
            } else {
                1.0 - 10f64.powf(-(i as f64) / 20.0)
            };
            (q, h.value_at_quantile(q) as f64 / 1000.0)
        })
        .collect()
}

/// The few points a `LatencySummary` has (p50, p90, p99, p99.9, max), for runs without a
/// histogram log. The max is drawn at the right edge.
pub fn spectrum_from_summary(l: &LatencySummary) -> Vec<(f64, f64)> {
    if l.count == 0 {
        return Vec::new();
    }
    vec![
        (0.5, l.p50),
        (0.9, l.p90),
        (0.99, l.p99),
        (0.999, l.p999),
        (1.0, l.max),
    ]
}

/// One line per scenario: publish → ack latency (y) by percentile on the nines axis (x).
pub fn latency_spectrum(series: &[SpectrumSeries]) -> Result<String, ChartError> {
    latency_spectrum_titled("Publish → ack latency by percentile", series)
}

/// [`latency_spectrum`] of another latency (e.g. end-to-end), under its own title. Series
/// without points are left out but keep their position's colour.
pub fn latency_spectrum_titled(
    title: &str,
    series: &[SpectrumSeries],
) -> Result<String, ChartError> {
    let drawn: Vec<(usize, &SpectrumSeries)> = series
        .iter()
        .enumerate()
        .filter(|(_, s)| s.points.iter().any(|p| p.1 > 0.0))
        .collect();
    if drawn.is_empty() {
        return Err(ChartError::Empty("no latency figures"));
    }
    let y = LatencyAxis::fit(&drawn);
    svg_chart(540, title, |area| {
        let items: Vec<LegendItem> = drawn
            .iter()
            .map(|(i, s)| LegendItem::line(&s.name, scenario_color(*i)))
            .collect();
        let area = legend(&area, &items)?;
        let x_ticks = vec![0.0, nines(0.5), 1.0, 2.0, 3.0, 4.0, 5.0];
        let mut chart = ChartBuilder::on(&area)
            .margin(12)
            .margin_right(36)
            .x_label_area_size(48)
            .y_label_area_size(72)
            .build_cartesian_2d(
                Ticked::new(0.0..MAX_NINES, x_ticks),
                Ticked::new(y.range.clone(), y.ticks.clone()),
            )?;
        chart
            .configure_mesh()
            .x_desc("percentile (log scale of nines: each step right is 10× rarer)")
            .y_desc(y.desc())
            .x_label_formatter(&|x| nines_label(*x))
            .y_label_formatter(&|v| y.tick_label(*v))
            .label_style((FONT, LABEL_SIZE))
            .axis_desc_style((FONT, DESC_SIZE))
            .light_line_style(WHITE)
            .bold_line_style(GRID_COLOR)
            .draw()?;
        for (i, s) in &drawn {
            let pts: Vec<(f64, f64)> = s
                .points
                .iter()
                .filter(|p| p.1 > 0.0)
                .map(|&(q, v)| (nines(q), y.to_y(v)))
                .collect();
            let color = scenario_color(*i);
            chart.draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))?;
            // Few points (a summary, not a histogram): show where they are.
            if pts.len() <= 8 {
                chart.draw_series(
                    pts.iter()
                        .map(|p| Circle::new(*p, 3, color.filled()))
                        .collect::<Vec<_>>(),
                )?;
            }
        }
        Ok(())
    })
}

/// The latency axis fitted to the data: ms once anything reaches 10 ms, and a log scale when
/// the values span more than two decades (a tail 1000× the median would flatten the rest).
struct LatencyAxis {
    unit: Unit,
    /// µs per unit.
    div: f64,
    log: bool,
    /// The smallest value, in the unit.
    lo: f64,
    /// The axis range: in the unit, or its log10 on a log scale.
    range: Range<f64>,
    ticks: Vec<f64>,
}

impl LatencyAxis {
    fn fit(drawn: &[(usize, &SpectrumSeries)]) -> LatencyAxis {
        let values = || {
            drawn
                .iter()
                .flat_map(|(_, s)| s.points.iter().map(|p| p.1))
                .filter(|v| *v > 0.0)
        };
        let max_us = values().fold(0.0f64, f64::max);
        let min_us = values().fold(f64::INFINITY, f64::min);
        let (unit, div) = Unit::Micros.readable(max_us);
        let (lo, hi) = (min_us / div, max_us / div);
        let log = hi / lo > 100.0;
        let (range, ticks) = if log {
            let (a, b) = ((lo * 0.8).log10(), (hi * 1.25).log10());
            (a..b, log_ticks(lo * 0.8, hi * 1.25))
        } else {
            let top = hi * 1.1;
            (0.0..top, nice_ticks(0.0, top, 8))
        };
        LatencyAxis {
            unit,
            div,
            log,
            lo,
            range,
            ticks,
        }
    }

    /// Where a latency in µs goes on the axis.
    fn to_y(&self, v_us: f64) -> f64 {
        let v = v_us / self.div;
        if self.log {
            v.max(self.lo * 0.8).log10()
        } else {
            v
        }
    }

    fn tick_label(&self, v: f64) -> String {
        if self.log {
            fmt_num(10f64.powf(v))
        } else {
            fmt_num(v)
        }
    }

    fn desc(&self) -> String {
        format!(
            "latency ({}{})",
            self.unit.as_str(),
            if self.log { ", log scale" } else { "" }
        )
    }
}

// ---------------------------------------------------------------------------------------------
// On the report page

/// Publish → ack of every run.
pub(super) fn publish_ack_figure(suite: &SuiteView) -> Option<Figure> {
    let series: Vec<SpectrumSeries> = suite
        .runs
        .iter()
        .map(|r| SpectrumSeries {
            name: r.label.clone(),
            points: spectrum_points(r, LatencyKind::PublishAck),
        })
        .collect();
    Some(Figure::Chart {
        heading: None,
        svg: latency_spectrum(&series),
        caption: "Publish → ack latency of every message by percentile: a line further right is \
                  rarer; a step up is a group of slow messages (a fault, a retry, a queue).",
    })
}

/// Publish → processed, when a run has a consume side.
pub(super) fn end_to_end_figure(suite: &SuiteView) -> Option<Figure> {
    if !suite.any(|r| r.has_end_to_end()) {
        return None;
    }
    // End to end only where a consume side measured it; the other runs keep their position (and
    // so their colour) with no points.
    let series: Vec<SpectrumSeries> = suite
        .runs
        .iter()
        .map(|r| SpectrumSeries {
            name: r.label.clone(),
            points: if r.has_end_to_end() {
                spectrum_points(r, LatencyKind::EndToEnd)
            } else {
                Vec::new()
            },
        })
        .collect();
    Some(Figure::Chart {
        heading: None,
        svg: latency_spectrum_titled(E2E_TITLE, &series),
        caption: "Publish → processed latency by percentile, for runs with a consume side: from a \
                  message's first send to the end of its first successful processing. It includes \
                  the time the message waited in the backlog, redeliveries and the processing \
                  itself, so a consumer that falls behind lifts the whole line, not just its right \
                  end.",
    })
}

/// The spectrum of latency `kind` from the run's histogram log, or from its summary points.
fn spectrum_points(run: &RunView, kind: LatencyKind) -> Vec<(f64, f64)> {
    let summary = || {
        run.report
            .latency(kind)
            .map(spectrum_from_summary)
            .unwrap_or_default()
    };
    match result::hlog::load_histogram(run.dir, run.report, kind) {
        Ok(Some(h)) if !h.is_empty() => spectrum_from_histogram(&h),
        Ok(_) => summary(),
        Err(e) => {
            tracing::warn!("{e}; using the summary percentiles");
            summary()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hist(values: impl IntoIterator<Item = u64>) -> Histogram<u64> {
        let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).unwrap();
        for v in values {
            h.record(v).unwrap();
        }
        h
    }

    #[test]
    fn spectrum_is_monotonic_and_reaches_five_nines() {
        // 1..=200_000 µs in ns: a known, wide distribution.
        let h = hist((1..=200_000u64).map(|v| v * 1000));
        let pts = spectrum_from_histogram(&h);
        assert_eq!(pts.len(), 101);
        for w in pts.windows(2) {
            assert!(w[1].0 > w[0].0, "quantiles ascend: {w:?}");
            assert!(w[1].1 >= w[0].1, "latency never falls: {w:?}");
        }
        let last = pts.last().unwrap();
        assert!((last.0 - 0.99999).abs() < 1e-12, "{last:?}");
        let p99999 = h.value_at_quantile(0.99999) as f64 / 1000.0;
        assert!(last.1 >= p99999, "{} < {p99999}", last.1);
        // p99.999 of 1..=200000 is about 199998 µs (within the histogram's 3 digits).
        assert!((last.1 - 199_998.0).abs() < 200.0, "{}", last.1);
        assert!(pts[0].1 <= 1.001, "starts at the minimum: {:?}", pts[0]);
        assert!(spectrum_from_histogram(&hist([])).is_empty());
    }

    #[test]
    fn nines_axis() {
        assert_eq!(nines_label(0.0), "0%");
        assert_eq!(nines_label(1.0), "90%");
        assert_eq!(nines_label(2.0), "99%");
        assert_eq!(nines_label(3.0), "99.9%");
        assert_eq!(nines_label(5.0), "99.999%");
        assert_eq!(nines_label(nines(0.5)), "50%");
    }
}
