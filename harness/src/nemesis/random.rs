//! The random nemesis: a schedule of concrete faults drawn from a seed alone (`[nemesis]`).
//!
//! Pure: [`generate`] reads only its [`NemesisSpec`] and the run's length, so the same seed
//! always gives the same schedule, and the schedule is written out (`schedule.toml`) as the
//! hand-written `[[faults]]` it stands for. Nothing here knows one kind from another beyond
//! what [`FaultKind`] and [`PARAMS`] say (instant or lasting, on nodes or not, which parameters
//! are required), so a kind added to the kind list joins the random nemesis as it is.
//!
//! How a schedule is drawn (offsets from the start of the measured phase, whole milliseconds,
//! so they are written and read back exactly):
//! - the next fault starts `interval` after the previous one started (uniform in the range);
//!   while `max_concurrent` faults are still active it waits for the first of them to end;
//! - its kind is drawn uniformly from `kinds`, its node target (kinds acting on nodes) from
//!   `targets`, its duration (lasting kinds) uniformly from `duration`; a fault that would
//!   outlast the run is cut to end with it, or left out when less than the minimum remains;
//! - the kind's required parameters are drawn from [`drawn_range`]; optional ones keep their
//!   defaults (they are not written).

use std::time::Duration;

use rand::{Rng, SeedableRng};
use serde::Serialize;

use super::kind::FaultKind;
use super::params::{ParamValue, Unit, PARAMS};
use super::plan::NodeTarget;

/// What `[nemesis]` asks for, validated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NemesisSpec {
    pub kinds: Vec<FaultKind>,
    /// Node targets drawn for kinds that act on nodes.
    pub targets: Vec<NodeTarget>,
    /// Time between the starts of two faults: `[min, max]`.
    #[serde(serialize_with = "pair")]
    pub interval: (Duration, Duration),
    /// How long a lasting fault lasts: `[min, max]`.
    #[serde(serialize_with = "pair")]
    pub duration: (Duration, Duration),
    /// Faults active at once, at most.
    pub max_concurrent: u32,
    /// The schedule's seed (by default derived from the run's seed).
    pub seed: u64,
}

/// One fault of a drawn schedule, as a `[[faults]]` entry would write it.
#[derive(Debug, Clone, PartialEq)]
pub struct Drawn {
    pub kind: FaultKind,
    /// Kinds that act on nodes: the target drawn from `targets`.
    pub node: Option<NodeTarget>,
    /// The kind's required parameters, drawn.
    pub params: Vec<(&'static str, ParamValue)>,
    pub start: Duration,
    /// Lasting kinds: how long. `None` for one-shot kinds.
    pub duration: Option<Duration>,
}

impl Drawn {
    /// When it ends (its start, for one-shot kinds).
    pub fn end(&self) -> Duration {
        self.start + self.duration.unwrap_or_default()
    }
}

/// Draws the schedule of a run of `length`; see the module comment.
pub fn generate(spec: &NemesisSpec, length: Duration) -> Vec<Drawn> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(spec.seed);
    let mut out: Vec<Drawn> = Vec::new();
    if spec.kinds.is_empty() || spec.max_concurrent == 0 {
        return out;
    }
    let mut start = Duration::ZERO;
    // Ends of the faults still active at `start`.
    let mut active: Vec<Duration> = Vec::new();
    loop {
        start += uniform(&mut rng, spec.interval);
        let kind = spec.kinds[rng.random_range(0..spec.kinds.len())];
        let node = (kind.targets_nodes() && !spec.targets.is_empty())
            .then(|| spec.targets[rng.random_range(0..spec.targets.len())].clone());
        let mut duration = (!kind.is_instant()).then(|| uniform(&mut rng, spec.duration));
        let params = draw_params(&mut rng, kind);
        active.retain(|&end| end > start);
        if active.len() >= spec.max_concurrent as usize {
            // Wait for the first active fault to end.
            start = active.iter().copied().min().unwrap_or(start);
            active.retain(|&end| end > start);
        }
        if start >= length {
            break;
        }
        if let Some(d) = duration.as_mut() {
            let left = length - start;
            if left < spec.duration.0 {
                break;
            }
            *d = (*d).min(left);
        }
        let f = Drawn {
            kind,
            node,
            params,
            start,
            duration,
        };
        if f.duration.is_some() {
            active.push(f.end());
        }
        out.push(f);
    }
    out
}

/// A range in result.json: `["10s", "30s"]`, as written.
fn pair<S: serde::Serializer>(r: &(Duration, Duration), s: S) -> Result<S::Ok, S::Error> {
    let f = |d: Duration| humantime::format_duration(d).to_string();
    [f(r.0), f(r.1)].serialize(s)
}

/// Uniform in `[lo, hi]`, in whole milliseconds (so it is written and read back exactly).
fn uniform(rng: &mut impl Rng, (lo, hi): (Duration, Duration)) -> Duration {
    let (lo, hi) = (
        lo.as_millis() as u64,
        hi.as_millis().max(lo.as_millis()) as u64,
    );
    Duration::from_millis(rng.random_range(lo..=hi))
}

/// The kind's required parameters, each drawn from its range.
fn draw_params(rng: &mut impl Rng, kind: FaultKind) -> Vec<(&'static str, ParamValue)> {
    PARAMS
        .iter()
        .filter(|p| p.of(kind) && p.required.is_some())
        .map(|p| {
            let value = match drawn_range(p.name, p.unit) {
                Drawable::Duration(r) => ParamValue::Duration(uniform(rng, r)),
                Drawable::Number(lo, hi) => ParamValue::Number(rng.random_range(lo..=hi)),
                Drawable::Millionths(lo, hi) => ParamValue::Millionths(rng.random_range(lo..=hi)),
                Drawable::Word(w) => ParamValue::Word(w),
            };
            (p.name, value)
        })
        .collect()
}

/// A range a required parameter is drawn from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drawable {
    Duration((Duration, Duration)),
    Number(u64, u64),
    /// A fraction in millionths, `lo..=hi`.
    Millionths(u64, u64),
    Word(&'static str),
}

/// Where each required parameter is drawn from: a few named ones have ranges that make a
/// fault bite without ending the run (README: "[nemesis]"); any other parameter, by its unit:
/// durations 10–200 ms, counts from the minimum up to 1024 above it, bytes per second
/// 64 KiB–1 MiB, fractions 0.1–0.9, words the first (the default).
pub fn drawn_range(name: &str, unit: Unit) -> Drawable {
    const MS: fn(u64) -> Duration = Duration::from_millis;
    match (name, unit) {
        ("latency", _) => Drawable::Duration((MS(10), MS(200))),
        ("average_size", _) => Drawable::Number(16, 1024),
        (_, Unit::Duration) => Drawable::Duration((MS(10), MS(200))),
        (_, Unit::Count { min, max }) => {
            let lo = min.max(0) as u64;
            Drawable::Number(lo, (max.max(0) as u64).min(lo + 1024))
        }
        (_, Unit::BytesPerSec) => Drawable::Number(64 << 10, 1 << 20),
        (_, Unit::Fraction) => Drawable::Millionths(100_000, 900_000),
        (_, Unit::Choice(words)) => Drawable::Word(words[0]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(seed: u64) -> NemesisSpec {
        NemesisSpec {
            kinds: vec![
                FaultKind::Kill,
                FaultKind::Pause,
                FaultKind::Partition,
                FaultKind::LeaderStepdown,
                FaultKind::Latency,
            ],
            targets: vec![NodeTarget::Leader, NodeTarget::Follower],
            interval: (Duration::from_secs(10), Duration::from_secs(30)),
            duration: (Duration::from_secs(2), Duration::from_secs(8)),
            max_concurrent: 1,
            seed,
        }
    }

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn the_same_seed_gives_the_same_schedule() {
        let a = generate(&spec(7), HOUR);
        assert!(a.len() > 100, "an hour at 10–30 s: {} faults", a.len());
        assert_eq!(a, generate(&spec(7), HOUR));
        assert_ne!(a, generate(&spec(8), HOUR));
    }

    #[test]
    fn the_schedule_keeps_to_its_ranges_and_the_run() {
        for seed in 0..50 {
            let s = spec(seed);
            let faults = generate(&s, Duration::from_secs(600));
            let mut previous = Duration::ZERO;
            for f in &faults {
                assert!(s.kinds.contains(&f.kind));
                assert!(f.start >= previous + s.interval.0, "{f:?}");
                assert!(f.end() <= Duration::from_secs(600));
                match f.duration {
                    Some(d) => assert!(d >= s.duration.0 && d <= s.duration.1, "{f:?}"),
                    None => assert!(f.kind.is_instant()),
                }
                assert_eq!(f.node.is_some(), f.kind.targets_nodes());
                if let Some(n) = &f.node {
                    assert!(s.targets.contains(n));
                }
                assert_eq!(f.start.subsec_nanos() % 1_000_000, 0);
                previous = f.start;
            }
        }
    }

    #[test]
    fn no_more_faults_at_once_than_max_concurrent() {
        for max in 1..=3 {
            let s = NemesisSpec {
                interval: (Duration::from_secs(1), Duration::from_secs(2)),
                duration: (Duration::from_secs(5), Duration::from_secs(10)),
                max_concurrent: max,
                ..spec(max as u64)
            };
            let faults = generate(&s, Duration::from_secs(300));
            let lasting: Vec<&Drawn> = faults.iter().filter(|f| f.duration.is_some()).collect();
            let mut most = 0;
            for f in &lasting {
                let at_once = lasting
                    .iter()
                    .filter(|g| g.start <= f.start && g.end() > f.start)
                    .count();
                most = most.max(at_once);
            }
            assert_eq!(most, max as usize, "max_concurrent = {max}");
        }
    }

    #[test]
    fn required_parameters_are_drawn_from_their_ranges() {
        let s = NemesisSpec {
            kinds: vec![FaultKind::Latency, FaultKind::Bandwidth, FaultKind::Slicer],
            ..spec(3)
        };
        for f in generate(&s, HOUR) {
            let required: Vec<&str> = PARAMS
                .iter()
                .filter(|p| p.of(f.kind) && p.required.is_some())
                .map(|p| p.name)
                .collect();
            let names: Vec<&str> = f.params.iter().map(|(n, _)| *n).collect();
            assert_eq!(names, required);
            for (name, v) in &f.params {
                let unit = PARAMS.iter().find(|p| p.name == *name).unwrap().unit;
                match (drawn_range(name, unit), v) {
                    (Drawable::Duration((lo, hi)), ParamValue::Duration(d)) => {
                        assert!(*d >= lo && *d <= hi)
                    }
                    (Drawable::Number(lo, hi), ParamValue::Number(n))
                    | (Drawable::Millionths(lo, hi), ParamValue::Millionths(n)) => {
                        assert!(*n >= lo && *n <= hi)
                    }
                    other => panic!("{name}: {other:?}"),
                }
            }
        }
    }

    #[test]
    fn a_run_too_short_for_one_interval_has_no_fault() {
        assert!(generate(&spec(1), Duration::from_secs(5)).is_empty());
    }
}
