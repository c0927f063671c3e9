//! The consume side over time: two panels on one time axis — above, per run the processed rate
//! (solid) against the published rate (dashed); below, the backlog (published, not yet
//! processed). Where solid runs under dashed, the consumer falls behind and the backlog grows.

use plotters::prelude::*;

use crate::render::view::SuiteView;
use crate::result::Report;

use super::canvas::{svg_chart, Area, DESC_SIZE, FONT};
use super::fault_shading::{FaultShading, FaultSpan};
use super::legend::{legend, LegendItem};
use super::palette::{scenario_color, MUTED, TEXT_COLOR};
use super::time_axis::{bucket_levels, bucket_rates, peak, time_mesh, TIME_DESC};
use super::{ChartError, Figure};

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

    /// A series with nothing to draw: it keeps a run's place (and so its colour).
    fn empty(name: &str) -> ConsumeSeries {
        ConsumeSeries {
            name: name.to_string(),
            bucket_ms: 0.0,
            processed: Vec::new(),
            backlog: Vec::new(),
            published: Vec::new(),
        }
    }

    fn is_empty(&self) -> bool {
        self.bucket_ms <= 0.0 || (self.processed.is_empty() && self.backlog.is_empty())
    }

    /// `(seconds at the bucket's end, messages waiting)`, from 0 at the start; merged buckets
    /// (long runs) keep their highest backlog.
    fn backlog_points(&self) -> Vec<(f64, f64)> {
        std::iter::once((0.0, 0.0))
            .chain(bucket_levels(self.bucket_ms, &self.backlog))
            .collect()
    }
}

/// One drawn series as points: `(s, msgs/s)` rates and `(s, messages)` backlog.
struct Lines {
    /// The colour index.
    index: usize,
    processed: Vec<(f64, f64)>,
    published: Vec<(f64, f64)>,
    backlog: Vec<(f64, f64)>,
}

/// Both panels of one chart: the lines, the faults to shade, and the axes' tops.
struct Panels<'a> {
    lines: Vec<Lines>,
    shading: FaultShading<'a>,
    faults: Vec<&'a FaultSpan>,
    x_max: f64,
    rate_max: f64,
    backlog_max: f64,
}

/// Two panels over one time axis: above, per scenario the processed rate (solid) against the
/// published rate (dashed, same colour); below, the backlog. Series without a timeline are left
/// out but keep their position's colour; faults are shaded as in the throughput timeline.
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
    let panels = Panels::fit(&drawn, faults);
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
            items.extend(panels.shading.legend_item(&panels.faults));
            let area = legend(&area, &items)?;
            let (_, h) = area.dim_in_pixel();
            let (upper, lower) = area.split_vertically(h * 56 / 100);
            panels.rates(&upper)?;
            panels.backlog(&lower)
        },
    )
}

impl<'a> Panels<'a> {
    fn fit(drawn: &[(usize, &'a ConsumeSeries)], faults: &'a [FaultSpan]) -> Panels<'a> {
        let lines: Vec<Lines> = drawn
            .iter()
            .map(|(i, s)| Lines {
                index: *i,
                processed: bucket_rates(s.bucket_ms, &s.processed),
                published: bucket_rates(s.bucket_ms, &s.published),
                backlog: s.backlog_points(),
            })
            .collect();
        let shading = FaultShading::new(drawn.iter().map(|(i, s)| (*i, s.name.as_str())).collect());
        let faults = shading.own(faults);
        let x_max = peak(
            lines
                .iter()
                .flat_map(|l| l.processed.iter().chain(&l.published).chain(&l.backlog))
                .map(|p| p.0)
                .chain(faults.iter().map(|f| f.end_ms / 1000.0)),
            0.1,
        );
        let rates = lines
            .iter()
            .flat_map(|l| l.processed.iter().chain(&l.published).map(|p| p.1));
        let rate_max = FaultShading::headroom(peak(rates, 1.0), faults.len());
        let backlog_max = peak(
            lines.iter().flat_map(|l| l.backlog.iter().map(|p| p.1)),
            1.0,
        ) * 1.1;
        Panels {
            lines,
            shading,
            faults,
            x_max,
            rate_max,
            backlog_max,
        }
    }

    /// The upper panel: processed (solid) against published (dashed), faults labelled.
    fn rates(&self, area: &Area<'_>) -> Result<(), ChartError> {
        let caption = (FONT, DESC_SIZE).into_font().color(&TEXT_COLOR);
        let mut top = ChartBuilder::on(area)
            .caption("Rates: processed (solid) and published (dashed)", caption)
            .margin(10)
            .margin_right(36)
            .x_label_area_size(26)
            .y_label_area_size(72)
            .build_cartesian_2d(0.0..self.x_max, 0.0..self.rate_max)?;
        time_mesh(&mut top, None, "rate (msgs/s)")?;
        self.shading.shade(&mut top, &self.faults, self.rate_max)?;
        for l in &self.lines {
            let c = scenario_color(l.index);
            top.draw_series(DashedLineSeries::new(
                l.published.clone(),
                7,
                5,
                c.mix(0.9).stroke_width(2),
            ))?;
            top.draw_series(LineSeries::new(l.processed.clone(), c.stroke_width(2)))?;
        }
        self.shading
            .label(&mut top, &self.faults, (self.x_max, self.rate_max))
    }

    /// The lower panel: the backlog as a shaded area per run.
    fn backlog(&self, area: &Area<'_>) -> Result<(), ChartError> {
        let caption = (FONT, DESC_SIZE).into_font().color(&TEXT_COLOR);
        let mut bottom = ChartBuilder::on(area)
            .caption("Backlog: published, not yet processed", caption)
            .margin(10)
            .margin_right(36)
            .x_label_area_size(44)
            .y_label_area_size(72)
            .build_cartesian_2d(0.0..self.x_max, 0.0..self.backlog_max)?;
        time_mesh(&mut bottom, Some(TIME_DESC), "backlog (messages)")?;
        self.shading
            .shade(&mut bottom, &self.faults, self.backlog_max)?;
        for l in &self.lines {
            let c = scenario_color(l.index);
            bottom.draw_series(
                AreaSeries::new(l.backlog.clone(), 0.0, c.mix(0.12))
                    .border_style(c.stroke_width(2)),
            )?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// On the report page

/// The consume side, when a run has one.
pub(super) fn figure(suite: &SuiteView) -> Option<Figure> {
    if !suite.any(|r| r.consume().is_some()) {
        return None;
    }
    // Runs without a consume side stay as empty series: same colours as the other charts.
    let series: Vec<ConsumeSeries> = suite
        .runs
        .iter()
        .map(|r| {
            ConsumeSeries::from_report(&r.label, r.report)
                .unwrap_or_else(|| ConsumeSeries::empty(&r.label))
        })
        .collect();
    Some(Figure::Chart {
        heading: Some("Consume side"),
        svg: consume_timeline(&series, &FaultSpan::of_suite(suite)),
        caption: "Above: messages processed per second (solid) against messages published per \
                  second (dashed, same colour), for the runs with a consume side. Where the solid \
                  line runs below the dashed one the consumer falls behind; where it runs above, \
                  it catches up. Below: the backlog, how many published messages wait to be \
                  processed (published so far minus processed so far). End-to-end latency grows \
                  with the backlog: a message published into a backlog of N waits for those N to \
                  be processed first.",
    })
}
