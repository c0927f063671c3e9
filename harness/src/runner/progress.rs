//! The progress bar of a run: a separate task samples shared counters a few times a second, so
//! the publisher's hot path only stores a number and never draws anything.

use std::io::IsTerminal;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::oneshot;

use crate::record::observe::Progress;

/// Runs shorter than this never show a bar.
const SHOW_AFTER: Duration = Duration::from_secs(2);

pub struct BarHandle {
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl BarHandle {
    pub async fn finish(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}

/// Starts the bar task. Nothing is drawn unless stdout is a terminal and the run lasts longer
/// than a couple of seconds.
pub fn spawn(progress: Arc<Progress>, duration: Option<Duration>, name: String) -> BarHandle {
    let (tx, mut rx) = oneshot::channel();
    let enabled = std::io::stdout().is_terminal();
    let task = tokio::spawn(async move {
        if !enabled {
            let _ = rx.await;
            return;
        }
        let started = tokio::time::Instant::now();
        let planned = progress.planned.load(Ordering::Relaxed);
        let (len, by_time) = match duration {
            Some(d) => (d.as_millis() as u64, true),
            None => (planned.max(1), false),
        };
        let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::hidden());
        let template = if by_time {
            "{prefix} [{bar:30}] {elapsed_precise}/{duration_precise} {msg}"
        } else {
            "{prefix} [{bar:30}] {pos}/{len} msgs ({eta} left) {msg}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(name);
        let mut shown = false;
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        loop {
            tokio::select! {
                _ = &mut rx => break,
                _ = tick.tick() => {}
            }
            let elapsed = started.elapsed();
            if !shown && elapsed >= SHOW_AFTER {
                bar.set_draw_target(ProgressDrawTarget::stderr());
                shown = true;
            }
            let published = progress.published.load(Ordering::Relaxed);
            let acked = progress.acked.load(Ordering::Relaxed);
            bar.set_position(if by_time {
                elapsed.as_millis() as u64
            } else {
                published
            });
            bar.set_message(format!(
                "{:.0} msgs/s, {} acked",
                published as f64 / elapsed.as_secs_f64().max(1e-3),
                acked
            ));
        }
        bar.finish_and_clear();
    });
    BarHandle {
        stop: Some(tx),
        task,
    }
}
