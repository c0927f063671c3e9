//! `schedule.toml`: the scenario a `[nemesis]` run replays from. It is the scenario as written
//! with `[nemesis]` replaced by the `[[faults]]` entries drawn, and with what the run settled
//! beyond the file made explicit (the run's seed, the command line's duration, backend, image,
//! server URL and warm-up), so `jsbench run schedule.toml` validates to the same Plan: the same
//! faults at the same offsets, the same keys, the same follower picks.

use std::time::Duration;

use serde::Serialize;

use super::{Amount, FaultSection, Overrides, Plan, Warmup};
use crate::nemesis::NemesisSpec;

/// `[nemesis]` in a Plan: what the schedule was drawn from (recorded in result.json), and the
/// drawn entries as they are written to `schedule.toml`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NemesisPlan {
    #[serde(flatten)]
    pub spec: NemesisSpec,
    /// The drawn `[[faults]]` entries, as TOML tables.
    #[serde(skip)]
    pub entries: Vec<toml::Table>,
    /// The text of `schedule.toml` (set once the scenario's text is known).
    #[serde(skip)]
    pub schedule: String,
}

impl NemesisPlan {
    pub(super) fn new(spec: NemesisSpec, drawn: &[FaultSection]) -> NemesisPlan {
        NemesisPlan {
            spec,
            entries: drawn.iter().map(entry).collect(),
            schedule: String::new(),
        }
    }
}

/// One `[[faults]]` entry as TOML (the fields a drawn entry has).
fn entry(f: &FaultSection) -> toml::Table {
    let mut t = toml::Table::new();
    let mut put = |k: &str, v: Option<toml::Value>| {
        if let Some(v) = v {
            t.insert(k.to_string(), v);
        }
    };
    put("name", f.name.clone().map(Into::into));
    put("kind", f.kind.map(|k| k.as_str().into()));
    put("target", f.target.clone());
    put("node", f.node.clone());
    for (name, v) in &f.params {
        put(name, Some(v.clone()));
    }
    put("start", f.start.clone().map(Into::into));
    put("duration", f.duration.clone().map(Into::into));
    put("repeat", f.repeat.map(Into::into));
    put("every", f.every.clone().map(Into::into));
    t
}

/// The text of `schedule.toml` for `plan`, drawn from the scenario `text` (already valid, so
/// it parses) run with overrides `o`. `None` when the plan has no `[nemesis]`.
pub(super) fn render(text: &str, plan: &Plan, o: &Overrides) -> Option<String> {
    let n = plan.nemesis.as_ref()?;
    let mut doc: toml::Table = text.parse().ok()?;
    doc.remove("nemesis");
    doc.insert("seed".into(), toml::Value::Integer(plan.seed as i64));
    let workload = table(&mut doc, "workload");
    if let Amount::Duration(d) = plan.workload.amount {
        workload.remove("messages");
        workload.insert("duration".into(), human(d));
    }
    match o.warmup {
        Some(Warmup::Messages(m)) => _ = workload.insert("warmup".into(), (m as i64).into()),
        Some(Warmup::Duration(d)) => _ = workload.insert("warmup".into(), human(d)),
        None => {}
    }
    let server = table(&mut doc, "server");
    if let Some(b) = o.backend {
        server.insert("backend".into(), b.as_str().into());
    }
    if let Some(u) = &o.server_url {
        server.insert("url".into(), u.as_str().into());
    }
    if let Some(i) = &o.image {
        server.insert("image".into(), i.as_str().into());
    }
    let entries = n.entries.iter().cloned().map(toml::Value::Table).collect();
    doc.insert("faults".into(), toml::Value::Array(entries));
    let kinds: Vec<&str> = n.spec.kinds.iter().map(|k| k.as_str()).collect();
    let from = plan
        .file
        .as_ref()
        .map(|f| f.display().to_string())
        .unwrap_or_else(|| "the scenario".into());
    Some(format!(
        "# schedule.toml: the faults the random nemesis of {from} drew\n\
         # ([nemesis] seed {}, kinds {}), written out as [[faults]].\n\
         # Replay them (the same faults at the same offsets, the same run seed):\n\
         #   jsbench run <this file>\n\n{}",
        n.spec.seed,
        kinds.join(", "),
        toml::to_string(&doc).ok()?
    ))
}

fn table<'a>(doc: &'a mut toml::Table, name: &str) -> &'a mut toml::Table {
    let v = doc
        .entry(name)
        .or_insert_with(|| toml::Value::Table(toml::Table::new()));
    if !v.is_table() {
        *v = toml::Value::Table(toml::Table::new());
    }
    v.as_table_mut().expect("a table")
}

fn human(d: Duration) -> toml::Value {
    humantime::format_duration(d).to_string().into()
}
