//! The analysis's table with measured cells: one row per connection strategy (single
//! connection, round-robin pool, key-affine pool), one column per order (publish, ack on the
//! wire, ack completion, storage, consume), each cell preserved per key or not, with its figure.
//! Runs published through a client adapter get a group of rows of their own per client
//! (`single connection · nats.go`), after the in-process async-nats rows, which read as before.

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
    /// The client of the row's runs when it is not async-nats in jsbench's own process
    /// (`nats.go`, `async-nats-stdio`, …); absent for in-process rows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// One per [`OrderName::ALL`]; `None` when no run of the row measured that order.
    pub cells: Vec<Option<OrderVerdict>>,
}

/// Strategies in the order the analysis lists them.
const STRATEGIES: [(&str, &str); 3] = [
    ("single", "single connection"),
    ("round_robin", "round-robin pool"),
    ("key_affine", "key-affine pool"),
];

/// Builds the table from the complete runs `select` picks: in-process rows first, then one
/// group per other client in name order; a strategy without runs has no row.
pub fn order_table(runs: &[(RunFacts, &Report)], select: &Selector) -> OrderTable {
    let picked: Vec<(RunFacts, &Report)> = runs
        .iter()
        .filter(|(f, _)| f.complete && select.matches(f))
        .map(|(f, r)| (f.clone(), *r))
        .collect();
    let mut groups: Vec<Option<String>> = picked.iter().map(|(f, _)| f.client_group()).collect();
    // None sorts first: the in-process rows lead, as they did before there were adapters.
    groups.sort();
    groups.dedup();
    let rows = groups
        .iter()
        .flat_map(|g| {
            let of: Vec<(RunFacts, &Report)> = picked
                .iter()
                .filter(|(f, _)| f.client_group() == *g)
                .cloned()
                .collect();
            strategy_rows(&of, g.as_deref())
        })
        .collect();
    OrderTable {
        runs: select.describe(),
        rows,
    }
}

/// One row per strategy among `picked` (runs of one client).
fn strategy_rows(picked: &[(RunFacts, &Report)], client: Option<&str>) -> Vec<OrderRow> {
    STRATEGIES
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
            let mut label = if *strategy == "single" {
                name.to_string()
            } else {
                let sizes: Vec<String> = sizes.iter().map(|n| format!("×{n}")).collect();
                format!("{name} {}", sizes.join("/"))
            };
            if let Some(c) = client {
                label = format!("{label} · {c}");
            }
            Some(OrderRow {
                label,
                strategy: strategy.to_string(),
                client: client.map(String::from),
                cells: OrderName::ALL
                    .iter()
                    .map(|o| order_verdict(&of, *o, Per::Key))
                    .collect(),
            })
        })
        .collect()
}
