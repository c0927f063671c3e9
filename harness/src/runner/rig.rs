//! The rig around a server for one run: the run's stream, an admin connection straight to the
//! server (stream admin, read-back, consumer, cluster observers: network faults never touch
//! it), fault proxies for the client connections (when the plan needs them), and the
//! publishing connections. Opened before the phases, closed after them whatever happened.
//!
//! On a cluster the order matters: the stream is created first and the run waits until it has a
//! leader and every replica is current; only then is `connections.connect_to` resolved against
//! that leader, and each connection gets every seed on its server list, its primary first (so it
//! fails over as an application's would). The seeds are the server's client URLs
//! ([`Server::seeds`]): every node of a cluster jsbench started, or an external server's seed
//! list. With proxies, each connection has one proxy per seed, so a fault on a connection
//! follows it to whichever seed it talks to, and a partition can cut the client links to some
//! nodes only.
//!
//! No connection (publishers, admin — which also reads back and consumes) adds the servers a
//! cluster advertises to its list (`ignore_discovered_servers`): a URL learned from the servers
//! would take a publishing connection around its fault proxies, and every connection talks only
//! to what the run was given, so what a run reached is what its scenario says.

use std::time::Duration;

use async_nats::jetstream;

use super::Facts;
use crate::client::pool::Pool;
use crate::proxy::Proxy;
use crate::record::cluster::poll_leader;
use crate::scenario::{ConnectTo, Mode, PersistMode, Plan, Storage};
use crate::server::Server;
use crate::workload::Subjects;

/// How long a replicated stream may take to elect its leader and bring every replica current.
const STREAM_READY_TIMEOUT: Duration = Duration::from_secs(30);

/// Everything a run's phases publish through and read with.
pub(super) struct Rig {
    pub(super) pool: Pool,
    pub(super) admin_client: async_nats::Client,
    pub(super) admin: jetstream::Context,
    pub(super) subjects: Subjects,
    pub(super) stream: String,
    /// Each connection's primary seed (index into [`Server::seeds`]: a node, for a server
    /// jsbench started).
    pub(super) primaries: Vec<usize>,
    /// Each connection's server list, primary first, through its proxies when it has them
    /// (an adapter's init gets the same).
    pub(super) urls: Vec<Vec<String>>,
}

/// Starts the client proxies: per connection, one per seed (a node jsbench started, or an entry
/// of an external server's seed list). Empty when not proxied; the proxies are the caller's to
/// stop (also when opening the rig fails).
pub(super) async fn start_proxies(plan: &Plan, server: &Server) -> Result<Vec<Vec<Proxy>>, String> {
    if !plan.proxied() {
        return Ok(Vec::new());
    }
    let mut proxies = Vec::with_capacity(plan.connections.count);
    for i in 0..plan.connections.count {
        let mut per_seed = Vec::with_capacity(server.seeds().len());
        for (n, url) in server.seeds().iter().enumerate() {
            let upstream = upstream_of(url).await?;
            let seed = plan.seed ^ (0x5052_4f58_5900 + i as u64) ^ ((n as u64) << 40);
            let p = Proxy::start(upstream, seed)
                .await
                .map_err(|e| format!("cannot start the fault proxy for connection {i}: {e}"))?;
            per_seed.push(p);
        }
        proxies.push(per_seed);
    }
    Ok(proxies)
}

async fn upstream_of(url: &str) -> Result<std::net::SocketAddr, String> {
    let hostport = url.split("://").nth(1).unwrap_or(url);
    let hostport = hostport.rsplit('@').next().unwrap_or(hostport);
    tokio::net::lookup_host(hostport)
        .await
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| format!("cannot resolve {hostport} for the fault proxy"))
}

/// With faults the server may be gone for a while: allow reconnecting for about three minutes
/// (async-nats' backoff reaches 4 s per attempt), not ~1 s.
fn max_reconnects(plan: &Plan) -> usize {
    if plan.faults.is_empty() {
        10
    } else {
        60
    }
}

impl Rig {
    /// Creates the run's stream (waiting until a replicated one is ready), then connects the
    /// publishing connections (through `proxies` when there are any).
    pub(super) async fn open(
        plan: &Plan,
        server: &Server,
        proxies: &[Vec<Proxy>],
        run_id: &str,
        facts: &mut Facts,
    ) -> Result<Rig, String> {
        let options = server
            .connect_options()
            .await
            .map_err(|e| format!("connection options: {e}"))?;
        let all = server.seeds();
        let admin_client = options
            .clone()
            .name(format!("jsbench-{}-admin", plan.name))
            .max_reconnects(Some(max_reconnects(plan)))
            .retain_servers_order()
            .ignore_discovered_servers()
            .connect(parse(all)?.as_slice())
            .await
            .map_err(|e| format!("cannot connect to {}: {e}", all.join(", ")))?;
        let admin = jetstream::ContextBuilder::new()
            .timeout(Duration::from_secs(10))
            .build(admin_client.clone());
        let subjects = Subjects::new(run_id, plan.workload.keys);
        facts.subjects = vec![subjects.stream_filter.clone()];
        let stream = facts.stream_name.clone();
        create_stream(&admin, plan, &stream, &subjects).await?;
        let leader = if plan.stream.replicas > 1 {
            Some(wait_stream_ready(&admin, &stream).await?)
        } else {
            None
        };
        let primaries = primaries(plan, server, leader.as_deref());
        let urls = server_lists(server, proxies, &primaries);
        let pool = Pool::connect(
            &urls,
            || options.clone(),
            plan.connections.count,
            &plan.name,
            plan.publish.ack_timeout,
            plan.publish.max_in_flight,
            max_reconnects(plan),
        )
        .await
        .map_err(|e| format!("cannot connect to {}: {e}", urls[0].join(", ")))?;
        // Several seeds, or a replicated stream on whatever the one URL is: a connection's node
        // may not forward to the stream yet.
        if server.seeds().len() > 1 || plan.stream.replicas > 1 {
            reach_stream(&pool, run_id).await?;
        }
        facts.environment.server_version = pool.clients[0].server_info().version.clone();
        Ok(Rig {
            pool,
            admin_client,
            admin,
            subjects,
            stream,
            primaries,
            urls,
        })
    }

    /// Deletes the stream (unless the plan keeps it) and closes every connection.
    pub(super) async fn close(self, plan: &Plan, facts: &mut Facts) {
        if plan.stream.keep {
            facts.stream_kept = true;
        } else if let Err(e) =
            crate::record::readback::while_unavailable(|| self.admin.delete_stream(&self.stream))
                .await
        {
            facts
                .notes
                .push(format!("stream {} not deleted: {e}", self.stream));
        }
        self.pool.close().await;
        let _ = tokio::time::timeout(Duration::from_secs(2), self.admin_client.drain()).await;
    }
}

fn parse(urls: &[String]) -> Result<Vec<async_nats::ServerAddr>, String> {
    urls.iter()
        .map(|u| u.parse().map_err(|e| format!("bad server URL {u}: {e}")))
        .collect()
}

async fn create_stream(
    admin: &jetstream::Context,
    plan: &Plan,
    name: &str,
    subjects: &Subjects,
) -> Result<(), String> {
    let config = jetstream::stream::Config {
        name: name.to_string(),
        subjects: vec![subjects.stream_filter.clone()],
        storage: match plan.stream.storage {
            Storage::File => jetstream::stream::StorageType::File,
            Storage::Memory => jetstream::stream::StorageType::Memory,
        },
        num_replicas: plan.stream.replicas,
        duplicate_window: plan.stream.duplicate_window,
        max_bytes: plan.stream.max_bytes,
        persist_mode: plan.stream.persist_mode.map(|m| match m {
            PersistMode::Default => jetstream::stream::PersistenceMode::Default,
            PersistMode::Async => jetstream::stream::PersistenceMode::Async,
        }),
        // Atomic batches need the stream's consent (`allow_atomic`), fast ingest too
        // (`allow_batched`).
        allow_atomic_publish: plan.publish.mode == Mode::Batch,
        allow_batch_publish: plan.publish.mode == Mode::Fast,
        ..Default::default()
    };
    // A cluster that just elected its meta leader may still see a peer as offline for a moment
    // ("no suitable peers for placement") or answer late: retry those. Creating a stream again
    // with the same config succeeds, so a request that timed out but went through is harmless.
    crate::record::readback::while_unavailable(|| admin.create_stream(config.clone()))
        .await
        .map(|_| ())
        .map_err(|e| format!("cannot create stream {name}: {e}"))
}

/// Waits until the replicated stream has a leader and every replica is current; returns the
/// leader's name.
async fn wait_stream_ready(admin: &jetstream::Context, name: &str) -> Result<String, String> {
    let deadline = tokio::time::Instant::now() + STREAM_READY_TIMEOUT;
    let mut last = String::from("no answer yet");
    while tokio::time::Instant::now() < deadline {
        match stream_readiness(admin, name).await {
            Ok(leader) => return Ok(leader),
            Err(why) => last = why,
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!(
        "stream {name} was not ready within {STREAM_READY_TIMEOUT:?}: {last}"
    ))
}

async fn stream_readiness(admin: &jetstream::Context, name: &str) -> Result<String, String> {
    let mut s = admin.get_stream(name).await.map_err(|e| e.to_string())?;
    let info = s.info().await.map_err(|e| e.to_string())?;
    let cluster = info.cluster.as_ref().ok_or("no cluster info")?;
    let leader = cluster.leader.clone().ok_or("no leader yet")?;
    match cluster.replicas.iter().find(|r| !r.current) {
        Some(r) => Err(format!("replica {} is not current", r.name)),
        None => Ok(leader),
    }
}

/// Waits until every publishing connection's node forwards the stream's subjects: a probe
/// message, `jsb.<run>.p.<connection>`, acknowledged through each. On a cluster the stream's
/// interest reaches the other nodes over the routes some time after the stream is ready
/// (measured: a connection to a follower answered "no responders" for 0.45 s after a 5000
/// message warm-up); without this, those first publishes would be failures of the rig, not of
/// the system under test. The probes are outside the measured and warm-up subjects.
async fn reach_stream(pool: &Pool, run_id: &str) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + STREAM_READY_TIMEOUT;
    for (c, js) in pool.contexts.iter().enumerate() {
        let subject = format!("jsb.{run_id}.p.{c}");
        loop {
            let acked = match js.publish(subject.clone(), "probe".into()).await {
                Ok(ack) => ack.await.map(|_| ()).map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            };
            match acked {
                Ok(()) => break,
                Err(e) if tokio::time::Instant::now() >= deadline => {
                    return Err(format!(
                    "connection {c} cannot reach the stream within {STREAM_READY_TIMEOUT:?}: {e}"
                ))
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }
    Ok(())
}

/// Each connection's primary seed, by `connections.connect_to` and the stream's leader. The
/// seeds of a server jsbench started are its nodes, in order; an external server's are its seed
/// list, over which connections spread as over nodes (connection i → seed i mod n; its nodes
/// are unknown, so `leader`, `follower` and a node index are validation errors there).
fn primaries(plan: &Plan, server: &Server, leader: Option<&str>) -> Vec<usize> {
    let n = server.seeds().len();
    let leader = leader.and_then(|l| server.nodes().iter().position(|x| x.name == l));
    let followers: Vec<usize> = (0..n).filter(|&i| Some(i) != leader).collect();
    (0..plan.connections.count)
        .map(|c| match plan.connections.connect_to {
            ConnectTo::Any => c % n,
            ConnectTo::Leader => leader.unwrap_or(0),
            ConnectTo::Follower if !followers.is_empty() => followers[c % followers.len()],
            ConnectTo::Follower => 0,
            ConnectTo::Node(i) => i.min(n - 1),
        })
        .collect()
}

/// Each connection's server list: its primary seed first, then the others in order (through
/// the connection's own proxies when it has them).
fn server_lists(server: &Server, proxies: &[Vec<Proxy>], primaries: &[usize]) -> Vec<Vec<String>> {
    let n = server.seeds().len();
    primaries
        .iter()
        .enumerate()
        .map(|(c, &p)| {
            let order = std::iter::once(p).chain((0..n).filter(move |&i| i != p));
            order
                .map(|i| match proxies.get(c) {
                    Some(per_seed) => per_seed[i].url(),
                    None => server.seeds()[i].clone(),
                })
                .collect()
        })
        .collect()
}

/// The stream's leader now, as its info says (`None` on a single server or when unknown).
pub(super) async fn current_leader(admin: &jetstream::Context, stream: &str) -> Option<String> {
    poll_leader(admin, stream).await
}
