//! One fast batch on one connection: the socket side of a [`Session`].
//!
//! The publisher is driven inline (no background task, no locks): `publish` takes in whatever
//! already arrived, sends, then waits only while flow control says so (`acked + flow ×
//! max_outstanding_acks <= sent`); while it waits it pings every third of the ack timeout, so a
//! lost flow ack (a reconnect) cannot stall it, and while it awaits the final ack it sends the
//! end of batch again, so a lost end of batch cannot either. Every wait ends at the ack timeout.
//! Nothing the server sends can panic it: an unreadable reply ends the batch as a protocol error.

use std::time::Duration;

use async_nats::{Client, HeaderMap, Message, Subject, Subscriber};
use bytes::Bytes;
use futures::{FutureExt, StreamExt};

use super::error::FastError;
use super::session::{EndStep, Session};
use super::summary::FastEnd;
use super::wire::{read_reply, Op, ReplyPrefix};
use crate::record::observe::Clock;
use crate::scenario::GapMode;

/// Why a publish or subscribe failed when the client would not take it in time: its queue is
/// full while it reconnects. Every wait here ends at the ack timeout.
const NOT_TAKEN: &str = "the client did not take it within the ack timeout (reconnecting?)";

/// How one fast batch is published.
#[derive(Debug, Clone, Copy)]
pub struct FastOptions {
    /// Requested (maximum) ack interval in messages.
    pub flow: u16,
    /// Flow acks that may be outstanding before `publish` waits.
    pub max_outstanding_acks: u16,
    pub gap: GapMode,
    /// Longest wait for one awaited reply; pings go out every third of it while waiting.
    pub ack_timeout: Duration,
}

/// One fast batch on one connection. Not for concurrent use (`&mut self`).
pub struct FastPublisher {
    client: Client,
    sub: Option<Subscriber>,
    prefix: ReplyPrefix,
    opts: FastOptions,
    clock: Clock,
    session: Session,
    /// The subject of the last data message: control messages (ping, end) go there too.
    last_subject: Option<Subject>,
}

impl FastPublisher {
    /// Subscribes to a fresh `<inbox>.>`; the batch itself starts with the first `publish`,
    /// which waits for the server's start reply.
    pub async fn start(client: Client, opts: FastOptions, clock: Clock) -> Result<Self, FastError> {
        let inbox = client.new_inbox();
        let subscribing = client.subscribe(Subject::from(format!("{inbox}.>")));
        let sub = match tokio::time::timeout(opts.ack_timeout, subscribing).await {
            Ok(r) => r.map_err(|e| FastError::Subscribe(e.to_string()))?,
            Err(_) => return Err(FastError::Subscribe(NOT_TAKEN.into())),
        };
        Ok(FastPublisher {
            client,
            sub: Some(sub),
            prefix: ReplyPrefix::new(&inbox, opts.flow, opts.gap),
            session: Session::new(opts.flow, opts.max_outstanding_acks, opts.gap),
            opts,
            clock,
            last_subject: None,
        })
    }

    /// Takes in the replies that already arrived, without waiting; true while the batch can go
    /// on. Call it before building the next message: `publish` does not drain first, so the
    /// message it is given goes out unless the batch had already ended here.
    pub fn ready(&mut self) -> bool {
        let _ = self.drain_ready();
        self.session.dead().is_none()
    }

    /// Sends one message of the batch; returns its batch sequence (from 1). The first call waits
    /// for the start reply; later calls wait only when flow control says so. After an error the
    /// message may have gone out (a refused start, an ack timeout) or not (the client is gone):
    /// the summary's `sent` says which.
    pub async fn publish(
        &mut self,
        subject: Subject,
        headers: HeaderMap,
        payload: Bytes,
    ) -> Result<u64, FastError> {
        if let Some(e) = self.session.dead() {
            return Err(e.clone());
        }
        let (seq, op) = self.session.next();
        self.send(subject, headers, payload, seq, op).await?;
        self.session.on_sent(seq);
        if op == Op::Start {
            self.await_start().await?;
        } else {
            self.wait_for_window().await?;
        }
        Ok(seq)
    }

    /// The start reply says whether the stream takes the batch, and the initial flow.
    async fn await_start(&mut self) -> Result<(), FastError> {
        let deadline = tokio::time::Instant::now() + self.opts.ack_timeout;
        loop {
            if let Some(started) = self.session.started() {
                return started;
            }
            self.wait_one(deadline, None).await?;
        }
    }

    async fn send(
        &mut self,
        subject: Subject,
        headers: HeaderMap,
        payload: Bytes,
        seq: u64,
        op: Op,
    ) -> Result<(), FastError> {
        let reply = self.prefix.subject(seq, op);
        let client = &self.client;
        let queued = async {
            if headers.is_empty() {
                client
                    .publish_with_reply(subject.clone(), reply, payload)
                    .await
            } else {
                client
                    .publish_with_reply_and_headers(subject.clone(), reply, headers, payload)
                    .await
            }
        };
        match tokio::time::timeout(self.opts.ack_timeout, queued).await {
            Ok(r) => r.map_err(|e| FastError::Publish(e.to_string()))?,
            Err(_) => return Err(FastError::Publish(NOT_TAKEN.into())),
        }
        self.last_subject = Some(subject);
        Ok(())
    }

    /// Sends an empty control message (ping, end of batch) on the last message's subject.
    async fn control(&self, (seq, op): (u64, Op)) -> Result<(), FastError> {
        let Some(subject) = self.last_subject.clone() else {
            return Ok(());
        };
        let queued =
            self.client
                .publish_with_reply(subject, self.prefix.subject(seq, op), Bytes::new());
        match tokio::time::timeout(self.opts.ack_timeout, queued).await {
            Ok(r) => r.map_err(|e| FastError::Publish(e.to_string())),
            Err(_) => Err(FastError::Publish(NOT_TAKEN.into())),
        }
    }

    async fn wait_for_window(&mut self) -> Result<(), FastError> {
        if !self.session.must_wait() {
            return Ok(());
        }
        let deadline = tokio::time::Instant::now() + self.opts.ack_timeout;
        while self.session.must_wait() && self.session.dead().is_none() {
            let ping = self.session.ping();
            self.wait_one(deadline, Some(ping)).await?;
        }
        match self.session.dead() {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// Takes in replies as they arrive until `deadline` (run clock), without pinging: the wait
    /// of an open-loop pacer between two messages, so flow acks are timed when they arrive.
    pub async fn idle_until(&mut self, deadline_ns: u64) {
        let until = tokio::time::Instant::from_std(self.clock.instant_at(deadline_ns));
        while let Some(sub) = self.sub.as_mut() {
            match tokio::time::timeout_at(until, sub.next()).await {
                Ok(Some(msg)) => self.handle(msg),
                Ok(None) => {
                    self.session.fail(FastError::InboxClosed);
                    self.sub = None;
                }
                Err(_) => return,
            }
        }
    }

    /// Waits for one inbox message (handling it) until `deadline`. Every third of the ack
    /// timeout without one it sends `nudge` (batch seq, op), if given: what the session says
    /// to send when the server goes quiet (a ping, or the end of batch again).
    async fn wait_one(
        &mut self,
        deadline: tokio::time::Instant,
        nudge: Option<(u64, Op)>,
    ) -> Result<(), FastError> {
        let interval = (self.opts.ack_timeout / 3).max(Duration::from_millis(1));
        loop {
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Err(self.session.timed_out());
            }
            let until = match nudge {
                Some(_) => deadline.min(now + interval),
                None => deadline,
            };
            let sub = self.sub.as_mut().ok_or(FastError::InboxClosed)?;
            match tokio::time::timeout_at(until, sub.next()).await {
                Ok(Some(msg)) => {
                    self.handle(msg);
                    return Ok(());
                }
                Ok(None) => return Err(self.session.fail(FastError::InboxClosed)),
                Err(_) => match nudge {
                    Some(n) if until < deadline => self.control(n).await?,
                    _ => {}
                },
            }
        }
    }

    /// Handles whatever is already in the inbox, without waiting.
    fn drain_ready(&mut self) -> Result<(), FastError> {
        while let Some(sub) = self.sub.as_mut() {
            match sub.next().now_or_never() {
                Some(Some(msg)) => self.handle(msg),
                Some(None) => return Err(self.session.fail(FastError::InboxClosed)),
                None => return Ok(()),
            }
        }
        Ok(())
    }

    fn handle(&mut self, msg: Message) {
        let at_ns = self.clock.now_ns();
        let reply = read_reply(msg.subject.as_str(), msg.status, &msg.payload);
        self.session.on_reply(reply, at_ns);
    }

    /// Ends the batch (EOB, op 3: a commit that stores nothing more) and waits for the final
    /// ack. The harness commits this way rather than with its last message (op 2), so every
    /// batch ends alike, whether it is full, cut short by the phase's end, or cancelled.
    pub async fn finish(mut self) -> FastEnd {
        let error = self.end().await.err();
        // Dropping the subscriber unsubscribes: late replies are not routed any more.
        self.sub = None;
        FastEnd {
            summary: self.session.summary(),
            error,
        }
    }

    async fn end(&mut self) -> Result<(), FastError> {
        self.drain_ready()?;
        let end_sent = match self.session.end_step() {
            EndStep::Done(r) => return r,
            EndStep::SendEnd => {
                self.control(self.session.end()).await?;
                true
            }
            EndStep::AwaitServerEnd => false,
        };
        self.await_final(end_sent).await?;
        self.session.outcome()
    }

    /// Waits for the final ack (or a final error), nudging the server meanwhile (see
    /// [`Session::final_nudge`]).
    async fn await_final(&mut self, end_sent: bool) -> Result<(), FastError> {
        let deadline = tokio::time::Instant::now() + self.opts.ack_timeout;
        let nudge = self.session.final_nudge(end_sent);
        while !self.session.has_ended() {
            self.wait_one(deadline, Some(nudge)).await?;
            if let Some(e) = self.session.hopeless() {
                return Err(e);
            }
        }
        Ok(())
    }
}
