//! What a [`Proxy`](super::Proxy) handle shares with its tasks: the control state they watch
//! (toxics per direction, the outage flag, resets, stop) and the counters they bump.
//!
//! The state sits in a `tokio::sync::watch` channel. It is small and `Copy`, so a task takes a
//! copy and releases the channel's lock at once (nothing holds it across an await), and a copy
//! loop re-reads it only when the channel's version changes.

use std::sync::atomic::{AtomicU64, AtomicUsize};

use super::toxic::{Dir, Direction, Toxic};

/// Everything the tasks of a proxy watch.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Control {
    pub upstream: Option<Toxic>,
    pub downstream: Option<Toxic>,
    pub down: bool,
    /// Bumped by each `ResetPeer`; a link resets when it differs from the value at its start.
    pub resets: u64,
    pub stopped: bool,
}

/// Counters of a proxy since it started (see `ProxyStats`), plus the links open now.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub bytes_upstream: AtomicU64,
    pub bytes_downstream: AtomicU64,
    pub links_accepted: AtomicU64,
    pub links_open: AtomicUsize,
}

impl Control {
    /// The toxic of one direction of a link.
    pub(super) fn toxic(&self, dir: Dir) -> Option<Toxic> {
        match dir {
            Dir::Up => self.upstream,
            Dir::Down => self.downstream,
        }
    }

    fn slot(&mut self, dir: Dir) -> &mut Option<Toxic> {
        match dir {
            Dir::Up => &mut self.upstream,
            Dir::Down => &mut self.downstream,
        }
    }

    /// Sets `toxic` on `direction`; `ResetPeer` and `Down` act on the whole proxy.
    pub(super) fn set(&mut self, direction: Direction, toxic: Toxic) {
        match toxic {
            Toxic::ResetPeer => self.resets = self.resets.wrapping_add(1),
            Toxic::Down => self.down = true,
            t => {
                for dir in [Dir::Up, Dir::Down] {
                    if direction.includes(dir) {
                        *self.slot(dir) = Some(t);
                    }
                }
            }
        }
    }

    /// Removes the toxic of `direction` if it is still of `toxic`'s kind, or ends a `Down`.
    pub(super) fn heal(&mut self, direction: Direction, toxic: Toxic) {
        let same = |t: &Option<Toxic>| {
            t.is_some_and(|t| std::mem::discriminant(&t) == std::mem::discriminant(&toxic))
        };
        match toxic {
            Toxic::ResetPeer => {}
            Toxic::Down => self.down = false,
            _ => {
                for dir in [Dir::Up, Dir::Down] {
                    if direction.includes(dir) && same(self.slot(dir)) {
                        *self.slot(dir) = None;
                    }
                }
            }
        }
    }

    /// Removes every toxic and ends a `Down` outage.
    pub(super) fn clear(&mut self) {
        self.upstream = None;
        self.downstream = None;
        self.down = false;
    }
}
