//! Coordination of a distributed run (issue 25, item 2): `jsbench run --workers N` is the
//! coordinator, each `jsbench worker --coordinator URL --index i --of N` a worker process.
//!
//! They talk through a small nats-server of the coordinator's own (process backend, loopback
//! only, its own per-run credential), never through the system under test, so that nothing done
//! to the system under test can cut them off. A worker gets that credential from the
//! environment ([`TOKEN_ENV`]), never from its command line (which every local user can read).
//!
//! On that server:
//! - KV bucket [`BUCKET`]: key `plan` ([`PlanMsg`]: the scenario text, the command-line
//!   overrides with the seed fixed, the validated plan as JSON to check against, the run id,
//!   the system under test's seeds and credential); key `worker.<i>` ([`WorkerState`]:
//!   registered with its host, pid and clock offset — then done, or failed with why); key
//!   `start` ([`Start`]: the barrier, a time on the coordinator's clock);
//! - subject [`CLOCK_SUBJECT`]: request/reply, answers the coordinator's clock (ns) so that a
//!   worker can measure its offset NTP-style ([`clock`]);
//! - Object Store bucket [`RESULTS`]: object `worker-<i>` — the worker's partial result
//!   (`runner::part::Part`, JSON).
//!
//! Why the scenario text and not the Plan: a Plan is validated, not parsed back, so the worker
//! validates the same text with the same overrides (the seed included, so a seed drawn at
//! random is the coordinator's) and refuses to run unless its plan serialises exactly as the
//! coordinator's did — the same code builds both, and a difference is caught, not merged.
//!
//! Files: `protocol.rs` (names and messages), `clock.rs` (the offset probe), `children.rs`
//! (the worker processes, killed on every exit path), `coordinator.rs` (the coordinator's side
//! of a run), `worker.rs` (a worker's side).

mod children;
pub mod clock;
mod coordinator;
mod protocol;
mod worker;

pub use coordinator::run;
pub use protocol::{
    PlanMsg, Source, Start, WorkerState, BUCKET, CLOCK_SUBJECT, RESULTS, TOKEN_ENV,
};
pub use worker::{work, WorkerError};

/// The test hook: `JSBENCH_TEST_KILL_WORKER=<i>` makes the coordinator kill worker `i`
/// (SIGKILL) shortly after the start barrier, so a test can see a lost worker named.
pub const KILL_HOOK_ENV: &str = "JSBENCH_TEST_KILL_WORKER";
