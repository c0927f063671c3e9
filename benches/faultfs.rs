//! The fault filesystem's overhead: nats-server async publish throughput (128 B messages, an
//! R1 file stream, acks awaited with a window in flight) on a plain directory vs on a faultfs
//! mount over the same kind of directory, alternating, 3 rounds each. Prints figures; asserts
//! nothing. Needs FUSE and nats-server 2.15.1 (found or fetched like the harness does).
//!
//!   cargo bench --bench faultfs
//!   FAULTFS_BENCH_MESSAGES=200000 FAULTFS_BENCH_SYNC_ALWAYS=1 cargo bench --bench faultfs

use std::collections::VecDeque;
use std::future::IntoFuture;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, stream};
use jsbench::faultfs::{FaultFs, FaultFsOptions};

const ROUNDS: usize = 3;
const WINDOW: usize = 512;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn start_server(bin: &Path, dir: &Path, store: &Path, always: bool) -> (Child, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sync = if always { "sync_interval: always" } else { "" };
    let conf = dir.join("nats.conf");
    let text = format!(
        "listen: 127.0.0.1:{port}\njetstream {{ store_dir: \"{}\"\n {sync} }}\n",
        store.display()
    );
    std::fs::write(&conf, text).unwrap();
    let child = Command::new(bin)
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start nats-server");
    (child, port)
}

async fn connect(port: u16) -> async_nats::Client {
    let url = format!("nats://127.0.0.1:{port}");
    for _ in 0..100 {
        if let Ok(c) = async_nats::connect(&url).await {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("nats-server on {url} did not answer");
}

/// Messages per second from the first publish to the last ack.
async fn publish_rate(client: async_nats::Client, messages: u64) -> f64 {
    let js = jetstream::ContextBuilder::new()
        .timeout(Duration::from_secs(60))
        .build(client);
    js.create_stream(stream::Config {
        name: "BENCH".into(),
        subjects: vec!["bench.>".into()],
        storage: stream::StorageType::File,
        ..Default::default()
    })
    .await
    .expect("create stream");
    let payload = bytes::Bytes::from(vec![b'x'; 128]);
    let mut in_flight = VecDeque::with_capacity(WINDOW);
    let start = Instant::now();
    for _ in 0..messages {
        if in_flight.len() == WINDOW {
            let ack: jetstream::context::PublishAckFuture = in_flight.pop_front().unwrap();
            ack.into_future().await.expect("ack");
        }
        let ack = js
            .publish("bench.x", payload.clone())
            .await
            .expect("publish");
        in_flight.push_back(ack);
    }
    for ack in in_flight {
        ack.into_future().await.expect("ack");
    }
    messages as f64 / start.elapsed().as_secs_f64()
}

async fn one_run(bin: &Path, on_fuse: bool, messages: u64, always: bool) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let backing = dir.path().join("backing");
    std::fs::create_dir_all(&backing).unwrap();
    let mount = on_fuse.then(|| {
        let mnt = dir.path().join("mnt");
        std::fs::create_dir_all(&mnt).unwrap();
        FaultFs::mount(&backing, &mnt, &FaultFsOptions::within(dir.path())).expect("mount")
    });
    let store = match &mount {
        Some(m) => m.mountpoint().join("store"),
        None => backing.join("store"),
    };
    let (mut child, port) = start_server(bin, dir.path(), &store, always);
    let rate = publish_rate(connect(port).await, messages).await;
    child.kill().unwrap();
    child.wait().unwrap();
    drop(mount);
    rate
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let messages = env_u64("FAULTFS_BENCH_MESSAGES", 100_000);
    let always = std::env::var("FAULTFS_BENCH_SYNC_ALWAYS").as_deref() == Ok("1");
    let bin = jsbench::server::pinned_binary().await.expect("nats-server");
    println!(
        "faultfs overhead: {messages} async publishes of 128 B, R1 file stream, window {WINDOW}, \
         sync_interval {}",
        if always { "always" } else { "default" }
    );
    let (mut plain, mut fuse) = (Vec::new(), Vec::new());
    for round in 1..=ROUNDS {
        for on_fuse in [false, true] {
            let rate = one_run(&bin, on_fuse, messages, always).await;
            let name = if on_fuse { "faultfs" } else { "plain" };
            println!("round {round} {name:>7}: {rate:>10.0} msg/s");
            if on_fuse { &mut fuse } else { &mut plain }.push(rate);
        }
    }
    let (p, f) = (median(plain), median(fuse));
    println!(
        "median plain {p:.0} msg/s, faultfs {f:.0} msg/s ({:+.1}%)",
        (f / p - 1.0) * 100.0
    );
}
