//! The streaming checkers against today's end-of-run checkers, on every shipped scenario
//! (issue 24: "streaming and end-of-run figures are equal on every shipped scenario").
//!
//! Each scenario of scenarios/, scenarios/adapters/, scenarios/disk/ and scenarios/soak/ runs
//! for 3 s (`--duration 3s`: faults starting at 2 s or earlier are injected, later ones not),
//! on the process backend, with the follower on (`--follow on`) and `--cross-check`: the run
//! also reads the whole stream back at the end and judges it with the end-of-run checkers. The
//! result's `streaming.cross_check` must say `equal`, and what the follower read during and
//! after the run must add up to what the full read-back read. A run may fall back to the full
//! read-back only when the stream went back under it (power loss, truncation): its result says
//! so, and the test checks that it did so only on a disk-fault scenario.
//! Scenarios written with `rate = "max"` are paced at [`PACED`] msgs/s here: the figures are
//! compared, not the speed, and unpaced runs would keep the 2 cores busy publishing. Five runs
//! at a time: most of a short paced run is waiting (server start, settle, drain).

mod common;

use std::path::PathBuf;
use std::time::Duration;

use futures::StreamExt;
use jsbench::scenario::{self, Follow, Overrides, Plan, Rate, Warmup};
use jsbench::server::Backend;
use serde_json::Value;

/// The rate a scenario written with `rate = "max"` is paced at in this test.
const PACED: u64 = 4_000;

const DIRS: [&str; 4] = [
    "scenarios",
    "scenarios/adapters",
    "scenarios/disk",
    "scenarios/soak",
];

fn shipped() -> Vec<Plan> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let o = Overrides {
        backend: Some(Backend::Process),
        duration: Some(Duration::from_secs(3)),
        warmup: Some(Warmup::Messages(200)),
        seed: Some(24),
        follow: Some(Follow::On),
        cross_check: true,
        ..Default::default()
    };
    let mut plans = Vec::new();
    for d in DIRS {
        for f in scenario::files_in(&root.join(d)).expect("scenario dir") {
            let mut plan =
                scenario::load(&f, &o).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            if plan.workload.rate == Rate::Max {
                plan.workload.rate = Rate::PerSec(PACED);
            }
            plans.push(plan);
        }
    }
    plans
}

/// One run's streaming section judged: `Ok(summary)` or what is wrong with it.
fn judge(plan: &Plan, report: &Value) -> Result<String, String> {
    let s = &report["streaming"];
    let count = |v: &Value, what: &str| v.as_u64().ok_or(format!("no {what} in {s}"));
    let during = count(&s["read_during_run"], "read_during_run")?;
    let after = count(&s["read_after_run"], "read_after_run")?;
    if let Some(why) = s["fallback"].as_str() {
        return match plan.server_spec().faultfs {
            true => Ok(format!("fell back ({why})")),
            false => Err(format!("fell back to the whole read-back: {why}")),
        };
    }
    let cc = &s["cross_check"];
    if cc["against"] != "read_back" || cc["equal"] != Value::Bool(true) {
        return Err(format!("streaming and end-of-run figures differ: {cc}"));
    }
    let read = count(&report["read_back"]["read"], "read_back.read")?;
    if during + after != read {
        return Err(format!(
            "the follower read {during} + {after} copies, the whole read-back {read}"
        ));
    }
    Ok(format!(
        "equal; {during} read during the run, {after} after"
    ))
}

#[tokio::test]
async fn streaming_figures_equal_end_of_run_figures_on_every_shipped_scenario() {
    let plans = shipped();
    assert!(
        plans.len() >= 60,
        "only {} shipped scenarios found",
        plans.len()
    );
    let results: Vec<(String, Result<String, String>)> = futures::stream::iter(plans.iter())
        .map(|plan| async move {
            let (out, _dir) = common::run(plan).await;
            let report = serde_json::to_value(&out.report).expect("report as json");
            (plan.name.clone(), judge(plan, &report))
        })
        .buffer_unordered(5)
        .collect()
        .await;
    for (name, r) in &results {
        println!("{name}: {r:?}");
    }
    let bad: Vec<String> = results
        .iter()
        .filter_map(|(name, r)| r.as_ref().err().map(|w| format!("{name}: {w}")))
        .collect();
    // Following during the run must have happened somewhere, not only in the tail.
    assert!(
        results
            .iter()
            .any(|(_, r)| r.as_ref().is_ok_and(|s| !s.contains("; 0 read during"))),
        "no run read anything while it went on"
    );
    assert!(
        bad.is_empty(),
        "{} of {} scenarios:\n{}",
        bad.len(),
        results.len(),
        bad.join("\n")
    );
}

/// The stream going back under the follower (a power loss with a lazy fsync drops acknowledged
/// messages it had read): the run falls back to a whole read-back, says why, and its figures
/// are the read-back's (the losses counted, not the follower's stale copies).
#[tokio::test]
async fn a_stream_that_goes_back_under_the_follower_is_read_back_whole() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let o = Overrides {
        backend: Some(Backend::Process),
        seed: Some(24),
        follow: Some(Follow::On),
        ..Default::default()
    };
    let file = root.join("scenarios/disk/r1-power-loss-lazy.toml");
    let plan = scenario::load(&file, &o).expect("shipped scenario");
    let (out, _dir) = common::run(&plan).await;
    let r = &out.report;
    let s = r.streaming.as_ref().expect("a streaming section");
    assert!(s.follow.regressed, "{s:?}");
    assert!(
        s.fallback
            .as_deref()
            .is_some_and(|f| f.contains("went back")),
        "{s:?}"
    );
    assert_eq!(s.figures_from, jsbench::result::FiguresFrom::ReadBack);
    let rb = r.read_back.as_ref().expect("the whole read-back ran");
    let c = &r.counts;
    assert_eq!(c.stored, Some(rb.read), "{c:?}");
    assert!(
        c.lost.is_some_and(|l| l > 0),
        "a lazy fsync loses acked data: {c:?}"
    );
    assert!(r
        .status_reason
        .as_deref()
        .is_some_and(|w| w.contains("fell back")));
}

/// A following run without faults keeps no read-back: its storage figures are the streaming
/// checkers', and the run is complete with nothing lost.
#[tokio::test]
async fn a_run_judged_by_the_follower_alone_is_complete() {
    let text = "name = \"follow-alone\"\n[server]\nbackend = \"process\"\n\
                [workload]\nmessages = 20000\nkeys = 8\n[observe]\nfollow = \"on\"\n";
    let (out, _dir) = common::run_text(text).await;
    let r = &out.report;
    common::assert_complete(r);
    common::assert_nothing_lost(r);
    let s = r.streaming.as_ref().expect("a streaming section");
    assert_eq!(s.figures_from, jsbench::result::FiguresFrom::Follower);
    assert_eq!((s.fallback.as_ref(), s.cross_check.as_ref()), (None, None));
    assert_eq!(s.follow.read_during_run + s.follow.read_after_run, 20_000);
    assert!(r.read_back.is_none(), "no whole read-back");
    assert_eq!(r.order.storage_source, "follower");
    let storage = r.order.storage.expect("storage order");
    assert_eq!(storage.messages, 20_000);
}
