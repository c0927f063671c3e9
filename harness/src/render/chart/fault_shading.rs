//! Fault windows on the time charts: which scenario's fault a window is, how it is shaded and
//! labelled, and the room kept above the lines for the labels.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::render::view::SuiteView;
use crate::result::Report;

use super::canvas::{FONT, LABEL_SIZE};
use super::legend::LegendItem;
use super::palette::{color_dark, scenario_color, FAULT_COLOR, MUTED};
use super::time_axis::TimeChart;
use super::ChartError;

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

    /// Every fault of every run of the suite, under the run's label.
    pub fn of_suite(suite: &SuiteView) -> Vec<FaultSpan> {
        suite
            .runs
            .iter()
            .flat_map(|r| FaultSpan::from_report(&r.label, r.report))
            .collect()
    }
}

/// How fault windows are drawn on time charts: with several scenarios in one chart a fault is
/// shaded and labelled in its scenario's colour (and its label names the scenario); alone, in
/// the common fault colour.
pub(super) struct FaultShading<'n> {
    /// The scenarios of the chart: (colour index, name).
    scenarios: Vec<(usize, &'n str)>,
}

impl<'n> FaultShading<'n> {
    pub(super) fn new(scenarios: Vec<(usize, &'n str)>) -> FaultShading<'n> {
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
    pub(super) fn own<'f>(&self, faults: &'f [FaultSpan]) -> Vec<&'f FaultSpan> {
        faults
            .iter()
            .filter(|f| self.scenarios.iter().any(|(_, n)| *n == f.scenario))
            .collect()
    }

    /// The y range top for a data peak: room above the lines for the stacked fault labels.
    pub(super) fn headroom(peak: f64, faults: usize) -> f64 {
        peak * (1.12 + 0.08 * faults.min(6) as f64)
    }

    pub(super) fn legend_item(&self, faults: &[&FaultSpan]) -> Option<LegendItem> {
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
    pub(super) fn shade(
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
    pub(super) fn label(
        &self,
        chart: &mut TimeChart<'_, '_>,
        faults: &[&FaultSpan],
        (x_max, y_max): (f64, f64),
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
