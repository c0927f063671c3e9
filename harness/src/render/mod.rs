//! Views of results for people and scripts: the terminal summary and summary table
//! ([`text`]), csv and json summaries ([`machine`]) and the self-contained HTML report
//! ([`html`]).

pub mod html;
pub mod machine;
pub mod text;
