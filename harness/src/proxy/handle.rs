//! The public [`Proxy`] handle: starts the accept task, sets and heals toxics, reads the
//! counters, and stops everything (or aborts it when dropped).

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::control::{Control, Counters};
use super::link::{accept_loop, Shared};
use super::toxic::{Direction, Toxic};

/// Counters of a proxy since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProxyStats {
    /// Bytes forwarded client → server.
    pub bytes_upstream: u64,
    /// Bytes forwarded server → client.
    pub bytes_downstream: u64,
    /// Links accepted and proxied (connections refused while `Down` are not counted).
    pub links_accepted: u64,
}

/// A TCP fault proxy in front of one upstream address.
#[derive(Debug)]
pub struct Proxy {
    addr: SocketAddr,
    control: watch::Sender<Control>,
    counters: Arc<Counters>,
    /// The accept task; it owns the `JoinSet` of link tasks, so aborting it aborts every link.
    task: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Listens on 127.0.0.1 (ephemeral port) and forwards every accepted connection to
    /// `upstream`. `seed` drives the latency jitter.
    pub async fn start(upstream: SocketAddr, seed: u64) -> io::Result<Proxy> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (control, rx) = watch::channel(Control::default());
        let counters = Arc::new(Counters::default());
        let shared = Shared {
            upstream,
            control: rx,
            counters: counters.clone(),
        };
        let task = tokio::spawn(accept_loop(listener, shared, seed));
        Ok(Proxy {
            addr,
            control,
            counters,
            task: Some(task),
        })
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The proxy as a NATS server URL.
    pub fn url(&self) -> String {
        format!("nats://{}", self.addr)
    }

    /// Replaces the toxic of `direction` (`Both` = both directions). `ResetPeer` and `Down` act
    /// on the whole proxy, see [`Toxic`]. Live links see the change promptly.
    pub fn set(&self, direction: Direction, toxic: Toxic) {
        self.control.send_modify(|c| c.set(direction, toxic));
    }

    /// Ends one fault: removes the toxic of `direction` if it is still of `toxic`'s kind (so
    /// healing one fault does not undo a different one set since), or ends a `Down` outage.
    /// `ResetPeer` has nothing to heal.
    pub fn heal(&self, direction: Direction, toxic: Toxic) {
        self.control.send_modify(|c| c.heal(direction, toxic));
    }

    /// Removes every toxic (and ends a `Down` outage). Bytes held by a toxic are then forwarded
    /// at once, in order.
    pub fn clear(&self) {
        self.control.send_modify(|c| c.clear());
    }

    /// Links currently open.
    pub fn links(&self) -> usize {
        self.counters.links_open.load(Ordering::Relaxed)
    }

    /// Bytes forwarded per direction and links accepted so far.
    pub fn stats(&self) -> ProxyStats {
        ProxyStats {
            bytes_upstream: self.counters.bytes_upstream.load(Ordering::Relaxed),
            bytes_downstream: self.counters.bytes_downstream.load(Ordering::Relaxed),
            links_accepted: self.counters.links_accepted.load(Ordering::Relaxed),
        }
    }

    /// Closes the listener and every link, and waits for all the proxy's tasks to end.
    pub async fn stop(mut self) {
        self.control.send_modify(|c| c.stopped = true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            self.control.send_modify(|c| c.stopped = true);
            // Aborting the accept task drops its JoinSet, which aborts every link task; their
            // sockets close as the futures are dropped.
            task.abort();
        }
    }
}
