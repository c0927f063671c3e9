//! The commands behind `jsbench` and `cargo bench`: suites of scenario files run one after
//! another (`run`), their summaries, saved baselines (`baseline`), and the small commands
//! (`commands`: check, list, compare, report, fetch-server), claims files judged against results
//! (`claims`), adapters checked and built (`adapter`), distributed runs' workers (`worker`) — shared by `main.rs` and
//! `benches/suite.rs` so that both behave the same.

pub mod adapter;
pub mod baseline;
pub mod claims;
pub mod commands;
pub mod run;
mod signals;
pub mod suite;
pub mod worker;

/// A command's exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit(pub u8);

impl Exit {
    /// Every run complete, no claim failed, no regression.
    pub const SUCCESS: Exit = Exit(0);
    /// A run failed or did not complete, a claim failed, a regression; or a file could not be
    /// written.
    pub const FAILED: Exit = Exit(1);
    /// Bad usage or input: an invalid scenario file, a path with no result.
    pub const BAD_INPUT: Exit = Exit(2);
    /// `compare` refused to judge: the two sides were measured in different environments.
    pub const REFUSED: Exit = Exit(3);
    /// Interrupted by Ctrl-C.
    pub const INTERRUPTED: Exit = Exit(130);
}
