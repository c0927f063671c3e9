//! "Which strategy?": the comparison charts of a claims answer, between connection strategies
//! rather than against a baseline:
//! - throughput of sync and async publishing per strategy (bars at the median, whiskers from
//!   the slowest to the fastest run);
//! - late per key per strategy and order (from the answer's order table);
//! - latency percentiles of matched sync / async runs on one chart: publish → ack of both, and
//!   how long the async publish call blocked.
//!
//! The page shows them under the answer, and the suite writes each as a standalone SVG beside
//! index.html (`charts/*.svg`) for READMEs and CI summaries.

use std::collections::BTreeMap;
use std::path::PathBuf;

use plotters::prelude::*;

use super::bar_axis::{bar_label, category_label_width, hbar_chart, BarAxes, BarChart};
use super::canvas::{svg_chart, FONT, NOTE_SIZE};
use super::latency_spectrum::{latency_spectrum_titled, spectrum_from_summary, SpectrumSeries};
use super::legend::{legend, LegendItem};
use super::palette::{color_dark, ORDER_PALETTE, PALETTE, TEXT_COLOR};
use super::ticks::{fmt_num, nice_ticks, Ticked};
use super::ChartError;
use crate::claims::{Answer, OrderName, RunFacts};
use crate::result::{LatencyKind, Report};
use crate::scenario::Mode;
use crate::stats::median;

/// One bar: its value, the spread it summarises, and the text beside it.
#[derive(Debug, Clone, PartialEq)]
pub struct Bar {
    pub value: f64,
    /// Whiskers (lowest, highest); equal to `value` for one run.
    pub spread: (f64, f64),
    pub text: String,
}

/// One category (a strategy) with a bar per series; `None` where the series has no run.
#[derive(Debug, Clone, PartialEq)]
pub struct BarGroup {
    pub name: String,
    pub bars: Vec<Option<Bar>>,
}

/// A chart for the page and for its file.
pub struct StrategyChart {
    /// File name under `charts/`.
    pub file: &'static str,
    pub caption: &'static str,
    pub svg: Result<String, ChartError>,
}

/// The answer's charts; those with nothing to draw are left out.
pub fn strategy_charts(runs: &[(PathBuf, Report)], answer: &Answer) -> Vec<StrategyChart> {
    let facts: Vec<(RunFacts, &Report)> = runs
        .iter()
        .map(|(_, r)| (RunFacts::of(r), r))
        .filter(|(f, _)| f.complete && f.faults.is_empty() && f.consume.is_none())
        .collect();
    let mut out = Vec::new();
    let (modes, groups) = throughput_groups(&facts);
    if !groups.is_empty() {
        let colors: Vec<RGBColor> = modes.iter().map(|m| MODE_COLORS[*m]).collect();
        let names: Vec<&str> = modes.iter().map(|m| MODES[*m].as_str()).collect();
        out.push(StrategyChart {
            file: "throughput-sync-async.svg",
            caption: "Throughput by publish mode (sync, async, atomic batch, fast ingest) per \
                      connection strategy, runs without faults, a consume side or the sequence \
                      guard: bar at the median run, whiskers from the slowest to the fastest \
                      run; async over sync, batch and fast over async.",
            svg: grouped_bars(
                "Throughput by publish mode per connection strategy",
                "acked msgs/s",
                &names,
                &colors,
                &groups,
            ),
        });
    }
    if !answer.table.rows.is_empty() {
        let groups = late_groups(answer);
        let names: Vec<&str> = OrderName::ALL.iter().map(|o| o.as_str()).collect();
        out.push(StrategyChart {
            file: "late-per-key-by-strategy.svg",
            caption: "Messages late within their key, per connection strategy and order (the \
                      worst run of each; the order table's runs). 0 means the order is kept.",
            svg: grouped_bars(
                "Late per key by strategy and order",
                "late within their key (% of messages)",
                &names,
                &ORDER_PALETTE[..names.len()],
                &groups,
            ),
        });
    }
    let series = latency_pairs(&facts);
    if !series.is_empty() {
        out.push(StrategyChart {
            file: "latency-sync-async.svg",
            caption: "Latency of matched sync and async runs (same strategy, no faults; the \
                      first run of each): publish → ack, and how long the publish call blocked \
                      (sync: until its ack; async: until queued with a free slot in the window).",
            svg: latency_spectrum_titled("Sync vs async latency by percentile", &series),
        });
    }
    out
}

/// Per row of the order table, its cells as bars (the worst run's late-per-key share, in %).
fn late_groups(answer: &Answer) -> Vec<BarGroup> {
    answer
        .table
        .rows
        .iter()
        .map(|r| BarGroup {
            name: r.label.clone(),
            bars: r
                .cells
                .iter()
                .map(|c| {
                    c.as_ref().map(|v| Bar {
                        value: v.worst_share * 100.0,
                        spread: (v.worst_share * 100.0, v.worst_share * 100.0),
                        text: if v.preserved {
                            "0".into()
                        } else {
                            v.short.clone()
                        },
                    })
                })
                .collect(),
        })
        .collect()
}

/// Strategy label: "single", "round-robin ×4".
fn strategy_label(f: &RunFacts) -> String {
    let s = f.strategy.replace('_', "-");
    if f.connections > 1 {
        format!("{s} ×{}", f.connections)
    } else {
        s
    }
}

/// The publish modes the throughput chart compares, in its order, and their colours.
const MODES: [Mode; 4] = Mode::ALL;
const MODE_COLORS: [RGBColor; 4] = [PALETTE[9], PALETTE[0], PALETTE[2], PALETTE[4]];

/// Per strategy, the msgs/s of its runs in each publish mode; only the modes some run used
/// (their indexes into [`MODES`]) get a series. Guarded runs are left out: the guard, not the
/// mode, decides their throughput.
fn throughput_groups(facts: &[(RunFacts, &Report)]) -> (Vec<usize>, Vec<BarGroup>) {
    let mut by: BTreeMap<String, [Vec<f64>; 4]> = BTreeMap::new();
    for (f, r) in facts {
        let Some(side) = MODES.iter().position(|m| Some(*m) == f.mode) else {
            continue;
        };
        if r.throughput.msgs_per_sec > 0.0 && !f.guard {
            by.entry(strategy_label(f)).or_default()[side].push(r.throughput.msgs_per_sec);
        }
    }
    let modes: Vec<usize> = (0..MODES.len())
        .filter(|m| by.values().any(|v| !v[*m].is_empty()))
        .collect();
    let groups = by
        .into_iter()
        .map(|(name, runs)| {
            // async over sync; batch and fast over async.
            let ratio = |m: usize, over: usize| -> String {
                if runs[m].is_empty() || runs[over].is_empty() {
                    return String::new();
                }
                let r = median(&runs[m]) / median(&runs[over]);
                format!(" ({r:.1}× {})", MODES[over].as_str())
            };
            let bars = modes
                .iter()
                .map(|&m| {
                    let extra = match m {
                        0 => String::new(),
                        1 => ratio(1, 0),
                        _ => ratio(m, 1),
                    };
                    throughput_bar(&runs[m], extra)
                })
                .collect();
            BarGroup { name, bars }
        })
        .collect();
    (modes, groups)
}

/// One throughput bar: the median run, whiskers from the slowest to the fastest.
fn throughput_bar(v: &[f64], extra: String) -> Option<Bar> {
    if v.is_empty() {
        return None;
    }
    let m = median(v);
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(0.0, f64::max);
    let runs = if v.len() > 1 {
        format!(", {} runs", v.len())
    } else {
        String::new()
    };
    Some(Bar {
        value: m,
        spread: (lo, hi),
        text: format!("{}{runs}{extra}", fmt_num(m)),
    })
}

/// For strategies with both a sync and an async run: their publish → ack and publish-call
/// latencies as spectrum series (the sync call is its ack latency, so it is not drawn twice).
fn latency_pairs(facts: &[(RunFacts, &Report)]) -> Vec<SpectrumSeries> {
    let mut first: BTreeMap<(String, Mode), &Report> = BTreeMap::new();
    for (f, r) in facts {
        if let Some(mode) = f.mode {
            first.entry((strategy_label(f), mode)).or_insert(r);
        }
    }
    let mut out = Vec::new();
    let strategies: Vec<String> = first.keys().map(|k| k.0.clone()).collect();
    let mut seen = std::collections::BTreeSet::new();
    for s in strategies {
        if !seen.insert(s.clone()) {
            continue;
        }
        let (Some(sync), Some(asyn)) = (
            first.get(&(s.clone(), Mode::Sync)),
            first.get(&(s.clone(), Mode::Async)),
        ) else {
            continue;
        };
        for (report, mode, kind) in [
            (sync, Mode::Sync, LatencyKind::PublishAck),
            (asyn, Mode::Async, LatencyKind::PublishAck),
            (asyn, Mode::Async, LatencyKind::PublishCall),
        ] {
            if let Some(l) = report.latency(kind) {
                out.push(SpectrumSeries {
                    name: format!("{s} {}: {}", mode.as_str(), kind.human()),
                    points: spectrum_from_summary(l),
                });
            }
        }
    }
    out
}

/// Horizontal bars: one group per category, one bar per series in its colour, whiskers where
/// a bar has a spread, the text beside each bar.
pub fn grouped_bars(
    title: &str,
    x_desc: &str,
    series: &[&str],
    colors: &[RGBColor],
    groups: &[BarGroup],
) -> Result<String, ChartError> {
    if groups.iter().all(|g| g.bars.iter().all(Option::is_none)) {
        return Err(ChartError::Empty("no bars"));
    }
    let k = series.len().max(1);
    // Slots from the top: each group's bars, then a gap.
    let total = (groups.len() * (k + 1)).saturating_sub(1).max(1) as f64;
    let y_of = |slot: usize| total - slot as f64 - 0.5;
    let names: Vec<(f64, String)> = groups
        .iter()
        .enumerate()
        .map(|(g, grp)| {
            let first = g * (k + 1);
            (y_of(first) - (k as f64 - 1.0) / 2.0, grp.name.clone())
        })
        .collect();
    let max = groups
        .iter()
        .flat_map(|g| g.bars.iter().flatten())
        .map(|b| b.spread.1.max(b.value))
        .fold(0.0f64, f64::max)
        .max(1e-9);
    let label_width = category_label_width(groups.iter().map(|g| g.name.len()));
    let height = 130 + 26 * total as u32;
    let items: Vec<LegendItem> = series
        .iter()
        .zip(colors)
        .map(|(s, c)| LegendItem::boxed(s, c.to_rgba(), true))
        .collect();
    svg_chart(height, title, |area| {
        let area = legend(&area, &items)?;
        let mut chart = hbar_chart(
            ChartBuilder::on(&area).margin(10).x_label_area_size(40),
            BarAxes {
                x: Ticked::new(0.0..max / 0.62, nice_ticks(0.0, max * 1.05, 6)),
                x_desc,
                x_fmt: &|v| fmt_num(*v),
                slots: total,
                names: &names,
                label_width,
            },
        )?;
        for (g, grp) in groups.iter().enumerate() {
            for (i, bar) in grp.bars.iter().enumerate() {
                let y = y_of(g * (k + 1) + i);
                let c = colors[i % colors.len()];
                match bar {
                    Some(b) => draw_bar(&mut chart, y, c, b)?,
                    None => {
                        chart.draw_series(std::iter::once(Text::new(
                            format!("{}: not measured", series.get(i).unwrap_or(&"")),
                            (0.0, y),
                            (FONT, NOTE_SIZE).into_font().color(&TEXT_COLOR),
                        )))?;
                    }
                }
            }
        }
        Ok(())
    })
}

/// One bar around `y`, its whiskers when it has a spread, and its text beside it.
fn draw_bar(chart: &mut BarChart<'_, '_>, y: f64, c: RGBColor, b: &Bar) -> Result<(), ChartError> {
    chart.draw_series([Rectangle::new(
        [(0.0, y - 0.38), (b.value, y + 0.38)],
        c.filled(),
    )])?;
    if b.spread.0 < b.spread.1 {
        let dark = color_dark(c);
        let (lo, hi) = b.spread;
        chart.draw_series([
            PathElement::new(vec![(lo, y), (hi, y)], dark),
            PathElement::new(vec![(lo, y - 0.2), (lo, y + 0.2)], dark),
            PathElement::new(vec![(hi, y - 0.2), (hi, y + 0.2)], dark),
        ])?;
    }
    bar_label(
        chart,
        (b.spread.1.max(b.value), y),
        b.text.clone(),
        (FONT, NOTE_SIZE).into_font(),
        TEXT_COLOR,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouped_bars_draw_every_bar_and_say_what_is_missing() {
        let groups = vec![
            BarGroup {
                name: "single".into(),
                bars: vec![
                    Some(Bar {
                        value: 6000.0,
                        spread: (5000.0, 7000.0),
                        text: "6k".into(),
                    }),
                    Some(Bar {
                        value: 200_000.0,
                        spread: (200_000.0, 200_000.0),
                        text: "200k (33× sync)".into(),
                    }),
                ],
            },
            BarGroup {
                name: "key-affine ×4".into(),
                bars: vec![None, None],
            },
        ];
        let svg = grouped_bars("T", "msgs/s", &["sync", "async"], &PALETTE[..2], &groups).unwrap();
        assert!(svg.contains("200k (33× sync)"), "{svg}");
        assert!(svg.contains("sync: not measured"));
        assert!(svg.contains("key-affine ×4"));
        let empty = vec![BarGroup {
            name: "x".into(),
            bars: vec![None],
        }];
        assert!(grouped_bars("T", "x", &["a"], &PALETTE[..1], &empty).is_err());
    }
}
