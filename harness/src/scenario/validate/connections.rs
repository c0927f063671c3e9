//! `[connections]`: how many client connections, how messages are spread over them, and
//! whether they go through fault proxies.

use crate::nemesis::FaultPlan;
use crate::scenario::error::Checker;
use crate::scenario::{ConnectionsPlan, ConnectionsSection, Strategy};

/// The pool; `proxy` is as written here, [`proxied`] settles it once the faults are known.
pub(super) fn validate(c: &mut Checker, s: &ConnectionsSection) -> ConnectionsPlan {
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
    }
}

/// Whether connections go through fault proxies: when asked, and always with network faults.
pub(super) fn proxied(c: &mut Checker, s: &ConnectionsSection, faults: &[FaultPlan]) -> bool {
    let network = faults.iter().any(|f| f.fault.kind().is_network());
    if s.proxy == Some(false) && network {
        c.err(
            "connections.proxy",
            "network faults need the fault proxy: remove proxy = false",
        );
    }
    s.proxy.unwrap_or(false) || network
}
