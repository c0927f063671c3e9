//! Validation: turns a parsed [`Scenario`] into a [`Plan`], one function per section, each in
//! its own file. Every function reports its problems to the shared [`Checker`] and returns a
//! usable value anyway, so one pass reports every problem of a file.
//!
//! Sections are checked in file order; a check that needs another section's value is made in
//! the later section (replicas need the backend, consume needs the read-back, faults need the
//! connection count) and gets that value as an argument.

use super::error::Checker;
use super::{NemesisPlan, Overrides, Plan, Scenario, ScenarioError};

mod client;
mod connections;
mod consume;
mod expect;
mod faults;
mod nemesis;
mod observe;
mod publish;
mod server;
mod stream;
mod workload;

/// Default bound on the messages of a duration-bound run (`workload.max_messages`).
pub const DEFAULT_MAX_MESSAGES: u64 = 50_000_000;

/// Turns a parsed scenario into a Plan, reporting every problem at once.
pub fn validate(s: &Scenario, file: &str, o: &Overrides) -> Result<Plan, ScenarioError> {
    let mut c = Checker::new(file);
    let name = name(&mut c, s.name.as_deref());
    let server = server::validate(&mut c, &s.server, o);
    let stream = stream::validate(
        &mut c,
        &s.stream,
        (server.backend, server.nodes),
        o.keep_stream,
    );
    let mut connections = connections::validate(&mut c, &s.connections, server.nodes);
    let publish = publish::validate(&mut c, &s.publish);
    let client = client::validate(&mut c, &s.client, &publish, &server);
    let workload = workload::validate(&mut c, &s.workload, o, publish.wire);
    let observe = observe::validate(&mut c, &s.observe, o, workload.amount);
    expect::validate(
        &mut c,
        &s.expect,
        observe.read_back,
        s.consume.is_some(),
        server.nodes > 1 && server.backend != crate::server::Backend::External,
    );
    let consume = s
        .consume
        .as_ref()
        .map(|cs| consume::validate(&mut c, cs, observe.read_back));
    // The seed is fixed before the faults: fractional fault targets are drawn from it. 63
    // bits, so schedule.toml (and any scenario) can write it: TOML integers are signed.
    let seed = o
        .seed
        .or(s.seed)
        .unwrap_or_else(|| rand::random::<u64>() & i64::MAX as u64);
    let context = faults::Context {
        backend: server.backend,
        nodes: server.nodes,
        connections: connections.count,
        seed,
    };
    // `[nemesis]` draws `[[faults]]` entries, validated as if written.
    let (nemesis, drawn) = match &s.nemesis {
        Some(n) => {
            let (spec, drawn) =
                nemesis::validate(&mut c, n, !s.faults.is_empty(), workload.amount, &context);
            (Some(NemesisPlan::new(spec, &drawn)), drawn)
        }
        None => (None, Vec::new()),
    };
    let written = if s.nemesis.is_some() {
        &drawn
    } else {
        &s.faults
    };
    let faults = faults::validate(&mut c, written, context);
    connections.proxy = connections::proxied(&mut c, &s.connections, &faults);
    c.finish(Plan {
        name,
        description: s.description.clone(),
        file: None,
        seed,
        server,
        stream,
        connections,
        publish,
        workload,
        observe,
        expect: s.expect.clone(),
        faults,
        nemesis,
        consume,
        client,
        repetition: None,
    })
}

/// The scenario's `name` (it names the run's results).
fn name(c: &mut Checker, name: Option<&str>) -> String {
    match name {
        None => {
            c.err(
                "name",
                "is required (letters, digits, '-' and '_', at most 64)",
            );
            String::new()
        }
        Some(n) if !is_valid_name(n) => {
            c.err(
                "name",
                format!("{n:?} is not allowed: use letters, digits, '-' and '_' (at most 64)"),
            );
            n.to_string()
        }
        Some(n) => n.to_string(),
    }
}

/// Names of scenarios and faults: safe in file names and reports.
fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// "512MiB", "2GB", "1024" → bytes.
fn parse_bytes(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().ok()?;
    let mult: u64 = match unit.trim() {
        "" | "B" => 1,
        "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mult).filter(|b| *b > 0)
}
