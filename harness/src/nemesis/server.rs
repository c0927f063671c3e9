//! Server faults: pause, kill -9 and graceful restart of nodes, through the [`Server`] handle
//! (which only backends jsbench started can suffer; validation refuses them on an external
//! server). On a cluster, the fault acts on the nodes its `node` target resolved to, all at once.

use std::future::Future;

use futures::future::join_all;

use super::FaultWindow;
use crate::server::{Server, ServerError, ServerFault};

/// Injects one occurrence of a server fault on `nodes` (none named: node 0, the single server)
/// and heals it when `held` completes (true: held for its full duration). The window ends when
/// the nodes answer again; a failed action is recorded in the window's `error` rather than
/// ending the run.
pub(super) async fn inject(
    server: &Server,
    nodes: &[usize],
    fault: ServerFault,
    held: impl Future<Output = bool>,
    w: &mut FaultWindow,
    now_ms: impl Fn() -> f64,
) {
    let nodes = if nodes.is_empty() { &[0][..] } else { nodes };
    match fault {
        ServerFault::Restart => {
            note(
                w,
                "restart",
                on_each(nodes, |i| server.restart_node(i)).await,
            );
            w.end_ms = now_ms();
        }
        ServerFault::Kill => {
            note(w, "kill", on_each(nodes, |i| server.kill_node(i)).await);
            w.truncated = !held.await;
            // Always start them again: the drain and the read-back need a server.
            let started = on_each(nodes, |i| server.start_again_node(i)).await;
            note(w, "start after kill", started);
            w.end_ms = now_ms();
        }
        ServerFault::Pause => {
            note(w, "pause", on_each(nodes, |i| server.pause_node(i)).await);
            w.truncated = !held.await;
            w.end_ms = now_ms();
            note(w, "resume", on_each(nodes, |i| server.resume_node(i)).await);
        }
    }
}

/// Runs `action` on every node at once; the first error, if any.
async fn on_each<F, Fut>(nodes: &[usize], action: F) -> Result<(), ServerError>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<(), ServerError>>,
{
    join_all(nodes.iter().map(|&i| action(i)))
        .await
        .into_iter()
        .collect()
}

fn note(w: &mut FaultWindow, what: &str, result: Result<(), ServerError>) {
    if let Err(e) = result {
        w.error = Some(format!("{what} failed: {e}"));
    }
}
