//! Colours: the scenario palette every chart (and the page's swatches) shares by position, the
//! order palette of the divergence chart, and the fixed colours of text, faults and comparisons.

use plotters::style::RGBColor;

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
pub(super) const ORDER_PALETTE: [RGBColor; 6] = [
    RGBColor(0x1b, 0x9e, 0x77),
    RGBColor(0x75, 0x70, 0xb3),
    RGBColor(0xd9, 0x5f, 0x02),
    RGBColor(0xe7, 0x29, 0x8a),
    RGBColor(0x66, 0xa6, 0x1e),
    RGBColor(0xa6, 0x76, 0x1d),
];

pub(super) const BASELINE_COLOR: RGBColor = RGBColor(0xa0, 0xa0, 0xa0);
pub(super) const CANDIDATE_COLOR: RGBColor = RGBColor(0x4e, 0x79, 0xa7);
pub(super) const REGRESSION_COLOR: RGBColor = RGBColor(0xd6, 0x27, 0x28);
/// Fault shading when one scenario is drawn (in the overlay, the scenario's own colour says whose
/// fault it is).
pub(super) const FAULT_COLOR: RGBColor = RGBColor(0xc0, 0x39, 0x2b);
pub(super) const TEXT_COLOR: RGBColor = RGBColor(0x22, 0x22, 0x22);
pub(super) const MUTED: RGBColor = RGBColor(0x77, 0x77, 0x77);
/// The grid lines at the ticks.
pub(super) const GRID_COLOR: RGBColor = RGBColor(0xe4, 0xe4, 0xe4);

/// The colour of the scenario at `index` in every chart.
pub fn scenario_color(index: usize) -> RGBColor {
    PALETTE[index % PALETTE.len()]
}

/// `#rrggbb` of [`scenario_color`], for HTML swatches.
pub fn scenario_color_hex(index: usize) -> String {
    let c = scenario_color(index);
    format!("#{:02x}{:02x}{:02x}", c.0, c.1, c.2)
}

/// A darker shade for text in a series colour (light colours such as yellow stay readable).
pub(super) fn color_dark(c: RGBColor) -> RGBColor {
    RGBColor(
        (c.0 as f64 * 0.7) as u8,
        (c.1 as f64 * 0.7) as u8,
        (c.2 as f64 * 0.7) as u8,
    )
}
