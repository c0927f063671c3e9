//! The canvas every chart is drawn on: a white SVG of the common width with the chart's title
//! on top, and the fonts and sizes of its text.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::palette::TEXT_COLOR;
use super::ChartError;

/// No font is bundled: the SVG names a generic family and the viewer picks one.
pub(super) const FONT: &str = "sans-serif";
pub(super) const TITLE_SIZE: u32 = 22;
/// Tick labels and fault labels.
pub(super) const LABEL_SIZE: u32 = 14;
/// Axis descriptions and panel captions.
pub(super) const DESC_SIZE: u32 = 15;
/// Figures written on bars, and legend entries.
pub(super) const NOTE_SIZE: u32 = 13;
const WIDTH: u32 = 960;

/// The drawing area a chart fills.
pub(super) type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;

/// One chart as SVG text: a white canvas `WIDTH` × `height` with `title` on top; `draw` fills
/// the area below the title.
pub(super) fn svg_chart(
    height: u32,
    title: &str,
    draw: impl FnOnce(Area<'_>) -> Result<(), ChartError>,
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
