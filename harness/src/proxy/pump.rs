//! The copy loop: moves the bytes of one direction of a link, applying that direction's toxic.
//!
//! This is the proxy's hot path. With no toxic, a read goes into a reusable buffer and is
//! written straight to the other socket: no queue, no allocation, no lock. With a toxic, chunks
//! are held in a FIFO with a due time ([`Held`]), so delays never reorder bytes; when the toxic
//! is cleared, what is held is flushed in order before the fast path resumes.

use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;
use tokio::time::{sleep_until, Instant};

use super::control::{Control, Counters};
use super::toxic::{self, mix, Dir, Toxic};

/// Size of the reusable read buffer of each copy loop.
const BUF_SIZE: usize = 32 * 1024;
/// While a toxic holds bytes, a copy loop stops reading once this much is queued, so a stalled
/// direction pushes back on the sender through TCP instead of growing memory without bound.
const MAX_QUEUED: usize = 1024 * 1024;

/// One direction of a link: which toxic applies, the jitter RNG and the byte counter.
pub(super) struct Way<'a> {
    dir: Dir,
    control: watch::Receiver<Control>,
    rng: ChaCha8Rng,
    forwarded: &'a AtomicU64,
}

impl<'a> Way<'a> {
    /// Direction `dir` of the link seeded `link_seed`: its own RNG stream and counter.
    pub(super) fn new(
        dir: Dir,
        control: &watch::Receiver<Control>,
        link_seed: u64,
        counters: &'a Counters,
    ) -> Way<'a> {
        let (stream, forwarded) = match dir {
            Dir::Up => (0, &counters.bytes_upstream),
            Dir::Down => (1, &counters.bytes_downstream),
        };
        Way {
            dir,
            control: control.clone(),
            rng: ChaCha8Rng::seed_from_u64(mix(link_seed, stream)),
            forwarded,
        }
    }
}

/// Copies one direction of a link, applying the current toxic of that direction. Returns when
/// the reader hit EOF and everything read was written (then the writer is shut down, relaying the
/// half-close), or on an I/O error.
pub(super) async fn pump<R, W>(mut reader: R, mut writer: W, way: Way<'_>) -> io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let Way {
        dir,
        mut control,
        mut rng,
        forwarded,
    } = way;
    let mut buf = vec![0u8; BUF_SIZE];
    let mut held = Held::new();
    let mut eof = false;
    let mut toxic = control.borrow_and_update().toxic(dir);

    loop {
        if held.is_empty() {
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
                        held.push(toxic, &mut rng, &buf[..n]);
                    }
                }
            }
        } else {
            // `None`: hold the queue until the toxic changes.
            let ready = held.release_at(toxic);
            tokio::select! {
                biased;
                changed = control.changed() => {
                    if changed.is_err() {
                        return Ok(());
                    }
                    toxic = control.borrow_and_update().toxic(dir);
                }
                _ = sleep_until(ready.unwrap_or_else(Instant::now)), if ready.is_some() => {
                    held.write_head(&mut writer, toxic, &mut rng, forwarded).await?;
                }
                n = reader.read(&mut buf), if !eof && held.has_room() => {
                    let n = n?;
                    if n == 0 {
                        eof = true;
                    } else {
                        // Queued behind earlier chunks even with no toxic, to keep order.
                        held.push(toxic, &mut rng, &buf[..n]);
                    }
                }
            }
        }
    }
}

/// A chunk read but not yet fully written.
struct Pending {
    due: Instant,
    data: Vec<u8>,
    pos: usize,
}

/// The bytes a toxic holds back, in arrival order, and the pacing state of their writes.
struct Held {
    queue: VecDeque<Pending>,
    /// Bytes in `queue` not yet written.
    queued: usize,
    /// Delivery time of the last chunk queued under latency: later chunks never go before it.
    last_due: Instant,
    /// Earliest time the next slice may be written under bandwidth/slicer.
    pace_next: Instant,
}

impl Held {
    fn new() -> Held {
        Held {
            queue: VecDeque::new(),
            queued: 0,
            last_due: Instant::now(),
            pace_next: Instant::now(),
        }
    }

    fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Whether the loop may read more (see `MAX_QUEUED`).
    fn has_room(&self) -> bool {
        self.queued < MAX_QUEUED
    }

    /// Queues a chunk just read, due when the toxic says.
    fn push(&mut self, toxic: Option<Toxic>, rng: &mut ChaCha8Rng, data: &[u8]) {
        let due = toxic::due_time(toxic, rng, &mut self.last_due);
        self.queued += data.len();
        self.queue.push_back(Pending {
            due,
            data: data.to_vec(),
            pos: 0,
        });
    }

    /// When the head may be written (see [`toxic::release_at`]).
    fn release_at(&self, toxic: Option<Toxic>) -> Option<Instant> {
        let head = self.queue.front().expect("queue is not empty");
        toxic::release_at(toxic, head.due, self.pace_next)
    }

    /// Writes one slice of the head chunk and sets when the next may go.
    async fn write_head<W: AsyncWrite + Unpin>(
        &mut self,
        writer: &mut W,
        toxic: Option<Toxic>,
        rng: &mut ChaCha8Rng,
        forwarded: &AtomicU64,
    ) -> io::Result<()> {
        let head = self.queue.front_mut().expect("queue is not empty");
        let remaining = head.data.len() - head.pos;
        let slice = toxic::slice_len(toxic, rng, remaining);
        let started = Instant::now();
        writer
            .write_all(&head.data[head.pos..head.pos + slice])
            .await?;
        forwarded.fetch_add(slice as u64, Ordering::Relaxed);
        head.pos += slice;
        self.queued -= slice;
        if head.pos == head.data.len() {
            self.queue.pop_front();
        }
        self.pace_next = toxic::next_pace(toxic, self.pace_next, started, slice);
        Ok(())
    }
}
