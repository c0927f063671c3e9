//! Faults on nodes: which node(s) a server fault, a partition or route latency acts on
//! (`node = "leader"`, `"follower"`, `"minority"`, `"majority"`, `"all"`, an index or a list),
//! and what the cluster faults need (a cluster; route latency: the process backend, whose routes
//! go through jsbench's proxies).

use super::Context;
use crate::nemesis::{FaultKind, NodeTarget};
use crate::scenario::error::Checker;
use crate::scenario::FaultSection;
use crate::server::Backend;

const ALLOWED: &str =
    "\"leader\", \"follower\", \"minority\", \"majority\", \"all\", a node index or a list of them";

/// The node target of fault `kind`, as written in `field`; `None` for kinds that act on no
/// node (connections, leader_stepdown). A single server's node faults act on its one node.
pub(super) fn validate(
    c: &mut Checker,
    field: &str,
    written: Option<&toml::Value>,
    kind: FaultKind,
    context: &Context,
) -> Option<NodeTarget> {
    if !kind.targets_nodes() {
        if written.is_some() {
            c.err(
                field,
                format!(
                    "does not apply to kind = \"{}\"; node applies to pause, kill, restart, partition, route_latency and the disk faults",
                    kind.as_str()
                ),
            );
        }
        return None;
    }
    let Some(v) = written else {
        if context.nodes > 1 && kind != FaultKind::RouteLatency {
            c.err(
                field,
                format!("is required on a cluster: which node(s) — {ALLOWED}"),
            );
        }
        return Some(NodeTarget::All);
    };
    let target = parse(c, field, v, context.nodes)?;
    if context.nodes == 1 && !matches!(target, NodeTarget::All | NodeTarget::Nodes(_)) {
        c.err(
            field,
            "roles (leader, follower, minority, majority) need a cluster: set server.nodes = 3",
        );
    }
    if kind == FaultKind::Partition && context.backend == Backend::Container {
        container_split(c, field, &target, context.nodes);
    }
    Some(target)
}

/// The container backend partitions by taking one node off the routes network, so one side
/// of the split must be a single node (every split of 3 or 4 nodes is; 2 against 3 is not).
fn container_split(c: &mut Checker, field: &str, target: &NodeTarget, nodes: usize) {
    let side = match target {
        NodeTarget::Leader | NodeTarget::Follower => 1,
        NodeTarget::Minority => (nodes - 1) / 2,
        NodeTarget::Majority => nodes / 2 + 1,
        NodeTarget::All => nodes,
        NodeTarget::Nodes(list) => list.len(),
    };
    if side > 1 && nodes - side > 1 {
        c.err(
            field,
            format!(
                "splits {nodes} nodes {side} against {}: on backend = \"container\" one side \
                 of a partition must be a single node (backend = \"process\" splits any way)",
                nodes - side
            ),
        );
    }
}

fn parse(c: &mut Checker, field: &str, v: &toml::Value, nodes: usize) -> Option<NodeTarget> {
    let index = |c: &mut Checker, i: i64| {
        if i >= 0 && (i as usize) < nodes {
            Some(i as usize)
        } else {
            c.err(
                field,
                format!(
                    "node {i} does not exist: indexes go from 0 to {}",
                    nodes - 1
                ),
            );
            None
        }
    };
    let target = match v {
        toml::Value::String(s) => match s.as_str() {
            "leader" => NodeTarget::Leader,
            "follower" => NodeTarget::Follower,
            "minority" => NodeTarget::Minority,
            "majority" => NodeTarget::Majority,
            "all" => NodeTarget::All,
            other => {
                c.err(field, format!("{other:?} is not allowed: {ALLOWED}"));
                return None;
            }
        },
        toml::Value::Integer(i) => NodeTarget::Nodes(vec![index(c, *i)?]),
        toml::Value::Array(items) if !items.is_empty() => {
            let mut list = Vec::new();
            for item in items {
                match item.as_integer() {
                    Some(i) => list.push(index(c, i)?),
                    None => {
                        c.err(field, format!("{item} is not a node index"));
                        return None;
                    }
                }
            }
            NodeTarget::Nodes(list)
        }
        other => {
            c.err(field, format!("{other} is not allowed: {ALLOWED}"));
            return None;
        }
    };
    Some(target)
}

/// What a cluster fault needs: a cluster jsbench starts, no connection target or direction,
/// and for route latency the process backend.
pub(super) fn on_a_cluster(
    c: &mut Checker,
    entry: usize,
    f: &FaultSection,
    kind: FaultKind,
    context: &Context,
) {
    let field = |name: &str| format!("faults[{entry}].{name}");
    let k = kind.as_str();
    if context.nodes < 2 || context.backend == Backend::External {
        c.err(
            &field("kind"),
            format!("\"{k}\" needs a cluster jsbench starts: set server.nodes = 3 (backend process, container or auto)"),
        );
    }
    if kind == FaultKind::RouteLatency && context.backend != Backend::Process {
        c.err(
            &field("kind"),
            "\"route_latency\" needs backend = \"process\": there every route between nodes goes through a jsbench proxy",
        );
    }
    if f.target.is_some() {
        c.err(
            &field("target"),
            format!("\"{k}\" acts on nodes, not on client connections: use node instead"),
        );
    }
    if f.direction.is_some() {
        c.err(&field("direction"), "applies to network faults only");
    }
}
