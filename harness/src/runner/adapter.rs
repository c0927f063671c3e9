//! A run's adapter (a client other than async-nats in-process; docs/adapters.md): its command
//! (a shipped one is built on first use), the init message from the open rig, the session's
//! start, and what its end says for result.json `client`.
//!
//! An adapter that cannot start fails the run (`status = "failed"`, the error in
//! `status_reason`): nothing was published, so nothing was measured. One that fails once
//! publishing began stops the phase (`Stop::ClientFailed`): the run is incomplete, what was
//! observed is kept, and the adapter is killed (`Session::abort`).

use crate::adapter::{self, AdapterCommand, Init, InitMode, Session, SessionEnd, Shipped};
use crate::client::adapter::Link;
use crate::record::observe::Clock;
use crate::result::ClientReport;
use crate::scenario::{ClientAdapter, Mode, Plan, TAG_LEN};
use crate::server::Server;
use crate::workload::payload;

use super::rig::Rig;

/// The command of the plan's client (`None`: async-nats in-process).
async fn command(plan: &Plan) -> Result<Option<AdapterCommand>, String> {
    let shipped = match plan.client.adapter {
        ClientAdapter::AsyncNats => return Ok(None),
        ClientAdapter::Command => {
            let argv = plan.client.command.as_deref().unwrap_or_default();
            return AdapterCommand::user(argv)
                .map(Some)
                .map_err(|e| e.to_string());
        }
        ClientAdapter::AsyncNatsStdio => Shipped::AsyncNatsStdio,
        ClientAdapter::NatsGo => Shipped::NatsGo,
        ClientAdapter::NatsC => Shipped::NatsC,
        ClientAdapter::NatsPy => Shipped::NatsPy,
    };
    shipped.command().await.map(Some).map_err(|e| e.to_string())
}

/// The init message: every connection's URLs as the rig connects its own (through the
/// connection's proxies, primary first), the run's credential, stream, subjects and settings.
fn init(plan: &Plan, server: &Server, rig: &Rig, run_id: &str) -> Init {
    let auth = &plan.server.auth;
    let filler = payload(plan.workload.payload_size);
    Init {
        run: run_id.to_string(),
        connections: rig.urls.clone(),
        token: server
            .credential()
            .map(|c| c.token().to_string())
            .or_else(|| auth.token.clone()),
        user: auth.user.clone(),
        password: auth.password.clone(),
        stream: rig.stream.clone(),
        subjects: rig.subjects.stream_filter.clone(),
        mode: match plan.publish.mode {
            Mode::Sync => InitMode::Sync,
            // Validation admits sync and async only.
            Mode::Async | Mode::Batch | Mode::Fast => InitMode::Async,
        },
        max_pending: plan.client.max_pending,
        ack_timeout_ms: plan.publish.ack_timeout.as_millis().max(1) as u64,
        msg_id: plan.publish.msg_id,
        payload_size: plan.workload.payload_size,
        filler: adapter::protocol::hex(filler.get(TAG_LEN..).unwrap_or_default()),
    }
}

/// Starts the plan's adapter on the open rig (`Ok(None)` for async-nats in-process), and
/// records what it says of itself in `client`.
pub(super) async fn start(
    plan: &Plan,
    server: &Server,
    rig: &Rig,
    run_id: &str,
    clock: Clock,
    client: &mut ClientReport,
) -> Result<Option<Link>, String> {
    let Some(cmd) = command(plan).await? else {
        return Ok(None);
    };
    let init = init(plan, server, rig, run_id);
    let session = Session::start(&cmd, &init, clock)
        .await
        .map_err(|e| format!("the adapter did not start: {e}"))?;
    let hello = session.hello();
    client.name = hello.client.name.clone();
    client.version = hello.client.version.clone();
    client.settings = Some(hello.settings.clone());
    client.program = Some(format!("{} {}", hello.adapter.name, hello.adapter.version));
    if let Some(fit) = session.clock_fit() {
        client.clock_offset_ns = Some(fit.offset_ns);
        client.clock_uncertainty_ns = Some(fit.uncertainty_ns);
    }
    Ok(Some(Link::new(session, plan.client.resolve_timeout)))
}

/// Ends the adapter: `finish` (drift probes, stdin closed, its exit awaited) after a run that
/// went to its end, `abort` (killed at once) after an adapter error or Ctrl-C.
pub(super) async fn end(link: Link, cancelled: bool) -> SessionEnd {
    let (session, error) = link.into_parts();
    if error.is_some() || cancelled {
        session.abort().await
    } else {
        session.finish().await
    }
}

/// What the session's end adds to result.json `client`.
pub(super) fn record_end(client: &mut ClientReport, end: &SessionEnd) {
    client.clock_offset_ns = Some(end.clock_offset_ns);
    client.clock_uncertainty_ns = Some(end.clock_uncertainty_ns);
    client.clock_drift_ns = end.clock_drift_ns;
    client.late_reports = Some(end.late_reports);
    client.exit = end.exit;
    client.killed = Some(end.killed);
    client.stderr_tail = end.stderr_tail.clone();
}
