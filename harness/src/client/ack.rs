//! The wire tap on ack futures: which attempt a future belongs to, and when its reply arrived.
//!
//! Every ack future is polled through [`Tapped`] with a waker of our own ([`AckSlot`]). The
//! client's connection task wakes that waker when it hands the reply to the future, which
//! happens in socket order, so taking an arrival rank at that moment (one atomic add on the
//! shared [`WireTap`]) gives the wire order of the replies, whatever order the application then
//! completes the futures in.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use async_nats::jetstream::context::{PublishAckFuture, PublishError};
use async_nats::jetstream::publish::PublishAck;
use futures::task::AtomicWaker;

use crate::record::history::NONE;
use crate::record::observe::WireTap;

/// What identifies one attempt of one message.
#[derive(Debug, Clone, Copy)]
pub(super) struct Attempt {
    pub idx: u32,
    /// 1 for the first send, 2 for the first retry, ...; 0 for a deliberate repeat of the
    /// message with its Msg-Id (`publish.repeat_msg_id_every`).
    pub attempt: u8,
    /// The message's per-key sequence number (a retry keeps it).
    pub seq: u32,
    pub conn: usize,
    pub intended_ns: u64,
}

/// One finished attempt: its identity, its times and what the server (or the client) said.
pub(super) struct Completion {
    pub idx: u32,
    pub attempt: u8,
    pub seq: u32,
    pub conn: u16,
    pub send_ns: u64,
    pub intended_ns: u64,
    /// Arrival rank of the reply (wire order), or `NONE` when no reply arrived.
    pub rank: u32,
    /// When the reply arrived (run clock); 0 when the tap did not see it.
    pub ack_ns: u64,
    pub result: Result<PublishAck, PublishError>,
}

impl Completion {
    /// The outcome of an attempt the client refused to queue: no reply will ever arrive.
    pub(super) fn refused(a: &Attempt, send_ns: u64, now_ns: u64, e: PublishError) -> Completion {
        Completion {
            idx: a.idx,
            attempt: a.attempt,
            seq: a.seq,
            conn: a.conn as u16,
            send_ns,
            intended_ns: a.intended_ns,
            rank: NONE,
            ack_ns: now_ns,
            result: Err(e),
        }
    }
}

/// Per-message state shared between the ack future's waker and the publisher.
struct AckSlot {
    tap: Arc<WireTap>,
    rank: AtomicU32,
    ack_ns: AtomicU64,
    /// The waker of whoever polls the future (FuturesUnordered, or the sync await).
    outer: AtomicWaker,
}

impl AckSlot {
    /// Records the first wake-up: that is when the reply (or the timeout) arrived.
    fn mark_arrival(&self) {
        if self.rank.load(Ordering::Relaxed) == NONE {
            let (rank, at) = self.tap.arrive();
            if self
                .rank
                .compare_exchange(NONE, rank, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                self.ack_ns.store(at, Ordering::Release);
            }
        }
    }
}

impl Wake for AckSlot {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.mark_arrival();
        self.outer.wake();
    }
}

/// An ack future that records when its reply arrived (see the module comment).
pub(super) struct Tapped {
    inner: tokio::task::coop::Unconstrained<<PublishAckFuture as IntoFuture>::IntoFuture>,
    slot: Arc<AckSlot>,
    waker: Waker,
    idx: u32,
    attempt: u8,
    seq: u32,
    conn: u16,
    send_ns: u64,
    intended_ns: u64,
    /// A completion found by `prime`, handed out on the next poll.
    ready: Option<Completion>,
}

impl Tapped {
    #[inline]
    pub(super) fn new(
        fut: PublishAckFuture,
        tap: &Arc<WireTap>,
        a: &Attempt,
        send_ns: u64,
    ) -> Tapped {
        let slot = Arc::new(AckSlot {
            tap: tap.clone(),
            rank: AtomicU32::new(NONE),
            ack_ns: AtomicU64::new(0),
            outer: AtomicWaker::new(),
        });
        Tapped {
            // Unconstrained: when a task's cooperative budget runs out, tokio's oneshot and timer
            // return Pending and wake the task at once. That self-wake would look like an
            // arrival to the tap; outside the budget, only the reply (or the timeout) wakes us.
            inner: tokio::task::coop::unconstrained(fut.into_future()),
            waker: Waker::from(slot.clone()),
            slot,
            idx: a.idx,
            attempt: a.attempt,
            seq: a.seq,
            conn: a.conn as u16,
            send_ns,
            intended_ns: a.intended_ns,
            ready: None,
        }
    }

    /// Polls the ack future once without an outer waker: registers the tap's waker with the
    /// client before the reply can arrive (or catches a reply that already did).
    #[inline]
    pub(super) fn prime(&mut self) {
        if let Poll::Ready(c) = self.poll_inner(None) {
            self.ready = Some(c);
        }
    }

    fn poll_inner(&mut self, outer: Option<&Waker>) -> Poll<Completion> {
        if let Some(w) = outer {
            self.slot.outer.register(w);
        }
        let mut inner_cx = Context::from_waker(&self.waker);
        match Pin::new(&mut self.inner).poll(&mut inner_cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(result) => {
                // Ready on a poll without a wake-up: the reply was already there. No later
                // message has been published yet, so its rank is still in wire order.
                self.slot.mark_arrival();
                Poll::Ready(Completion {
                    idx: self.idx,
                    attempt: self.attempt,
                    seq: self.seq,
                    conn: self.conn,
                    send_ns: self.send_ns,
                    intended_ns: self.intended_ns,
                    rank: self.slot.rank.load(Ordering::Acquire),
                    ack_ns: self.slot.ack_ns.load(Ordering::Acquire),
                    result,
                })
            }
        }
    }
}

impl Future for Tapped {
    type Output = Completion;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Completion> {
        let this = &mut *self;
        if let Some(c) = this.ready.take() {
            return Poll::Ready(c);
        }
        this.poll_inner(Some(cx.waker()))
    }
}
