//! The analysis's table with measured cells: one row per connection strategy (single
//! connection, round-robin pool, key-affine pool), one column per order (publish, ack on the
//! wire, ack completion, storage, consume), each cell preserved per key or not, with its figure.

use serde::Serialize;

use super::file::{OrderName, Per};
use super::judge::{order_verdict, OrderVerdict};
use super::select::{RunFacts, Selector};
use crate::result::Report;

/// The order table of a set of runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderTable {
    /// The selector the rows were built from, in words.
    pub runs: String,
    pub rows: Vec<OrderRow>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderRow {
    /// "single connection", "round-robin pool ×4".
    pub label: String,
    pub strategy: String,
    /// One per [`OrderName::ALL`]; `None` when no run of the row measured that order.
    pub cells: Vec<Option<OrderVerdict>>,
}

/// Strategies in the order the analysis lists them.
const STRATEGIES: [(&str, &str); 3] = [
    ("single", "single connection"),
    ("round_robin", "round-robin pool"),
    ("key_affine", "key-affine pool"),
];

/// Builds the table from the complete runs `select` picks; a strategy without runs has no row.
pub fn order_table(runs: &[(RunFacts, &Report)], select: &Selector) -> OrderTable {
    let picked: Vec<(RunFacts, &Report)> = runs
        .iter()
        .filter(|(f, _)| f.complete && select.matches(f))
        .map(|(f, r)| (f.clone(), *r))
        .collect();
    let rows = STRATEGIES
        .iter()
        .filter_map(|(strategy, name)| {
            let of: Vec<(RunFacts, &Report)> = picked
                .iter()
                .filter(|(f, _)| f.strategy == *strategy)
                .cloned()
                .collect();
            if of.is_empty() {
                return None;
            }
            let mut sizes: Vec<usize> = of.iter().map(|(f, _)| f.connections).collect();
            sizes.sort_unstable();
            sizes.dedup();
            let label = if *strategy == "single" {
                name.to_string()
            } else {
                let sizes: Vec<String> = sizes.iter().map(|n| format!("×{n}")).collect();
                format!("{name} {}", sizes.join("/"))
            };
            Some(OrderRow {
                label,
                strategy: strategy.to_string(),
                cells: OrderName::ALL
                    .iter()
                    .map(|o| order_verdict(&of, *o, Per::Key))
                    .collect(),
            })
        })
        .collect();
    OrderTable {
        runs: select.describe(),
        rows,
    }
}
