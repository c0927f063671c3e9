//! Runs against an external 3-node cluster reached by a seed list (issue 25, item 4): the test
//! starts three nats-servers of its own (routes between them, JetStream, a token, each node
//! advertising its client URL to clients as a real cluster does), points a scenario at them with
//! `backend = "external"` and `url = "nats://a,nats://b,nats://c"`, and kill -9s the node the
//! publishing connection is on while it publishes to an R3 stream with Msg-Ids and retries. The
//! run must complete, lose nothing acknowledged, and go on publishing through another seed —
//! directly, and through jsbench's fault proxies (one per seed, so a connection that fails over
//! stays behind its proxies).

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use jsbench::cancel::Cancel;
use jsbench::result::Report;
use jsbench::runner::{self, RunOptions};
use jsbench::scenario::{self, Overrides};
use jsbench::server::monitor::get_json;
use serde_json::Value;

/// One cluster at a time: each is three servers and a run on a 2-core machine.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Messages the publisher must have sent through its first node before that node is killed
/// (about 2 s of the run's 6 s at 2000 msgs/s).
const KILL_AFTER: u64 = 4000;

/// Three nats-server processes the test started, killed (and reaped) on drop.
struct Cluster {
    nodes: Vec<Option<Child>>,
    client_ports: Vec<u16>,
    http_ports: Vec<u16>,
    token: String,
    _dir: tempfile::TempDir,
}

impl Cluster {
    async fn start() -> Cluster {
        let (bin, _) = jsbench::server::find_or_fetch_binary()
            .await
            .unwrap_or_else(|e| panic!("this test needs a nats-server binary: {e}"));
        let dir = tempfile::tempdir().unwrap();
        let ports = free_ports(9);
        let (client_ports, route_ports, http_ports) =
            (ports[0..3].to_vec(), &ports[3..6], ports[6..9].to_vec());
        let token = format!("ext-{}", std::process::id());
        let nodes = (0..3)
            .map(|i| {
                let routes: Vec<String> = (0..3)
                    .filter(|&j| j != i)
                    .map(|j| format!("\"nats-route://127.0.0.1:{}\"", route_ports[j]))
                    .collect();
                let conf = format!(
                    "server_name: \"x{i}\"\nlisten: \"127.0.0.1:{}\"\nhttp: \"127.0.0.1:{}\"\n\
                     authorization {{ token: \"{token}\" }}\n\
                     jetstream {{ store_dir: \"{}\" }}\n\
                     cluster {{\n  name: \"ext\"\n  listen: \"127.0.0.1:{}\"\n  routes: [{}]\n}}\n",
                    client_ports[i],
                    http_ports[i],
                    dir.path().join(format!("x{i}")).display(),
                    route_ports[i],
                    routes.join(", ")
                );
                Some(spawn(&bin, dir.path(), i, &conf))
            })
            .collect();
        let cluster = Cluster {
            nodes,
            client_ports,
            http_ports,
            token,
            _dir: dir,
        };
        cluster.wait_ready().await;
        cluster
    }

    /// The seed list, `nats://127.0.0.1:A,nats://127.0.0.1:B,nats://127.0.0.1:C`.
    fn seeds(&self) -> String {
        let urls: Vec<String> = self
            .client_ports
            .iter()
            .map(|p| format!("nats://127.0.0.1:{p}"))
            .collect();
        urls.join(",")
    }

    fn monitor(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}", self.http_ports[i])
    }

    /// Until every node is healthy and names the same JetStream meta leader (bounded at 30 s).
    async fn wait_ready(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let mut leaders = Vec::new();
            for i in 0..3 {
                let healthy = get_json::<Value>(&self.monitor(i), "/healthz")
                    .await
                    .is_ok();
                let jsz = get_json::<Value>(&self.monitor(i), "/jsz").await;
                let leader = jsz
                    .ok()
                    .and_then(|j| j["meta_cluster"]["leader"].as_str().map(String::from));
                leaders.push(leader.filter(|l| healthy && !l.is_empty()));
            }
            if leaders[0].is_some() && leaders.iter().all(|l| *l == leaders[0]) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the cluster did not form within 30 s: meta leaders {leaders:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// kill -9 of node `i`, reaped.
    fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].take() {
            child.kill().expect("kill -9");
            child.wait().expect("reaped");
        }
    }

    /// Node `i`'s connections named `name` (`/connz`, open ones and — `any` — closed ones too):
    /// how many messages they sent it, or None when it has no such connection.
    async fn in_msgs(&self, i: usize, name: &str, state: &str) -> Option<u64> {
        let connz: Value = get_json(
            &self.monitor(i),
            &format!("/connz?state={state}&limit=100000"),
        )
        .await
        .ok()?;
        let conns = connz["connections"].as_array()?;
        let mine: Vec<u64> = conns
            .iter()
            .filter(|c| c["name"].as_str() == Some(name))
            .map(|c| c["in_msgs"].as_u64().unwrap_or(0))
            .collect();
        (!mine.is_empty()).then(|| mine.iter().sum())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
    }
}

fn spawn(bin: &Path, dir: &Path, i: usize, conf: &str) -> Child {
    let conf_path = dir.join(format!("x{i}.conf"));
    std::fs::write(&conf_path, conf).unwrap();
    let log = std::fs::File::create(dir.join(format!("x{i}.log"))).unwrap();
    let mut cmd = Command::new(bin);
    cmd.arg("-c")
        .arg(&conf_path)
        .stdout(Stdio::null())
        .stderr(log);
    // SAFETY: prctl in the child before exec; it dies with the test if the test is killed.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    cmd.spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()))
}

/// `n` distinct free loopback ports (held together while picked, then released).
fn free_ports(n: usize) -> Vec<u16> {
    let held: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    held.iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

/// The scenario: async publishing with Msg-Ids and retries at 2000 msgs/s for 6 s into an R3
/// stream on the external cluster, given by its seed list; `extra` adds to it.
fn scenario(cluster: &Cluster, name: &str, extra: &str) -> String {
    format!(
        "name = \"{name}\"\nseed = 11\n\
         [server]\nbackend = \"external\"\nurl = \"{}\"\ntoken = \"{}\"\n\
         [stream]\nreplicas = 3\n\
         [publish]\nmode = \"async\"\nmax_in_flight = 500\nack_timeout = \"2s\"\nmsg_id = true\n\
         [publish.retry]\nattempts = 30\nbackoff = \"100ms\"\nmax_backoff = \"1s\"\n\
         [workload]\nduration = \"6s\"\nrate = 2000\nkeys = 8\n{extra}",
        cluster.seeds(),
        cluster.token
    )
}

/// What the kill saw: the node killed, and how many messages the publisher's connection had
/// sent to each other node by then.
struct Killed {
    node: usize,
    before: Vec<(usize, u64)>,
}

/// Once the run's first publishing connection has sent [`KILL_AFTER`] messages to a node, kill
/// -9 that node. Gives up (None) when the run ends first or after 60 s.
async fn kill_the_publishers_node(
    cluster: &mut Cluster,
    conn: &str,
    done: &AtomicBool,
) -> Option<Killed> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !done.load(Ordering::Relaxed) && tokio::time::Instant::now() < deadline {
        for i in 0..3 {
            if cluster.in_msgs(i, conn, "open").await.unwrap_or(0) < KILL_AFTER {
                continue;
            }
            let mut before = Vec::new();
            for j in (0..3).filter(|&j| j != i) {
                before.push((j, cluster.in_msgs(j, conn, "any").await.unwrap_or(0)));
            }
            cluster.kill(i);
            eprintln!("killed node x{i} (the publisher's) after {KILL_AFTER} messages");
            return Some(Killed { node: i, before });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// Runs `text` while killing the node its publisher is on; returns the report and what was
/// killed.
async fn run_through_a_kill(cluster: &mut Cluster, text: &str) -> (Report, Killed) {
    let plan = scenario::parse(text, "ext.toml", &Overrides::default()).expect("valid scenario");
    let conn = format!("jsbench-{}-0", plan.name);
    let out = tempfile::tempdir().unwrap();
    let opts = RunOptions {
        out_root: out.path().to_path_buf(),
        cancel: Cancel::new(),
        progress: false,
        live: jsbench::runner::live::LiveMode::Off,
    };
    let done = AtomicBool::new(false);
    let run = async {
        let r = runner::run(&plan, &opts).await;
        done.store(true, Ordering::Relaxed);
        r
    };
    let (r, killed) = tokio::join!(run, kill_the_publishers_node(cluster, &conn, &done));
    let r = r.expect("result written");
    let killed = killed.unwrap_or_else(|| {
        panic!(
            "the publisher never sent {KILL_AFTER} messages to one node: {:?} {:?}",
            r.report.status, r.report.status_reason
        )
    });
    (r.report, killed)
}

/// The run completed, nothing acknowledged was lost, and the publishing connection sent more
/// messages to the surviving nodes after the kill than before it: it failed over to another
/// seed and published on.
async fn survived(cluster: &Cluster, r: &Report, killed: &Killed, conn: &str) {
    eprintln!("{:?}; retries: {:?}", r.counts, r.retry);
    assert_eq!(r.status, "complete", "{:?}", r.status_reason);
    assert_eq!(r.environment.backend, "external");
    let c = &r.counts;
    assert_eq!(c.lost, Some(0), "{:?}", r.safety);
    assert_eq!(
        c.duplicates,
        Some(0),
        "Msg-Id retries store nothing twice: {c:?}"
    );
    assert!(c.stored.unwrap() >= c.acked, "{c:?}");
    let mut after_total = 0;
    let mut before_total = 0;
    for &(node, before) in &killed.before {
        let after = cluster.in_msgs(node, conn, "any").await.unwrap_or(0);
        eprintln!("node x{node}: {conn} sent {before} before the kill, {after} in all");
        before_total += before;
        after_total += after;
    }
    assert!(
        after_total > before_total,
        "nothing reached the surviving nodes after x{} was killed",
        killed.node
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seed_list_run_survives_the_kill_of_its_clients_node() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mut cluster = Cluster::start().await;
    let text = scenario(&cluster, "ext-failover", "");
    let (r, killed) = run_through_a_kill(&mut cluster, &text).await;
    survived(&cluster, &r, &killed, "jsbench-ext-failover-0").await;
}

/// The same through jsbench's fault proxies, with a network fault on the connection: one proxy
/// per seed, so the connection fails over from the dead node's proxy to another seed's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxied_seed_list_run_fails_over_through_its_proxies() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mut cluster = Cluster::start().await;
    let text = scenario(
        &cluster,
        "ext-proxied",
        "[[faults]]\nkind = \"latency\"\ntarget = 0\nlatency = \"1ms\"\n",
    );
    let (r, killed) = run_through_a_kill(&mut cluster, &text).await;
    survived(&cluster, &r, &killed, "jsbench-ext-proxied-0").await;
    assert_eq!(r.faults.len(), 1, "{:?}", r.faults);
}
