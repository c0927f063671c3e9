//! How a command hears that it should stop: Ctrl-C (SIGINT) from a terminal, or SIGTERM from
//! whatever runs it — `docker stop`, `docker-compose down`, a Kubernetes pod being deleted,
//! `kill`. Both mean the same: stop publishing and finish cleanly (a second one skips the
//! waiting). Without SIGTERM, jsbench as a container's PID 1 would ignore the engine's stop
//! (PID 1 gets no default action) and be killed after the grace period with nothing written.

use tokio::signal::unix::{signal, SignalKind};

/// Calls `on_interrupt` once per SIGINT or SIGTERM received, for as long as the process lives.
pub(crate) async fn on_interrupts(mut on_interrupt: impl FnMut()) {
    let mut term = signal(SignalKind::terminate()).ok();
    loop {
        let got = match term.as_mut() {
            Some(t) => tokio::select! {
                r = tokio::signal::ctrl_c() => r.is_ok(),
                s = t.recv() => s.is_some(),
            },
            None => tokio::signal::ctrl_c().await.is_ok(),
        };
        if !got {
            return;
        }
        on_interrupt();
    }
}
