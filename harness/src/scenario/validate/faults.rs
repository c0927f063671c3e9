//! `[[faults]]`: each entry becomes a [`FaultPlan`]: its name, the [`Fault`] with its
//! parameters, where it acts and when.
//!
//! The kind's own parameters are checked as the fault table ([`PARAMS`]) describes them (unit,
//! required or not), so a new fault kind needs no edit here. What is checked here is the same
//! for every kind: the name, the target or the server, the direction, the schedule.

use std::collections::BTreeSet;
use std::time::Duration;

use super::{is_valid_name, parse_bytes};
use crate::nemesis::{
    Fault, FaultDirection, FaultKind, FaultPlan, ParamValue, Params, Schedule, Scope, Unit, PARAMS,
};
use crate::scenario::error::Checker;
use crate::scenario::FaultSection;
use crate::server::{Backend, ServerFault};

mod disk;
mod nodes;
mod target;

/// What the faults depend on in the rest of the scenario.
#[derive(Clone)]
pub(super) struct Context {
    pub(super) backend: Backend,
    /// How many nodes jsbench starts (faults on nodes pick among them).
    pub(super) nodes: usize,
    /// How many client connections there are (network faults target some of them).
    pub(super) connections: usize,
    pub(super) seed: u64,
}

/// One `[[faults]]` entry, for its field paths: `faults[i].name`.
#[derive(Clone, Copy)]
struct Entry(usize);

impl Entry {
    fn field(self, name: &str) -> String {
        format!("faults[{}].{name}", self.0)
    }
}

/// Validates `[[faults]]` into fault plans; errors name `faults[i].field`. An entry without a
/// kind is reported and left out.
pub(super) fn validate(
    c: &mut Checker,
    faults: &[FaultSection],
    context: Context,
) -> Vec<FaultPlan> {
    let mut names = BTreeSet::new();
    let mut out = Vec::new();
    for (i, f) in faults.iter().enumerate() {
        let e = Entry(i);
        let Some(kind) = f.kind else {
            let allowed: Vec<&str> = FaultKind::ALL.iter().map(|k| k.as_str()).collect();
            c.err(
                &e.field("kind"),
                format!("is required: one of {}", allowed.join(", ")),
            );
            continue;
        };
        let name = name(c, e, f, kind, &mut names);
        foreign_parameters(c, e, f, kind);
        let (connections, target, direction) = placement(c, e, f, kind, &context);
        let node = nodes::validate(c, &e.field("node"), f.node.as_ref(), kind, &context);
        let params = parameters(c, e, f, kind);
        out.push(FaultPlan {
            name,
            fault: Fault::new(kind, direction, &params),
            connections,
            target,
            node,
            schedule: schedule(c, e, f, kind),
        });
    }
    out
}

/// The fault's name (default: "kind-N"), unique in the scenario.
fn name(
    c: &mut Checker,
    e: Entry,
    f: &FaultSection,
    kind: FaultKind,
    names: &mut BTreeSet<String>,
) -> String {
    let name = f
        .name
        .clone()
        .unwrap_or_else(|| format!("{}-{}", kind.as_str(), e.0 + 1));
    if !is_valid_name(&name) {
        c.err(
            &e.field("name"),
            format!("{name:?} is not allowed: use letters, digits, '-' and '_'"),
        );
    }
    if !names.insert(name.clone()) {
        c.err(
            &e.field("name"),
            format!("{name:?} is used by another fault"),
        );
    }
    name
}

/// Parameters given that belong to another kind.
fn foreign_parameters(c: &mut Checker, e: Entry, f: &FaultSection, kind: FaultKind) {
    for p in PARAMS
        .iter()
        .filter(|p| !p.of(kind) && f.params.contains_key(p.name))
    {
        let owners: Vec<String> = p
            .kinds
            .iter()
            .map(|k| format!("\"{}\"", k.as_str()))
            .collect();
        c.err(
            &e.field(p.name),
            format!(
                "is a parameter of kind = {}, not of \"{}\"",
                owners.join(" or "),
                kind.as_str()
            ),
        );
    }
}

/// Where it acts. Returns the connections, the target in words and the direction (unused by
/// kinds without one).
fn placement(
    c: &mut Checker,
    e: Entry,
    f: &FaultSection,
    kind: FaultKind,
    context: &Context,
) -> (Vec<usize>, String, FaultDirection) {
    if kind.scope() == Scope::Cluster {
        nodes::on_a_cluster(c, e.0, f, kind, context);
        return (Vec::new(), "cluster".to_string(), FaultDirection::Both);
    }
    if kind.scope() == Scope::Disk {
        disk::on_disks(c, e, f, kind, context.backend);
        return (Vec::new(), "server".to_string(), FaultDirection::Both);
    }
    match kind.server_fault() {
        Some(server_fault) => {
            on_the_server(c, e, f, server_fault, context.backend);
            (Vec::new(), "server".to_string(), FaultDirection::Both)
        }
        None => {
            let (connections, target) = target::resolve(
                c,
                &e.field("target"),
                f.target.as_ref(),
                context.connections,
                context.seed ^ (e.0 as u64 + 1),
            );
            let direction = direction(c, e, f, kind);
            (connections, target, direction)
        }
    }
}

/// A server fault acts on the server: no target, no direction, and only on a server jsbench
/// controls.
fn on_the_server(
    c: &mut Checker,
    e: Entry,
    f: &FaultSection,
    fault: ServerFault,
    backend: Backend,
) {
    if f.target.is_some() {
        c.err(
            &e.field("target"),
            format!("server faults act on the server: remove target from kind = \"{fault}\""),
        );
    }
    if f.direction.is_some() {
        c.err(&e.field("direction"), "applies to network faults only");
    }
    if !backend.supports(fault) {
        c.err(
            &e.field("kind"),
            format!(
                "\"{fault}\" cannot be injected on backend \"{}\": jsbench does not control that server (use backend = \"process\", \"container\" or \"auto\")",
                backend.as_str()
            ),
        );
    }
}

/// A network fault's direction: both ways by default, and only for the kinds that act in one
/// direction of a link (the others act on whole connections).
fn direction(c: &mut Checker, e: Entry, f: &FaultSection, kind: FaultKind) -> FaultDirection {
    if !kind.is_directional() && f.direction.is_some() {
        let directional: Vec<&str> = FaultKind::ALL
            .iter()
            .filter(|k| k.is_directional())
            .map(|k| k.as_str())
            .collect();
        c.err(
            &e.field("direction"),
            format!(
                "does not apply to kind = \"{}\" (it acts on whole connections); direction applies to {}",
                kind.as_str(),
                in_words(&directional)
            ),
        );
    }
    f.direction.unwrap_or(FaultDirection::Both)
}

/// "a, b and c".
fn in_words(items: &[&str]) -> String {
    match items {
        [] => String::new(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// The kind's own parameters, as [`PARAMS`] lists them: each one required or defaulted,
/// parsed by its unit.
fn parameters(c: &mut Checker, e: Entry, f: &FaultSection, kind: FaultKind) -> Params {
    let mut params = Params::default();
    for p in PARAMS.iter().filter(|p| p.of(kind)) {
        let field = e.field(p.name);
        let written = f.params.get(p.name);
        if let (None, Some(hint)) = (written, p.required) {
            c.err(
                &field,
                format!("is required for kind = \"{}\" ({hint})", kind.as_str()),
            );
        }
        let value = match p.unit {
            // The parser has checked each value's TOML type against its unit.
            Unit::Duration => ParamValue::Duration(c.duration0(
                &field,
                written.and_then(toml::Value::as_str),
                Duration::ZERO,
            )),
            Unit::Count { min, max } => ParamValue::Number(c.range(
                &field,
                written.and_then(toml::Value::as_integer),
                min,
                min,
                max,
            ) as u64),
            Unit::BytesPerSec => ParamValue::Number(bytes_per_sec(c, &field, written)),
            Unit::Choice(words) => ParamValue::Word(choice(c, &field, written, words)),
            Unit::Fraction => ParamValue::Millionths(fraction(c, &field, written)),
        };
        // e.g. size_variation < average_size, checked when written.
        if let (Some(other), Some(_)) = (p.below, written) {
            if let Some(bound) = params.get(other).filter(|bound| value >= *bound) {
                c.err(&field, format!("must be smaller than {other} ({bound})"));
            }
        }
        params.insert(p.name, value);
    }
    params
}

/// One of `words` (default: the first).
fn choice(
    c: &mut Checker,
    field: &str,
    written: Option<&toml::Value>,
    words: &'static [&'static str],
) -> &'static str {
    let Some(w) = written.and_then(toml::Value::as_str) else {
        return words[0];
    };
    match words.iter().find(|x| **x == w) {
        Some(x) => x,
        None => {
            c.err(
                field,
                format!("{w:?} is not allowed: one of {}", words.join(", ")),
            );
            words[0]
        }
    }
}

/// A fraction in (0, 1], in millionths (0: not given).
fn fraction(c: &mut Checker, field: &str, written: Option<&toml::Value>) -> u64 {
    match written.and_then(toml::Value::as_float) {
        None => 0,
        Some(v) if v > 0.0 && v <= 1.0 => ((v * 1e6).round() as u64).max(1),
        Some(v) => {
            c.err(
                field,
                format!("{v} is not allowed: a fraction in (0, 1], e.g. 0.5"),
            );
            0
        }
    }
}

/// Bytes per second: an integer (0 or more) or a size ("1MiB").
fn bytes_per_sec(c: &mut Checker, field: &str, written: Option<&toml::Value>) -> u64 {
    match written {
        None => 0,
        Some(toml::Value::Integer(v)) if *v >= 0 => *v as u64,
        Some(toml::Value::String(v)) => parse_bytes(v).unwrap_or_else(|| {
            c.err(
                field,
                format!("{v:?} is not a size: bytes per second, e.g. 100000 or \"1MiB\""),
            );
            0
        }),
        Some(v) => {
            c.err(
                field,
                format!(
                    "{v} is not allowed: bytes per second (0 or more), e.g. 100000 or \"1MiB\""
                ),
            );
            0
        }
    }
}

/// When it acts: `start` (required for one-shot and server faults), `duration` (required for
/// pause and kill, none for one-shot faults), and `repeat` occurrences `every` apart.
fn schedule(c: &mut Checker, e: Entry, f: &FaultSection, kind: FaultKind) -> Schedule {
    let start = f
        .start
        .as_deref()
        .map(|s| c.duration0(&e.field("start"), Some(s), Duration::ZERO));
    let duration = f
        .duration
        .as_deref()
        .map(|s| c.duration0(&e.field("duration"), Some(s), Duration::ZERO));
    if start.is_none() && kind.needs_start() {
        c.err(
            &e.field("start"),
            format!(
                "is required for kind = \"{}\": when to inject it, from the start of the measured phase (e.g. \"2s\")",
                kind.as_str()
            ),
        );
    }
    duration_fits_kind(c, e, kind, duration);
    let repeat = c.range(&e.field("repeat"), f.repeat, 1, 1, 1000) as u32;
    let every = f
        .every
        .as_deref()
        .map(|s| c.duration(&e.field("every"), Some(s), Duration::from_secs(1)));
    repetition(c, e, kind, repeat, every, duration);
    Schedule {
        start,
        duration,
        repeat,
        every,
    }
}

/// One-shot faults last no time; a pause and a kill must say how long.
fn duration_fits_kind(c: &mut Checker, e: Entry, kind: FaultKind, duration: Option<Duration>) {
    if kind.is_instant() && duration.is_some() {
        c.err(
            &e.field("duration"),
            format!(
                "does not apply to kind = \"{}\" (a one-shot action)",
                kind.as_str()
            ),
        );
    }
    match (kind, duration) {
        (FaultKind::Kill, None) => c.err(
            &e.field("duration"),
            "is required for kind = \"kill\": how long the server stays dead before it is started again (\"0s\" = at once)",
        ),
        (FaultKind::Pause, None) => c.err(
            &e.field("duration"),
            "is required for kind = \"pause\": how long the server stays frozen",
        ),
        (FaultKind::Pause, Some(Duration::ZERO)) => {
            c.err(&e.field("duration"), "must be greater than zero")
        }
        _ => {}
    }
}

/// Repeated occurrences need `every`, and may not overlap.
fn repetition(
    c: &mut Checker,
    e: Entry,
    kind: FaultKind,
    repeat: u32,
    every: Option<Duration>,
    duration: Option<Duration>,
) {
    if repeat <= 1 {
        if every.is_some() {
            c.err(&e.field("every"), "is only used with repeat > 1");
        }
        return;
    }
    match (every, duration) {
        (None, _) => c.err(
            &e.field("every"),
            "is required with repeat > 1: the time between the starts of two occurrences",
        ),
        (Some(_), None) if !kind.is_instant() => c.err(
            &e.field("duration"),
            "is required with repeat > 1: each occurrence must end before the next",
        ),
        (Some(every), Some(d)) if every <= d => c.err(
            &e.field("every"),
            format!(
                "must be longer than duration ({}): occurrences may not overlap",
                humantime::format_duration(d)
            ),
        ),
        _ => {}
    }
}
