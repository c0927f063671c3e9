//! The record of a run (Jepsen's history): what the client did to every message and when
//! ([`history`], its key column in [`keys`]), what was measured along the way — clock, latency histograms, throughput
//! timeline, wire tap ([`observe`]) — and what the stream itself holds afterwards
//! ([`readback`]), and what the measured phase cost the client ([`usage`]). The checkers judge
//! these; nothing here judges. [`chunked`] is the growable list the attempt log lives in; [`column`] a per-message column, in memory or on disk; [`completion`] the completion
//! order, in memory or spooled to disk in a long run.
//! [`stored`] is one stored copy as a reader of the stream sees it, and the trait of what
//! consumes them while the run goes on; [`follow`] reads the stream while the run goes on (so only the tail is left to read at the
//! end), feeding such a consumer and the storage history on disk ([`spill`]).

pub mod chunked;
pub mod cluster;
pub mod column;
pub mod completion;
pub mod follow;
pub mod history;
pub mod keys;
pub mod observe;
pub mod readback;
pub mod spill;
pub mod stored;
pub mod usage;
