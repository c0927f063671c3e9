//! Tests of the TCP fault proxy against an in-test echo server (no NATS needed). Every wait is
//! bounded by `tokio::time::timeout`, so a bug fails instead of hanging; timing assertions are
//! lower bounds only, because a loaded CI machine can always be slower.

mod common;

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use jsbench::proxy::{Direction, Proxy, Toxic};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(5);

/// An echo server on loopback: each connection gets its bytes back, and its EOF relayed.
async fn echo_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut r, mut w) = stream.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
                let _ = w.shutdown().await;
            });
        }
    });
    addr
}

async fn setup(seed: u64) -> Proxy {
    let upstream = echo_server().await;
    Proxy::start(upstream, seed).await.unwrap()
}

async fn connect(proxy: &Proxy) -> TcpStream {
    let s = timeout(WAIT, TcpStream::connect(proxy.addr()))
        .await
        .expect("connect timed out")
        .unwrap();
    s.set_nodelay(true).unwrap();
    s
}

/// Writes `msg` and reads the echo back; returns how long the round trip took.
async fn round_trip(stream: &mut TcpStream, msg: &[u8]) -> Duration {
    let started = Instant::now();
    stream.write_all(msg).await.unwrap();
    let mut back = vec![0u8; msg.len()];
    timeout(WAIT, stream.read_exact(&mut back))
        .await
        .expect("echo timed out")
        .unwrap();
    assert_eq!(back, msg);
    started.elapsed()
}

/// Sends `data` and reads everything echoed until EOF, concurrently (the echo pushes back).
async fn echo_all(stream: TcpStream, data: Vec<u8>) -> Vec<u8> {
    let (mut r, mut w) = stream.into_split();
    let writer = tokio::spawn(async move {
        w.write_all(&data).await.unwrap();
        w.shutdown().await.unwrap();
    });
    let mut back = Vec::new();
    timeout(Duration::from_secs(20), r.read_to_end(&mut back))
        .await
        .expect("echo timed out")
        .unwrap();
    timeout(WAIT, writer).await.unwrap().unwrap();
    back
}

fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut data = vec![0u8; len];
    ChaCha8Rng::seed_from_u64(seed).fill_bytes(&mut data);
    data
}

/// The link was closed under the client: a read ends with EOF or an error, and does not hang.
async fn expect_closed(stream: &mut TcpStream) {
    let mut buf = [0u8; 64];
    match timeout(WAIT, stream.read(&mut buf))
        .await
        .expect("read hung on a closed link")
    {
        Ok(0) | Err(_) => {}
        Ok(n) => panic!("expected EOF or an error, read {n} bytes"),
    }
}

async fn wait_for(mut cond: impl FnMut() -> bool) {
    timeout(WAIT, async {
        while !cond() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("condition not reached in time");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_toxic_round_trips_bytes_unchanged() {
    let proxy = setup(1).await;
    assert!(proxy.url().starts_with("nats://127.0.0.1:"));
    let data = random_bytes(1 << 20, 7);
    let back = echo_all(connect(&proxy).await, data.clone()).await;
    assert!(back == data, "echoed bytes differ");
    wait_for(|| {
        let s = proxy.stats();
        s.bytes_upstream == 1 << 20 && s.bytes_downstream == 1 << 20
    })
    .await;
    assert_eq!(proxy.stats().links_accepted, 1);
    // Both sides closed: the link ends.
    wait_for(|| proxy.links() == 0).await;
    timeout(WAIT, proxy.stop()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_delays_each_direction_and_clears() {
    let proxy = setup(2).await;
    let mut s = connect(&proxy).await;
    round_trip(&mut s, b"warm").await;
    assert_eq!(proxy.links(), 1);

    let latency = Toxic::Latency {
        latency: Duration::from_millis(50),
        jitter: Duration::ZERO,
    };
    proxy.set(Direction::Upstream, latency);
    let rtt = round_trip(&mut s, b"one way").await;
    assert!(rtt >= Duration::from_millis(50), "rtt {rtt:?}");

    proxy.set(Direction::Both, latency);
    let rtt = round_trip(&mut s, b"both ways").await;
    assert!(rtt >= Duration::from_millis(100), "rtt {rtt:?}");

    proxy.clear();
    let data = random_bytes(64 * 1024, 3);
    s.write_all(&data).await.unwrap();
    let mut back = vec![0u8; data.len()];
    timeout(WAIT, s.read_exact(&mut back))
        .await
        .unwrap()
        .unwrap();
    assert!(back == data);
    timeout(WAIT, proxy.stop()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jitter_never_reorders() {
    let proxy = setup(3).await;
    proxy.set(
        Direction::Both,
        Toxic::Latency {
            latency: Duration::from_millis(20),
            jitter: Duration::from_millis(19),
        },
    );
    let s = connect(&proxy).await;
    let (mut r, mut w) = s.into_split();
    const N: u32 = 200;
    let writer = tokio::spawn(async move {
        for i in 0..N {
            w.write_all(&i.to_be_bytes()).await.unwrap();
            // Separate writes become separate chunks, each with its own jitter draw.
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
        w
    });
    for i in 0..N {
        let mut b = [0u8; 4];
        timeout(WAIT, r.read_exact(&mut b)).await.unwrap().unwrap();
        assert_eq!(u32::from_be_bytes(b), i, "chunks reordered");
    }
    timeout(WAIT, writer).await.unwrap().unwrap();
    timeout(WAIT, proxy.stop()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bandwidth_limits_throughput() {
    let proxy = setup(4).await;
    proxy.set(
        Direction::Upstream,
        Toxic::Bandwidth {
            bytes_per_sec: 100 * 1024,
        },
    );
    let data = random_bytes(200 * 1024, 4);
    let started = Instant::now();
    let back = echo_all(connect(&proxy).await, data.clone()).await;
    let took = started.elapsed();
    assert!(back == data);
    assert!(took >= Duration::from_millis(1500), "took {took:?}");
    timeout(WAIT, proxy.stop()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slicer_keeps_data_intact() {
    let proxy = setup(5).await;
    proxy.set(
        Direction::Both,
        Toxic::Slicer {
            average_size: 100,
            size_variation: 50,
            delay: Duration::from_micros(200),
        },
    );
    let data = random_bytes(32 * 1024, 5);
    let back = echo_all(connect(&proxy).await, data.clone()).await;
    assert!(back == data);
    timeout(WAIT, proxy.stop()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_holds_bytes_until_cleared() {
    let proxy = setup(6).await;
    let mut s = connect(&proxy).await;
    round_trip(&mut s, b"warm").await;

    proxy.set(Direction::Upstream, Toxic::Timeout);
    s.write_all(b"held").await.unwrap();
    let mut back = [0u8; 4];
    let r = timeout(Duration::from_millis(300), s.read_exact(&mut back)).await;
    assert!(r.is_err(), "echo arrived through a blackhole");
    assert_eq!(proxy.links(), 1, "timeout must keep the link open");

    proxy.clear();
    timeout(WAIT, s.read_exact(&mut back))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&back, b"held");
    timeout(WAIT, proxy.stop()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reset_peer_breaks_existing_links_only() {
    let proxy = setup(7).await;
    let mut s = connect(&proxy).await;
    round_trip(&mut s, b"warm").await;

    proxy.set(Direction::Both, Toxic::ResetPeer);
    expect_closed(&mut s).await;
    wait_for(|| proxy.links() == 0).await;

    // New connections are accepted normally.
    let mut fresh = connect(&proxy).await;
    round_trip(&mut fresh, b"after reset").await;
    timeout(WAIT, proxy.stop()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn down_refuses_until_cleared() {
    let proxy = setup(8).await;
    let mut existing = connect(&proxy).await;
    round_trip(&mut existing, b"warm").await;

    proxy.set(Direction::Both, Toxic::Down);
    expect_closed(&mut existing).await;
    // A new connection is refused or closed at once.
    if let Ok(Ok(mut s)) = timeout(WAIT, TcpStream::connect(proxy.addr())).await {
        expect_closed(&mut s).await;
    }
    wait_for(|| proxy.links() == 0).await;

    proxy.clear();
    let mut s = connect(&proxy).await;
    round_trip(&mut s, b"back up").await;
    timeout(WAIT, proxy.stop()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_closes_listener_and_links() {
    let proxy = setup(9).await;
    let addr = proxy.addr();
    let mut s = connect(&proxy).await;
    round_trip(&mut s, b"warm").await;
    // A toxic holding bytes must not keep a link alive past stop.
    proxy.set(Direction::Both, Toxic::Timeout);
    s.write_all(b"stuck").await.unwrap();

    timeout(WAIT, proxy.stop()).await.expect("stop hung");
    expect_closed(&mut s).await;
    let refused: io::Result<TcpStream> = timeout(WAIT, TcpStream::connect(addr)).await.unwrap();
    assert!(refused.is_err(), "port still accepts after stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_closes_links() {
    let proxy = setup(10).await;
    let mut s = connect(&proxy).await;
    round_trip(&mut s, b"warm").await;
    drop(proxy);
    expect_closed(&mut s).await;
}

/// A real NATS client through the proxy: JetStream publishes are acked, and upstream latency
/// shows up in the publish round trip (a lower bound).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jetstream_publishes_through_the_proxy_and_feel_its_latency() {
    let server = common::process_server().await;
    let upstream: SocketAddr = server
        .url()
        .trim_start_matches("nats://")
        .parse()
        .expect("server url is host:port");
    let proxy = Proxy::start(upstream, 3).await.unwrap();
    let options = server
        .connect_options()
        .await
        .expect("options with the run's credential");
    let client = timeout(Duration::from_secs(10), options.connect(proxy.url()))
        .await
        .expect("connect in time")
        .expect("connect through the proxy");
    let js = async_nats::jetstream::new(client);
    js.create_stream(async_nats::jetstream::stream::Config {
        name: "PROXIED".into(),
        subjects: vec!["proxied.>".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    let ack = js
        .publish("proxied.a", "x".into())
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(ack.sequence, 1);

    proxy.set(
        Direction::Upstream,
        Toxic::Latency {
            latency: Duration::from_millis(30),
            jitter: Duration::ZERO,
        },
    );
    let start = Instant::now();
    let ack = timeout(Duration::from_secs(10), async {
        js.publish("proxied.b", "y".into())
            .await
            .unwrap()
            .await
            .unwrap()
    })
    .await
    .expect("ack in time");
    assert!(
        start.elapsed() >= Duration::from_millis(30),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(ack.sequence, 2);
    assert!(proxy.stats().bytes_upstream > 0 && proxy.stats().bytes_downstream > 0);
    proxy.stop().await;
    server.stop().await.unwrap();
}
