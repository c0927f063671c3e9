//! The nemesis (Jepsen's word for the fault injector): injects the faults of a scenario on
//! schedule while the client publishes, heals them, and records each fault window as it really
//! happened.
//!
//! Two families of faults:
//! - network faults act on the harness's fault proxies ([`crate::proxy`]), one per client
//!   connection, so a fault can target some connections and not others;
//! - server faults act on the server itself (pause, kill -9 + restart, graceful restart) through
//!   the [`Server`] handle, so only backends jsbench controls can suffer them.
//!
//! Times are offsets from the start of the measured phase. A window records the time the fault
//! was actually injected and healed (not the scheduled time): the checkers split the history by
//! these windows, so they must be what the system saw. When publishing stops, every active fault
//! is healed at once (the window is then marked `truncated`), so the drain and the read-back run
//! against a healthy system and the run ends by its own bound.

use std::time::Duration;

use futures::stream::FuturesUnordered;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::proxy::{Direction, Proxy, Toxic};
use crate::record::observe::Clock;
use crate::server::{Server, ServerFault};

/// The kinds of fault a scenario can schedule (Toxiproxy's names for the network ones).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Delay every chunk by `latency` ± `jitter`.
    Latency,
    /// Limit throughput to `bytes_per_sec`.
    Bandwidth,
    /// Split writes into small slices, `delay` apart.
    Slicer,
    /// Blackhole: stop forwarding (the connection stays open).
    Timeout,
    /// Close the connection with a TCP RST (one shot).
    ResetPeer,
    /// Refuse new connections and drop existing ones.
    Down,
    /// Freeze the server (SIGSTOP / docker pause).
    Pause,
    /// kill -9 the server, then start it again on the same store after `duration`.
    Kill,
    /// Graceful restart (SIGTERM, wait, start again on the same store).
    Restart,
}

impl FaultKind {
    pub const ALL: [FaultKind; 9] = [
        FaultKind::Latency,
        FaultKind::Bandwidth,
        FaultKind::Slicer,
        FaultKind::Timeout,
        FaultKind::ResetPeer,
        FaultKind::Down,
        FaultKind::Pause,
        FaultKind::Kill,
        FaultKind::Restart,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::Latency => "latency",
            FaultKind::Bandwidth => "bandwidth",
            FaultKind::Slicer => "slicer",
            FaultKind::Timeout => "timeout",
            FaultKind::ResetPeer => "reset_peer",
            FaultKind::Down => "down",
            FaultKind::Pause => "pause",
            FaultKind::Kill => "kill",
            FaultKind::Restart => "restart",
        }
    }

    /// The server fault behind this kind, if it is one.
    pub fn server_fault(self) -> Option<ServerFault> {
        match self {
            FaultKind::Pause => Some(ServerFault::Pause),
            FaultKind::Kill => Some(ServerFault::Kill),
            FaultKind::Restart => Some(ServerFault::Restart),
            _ => None,
        }
    }

    pub fn is_network(self) -> bool {
        self.server_fault().is_none()
    }

    /// Faults that act in one direction of a link (the others act on whole connections).
    pub fn is_directional(self) -> bool {
        matches!(
            self,
            FaultKind::Latency | FaultKind::Bandwidth | FaultKind::Slicer | FaultKind::Timeout
        )
    }

    /// One-shot faults: an action, not a state that lasts (no `duration`).
    pub fn is_instant(self) -> bool {
        matches!(self, FaultKind::ResetPeer | FaultKind::Restart)
    }
}

/// Direction of a network fault, as written in scenarios.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultDirection {
    /// Client → server.
    Upstream,
    /// Server → client.
    Downstream,
    /// Both ways.
    Both,
}

impl From<FaultDirection> for Direction {
    fn from(d: FaultDirection) -> Direction {
        match d {
            FaultDirection::Upstream => Direction::Upstream,
            FaultDirection::Downstream => Direction::Downstream,
            FaultDirection::Both => Direction::Both,
        }
    }
}

/// One validated fault of a plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaultPlan {
    pub name: String,
    pub kind: FaultKind,
    /// Network faults: the connection indexes it acts on (resolved from `target`, fractions
    /// drawn with the run's seed). Empty for server faults.
    pub connections: Vec<usize>,
    /// How the target was written, for reports: "all", "connection 1", "50% of connections",
    /// "server".
    pub target: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<FaultDirection>,
    #[serde(skip_serializing_if = "Option::is_none", with = "opt_duration")]
    pub latency: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none", with = "opt_duration")]
    pub jitter: Option<Duration>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes_per_sec: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub average_size: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_variation: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none", with = "opt_duration")]
    pub delay: Option<Duration>,
    /// Offset of the first occurrence from the start of the measured phase.
    #[serde(with = "opt_duration")]
    pub start: Option<Duration>,
    /// How long each occurrence lasts (`kill`: downtime before the restart). `None`: until
    /// publishing stops.
    #[serde(skip_serializing_if = "Option::is_none", with = "opt_duration")]
    pub duration: Option<Duration>,
    /// Occurrences (1 = once).
    pub repeat: u32,
    /// Time between the starts of two occurrences.
    #[serde(skip_serializing_if = "Option::is_none", with = "opt_duration")]
    pub every: Option<Duration>,
}

impl FaultPlan {
    /// The proxy toxic of a network fault.
    pub fn toxic(&self) -> Option<Toxic> {
        Some(match self.kind {
            FaultKind::Latency => Toxic::Latency {
                latency: self.latency.unwrap_or_default(),
                jitter: self.jitter.unwrap_or_default(),
            },
            FaultKind::Bandwidth => Toxic::Bandwidth {
                bytes_per_sec: self.bytes_per_sec.unwrap_or(0),
            },
            FaultKind::Slicer => Toxic::Slicer {
                average_size: self.average_size.unwrap_or(1),
                size_variation: self.size_variation.unwrap_or(0),
                delay: self.delay.unwrap_or_default(),
            },
            FaultKind::Timeout => Toxic::Timeout,
            FaultKind::ResetPeer => Toxic::ResetPeer,
            FaultKind::Down => Toxic::Down,
            _ => return None,
        })
    }

    /// Start offsets of every occurrence.
    pub fn occurrences(&self) -> Vec<Duration> {
        let first = self.start.unwrap_or_default();
        let every = self.every.unwrap_or_default();
        (0..self.repeat).map(|k| first + every * k).collect()
    }

    /// A short description of the parameters, e.g. "latency 5ms ± 1ms upstream".
    pub fn describe(&self) -> String {
        let mut s = self.kind.as_str().to_string();
        let h = |d: Duration| humantime::format_duration(d).to_string();
        match self.kind {
            FaultKind::Latency => {
                s.push_str(&format!(" {}", h(self.latency.unwrap_or_default())));
                if let Some(j) = self.jitter.filter(|j| !j.is_zero()) {
                    s.push_str(&format!(" ± {}", h(j)));
                }
            }
            FaultKind::Bandwidth => {
                s.push_str(&format!(" {} B/s", self.bytes_per_sec.unwrap_or(0)));
            }
            FaultKind::Slicer => s.push_str(&format!(
                " {}±{} B every {}",
                self.average_size.unwrap_or(1),
                self.size_variation.unwrap_or(0),
                h(self.delay.unwrap_or_default())
            )),
            _ => {}
        }
        if let Some(d) = self.direction {
            s.push_str(&format!(
                " {}",
                match d {
                    FaultDirection::Upstream => "upstream",
                    FaultDirection::Downstream => "downstream",
                    FaultDirection::Both => "both ways",
                }
            ));
        }
        s
    }
}

/// One occurrence of a fault, as it happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultWindow {
    pub name: String,
    pub kind: FaultKind,
    /// 1 for the first occurrence of a repeated fault.
    pub occurrence: u32,
    /// What it acted on: "server", "connection 2", "connections [0, 1]".
    pub target: String,
    /// Parameters in words, e.g. "latency 5ms upstream".
    pub detail: String,
    /// When it was injected, ms since the measured phase started.
    pub start_ms: f64,
    /// When it was healed (server faults: when the server answered again). Equal to
    /// `start_ms` for one-shot network faults.
    pub end_ms: f64,
    /// Healed early because publishing stopped before its scheduled end.
    #[serde(default)]
    pub truncated: bool,
    /// Injecting or healing failed; the window may not reflect a real fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What the nemesis did in one run.
#[derive(Debug, Default)]
pub struct NemesisLog {
    /// Windows in order of injection.
    pub windows: Vec<FaultWindow>,
    /// Occurrences that never started (publishing ended first), and similar remarks.
    pub notes: Vec<String>,
}

/// Injects the faults of a plan; see the module comment.
pub struct Nemesis<'a> {
    pub faults: &'a [FaultPlan],
    pub server: &'a Server,
    /// One proxy per client connection (empty when no connection is proxied).
    pub proxies: &'a [Proxy],
    pub clock: Clock,
}

fn describe_connections(c: &[usize]) -> String {
    match c {
        [one] => format!("connection {one}"),
        many => format!("connections {many:?}"),
    }
}

impl Nemesis<'_> {
    /// Runs the schedule from `phase_start_ns` (clock time) until every occurrence has ended;
    /// when `stopped` turns true (publishing ended), heals what is active and starts nothing new.
    pub async fn run(&self, phase_start_ns: u64, stopped: watch::Receiver<bool>) -> NemesisLog {
        let mut jobs = FuturesUnordered::new();
        for f in self.faults {
            for (k, offset) in f.occurrences().into_iter().enumerate() {
                jobs.push(self.occurrence(
                    f,
                    k as u32 + 1,
                    phase_start_ns,
                    offset,
                    stopped.clone(),
                ));
            }
        }
        let mut log = NemesisLog::default();
        while let Some(r) = jobs.next().await {
            match r {
                Ok(w) => log.windows.push(w),
                Err(note) => log.notes.push(note),
            }
        }
        log.windows
            .sort_by(|a, b| a.start_ms.total_cmp(&b.start_ms));
        log
    }

    fn ms(&self, phase_start_ns: u64) -> f64 {
        self.clock.now_ns().saturating_sub(phase_start_ns) as f64 / 1e6
    }

    /// One occurrence: wait for its start, inject, hold, heal. `Err` when it never started.
    async fn occurrence(
        &self,
        f: &FaultPlan,
        occurrence: u32,
        phase_start_ns: u64,
        offset: Duration,
        mut stopped: watch::Receiver<bool>,
    ) -> Result<FaultWindow, String> {
        let at = self
            .clock
            .instant_at(phase_start_ns + offset.as_nanos() as u64);
        // A fault due now (whole-run faults) is set on the first poll, before the publisher's
        // first message: the runner polls the nemesis first.
        let due_now = self.clock.now_ns() >= phase_start_ns + offset.as_nanos() as u64;
        tokio::select! {
            biased;
            _ = std::future::ready(()), if due_now => {}
            _ = stopped.wait_for(|s| *s) => {
                return Err(format!(
                    "fault {} (occurrence {occurrence}) scheduled at {} never started: publishing ended first",
                    f.name,
                    humantime::format_duration(offset)
                ));
            }
            _ = tokio::time::sleep_until(at.into()) => {}
        }
        let target = if f.kind.is_network() {
            describe_connections(&f.connections)
        } else {
            "server".to_string()
        };
        let mut w = FaultWindow {
            name: f.name.clone(),
            kind: f.kind,
            occurrence,
            target,
            detail: f.describe(),
            start_ms: self.ms(phase_start_ns),
            end_ms: 0.0,
            truncated: false,
            error: None,
        };
        let hold_until = f.duration.map(|d| {
            tokio::time::Instant::from_std(
                self.clock
                    .instant_at(phase_start_ns + (offset + d).as_nanos() as u64),
            )
        });

        match f.kind {
            FaultKind::ResetPeer => {
                self.network(f, true);
                w.end_ms = w.start_ms;
            }
            FaultKind::Restart => {
                if let Err(e) = self.server.restart().await {
                    w.error = Some(format!("restart failed: {e}"));
                }
                w.end_ms = self.ms(phase_start_ns);
            }
            FaultKind::Kill => {
                if let Err(e) = self.server.kill().await {
                    w.error = Some(format!("kill failed: {e}"));
                }
                w.truncated = !hold(hold_until, &mut stopped).await;
                // Always start it again: the drain and the read-back need a server.
                if let Err(e) = self.server.start_again().await {
                    w.error = Some(format!("start after kill failed: {e}"));
                }
                w.end_ms = self.ms(phase_start_ns);
            }
            FaultKind::Pause => {
                if let Err(e) = self.server.pause().await {
                    w.error = Some(format!("pause failed: {e}"));
                }
                w.truncated = !hold(hold_until, &mut stopped).await;
                w.end_ms = self.ms(phase_start_ns);
                if let Err(e) = self.server.resume().await {
                    w.error = Some(format!("resume failed: {e}"));
                }
            }
            _ => {
                self.network(f, true);
                w.truncated = !hold(hold_until, &mut stopped).await && f.duration.is_some();
                self.network(f, false);
                w.end_ms = self.ms(phase_start_ns);
            }
        }
        Ok(w)
    }

    /// Sets (`on`) or heals the toxic of a network fault on its connections' proxies.
    fn network(&self, f: &FaultPlan, on: bool) {
        let Some(toxic) = f.toxic() else { return };
        let direction: Direction = f.direction.unwrap_or(FaultDirection::Both).into();
        for &c in &f.connections {
            if let Some(p) = self.proxies.get(c) {
                if on {
                    p.set(direction, toxic);
                } else {
                    p.heal(direction, toxic);
                }
            }
        }
    }
}

/// Waits until `until` (or forever when `None`) unless publishing stops first. True when the
/// full time was held.
async fn hold(until: Option<tokio::time::Instant>, stopped: &mut watch::Receiver<bool>) -> bool {
    let stop = stopped.wait_for(|s| *s);
    match until {
        Some(t) => tokio::select! {
            biased;
            _ = tokio::time::sleep_until(t) => true,
            _ = stop => false,
        },
        None => {
            let _ = stop.await;
            false
        }
    }
}

/// Serializes optional durations as humantime strings in result.json's plan.
mod opt_duration {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&humantime::format_duration(*d).to_string()),
            None => s.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(kind: FaultKind) -> FaultPlan {
        FaultPlan {
            name: "f".into(),
            kind,
            connections: vec![0],
            target: "all".into(),
            direction: None,
            latency: None,
            jitter: None,
            bytes_per_sec: None,
            average_size: None,
            size_variation: None,
            delay: None,
            start: Some(Duration::from_secs(1)),
            duration: Some(Duration::from_millis(500)),
            repeat: 3,
            every: Some(Duration::from_secs(2)),
        }
    }

    #[test]
    fn occurrences_follow_the_schedule() {
        let p = plan(FaultKind::Pause);
        assert_eq!(
            p.occurrences(),
            vec![
                Duration::from_secs(1),
                Duration::from_secs(3),
                Duration::from_secs(5)
            ]
        );
        assert_eq!(p.toxic(), None);
        assert_eq!(FaultKind::Kill.server_fault(), Some(ServerFault::Kill));
        assert!(FaultKind::Latency.is_directional() && !FaultKind::Down.is_directional());
    }

    #[test]
    fn toxics_and_descriptions() {
        let mut p = plan(FaultKind::Latency);
        p.latency = Some(Duration::from_millis(5));
        p.jitter = Some(Duration::from_millis(1));
        p.direction = Some(FaultDirection::Upstream);
        assert_eq!(
            p.toxic(),
            Some(Toxic::Latency {
                latency: Duration::from_millis(5),
                jitter: Duration::from_millis(1)
            })
        );
        assert_eq!(p.describe(), "latency 5ms ± 1ms upstream");
        assert_eq!(describe_connections(&[2]), "connection 2");
        assert_eq!(describe_connections(&[0, 1]), "connections [0, 1]");
    }
}
