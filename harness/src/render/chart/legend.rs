//! Legends: rows of entries under a chart's title, never over the data.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::canvas::{Area, FONT, NOTE_SIZE};
use super::palette::{MUTED, TEXT_COLOR};
use super::ChartError;

/// A legend entry: a line swatch (series; solid or dashed) or a box swatch (bars, shading).
pub(super) struct LegendItem {
    label: String,
    color: RGBAColor,
    line: bool,
    dashed: bool,
    filled: bool,
}

impl LegendItem {
    pub(super) fn line(label: &str, c: RGBColor) -> LegendItem {
        LegendItem {
            label: label.to_string(),
            color: c.to_rgba(),
            line: true,
            dashed: false,
            filled: true,
        }
    }

    pub(super) fn dashed(label: &str, c: RGBColor) -> LegendItem {
        LegendItem {
            dashed: true,
            ..LegendItem::line(label, c)
        }
    }

    /// A box; `filled: false` outlines it (for light shading that would not show on white).
    pub(super) fn boxed(label: &str, color: RGBAColor, filled: bool) -> LegendItem {
        LegendItem {
            label: label.to_string(),
            color,
            line: false,
            dashed: false,
            filled,
        }
    }

    /// Draws the swatch and label with the swatch's left edge at `x`, centred on `cy`.
    fn draw(&self, top: &Area<'_>, x: i32, cy: i32) -> Result<(), ChartError> {
        if self.dashed {
            for dx in [0, 10, 20] {
                top.draw(&PathElement::new(
                    vec![(x + dx, cy), (x + dx + 6, cy)],
                    self.color.stroke_width(3),
                ))?;
            }
        } else if self.line {
            top.draw(&PathElement::new(
                vec![(x, cy), (x + 26, cy)],
                self.color.stroke_width(3),
            ))?;
        } else {
            top.draw(&Rectangle::new(
                [(x, cy - 7), (x + 26, cy + 7)],
                self.color.filled(),
            ))?;
            if !self.filled {
                top.draw(&Rectangle::new(
                    [(x, cy - 7), (x + 26, cy + 7)],
                    MUTED.stroke_width(1),
                ))?;
            }
        }
        top.draw(&Text::new(
            self.label.clone(),
            (x + 32, cy),
            (FONT, NOTE_SIZE)
                .into_font()
                .color(&TEXT_COLOR)
                .pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
        Ok(())
    }
}

/// Draws the legend as rows of entries under the title (never over the data) and returns the
/// area below it.
pub(super) fn legend<'a>(area: &Area<'a>, items: &[LegendItem]) -> Result<Area<'a>, ChartError> {
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
        it.draw(&top, x, y + row_h / 2)?;
    }
    Ok(rest)
}
