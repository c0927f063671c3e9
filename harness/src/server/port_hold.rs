//! Keeps a server's client port reserved while the server is down, so that after a kill
//! it can come back on the same URL that the clients under test keep reconnecting to.
//!
//! The reservation is a TCP socket bound to `0.0.0.0:<port>` with SO_REUSEADDR that never
//! listens. On Linux that
//! - makes connects to the port fail with "connection refused", exactly as with no socket,
//!   so a down server still looks down;
//! - keeps the kernel from handing the port out as the local end of an outgoing connection
//!   (autobind skips ports that have an explicitly bound socket). Without it this is a real
//!   risk, not a theoretical one: the port comes from the ephemeral range, and clients that
//!   hammer a dead local port with reconnects can even connect to themselves (source port ==
//!   destination port), occupying it;
//! - keeps `bind(port 0)` callers (another nats-server with `-p -1`) off it;
//! - still lets a SO_REUSEADDR listener bind and listen on the port: nats-server and
//!   docker-proxy, both Go, which sets SO_REUSEADDR on every listener. So the hold never has
//!   to be released for the server to come back, which would open a window for the above.

use std::io;
use std::net::{Ipv4Addr, SocketAddr};

use tokio::net::TcpSocket;

/// A bound, never listening socket reserving a port.
pub(crate) struct PortHold {
    // Only kept for its file descriptor; closing it releases the port.
    _socket: TcpSocket,
    port: u16,
}

impl PortHold {
    /// Reserves `port` (0: a free one the kernel picks).
    pub(crate) fn bind(port: u16) -> io::Result<PortHold> {
        let socket = TcpSocket::new_v4()?;
        // Without it the bind fails while connections of a just-killed server linger in
        // TIME_WAIT on the port, and SO_REUSEADDR listeners could not share the port.
        socket.set_reuseaddr(true)?;
        socket.bind(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)))?;
        let port = socket.local_addr()?.port();
        Ok(PortHold {
            _socket: socket,
            port,
        })
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }
}

impl std::fmt::Debug for PortHold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortHold")
            .field("port", &self.port)
            .finish()
    }
}
