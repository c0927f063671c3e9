//! Acked throughput over time: all runs overlaid in one chart, and one small chart per run (the
//! small multiples), fault windows shaded.

use plotters::prelude::*;

use crate::render::view::SuiteView;
use crate::result::Report;

use super::canvas::svg_chart;
use super::fault_shading::{FaultShading, FaultSpan};
use super::legend::{legend, LegendItem};
use super::palette::scenario_color;
use super::time_axis::{bucket_rates, peak, time_mesh, TIME_DESC};
use super::{ChartError, Figure};

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

    fn of_suite(suite: &SuiteView) -> Vec<TimelineSeries> {
        suite
            .runs
            .iter()
            .map(|r| TimelineSeries::from_report(&r.label, r.report))
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

/// One timeline chart of `series` (each with its colour index) and their faults.
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
    let x_max = peak(
        rates
            .iter()
            .flat_map(|(_, _, r)| r.last().map(|p| p.0))
            .chain(faults.iter().map(|f| f.end_ms / 1000.0)),
        0.1,
    );
    let y_peak = peak(
        rates.iter().flat_map(|(_, _, r)| r.iter().map(|p| p.1)),
        1.0,
    );
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
        time_mesh(&mut chart, Some(TIME_DESC), "throughput (acked msgs/s)")?;
        shading.shade(&mut chart, &faults, y_max)?;
        for (i, _, pts) in &rates {
            chart.draw_series(LineSeries::new(
                pts.clone(),
                scenario_color(*i).stroke_width(2),
            ))?;
        }
        shading.label(&mut chart, &faults, (x_max, y_max))?;
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------------
// On the report page

/// Every run in one chart.
pub(super) fn overlay_figure(suite: &SuiteView) -> Option<Figure> {
    let svg = throughput_timeline(
        &TimelineSeries::of_suite(suite),
        &FaultSpan::of_suite(suite),
    );
    Some(Figure::Chart {
        heading: None,
        svg,
        caption:
            "Acks per second over time, all runs. Shaded: fault windows in their run's colour.",
    })
}

/// One chart per run, when the overlay may hide something: several runs, or faults to place.
pub(super) fn per_run_figure(suite: &SuiteView) -> Option<Figure> {
    let faults = FaultSpan::of_suite(suite);
    if suite.runs.len() <= 1 && faults.is_empty() {
        return None;
    }
    let svgs = throughput_timelines(&TimelineSeries::of_suite(suite), &faults);
    Some(Figure::Multiples {
        heading: "Throughput per run",
        svgs: svgs.map(|list| list.into_iter().map(|(_, svg)| svg).collect()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::chart::time_axis::MAX_POINTS;

    /// The drawn line of an hour at 100 ms buckets holds at most `MAX_POINTS` points.
    #[test]
    fn an_hour_long_timeline_draws_a_bounded_line() {
        let series = TimelineSeries {
            name: "soak".into(),
            bucket_ms: 100.0,
            acked: (0..36_000u64).map(|i| 200 + i % 13).collect(),
        };
        let svg = throughput_timeline(&[series], &[]).unwrap();
        let lines: Vec<&str> = svg
            .split("<polyline")
            .skip(1)
            .filter_map(|p| p.split("points=\"").nth(1)?.split('"').next())
            .collect();
        let longest = lines
            .iter()
            .map(|p| p.split_whitespace().count())
            .max()
            .unwrap();
        assert!(longest <= MAX_POINTS, "{longest} points drawn");
        assert!(longest >= MAX_POINTS / 2, "{longest} points drawn");
    }
}
