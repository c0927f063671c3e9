//! Charts: pure functions from result figures to SVG text (plotters' SVG backend, no fonts
//! bundled: the SVG carries `<text>` elements and the viewer picks a sans-serif font).
//!
//! Every chart carries its own title, axis labels with units and a legend, so it reads without
//! the page around it. Scenarios get colours from one fixed palette by their position in the
//! input, so the same position has the same colour in every chart of a report.
//!
//! Inputs are small plain types (`SpectrumSeries`, `TimelineSeries`, `ConsumeSeries`,
//! `FaultSpan`, `OrderRow`, `ComparisonBar`) with `from_report` helpers, so callers that do not hold a `Report` (compare,
//! CI) can draw too.

use hdrhistogram::Histogram;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::checker::{percent, OrderFigures};
use crate::result::{LatencySummary, Report};

#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    #[error("nothing to draw: {0}")]
    Empty(&'static str),
    #[error("drawing failed: {0}")]
    Draw(String),
    #[error(transparent)]
    Log(#[from] crate::result::hlog::HlogError),
}

impl<E: std::error::Error + Send + Sync> From<DrawingAreaErrorKind<E>> for ChartError {
    fn from(e: DrawingAreaErrorKind<E>) -> Self {
        ChartError::Draw(e.to_string())
    }
}

/// Scenario colours (Tableau 10), assigned by position in the input.
pub const PALETTE: [RGBColor; 10] = [
    RGBColor(0x4e, 0x79, 0xa7),
    RGBColor(0xf2, 0x8e, 0x2b),
    RGBColor(0xe1, 0x57, 0x59),
    RGBColor(0x59, 0xa1, 0x4f),
    RGBColor(0xb0, 0x7a, 0xa1),
    RGBColor(0x76, 0xb7, 0xb2),
    RGBColor(0x9c, 0x75, 0x5f),
    RGBColor(0xed, 0xc9, 0x48),
    RGBColor(0xff, 0x9d, 0xa7),
    RGBColor(0x79, 0x70, 0x6e),
];

/// Colours of the orders in the divergence chart (Dark2: distinct from the scenario palette's
/// first entries, because there colour means an order, not a scenario).
const ORDER_PALETTE: [RGBColor; 6] = [
    RGBColor(0x1b, 0x9e, 0x77),
    RGBColor(0x75, 0x70, 0xb3),
    RGBColor(0xd9, 0x5f, 0x02),
    RGBColor(0xe7, 0x29, 0x8a),
    RGBColor(0x66, 0xa6, 0x1e),
    RGBColor(0xa6, 0x76, 0x1d),
];

const BASELINE_COLOR: RGBColor = RGBColor(0xa0, 0xa0, 0xa0);
const CANDIDATE_COLOR: RGBColor = RGBColor(0x4e, 0x79, 0xa7);
const REGRESSION_COLOR: RGBColor = RGBColor(0xd6, 0x27, 0x28);
/// Fault shading when one scenario is drawn (in the overlay, the scenario's own colour says whose
/// fault it is).
const FAULT_COLOR: RGBColor = RGBColor(0xc0, 0x39, 0x2b);
const TEXT_COLOR: RGBColor = RGBColor(0x22, 0x22, 0x22);
const MUTED: RGBColor = RGBColor(0x77, 0x77, 0x77);

const FONT: &str = "sans-serif";
const TITLE_SIZE: u32 = 22;
const LABEL_SIZE: u32 = 14;
const DESC_SIZE: u32 = 15;
const WIDTH: u32 = 960;

/// The colour of the scenario at `index` in every chart.
pub fn scenario_color(index: usize) -> RGBColor {
    PALETTE[index % PALETTE.len()]
}

/// `#rrggbb` of [`scenario_color`], for HTML swatches.
pub fn scenario_color_hex(index: usize) -> String {
    let c = scenario_color(index);
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

// ---------------------------------------------------------------------------------------------
// Latency spectrum

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
    let values = || {
        drawn
            .iter()
            .flat_map(|(_, s)| s.points.iter().map(|p| p.1))
            .filter(|v| *v > 0.0)
    };
    let max_us = values().fold(0.0f64, f64::max);
    let min_us = values().fold(f64::INFINITY, f64::min);
    let (unit, div) = if max_us >= 10_000.0 {
        ("ms", 1000.0)
    } else {
        ("µs", 1.0)
    };
    let (lo, hi) = (min_us / div, max_us / div);
    let log_y = hi / lo > 100.0;
    let (y_range, y_ticks) = if log_y {
        let (a, b) = ((lo * 0.8).log10(), (hi * 1.25).log10());
        (a..b, log_ticks(lo * 0.8, hi * 1.25))
    } else {
        let top = hi * 1.1;
        (0.0..top, nice_ticks(0.0, top, 8))
    };
    let to_y = move |v_us: f64| {
        let v = v_us / div;
        if log_y {
            v.max(lo * 0.8).log10()
        } else {
            v
        }
    };

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
                Ticked::new(y_range, y_ticks),
            )?;
        let y_fmt = move |v: &f64| {
            if log_y {
                fmt_num(10f64.powf(*v))
            } else {
                fmt_num(*v)
            }
        };
        chart
            .configure_mesh()
            .x_desc("percentile (log scale of nines: each step right is 10× rarer)")
            .y_desc(format!(
                "latency ({unit}{})",
                if log_y { ", log scale" } else { "" }
            ))
            .x_label_formatter(&|x| nines_label(*x))
            .y_label_formatter(&y_fmt)
            .label_style((FONT, LABEL_SIZE))
            .axis_desc_style((FONT, DESC_SIZE))
            .light_line_style(WHITE)
            .bold_line_style(RGBColor(0xe4, 0xe4, 0xe4))
            .draw()?;
        for (i, s) in &drawn {
            let pts: Vec<(f64, f64)> = s
                .points
                .iter()
                .filter(|p| p.1 > 0.0)
                .map(|&(q, v)| (nines(q), to_y(v)))
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

// ---------------------------------------------------------------------------------------------
// Throughput timeline

/// Acks per bucket of one scenario, from the start of the measured phase.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineSeries {
    pub name: String,
    pub bucket_ms: f64,
    pub acked: Vec<u64>,
}

impl TimelineSeries {
    pub fn from_report(name: &str, r: &Report) -> TimelineSeries {
        TimelineSeries {
            name: name.to_string(),
            bucket_ms: r.throughput.timeline.bucket_ms,
            acked: r.throughput.timeline.acked.clone(),
        }
    }

    /// `(seconds at the bucket's middle, msgs/s)`.
    fn rates(&self) -> Vec<(f64, f64)> {
        bucket_rates(self.bucket_ms, &self.acked)
    }
}

/// Counts per bucket as `(seconds at the bucket's middle, per second)`; empty without a bucket
/// width.
fn bucket_rates(bucket_ms: f64, counts: &[u64]) -> Vec<(f64, f64)> {
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

/// One fault window of one scenario (ms since the measured phase started). `start_ms ==
/// end_ms` for one-shot faults.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultSpan {
    /// The scenario it belongs to (matches a `TimelineSeries::name`).
    pub scenario: String,
    pub name: String,
    pub kind: String,
    pub start_ms: f64,
    pub end_ms: f64,
}

impl FaultSpan {
    pub fn from_report(scenario: &str, r: &Report) -> Vec<FaultSpan> {
        r.faults
            .iter()
            .map(|f| FaultSpan {
                scenario: scenario.to_string(),
                name: f.window.name.clone(),
                kind: f.window.kind.as_str().to_string(),
                start_ms: f.window.start_ms,
                end_ms: f.window.end_ms.max(f.window.start_ms),
            })
            .collect()
    }
}

/// All scenarios in one chart; faults shaded in their scenario's colour and labelled
/// "scenario: fault (kind)" when more than one scenario is drawn.
pub fn throughput_timeline(
    series: &[TimelineSeries],
    faults: &[FaultSpan],
) -> Result<String, ChartError> {
    let s: Vec<(usize, &TimelineSeries)> = series.iter().enumerate().collect();
    timeline_chart("Acked throughput over time", &s, faults, 480)
}

/// Small multiples: one chart per scenario (same colours as the overlay), each with only its own
/// faults, so the shading is unambiguous. Returns `(scenario name, svg)` in input order;
/// scenarios without a timeline are left out.
pub fn throughput_timelines(
    series: &[TimelineSeries],
    faults: &[FaultSpan],
) -> Result<Vec<(String, String)>, ChartError> {
    let mut out = Vec::new();
    for (i, s) in series.iter().enumerate() {
        if s.rates().is_empty() {
            continue;
        }
        let own: Vec<FaultSpan> = faults
            .iter()
            .filter(|f| f.scenario == s.name)
            .cloned()
            .collect();
        let svg = timeline_chart(
            &format!("Acked throughput over time: {}", s.name),
            &[(i, s)],
            &own,
            340,
        )?;
        out.push((s.name.clone(), svg));
    }
    Ok(out)
}

fn timeline_chart(
    title: &str,
    series: &[(usize, &TimelineSeries)],
    faults: &[FaultSpan],
    height: u32,
) -> Result<String, ChartError> {
    // (colour index, name, (s, msgs/s) points)
    type Rates<'a> = (usize, &'a str, Vec<(f64, f64)>);
    let rates: Vec<Rates> = series
        .iter()
        .map(|(i, s)| (*i, s.name.as_str(), s.rates()))
        .filter(|(_, _, r)| !r.is_empty())
        .collect();
    if rates.is_empty() {
        return Err(ChartError::Empty("no throughput timeline"));
    }
    let shading = FaultShading::new(series.iter().map(|(i, s)| (*i, s.name.as_str())).collect());
    let faults = shading.own(faults);
    let x_max = rates
        .iter()
        .flat_map(|(_, _, r)| r.last().map(|p| p.0))
        .chain(faults.iter().map(|f| f.end_ms / 1000.0))
        .fold(0.0f64, f64::max)
        .max(0.1);
    let y_peak = rates
        .iter()
        .flat_map(|(_, _, r)| r.iter().map(|p| p.1))
        .fold(0.0f64, f64::max)
        .max(1.0);
    let y_max = FaultShading::headroom(y_peak, faults.len());

    svg_chart(height, title, |area| {
        let mut items: Vec<LegendItem> = rates
            .iter()
            .map(|(i, name, _)| LegendItem::line(name, scenario_color(*i)))
            .collect();
        items.extend(shading.legend_item(&faults));
        let area = legend(&area, &items)?;
        let mut chart = ChartBuilder::on(&area)
            .margin(12)
            .margin_right(36)
            .x_label_area_size(44)
            .y_label_area_size(72)
            .build_cartesian_2d(0.0..x_max, 0.0..y_max)?;
        time_mesh(
            &mut chart,
            Some("time since the measured phase started (s)"),
            "throughput (acked msgs/s)",
        )?;
        shading.shade(&mut chart, &faults, y_max)?;
        for (i, _, pts) in &rates {
            chart.draw_series(LineSeries::new(
                pts.clone(),
                scenario_color(*i).stroke_width(2),
            ))?;
        }
        shading.label(&mut chart, &faults, x_max, y_max)?;
        Ok(())
    })
}

/// A time axis chart: seconds along x, a linear quantity up y.
type TimeChart<'a, 's> =
    ChartContext<'a, SVGBackend<'s>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// The axes and grid of a time chart; `x_desc` is `None` for an upper panel that shares the x
/// axis with the one below it.
fn time_mesh(
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
        .bold_line_style(RGBColor(0xe4, 0xe4, 0xe4))
        .draw()?;
    Ok(())
}

/// How fault windows are drawn on time charts: with several scenarios in one chart a fault is
/// shaded and labelled in its scenario's colour (and its label names the scenario); alone, in
/// the common fault colour.
struct FaultShading<'n> {
    /// The scenarios of the chart: (colour index, name).
    scenarios: Vec<(usize, &'n str)>,
}

impl<'n> FaultShading<'n> {
    fn new(scenarios: Vec<(usize, &'n str)>) -> FaultShading<'n> {
        FaultShading { scenarios }
    }

    fn several(&self) -> bool {
        self.scenarios.len() > 1
    }

    fn color(&self, scenario: &str) -> RGBColor {
        if !self.several() {
            return FAULT_COLOR;
        }
        self.scenarios
            .iter()
            .find(|(_, n)| *n == scenario)
            .map_or(MUTED, |(i, _)| scenario_color(*i))
    }

    /// The faults of this chart's scenarios.
    fn own<'f>(&self, faults: &'f [FaultSpan]) -> Vec<&'f FaultSpan> {
        faults
            .iter()
            .filter(|f| self.scenarios.iter().any(|(_, n)| *n == f.scenario))
            .collect()
    }

    /// The y range top for a data peak: room above the lines for the stacked fault labels.
    fn headroom(peak: f64, faults: usize) -> f64 {
        peak * (1.12 + 0.08 * faults.min(6) as f64)
    }

    fn legend_item(&self, faults: &[&FaultSpan]) -> Option<LegendItem> {
        if faults.is_empty() {
            return None;
        }
        Some(if self.several() {
            LegendItem::boxed(
                "fault window, in its scenario's colour (a line: one-shot fault)",
                MUTED.mix(0.25),
                false,
            )
        } else {
            LegendItem::boxed(
                "fault window (a line: one-shot fault)",
                FAULT_COLOR.mix(0.13),
                false,
            )
        })
    }

    /// Shades the windows (a line for one-shot faults) over the full height; before the data,
    /// so the lines stay on top.
    fn shade(
        &self,
        chart: &mut TimeChart<'_, '_>,
        faults: &[&FaultSpan],
        y_max: f64,
    ) -> Result<(), ChartError> {
        for f in faults {
            let c = self.color(&f.scenario);
            let (x0, x1) = (f.start_ms / 1000.0, f.end_ms / 1000.0);
            if x1 > x0 {
                chart.draw_series(std::iter::once(Rectangle::new(
                    [(x0, 0.0), (x1, y_max)],
                    c.mix(0.13).filled(),
                )))?;
            } else {
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(x0, 0.0), (x0, y_max)],
                    c.mix(0.8).stroke_width(2),
                )))?;
            }
        }
        Ok(())
    }

    /// Labels the windows at the top: last, so no line is drawn over them; stacked when faults
    /// start together.
    fn label(
        &self,
        chart: &mut TimeChart<'_, '_>,
        faults: &[&FaultSpan],
        x_max: f64,
        y_max: f64,
    ) -> Result<(), ChartError> {
        for (k, f) in faults.iter().enumerate() {
            let label = if self.several() {
                format!("{}: {} ({})", f.scenario, f.name, f.kind)
            } else {
                format!("{} ({})", f.name, f.kind)
            };
            let x0 = f.start_ms / 1000.0;
            let right_half = x0 > x_max * 0.6;
            let style = (FONT, LABEL_SIZE)
                .into_font()
                .color(&color_dark(self.color(&f.scenario)))
                .pos(Pos::new(
                    if right_half { HPos::Right } else { HPos::Left },
                    VPos::Top,
                ));
            let dx = if right_half { -4 } else { 4 };
            let dy = 4 + 17 * (k % 8) as i32;
            chart.draw_series(std::iter::once(
                EmptyElement::at((x0, y_max)) + Text::new(label, (dx, dy), style),
            ))?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Consume timeline

/// The consume side of one scenario over time, per bucket from the start of the measured phase
/// (the same buckets as its throughput timeline).
#[derive(Debug, Clone, PartialEq)]
pub struct ConsumeSeries {
    pub name: String,
    pub bucket_ms: f64,
    /// Messages processed for the first time in each bucket.
    pub processed: Vec<u64>,
    /// Published so far minus processed so far, at each bucket's end.
    pub backlog: Vec<u64>,
    /// Messages published in each bucket.
    pub published: Vec<u64>,
}

impl ConsumeSeries {
    /// `None` when the run had no consume side.
    pub fn from_report(name: &str, r: &Report) -> Option<ConsumeSeries> {
        let c = r.consume.as_ref()?;
        Some(ConsumeSeries {
            name: name.to_string(),
            bucket_ms: c.timeline.bucket_ms,
            processed: c.timeline.processed.clone(),
            backlog: c.timeline.backlog.clone(),
            published: r.throughput.timeline.published.clone(),
        })
    }

    fn is_empty(&self) -> bool {
        self.bucket_ms <= 0.0 || (self.processed.is_empty() && self.backlog.is_empty())
    }

    /// `(seconds at the bucket's end, messages waiting)`, from 0 at the start.
    fn backlog_points(&self) -> Vec<(f64, f64)> {
        std::iter::once((0.0, 0.0))
            .chain(
                self.backlog
                    .iter()
                    .enumerate()
                    .map(|(i, &n)| ((i + 1) as f64 * self.bucket_ms / 1000.0, n as f64)),
            )
            .collect()
    }
}

/// Two panels over one time axis: above, per scenario the processed rate (solid) against the
/// published rate (dashed, same colour); below, the backlog. Series without a timeline are left
/// out but keep their position's colour; faults are shaded as in [`throughput_timeline`].
pub fn consume_timeline(
    series: &[ConsumeSeries],
    faults: &[FaultSpan],
) -> Result<String, ChartError> {
    let drawn: Vec<(usize, &ConsumeSeries)> = series
        .iter()
        .enumerate()
        .filter(|(_, s)| !s.is_empty())
        .collect();
    if drawn.is_empty() {
        return Err(ChartError::Empty("no consume timeline"));
    }
    // (colour index, processed rate, published rate, backlog)
    type Lines = (usize, Vec<(f64, f64)>, Vec<(f64, f64)>, Vec<(f64, f64)>);
    let lines: Vec<Lines> = drawn
        .iter()
        .map(|(i, s)| {
            (
                *i,
                bucket_rates(s.bucket_ms, &s.processed),
                bucket_rates(s.bucket_ms, &s.published),
                s.backlog_points(),
            )
        })
        .collect();
    let shading = FaultShading::new(drawn.iter().map(|(i, s)| (*i, s.name.as_str())).collect());
    let faults = shading.own(faults);
    let all = || {
        lines
            .iter()
            .flat_map(|(_, a, b, c)| a.iter().chain(b).chain(c))
    };
    let x_max = all()
        .map(|p| p.0)
        .chain(faults.iter().map(|f| f.end_ms / 1000.0))
        .fold(0.0f64, f64::max)
        .max(0.1);
    let rate_peak = lines
        .iter()
        .flat_map(|(_, a, b, _)| a.iter().chain(b).map(|p| p.1))
        .fold(0.0f64, f64::max)
        .max(1.0);
    let rate_max = FaultShading::headroom(rate_peak, faults.len());
    let backlog_max = lines
        .iter()
        .flat_map(|(_, _, _, c)| c.iter().map(|p| p.1))
        .fold(0.0f64, f64::max)
        .max(1.0)
        * 1.1;

    svg_chart(
        680,
        "Consume side: processed vs published, and backlog",
        |area| {
            let mut items: Vec<LegendItem> = drawn
                .iter()
                .map(|(i, s)| LegendItem::line(&s.name, scenario_color(*i)))
                .collect();
            items.push(LegendItem::line("processed", MUTED));
            items.push(LegendItem::dashed("published", MUTED));
            items.extend(shading.legend_item(&faults));
            let area = legend(&area, &items)?;
            let (_, h) = area.dim_in_pixel();
            let (upper, lower) = area.split_vertically(h * 56 / 100);
            let panel_caption = (FONT, DESC_SIZE).into_font().color(&TEXT_COLOR);

            let mut top = ChartBuilder::on(&upper)
                .caption(
                    "Rates: processed (solid) and published (dashed)",
                    panel_caption.clone(),
                )
                .margin(10)
                .margin_right(36)
                .x_label_area_size(26)
                .y_label_area_size(72)
                .build_cartesian_2d(0.0..x_max, 0.0..rate_max)?;
            time_mesh(&mut top, None, "rate (msgs/s)")?;
            shading.shade(&mut top, &faults, rate_max)?;
            for (i, processed, published, _) in &lines {
                let c = scenario_color(*i);
                top.draw_series(DashedLineSeries::new(
                    published.clone(),
                    7,
                    5,
                    c.mix(0.9).stroke_width(2),
                ))?;
                top.draw_series(LineSeries::new(processed.clone(), c.stroke_width(2)))?;
            }
            shading.label(&mut top, &faults, x_max, rate_max)?;

            let mut bottom = ChartBuilder::on(&lower)
                .caption("Backlog: published, not yet processed", panel_caption)
                .margin(10)
                .margin_right(36)
                .x_label_area_size(44)
                .y_label_area_size(72)
                .build_cartesian_2d(0.0..x_max, 0.0..backlog_max)?;
            time_mesh(
                &mut bottom,
                Some("time since the measured phase started (s)"),
                "backlog (messages)",
            )?;
            shading.shade(&mut bottom, &faults, backlog_max)?;
            for (i, _, _, backlog) in &lines {
                let c = scenario_color(*i);
                bottom.draw_series(
                    AreaSeries::new(backlog.clone(), 0.0, c.mix(0.12))
                        .border_style(c.stroke_width(2)),
                )?;
            }
            Ok(())
        },
    )
}

// ---------------------------------------------------------------------------------------------
// Order divergence

/// The orders of one scenario: `(order name, figures)`, `None` when not measured. Adding an
/// order (e.g. consume) is one more entry.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderRow {
    pub scenario: String,
    pub orders: Vec<(String, Option<OrderFigures>)>,
}

impl OrderRow {
    pub fn from_report(scenario: &str, r: &Report) -> OrderRow {
        OrderRow {
            scenario: scenario.to_string(),
            orders: vec![
                ("ack (wire)".into(), r.order.ack_wire),
                ("ack (completion)".into(), r.order.ack_completion),
                ("storage".into(), r.order.storage),
                ("consume".into(), r.order.consume),
            ],
        }
    }
}

/// One chart as SVG text: a white canvas `WIDTH` × `height` with `title` on top; `draw` fills
/// the area below the title.
fn svg_chart(
    height: u32,
    title: &str,
    draw: impl FnOnce(DrawingArea<SVGBackend<'_>, Shift>) -> Result<(), ChartError>,
) -> Result<String, ChartError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE)?;
        let area = root.titled(title, (FONT, TITLE_SIZE).into_font().color(&TEXT_COLOR))?;
        draw(area)?;
        root.present()?;
    }
    Ok(svg)
}

/// Horizontal bars: per scenario one row per order, late share per key (solid) above the
/// global late share (light).
pub fn order_divergence(rows: &[OrderRow]) -> Result<String, ChartError> {
    if rows.is_empty() {
        return Err(ChartError::Empty("no scenarios"));
    }
    // Order names in first-seen order: each keeps one colour across scenarios.
    let mut order_names: Vec<&str> = Vec::new();
    for r in rows {
        for (n, _) in &r.orders {
            if !order_names.contains(&n.as_str()) {
                order_names.push(n);
            }
        }
    }
    if order_names.is_empty() {
        return Err(ChartError::Empty("no orders"));
    }
    let color_of = |name: &str| {
        let i = order_names.iter().position(|n| *n == name).unwrap_or(0);
        ORDER_PALETTE[i % ORDER_PALETTE.len()]
    };
    let max_pct = rows
        .iter()
        .flat_map(|r| r.orders.iter().filter_map(|(_, f)| f.as_ref()))
        .map(|f| f.late_share().max(f.late_per_key_share()) * 100.0)
        .fold(0.0f64, f64::max);
    // Leave about 45% of the width right of the longest bar for its figures (the consume row's
    // "… per key (15/16 keys) · 72% global" needs that much).
    let x_max = (max_pct / 0.55).max(5.0);
    let x_ticks: Vec<f64> = nice_ticks(0.0, x_max.min(100.0), 8);

    // Slots from the top: each scenario's rows, then one empty slot.
    let mut slots: Vec<(usize, &str, Option<&OrderFigures>)> = Vec::new();
    let mut centers: Vec<(f64, String)> = Vec::new();
    let mut slot = 0usize;
    for (g, r) in rows.iter().enumerate() {
        let first = slot;
        for (n, f) in &r.orders {
            slots.push((slot, n, f.as_ref()));
            slot += 1;
        }
        let last = slot.max(first + 1) - 1;
        centers.push(((first + last) as f64 / 2.0, r.scenario.clone()));
        if g + 1 < rows.len() {
            slot += 1;
        }
    }
    let total = slot.max(1) as f64;
    // Slot s (from the top) is drawn around y = total - s - 0.5.
    let y_of = |s: f64| total - s - 0.5;
    let names: Vec<(f64, String)> = centers.iter().map(|(c, n)| (y_of(*c), n.clone())).collect();
    let label_width = category_label_width(names.iter().map(|(_, n)| n.len()));
    let height = 150 + (total as u32) * 24;

    svg_chart(
        height,
        "Order divergence: messages late against publish order",
        |area| {
            let mut items: Vec<LegendItem> = order_names
                .iter()
                .map(|n| LegendItem::boxed(n, color_of(n).to_rgba(), true))
                .collect();
            items.push(LegendItem::boxed(
                "upper bar, solid: late within its key",
                MUTED.to_rgba(),
                true,
            ));
            items.push(LegendItem::boxed(
                "lower bar, light: late globally",
                MUTED.mix(0.35),
                false,
            ));
            let area = legend(&area, &items)?;
            let mut chart = hbar_chart(
                ChartBuilder::on(&area).margin(12).x_label_area_size(44),
                label_width,
                Ticked::new(0.0..x_max, x_ticks),
                total,
                &names,
                "messages that arrive after a later-published message (% of messages)",
                &|v| format!("{}%", fmt_num(*v)),
            )?;
            for (s, name, f) in &slots {
                let y = y_of(*s as f64);
                let c = color_of(name);
                let Some(f) = f else {
                    chart.draw_series(std::iter::once(Text::new(
                        format!("{name}: not measured"),
                        (0.0, y),
                        (FONT, 13)
                            .into_font()
                            .color(&MUTED)
                            .pos(Pos::new(HPos::Left, VPos::Center)),
                    )))?;
                    continue;
                };
                let pk = f.late_per_key_share() * 100.0;
                let gl = f.late_share() * 100.0;
                chart.draw_series([
                    Rectangle::new([(0.0, y), (pk.min(x_max), y + 0.4)], c.filled()),
                    Rectangle::new([(0.0, y - 0.4), (gl.min(x_max), y)], c.mix(0.35).filled()),
                ])?;
                let figure = if f.messages == 0 {
                    format!("{name}: no data")
                } else if f.late == 0 {
                    format!("{name}: preserved (0 of {} late)", f.messages)
                } else {
                    format!(
                        "{name}: {} per key ({}/{} keys) · {} global",
                        percent(f.late_per_key_share()),
                        f.keys_affected,
                        f.keys,
                        percent(f.late_share())
                    )
                };
                bar_label(
                    &mut chart,
                    (pk.max(gl).min(x_max), y),
                    figure,
                    (FONT, 13).into_font(),
                    color_dark(c),
                )?;
            }
            Ok(())
        },
    )
}

// ---------------------------------------------------------------------------------------------
// Comparison

/// One metric of one scenario, baseline against candidate (the output of `jsbench compare`,
/// mapped to plain fields).
#[derive(Debug, Clone, PartialEq)]
pub struct ComparisonBar {
    pub scenario: String,
    /// "msgs/s", "p50", "p99", "p99.9"
    pub metric: String,
    pub unit: String,
    pub baseline: f64,
    pub candidate: f64,
    pub change_pct: f64,
    pub regression: bool,
}

/// One panel per metric (in first-seen order), per scenario a baseline bar (grey) and a candidate
/// bar (blue, red when a regression), with the change written beside them.
pub fn comparison(bars: &[ComparisonBar]) -> Result<String, ChartError> {
    if bars.is_empty() {
        return Err(ChartError::Empty("no comparison"));
    }
    let mut metrics: Vec<&str> = Vec::new();
    for b in bars {
        if !metrics.contains(&b.metric.as_str()) {
            metrics.push(&b.metric);
        }
    }
    let panel_heights: Vec<u32> = metrics
        .iter()
        .map(|m| 110 + 34 * bars.iter().filter(|b| b.metric == *m).count() as u32)
        .collect();
    let label_width = category_label_width(bars.iter().map(|b| b.scenario.len()));
    let legend_items = [
        LegendItem::boxed("baseline", BASELINE_COLOR.to_rgba(), true),
        LegendItem::boxed("candidate", CANDIDATE_COLOR.to_rgba(), true),
        LegendItem::boxed("candidate, regression", REGRESSION_COLOR.to_rgba(), true),
    ];
    let height = 90 + panel_heights.iter().sum::<u32>();

    svg_chart(height, "Baseline vs candidate", |area| {
        let mut rest = legend(&area, &legend_items)?;
        for (m, h) in metrics.iter().zip(&panel_heights) {
            let (panel, below) = rest.split_vertically(*h);
            rest = below;
            let rows: Vec<&ComparisonBar> = bars.iter().filter(|b| b.metric == *m).collect();
            comparison_panel(&panel, m, &rows, label_width)?;
        }
        Ok(())
    })
}

fn comparison_panel(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    metric: &str,
    rows: &[&ComparisonBar],
    label_width: u32,
) -> Result<(), ChartError> {
    let unit = rows.first().map_or("", |b| b.unit.as_str());
    // Latencies in µs read better in ms once they are large.
    let raw_max = rows
        .iter()
        .map(|b| b.baseline.max(b.candidate))
        .fold(0.0f64, f64::max);
    let (unit, div) = if unit == "µs" && raw_max >= 10_000.0 {
        ("ms", 1000.0)
    } else {
        (unit, 1.0)
    };
    let higher_better = metric.contains("/s") || unit.contains("/s");
    let max = (raw_max / div).max(1e-9);
    let x_max = max / 0.58;
    let x_ticks = nice_ticks(0.0, max * 1.05, 6);
    let n = rows.len() as f64;
    let y_of = |k: usize| n - k as f64 - 0.5;
    let names: Vec<(f64, String)> = rows
        .iter()
        .enumerate()
        .map(|(k, b)| (y_of(k), b.scenario.clone()))
        .collect();
    let with_unit = if unit.is_empty() || unit == metric {
        metric.to_string()
    } else {
        format!("{metric} ({unit})")
    };
    let caption = format!(
        "{with_unit} — {} is better",
        if higher_better { "higher" } else { "lower" }
    );
    let mut chart = hbar_chart(
        ChartBuilder::on(area)
            .caption(caption, (FONT, 17).into_font().color(&TEXT_COLOR))
            .margin(10)
            .x_label_area_size(40),
        label_width,
        Ticked::new(0.0..x_max, x_ticks),
        n,
        &names,
        &with_unit,
        &|v| fmt_num(*v),
    )?;
    for (k, b) in rows.iter().enumerate() {
        let y = y_of(k);
        let (base, cand) = (b.baseline / div, b.candidate / div);
        let cc = if b.regression {
            REGRESSION_COLOR
        } else {
            CANDIDATE_COLOR
        };
        chart.draw_series([
            Rectangle::new([(0.0, y + 0.02), (base, y + 0.38)], BASELINE_COLOR.filled()),
            Rectangle::new([(0.0, y - 0.38), (cand, y - 0.02)], cc.filled()),
        ])?;
        let text = format!(
            "{} → {} {unit} ({:+.1}%{})",
            fmt_num(base),
            fmt_num(cand),
            b.change_pct,
            if b.regression { ", REGRESSION" } else { "" }
        );
        let font = (FONT, 13).into_font();
        let font = if b.regression {
            font.style(FontStyle::Bold)
        } else {
            font
        };
        let color = if b.regression {
            REGRESSION_COLOR
        } else {
            TEXT_COLOR
        };
        bar_label(&mut chart, (base.max(cand), y), text, font, color)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Shared pieces

/// Builds a horizontal bar chart (order divergence, comparison panels) and draws its axes: values
/// along the bottom, one category name per key point down the left, no horizontal grid lines.
///
/// The category axis runs from 0 to `slots` (one slot per bar group, plus any gaps); `names` are
/// `(y, name)`, each y a key point labelled with its name. The caller sets what differs between
/// charts (caption, margin, x label area) on `builder`; the right margin is common because the
/// figures written beside the longest bar need it in every such chart.
fn hbar_chart<'a, 's>(
    builder: &mut ChartBuilder<'a, '_, SVGBackend<'s>>,
    label_width: u32,
    x: Ticked,
    slots: f64,
    names: &[(f64, String)],
    x_desc: &str,
    x_fmt: &dyn Fn(&f64) -> String,
) -> Result<ChartContext<'a, SVGBackend<'s>, Cartesian2d<Ticked, Ticked>>, ChartError> {
    let key_points: Vec<f64> = names.iter().map(|(y, _)| *y).collect();
    let mut chart = builder
        .margin_right(36)
        .y_label_area_size(label_width)
        .build_cartesian_2d(x, Ticked::new(0.0..slots, key_points))?;
    // The y ticks are exactly the names' key points; any other value gets no label.
    let y_fmt = |v: &f64| {
        names
            .iter()
            .find(|(y, _)| (y - v).abs() < 1e-6)
            .map_or(String::new(), |(_, n)| n.clone())
    };
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .x_label_formatter(x_fmt)
        .y_label_formatter(&y_fmt)
        .disable_y_mesh()
        .label_style((FONT, LABEL_SIZE))
        .axis_desc_style((FONT, DESC_SIZE))
        .light_line_style(WHITE)
        .bold_line_style(RGBColor(0xe4, 0xe4, 0xe4))
        .draw()?;
    Ok(chart)
}

/// Width of the category label area of a horizontal bar chart for names of these lengths (in
/// bytes): about 8 px a character, within bounds so a very long name cannot squeeze the bars.
fn category_label_width(name_lengths: impl Iterator<Item = usize>) -> u32 {
    name_lengths.max().unwrap_or(8).clamp(8, 48) as u32 * 8 + 16
}

/// Writes a bar's figures just right of its end at `(x, y)`, vertically centred on the bar.
fn bar_label(
    chart: &mut ChartContext<'_, SVGBackend<'_>, Cartesian2d<Ticked, Ticked>>,
    (x, y): (f64, f64),
    text: String,
    font: FontDesc<'_>,
    color: RGBColor,
) -> Result<(), ChartError> {
    chart.draw_series(std::iter::once(
        EmptyElement::at((x, y))
            + Text::new(
                text,
                (6, 0),
                font.color(&color).pos(Pos::new(HPos::Left, VPos::Center)),
            ),
    ))?;
    Ok(())
}

/// A linear f64 axis with exactly the given ticks. plotters' `with_key_points` does the same but
/// its result cannot take a label formatter (no `ValueFormatter`), and every axis here needs one
/// (nines, log values, scenario names).
#[derive(Clone)]
struct Ticked {
    range: std::ops::Range<f64>,
    ticks: Vec<f64>,
}

impl Ticked {
    fn new(range: std::ops::Range<f64>, ticks: Vec<f64>) -> Ticked {
        Ticked { range, ticks }
    }
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let span = self.range.end - self.range.start;
        if span <= 0.0 {
            return (limit.0 + limit.1) / 2;
        }
        let share = (v - self.range.start) / span;
        limit.0 + ((limit.1 - limit.0) as f64 * share).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.range.clone()
    }
}

/// A legend entry: a line swatch (series; solid or dashed) or a box swatch (bars, shading).
struct LegendItem {
    label: String,
    color: RGBAColor,
    line: bool,
    dashed: bool,
    filled: bool,
}

impl LegendItem {
    fn line(label: &str, c: RGBColor) -> LegendItem {
        LegendItem {
            label: label.to_string(),
            color: c.to_rgba(),
            line: true,
            dashed: false,
            filled: true,
        }
    }

    fn dashed(label: &str, c: RGBColor) -> LegendItem {
        LegendItem {
            dashed: true,
            ..LegendItem::line(label, c)
        }
    }

    fn boxed(label: &str, color: RGBAColor, filled: bool) -> LegendItem {
        LegendItem {
            label: label.to_string(),
            color,
            line: false,
            dashed: false,
            filled,
        }
    }
}

/// Draws the legend as rows of entries under the title (never over the data) and returns the
/// area below it.
fn legend<'a>(
    area: &DrawingArea<SVGBackend<'a>, Shift>,
    items: &[LegendItem],
) -> Result<DrawingArea<SVGBackend<'a>, Shift>, ChartError> {
    let (width, _) = area.dim_in_pixel();
    let (left, row_h) = (24i32, 22i32);
    let mut placed: Vec<(i32, i32, &LegendItem)> = Vec::new();
    let (mut x, mut y) = (left, 4i32);
    for it in items {
        // Estimated text width: about 0.58 em per character at 13 px.
        let w = 32 + (it.label.chars().count() as f64 * 6.9) as i32 + 18;
        if x > left && x + w > width as i32 - left {
            x = left;
            y += row_h;
        }
        placed.push((x, y, it));
        x += w;
    }
    let height = (y + row_h + 6) as u32;
    let (top, rest) = area.split_vertically(height);
    for (x, y, it) in placed {
        let cy = y + row_h / 2;
        if it.dashed {
            for dx in [0, 10, 20] {
                top.draw(&PathElement::new(
                    vec![(x + dx, cy), (x + dx + 6, cy)],
                    it.color.stroke_width(3),
                ))?;
            }
        } else if it.line {
            top.draw(&PathElement::new(
                vec![(x, cy), (x + 26, cy)],
                it.color.stroke_width(3),
            ))?;
        } else {
            top.draw(&Rectangle::new(
                [(x, cy - 7), (x + 26, cy + 7)],
                it.color.filled(),
            ))?;
            if !it.filled {
                top.draw(&Rectangle::new(
                    [(x, cy - 7), (x + 26, cy + 7)],
                    MUTED.stroke_width(1),
                ))?;
            }
        }
        top.draw(&Text::new(
            it.label.clone(),
            (x + 32, cy),
            (FONT, 13)
                .into_font()
                .color(&TEXT_COLOR)
                .pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
    }
    Ok(rest)
}

/// A darker shade for text in a series colour (light colours such as yellow stay readable).
fn color_dark(c: RGBColor) -> RGBColor {
    RGBColor(
        (c.0 as f64 * 0.7) as u8,
        (c.1 as f64 * 0.7) as u8,
        (c.2 as f64 * 0.7) as u8,
    )
}

/// The smallest 1, 2 or 5 × 10^k at or above `v`.
fn nice_ceil(v: f64) -> f64 {
    if v <= 0.0 || !v.is_finite() {
        return 1.0;
    }
    let e = 10f64.powf(v.log10().floor());
    for m in [1.0, 2.0, 5.0, 10.0] {
        if m * e >= v * (1.0 - 1e-9) {
            return m * e;
        }
    }
    10.0 * e
}

/// Ticks at a 1/2/5 step from `lo` to `hi`, about `n` of them.
fn nice_ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if hi <= lo || !hi.is_finite() {
        return vec![lo];
    }
    let step = nice_ceil((hi - lo) / n.max(1) as f64);
    let mut v = (lo / step).ceil() * step;
    let mut out = Vec::new();
    while v <= hi + step * 1e-9 {
        out.push(v);
        v += step;
    }
    out
}

/// Ticks for a log axis, as log10 values: 1, 2, 5 × 10^k inside `[lo, hi]`, or only the powers
/// of ten when that would be too many.
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let (a, b) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let pick = |ms: &[f64]| -> Vec<f64> {
        (a..=b)
            .flat_map(|k| ms.iter().map(move |m| m * 10f64.powi(k)))
            .filter(|v| *v >= lo && *v <= hi)
            .map(f64::log10)
            .collect()
    };
    let all = pick(&[1.0, 2.0, 5.0]);
    if all.len() <= 12 {
        all
    } else {
        pick(&[1.0])
    }
}

/// 1.5M, 12k, 250, 2.5, 0.05.
fn fmt_num(v: f64) -> String {
    let a = v.abs();
    let trim = |s: String| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    };
    if a >= 1e6 {
        format!("{}M", trim(format!("{:.2}", v / 1e6)))
    } else if a >= 1e4 {
        format!("{}k", trim(format!("{:.1}", v / 1e3)))
    } else if a >= 100.0 || a == 0.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        trim(format!("{v:.2}"))
    } else {
        trim(format!("{v:.3}"))
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
    fn axis_helpers() {
        assert_eq!(nines_label(0.0), "0%");
        assert_eq!(nines_label(1.0), "90%");
        assert_eq!(nines_label(2.0), "99%");
        assert_eq!(nines_label(3.0), "99.9%");
        assert_eq!(nines_label(5.0), "99.999%");
        assert_eq!(nines_label(nines(0.5)), "50%");
        assert_eq!(nice_ceil(0.7), 1.0);
        assert_eq!(nice_ceil(3.0), 5.0);
        assert_eq!(nice_ceil(120.0), 200.0);
        assert_eq!(
            nice_ticks(0.0, 10.0, 5),
            vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
        );
        assert_eq!(fmt_num(15000.0), "15k");
        assert_eq!(fmt_num(2_500_000.0), "2.5M");
        assert_eq!(fmt_num(0.05), "0.05");
        let t = log_ticks(0.05, 2000.0);
        assert!(t.iter().all(|v| (-1.31..=3.31).contains(v)), "{t:?}");
    }
}
