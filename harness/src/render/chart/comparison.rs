//! Baseline against candidate (`jsbench compare`, `--baseline`): one panel per metric, per
//! scenario a baseline bar (grey) above a candidate bar (blue, red when it regresses), with the
//! change written beside them. The page draws it in its comparison section, not among the
//! figures of the runs.

use plotters::prelude::*;

use super::bar_axis::{bar_label, category_label_width, hbar_chart, BarAxes, BarChart};
use super::canvas::{svg_chart, Area, FONT, NOTE_SIZE};
use super::legend::{legend, LegendItem};
use super::palette::{BASELINE_COLOR, CANDIDATE_COLOR, REGRESSION_COLOR, TEXT_COLOR};
use super::ticks::{fmt_num, nice_ticks, Ticked};
use super::ChartError;
use crate::compare::{Comparison, Decision};
use crate::result::Unit;

/// One metric of one scenario, baseline against candidate (the output of `jsbench compare`,
/// mapped to plain fields).
#[derive(Debug, Clone, PartialEq)]
pub struct ComparisonBar {
    pub scenario: String,
    /// "msgs/s", "p50", "p99", "p99.9"
    pub metric: String,
    pub unit: Unit,
    pub baseline: f64,
    pub candidate: f64,
    pub change_pct: f64,
    pub regression: bool,
}

impl ComparisonBar {
    /// The rows of a comparison that have a change to draw.
    pub fn from_comparison(c: &Comparison) -> Vec<ComparisonBar> {
        c.rows
            .iter()
            .filter_map(|r| {
                Some(ComparisonBar {
                    scenario: r.scenario.clone(),
                    metric: r.metric.clone(),
                    unit: r.unit,
                    baseline: r.baseline.median,
                    candidate: r.candidate.median,
                    change_pct: r.change_pct?,
                    regression: r.decision == Decision::Regression,
                })
            })
            .collect()
    }
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
            let scale = PanelScale::fit(m, &rows);
            comparison_panel(&panel, &scale, &rows, label_width)?;
        }
        Ok(())
    })
}

/// The value axis of one metric's panel.
struct PanelScale {
    /// The metric with its unit, as the axis and caption name it: "p99 (ms)".
    with_unit: String,
    higher_better: bool,
    unit: Unit,
    /// Values are divided by this to be in `unit`.
    div: f64,
    max: f64,
}

impl PanelScale {
    /// The scale of one metric's panel; `rows` are its bars (at least one).
    fn fit(metric: &str, rows: &[&ComparisonBar]) -> PanelScale {
        let raw_max = rows
            .iter()
            .map(|b| b.baseline.max(b.candidate))
            .fold(0.0f64, f64::max);
        // Latencies in µs read better in ms once they are large.
        let (unit, div) = rows
            .first()
            .map_or(Unit::Micros, |b| b.unit)
            .readable(raw_max);
        let with_unit = if unit.as_str() == metric {
            metric.to_string()
        } else {
            format!("{metric} ({})", unit.as_str())
        };
        PanelScale {
            with_unit,
            higher_better: metric.contains("/s") || unit == Unit::MsgsPerSec,
            unit,
            div,
            max: (raw_max / div).max(1e-9),
        }
    }

    fn caption(&self) -> String {
        format!(
            "{} — {} is better",
            self.with_unit,
            if self.higher_better {
                "higher"
            } else {
                "lower"
            }
        )
    }

    /// The axis: room right of the longest bar for its figures.
    fn x(&self) -> Ticked {
        Ticked::new(0.0..self.max / 0.58, nice_ticks(0.0, self.max * 1.05, 6))
    }
}

fn comparison_panel(
    area: &Area<'_>,
    scale: &PanelScale,
    rows: &[&ComparisonBar],
    label_width: u32,
) -> Result<(), ChartError> {
    let n = rows.len() as f64;
    let y_of = |k: usize| n - k as f64 - 0.5;
    let names: Vec<(f64, String)> = rows
        .iter()
        .enumerate()
        .map(|(k, b)| (y_of(k), b.scenario.clone()))
        .collect();
    let mut chart = hbar_chart(
        ChartBuilder::on(area)
            .caption(scale.caption(), (FONT, 17).into_font().color(&TEXT_COLOR))
            .margin(10)
            .x_label_area_size(40),
        BarAxes {
            x: scale.x(),
            x_desc: &scale.with_unit,
            x_fmt: &|v| fmt_num(*v),
            slots: n,
            names: &names,
            label_width,
        },
    )?;
    for (k, b) in rows.iter().enumerate() {
        bar_pair(&mut chart, scale, y_of(k), b)?;
    }
    Ok(())
}

/// One scenario's baseline and candidate bars around `y`, and the change beside them.
fn bar_pair(
    chart: &mut BarChart<'_, '_>,
    scale: &PanelScale,
    y: f64,
    b: &ComparisonBar,
) -> Result<(), ChartError> {
    let (base, cand) = (b.baseline / scale.div, b.candidate / scale.div);
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
        "{} → {} {} ({:+.1}%{})",
        fmt_num(base),
        fmt_num(cand),
        scale.unit.as_str(),
        b.change_pct,
        if b.regression { ", REGRESSION" } else { "" }
    );
    let (font, color) = if b.regression {
        (
            (FONT, NOTE_SIZE).into_font().style(FontStyle::Bold),
            REGRESSION_COLOR,
        )
    } else {
        ((FONT, NOTE_SIZE).into_font(), TEXT_COLOR)
    };
    bar_label(chart, (base.max(cand), y), text, font, color)
}
