//! The end of a session: the second set of probes (drift), stdin closed, the exit awaited (or
//! forced), and what is known then ([`SessionEnd`]) — or, after an error or Ctrl-C, a kill at
//! once.

use serde::Serialize;

use super::{Next, Session, Step, EXIT_TIMEOUT, STDERR_WAIT};
use crate::adapter::clock;
use crate::adapter::error::{AdapterError, ExitStatus};

/// What is known at the end of a session (result.json `client.*`).
#[derive(Debug, Clone, Serialize)]
pub struct SessionEnd {
    pub clock_offset_ns: i64,
    pub clock_uncertainty_ns: u64,
    pub clock_drift_ns: Option<i64>,
    pub late_reports: u64,
    pub exit: Option<i32>,
    /// Whether jsbench had to kill it (abort, or it did not exit in time).
    pub killed: bool,
    pub stderr_tail: Vec<String>,
    /// A protocol violation found while finishing (its error, stderr quoted), if any.
    pub violation: Option<String>,
}

impl Session {
    /// 16 more probes (drift), close stdin, wait for the exit (kill after 10 s). Reports that
    /// still come are counted as late; a violation found meanwhile is in `violation`.
    pub async fn finish(mut self) -> SessionEnd {
        self.push_out();
        let mut violation = match self.pending.take() {
            Some(e) => Some(self.fail(e).await),
            None if self.failed => Some(AdapterError::Ended {
                adapter: self.label.clone(),
            }),
            None => match self.probe_set().await {
                Ok(f) => {
                    self.after = Some(f);
                    None
                }
                Err(e) => Some(e),
            },
        }
        .map(|e| e.to_string());
        let mut killed = false;
        let status = if violation.is_none() {
            self.proc.close_stdin();
            let until = tokio::time::Instant::now() + EXIT_TIMEOUT;
            match tokio::time::timeout_at(until, self.drain_to_eof()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => violation = Some(e.to_string()),
                Err(_) => {}
            }
            let left = until.saturating_duration_since(tokio::time::Instant::now());
            match self.proc.wait_exit(left).await {
                Some(s) => s,
                None => {
                    killed = true;
                    self.proc.kill().await
                }
            }
        } else {
            self.proc.kill().await
        };
        if violation.is_none() && !killed && status != ExitStatus::Code(0) {
            let tail = self.proc.stderr_tail(STDERR_WAIT).await;
            violation = Some(format!(
                "adapter {}: {status} after its stdin closed (expected exit status 0){tail}",
                self.label
            ));
        }
        if killed && violation.is_none() {
            violation = Some(format!(
                "adapter {}: still running {} s after its stdin closed; killed",
                self.label,
                EXIT_TIMEOUT.as_secs()
            ));
        }
        self.end(status, killed, violation).await
    }

    /// Kill at once (after an error or Ctrl-C) and collect what is known.
    pub async fn abort(mut self) -> SessionEnd {
        let killed = !self.proc.is_reaped() && self.proc.exited().is_none();
        let status = self.proc.kill().await;
        self.end(status, killed, None).await
    }

    async fn end(
        &mut self,
        status: ExitStatus,
        killed: bool,
        violation: Option<String>,
    ) -> SessionEnd {
        let tail = self.proc.stderr_tail(STDERR_WAIT).await;
        let before = self.before;
        SessionEnd {
            clock_offset_ns: before.map_or(0, |f| f.offset_ns),
            clock_uncertainty_ns: before.map_or(0, |f| f.uncertainty_ns),
            clock_drift_ns: before.zip(self.after).map(|(b, a)| clock::drift(&b, &a)),
            late_reports: self.ids.late(),
            exit: if killed { None } else { status.code() },
            killed,
            stderr_tail: tail.0,
            violation,
        }
    }

    /// Reads to the end of stdout after stdin closed: reports still coming are late.
    async fn drain_to_eof(&mut self) -> Result<(), AdapterError> {
        loop {
            let range = match self.next_line().await {
                Next::Line(r) => r,
                Next::Eof => return Ok(()),
                Next::Fail(e) => return Err(self.fail(e).await),
            };
            match self.on_line(range) {
                // Counted as late: jsbench no longer waits for anything.
                Step::Report(_) => self.ids.count_late(),
                Step::Late => {}
                Step::Probe { .. } => {
                    let e = self.malformed("a clock answer while no probe is pending".into());
                    return Err(self.fail(e).await);
                }
                Step::Fail(e) => return Err(self.fail(e).await),
            }
        }
    }
}
