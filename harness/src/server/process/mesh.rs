//! The route mesh of a process-backend cluster: one fault proxy for every ordered pair of nodes
//! (node a dials node b's route port through proxy (a, b)), so the link between two nodes can be
//! cut or slowed on its own, whichever of the two dialled the route that survived.
//!
//! The route ports are chosen (and held, see [`PortHold`]) before the nodes start, because the
//! proxies must know where to forward and every node's config must name its routes. A held port
//! stays reserved for the cluster's whole life, so a node that is killed and started again comes
//! back on the same route port and the proxies in front of it keep working.

use std::net::SocketAddr;

use crate::proxy::{Direction, Proxy, Toxic};
use crate::server::error::ServerError;
use crate::server::port_hold::PortHold;

/// One route link: node `from` dials node `to` through `proxy`.
struct Link {
    from: usize,
    to: usize,
    proxy: Proxy,
}

/// The route ports of a cluster's nodes and the proxies between them.
pub(crate) struct RouteMesh {
    /// Node i's route port, reserved.
    ports: Vec<PortHold>,
    links: Vec<Link>,
}

impl RouteMesh {
    /// Reserves a route port per node and starts a proxy per ordered pair; `seed` drives the
    /// jitter of route latency faults.
    pub(crate) async fn start(nodes: usize, seed: u64) -> Result<RouteMesh, ServerError> {
        let mut ports = Vec::with_capacity(nodes);
        for _ in 0..nodes {
            ports.push(
                PortHold::bind(0).map_err(|e| ServerError::io("cannot reserve a route port", e))?,
            );
        }
        let mut links = Vec::new();
        for from in 0..nodes {
            for to in (0..nodes).filter(|&to| to != from) {
                let upstream = SocketAddr::from(([127, 0, 0, 1], ports[to].port()));
                let pair_seed = seed ^ (0x524f_5554_4500 + (from * 16 + to) as u64);
                let proxy = Proxy::start(upstream, pair_seed)
                    .await
                    .map_err(|e| ServerError::io("cannot start a route proxy", e))?;
                links.push(Link { from, to, proxy });
            }
        }
        Ok(RouteMesh { ports, links })
    }

    /// Where node `i` listens for routes (`127.0.0.1:port`).
    pub(crate) fn listen(&self, i: usize) -> String {
        format!("127.0.0.1:{}", self.ports[i].port())
    }

    /// The route URLs (`host:port`) node `i` dials: the proxies in front of every other node.
    pub(crate) fn routes_of(&self, i: usize) -> Vec<String> {
        self.links
            .iter()
            .filter(|l| l.from == i)
            .map(|l| l.proxy.addr().to_string())
            .collect()
    }

    /// Sets (`on`) or heals `toxic` on both links between nodes `a` and `b`, both ways.
    pub(crate) fn set(&self, a: usize, b: usize, toxic: Toxic, on: bool) {
        for l in self
            .links
            .iter()
            .filter(|l| (l.from, l.to) == (a, b) || (l.from, l.to) == (b, a))
        {
            if on {
                l.proxy.set(Direction::Both, toxic);
            } else {
                l.proxy.heal(Direction::Both, toxic);
            }
        }
    }

    /// Cuts (`on`) or heals every link between the nodes of `side` and the others with a
    /// blackhole, which behaves like a partition that drops packets (TCP retransmits once it
    /// heals). Any split; a side that is empty or holds every node cuts nothing.
    pub(crate) fn partition(&self, side: &[usize], on: bool) {
        for &a in side {
            for b in (0..self.ports.len()).filter(|b| !side.contains(b)) {
                self.set(a, b, Toxic::Timeout, on);
            }
        }
    }

    /// Stops every proxy; the ports are released when the mesh is dropped.
    pub(crate) async fn stop(self) {
        for l in self.links {
            l.proxy.stop().await;
        }
    }
}
