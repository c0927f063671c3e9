//! Connection strategy: how many NATS connections a run opens and which one carries a message.
//!
//! - `single`: one connection for everything;
//! - `round_robin`: a pool of N, message i → connection i mod N (what a naive pool does);
//! - `key_affine`: a pool of N, a key always → the same connection (FNV-1a of the key's name),
//!   which keeps per-key order because the server stores one connection's publishes in order.

use std::time::Duration;

use async_nats::jetstream;

use crate::scenario::{ConnectionsPlan, Strategy};
use crate::workload::{key_affine_conn, key_name};

/// Routes messages to connections.
#[derive(Debug, Clone)]
pub struct Router {
    strategy: Strategy,
    count: usize,
    /// key → connection, for key_affine.
    key_conn: Vec<u16>,
}

impl Router {
    pub fn new(plan: &ConnectionsPlan, keys: u32) -> Router {
        let key_conn = if plan.strategy == Strategy::KeyAffine {
            (0..keys)
                .map(|k| key_affine_conn(&key_name(k), plan.count) as u16)
                .collect()
        } else {
            Vec::new()
        };
        Router {
            strategy: plan.strategy,
            count: plan.count,
            key_conn,
        }
    }

    /// The connection that carries message `idx` of key `key`.
    #[inline]
    pub fn route(&self, idx: u64, key: u32) -> usize {
        match self.strategy {
            Strategy::Single => 0,
            Strategy::RoundRobin => (idx % self.count as u64) as usize,
            Strategy::KeyAffine => self.key_conn[key as usize] as usize,
        }
    }
}

/// The open connections of a run, each with its JetStream context.
pub struct Pool {
    pub clients: Vec<async_nats::Client>,
    pub contexts: Vec<jetstream::Context>,
}

impl Pool {
    /// Opens `count` connections; connection `i` is given the server list `urls[i % len]`, its
    /// primary first (one list per connection when each has its own fault proxies; on a
    /// cluster every node is on it, so the connection can fail over). `max_in_flight` sizes the
    /// client's own ack window so that the scenario's window, not async-nats' default of 5000,
    /// is what bounds publishing.
    pub async fn connect(
        urls: &[Vec<String>],
        options: impl Fn() -> async_nats::ConnectOptions,
        count: usize,
        name: &str,
        ack_timeout: Duration,
        max_in_flight: usize,
        max_reconnects: usize,
    ) -> Result<Pool, async_nats::ConnectError> {
        let mut clients = Vec::with_capacity(count);
        let mut contexts = Vec::with_capacity(count);
        for i in 0..count {
            let client = options()
                .name(format!("jsbench-{name}-{i}"))
                // A run must end by its own bound: no endless reconnect loop. The delay between
                // attempts is async-nats' default (exponential, at most 4 s), as applications
                // get it, so recovery times include the client's own backoff.
                .max_reconnects(Some(max_reconnects))
                .connection_timeout(Duration::from_secs(5))
                // The primary first, always; and no URL learned from the servers (which would
                // take the connection around its fault proxy).
                .retain_servers_order()
                .ignore_discovered_servers()
                .connect(server_addrs(&urls[i % urls.len()])?.as_slice())
                .await?;
            let ctx = jetstream::ContextBuilder::new()
                .timeout(ack_timeout)
                .max_ack_inflight(max_in_flight + 1)
                .backpressure_on_inflight(true)
                .build(client.clone());
            clients.push(client);
            contexts.push(ctx);
        }
        Ok(Pool { clients, contexts })
    }

    /// Flushes and closes every connection.
    pub async fn close(self) {
        for c in &self.clients {
            let _ = tokio::time::timeout(Duration::from_secs(2), c.flush()).await;
        }
        for c in self.clients {
            let _ = tokio::time::timeout(Duration::from_secs(2), c.drain()).await;
        }
    }
}

/// Parses a server list.
fn server_addrs(urls: &[String]) -> Result<Vec<async_nats::ServerAddr>, async_nats::ConnectError> {
    urls.iter()
        .map(|u| {
            u.parse().map_err(|e| {
                async_nats::ConnectError::with_source(async_nats::ConnectErrorKind::ServerParse, e)
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::ConnectTo;

    #[test]
    fn routes() {
        let single = Router::new(
            &ConnectionsPlan {
                strategy: Strategy::Single,
                count: 1,
                proxy: false,
                connect_to: ConnectTo::Any,
            },
            4,
        );
        assert!((0..10).all(|i| single.route(i, (i % 4) as u32) == 0));
        let rr = Router::new(
            &ConnectionsPlan {
                strategy: Strategy::RoundRobin,
                count: 4,
                proxy: false,
                connect_to: ConnectTo::Any,
            },
            4,
        );
        assert_eq!(
            (0..8).map(|i| rr.route(i, 0)).collect::<Vec<_>>(),
            vec![0, 1, 2, 3, 0, 1, 2, 3]
        );
        let ka = Router::new(
            &ConnectionsPlan {
                strategy: Strategy::KeyAffine,
                count: 4,
                proxy: false,
                connect_to: ConnectTo::Any,
            },
            16,
        );
        for k in 0..16 {
            let c = ka.route(0, k);
            assert!((0..100).all(|i| ka.route(i, k) == c), "key {k} moved");
        }
    }
}
