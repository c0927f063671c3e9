//! Per-message cost of a JetStream publish, sync against async, on a live ephemeral server.
//!
//!     cargo bench --bench publish                     # all: memory and file streams
//!     cargo bench --bench publish -- memory/          # one storage only (criterion filter)
//!     cargo bench --bench publish -- --quick          # shorter, less precise
//!
//! One nats-server (process backend: `$NATS_SERVER_BIN`, else the binary jsbench caches or
//! fetches) is started for the whole bench and one memory and one file stream are created on it.
//! For each stream:
//! - `sync/publish`: publish, await the PubAck, next (one round trip per message);
//! - `async/window-256`, `async/window-1024`: keep up to N ack futures in flight in a
//!   `FuturesUnordered`, as an application pipelining its publishes would.
//!
//! Each sample publishes `iters` messages of 128 bytes (no headers: this is the client and the
//! server, not jsbench's wire format) and is timed from the first publish to the last ack, so
//! criterion reports time per message and messages per second. The stream is purged before each
//! sample, untimed, so memory stays bounded and every sample starts from an empty stream.
//!
//! A current-thread Tokio runtime, as jsbench's runner uses by default. Without `--bench`
//! (`cargo test --benches`) criterion runs each benchmark once: a one-message smoke test.

use std::future::IntoFuture;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, stream::StorageType};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};

mod profile;
use futures::stream::FuturesUnordered;
use futures::StreamExt;
use tokio::runtime::Runtime;

use jsbench::runner::RuntimeKind;
use jsbench::server::{Backend, Server, ServerSpec};
use jsbench::workload;

// The same allocator as the jsbench binary.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PAYLOAD: usize = 128;
const WINDOWS: [usize; 2] = [256, 1024];

/// One stream under test and what publishing to it needs.
struct Target {
    label: &'static str,
    stream: jetstream::stream::Stream,
    subject: async_nats::Subject,
}

/// Publishes `n` messages, awaiting each ack before the next publish.
async fn publish_sync(js: &jetstream::Context, t: &Target, payload: &bytes::Bytes, n: u64) {
    for _ in 0..n {
        js.publish(t.subject.clone(), payload.clone())
            .await
            .expect("publish queued")
            .await
            .expect("publish acked");
    }
}

/// Publishes `n` messages with at most `window` acks outstanding.
async fn publish_async(
    js: &jetstream::Context,
    t: &Target,
    payload: &bytes::Bytes,
    n: u64,
    window: usize,
) {
    let mut inflight = FuturesUnordered::new();
    for _ in 0..n {
        let fut = js
            .publish(t.subject.clone(), payload.clone())
            .await
            .expect("publish queued");
        inflight.push(fut.into_future());
        while inflight.len() >= window {
            inflight
                .next()
                .await
                .expect("non-empty")
                .expect("publish acked");
        }
    }
    while let Some(ack) = inflight.next().await {
        ack.expect("publish acked");
    }
}

/// Empties the stream between samples (untimed).
async fn purge(t: &Target) {
    t.stream.purge().await.expect("stream purged");
}

async fn setup(server: &Server) -> (jetstream::Context, Vec<Target>) {
    let client = server
        .connect_options()
        .await
        .expect("options with the server's credential")
        .connect(server.url())
        .await
        .expect("connect to the bench server");
    let js = jetstream::ContextBuilder::new()
        .timeout(Duration::from_secs(10))
        // Above the largest window, so the client's own in-flight limit never throttles.
        .max_ack_inflight(WINDOWS[WINDOWS.len() - 1] + 1)
        .build(client);
    let mut targets = Vec::new();
    for (label, storage) in [("memory", StorageType::Memory), ("file", StorageType::File)] {
        let name = format!("PUBBENCH_{}", label.to_uppercase());
        let subject = format!("pubbench.{label}");
        let stream = js
            .create_stream(jetstream::stream::Config {
                name,
                subjects: vec![subject.clone()],
                storage,
                ..Default::default()
            })
            .await
            .expect("create the bench stream");
        targets.push(Target {
            label,
            stream,
            subject: subject.into(),
        });
    }
    (js, targets)
}

fn bench_publish(c: &mut Criterion) {
    let rt: Runtime = RuntimeKind::CurrentThread.build().expect("tokio runtime");
    // Dropping the Server (also while unwinding a panic) kills the process it started.
    let server = rt
        .block_on(Server::start(&ServerSpec {
            backend: Backend::Process,
            url: None,
            image: None,
            auth: Default::default(),
            ..ServerSpec::default()
        }))
        .expect("start nats-server (set NATS_SERVER_BIN or let jsbench fetch it)");
    eprintln!(
        "publish bench: {} ({}), profile {}",
        server.url(),
        server.source(),
        profile::name()
    );
    let (js, targets) = rt.block_on(setup(&server));
    let payload = workload::payload(PAYLOAD);

    for t in &targets {
        let mut g = c.benchmark_group(t.label);
        g.throughput(Throughput::Elements(1))
            .sample_size(profile::pick(10, 20))
            .warm_up_time(profile::pick(
                Duration::from_millis(500),
                Duration::from_secs(2),
            ))
            .measurement_time(profile::pick(
                Duration::from_millis(1500),
                Duration::from_secs(5),
            ));
        g.bench_function("sync/publish", |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    purge(t).await;
                    let start = Instant::now();
                    publish_sync(&js, t, &payload, iters).await;
                    start.elapsed()
                })
            })
        });
        for window in WINDOWS {
            g.bench_with_input(
                BenchmarkId::new("async", format!("window-{window}")),
                &window,
                |b, &window| {
                    b.iter_custom(|iters| {
                        rt.block_on(async {
                            purge(t).await;
                            let start = Instant::now();
                            publish_async(&js, t, &payload, iters, window).await;
                            start.elapsed()
                        })
                    })
                },
            );
        }
        g.finish();
    }

    rt.block_on(async {
        for t in &targets {
            let name = t.stream.cached_info().config.name.clone();
            if let Err(e) = js.delete_stream(&name).await {
                eprintln!("publish bench: cannot delete stream {name}: {e}");
            }
        }
        drop(js);
        if let Err(e) = server.stop().await {
            eprintln!("publish bench: stopping the server: {e}");
        }
    });
}

criterion_group!(benches, bench_publish);
criterion_main!(benches);
