//! Reading a node's monitoring endpoint (`/varz`, `/jsz`, `/routez`): each node's own view of
//! the cluster (meta leader, routes), of itself (CPU, memory) and of its replica of a stream
//! (messages, first and last sequence). The endpoints listen on loopback only, speak plain
//! HTTP and answer small JSON documents, so one HTTP/1.0 GET per request is all that is needed.

use std::time::Duration;

use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// How long one monitoring request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);
/// Bodies larger than this are refused (a `/jsz` of one stream is a few KB).
const MAX_BODY: usize = 16 << 20;

/// GETs `path` (e.g. `/jsz?streams=true`) from `monitor_url` (`http://127.0.0.1:PORT`) and
/// parses the JSON body.
pub async fn get_json<T: for<'de> Deserialize<'de>>(
    monitor_url: &str,
    path: &str,
) -> Result<T, String> {
    let body = tokio::time::timeout(REQUEST_TIMEOUT, get(monitor_url, path))
        .await
        .map_err(|_| format!("{monitor_url}{path}: no answer within {REQUEST_TIMEOUT:?}"))??;
    serde_json::from_slice(&body).map_err(|e| format!("{monitor_url}{path}: {e}"))
}

async fn get(monitor_url: &str, path: &str) -> Result<Vec<u8>, String> {
    let host = monitor_url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{monitor_url}: not an http:// URL"))?
        .trim_end_matches('/');
    let err = |e: std::io::Error| format!("{monitor_url}{path}: {e}");
    let mut s = tokio::net::TcpStream::connect(host).await.map_err(err)?;
    let request =
        format!("GET {path} HTTP/1.0\r\nHost: {host}\r\nAccept: application/json\r\n\r\n");
    s.write_all(request.as_bytes()).await.map_err(err)?;
    let mut raw = Vec::new();
    (&mut s)
        .take(MAX_BODY as u64 + 64 * 1024)
        .read_to_end(&mut raw)
        .await
        .map_err(err)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("{monitor_url}{path}: no HTTP header in the answer"))?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let status = head.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1).is_none_or(|c| c != "200") {
        return Err(format!("{monitor_url}{path}: {status}"));
    }
    Ok(raw[split + 4..].to_vec())
}

/// The parts of `/jsz` jsbench reads.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Jsz {
    #[serde(default)]
    pub meta_cluster: Option<MetaCluster>,
    #[serde(default)]
    pub account_details: Vec<AccountDetail>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct MetaCluster {
    #[serde(default)]
    pub leader: String,
    #[serde(default)]
    pub cluster_size: usize,
    /// The other peers, as this node sees them (the meta leader's view tells who is online).
    #[serde(default)]
    pub replicas: Vec<Peer>,
}

/// A Raft peer as a node sees it.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Peer {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub current: bool,
    #[serde(default)]
    pub offline: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct AccountDetail {
    #[serde(default)]
    pub stream_detail: Vec<StreamDetail>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct StreamDetail {
    pub name: String,
    #[serde(default)]
    pub state: StreamState,
    #[serde(default)]
    pub cluster: Option<StreamCluster>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct StreamCluster {
    #[serde(default)]
    pub leader: String,
}

/// One node's own replica of a stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
pub struct StreamState {
    #[serde(default)]
    pub messages: u64,
    #[serde(default)]
    pub bytes: u64,
    #[serde(default)]
    pub first_seq: u64,
    #[serde(default)]
    pub last_seq: u64,
    /// Sequences between first and last it does not hold.
    #[serde(default)]
    pub num_deleted: u64,
}

impl Jsz {
    /// This node's replica of `stream`, if it holds one.
    pub fn stream(&self, stream: &str) -> Option<&StreamDetail> {
        self.account_details
            .iter()
            .flat_map(|a| a.stream_detail.iter())
            .find(|s| s.name == stream)
    }
}

/// The parts of `/routez` jsbench reads: the node's routes, by the name of the node at the
/// other end (several per peer with route pooling).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Routez {
    #[serde(default)]
    pub routes: Vec<RouteInfo>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct RouteInfo {
    /// Empty on servers older than 2.10, which do not report it.
    #[serde(default)]
    pub remote_name: String,
}

/// The parts of `/varz` jsbench reads: the server process's own CPU and memory.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct Varz {
    /// Percent of one core, as the server reports it.
    #[serde(default)]
    pub cpu: f64,
    /// Resident memory, bytes.
    #[serde(default)]
    pub mem: u64,
    #[serde(default)]
    pub in_msgs: u64,
    #[serde(default)]
    pub out_msgs: u64,
}
