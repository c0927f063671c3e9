//! Horizontal bar charts (order divergence, comparison panels): values along the bottom, one
//! category name per bar group down the left, the figures written beside each bar.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::canvas::{DESC_SIZE, FONT, LABEL_SIZE};
use super::palette::GRID_COLOR;
use super::ticks::Ticked;
use super::ChartError;

/// A bar chart's drawing context.
pub(super) type BarChart<'a, 's> = ChartContext<'a, SVGBackend<'s>, Cartesian2d<Ticked, Ticked>>;

/// The axes of a bar chart.
pub(super) struct BarAxes<'n> {
    /// The value axis with its ticks.
    pub x: Ticked,
    /// What the values are, under the axis.
    pub x_desc: &'n str,
    pub x_fmt: &'n dyn Fn(&f64) -> String,
    /// The category axis runs from 0 to `slots` (one slot per bar group, plus any gaps).
    pub slots: f64,
    /// `(y, name)`: each y a key point labelled with its name.
    pub names: &'n [(f64, String)],
    /// Width of the name column, from [`category_label_width`].
    pub label_width: u32,
}

/// Builds a horizontal bar chart on `builder` and draws its axes, with no horizontal grid lines.
/// The caller sets what differs between charts (caption, margin, x label area) on `builder`;
/// the right margin is common because the figures written beside the longest bar need it in
/// every such chart.
pub(super) fn hbar_chart<'a, 's>(
    builder: &mut ChartBuilder<'a, '_, SVGBackend<'s>>,
    axes: BarAxes<'_>,
) -> Result<BarChart<'a, 's>, ChartError> {
    let names = axes.names;
    let key_points: Vec<f64> = names.iter().map(|(y, _)| *y).collect();
    let mut chart = builder
        .margin_right(36)
        .y_label_area_size(axes.label_width)
        .build_cartesian_2d(axes.x, Ticked::new(0.0..axes.slots, key_points))?;
    // The y ticks are exactly the names' key points; any other value gets no label.
    let y_fmt = |v: &f64| {
        names
            .iter()
            .find(|(y, _)| (y - v).abs() < 1e-6)
            .map_or(String::new(), |(_, n)| n.clone())
    };
    chart
        .configure_mesh()
        .x_desc(axes.x_desc)
        .x_label_formatter(axes.x_fmt)
        .y_label_formatter(&y_fmt)
        .disable_y_mesh()
        .label_style((FONT, LABEL_SIZE))
        .axis_desc_style((FONT, DESC_SIZE))
        .light_line_style(WHITE)
        .bold_line_style(GRID_COLOR)
        .draw()?;
    Ok(chart)
}

/// Width of the category label area of a horizontal bar chart for names of these lengths (in
/// bytes): about 8 px a character, within bounds so a very long name cannot squeeze the bars.
pub(super) fn category_label_width(name_lengths: impl Iterator<Item = usize>) -> u32 {
    name_lengths.max().unwrap_or(8).clamp(8, 48) as u32 * 8 + 16
}

/// Writes a bar's figures just right of its end at `(x, y)`, vertically centred on the bar.
pub(super) fn bar_label(
    chart: &mut BarChart<'_, '_>,
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
