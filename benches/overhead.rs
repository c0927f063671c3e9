//! Recording overhead: jsbench's single-connection async publisher with every observation on,
//! against a bare async-nats publish loop (the same messages, no history, no tap, no checks), on
//! the same ephemeral server, alternating runs (A B A B …) because these machines are noisy.
//!
//!     cargo bench --bench overhead                  # 3 rounds × 500k messages, file storage
//!     JSB_OVERHEAD_MSGS=200000 JSB_OVERHEAD_ROUNDS=3 JSB_OVERHEAD_STORAGE=memory cargo bench --bench overhead
//!
//! Prints each run and the median ratio jsbench / bare (goal: ≥ 0.95). Bare runs are done twice:
//! with jsbench's headers (what the ratio compares: the cost of recording) and without (what
//! the wire format itself costs).

use std::future::IntoFuture;
use std::time::{Duration, Instant};

use async_nats::jetstream::{self, message::PublishMessage};
use futures::stream::FuturesUnordered;
use futures::StreamExt;

use jsbench::cancel::Cancel;
use jsbench::runner::{self, RunOptions};
use jsbench::scenario::{self, Overrides};
use jsbench::server::{Backend, Server, ServerSpec};
use jsbench::workload::{self, Subjects};

// The same allocator as the jsbench binary, for both sides of the comparison.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A plain async publish loop: one connection, a window of ack futures in a FuturesUnordered.
async fn bare(
    url: &str,
    storage: &str,
    n: u64,
    window: usize,
    with_headers: bool,
) -> anyhow::Result<f64> {
    let client = async_nats::connect(url).await?;
    let js = jetstream::ContextBuilder::new()
        .timeout(Duration::from_secs(10))
        .max_ack_inflight(window + 1)
        .backpressure_on_inflight(true)
        .build(client.clone());
    let run = format!("{:08x}", rand::random::<u32>());
    let name = format!("BARE_{run}");
    let subjects = Subjects::new(&run, 16);
    js.create_stream(jetstream::stream::Config {
        name: name.clone(),
        subjects: vec![subjects.stream_filter.clone()],
        storage: if storage == "memory" {
            jetstream::stream::StorageType::Memory
        } else {
            jetstream::stream::StorageType::File
        },
        ..Default::default()
    })
    .await?;
    let payload = workload::payload(128);
    let keys: Vec<String> = (0..16).map(workload::key_name).collect();
    let mut seq = [0u64; 16];
    let hb = workload::HeaderBuilder::default();
    let mut inflight = FuturesUnordered::new();
    let start = Instant::now();
    for i in 0..n {
        let k = (i % 16) as u32;
        let mut msg = PublishMessage::build().payload(payload.clone());
        if with_headers {
            seq[k as usize] += 1;
            msg = msg.headers(hb.build(&run, &keys[k as usize], seq[k as usize], i, 0, 1, None));
        }
        let fut = js.send_publish(subjects.get(false, k), msg).await?;
        inflight.push(fut.into_future());
        while inflight.len() >= window {
            inflight.next().await.expect("non-empty")?;
        }
    }
    while let Some(r) = inflight.next().await {
        r?;
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    js.delete_stream(&name).await?;
    Ok(rate)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() -> anyhow::Result<()> {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing useful: only run when benched.
    if !std::env::args().any(|a| a == "--bench") {
        return Ok(());
    }
    let n = env_or("JSB_OVERHEAD_MSGS", 500_000);
    let rounds = env_or("JSB_OVERHEAD_ROUNDS", 3);
    let storage = std::env::var("JSB_OVERHEAD_STORAGE").unwrap_or_else(|_| "file".into());
    let window = 10_000usize;
    // The same runtime as `jsbench run` (JSBENCH_RUNTIME=multi_thread to compare).
    let rt = std::env::var("JSBENCH_RUNTIME")
        .ok()
        .and_then(|s| jsbench::runner::RuntimeKind::parse(&s))
        .unwrap_or_default()
        .build()?;
    rt.block_on(async {
        let server = Server::start(&ServerSpec {
            backend: Backend::Process,
            url: None,
            image: None,
            auth: Default::default(),
        })
        .await?;
        let url = server.url().to_string();
        let out = tempfile::tempdir()?;
        let text = format!(
            "name = \"overhead\"\nseed = 1\n[stream]\nstorage = \"{storage}\"\n[publish]\nmode = \"async\"\nmax_in_flight = {window}\n[workload]\nmessages = {n}\nkeys = 16\nkey_distribution = \"round_robin\"\npayload_size = 128\n"
        );
        let plan = scenario::parse(
            &text,
            "overhead",
            &Overrides {
                server_url: Some(url.clone()),
                ..Default::default()
            },
        )?;
        let opts = RunOptions {
            out_root: out.path().to_path_buf(),
            cancel: Cancel::new(),
            progress: false,
        };
        let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
        println!("overhead: {n} msgs × 128 B, {storage} storage, window {window}, {rounds} rounds, server {url}");
        for round in 0..rounds {
            let bare_h = bare(&url, &storage, n, window, true).await?;
            let r = runner::run(&plan, &opts).await?;
            anyhow::ensure!(r.report.status == "complete", "jsbench run incomplete: {:?}", r.report.status_reason);
            let js = r.report.throughput.msgs_per_sec;
            let bare_n = bare(&url, &storage, n, window, false).await?;
            println!(
                "round {round}: bare+headers {bare_h:>9.0} msgs/s | jsbench {js:>9.0} msgs/s | bare, no headers {bare_n:>9.0} msgs/s"
            );
            a.push(bare_h);
            b.push(js);
            c.push(bare_n);
        }
        let (ma, mb, mc) = (median(&mut a), median(&mut b), median(&mut c));
        println!("median: bare+headers {ma:.0} | jsbench {mb:.0} | bare, no headers {mc:.0} msgs/s");
        println!("ratio jsbench / bare+headers = {:.3}  (goal ≥ 0.95)", mb / ma);
        println!("ratio jsbench / bare, no headers = {:.3}", mb / mc);
        server.stop().await?;
        anyhow::Ok(())
    })
}
