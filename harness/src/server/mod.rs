//! Server provisioning: starts (or attaches to) the NATS server a run publishes to.
//!
//! Every run gets its own ephemeral server unless the user points jsbench at an
//! external URL. Three backends:
//! - `process`: a `nats-server` child process on a free loopback port with a temp store dir;
//! - `container`: a container started through testcontainers;
//! - `external`: an existing server or cluster; nothing is started or stopped.
//!
//! `auto` resolves to `container` when a Docker engine answers and the image is present
//! (or pullable), else to `process`. The returned [`Server`] records which backend was used
//! and how the server was obtained, and removes what it started when stopped or dropped
//! (also on panic).

// INTERFACE (filled in by the provisioning work; keep these names):
//
// pub enum Backend { Auto, Container, Process, External }          (serde: lowercase)
// pub struct ServerSpec {
//     pub backend: Backend,
//     pub url: Option<String>,            // external only
//     pub image: Option<String>,          // container only; default DEFAULT_IMAGE
//     pub auth: Auth,                     // external only: creds, tls_ca, tls_cert, tls_key, user, password, token
// }
// pub struct Server { .. }
// impl Server {
//     pub async fn start(spec: &ServerSpec) -> Result<Server, ServerError>;
//     pub fn url(&self) -> &str;
//     pub fn backend(&self) -> Backend;          // resolved, never Auto
//     pub fn source(&self) -> &str;              // how it was obtained, human readable
//     pub fn connect_options(&self) -> async_nats::ConnectOptions;  // auth/TLS applied
//     pub async fn stop(self) -> Result<(), ServerError>;
// }
