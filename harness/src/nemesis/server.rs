//! Server faults: pause, kill -9 and graceful restart, through the [`Server`] handle (which
//! only backends jsbench started can suffer; validation refuses them on an external server).

use std::future::Future;

use super::FaultWindow;
use crate::server::{Server, ServerFault};

/// Injects one occurrence of a server fault and heals it when `held` completes (true: held for
/// its full duration). The window ends when the server answers again; a failed action is
/// recorded in the window's `error` rather than ending the run.
pub(super) async fn inject(
    server: &Server,
    fault: ServerFault,
    held: impl Future<Output = bool>,
    w: &mut FaultWindow,
    now_ms: impl Fn() -> f64,
) {
    match fault {
        ServerFault::Restart => {
            if let Err(e) = server.restart().await {
                w.error = Some(format!("restart failed: {e}"));
            }
            w.end_ms = now_ms();
        }
        ServerFault::Kill => {
            if let Err(e) = server.kill().await {
                w.error = Some(format!("kill failed: {e}"));
            }
            w.truncated = !held.await;
            // Always start it again: the drain and the read-back need a server.
            if let Err(e) = server.start_again().await {
                w.error = Some(format!("start after kill failed: {e}"));
            }
            w.end_ms = now_ms();
        }
        ServerFault::Pause => {
            if let Err(e) = server.pause().await {
                w.error = Some(format!("pause failed: {e}"));
            }
            w.truncated = !held.await;
            w.end_ms = now_ms();
            if let Err(e) = server.resume().await {
                w.error = Some(format!("resume failed: {e}"));
            }
        }
    }
}
