//! A TCP fault proxy on loopback, owned by the harness, for injecting network faults between a
//! NATS client connection and the server.
//!
//! Why it exists: chaos scenarios need to degrade the network in controlled, repeatable ways
//! (slow links, stalls, resets, outages) without an external daemon. The vocabulary follows
//! Toxiproxy (latency, bandwidth, slicer, timeout, reset_peer, down) so scenarios read the same
//! as the tool people already know.
//!
//! Why one proxy per client connection: jsbench starts one [`Proxy`] in front of the server for
//! each client connection, so a fault can target connection indexes ("stall connection 2")
//! rather than every client at once. A proxy may still see several TCP links over time (the
//! client reconnects); a toxic applies to all its current and future links.
//!
//! Why seeded jitter: a measured fault must be reproducible, so the latency jitter is drawn from
//! a ChaCha RNG seeded from the proxy seed, the link index and the direction.
//!
//! Shape of the hot path: each link runs one task that drives two copy loops (one per direction)
//! concurrently. A loop reads into a reusable buffer and, when no toxic is set, writes straight
//! to the other socket (no queue, no allocation, no lock). When a toxic is set, chunks go through
//! a small FIFO queue with a due time, so delays never reorder bytes. The toxics live in a
//! `tokio::sync::watch` channel: the loops keep a local copy and only re-read it when the
//! channel's version changes, so a `set` takes effect on live links promptly and nothing holds a
//! lock across an await.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::{sleep_until, Instant};

/// Size of the reusable read buffer of each copy loop.
const BUF_SIZE: usize = 32 * 1024;
/// While a toxic holds bytes, a copy loop stops reading once this much is queued, so a stalled
/// direction pushes back on the sender through TCP instead of growing memory without bound.
const MAX_QUEUED: usize = 1024 * 1024;
/// How long `stop` lets links close gracefully before aborting them.
const STOP_GRACE: Duration = Duration::from_secs(1);
/// Bound on connecting to the upstream, so a link to a dead server does not linger.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Which way a toxic applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Client → server.
    Upstream,
    /// Server → client.
    Downstream,
    /// Both directions.
    Both,
}

/// A network fault, named as in Toxiproxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Toxic {
    /// Delay every chunk by `latency` ± a uniform, seeded `jitter`. Bytes are never reordered:
    /// a chunk is delivered at `max(previous delivery, arrival + delay)`.
    Latency { latency: Duration, jitter: Duration },
    /// Limit throughput to `bytes_per_sec` (0 holds the bytes, like `Timeout`).
    Bandwidth { bytes_per_sec: u64 },
    /// Split data into slices of `average_size` ± `size_variation` bytes, `delay` apart.
    Slicer {
        average_size: usize,
        size_variation: usize,
        delay: Duration,
    },
    /// Blackhole: hold the bytes (the connection stays open) until cleared.
    Timeout,
    /// One-shot: close every existing link with a TCP RST on both sides. New connections are
    /// accepted normally. Does not change the directional toxics; the direction is ignored.
    ResetPeer,
    /// Close new connections at once (RST) and drop existing links, until `clear`. The direction
    /// is ignored; setting a directional toxic later does not end the outage.
    Down,
}

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

/// Everything the tasks of a proxy watch. Small and `Copy`, so a reader takes a copy and
/// releases the channel's lock at once.
#[derive(Debug, Clone, Copy, Default)]
struct Control {
    upstream: Option<Toxic>,
    downstream: Option<Toxic>,
    down: bool,
    /// Bumped by each `ResetPeer`; a link resets when it differs from the value at its start.
    resets: u64,
    stopped: bool,
}

#[derive(Debug, Default)]
struct Counters {
    bytes_upstream: AtomicU64,
    bytes_downstream: AtomicU64,
    links_accepted: AtomicU64,
    links_open: AtomicUsize,
}

/// One direction of a link, for picking the toxic and the counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dir {
    Up,
    Down,
}

impl Control {
    fn toxic(&self, dir: Dir) -> Option<Toxic> {
        match dir {
            Dir::Up => self.upstream,
            Dir::Down => self.downstream,
        }
    }
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
        let task = tokio::spawn(accept_loop(listener, upstream, seed, rx, counters.clone()));
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
        self.control.send_modify(|c| match toxic {
            Toxic::ResetPeer => c.resets = c.resets.wrapping_add(1),
            Toxic::Down => c.down = true,
            t => {
                if matches!(direction, Direction::Upstream | Direction::Both) {
                    c.upstream = Some(t);
                }
                if matches!(direction, Direction::Downstream | Direction::Both) {
                    c.downstream = Some(t);
                }
            }
        });
    }

    /// Ends one fault: removes the toxic of `direction` if it is still of `toxic`'s kind (so
    /// healing one fault does not undo a different one set since), or ends a `Down` outage.
    /// `ResetPeer` has nothing to heal.
    pub fn heal(&self, direction: Direction, toxic: Toxic) {
        let same = |t: &Option<Toxic>| {
            t.is_some_and(|t| std::mem::discriminant(&t) == std::mem::discriminant(&toxic))
        };
        self.control.send_modify(|c| match toxic {
            Toxic::ResetPeer => {}
            Toxic::Down => c.down = false,
            _ => {
                if matches!(direction, Direction::Upstream | Direction::Both) && same(&c.upstream) {
                    c.upstream = None;
                }
                if matches!(direction, Direction::Downstream | Direction::Both)
                    && same(&c.downstream)
                {
                    c.downstream = None;
                }
            }
        });
    }

    /// Removes every toxic (and ends a `Down` outage). Bytes held by a toxic are then forwarded
    /// at once, in order.
    pub fn clear(&self) {
        self.control.send_modify(|c| {
            c.upstream = None;
            c.downstream = None;
            c.down = false;
        });
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

async fn accept_loop(
    listener: TcpListener,
    upstream: SocketAddr,
    seed: u64,
    mut control: watch::Receiver<Control>,
    counters: Arc<Counters>,
) {
    let mut links = JoinSet::new();
    let mut index: u64 = 0;
    loop {
        let now = *control.borrow_and_update();
        if now.stopped {
            break;
        }
        tokio::select! {
            changed = control.changed() => {
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
                if control.borrow().down {
                    // Down: close at once with a RST so the client sees a failure, not a
                    // connection that silently never answers.
                    let _ = stream.set_zero_linger();
                    drop(stream);
                    continue;
                }
                counters.links_accepted.fetch_add(1, Ordering::Relaxed);
                let link_seed = mix(seed, index);
                index += 1;
                links.spawn(run_link(
                    stream,
                    upstream,
                    control.clone(),
                    counters.clone(),
                    link_seed,
                ));
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

/// Derives an independent RNG seed per link and direction (splitmix64 finaliser).
fn mix(seed: u64, n: u64) -> u64 {
    let mut z = seed ^ n.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
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

async fn run_link(
    mut client: TcpStream,
    upstream: SocketAddr,
    control: watch::Receiver<Control>,
    counters: Arc<Counters>,
    seed: u64,
) {
    let _open = OpenLink::new(counters.clone());
    let resets_at_start = control.borrow().resets;

    let connect = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(upstream));
    let mut server = tokio::select! {
        r = connect => match r {
            Ok(Ok(s)) => s,
            // Upstream unreachable: fail the client the way a dead server would.
            _ => {
                let _ = client.set_zero_linger();
                return;
            }
        },
        abort = wait_abort(control.clone(), resets_at_start) => {
            if abort == Abort::Reset {
                let _ = client.set_zero_linger();
            }
            return;
        }
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
            Dir::Up,
            control.clone(),
            ChaCha8Rng::seed_from_u64(mix(seed, 0)),
            &counters.bytes_upstream,
        );
        let down = pump(
            sr,
            cw,
            Dir::Down,
            control.clone(),
            ChaCha8Rng::seed_from_u64(mix(seed, 1)),
            &counters.bytes_downstream,
        );
        tokio::select! {
            // Both directions done (EOF relayed both ways) → normal close. An I/O error on
            // either side is mirrored with a reset of both.
            r = futures::future::try_join(up, down) => r.is_err(),
            abort = wait_abort(control, resets_at_start) => abort == Abort::Reset,
        }
    };
    if reset {
        // SO_LINGER 0: close() sends RST instead of FIN.
        let _ = client.set_zero_linger();
        let _ = server.set_zero_linger();
    }
}

/// A chunk read but not yet fully written.
struct Pending {
    due: Instant,
    data: Vec<u8>,
    pos: usize,
}

/// Copies one direction of a link, applying the current toxic of that direction. Returns when
/// the reader hit EOF and everything read was written (then the writer is shut down, relaying the
/// half-close), or on an I/O error.
async fn pump<R, W>(
    mut reader: R,
    mut writer: W,
    dir: Dir,
    mut control: watch::Receiver<Control>,
    mut rng: ChaCha8Rng,
    forwarded: &AtomicU64,
) -> io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; BUF_SIZE];
    let mut queue: VecDeque<Pending> = VecDeque::new();
    let mut queued = 0usize;
    let mut eof = false;
    // Delivery time of the last chunk queued under latency: later chunks never go before it.
    let mut last_due = Instant::now();
    // Earliest time the next slice may be written under bandwidth/slicer.
    let mut pace_next = Instant::now();
    let mut toxic = control.borrow_and_update().toxic(dir);

    loop {
        if queue.is_empty() {
            if eof {
                writer.shutdown().await?;
                return Ok(());
            }
            tokio::select! {
                biased;
                changed = control.changed() => {
                    if changed.is_err() {
                        return Ok(());
                    }
                    toxic = control.borrow_and_update().toxic(dir);
                }
                n = reader.read(&mut buf) => {
                    let n = n?;
                    if n == 0 {
                        eof = true;
                    } else if toxic.is_none() {
                        // Fast path: straight through, nothing queued.
                        writer.write_all(&buf[..n]).await?;
                        forwarded.fetch_add(n as u64, Ordering::Relaxed);
                    } else {
                        let due = due_time(toxic, &mut rng, &mut last_due);
                        queued += n;
                        queue.push_back(Pending { due, data: buf[..n].to_vec(), pos: 0 });
                    }
                }
            }
        } else {
            // `None`: hold the queue until the toxic changes.
            let ready = match toxic {
                Some(Toxic::Timeout) | Some(Toxic::Bandwidth { bytes_per_sec: 0 }) => None,
                Some(Toxic::Latency { .. }) => queue.front().map(|p| p.due),
                Some(Toxic::Bandwidth { .. }) | Some(Toxic::Slicer { .. }) => Some(pace_next),
                // No toxic (just cleared): flush what is queued, in order.
                _ => Some(Instant::now()),
            };
            tokio::select! {
                biased;
                changed = control.changed() => {
                    if changed.is_err() {
                        return Ok(());
                    }
                    toxic = control.borrow_and_update().toxic(dir);
                }
                _ = sleep_until(ready.unwrap_or_else(Instant::now)), if ready.is_some() => {
                    let head = queue.front_mut().expect("queue is not empty");
                    let remaining = head.data.len() - head.pos;
                    let slice = slice_len(toxic, &mut rng, remaining);
                    let started = Instant::now();
                    writer.write_all(&head.data[head.pos..head.pos + slice]).await?;
                    forwarded.fetch_add(slice as u64, Ordering::Relaxed);
                    head.pos += slice;
                    queued -= slice;
                    if head.pos == head.data.len() {
                        queue.pop_front();
                    }
                    pace_next = match toxic {
                        Some(Toxic::Slicer { delay, .. }) => Instant::now() + delay,
                        Some(Toxic::Bandwidth { bytes_per_sec }) if bytes_per_sec > 0 => {
                            pace_next.max(started)
                                + Duration::from_secs_f64(slice as f64 / bytes_per_sec as f64)
                        }
                        _ => Instant::now(),
                    };
                }
                n = reader.read(&mut buf), if !eof && queued < MAX_QUEUED => {
                    let n = n?;
                    if n == 0 {
                        eof = true;
                    } else {
                        // Queued behind earlier chunks even with no toxic, to keep order.
                        let due = due_time(toxic, &mut rng, &mut last_due);
                        queued += n;
                        queue.push_back(Pending { due, data: buf[..n].to_vec(), pos: 0 });
                    }
                }
            }
        }
    }
}

/// When a chunk arriving now may be delivered. Only latency delays by arrival; the other toxics
/// pace at write time.
fn due_time(toxic: Option<Toxic>, rng: &mut ChaCha8Rng, last_due: &mut Instant) -> Instant {
    let now = Instant::now();
    let due = match toxic {
        Some(Toxic::Latency { latency, jitter }) => {
            let delay = if jitter.is_zero() {
                latency
            } else {
                let j = jitter.as_nanos().min(u64::MAX as u128 / 2) as u64;
                let offset = rng.random_range(0..=2 * j) as i128 - j as i128;
                let nanos = (latency.as_nanos() as i128 + offset).max(0);
                Duration::from_nanos(nanos.min(u64::MAX as i128) as u64)
            };
            // Never before the previous chunk: jitter must not reorder bytes.
            (now + delay).max(*last_due)
        }
        _ => now,
    };
    *last_due = due;
    due
}

/// How many bytes of the head chunk to write in one go under the current toxic.
fn slice_len(toxic: Option<Toxic>, rng: &mut ChaCha8Rng, remaining: usize) -> usize {
    let len = match toxic {
        Some(Toxic::Slicer {
            average_size,
            size_variation,
            ..
        }) => {
            let avg = average_size.max(1);
            let var = size_variation.min(avg - 1);
            rng.random_range(avg - var..=avg + var)
        }
        // Slices of ~50 ms worth of bytes keep the rate smooth at any chunk size.
        Some(Toxic::Bandwidth { bytes_per_sec }) => {
            (bytes_per_sec / 20).clamp(1, BUF_SIZE as u64) as usize
        }
        _ => remaining,
    };
    len.clamp(1, remaining)
}
