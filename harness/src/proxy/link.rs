//! Links: the accept loop, and one task per accepted connection that connects to the upstream
//! and runs the two copy loops (one per direction) until both end or the link is torn down
//! (proxy stopped, `Down`, `ResetPeer`).
//!
//! Faults are mirrored the way a real network shows them: an unreachable upstream, a reset or
//! an outage closes the client's socket with a RST (SO_LINGER 0), not a quiet FIN.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::control::{Control, Counters};
use super::pump::{pump, Way};
use super::toxic::{mix, Dir};

/// How long `stop` lets links close gracefully before aborting them.
const STOP_GRACE: Duration = Duration::from_secs(1);
/// Bound on connecting to the upstream, so a link to a dead server does not linger.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What every link of a proxy shares: where to connect, the control channel, the counters.
#[derive(Debug, Clone)]
pub(super) struct Shared {
    pub upstream: SocketAddr,
    pub control: watch::Receiver<Control>,
    pub counters: Arc<Counters>,
}

/// Accepts connections until the proxy stops, each proxied by its own link task. `seed` and the
/// link's index give each link its own jitter seed.
pub(super) async fn accept_loop(listener: TcpListener, mut shared: Shared, seed: u64) {
    let mut links = JoinSet::new();
    let mut index: u64 = 0;
    loop {
        let now = *shared.control.borrow_and_update();
        if now.stopped {
            break;
        }
        tokio::select! {
            changed = shared.control.changed() => {
                if changed.is_err() {
                    break;
                }
            }
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(_) => {
                        // Usually fd exhaustion; back off instead of spinning.
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                if shared.control.borrow().down {
                    // Down: close at once with a RST so the client sees a failure, not a
                    // connection that silently never answers.
                    let _ = stream.set_zero_linger();
                    drop(stream);
                    continue;
                }
                shared.counters.links_accepted.fetch_add(1, Ordering::Relaxed);
                let link_seed = mix(seed, index);
                index += 1;
                links.spawn(run_link(stream, shared.clone(), link_seed));
            }
            // Reap finished links so the set does not grow with the proxy's lifetime.
            Some(_) = links.join_next(), if !links.is_empty() => {}
        }
    }
    drop(listener);
    // Links see `stopped` and close; give them a moment, then abort the rest (dropping the set).
    let _ = tokio::time::timeout(STOP_GRACE, async {
        while links.join_next().await.is_some() {}
    })
    .await;
}

/// Why a link is being torn down from outside its copy loops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Abort {
    /// Proxy stopped: close normally.
    Stop,
    /// `ResetPeer` or `Down`: close with RST.
    Reset,
}

/// Resolves when the link must be torn down: proxy stopped, `Down`, or a `ResetPeer` issued
/// after the link started.
async fn wait_abort(mut control: watch::Receiver<Control>, resets_at_start: u64) -> Abort {
    loop {
        let c = *control.borrow_and_update();
        if c.stopped {
            return Abort::Stop;
        }
        if c.down || c.resets != resets_at_start {
            return Abort::Reset;
        }
        if control.changed().await.is_err() {
            return Abort::Stop;
        }
    }
}

/// Decrements the open-link count however the link task ends (including abort).
struct OpenLink(Arc<Counters>);

impl OpenLink {
    fn new(counters: Arc<Counters>) -> Self {
        counters.links_open.fetch_add(1, Ordering::Relaxed);
        OpenLink(counters)
    }
}

impl Drop for OpenLink {
    fn drop(&mut self) {
        self.0.links_open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Proxies one client connection: connects upstream, then copies both ways until both
/// directions end (normal close) or something tears the link down (close with RST on reset).
async fn run_link(mut client: TcpStream, link: Shared, seed: u64) {
    let _open = OpenLink::new(link.counters.clone());
    let resets_at_start = link.control.borrow().resets;
    let Some(mut server) = connect_upstream(&mut client, &link, resets_at_start).await else {
        return;
    };
    // NATS traffic is small request/ack frames; Nagle would add latency the proxy must not.
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);

    let reset = {
        let (cr, cw) = client.split();
        let (sr, sw) = server.split();
        let up = pump(
            cr,
            sw,
            Way::new(Dir::Up, &link.control, seed, &link.counters),
        );
        let down = pump(
            sr,
            cw,
            Way::new(Dir::Down, &link.control, seed, &link.counters),
        );
        tokio::select! {
            // Both directions done (EOF relayed both ways) → normal close. An I/O error on
            // either side is mirrored with a reset of both.
            r = futures::future::try_join(up, down) => r.is_err(),
            abort = wait_abort(link.control, resets_at_start) => abort == Abort::Reset,
        }
    };
    if reset {
        // SO_LINGER 0: close() sends RST instead of FIN.
        let _ = client.set_zero_linger();
        let _ = server.set_zero_linger();
    }
}

/// Connects to the upstream, unless the link is torn down first. `None` when there is no
/// upstream connection: the client is then closed as the link task ends, with a RST when it
/// should see a failure (upstream unreachable, reset, outage).
async fn connect_upstream(
    client: &mut TcpStream,
    link: &Shared,
    resets_at_start: u64,
) -> Option<TcpStream> {
    let connect = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(link.upstream));
    tokio::select! {
        r = connect => match r {
            Ok(Ok(s)) => Some(s),
            // Upstream unreachable: fail the client the way a dead server would.
            _ => {
                let _ = client.set_zero_linger();
                None
            }
        },
        abort = wait_abort(link.control.clone(), resets_at_start) => {
            if abort == Abort::Reset {
                let _ = client.set_zero_linger();
            }
            None
        }
    }
}
