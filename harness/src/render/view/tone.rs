//! [`Tone`]: what a cell or a figure is, for the outputs that style it. Its own file because
//! both the orders (`order.rs`) and the table (`table.rs`, which uses the orders) give tones:
//! kept in either, the two would import each other.

use crate::checker::Verdict;

/// What a cell is, for outputs that style their cells (the HTML page colours them); text-only
/// outputs ignore it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Names the run (the page links it to the run's section and shows its colour).
    Run,
    Plain,
    /// A figure: right-aligned.
    Number,
    /// An order kept within every key.
    Kept,
    /// An order broken within some key.
    Broken,
    /// Something that must not happen: acknowledged messages lost.
    Bad,
    /// A run that did not complete.
    Warning,
    Verdict(Verdict),
}
