//! Publishing through an adapter (docs/adapters.md): the phase of sync and async mode with the
//! same machinery as in-process — pacing, the window of `max_in_flight`, retries (a new `p` with a
//! new id and attempt + 1), Msg-Ids, warm-up, the phase's bounds, cancel — but each attempt goes
//! out as a `p` line ([`Session::publish`]) and resolves from the adapter's reports
//! ([`Session::next_report`]):
//!
//! - `s` → the publish call's duration (`t1 − t0`, on the adapter's own clock);
//! - `a` → acked (stream sequence, duplicate flag); publish → ack is `t − t0` of the adapter, a
//!   difference of two adapter times, so the clock alignment's uncertainty does not enter it;
//! - `e d` → failed (10071: rejected), `e i` → unknown (10158: in process); the retry plan
//!   decides as in-process;
//! - no `a`/`e` by `client.resolve_timeout` after the `s` (or the `p` when no `s` came) → given
//!   up ([`Session::give_up`]) and [`Outcome::Unresolved`](crate::record::history::Outcome),
//!   retried when the plan retries (as a timeout is).
//!
//! Completion order is the order of the `a` lines: the order the application saw its acks
//! complete. The wire order of the ack replies is not observable through an adapter: no
//! attempt gets a wire rank, and the analysis reports that order as not measured.
//!
//! Files: here [`Link`] (the session and what outlives a phase: the next id, the first error);
//! `phase.rs`: the loop (what goes out next, and when); `resolve.rs`: the outstanding ids, their
//! deadlines, and recording each report into the history.

mod phase;
mod resolve;

use std::time::Duration;

use crate::adapter::{AdapterError, Session};

/// One adapter session as the phases use it: ids run on across warm-up and measured phase.
pub struct Link {
    session: Session,
    next_id: u64,
    resolve_timeout: Duration,
    /// The first error of the session (a crash, a protocol violation): publishing stops.
    error: Option<AdapterError>,
}

impl Link {
    /// The adapter's process id (its CPU time is read from `/proc` around the measured phase).
    pub fn pid(&self) -> u32 {
        self.session.pid()
    }

    pub fn new(session: Session, resolve_timeout: Duration) -> Link {
        Link {
            session,
            next_id: 0,
            resolve_timeout,
            error: None,
        }
    }

    /// The session (to finish or abort it) and the error that stopped it, if one did.
    pub fn into_parts(self) -> (Session, Option<AdapterError>) {
        (self.session, self.error)
    }

    /// The error that stopped the session, if one did.
    pub fn error(&self) -> Option<&AdapterError> {
        self.error.as_ref()
    }

    /// Keeps the first error; later ones follow from it.
    fn fail(&mut self, e: AdapterError) {
        if self.error.is_none() {
            self.error = Some(e);
        }
    }
}
