//! The lean publish path (`publish.api = "lean"`): sync and async mode without the JetStream
//! context's request machinery, so that the client is not what bounds a run (issue 26).
//!
//! The JetStream path hands every publish to async-nats' JetStream context, which makes a fresh
//! inbox subject, a oneshot channel, a semaphore permit and a boxed ack future per message, and
//! matches each reply to its future through a hash map in the connection task. The lean path
//! does the same job the way nats.go's `PublishAsync` does, and cheaper:
//!
//! - per connection ONE subscription to `<inbox>.*` (async-nats' core `Client::subscribe`);
//! - each attempt a core publish (`publish_with_reply[_and_headers]`) whose reply subject is
//!   `<inbox>.<token>`, the token naming the attempt's slot and the slot's generation
//!   (`token.rs`): a reply finds its attempt by indexing, with no hash map, and a late reply to
//!   a settled attempt is recognised and dropped;
//! - writes are the client's: its connection task writes whatever publishes are queued in one
//!   buffered batch per wake-up;
//! - every attempt waits the same `ack_timeout`, so the deadlines are a FIFO in send order
//!   with lazy deletion, not a heap (`window.rs`);
//! - the reply is read into exactly what the JetStream path's ack future yields (`reply.rs`):
//!   the same outcomes, error names and codes, so every checker and claim works unchanged.
//!
//! Everything else is the JetStream path's: the phase loop (pacing, the window of
//! `max_in_flight`, retries first, the per-key guard, repeats, the drain), Msg-Ids and the wire
//! format (`send.rs`), the connections and their fault proxies (`pool.rs`), and how each
//! outcome is recorded into the history and the recorder.
//!
//! Order: on the lean path an ack completes when its reply is read, so **completion order is
//! the read order**: on one connection that is wire order; across connections it is the order
//! the client polls their subscriptions (in turn), which says nothing of which socket a reply
//! reached first — so with more than one connection the run reports no ack wire order
//! (`order.ack_wire` is null, `runner/analysis.rs`). The ack time is taken when the reply is
//! read, so publish → ack is what the application sees. The JetStream path's completion order is the
//! order a `FuturesUnordered` yields its futures, which can differ from wire order; claims about
//! completion order select their path (`api` in a claims file's selector).
//!
//! Files: `window.rs` the slots, subscriptions and deadlines ([`Window`]); `token.rs` the
//! reply token; `reply.rs` a reply read into an outcome.

mod reply;
mod token;
mod window;

pub use window::OpenError;
pub(in crate::client) use window::Window;
