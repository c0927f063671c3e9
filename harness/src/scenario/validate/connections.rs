//! `[connections]`: how many client connections, how messages are spread over them, and
//! whether they go through fault proxies.

use crate::nemesis::FaultPlan;
use crate::scenario::error::Checker;
use crate::scenario::{ConnectTo, ConnectionsPlan, ConnectionsSection, Strategy};

/// The pool; `proxy` is as written here, [`proxied`] settles it once the faults are known.
/// `nodes`: how many nodes there are to connect to.
pub(super) fn validate(c: &mut Checker, s: &ConnectionsSection, nodes: usize) -> ConnectionsPlan {
    let strategy = s.strategy.unwrap_or(Strategy::Single);
    let default_count = if strategy == Strategy::Single { 1 } else { 4 };
    let count = c.range("connections.count", s.count, default_count, 1, 256) as usize;
    if strategy == Strategy::Single && count != 1 {
        c.err(
            "connections.count",
            format!("must be 1 with strategy = \"single\" (got {count}); use round_robin or key_affine for a pool"),
        );
    }
    ConnectionsPlan {
        strategy,
        count,
        proxy: s.proxy.unwrap_or(false),
        connect_to: connect_to(c, s.connect_to.as_ref(), nodes),
    }
}

/// `connect_to`: "any", "leader", "follower" or a node index below `nodes`.
fn connect_to(c: &mut Checker, v: Option<&toml::Value>, nodes: usize) -> ConnectTo {
    let field = "connections.connect_to";
    let to = match v {
        None => return ConnectTo::Any,
        Some(toml::Value::String(s)) if s == "any" => ConnectTo::Any,
        Some(toml::Value::String(s)) if s == "leader" => ConnectTo::Leader,
        Some(toml::Value::String(s)) if s == "follower" => ConnectTo::Follower,
        Some(toml::Value::Integer(i)) if *i >= 0 && (*i as usize) < nodes => {
            ConnectTo::Node(*i as usize)
        }
        Some(v) => {
            c.err(
                field,
                format!("{v} is not allowed: \"any\", \"leader\", \"follower\" or a node index from 0 to {}", nodes - 1),
            );
            return ConnectTo::Any;
        }
    };
    if nodes == 1 && matches!(to, ConnectTo::Leader | ConnectTo::Follower) {
        c.err(
            field,
            "\"leader\" and \"follower\" need a cluster: set server.nodes = 3",
        );
    }
    to
}

/// Whether connections go through fault proxies: when asked, and always with network faults.
pub(super) fn proxied(c: &mut Checker, s: &ConnectionsSection, faults: &[FaultPlan]) -> bool {
    // Client links are cut by their proxies, also when a partition cuts them.
    let network = faults.iter().any(|f| {
        f.fault.kind().is_network()
            || matches!(
                f.fault,
                crate::nemesis::Fault::Partition {
                    clients: crate::nemesis::Clients::Cut
                }
            )
    });
    if s.proxy == Some(false) && network {
        c.err(
            "connections.proxy",
            "network faults need the fault proxy: remove proxy = false",
        );
    }
    s.proxy.unwrap_or(false) || network
}
