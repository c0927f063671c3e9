//! Views of results for people and scripts. A run's `Report` becomes a [`view::RunView`] (a set
//! of runs a [`view::SuiteView`]) once; every output draws from that view, so a label, a cell or
//! a phrase reads the same in all of them:
//!
//! - [`view`]: the view model — run labels, order names and cells, latency names, the phrases
//!   about retries, consume and faults, and the summary table cell by cell;
//! - [`text`]: the terminal summary of one run, and the summary table as markdown (`summary.md`,
//!   and what the terminal prints at the end of a suite);
//! - [`answer`]: a claims file's answer (order table, judged claims) for a terminal and as
//!   markdown;
//! - [`machine`]: csv and json summaries for scripts (`jsbench run --format json | csv`);
//! - [`comparison`]: a comparison with a baseline (`jsbench compare`) as markdown, and the
//!   github-action-benchmark files;
//! - [`html`]: the self-contained HTML report, with the SVG charts of [`chart`] (one file per
//!   chart; charts live here because each chart reads the same view).
//!
//! Adding an output format touches two files: the new format's file here, which reads
//! `SuiteView` / `RunView` (and, for a table, `view::SUMMARY_COLUMNS`), and this one, for its
//! `mod` line. Offering it on a command line is the command's business, not the renderer's.

pub mod answer;
pub mod chart;
pub mod comparison;
pub mod html;
pub mod machine;
pub mod text;
pub mod view;
