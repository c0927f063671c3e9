//! The adapter contract (docs/adapters.md): driving any client library's publisher through a
//! program that speaks a line protocol on stdin/stdout, so jsbench measures nats.go, nats.c,
//! nats-py — or a user's own publisher — with the same scenarios, faults and checkers as its
//! in-process async-nats client.
//!
//! This folder owns jsbench's end of the protocol; the client (`client/`) drives a [`Session`]
//! as it drives async-nats, and the runner records what it says:
//! - `protocol.rs`: the wire format — the init and its answer, the report lines parsed without
//!   allocating, the publish and probe lines written (and the adapter's side of both, which the
//!   Rust adapter `adapters/async-nats-stdio` uses);
//! - `clock.rs`: aligning the adapter's clock with jsbench's from the probes (pure);
//! - `error.rs`: [`AdapterError`], each failure a variant naming the line or exit status and
//!   quoting the adapter's last stderr lines;
//! - `process.rs`: the child process (own process group, dies with jsbench) and its three pipes,
//!   each served by a task;
//! - `session.rs`: [`Session`], one adapter for one run: handshake, probes, publishes, reports
//!   validated against what was sent (bounded memory), the end;
//! - `command.rs`: [`AdapterCommand`], what is run, and a user's command resolved on PATH;
//! - `shipped.rs`: [`Shipped`], the adapters jsbench ships, built on first use into the cache.
//!
//! Layer: just below `client`; uses `record::observe::Clock`, `server` (the cache dir, the
//! child-process rules) and `hash.rs`, nothing above.

mod clock;
mod command;
mod error;
mod ids;
mod process;
pub mod protocol;
mod session;
mod shipped;

pub use clock::{drift, fit, to_local, Fit, Probe, PROBES};
pub use command::AdapterCommand;
pub use error::{AdapterError, ExitStatus, StderrTail, STDERR_LINES};
pub use protocol::{FailClass, Hello, Init, InitMode, NameVersion, Report, PROTOCOL, TAG_LEN};
pub use session::{Session, SessionEnd, EXIT_TIMEOUT, INIT_TIMEOUT, PROBE_TIMEOUT};
pub use shipped::{dir_hash, Shipped, ADAPTERS_DIR_ENV, ASYNC_NATS_BIN};
