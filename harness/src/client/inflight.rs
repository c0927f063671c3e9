//! The acks in flight of sync and async mode, on either publish path: the JetStream path's
//! tapped ack futures in a `FuturesUnordered` (completion order is the order it yields them), or
//! the lean path's [`Window`] (completion order is the order replies are read). The phase loop
//! (`phase.rs`) and `send.rs` see only this: how many are in flight, and the next one to settle.

use futures::stream::FuturesUnordered;
use futures::StreamExt;

use super::ack::{Completion, Tapped};
use super::lean::Window;

pub(super) enum Inflight {
    /// `publish.api = "jetstream"`.
    Futures(FuturesUnordered<Tapped>),
    /// `publish.api = "lean"` (`client/lean/`).
    Lean(Window),
}

impl Inflight {
    #[inline]
    pub(super) fn len(&self) -> usize {
        match self {
            Inflight::Futures(f) => f.len(),
            Inflight::Lean(w) => w.len(),
        }
    }

    #[inline]
    pub(super) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The next attempt to settle; `None` when none is in flight. Cancel-safe (both kinds).
    #[inline]
    pub(super) async fn next(&mut self) -> Option<Completion> {
        match self {
            Inflight::Futures(f) => f.next().await,
            Inflight::Lean(w) => w.next().await,
        }
    }
}
