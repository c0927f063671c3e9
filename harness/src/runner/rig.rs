//! The rig around a server for one run: a fault proxy per client connection (when the plan
//! needs them), the publishing connections, a separate admin connection straight to the server
//! (stream admin, read-back, consumer: network faults never touch it), and the run's own stream.
//! Opened before the phases, closed after them whatever happened.

use std::time::Duration;

use async_nats::jetstream;

use super::Facts;
use crate::client::pool::Pool;
use crate::proxy::Proxy;
use crate::scenario::{Plan, Storage};
use crate::server::Server;
use crate::workload::Subjects;

/// Everything a run's phases publish through and read with.
pub(super) struct Rig {
    pub(super) pool: Pool,
    pub(super) admin_client: async_nats::Client,
    pub(super) admin: jetstream::Context,
    pub(super) subjects: Subjects,
    pub(super) stream: String,
}

/// Starts the proxies, then opens the rig on them; the proxies are the caller's to stop (also
/// when opening fails).
pub(super) async fn start_proxies(plan: &Plan, server: &Server) -> Result<Vec<Proxy>, String> {
    if !plan.proxied() {
        return Ok(Vec::new());
    }
    let url = server.url();
    let hostport = url.split("://").nth(1).unwrap_or(url);
    let hostport = hostport.rsplit('@').next().unwrap_or(hostport);
    let hostport = hostport.split(',').next().unwrap_or(hostport);
    let upstream = tokio::net::lookup_host(hostport)
        .await
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| format!("cannot resolve {hostport} for the fault proxy"))?;
    let mut proxies = Vec::with_capacity(plan.connections.count);
    for i in 0..plan.connections.count {
        let p = Proxy::start(upstream, plan.seed ^ (0x5052_4f58_5900 + i as u64))
            .await
            .map_err(|e| format!("cannot start the fault proxy for connection {i}: {e}"))?;
        proxies.push(p);
    }
    Ok(proxies)
}

impl Rig {
    /// Connects (through `proxies` when there are any) and creates the run's stream.
    pub(super) async fn open(
        plan: &Plan,
        server: &Server,
        proxies: &[Proxy],
        run_id: &str,
        facts: &mut Facts,
    ) -> Result<Rig, String> {
        let options = server
            .connect_options()
            .await
            .map_err(|e| format!("connection options: {e}"))?;
        let urls: Vec<String> = if proxies.is_empty() {
            vec![server.url().to_string()]
        } else {
            proxies.iter().map(|p| p.url()).collect()
        };
        // With faults the server may be gone for a while: allow reconnecting for about three
        // minutes (async-nats' backoff reaches 4 s per attempt), not ~1 s.
        let max_reconnects = if plan.faults.is_empty() { 10 } else { 60 };
        let pool = Pool::connect(
            &urls,
            || options.clone(),
            plan.connections.count,
            &plan.name,
            plan.publish.ack_timeout,
            plan.publish.max_in_flight,
            max_reconnects,
        )
        .await
        .map_err(|e| format!("cannot connect to {}: {e}", urls.join(", ")))?;
        facts.environment.server_version = pool.clients[0].server_info().version.clone();
        let admin_client = options
            .clone()
            .name(format!("jsbench-{}-admin", plan.name))
            .max_reconnects(Some(max_reconnects))
            .connect(server.url())
            .await
            .map_err(|e| format!("cannot connect to {}: {e}", server.url()))?;
        let admin = jetstream::ContextBuilder::new()
            .timeout(Duration::from_secs(10))
            .build(admin_client.clone());
        let subjects = Subjects::new(run_id, plan.workload.keys);
        facts.subjects = vec![subjects.stream_filter.clone()];
        let rig = Rig {
            pool,
            admin_client,
            admin,
            subjects,
            stream: facts.stream_name.clone(),
        };
        rig.create_stream(plan).await?;
        Ok(rig)
    }

    async fn create_stream(&self, plan: &Plan) -> Result<(), String> {
        let config = jetstream::stream::Config {
            name: self.stream.clone(),
            subjects: vec![self.subjects.stream_filter.clone()],
            storage: match plan.stream.storage {
                Storage::File => jetstream::stream::StorageType::File,
                Storage::Memory => jetstream::stream::StorageType::Memory,
            },
            num_replicas: plan.stream.replicas,
            duplicate_window: plan.stream.duplicate_window,
            max_bytes: plan.stream.max_bytes,
            ..Default::default()
        };
        self.admin
            .create_stream(config)
            .await
            .map(|_| ())
            .map_err(|e| format!("cannot create stream {}: {e}", self.stream))
    }

    /// Deletes the stream (unless the plan keeps it) and closes every connection.
    pub(super) async fn close(self, plan: &Plan, facts: &mut Facts) {
        if plan.stream.keep {
            facts.stream_kept = true;
        } else if let Err(e) = self.admin.delete_stream(&self.stream).await {
            facts
                .notes
                .push(format!("stream {} not deleted: {e}", self.stream));
        }
        self.pool.close().await;
        let _ = tokio::time::timeout(Duration::from_secs(2), self.admin_client.drain()).await;
    }
}
