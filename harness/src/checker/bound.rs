//! Which side a run's msgs/s measures: the client (jsbench itself was busy), the server, the
//! machine (together they keep 70 % of its cores busy: on 2 cores they compete), or neither
//! (both mostly waited: round trips, pacing, faults). On a small machine this decides how to read
//! every throughput figure.

use serde::{Deserialize, Serialize};

/// A side counts as busy from this many cores' worth of CPU (the client's current-thread
/// runtime cannot use much more than one).
pub const BUSY_CORES: f64 = 0.8;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Bound {
    Client,
    Server,
    Machine,
    Neither,
}

impl Bound {
    pub fn as_str(self) -> &'static str {
        match self {
            Bound::Client => "client-bound",
            Bound::Server => "server-bound",
            Bound::Machine => "machine-bound",
            Bound::Neither => "neither side busy",
        }
    }
}

/// Together the sides fill the machine from this share of its cores: past it they compete for
/// cores (on 2 cores, 1.4 busy leaves neither side a core of its own).
pub const FULL_SHARE: f64 = 0.7;

/// Classifies a run by the cores each side kept busy on average over the measured phase.
pub fn bound(client_cores: f64, server_cores: f64, cpus: usize) -> Bound {
    let (client, server) = (client_cores >= BUSY_CORES, server_cores >= BUSY_CORES);
    let full = client_cores + server_cores >= FULL_SHARE * cpus as f64;
    if full {
        Bound::Machine
    } else if client && (!server || client_cores >= server_cores) {
        Bound::Client
    } else if server {
        Bound::Server
    } else {
        Bound::Neither
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_side_and_the_machine() {
        assert_eq!(bound(0.98, 0.3, 2), Bound::Client);
        assert_eq!(bound(0.3, 1.0, 2), Bound::Server);
        assert_eq!(bound(0.75, 0.89, 2), Bound::Machine);
        assert_eq!(bound(0.95, 1.0, 2), Bound::Machine);
        assert_eq!(bound(0.72, 0.89, 2), Bound::Machine);
        assert_eq!(bound(0.95, 0.85, 4), Bound::Client);
        assert_eq!(bound(0.23, 0.46, 2), Bound::Neither);
        assert_eq!(bound(0.76, 0.72, 2), Bound::Machine);
        assert_eq!(bound(0.7, 0.7, 1), Bound::Machine);
    }
}
