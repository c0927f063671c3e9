//! `[nemesis]`: a random schedule of faults, drawn from a seed ([`generate`]) and turned into
//! the `[[faults]]` entries it stands for, which are then validated like hand-written ones. So
//! the run gets exactly the [`FaultPlan`](crate::nemesis::FaultPlan)s those entries would give,
//! and `schedule.toml` (those entries written out) replays them.
//!
//! Whether each kind suits the server (a cluster kind on a single server, a server fault on an
//! external server, a container-only split) is asked of the faults validator itself: one probe
//! entry per kind and node target, its errors reported under `nemesis.*`. A kind added to the
//! kind list is checked the same way with no edit here.
//!
//! `[nemesis]` and `[[faults]]` may not be combined: `schedule.toml` replaces `[nemesis]` with
//! the drawn `[[faults]]`, and a replayed file could then not tell drawn faults from written
//! ones; the entry indexes that seed fractional targets would shift; and `max_concurrent`
//! could not count faults it did not draw.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::faults::{self, Context};
use crate::nemesis::{generate, Drawn, FaultKind, NemesisSpec, NodeTarget, ParamValue};
use crate::scenario::error::Checker;
use crate::scenario::{Amount, FaultSection, NemesisSection};

const DEFAULT_INTERVAL: (Duration, Duration) = (Duration::from_secs(10), Duration::from_secs(30));
const DEFAULT_DURATION: (Duration, Duration) = (Duration::from_secs(2), Duration::from_secs(8));

/// Validates `[nemesis]` and draws its schedule: the spec and the `[[faults]]` entries drawn.
/// `faults_written`: the scenario also has `[[faults]]`.
pub(super) fn validate(
    c: &mut Checker,
    n: &NemesisSection,
    faults_written: bool,
    amount: Amount,
    context: &Context,
) -> (NemesisSpec, Vec<FaultSection>) {
    if faults_written {
        c.err(
            "nemesis",
            "cannot be combined with [[faults]]: a run's schedule is either written ([[faults]]) or drawn ([nemesis]); remove one",
        );
    }
    let kinds = kinds(c, n.kinds.as_deref());
    let interval = range(
        c,
        "nemesis.interval",
        n.interval.as_deref(),
        DEFAULT_INTERVAL,
    );
    let duration = range(
        c,
        "nemesis.duration",
        n.duration.as_deref(),
        DEFAULT_DURATION,
    );
    if interval.0.is_zero() {
        c.err("nemesis.interval", "the minimum must be greater than zero");
    }
    let max_concurrent = max_concurrent(c, n.max_concurrent, context.nodes);
    let written = targets_written(n.targets.as_deref(), context.nodes);
    let targets = targets(c, &kinds, &written, duration.0, context);
    let spec = NemesisSpec {
        kinds,
        targets,
        interval,
        duration,
        max_concurrent,
        // 63 bits: a seed a TOML file can hold.
        seed: n
            .seed
            .unwrap_or((context.seed ^ crate::hash::fnv1a(b"nemesis")) & (i64::MAX as u64)),
    };
    let length = match amount {
        Amount::Duration(d) => d,
        Amount::Messages(_) => {
            c.err(
                "nemesis",
                "needs workload.duration (or --duration): the schedule is drawn over the run's length, which a message count does not fix",
            );
            Duration::ZERO
        }
    };
    let drawn = generate(&spec, length);
    let sections = drawn
        .iter()
        .enumerate()
        .map(|(i, f)| section(i, f))
        .collect();
    (spec, sections)
}

/// `max_concurrent`: 1 (default) up to the node count.
fn max_concurrent(c: &mut Checker, written: Option<i64>, nodes: usize) -> u32 {
    match written {
        Some(m) if m < 1 => {
            c.err(
                "nemesis.max_concurrent",
                format!("must be at least 1 (got {m})"),
            );
            1
        }
        Some(m) if m as usize > nodes => {
            c.err(
                "nemesis.max_concurrent",
                format!(
                    "{m} is above the node count ({}): at most one fault per node at a time",
                    nodes
                ),
            );
            1
        }
        Some(m) => m as u32,
        None => 1,
    }
}

/// `kinds`: required, not empty; each once.
fn kinds(c: &mut Checker, written: Option<&[FaultKind]>) -> Vec<FaultKind> {
    let mut kinds: Vec<FaultKind> = Vec::new();
    for k in written.unwrap_or_default() {
        if !kinds.contains(k) {
            kinds.push(*k);
        }
    }
    if kinds.is_empty() {
        let all: Vec<&str> = FaultKind::ALL.iter().map(|k| k.as_str()).collect();
        c.err(
            "nemesis.kinds",
            format!(
                "is required and may not be empty: one or more of {}",
                all.join(", ")
            ),
        );
    }
    kinds
}

/// A `[min, max]` range of durations; `min` may be zero, not above `max`.
fn range(
    c: &mut Checker,
    field: &str,
    written: Option<&[String]>,
    default: (Duration, Duration),
) -> (Duration, Duration) {
    let Some(w) = written else { return default };
    let [lo, hi] = w else {
        c.err(
            field,
            format!(
                "must be two durations, [min, max], e.g. [\"{}\", \"{}\"] (got {} values)",
                humantime::format_duration(default.0),
                humantime::format_duration(default.1),
                w.len()
            ),
        );
        return default;
    };
    let lo = c.duration0(field, Some(lo), default.0);
    let hi = c.duration0(field, Some(hi), default.1);
    if lo > hi {
        c.err(
            field,
            format!(
                "the minimum ({}) exceeds the maximum ({})",
                humantime::format_duration(lo),
                humantime::format_duration(hi)
            ),
        );
        return default;
    }
    (lo, hi)
}

/// `targets` as written, or the default: the leader and a follower on a cluster, the server's
/// one node otherwise.
fn targets_written(written: Option<&[toml::Value]>, nodes: usize) -> Vec<toml::Value> {
    match written {
        Some(w) => w.to_vec(),
        None if nodes > 1 => vec!["leader".into(), "follower".into()],
        None => vec!["all".into()],
    }
}

/// Asks the faults validator whether each kind, with each node target (kinds on nodes), can be
/// injected here; reports what it says under `nemesis.*`. Returns the targets, parsed.
fn targets(
    c: &mut Checker,
    kinds: &[FaultKind],
    written: &[toml::Value],
    duration: Duration,
    context: &Context,
) -> Vec<NodeTarget> {
    if written.is_empty() {
        c.err(
            "nemesis.targets",
            "may not be empty: \"leader\", \"follower\", \"minority\", \"majority\", \"all\" or node indexes",
        );
    }
    let mut parsed: Vec<Option<NodeTarget>> = vec![None; written.len()];
    // A kind's problem is reported once, not once per target.
    let mut said = BTreeSet::new();
    for &kind in kinds {
        let probes: Vec<Option<usize>> = if kind.targets_nodes() {
            (0..written.len()).map(Some).collect()
        } else {
            vec![None]
        };
        for t in probes {
            let node = t.map(|t| written[t].clone());
            let target = probe(c, &mut said, kind, node, duration, context);
            if let (Some(t), Some(target)) = (t, target) {
                parsed[t] = Some(target);
            }
        }
    }
    // Targets no kind drawn acts on are not drawn.
    parsed.into_iter().flatten().collect()
}

/// One probe entry of `kind` (on `node`) through the faults validator; its errors, renamed
/// to the `[nemesis]` field they come from. Returns the node target it parsed.
fn probe(
    c: &mut Checker,
    said: &mut BTreeSet<(&'static str, String)>,
    kind: FaultKind,
    node: Option<toml::Value>,
    duration: Duration,
    context: &Context,
) -> Option<NodeTarget> {
    let f = Drawn {
        kind,
        node: None,
        params: crate::nemesis::PARAMS
            .iter()
            .filter(|p| p.of(kind) && p.required.is_some())
            .map(|p| (p.name, low_end(p.name, p.unit)))
            .collect(),
        start: Duration::from_secs(1),
        duration: (!kind.is_instant()).then_some(duration),
    };
    let mut section = section(0, &f);
    section.node = node.clone();
    let file = "";
    let mut scratch = Checker::new(file);
    let plans = faults::validate(&mut scratch, &[section], context.clone());
    for e in scratch
        .finish(())
        .err()
        .map(|e| e.errors)
        .unwrap_or_default()
    {
        let param = e.field.strip_prefix("faults[0].").unwrap_or(&e.field);
        let (field, what) = match param {
            "node" => (
                "nemesis.targets",
                format!(
                    "{} (with kind \"{}\")",
                    toml_text(node.as_ref()),
                    kind.as_str()
                ),
            ),
            "duration" => (
                "nemesis.duration",
                format!("with kind \"{}\"", kind.as_str()),
            ),
            _ => ("nemesis.kinds", format!("\"{}\"", kind.as_str())),
        };
        let message = format!("{what}: {}", e.message);
        if said.insert((field, message.clone())) {
            c.err(field, message);
        }
    }
    plans.into_iter().next().and_then(|p| p.node)
}

fn toml_text(v: Option<&toml::Value>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// The low end of a required parameter's drawn range (a probe's value).
fn low_end(name: &str, unit: crate::nemesis::Unit) -> ParamValue {
    match crate::nemesis::drawn_range(name, unit) {
        crate::nemesis::Drawable::Duration((lo, _)) => ParamValue::Duration(lo),
        crate::nemesis::Drawable::Number(lo, _) => ParamValue::Number(lo),
        crate::nemesis::Drawable::Millionths(lo, _) => ParamValue::Millionths(lo),
        crate::nemesis::Drawable::Word(w) => ParamValue::Word(w),
    }
}

/// The `[[faults]]` entry a drawn fault stands for (entry `i`: named like an unnamed entry).
pub(in crate::scenario) fn section(i: usize, f: &Drawn) -> FaultSection {
    let params: BTreeMap<&'static str, toml::Value> = f
        .params
        .iter()
        .map(|(name, v)| (*name, param_value(*v)))
        .collect();
    FaultSection {
        name: Some(format!("{}-{}", f.kind.as_str(), i + 1)),
        kind: Some(f.kind),
        node: f.node.as_ref().map(node_value),
        params,
        start: Some(humantime::format_duration(f.start).to_string()),
        duration: f
            .duration
            .map(|d| humantime::format_duration(d).to_string()),
        ..FaultSection::default()
    }
}

/// A parameter as a `[[faults]]` entry writes it.
fn param_value(v: ParamValue) -> toml::Value {
    match v {
        ParamValue::Duration(d) => humantime::format_duration(d).to_string().into(),
        ParamValue::Number(n) => toml::Value::Integer(n as i64),
        ParamValue::Millionths(m) => toml::Value::Float(m as f64 / 1e6),
        ParamValue::Word(w) => w.into(),
    }
}

/// A node target as written: a role, an index or a list of indexes.
fn node_value(t: &NodeTarget) -> toml::Value {
    match t {
        NodeTarget::Nodes(list) if list.len() == 1 => toml::Value::Integer(list[0] as i64),
        NodeTarget::Nodes(list) => toml::Value::Array(
            list.iter()
                .map(|&i| toml::Value::Integer(i as i64))
                .collect(),
        ),
        // Roles are written as words.
        other => other.written().as_str().unwrap_or("all").into(),
    }
}
