//! Assembling the report: the run's identity and environment, its status, the analysis, the
//! artifacts and the verdicts, in the shape of result.json.

use serde_json::json;

use super::{analysis, artifacts, status, Facts, Measured, RunStart};
use crate::checker::{self, Evidence, Verdict};
use crate::result::{self, Report, RunStatus, ScenarioInfo, StreamInfo};
use crate::scenario::Plan;

/// The report of a run: failed (nothing measured, `Err` with why) or measured.
pub(super) fn assemble(
    start: &RunStart,
    plan: &Plan,
    facts: Facts,
    outcome: Result<Measured, String>,
) -> Report {
    let mut notes = facts.notes.clone();
    let mut report = skeleton(start, plan, facts);
    let m = match outcome {
        Err(reason) => {
            notes.insert(0, reason);
            return failed(report, plan, notes);
        }
        Ok(m) => m,
    };
    let st = status::of(plan, &m);
    report.status = st.status;
    notes.splice(0..0, st.first);
    notes.extend(st.notes);
    let a = analysis::analyse(plan, &m);
    let files = artifacts::write(&start.dir, start.started, &m, &a);
    notes.extend(a.notes.iter().cloned());
    notes.extend(files.notes);
    report.files = files.files;
    report.counts = a.counts;
    report.throughput = a.throughput;
    report.latency_us = a.latency_us;
    report.order = a.orders;
    report.safety = a.safety;
    report.retry = a.retry;
    report.faults = a.faults;
    report.consume = a.consume;
    report.read_back = m.read_back_check.clone();
    report.streaming = a.streaming.clone();
    notes.extend(a.streaming.iter().flat_map(super::streaming::notes));
    report.replies = Some(a.replies);
    report.cluster = a.cluster;
    report.batches = a.batches;
    report.fast = a.fast;
    if plan.server_spec().faultfs {
        let survey = m.cluster.as_ref().and_then(|c| c.replicas.as_ref());
        let starts_ms: Vec<f64> = report
            .faults
            .iter()
            .filter(|f| f.window.kind == crate::nemesis::FaultKind::PowerLoss)
            .map(|f| f.window.start_ms)
            .collect();
        let losses = checker::PowerLossTimes {
            origin_ns: m.nemesis_origin_ns,
            starts_ms: &starts_ms,
        };
        report.durability = Some(checker::durability(
            &m.history,
            report.safety.as_ref(),
            survey.or(m.disk_survey.as_ref()),
            m.read_back.as_ref(),
            losses,
        ));
    }
    report.errors = m.history.errors.clone();
    report.workers = m.workers.clone();
    judge(&mut report, plan, st.complete);
    if !notes.is_empty() {
        report.status_reason = Some(notes.join("; "));
    }
    // After the checkers: their working memory is part of the peak.
    report.resources = result::Resources {
        peak_rss_bytes: result::Resources::current().peak_rss_bytes,
        ..a.resources
    };
    report
}

/// A report that knows who ran what, where, and nothing measured yet.
fn skeleton(start: &RunStart, plan: &Plan, facts: Facts) -> Report {
    Report {
        schema: result::SCHEMA.to_string(),
        status: RunStatus::Complete,
        status_reason: None,
        run_id: start.run_id.clone(),
        started_at: start.started_iso.clone(),
        finished_at: start.finished_iso(),
        scenario: ScenarioInfo {
            name: plan.name.clone(),
            description: plan.description.clone(),
            file: plan.file.as_ref().map(|f| f.display().to_string()),
            repetition: plan.repetition,
            plan: serde_json::to_value(plan).unwrap_or(json!(null)),
        },
        stream: StreamInfo {
            name: facts.stream_name,
            subjects: facts.subjects,
            storage: format!("{:?}", plan.stream.storage).to_lowercase(),
            replicas: plan.stream.replicas,
            kept: facts.stream_kept,
        },
        seed: plan.seed,
        environment: facts.environment,
        client: Some(facts.client),
        counts: Default::default(),
        throughput: Default::default(),
        latency_us: Default::default(),
        order: Default::default(),
        safety: None,
        errors: Default::default(),
        verdicts: Vec::new(),
        verdict: Verdict::Unknown,
        files: Default::default(),
        resources: result::Resources::current(),
        faults: Vec::new(),
        retry: None,
        consume: None,
        read_back: None,
        streaming: None,
        replies: None,
        cluster: None,
        durability: None,
        workers: Vec::new(),
        batches: None,
        fast: None,
    }
}

/// Nothing was measured: the status says why, and every claim is "not measured".
fn failed(mut report: Report, plan: &Plan, notes: Vec<String>) -> Report {
    report.status = RunStatus::Failed;
    report.status_reason = Some(notes.join("; "));
    judge(&mut report, plan, false);
    report
}

/// The scenario's claims against the report's figures; a run without claims has none to judge.
fn judge(report: &mut Report, plan: &Plan, complete: bool) {
    let evidence = Evidence {
        ack_wire: report.order.ack_wire.as_ref(),
        ack_completion: report.order.ack_completion.as_ref(),
        storage: report.order.storage.as_ref(),
        safety: report.safety.as_ref(),
        published: report.counts.published,
        acked: report.counts.acked,
        unknown: report.counts.unknown,
        retry: report.retry.as_ref(),
        consume: report.order.consume.as_ref(),
        consume_figures: report.consume.as_ref().map(|c| &c.figures),
        replicas_diverged: report
            .cluster
            .as_ref()
            .and_then(|c| c.replicas.as_ref())
            .map(|r| u64::from(!r.agree)),
        leader_changes: report.cluster.as_ref().map(|c| c.leader_changes as u64),
        // Overtaking is judged on the wire order, which an adapter cannot show.
        overtaken: report
            .replies
            .as_ref()
            .filter(|_| plan.client.is_in_process())
            .map(|r| r.overtaken.any),
        in_process: report
            .replies
            .as_ref()
            .map(|r| r.errors.get("10158").copied().unwrap_or(0)),
        batches_broken: report.batches.as_ref().map(|b| b.broken()),
        rejected: report.counts.rejected,
        complete,
    };
    report.verdicts = checker::judge(&plan.expect, &evidence);
    report.verdict = Verdict::combine(report.verdicts.iter().map(|v| v.verdict));
}
