//! Order divergence: per run one pair of bars per observed order, the share of messages late
//! within their key (solid) above the share late globally (light), with the figures written
//! beside them.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::checker::{percent, OrderFigures};
use crate::render::view::{OrderKind, SuiteView};
use crate::result::Report;

use super::bar_axis::{bar_label, category_label_width, hbar_chart, BarAxes, BarChart};
use super::canvas::{svg_chart, FONT, NOTE_SIZE};
use super::legend::{legend, LegendItem};
use super::palette::{color_dark, MUTED, ORDER_PALETTE};
use super::ticks::{fmt_num, nice_ticks, Ticked};
use super::{ChartError, Figure};

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
            orders: OrderKind::CHARTED
                .iter()
                .map(|k| (k.name().to_string(), k.figures(&r.order)))
                .collect(),
        }
    }
}

/// Horizontal bars: per scenario one row per order, late share per key (solid) above the
/// global late share (light).
pub fn order_divergence(rows: &[OrderRow]) -> Result<String, ChartError> {
    if rows.is_empty() {
        return Err(ChartError::Empty("no scenarios"));
    }
    let colors = OrderColors::of(rows);
    if colors.names.is_empty() {
        return Err(ChartError::Empty("no orders"));
    }
    let max_pct = rows
        .iter()
        .flat_map(|r| r.orders.iter().filter_map(|(_, f)| f.as_ref()))
        .map(|f| f.late_share().max(f.late_per_key_share()) * 100.0)
        .fold(0.0f64, f64::max);
    // Leave about 45% of the width right of the longest bar for its figures (the consume row's
    // "… per key (15/16 keys) · 72% global" needs that much).
    let x_max = (max_pct / 0.55).max(5.0);
    let slots = Slots::of(rows);
    let height = 150 + (slots.total as u32) * 24;

    svg_chart(
        height,
        "Order divergence: messages late against publish order",
        |area| {
            let area = legend(&area, &colors.legend())?;
            let mut chart = hbar_chart(
                ChartBuilder::on(&area).margin(12).x_label_area_size(44),
                BarAxes {
                    x: Ticked::new(0.0..x_max, nice_ticks(0.0, x_max.min(100.0), 8)),
                    x_desc: "messages that arrive after a later-published message (% of messages)",
                    x_fmt: &|v| format!("{}%", fmt_num(*v)),
                    slots: slots.total,
                    names: &slots.names,
                    label_width: category_label_width(slots.names.iter().map(|(_, n)| n.len())),
                },
            )?;
            for &(s, name, f) in &slots.bars {
                let bar = Bar {
                    y: slots.y(s as f64),
                    name,
                    color: colors.of_order(name),
                    x_max,
                };
                bar.draw(&mut chart, f)?;
            }
            Ok(())
        },
    )
}

/// Order names in first-seen order: each keeps one colour across scenarios.
struct OrderColors<'r> {
    names: Vec<&'r str>,
}

impl<'r> OrderColors<'r> {
    fn of(rows: &'r [OrderRow]) -> OrderColors<'r> {
        let mut names: Vec<&str> = Vec::new();
        for r in rows {
            for (n, _) in &r.orders {
                if !names.contains(&n.as_str()) {
                    names.push(n);
                }
            }
        }
        OrderColors { names }
    }

    fn of_order(&self, name: &str) -> RGBColor {
        let i = self.names.iter().position(|n| *n == name).unwrap_or(0);
        ORDER_PALETTE[i % ORDER_PALETTE.len()]
    }

    /// The orders' colours, then what the two bars of a pair mean.
    fn legend(&self) -> Vec<LegendItem> {
        let mut items: Vec<LegendItem> = self
            .names
            .iter()
            .map(|n| LegendItem::boxed(n, self.of_order(n).to_rgba(), true))
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
        items
    }
}

/// Where the bars go: slots from the top, each scenario's orders, then one empty slot.
struct Slots<'r> {
    /// `(slot, order name, figures)`.
    bars: Vec<(usize, &'r str, Option<&'r OrderFigures>)>,
    /// `(y, scenario)` at the middle of each scenario's slots.
    names: Vec<(f64, String)>,
    total: f64,
}

impl<'r> Slots<'r> {
    fn of(rows: &'r [OrderRow]) -> Slots<'r> {
        let mut bars = Vec::new();
        let mut centers: Vec<(f64, &str)> = Vec::new();
        let mut slot = 0usize;
        for (g, r) in rows.iter().enumerate() {
            let first = slot;
            for (n, f) in &r.orders {
                bars.push((slot, n.as_str(), f.as_ref()));
                slot += 1;
            }
            let last = slot.max(first + 1) - 1;
            centers.push(((first + last) as f64 / 2.0, r.scenario.as_str()));
            if g + 1 < rows.len() {
                slot += 1;
            }
        }
        let mut slots = Slots {
            bars,
            names: Vec::new(),
            total: slot.max(1) as f64,
        };
        slots.names = centers
            .into_iter()
            .map(|(c, n)| (slots.y(c), n.to_string()))
            .collect();
        slots
    }

    /// Slot `s` (from the top) is drawn around this y.
    fn y(&self, s: f64) -> f64 {
        self.total - s - 0.5
    }
}

/// One order's pair of bars.
struct Bar<'n> {
    y: f64,
    name: &'n str,
    color: RGBColor,
    x_max: f64,
}

impl Bar<'_> {
    /// The two bars and their figures, or "not measured" where they would be.
    fn draw(
        &self,
        chart: &mut BarChart<'_, '_>,
        f: Option<&OrderFigures>,
    ) -> Result<(), ChartError> {
        let (y, name, c) = (self.y, self.name, self.color);
        let Some(f) = f else {
            chart.draw_series(std::iter::once(Text::new(
                format!("{name}: not measured"),
                (0.0, y),
                (FONT, NOTE_SIZE)
                    .into_font()
                    .color(&MUTED)
                    .pos(Pos::new(HPos::Left, VPos::Center)),
            )))?;
            return Ok(());
        };
        let pk = f.late_per_key_share() * 100.0;
        let gl = f.late_share() * 100.0;
        chart.draw_series([
            Rectangle::new([(0.0, y), (pk.min(self.x_max), y + 0.4)], c.filled()),
            Rectangle::new(
                [(0.0, y - 0.4), (gl.min(self.x_max), y)],
                c.mix(0.35).filled(),
            ),
        ])?;
        bar_label(
            chart,
            (pk.max(gl).min(self.x_max), y),
            figures(name, f),
            (FONT, NOTE_SIZE).into_font(),
            color_dark(c),
        )
    }
}

/// What is written beside an order's bars.
fn figures(name: &str, f: &OrderFigures) -> String {
    if f.messages == 0 {
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
    }
}

// ---------------------------------------------------------------------------------------------
// On the report page

/// Every run's orders.
pub(super) fn figure(suite: &SuiteView) -> Option<Figure> {
    let rows: Vec<OrderRow> = suite
        .runs
        .iter()
        .map(|r| OrderRow::from_report(&r.label, r.report))
        .collect();
    Some(Figure::Chart {
        heading: None,
        svg: order_divergence(&rows),
        caption: "Share of messages that arrive after a later-published one. Solid: late within \
                  its key (what a consumer of one aggregate sees); light: late globally. 0 means \
                  the order was kept.",
    })
}
