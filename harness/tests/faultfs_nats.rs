//! The power-loss fault's self-test with a real nats-server on the fault filesystem: an R1
//! file stream, 2,000 acked publishes, kill -9, power loss, restart on the same store. With
//! `sync_interval: always` every acked message survives; with the default (lazy) sync acked
//! messages are lost — which kill -9 alone can never show. The server handling is the test's
//! own and minimal: one child process, no jsbench server module beyond finding the binary.

use std::future::IntoFuture;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use async_nats::jetstream::{self, stream};
use jsbench::faultfs::{FaultFs, FaultFsOptions, FileKind, Mount};

const MESSAGES: u64 = 2_000;

struct NatsServer {
    child: Child,
    port: u16,
}

impl NatsServer {
    fn start(bin: &Path, dir: &Path, store: &Path, port: u16, always: bool) -> NatsServer {
        let sync = if always { "sync_interval: always" } else { "" };
        let conf = dir.join("nats.conf");
        let text = format!(
            "listen: 127.0.0.1:{port}\njetstream {{ store_dir: \"{}\"\n {sync} }}\n",
            store.display()
        );
        std::fs::write(&conf, text).unwrap();
        let log = std::fs::File::create(dir.join("nats.log")).unwrap();
        let child = Command::new(bin)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        NatsServer { child, port }
    }

    async fn connect(&self) -> async_nats::Client {
        let url = format!("nats://127.0.0.1:{}", self.port);
        for _ in 0..100 {
            if let Ok(c) = async_nats::connect(&url).await {
                return c;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("nats-server on {url} did not answer in 10 s");
    }

    /// kill -9: the page cache keeps what was written; the power loss is what drops it.
    fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn mount(dir: &Path) -> Mount {
    let (backing, mnt) = (dir.join("backing"), dir.join("mnt"));
    std::fs::create_dir_all(&backing).unwrap();
    std::fs::create_dir_all(&mnt).unwrap();
    FaultFs::mount(&backing, &mnt, &FaultFsOptions::within(dir))
        .unwrap_or_else(|e| panic!("this test needs a working FUSE mount: {e}"))
}

/// Publishes with acks, at most `WINDOW` unacked at a time (an fsync per message through FUSE
/// on a loaded machine must not run into the ack timeout); returns how many were acked.
async fn publish(client: async_nats::Client) -> u64 {
    const WINDOW: u64 = 100;
    let js = jetstream::ContextBuilder::new()
        .timeout(Duration::from_secs(30))
        .build(client);
    js.create_stream(stream::Config {
        name: "FF".into(),
        subjects: vec!["ff.>".into()],
        storage: stream::StorageType::File,
        num_replicas: 1,
        ..Default::default()
    })
    .await
    .expect("create stream");
    let payload = bytes::Bytes::from(vec![b'x'; 128]);
    let mut acked = 0;
    for batch in 0..MESSAGES.div_ceil(WINDOW) {
        let mut pending = Vec::with_capacity(WINDOW as usize);
        for i in batch * WINDOW..((batch + 1) * WINDOW).min(MESSAGES) {
            let ack = js.publish(format!("ff.{}", i % 16), payload.clone()).await;
            pending.push(ack.expect("publish").into_future());
        }
        for ack in futures::future::join_all(pending).await {
            acked += u64::from(ack.is_ok());
        }
    }
    acked
}

/// Messages in the stream after the restart (0 when the stream itself was lost).
async fn stored(client: async_nats::Client) -> u64 {
    let js = jetstream::new(client);
    match js.get_stream("FF").await {
        Ok(mut s) => s.info().await.expect("stream info").state.messages,
        Err(_) => 0,
    }
}

struct Outcome {
    acked: u64,
    survived: u64,
    bytes_dropped: u64,
}

async fn publish_kill_power_loss_restart(always: bool) -> Outcome {
    let bin: PathBuf = jsbench::server::pinned_binary()
        .await
        .unwrap_or_else(|e| panic!("this test needs nats-server 2.15.1: {e}"));
    let dir = tempfile::tempdir().unwrap();
    let mount = mount(dir.path());
    let store = mount.mountpoint().join("store");
    let port = free_port();
    let server = NatsServer::start(&bin, dir.path(), &store, port, always);
    let acked = publish(server.connect().await).await;
    server.kill9();
    // The kinds table names what a real store holds (index.db is written at clean shutdown).
    for kind in [FileKind::Blocks, FileKind::Meta] {
        let files = mount.files(kind).unwrap();
        assert!(!files.is_empty(), "no {kind} files in the store");
        assert!(
            files.iter().all(|f| f.starts_with("store/jetstream")),
            "{files:?}"
        );
    }
    let report = mount.power_loss().expect("power loss");
    let server = NatsServer::start(&bin, dir.path(), &store, port, always);
    let survived = stored(server.connect().await).await;
    server.kill9();
    eprintln!(
        "sync always={always}: {acked} acked, {survived} survived; power loss dropped {} bytes, \
         removed {} entries, restored {}",
        report.bytes_dropped, report.entries_removed, report.entries_restored
    );
    Outcome {
        acked,
        survived,
        bytes_dropped: report.bytes_dropped,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_always_keeps_every_acked_message_through_a_power_loss() {
    let o = publish_kill_power_loss_restart(true).await;
    assert_eq!(o.acked, MESSAGES);
    assert_eq!(
        o.survived, o.acked,
        "sync_interval: always lost acked messages ({} bytes dropped)",
        o.bytes_dropped
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_lazy_sync_loses_acked_messages_in_a_power_loss() {
    let o = publish_kill_power_loss_restart(false).await;
    assert_eq!(o.acked, MESSAGES);
    assert!(
        o.survived < o.acked,
        "the power loss dropped nothing: {} of {} acked messages survived",
        o.survived,
        o.acked
    );
    assert!(o.bytes_dropped > 0);
}
