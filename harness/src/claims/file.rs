//! The claims file: a title, an optional `[table]` selector for the order table, and
//! `[[claim]]` entries, each a sentence (`says`) and one of three predicates over the runs it
//! selects (`kind = "order" | "ratio" | "figure"`). Parsed strictly; every problem names the
//! file, the field and what is allowed.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::select::{MatchField, Selector};
use crate::result::{LatencyKind, LatencyStat};
use crate::scenario::{FieldError, ScenarioError};

/// A validated claims file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClaimsFile {
    /// The path it was read from, as given.
    pub file: String,
    /// The question the claims answer ("Does PublishAsync reorder my events?").
    pub title: String,
    pub about: String,
    /// The runs the order table is built from (default: async publishing without faults).
    pub table: Selector,
    pub claims: Vec<Claim>,
}

/// One claim: who says what, about which runs, tested how.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Claim {
    pub id: String,
    pub says: String,
    pub runs: Selector,
    pub test: Test,
}

/// The predicate a claim is judged by.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Test {
    /// An order is preserved, or broken in at least one run.
    Order {
        order: OrderName,
        per: Per,
        expect: OrderExpect,
    },
    /// `metric` of the runs matching `of`, over that of the matched runs matching `over`, lies
    /// in `range`.
    Ratio {
        metric: Metric,
        of: Box<Selector>,
        over: Box<Selector>,
        matched_on: Vec<MatchField>,
        range: (f64, f64),
    },
    /// A count is zero in every run, or non-zero in at least one.
    Figure { figure: FigureName, expect: Zero },
}

/// The orders a claim can be about, as result.json names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderName {
    /// The order each message's last attempt was sent in.
    Publish,
    AckWire,
    AckCompletion,
    Storage,
    Consume,
}

impl OrderName {
    pub const ALL: [OrderName; 5] = [
        OrderName::Publish,
        OrderName::AckWire,
        OrderName::AckCompletion,
        OrderName::Storage,
        OrderName::Consume,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderName::Publish => "publish",
            OrderName::AckWire => "ack (wire)",
            OrderName::AckCompletion => "ack (completion)",
            OrderName::Storage => "storage",
            OrderName::Consume => "consume",
        }
    }
}

/// Late within each key (what an aggregate sees) or late anywhere in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Per {
    #[default]
    Key,
    Stream,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderExpect {
    Preserved,
    Broken,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Zero {
    Zero,
    Nonzero,
}

/// Counts a figure claim can be about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FigureName {
    Lost,
    Duplicates,
    Unknown,
    Failed,
    InProcess,
    DuplicateAcks,
    Redelivered,
    RetryReorders,
    /// Messages refused by the per-key sequence guard.
    Rejected,
    /// Atomic batches not stored whole-or-nothing, consecutively and in their own order.
    BatchesBroken,
    /// Messages the client reported definitely failed that are stored anyway (a correct client
    /// never has one).
    DefiniteButStored,
}

impl FigureName {
    pub fn as_str(self) -> &'static str {
        match self {
            FigureName::Lost => "lost",
            FigureName::Duplicates => "duplicates",
            FigureName::Unknown => "unknown",
            FigureName::Failed => "failed",
            FigureName::InProcess => "in process",
            FigureName::DuplicateAcks => "duplicate acks",
            FigureName::Redelivered => "redelivered",
            FigureName::RetryReorders => "retry reorders",
            FigureName::Rejected => "rejected",
            FigureName::BatchesBroken => "batches not atomic",
            FigureName::DefiniteButStored => "definite failures stored",
        }
    }
}

/// A figure a ratio compares: throughput, or a latency statistic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub enum Metric {
    MsgsPerSec,
    /// `latency.<label>.<stat>`: a latency of result.json's `latency_us` and one of its
    /// statistics.
    Latency {
        kind: LatencyKind,
        stat: LatencyStat,
    },
}

impl Metric {
    fn parse(s: &str) -> Result<Metric, String> {
        let allowed = || {
            let kinds: Vec<&str> = LatencyKind::ALL.iter().map(|k| k.label()).collect();
            let stats: Vec<&str> = LatencyStat::ALL.iter().map(|s| s.as_str()).collect();
            format!(
                "allowed: msgs_per_sec, or latency.<{}>.<{}>",
                kinds.join("|"),
                stats.join("|")
            )
        };
        if s == "msgs_per_sec" {
            return Ok(Metric::MsgsPerSec);
        }
        let latency = match s.split('.').collect::<Vec<_>>().as_slice() {
            ["latency", kind, stat] => {
                LatencyKind::from_label(kind).zip(LatencyStat::from_name(stat))
            }
            _ => None,
        };
        match latency {
            Some((kind, stat)) => Ok(Metric::Latency { kind, stat }),
            None => Err(format!("{s:?}; {}", allowed())),
        }
    }

    /// The metric of one result; `None` when the run did not measure it.
    pub fn of(&self, r: &crate::result::Report) -> Option<f64> {
        match self {
            Metric::MsgsPerSec => Some(r.throughput.msgs_per_sec).filter(|v| *v > 0.0),
            Metric::Latency { kind, stat } => r.measured_latency(*kind).map(|l| l.stat(*stat)),
        }
    }

    /// How it reads in a sentence: "msgs/s", "publish call p50".
    pub fn label(&self) -> String {
        match self {
            Metric::MsgsPerSec => "msgs/s".into(),
            Metric::Latency { kind, stat } => format!("{} {}", kind.human(), stat.as_str()),
        }
    }
}

impl From<Metric> for String {
    fn from(m: Metric) -> String {
        match m {
            Metric::MsgsPerSec => "msgs_per_sec".into(),
            Metric::Latency { kind, stat } => {
                format!("latency.{}.{}", kind.label(), stat.as_str())
            }
        }
    }
}

/// The file as written: every field optional, checked in [`validate`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    title: Option<String>,
    #[serde(default)]
    about: String,
    #[serde(default)]
    table: Option<RawTable>,
    #[serde(default)]
    claim: Vec<RawClaim>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    #[serde(default)]
    runs: Selector,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClaim {
    id: Option<String>,
    says: Option<String>,
    kind: Option<String>,
    #[serde(default)]
    runs: Selector,
    expect: Option<String>,
    order: Option<OrderName>,
    per: Option<Per>,
    figure: Option<FigureName>,
    metric: Option<String>,
    of: Option<Selector>,
    over: Option<Selector>,
    matched_on: Option<Vec<MatchField>>,
    range: Option<Vec<f64>>,
}

/// Reads and validates a claims file.
pub fn load(path: &Path) -> Result<ClaimsFile, ScenarioError> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        ScenarioError::one(&file, None, String::new(), format!("cannot read file: {e}"))
    })?;
    parse(&text, &file)
}

/// Parses and validates claims text; `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<ClaimsFile, ScenarioError> {
    let raw: RawFile = crate::scenario::parse_strict(text, file)?;
    validate(raw, file)
}

/// Collects every problem of a file, so one pass reports all of them.
struct Problems<'a> {
    file: &'a str,
    errors: Vec<FieldError>,
}

impl Problems<'_> {
    fn push(&mut self, field: String, message: impl Into<String>) {
        self.errors.push(FieldError {
            file: self.file.to_string(),
            line: None,
            field,
            message: message.into(),
        });
    }

    fn selector(&mut self, at: &str, s: &Selector) {
        for (field, message) in s.problems() {
            self.push(format!("{at}.{field}"), message);
        }
    }
}

fn validate(raw: RawFile, file: &str) -> Result<ClaimsFile, ScenarioError> {
    let mut p = Problems {
        file,
        errors: Vec::new(),
    };
    let title = raw.title.unwrap_or_else(|| {
        p.push("title".into(), "required: the question these claims answer");
        String::new()
    });
    let table = match raw.table {
        Some(t) => t.runs,
        None => Selector {
            mode: Some(super::select::OneOrMany::One("async".into())),
            faults: Some(super::select::OneOrMany::One("none".into())),
            ..Default::default()
        },
    };
    p.selector("table.runs", &table);
    if raw.claim.is_empty() {
        p.push(
            "claim".into(),
            "no [[claim]]: a claims file states at least one",
        );
    }
    let mut claims = Vec::new();
    let mut ids = std::collections::BTreeSet::new();
    for (i, c) in raw.claim.into_iter().enumerate() {
        let at = format!("claim[{i}]");
        if let Some(id) = &c.id {
            if !ids.insert(id.clone()) {
                p.push(
                    format!("{at}.id"),
                    format!("{id:?} is used twice; ids are unique"),
                );
            }
        }
        if let Some(claim) = validate_claim(c, &at, &mut p) {
            claims.push(claim);
        }
    }
    if p.errors.is_empty() {
        Ok(ClaimsFile {
            file: file.to_string(),
            title,
            about: raw.about,
            table,
            claims,
        })
    } else {
        Err(ScenarioError { errors: p.errors })
    }
}

fn validate_claim(c: RawClaim, at: &str, p: &mut Problems) -> Option<Claim> {
    let id = c.id.clone().filter(|s| !s.trim().is_empty());
    let says = c.says.clone().filter(|s| !s.trim().is_empty());
    if id.is_none() {
        p.push(format!("{at}.id"), "required: a short name for the claim");
    }
    if says.is_none() {
        p.push(format!("{at}.says"), "required: the claim in words");
    }
    p.selector(&format!("{at}.runs"), &c.runs);
    let test = match c.kind.as_deref() {
        Some("order") => order_test(&c, at, p),
        Some("ratio") => ratio_test(&c, at, p),
        Some("figure") => figure_test(&c, at, p),
        Some(other) => {
            p.push(
                format!("{at}.kind"),
                format!("{other:?}; allowed: order, ratio, figure"),
            );
            None
        }
        None => {
            p.push(
                format!("{at}.kind"),
                "required; allowed: order, ratio, figure",
            );
            None
        }
    };
    Some(Claim {
        id: id?,
        says: says?,
        runs: c.runs,
        test: test?,
    })
}

/// Fields that belong to another kind of claim are mistakes, not silently ignored.
fn foreign(c: &RawClaim, kind: &str, at: &str, p: &mut Problems) {
    let present = [
        ("order", c.order.is_some(), "order"),
        ("per", c.per.is_some(), "order"),
        ("figure", c.figure.is_some(), "figure"),
        ("metric", c.metric.is_some(), "ratio"),
        ("of", c.of.is_some(), "ratio"),
        ("over", c.over.is_some(), "ratio"),
        ("matched_on", c.matched_on.is_some(), "ratio"),
        ("range", c.range.is_some(), "ratio"),
    ];
    for (field, set, owner) in present {
        if set && owner != kind {
            p.push(
                format!("{at}.{field}"),
                format!("belongs to kind = \"{owner}\", not \"{kind}\""),
            );
        }
    }
}

fn order_test(c: &RawClaim, at: &str, p: &mut Problems) -> Option<Test> {
    foreign(c, "order", at, p);
    let order = c.order.or_else(|| {
        p.push(
            format!("{at}.order"),
            "required; allowed: publish, ack_wire, ack_completion, storage, consume",
        );
        None
    });
    let expect = match c.expect.as_deref() {
        Some("preserved") => Some(OrderExpect::Preserved),
        Some("broken") => Some(OrderExpect::Broken),
        other => {
            p.push(
                format!("{at}.expect"),
                format!("{}allowed: preserved, broken", got(other)),
            );
            None
        }
    };
    Some(Test::Order {
        order: order?,
        per: c.per.unwrap_or_default(),
        expect: expect?,
    })
}

fn figure_test(c: &RawClaim, at: &str, p: &mut Problems) -> Option<Test> {
    foreign(c, "figure", at, p);
    let figure = c.figure.or_else(|| {
        p.push(
            format!("{at}.figure"),
            "required; allowed: lost, duplicates, unknown, failed, in_process, duplicate_acks, \
             redelivered, retry_reorders",
        );
        None
    });
    let expect = match c.expect.as_deref() {
        Some("zero") => Some(Zero::Zero),
        Some("nonzero") => Some(Zero::Nonzero),
        other => {
            p.push(
                format!("{at}.expect"),
                format!("{}allowed: zero, nonzero", got(other)),
            );
            None
        }
    };
    Some(Test::Figure {
        figure: figure?,
        expect: expect?,
    })
}

fn ratio_test(c: &RawClaim, at: &str, p: &mut Problems) -> Option<Test> {
    foreign(c, "ratio", at, p);
    if c.expect.is_some() {
        p.push(
            format!("{at}.expect"),
            "a ratio claim states its `range` instead",
        );
    }
    let metric = match c.metric.as_deref().map(Metric::parse) {
        Some(Ok(m)) => Some(m),
        Some(Err(e)) => {
            p.push(format!("{at}.metric"), e);
            None
        }
        None => {
            p.push(format!("{at}.metric"), "required, e.g. \"msgs_per_sec\"");
            None
        }
    };
    let side = |s: &Option<Selector>, name: &str, p: &mut Problems| -> Option<Selector> {
        match s {
            Some(s) => {
                p.selector(&format!("{at}.{name}"), s);
                Some(s.clone())
            }
            None => {
                p.push(
                    format!("{at}.{name}"),
                    "required: a selector, e.g. { mode = \"async\" }",
                );
                None
            }
        }
    };
    let of = side(&c.of, "of", p);
    let over = side(&c.over, "over", p);
    let range = match c.range.as_deref() {
        Some(&[lo, hi]) if lo.is_finite() && hi.is_finite() && 0.0 <= lo && lo <= hi => {
            Some((lo, hi))
        }
        _ => {
            p.push(
                format!("{at}.range"),
                "required: [low, high] with 0 <= low <= high, e.g. [3.0, 5.0]",
            );
            None
        }
    };
    Some(Test::Ratio {
        metric: metric?,
        of: Box::new(of?),
        over: Box::new(over?),
        matched_on: c
            .matched_on
            .clone()
            .unwrap_or_else(|| MatchField::DEFAULT.to_vec()),
        range: range?,
    })
}

fn got(v: Option<&str>) -> String {
    match v {
        Some(v) => format!("{v:?}; "),
        None => "required; ".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
title = "Q?"
[[claim]]
id = "a"
says = "one connection keeps order"
kind = "order"
order = "storage"
expect = "preserved"
runs = { strategy = "single", faults = "none" }

[[claim]]
id = "b"
says = "async is 3-5x faster"
kind = "ratio"
metric = "msgs_per_sec"
of = { mode = "async" }
over = { mode = "sync" }
range = [3, 5]

[[claim]]
id = "c"
says = "no duplicates"
kind = "figure"
figure = "duplicates"
expect = "zero"
"#;

    #[test]
    fn a_good_file_parses() {
        let f = parse(GOOD, "c.toml").unwrap();
        assert_eq!(f.claims.len(), 3);
        assert!(matches!(
            f.claims[1].test,
            Test::Ratio {
                range: (3.0, 5.0),
                ..
            }
        ));
        assert_eq!(
            f.table.mode,
            Some(crate::claims::select::OneOrMany::One("async".into()))
        );
    }

    #[test]
    fn every_problem_is_named_with_what_is_allowed() {
        let text = r#"
title = "Q?"
[[claim]]
id = "a"
says = "x"
kind = "order"
expect = "kept"
metric = "msgs_per_sec"
runs = { faults = "boom" }

[[claim]]
id = "a"
kind = "ratio"
metric = "latency.nope.p50"
of = { mode = "async" }
range = [5, 3]
"#;
        let e = parse(text, "c.toml").unwrap_err().to_string();
        for want in [
            "c.toml: claim[0].order: required; allowed: publish, ack_wire",
            "c.toml: claim[0].expect: \"kept\"; allowed: preserved, broken",
            "c.toml: claim[0].metric: belongs to kind = \"ratio\"",
            "c.toml: claim[0].runs.faults: unknown fault kind \"boom\"",
            "c.toml: claim[1].id: \"a\" is used twice",
            "c.toml: claim[1].says: required",
            "c.toml: claim[1].metric: \"latency.nope.p50\"; allowed: msgs_per_sec",
            "c.toml: claim[1].over: required",
            "c.toml: claim[1].range: required: [low, high]",
        ] {
            assert!(e.contains(want), "missing {want:?} in:\n{e}");
        }
    }

    #[test]
    fn unknown_fields_and_values_name_the_line() {
        let e = parse(
            "title = \"Q\"\n[[claim]]\nid = \"a\"\nbogus = 1\n",
            "c.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("c.toml:4: claim[0].bogus: unknown field"),
            "{e}"
        );
        let e = parse(
            "title = \"Q\"\n[[claim]]\nid = \"a\"\norder = \"sideways\"\n",
            "c.toml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("claim[0].order") && e.contains("publish"), "{e}");
    }
}
