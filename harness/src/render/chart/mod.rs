//! Charts: pure functions from result figures to SVG text (plotters' SVG backend, no fonts
//! bundled: the SVG carries `<text>` elements and the viewer picks a sans-serif font), and the
//! list of figures the HTML report shows.
//!
//! Every chart carries its own title, axis labels with units and a legend, so it reads without
//! the page around it. Scenarios get colours from one fixed palette by their position in the
//! input, so the same position has the same colour in every chart of a report.
//!
//! One file per chart, each in two halves: the drawing function, whose inputs are small plain
//! types (`SpectrumSeries`, `TimelineSeries`, `ConsumeSeries`, `FaultSpan`, `OrderRow`,
//! `ComparisonBar`, with `from_report` helpers, so callers that do not hold a `Report` — compare,
//! CI — can draw too), and its page figure(s): the inputs built from the suite's view, the
//! caption, and whether the suite has anything to show.
//!
//! - charts: `latency_spectrum`, `throughput_timeline` (overlay and small multiples),
//!   `consume_timeline`, `order_divergence`, `comparison` (drawn by the page's comparison
//!   section, with the comparison it needs), `strategies` (which strategy: sync vs async
//!   throughput, late per key per strategy, matched latencies; drawn with a claims answer);
//! - shared pieces: `canvas` (the SVG and its title, fonts), `palette`, `legend`, `ticks` (axes
//!   with chosen ticks, tick labels), `time_axis` and `fault_shading` (the timelines), `bar_axis`
//!   (the horizontal bar charts).
//!
//! Adding a chart touches two files: its own file here (drawing function and `figure`), and this
//! one — its `mod` line and one entry in [`FIGURES`], which the HTML page iterates in order.

use plotters::drawing::DrawingAreaErrorKind;

use crate::render::view::SuiteView;

mod bar_axis;
mod canvas;
mod comparison;
mod consume_timeline;
mod fault_shading;
mod latency_spectrum;
mod legend;
mod order_divergence;
mod palette;
mod strategies;
mod throughput_timeline;
mod ticks;
mod time_axis;

pub use comparison::{comparison, ComparisonBar};
pub use consume_timeline::{consume_timeline, ConsumeSeries};
pub use fault_shading::FaultSpan;
pub use latency_spectrum::{
    latency_spectrum, latency_spectrum_titled, spectrum_from_histogram, spectrum_from_summary,
    SpectrumSeries, E2E_TITLE,
};
pub use order_divergence::{order_divergence, OrderRow};
pub use palette::{scenario_color, scenario_color_hex, PALETTE};
pub use strategies::{grouped_bars, strategy_charts, Bar, BarGroup, StrategyChart};
pub use throughput_timeline::{throughput_timeline, throughput_timelines, TimelineSeries};

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

/// What a chart gives the report page.
pub enum Figure {
    /// One chart with its caption, under a heading of its own when it opens a topic.
    Chart {
        heading: Option<&'static str>,
        svg: Result<String, ChartError>,
        caption: &'static str,
    },
    /// Small multiples: one chart per run under a heading, side by side, no captions.
    Multiples {
        heading: &'static str,
        svgs: Result<Vec<String>, ChartError>,
    },
}

/// A chart's figure for a suite; `None` when the suite has nothing for it (no consume side,
/// one run without faults, …).
pub type FigureFn = fn(&SuiteView) -> Option<Figure>;

/// The figures of the report's "Charts" section, in page order.
pub const FIGURES: &[FigureFn] = &[
    latency_spectrum::publish_ack_figure,
    latency_spectrum::end_to_end_figure,
    throughput_timeline::overlay_figure,
    throughput_timeline::per_run_figure,
    consume_timeline::figure,
    order_divergence::figure,
];
