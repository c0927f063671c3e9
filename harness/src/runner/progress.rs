//! What a run shows while its measured phase goes on: the progress bar (a terminal on stdout)
//! and the live line (`live.rs`: long runs and logs). One separate task samples shared counters,
//! so the publisher's hot path only stores numbers and never draws or prints anything. With both,
//! the live lines scroll above the bar.

use std::io::IsTerminal;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::live::{LiveLog, LiveSpec};
use crate::record::observe::{Clock, Progress};

/// Runs shorter than this never show a bar.
const SHOW_AFTER: Duration = Duration::from_secs(2);
/// How often the bar is redrawn.
const BAR_TICK: Duration = Duration::from_millis(200);
/// The live line is sampled this long after it is due: a 1-second latency interval closes with
/// the first ack after its end, so the interval that just ended is in the line when acks flow.
const LIVE_SETTLE: Duration = Duration::from_millis(20);

/// What to show for one measured phase.
pub struct Show {
    /// A bar, when stdout is a terminal too.
    pub bar: bool,
    pub live: Option<LiveSpec>,
    /// The phase's planned duration (duration-bound runs).
    pub duration: Option<Duration>,
    pub name: String,
    /// The run clock, and when the measured phase started on it: the live line's `t` counts
    /// from the start of its latency intervals once the publisher has set it
    /// (`LiveFigures::origin_ns`), from here until then.
    pub clock: Clock,
    pub origin_ns: u64,
    /// The streaming checkers' counters for the live line (a run that follows its stream).
    pub store: Option<std::sync::Arc<crate::checker::StoreLive>>,
}

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

/// Starts the task. The bar is drawn only when stdout is a terminal and the run lasts longer
/// than a couple of seconds; the live line goes to stderr (above the bar when there is one).
pub fn spawn(progress: Arc<Progress>, show: Show) -> BarHandle {
    let (tx, mut rx) = oneshot::channel();
    let clock = show.clock;
    let origin = move |p: &Progress| {
        let ns = match p.live.origin_ns.load(Ordering::Relaxed) {
            0 => show.origin_ns,
            ns => ns,
        };
        Instant::from_std(clock.instant_at(ns))
    };
    let mut bar = (show.bar && std::io::stdout().is_terminal())
        .then(|| Bar::new(&progress, show.duration, show.name.clone()));
    let store = show.store.clone();
    let mut live = show
        .live
        .map(|spec| LiveLog::new(spec, show.name).with_store(store));
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(BAR_TICK);
        loop {
            let origin = origin(&progress);
            let due = live
                .as_ref()
                .map_or(origin, |l| origin + l.next_due() + LIVE_SETTLE);
            tokio::select! {
                _ = &mut rx => break,
                _ = tick.tick(), if bar.is_some() => {
                    if let Some(b) = bar.as_mut() {
                        b.update(&progress, origin.elapsed());
                    }
                }
                _ = tokio::time::sleep_until(due), if live.is_some() => {
                    let Some(l) = live.as_mut() else { continue };
                    if let Some(line) = l.sample(&progress, origin.elapsed()) {
                        match bar.as_ref().filter(|b| b.shown) {
                            Some(b) => b.bar.println(line),
                            None => eprintln!("{line}"),
                        }
                    }
                }
            }
        }
        if let Some(b) = bar {
            b.bar.finish_and_clear();
        }
    });
    BarHandle {
        stop: Some(tx),
        task,
    }
}

/// The indicatif bar: by time for duration-bound runs, by messages otherwise.
struct Bar {
    bar: ProgressBar,
    by_time: bool,
    shown: bool,
}

impl Bar {
    fn new(progress: &Progress, duration: Option<Duration>, name: String) -> Bar {
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
        Bar {
            bar,
            by_time,
            shown: false,
        }
    }

    fn update(&mut self, progress: &Progress, elapsed: Duration) {
        if !self.shown && elapsed >= SHOW_AFTER {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
            self.shown = true;
        }
        let published = progress.published.load(Ordering::Relaxed);
        let acked = progress.acked.load(Ordering::Relaxed);
        self.bar.set_position(if self.by_time {
            elapsed.as_millis() as u64
        } else {
            published
        });
        self.bar.set_message(format!(
            "{:.0} msgs/s, {} acked",
            published as f64 / elapsed.as_secs_f64().max(1e-3),
            acked
        ));
    }
}
