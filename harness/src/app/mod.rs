//! The commands behind `jsbench` and `cargo bench`: suites of scenario files run one after
//! another, their summaries, and saved baselines — shared by `main.rs` and `benches/suite.rs`
//! so that both behave the same.

pub mod suite;
