//! Network faults: set a fault's toxic on the proxies of the connections it targets, hold it,
//! heal it. Each client connection has its own [`Proxy`], so a fault acts on some connections
//! and not others.

use std::future::Future;

use super::{FaultDirection, FaultPlan, FaultWindow};
use crate::proxy::{Direction, Proxy};

/// Injects one occurrence of a network fault and heals it when `held` completes (true: held
/// for its full duration). One-shot faults (reset_peer) are set and done.
pub(super) async fn inject(
    proxies: &[Vec<Proxy>],
    f: &FaultPlan,
    held: impl Future<Output = bool>,
    w: &mut FaultWindow,
    now_ms: impl Fn() -> f64,
) {
    apply(proxies, f, true);
    if f.fault.kind().is_instant() {
        w.end_ms = w.start_ms;
        return;
    }
    // Without a duration the fault lasts until publishing stops: that is its planned end, not
    // a truncation.
    w.truncated = !held.await && f.schedule.duration.is_some();
    apply(proxies, f, false);
    w.end_ms = now_ms();
}

/// Sets (`on`) or heals the toxic of a network fault on its connections' proxies (each
/// connection has one per node; the fault acts on the connection, whichever node it talks to).
fn apply(proxies: &[Vec<Proxy>], f: &FaultPlan, on: bool) {
    let Some(toxic) = f.fault.toxic() else { return };
    // Whole-connection faults (reset_peer, down) have no direction; the proxy ignores it.
    let direction: Direction = f.fault.direction().unwrap_or(FaultDirection::Both).into();
    for &c in &f.connections {
        for p in proxies.get(c).into_iter().flatten() {
            if on {
                p.set(direction, toxic);
            } else {
                p.heal(direction, toxic);
            }
        }
    }
}

/// What a network fault acted on, for its window: "connection 2", "connections [0, 1]".
pub(super) fn describe_connections(c: &[usize]) -> String {
    match c {
        [one] => format!("connection {one}"),
        many => format!("connections {many:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_in_words() {
        assert_eq!(describe_connections(&[2]), "connection 2");
        assert_eq!(describe_connections(&[0, 1]), "connections [0, 1]");
    }
}
