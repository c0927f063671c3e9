//! Coordination of a distributed run (issue 25, items 2 and 3): `jsbench run --workers N` (which
//! starts its workers itself) or `jsbench coordinate --workers N` (whose workers someone else
//! starts: docker compose, a Kubernetes Indexed Job, a user) is the coordinator, each `jsbench
//! worker [--coordinator URL] [--index i] [--of N]` a worker process.
//!
//! They talk through a small nats-server of the coordinator's own (loopback only unless
//! `jsbench coordinate --listen` opts out with a user's token, see [`launch`]; its own per-run
//! credential), never through the system under test, so that nothing done to the system under
//! test can cut them off. A worker gets that credential from the environment ([`TOKEN_ENV`]),
//! never from its command line (which every local user can read).
//!
//! On that server:
//! - KV bucket [`BUCKET`]: key `plan` ([`PlanMsg`]: the scenario text, the command-line
//!   overrides with the seed fixed, the validated plan as JSON to check against, the run id,
//!   the system under test's seeds and credential, the number of workers); key `claim.<i>`
//!   ([`Claim`]: created once, by the worker that takes index `i`); key `worker.<i>`
//!   ([`WorkerState`]: registered with its host, pid and clock offset — then done, or failed
//!   with why); key `start` ([`Start`]: the barrier, a time on the coordinator's clock, and the
//!   workers admitted);
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
//! Files: `protocol.rs` (names and messages), `clock.rs` (the offset probe), `launch.rs` (where
//! the workers come from: `--listen`, the token, `coordinator.env`), `server.rs` (the
//! coordination server: at a free loopback port, or at `--listen`), `children.rs` (the worker
//! processes, killed on every exit path), `coordinator.rs` (the coordinator's side of a run),
//! `worker.rs` (a worker's side).

mod children;
pub mod clock;
mod coordinator;
pub mod launch;
mod protocol;
mod server;
mod worker;

pub use coordinator::run;
pub use launch::{External, Launch, LaunchError, Source};
pub use protocol::{
    Claim, PlanMsg, Start, WorkerState, BUCKET, CLOCK_SUBJECT, ENV_FILE, RESULTS, TOKEN_ENV,
    URL_ENV,
};
pub use worker::{work, IndexChoice, WorkerError};

/// The test hook: `JSBENCH_TEST_KILL_WORKER=<i>` makes the coordinator kill worker `i`
/// (SIGKILL) shortly after the start barrier, so a test can see a lost worker named.
pub const KILL_HOOK_ENV: &str = "JSBENCH_TEST_KILL_WORKER";
