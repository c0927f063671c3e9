//! A node's nats-server configuration file, the same for the process and container backends: the
//! per-run credential, the server's name, JetStream's sync setting, and for a cluster the routes.
//!
//! Why a file and not flags: it holds secrets (the client token, the route password), which
//! must not be on a command line where any local user can read them.
//!
//! Why routes are configured this way (cluster only):
//! - every route is *explicit*, to a URL jsbench chose (the process backend points each one at a
//!   fault proxy for that ordered pair of nodes, so a link can be cut or slowed on its own);
//! - `advertise` names an address nobody listens on: nats-server gossips each node's advertised
//!   route address to the others, which then dial it as an *implicit* route. Dialled directly,
//!   such a route would bypass the proxies; unreachable, it is tried once and dropped (implicit
//!   routes are not retried unless `connect_retries` is set), and the explicit routes carry all
//!   traffic;
//! - `no_advertise` keeps clients from learning the other nodes' client URLs: jsbench gives each
//!   connection its own list (through its own proxies), and a client that wandered off to a URL
//!   it learned would escape the faults it is meant to see;
//! - routes authenticate with a per-run user and password too.
//!
//! Nodes are named `n0`, `n1`, ... ([`node_name`]); the container backend's routes dial the
//! other nodes by those names, as aliases on the cluster's routes network.

use std::fmt::Write as _;
use std::time::Duration;

use super::credential::Credential;

/// How often JetStream syncs its files to disk (`jetstream { sync_interval }`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncInterval {
    /// The server's default (every 2 minutes in 2.15; data is written, not fsynced, before).
    #[default]
    Default,
    /// fsync after every write, before the ack.
    Always,
    /// fsync this often.
    #[serde(with = "humantime_serde_duration")]
    Every(Duration),
}

mod humantime_serde_duration {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }
}

/// What a node's config says.
#[derive(Debug, Clone)]
pub(crate) struct NodeConfig {
    /// `server_name`: unique in a cluster (JetStream's Raft groups name their peers by it).
    pub(crate) name: String,
    pub(crate) credential: Credential,
    pub(crate) sync: SyncInterval,
    pub(crate) cluster: Option<ClusterConfig>,
}

/// The `cluster {}` block of one node.
#[derive(Debug, Clone)]
pub(crate) struct ClusterConfig {
    pub(crate) name: String,
    /// `host:port` the node listens on for routes.
    pub(crate) listen: String,
    /// `host:port` of every route this node dials (one per other node).
    pub(crate) routes: Vec<String>,
    pub(crate) route_password: String,
}

/// The user routes authenticate as.
pub(crate) const ROUTE_USER: &str = "jsb-route";

/// For each node index: where it listens for routes, and the routes it dials.
pub(crate) type RoutesOf<'a> = (
    &'a dyn Fn(usize) -> String,
    &'a dyn Fn(usize) -> Vec<String>,
);

/// The name of node `i`: its `server_name`, and on the container backend its alias.
pub(crate) fn node_name(i: usize) -> String {
    format!("n{i}")
}

/// The configs of `n` nodes (at least one): one without routes, or a cluster whose routes
/// `cluster` names (the process backend's proxies, the container backend's node names). Every
/// node admits `credential`; the cluster's name and route password are generated here.
pub(crate) fn node_configs(
    n: usize,
    sync: SyncInterval,
    credential: &Credential,
    cluster: Option<RoutesOf<'_>>,
) -> Vec<NodeConfig> {
    let cluster_name = format!("jsb-{}", &Credential::generate().token()[..12]);
    let route_password = Credential::generate().token().to_string();
    (0..n.max(1))
        .map(|i| NodeConfig {
            name: node_name(i),
            credential: credential.clone(),
            sync,
            cluster: cluster.map(|(listen, routes)| ClusterConfig {
                name: cluster_name.clone(),
                listen: listen(i),
                routes: routes(i),
                route_password: route_password.clone(),
            }),
        })
        .collect()
}

impl NodeConfig {
    /// The file's text.
    pub(crate) fn render(&self) -> String {
        let mut s = self.credential.config_block();
        let _ = writeln!(s, "server_name: \"{}\"", self.name);
        match self.sync {
            SyncInterval::Default => {}
            SyncInterval::Always => s.push_str("jetstream {\n  sync_interval: always\n}\n"),
            SyncInterval::Every(d) => {
                let _ = writeln!(
                    s,
                    "jetstream {{\n  sync_interval: \"{}ms\"\n}}",
                    d.as_millis().max(1)
                );
            }
        }
        if let Some(c) = &self.cluster {
            s.push_str(&c.render());
        }
        s
    }
}

impl ClusterConfig {
    /// The `cluster` block: routes carry the route user's password; `no_advertise` and a dummy
    /// advertise address keep the nodes from telling clients about each other.
    fn render(&self) -> String {
        let mut s = String::from("cluster ");
        s.push_str("{\n");
        let _ = writeln!(s, "  name: \"{}\"", self.name);
        let _ = writeln!(s, "  listen: \"{}\"", self.listen);
        s.push_str("  advertise: \"127.0.0.1:1\"\n  no_advertise: true\n");
        s.push_str("  authorization ");
        s.push_str("{\n");
        let _ = writeln!(s, "    user: \"{ROUTE_USER}\"");
        let _ = writeln!(s, "    password: \"{}\"", self.route_password);
        s.push_str("  }\n  routes: [\n");
        for r in &self.routes {
            let _ = writeln!(
                s,
                "    \"nats-route://{ROUTE_USER}:{}@{r}\"",
                self.route_password
            );
        }
        s.push_str("  ]\n}\n");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_node_config_names_its_routes_and_hides_the_rest() {
        let c = NodeConfig {
            name: "n1".into(),
            credential: Credential::generate(),
            sync: SyncInterval::Always,
            cluster: Some(ClusterConfig {
                name: "jsb-x".into(),
                listen: "127.0.0.1:7000".into(),
                routes: vec!["127.0.0.1:7101".into(), "127.0.0.1:7102".into()],
                route_password: "pw".into(),
            }),
        };
        let text = c.render();
        assert!(text.contains("server_name: \"n1\""), "{text}");
        assert!(text.contains("sync_interval: always"), "{text}");
        assert!(
            text.contains("\"nats-route://jsb-route:pw@127.0.0.1:7102\""),
            "{text}"
        );
        assert!(text.contains("no_advertise: true"), "{text}");
        assert!(text.contains("advertise: \"127.0.0.1:1\""), "{text}");
    }

    #[test]
    fn node_configs_name_nodes_and_share_one_cluster() {
        let credential = Credential::generate();
        let single = node_configs(0, SyncInterval::Default, &credential, None);
        assert_eq!(single.len(), 1);
        assert_eq!(single[0].name, "n0");
        assert!(single[0].cluster.is_none());

        let listen = |i: usize| format!("l{i}");
        let routes = |i: usize| vec![format!("r{i}")];
        let three = node_configs(
            3,
            SyncInterval::Always,
            &credential,
            Some((&listen, &routes)),
        );
        let names: Vec<&str> = three.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["n0", "n1", "n2"]);
        let clusters: Vec<&ClusterConfig> =
            three.iter().filter_map(|c| c.cluster.as_ref()).collect();
        assert_eq!(clusters.len(), 3);
        assert_eq!(clusters[2].listen, "l2");
        assert_eq!(clusters[2].routes, ["r2"]);
        assert!(clusters
            .iter()
            .all(|c| c.name == clusters[0].name && c.route_password == clusters[0].route_password));
        assert!(three.iter().all(|c| c.credential == credential));
    }
}
