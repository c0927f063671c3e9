//! Which runs a claim is about: a selector written in the claims file (`runs = { strategy =
//! "single", faults = "none" }`) matched against what a result says about its own run.
//!
//! Facts come from the result alone (its validated plan and status), so recorded results of
//! any age can be judged; a fact an old result does not record never matches a selector that
//! asks for it.

use serde::{Deserialize, Serialize};

use crate::result::Report;
use crate::scenario::{Api, Mode, Storage, Strategy};

/// One value or a list of them (`faults = "pause"` or `faults = ["pause", "kill"]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn items(&self) -> Vec<&str> {
        match self {
            OneOrMany::One(s) => vec![s.as_str()],
            OneOrMany::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

/// What a run must be for a claim to be about it. Every field given must match; an empty
/// selector matches every complete run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Selector {
    /// Scenario names; `*` matches any text (`"*dedup-expired"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario: Option<OneOrMany>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<Strategy>,
    /// Number of publishing connections.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connections: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// One publish mode or a list of them (`mode = ["sync", "async"]`).
    pub mode: Option<OneOrMany>,
    /// The client library that published (`client.name` in result.json; one or a list). Results
    /// older than the `client` object were all async-nats in jsbench's own process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<OneOrMany>,
    /// The in-process client's publish path (`publish.api`: "jetstream" or "lean"; one or a
    /// list). Completion order depends on it: the lean path completes acks in wire order.
    /// Results older than `publish.api` (and runs through an adapter) are "jetstream".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<OneOrMany>,
    /// "none" (no fault), "any" (at least one), or fault kinds (at least one of them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faults: Option<OneOrMany>,
    /// "none" (no consume side), "any", or a pool model ("keyed", "shared").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consume: Option<String>,
    /// The consume side fails some messages on purpose (`fail_rate > 0`), so they are
    /// redelivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redelivery: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msg_id: Option<bool>,
    /// The plan retries a failed publish (`retry.attempts > 1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<bool>,
    /// The per-key sequence guard is on (`publish.expect_last_subject_seq`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guard: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<Storage>,
    /// The stream's duplicate window as the scenario wrote it ("2m", "500ms").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate_window: Option<String>,
    /// container | process | external
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
}

/// Values `consume` accepts.
pub const CONSUME_VALUES: &str = "none, any, keyed, shared";

/// Client library names `client` accepts: what each shipped adapter's `init_ok` names its client
/// (async-nats-stdio's client is async-nats, so in-process and through-the-contract runs of it
/// share a name; `adapter` tells them apart).
pub const CLIENT_NAMES: [&str; 4] = ["async-nats", "nats.go", "nats.c", "nats.py"];

/// The group of in-process runs on the lean path (`publish.api = "lean"`).
pub const LEAN_GROUP: &str = "async-nats lean";

/// What a result without a `client` object was published by.
pub const DEFAULT_CLIENT: &str = "async-nats";

impl Selector {
    /// Problems with values serde cannot check (fault kinds, consume); each as (field, message).
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Some(f) = &self.faults {
            let kinds: Vec<&str> = crate::nemesis::FaultKind::ALL
                .iter()
                .map(|k| k.as_str())
                .collect();
            let items = f.items();
            for item in &items {
                let special = *item == "none" || *item == "any";
                if special && items.len() > 1 {
                    out.push(("faults", format!("{item:?} stands alone, not in a list")));
                } else if !special && !kinds.contains(item) {
                    out.push((
                        "faults",
                        format!(
                            "unknown fault kind {item:?}; allowed: none, any, {}",
                            kinds.join(", ")
                        ),
                    ));
                }
            }
        }
        for m in self.mode.iter().flat_map(OneOrMany::items) {
            if Mode::from_name(m).is_none() {
                let allowed: Vec<&str> = Mode::ALL.iter().map(|m| m.as_str()).collect();
                out.push((
                    "mode",
                    format!("unknown mode {m:?}; allowed: {}", allowed.join(", ")),
                ));
            }
        }
        for a in self.api.iter().flat_map(OneOrMany::items) {
            if Api::from_name(a).is_none() {
                let allowed: Vec<&str> = Api::ALL.iter().map(|a| a.as_str()).collect();
                out.push((
                    "api",
                    format!("unknown api {a:?}; allowed: {}", allowed.join(", ")),
                ));
            }
        }
        for c in self.client.iter().flat_map(OneOrMany::items) {
            if !CLIENT_NAMES.contains(&c) {
                out.push((
                    "client",
                    format!("unknown client {c:?}; allowed: {}", CLIENT_NAMES.join(", ")),
                ));
            }
        }
        if let Some(c) = &self.consume {
            if !["none", "any", "keyed", "shared"].contains(&c.as_str()) {
                out.push(("consume", format!("{c:?}; allowed: {CONSUME_VALUES}")));
            }
        }
        out
    }

    /// True when the run is one this selector is about.
    pub fn matches(&self, run: &RunFacts) -> bool {
        let eq = |want: Option<&str>, got: &str| want.is_none_or(|w| w == got);
        let scenario_ok = self
            .scenario
            .as_ref()
            .is_none_or(|s| s.items().iter().any(|p| glob(p, &run.scenario)));
        let faults_ok = self.faults.as_ref().is_none_or(|f| {
            let items = f.items();
            match items.as_slice() {
                ["none"] => run.faults.is_empty(),
                ["any"] => !run.faults.is_empty(),
                kinds => run.faults.iter().any(|k| kinds.contains(&k.as_str())),
            }
        });
        let consume_ok = match self.consume.as_deref() {
            None => true,
            Some("none") => run.consume.is_none(),
            Some("any") => run.consume.is_some(),
            Some(model) => run.consume.as_deref() == Some(model),
        };
        scenario_ok
            && faults_ok
            && consume_ok
            && eq(self.strategy.map(Strategy::as_str), &run.strategy)
            && self.connections.is_none_or(|n| n == run.connections)
            && self
                .mode
                .as_ref()
                .is_none_or(|m| run.mode.is_some_and(|r| m.items().contains(&r.as_str())))
            && self
                .client
                .as_ref()
                .is_none_or(|c| c.items().contains(&run.client.as_str()))
            && self
                .api
                .as_ref()
                .is_none_or(|a| a.items().contains(&run.api.as_str()))
            && self.redelivery.is_none_or(|r| r == run.redelivery)
            && self.msg_id.is_none_or(|m| m == run.msg_id)
            && self.retry.is_none_or(|r| r == run.retry)
            && self.guard.is_none_or(|g| g == run.guard)
            && self.replicas.is_none_or(|n| n == run.replicas)
            && eq(self.storage.map(storage_str), &run.storage)
            && eq(self.duplicate_window.as_deref(), &run.duplicate_window)
            && eq(self.backend.as_deref(), &run.backend)
    }

    /// The selector in words, for "no run matches …": `strategy = single, faults = none`.
    pub fn describe(&self) -> String {
        let v = serde_json::to_value(self).unwrap_or_default();
        let parts: Vec<String> = v
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| format!("{k} = {}", v.to_string().trim_matches('"')))
                    .collect()
            })
            .unwrap_or_default();
        if parts.is_empty() {
            "every run".into()
        } else {
            parts.join(", ")
        }
    }
}

fn storage_str(s: Storage) -> &'static str {
    match s {
        Storage::File => "file",
        Storage::Memory => "memory",
    }
}

/// `*` matches any run of characters; everything else matches itself.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    if !text.ends_with(last) {
        return false;
    }
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

/// What a result says about its run, in the terms selectors use.
#[derive(Debug, Clone, PartialEq)]
pub struct RunFacts {
    pub scenario: String,
    /// "name" or "name #2" for a repetition: how judgements list their runs.
    pub label: String,
    pub complete: bool,
    pub strategy: String,
    pub connections: usize,
    /// `None` when the result names no mode this version knows.
    pub mode: Option<Mode>,
    pub faults: Vec<String>,
    /// `client.name`, or "async-nats" for results older than the `client` object.
    pub client: String,
    /// `client.adapter`: "in-process" (also for older results), a shipped adapter's name, or
    /// "command".
    pub adapter: String,
    /// `publish.api`: "jetstream" (also for older results) or "lean".
    pub api: Api,
    /// The pool model of the consume side, when there is one.
    pub consume: Option<String>,
    pub redelivery: bool,
    pub msg_id: bool,
    pub retry: bool,
    /// `publish.expect_last_subject_seq` (false in results older than it).
    pub guard: bool,
    pub replicas: usize,
    pub storage: String,
    pub duplicate_window: String,
    pub backend: String,
    pub payload: u64,
}

impl RunFacts {
    pub fn of(r: &Report) -> RunFacts {
        let plan = &r.scenario.plan;
        let s = |path: &[&str]| -> String {
            at(plan, path)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        let n = |path: &[&str]| at(plan, path).and_then(|v| v.as_u64()).unwrap_or(0);
        let consume = at(plan, &["consume"]).filter(|c| !c.is_null());
        let faults = at(plan, &["faults"])
            .and_then(|f| f.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|f| f.get("kind").and_then(|k| k.as_str()).map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let label = match r.scenario.repetition {
            Some(k) => format!("{} #{k}", r.scenario.name),
            None => r.scenario.name.clone(),
        };
        RunFacts {
            scenario: r.scenario.name.clone(),
            label,
            complete: r.status.is_complete(),
            strategy: s(&["connections", "strategy"]),
            connections: n(&["connections", "count"]) as usize,
            mode: at(plan, &["publish", "mode"])
                .and_then(|v| v.as_str())
                .and_then(Mode::from_name),
            faults,
            client: r
                .client
                .as_ref()
                .map_or(DEFAULT_CLIENT.to_string(), |c| c.name.clone()),
            adapter: r
                .client
                .as_ref()
                .map_or("in-process".to_string(), |c| c.adapter.clone()),
            api: at(plan, &["publish", "api"])
                .and_then(|v| v.as_str())
                .and_then(Api::from_name)
                .unwrap_or_default(),
            consume: consume.map(|c| {
                c.get("model")
                    .and_then(|m| m.as_str())
                    .unwrap_or_default()
                    .to_string()
            }),
            redelivery: consume
                .and_then(|c| c.get("fail_rate"))
                .and_then(|f| f.as_f64())
                .is_some_and(|f| f > 0.0),
            msg_id: at(plan, &["publish", "msg_id"])
                .and_then(|v| v.as_bool())
                .unwrap_or(false),
            retry: n(&["publish", "retry", "attempts"]) > 1,
            guard: at(plan, &["publish", "expect_last_subject_seq"])
                .and_then(|v| v.as_bool())
                .unwrap_or(false),
            replicas: r.stream.replicas,
            storage: r.stream.storage.clone(),
            duplicate_window: s(&["stream", "duplicate_window"]),
            backend: r.environment.backend.clone(),
            payload: n(&["workload", "payload_size"]),
        }
    }

    /// How the run's client names its group (order-table rows, per-client order figures):
    /// `None` for async-nats in jsbench's own process (and results older than the `client`
    /// object); async-nats through the stdio adapter by the adapter's name, so the contract's
    /// own cost shows as its own group; a `client.command` program by its client's name and
    /// "(command)"; async-nats in-process on the lean path (`publish.api = "lean"`) as
    /// "async-nats lean".
    pub fn client_group(&self) -> Option<String> {
        match self.adapter.as_str() {
            // The lean path completes acks in wire order: its order figures are its own.
            "in-process" if self.api == Api::Lean => Some(LEAN_GROUP.to_string()),
            "in-process" => None,
            "command" => Some(format!("{} (command)", self.client)),
            adapter if self.client == "async-nats" => Some(adapter.to_string()),
            _ => Some(self.client.clone()),
        }
    }

    /// The value of a field named in a ratio claim's `matched_on`.
    pub fn field(&self, name: MatchField) -> String {
        match name {
            MatchField::Strategy => self.strategy.clone(),
            MatchField::Connections => self.connections.to_string(),
            MatchField::Storage => self.storage.clone(),
            MatchField::Replicas => self.replicas.to_string(),
            MatchField::Payload => self.payload.to_string(),
            MatchField::Backend => self.backend.clone(),
            MatchField::Faults => self.faults.join("+"),
            MatchField::Consume => self.consume.clone().unwrap_or_default(),
            MatchField::MsgId => if self.msg_id { "msg-id" } else { "" }.to_string(),
            MatchField::Client => self
                .client_group()
                .unwrap_or_else(|| DEFAULT_CLIENT.to_string()),
        }
    }
}

/// What two runs must share to be compared in a ratio claim (`matched_on`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchField {
    Strategy,
    Connections,
    Storage,
    Replicas,
    Payload,
    Backend,
    Faults,
    Consume,
    MsgId,
    /// The client and how it ran (`async-nats` in process, `nats.go`, `async-nats-stdio`, …).
    Client,
}

impl MatchField {
    /// Runs are compared only with runs that publish the same way to the same kind of stream.
    /// A run through an adapter is compared only with runs of the same client: an adapter's
    /// async run over an in-process sync run would measure the client, not the mode.
    pub const DEFAULT: [MatchField; 8] = [
        MatchField::Strategy,
        MatchField::Connections,
        MatchField::Storage,
        MatchField::Replicas,
        MatchField::Payload,
        MatchField::MsgId,
        MatchField::Backend,
        MatchField::Client,
    ];
}

fn at<'a>(v: &'a serde_json::Value, path: &[&str]) -> Option<&'a serde_json::Value> {
    path.iter().try_fold(v, |v, k| v.get(k))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_stars() {
        assert!(glob("a", "a"));
        assert!(!glob("a", "ab"));
        assert!(glob("*expired", "single-async-pause-dedup-expired"));
        assert!(glob("single-*-none", "single-async-none"));
        assert!(!glob("single-*-none", "rr4-async-none"));
        assert!(glob("*dedup*", "x-dedup-y"));
        assert!(!glob("ab*ba", "aba"));
    }

    #[test]
    fn fault_kinds_and_consume_values_are_checked() {
        let s = Selector {
            faults: Some(OneOrMany::Many(vec!["pause".into(), "nope".into()])),
            consume: Some("ordered".into()),
            ..Default::default()
        };
        let p = s.problems();
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].1.contains("unknown fault kind \"nope\""));
        assert!(p[1].1.contains("allowed: none, any, keyed, shared"));
        let none_in_list = Selector {
            faults: Some(OneOrMany::Many(vec!["none".into(), "pause".into()])),
            ..Default::default()
        };
        assert_eq!(none_in_list.problems().len(), 1);
    }

    #[test]
    fn run_facts_read_the_mode_typed() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/recorded/20261127T115747Z-single-sync-none/result.json");
        let mut r = Report::load(&path).unwrap();
        let sel = |m: &str| Selector {
            mode: Some(OneOrMany::One(m.into())),
            ..Default::default()
        };
        let f = RunFacts::of(&r);
        assert_eq!(f.mode, Some(Mode::Sync));
        assert!(sel("sync").matches(&f));
        assert!(!sel("async").matches(&f));
        // A mode this version does not know matches no selector.
        r.scenario.plan["publish"]["mode"] = serde_json::json!("someday");
        let f = RunFacts::of(&r);
        assert_eq!(f.mode, None);
        assert!(!sel("sync").matches(&f));
        assert!(Selector::default().matches(&f));
    }

    #[test]
    fn modes_are_checked_and_a_list_matches_any_of_them() {
        for m in Mode::ALL {
            let named: Mode = serde_json::from_value(serde_json::json!(m.as_str())).unwrap();
            assert_eq!(named, m, "a mode's name is the scenario's word for it");
            assert_eq!(Mode::from_name(m.as_str()), Some(m));
        }
        let s = Selector {
            mode: Some(OneOrMany::Many(vec!["sync".into(), "batsh".into()])),
            ..Default::default()
        };
        let p = s.problems();
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(
            p[0].1.contains("allowed: sync, async, batch, fast"),
            "{p:?}"
        );
    }

    #[test]
    fn client_matches_the_result_and_older_results_are_async_nats() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/recorded/20261127T115755Z-single-async-none/result.json");
        let mut r = Report::load(&path).unwrap();
        let sel = |c: OneOrMany| Selector {
            client: Some(c),
            ..Default::default()
        };
        let f = RunFacts::of(&r);
        assert_eq!(
            (f.client.as_str(), f.adapter.as_str()),
            ("async-nats", "in-process")
        );
        assert!(sel(OneOrMany::One("async-nats".into())).matches(&f));
        assert!(!sel(OneOrMany::One("nats.go".into())).matches(&f));
        r.client = Some(crate::result::ClientReport {
            name: "nats.go".into(),
            adapter: "nats.go".into(),
            ..Default::default()
        });
        let f = RunFacts::of(&r);
        assert!(sel(OneOrMany::One("nats.go".into())).matches(&f));
        assert!(sel(OneOrMany::Many(vec!["nats.c".into(), "nats.go".into()])).matches(&f));
        assert!(!sel(OneOrMany::One("async-nats".into())).matches(&f));
    }

    #[test]
    fn api_selects_the_publish_path_and_older_results_are_jetstream() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/recorded/20261127T115755Z-single-async-none/result.json");
        let mut r = Report::load(&path).unwrap();
        let sel = |a: OneOrMany| Selector {
            api: Some(a),
            ..Default::default()
        };
        let f = RunFacts::of(&r);
        assert_eq!(f.api, Api::Jetstream, "a result older than publish.api");
        assert!(sel(OneOrMany::One("jetstream".into())).matches(&f));
        assert!(!sel(OneOrMany::One("lean".into())).matches(&f));
        r.scenario.plan["publish"]["api"] = serde_json::json!("lean");
        let f = RunFacts::of(&r);
        assert!(sel(OneOrMany::One("lean".into())).matches(&f));
        assert!(!sel(OneOrMany::One("jetstream".into())).matches(&f));
        assert!(sel(OneOrMany::Many(vec!["jetstream".into(), "lean".into()])).matches(&f));
        let bad = sel(OneOrMany::One("fast".into())).problems();
        assert_eq!(bad.len(), 1, "{bad:?}");
        assert_eq!(bad[0].0, "api");
        assert!(bad[0].1.contains("allowed: jetstream, lean"), "{bad:?}");
        // Its order figures and ratio matches are its own, apart from the JetStream path's.
        assert_eq!(f.client_group().as_deref(), Some(LEAN_GROUP));
        assert_eq!(f.field(MatchField::Client), LEAN_GROUP);
    }

    #[test]
    fn an_unknown_client_lists_the_allowed_names() {
        let s = Selector {
            client: Some(OneOrMany::Many(vec!["nats.go".into(), "nats.rs".into()])),
            ..Default::default()
        };
        let p = s.problems();
        assert_eq!(p.len(), 1, "{p:?}");
        assert_eq!(p[0].0, "client");
        assert!(
            p[0].1.contains(
                "unknown client \"nats.rs\"; allowed: async-nats, nats.go, nats.c, nats.py"
            ),
            "{p:?}"
        );
    }
}
