//! The lean path's acks in flight: a slab of slots (one per attempt awaiting its reply), the
//! reply subscriptions of the connections, and the deadlines in send order.
//!
//! - A slot is taken from the free list when an attempt goes out and given back when it
//!   settles; its number and generation are the reply subject's last token (`token.rs`), so a
//!   reply finds its attempt by indexing, and a late reply to a settled attempt is dropped.
//! - Every attempt waits the same `ack_timeout`, so deadlines fall in send order: a FIFO of
//!   (deadline, token) finds the expired ones at its front, and an entry whose slot has settled
//!   since is skipped when it reaches the front (lazy deletion), with no heap.
//! - [`Window::next`] yields one settled attempt: an expired one first, else the next reply read
//!   from any connection, in the order the replies are read (wire order).

use std::collections::VecDeque;
use std::future::poll_fn;
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use async_nats::jetstream::context::{PublishError, PublishErrorKind};
use async_nats::{Client, HeaderMap, Message, Subject, Subscriber};
use bytes::Bytes;
use futures::{FutureExt, StreamExt};

use super::reply;
use super::token::Token;
use crate::client::ack::{Attempt, Completion};
use crate::record::history::NONE;
use crate::record::observe::WireTap;

/// A publish the core client refused, as the JetStream context reports it (`send_publish`: an
/// oversized message by its kind, anything else — the client is closed — as `Other`).
fn refused(e: async_nats::PublishError) -> PublishError {
    match e.kind() {
        async_nats::PublishErrorKind::MaxPayloadExceeded => {
            PublishError::with_source(PublishErrorKind::MaxPayloadExceeded, e)
        }
        _ => PublishError::with_source(PublishErrorKind::Other, e),
    }
}

/// One connection's side of the lean path: its client, and the subscription to
/// `<inbox>.*` that every reply of its publishes arrives on.
struct Conn {
    client: Client,
    /// `None` once the subscription ended (the client closed for good).
    sub: Option<Subscriber>,
    inbox: String,
}

/// One attempt awaiting its reply (or a free slot, when `live` is false).
#[derive(Clone, Copy)]
struct Slot {
    generation: u32,
    live: bool,
    a: Attempt,
    send_ns: u64,
}

/// A deadline in the FIFO: when the attempt of `token` times out.
#[derive(Clone, Copy)]
struct Due {
    at_ns: u64,
    token: Token,
}

/// The lean path's acks in flight on all connections of a run (see the module comment).
pub(in crate::client) struct Window {
    conns: Vec<Conn>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    deadlines: VecDeque<Due>,
    /// Attempts on a connection whose subscription ended: failed as the JetStream path fails
    /// an ack future whose connection is gone (broken pipe), one per `next`.
    orphans: VecDeque<Token>,
    live: usize,
    ack_timeout: Duration,
    tap: Arc<WireTap>,
    /// The connection `next` polls first, turned each time so none starves the others.
    turn: usize,
}

/// Why the lean path could not start.
#[derive(Debug, thiserror::Error)]
#[error("the lean path could not subscribe to its reply inbox on connection {conn}: {why}")]
pub struct OpenError {
    conn: usize,
    why: String,
}

impl Window {
    /// Subscribes each connection to a fresh `<inbox>.*`; `capacity` slots are made up front
    /// (the window), more only if a publish finds none free.
    pub(in crate::client) async fn open(
        clients: &[Client],
        tap: Arc<WireTap>,
        ack_timeout: Duration,
        capacity: usize,
    ) -> Result<Window, OpenError> {
        let mut conns = Vec::with_capacity(clients.len());
        for (i, client) in clients.iter().enumerate() {
            let inbox = client.new_inbox();
            let subscribing = client.subscribe(Subject::from(format!("{inbox}.*")));
            let sub = match tokio::time::timeout(ack_timeout, subscribing).await {
                Ok(Ok(sub)) => sub,
                Ok(Err(e)) => {
                    return Err(OpenError {
                        conn: i,
                        why: e.to_string(),
                    })
                }
                Err(_) => {
                    return Err(OpenError {
                        conn: i,
                        why: "the client did not take it within the ack timeout".into(),
                    })
                }
            };
            conns.push(Conn {
                client: client.clone(),
                sub: Some(sub),
                inbox,
            });
        }
        Ok(Window {
            conns,
            slots: Vec::with_capacity(capacity),
            free: Vec::with_capacity(capacity),
            deadlines: VecDeque::with_capacity(capacity),
            orphans: VecDeque::new(),
            live: 0,
            ack_timeout,
            tap,
            turn: 0,
        })
    }

    /// Attempts awaiting their reply.
    #[inline]
    pub(in crate::client) fn len(&self) -> usize {
        self.live
    }

    /// Publishes one attempt with its own reply subject. The publish is queued with the
    /// connection's client (which writes in large buffered batches); waiting for the client to
    /// take it ends at the ack timeout, as the JetStream context's does. On error nothing is in
    /// flight and the caller records the attempt as refused.
    pub(in crate::client) async fn publish(
        &mut self,
        a: &Attempt,
        subject: Subject,
        payload: Bytes,
        headers: Option<HeaderMap>,
        send_ns: u64,
    ) -> Result<(), PublishError> {
        let token = self.take_slot(a, send_ns);
        let r = Self::queue(
            &self.conns[a.conn],
            token,
            subject,
            payload,
            headers,
            self.ack_timeout,
        )
        .await;
        match r {
            Ok(()) => {
                let at_ns = send_ns + self.ack_timeout.as_nanos() as u64;
                self.deadlines.push_back(Due { at_ns, token });
                Ok(())
            }
            Err(e) => {
                self.release(token.slot);
                Err(e)
            }
        }
    }

    /// Queues one publish with the connection's client; waiting for the client to take it ends
    /// at the ack timeout.
    async fn queue(
        conn: &Conn,
        token: Token,
        subject: Subject,
        payload: Bytes,
        headers: Option<HeaderMap>,
        ack_timeout: Duration,
    ) -> Result<(), PublishError> {
        let reply = Subject::from(token.reply_subject(&conn.inbox));
        let client = &conn.client;
        let queued = async {
            match headers {
                Some(h) => {
                    client
                        .publish_with_reply_and_headers(subject, reply, h, payload)
                        .await
                }
                None => client.publish_with_reply(subject, reply, payload).await,
            }
        };
        let mut queued = pin!(queued);
        // Taken at once unless the client's queue is full (a reconnect): only then a timer.
        match futures::poll!(queued.as_mut()) {
            Poll::Ready(r) => r.map_err(refused),
            Poll::Pending => match tokio::time::timeout(ack_timeout, queued).await {
                Ok(r) => r.map_err(refused),
                Err(_) => Err(PublishError::new(PublishErrorKind::TimedOut)),
            },
        }
    }

    /// A free slot for attempt `a`, its generation moved on.
    #[inline]
    fn take_slot(&mut self, a: &Attempt, send_ns: u64) -> Token {
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.slots.push(Slot {
                    generation: 0,
                    live: false,
                    a: *a,
                    send_ns,
                });
                self.slots.len() as u32 - 1
            }
        };
        let s = &mut self.slots[slot as usize];
        s.generation = s.generation.wrapping_add(1);
        s.live = true;
        s.a = *a;
        s.send_ns = send_ns;
        self.live += 1;
        Token {
            slot,
            generation: s.generation,
        }
    }

    #[inline]
    fn release(&mut self, slot: u32) {
        self.slots[slot as usize].live = false;
        self.free.push(slot);
        self.live -= 1;
    }

    /// The attempt `token` names, settled and its slot freed; `None` when it settled already.
    #[inline]
    fn settle(
        &mut self,
        token: Token,
        rank: u32,
        ack_ns: u64,
        result: Result<async_nats::jetstream::publish::PublishAck, PublishError>,
    ) -> Option<Completion> {
        let s = *self.slots.get(token.slot as usize)?;
        if !s.live || s.generation != token.generation {
            return None;
        }
        self.release(token.slot);
        Some(Completion {
            idx: s.a.idx,
            attempt: s.a.attempt,
            seq: s.a.seq,
            conn: s.a.conn as u16,
            send_ns: s.send_ns,
            intended_ns: s.a.intended_ns,
            rank,
            ack_ns,
            result,
        })
    }

    /// The next settled attempt: one whose connection is gone, one past its deadline, or the
    /// next reply read. `None` when nothing is in flight. Cancel-safe: a reply is read and
    /// settled in the same poll, so dropping the future between polls loses nothing.
    pub(in crate::client) async fn next(&mut self) -> Option<Completion> {
        loop {
            if self.live == 0 {
                return None;
            }
            let now = self.tap.clock().now_ns();
            if let Some(c) = self.expired(now) {
                return Some(c);
            }
            // A reply already read by the client: no timer needed.
            let msg = match poll_fn(|cx| self.poll_replies(cx)).now_or_never() {
                Some(m) => m,
                None => {
                    let at = self.deadlines.front().map_or(now, |d| d.at_ns);
                    let until = self.tap.clock().instant_at(at);
                    tokio::select! {
                        m = poll_fn(|cx| self.poll_replies(cx)) => m,
                        _ = tokio::time::sleep_until(until.into()) => continue,
                    }
                }
            };
            if let Some(c) = msg.and_then(|m| self.on_reply(m)) {
                return Some(c);
            }
        }
    }

    /// An attempt whose connection is gone, or whose deadline has passed (at `now_ns`).
    fn expired(&mut self, now_ns: u64) -> Option<Completion> {
        while let Some(token) = self.orphans.pop_front() {
            let e = PublishError::new(PublishErrorKind::BrokenPipe);
            if let Some(c) = self.settle(token, NONE, now_ns, Err(e)) {
                return Some(c);
            }
        }
        while let Some(d) = self.deadlines.front().copied() {
            let s = self.slots[d.token.slot as usize];
            if !s.live || s.generation != d.token.generation {
                // Settled since: lazy deletion.
                self.deadlines.pop_front();
                continue;
            }
            if d.at_ns > now_ns {
                return None;
            }
            self.deadlines.pop_front();
            let e = PublishError::new(PublishErrorKind::TimedOut);
            return self.settle(d.token, NONE, now_ns, Err(e));
        }
        None
    }

    /// The next reply on any connection; `Ready(None)` when a
    /// subscription ended (its attempts are queued as orphans).
    fn poll_replies(&mut self, cx: &mut std::task::Context<'_>) -> Poll<Option<Message>> {
        let n = self.conns.len();
        for k in 0..n {
            let i = (self.turn + k) % n;
            let Some(sub) = self.conns[i].sub.as_mut() else {
                continue;
            };
            match sub.poll_next_unpin(cx) {
                Poll::Ready(Some(m)) => {
                    self.turn = (i + 1) % n;
                    return Poll::Ready(Some(m));
                }
                Poll::Ready(None) => {
                    self.conns[i].sub = None;
                    self.orphan(i);
                    return Poll::Ready(None);
                }
                Poll::Pending => {}
            }
        }
        Poll::Pending
    }

    /// Every attempt in flight on connection `conn`, whose replies can no longer arrive.
    fn orphan(&mut self, conn: usize) {
        for (slot, s) in self.slots.iter().enumerate() {
            if s.live && s.a.conn == conn {
                self.orphans.push_back(Token {
                    slot: slot as u32,
                    generation: s.generation,
                });
            }
        }
    }

    /// One reply read: its wire rank is taken now, in the order replies are read (a late reply
    /// to a settled attempt takes none).
    #[inline]
    fn on_reply(&mut self, m: Message) -> Option<Completion> {
        let token = Token::parse(m.subject.as_str())?;
        let s = self.slots.get(token.slot as usize)?;
        if !s.live || s.generation != token.generation {
            return None;
        }
        let (rank, at_ns) = self.tap.arrive();
        let result = reply::read(m.status, &m.payload);
        self.settle(token, rank, at_ns, result)
    }
}
