//! Artifacts: the files a result keeps beside result.json — one HdrHistogram interval log per
//! latency (`latency-<label>.hlog`) and, when attempts failed or were retried, `attempts.csv`.
//! A file that cannot be written is a note in the result, not a failed run.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

use super::analysis::{latency_logs, Analysis};
use super::Measured;
use crate::record::history::History;
use crate::record::observe::LatencyLog;
use crate::result::{hlog, write_atomic_with, LatencyKind};

/// The files written (`files` of result.json) and notes on those that could not be.
#[derive(Default)]
pub(super) struct Artifacts {
    pub(super) files: BTreeMap<String, String>,
    pub(super) notes: Vec<String>,
}

/// Writes every artifact of a run into `dir`; `started` is the run's wall-clock start.
pub(super) fn write(dir: &Path, started: SystemTime, m: &Measured, a: &Analysis) -> Artifacts {
    let mut out = Artifacts::default();
    if !m.history.attempt_log.is_empty() {
        let file = "attempts.csv";
        match write_attempts(&dir.join(file), &m.history, m.rec.started_ns) {
            Ok(()) => {
                out.files.insert("attempts".into(), file.into());
            }
            Err(e) => out.notes.push(format!("could not write {file}: {e}")),
        }
    }
    let start = started + Duration::from_nanos(m.rec.started_ns);
    let mut logs = latency_logs(&m.rec);
    if let Some(e2e) = &a.end_to_end {
        logs.push((LatencyKind::EndToEnd, e2e));
    }
    for (kind, log) in logs {
        out.write_hlog(dir, kind, log, start);
    }
    out
}

impl Artifacts {
    fn write_hlog(&mut self, dir: &Path, kind: LatencyKind, log: &LatencyLog, start: SystemTime) {
        let file = kind.hlog_file();
        match hlog::write_hlog(&dir.join(&file), log, kind, start) {
            Ok(()) => {
                self.files.insert(kind.file_key(), file);
            }
            Err(e) => self.notes.push(format!("could not write {file}: {e}")),
        }
    }
}

/// Writes every recorded attempt (failed ones, and the last of each retried message) as CSV:
/// times in ms since the measured phase started. Streamed to the file (a soak logs millions of
/// attempts: held as one string it cost ~60 B per record, doubling as it grew).
fn write_attempts(path: &Path, h: &History, origin_ns: u64) -> std::io::Result<()> {
    let seqs = h.key_seqs();
    let ms = |t: u64| t.saturating_sub(origin_ns) as f64 / 1e6;
    write_atomic_with(path, |out| {
        writeln!(out, "idx,key,seq,attempt,conn,send_ms,end_ms,outcome,error")?;
        for a in &h.attempt_log {
            let i = a.idx as usize;
            writeln!(
                out,
                "{},{},{},{},{},{:.3},{:.3},{},{}",
                a.idx,
                crate::workload::key_name(h.keys.get(i)),
                seqs[i],
                a.attempt,
                a.conn,
                ms(a.send_ns),
                ms(a.end_ns),
                a.outcome.as_str(),
                a.error
            )?;
        }
        Ok(())
    })
}
