//! `jsbench claims` on recorded results (`tests/fixtures/recorded/`: single sync, single /
//! round-robin / key-affine async, a pause with retries, a skewed pool): each outcome —
//! confirmed, refuted, inconclusive, not measured — comes out where the figures say, a claim
//! flips when its figure is tampered with (so none of them cannot fail), and the shipped
//! claims/publish-order.toml is judged from the same runs. No server needed.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn jsbench() -> Command {
    Command::new(env!("CARGO_BIN_EXE_jsbench"))
}

fn recorded() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/recorded")
}

/// Runs published through a client adapter (`tests/fixtures/clients/`): the recorded
/// single-async-none with a nats.go `client` object, no ack-wire order, and edited figures (acks
/// completed out of order, one definite failure found stored) so each claim has something to see.
fn clients() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/clients")
}

/// Runs `jsbench claims <file> <results…> --json out` and returns (exit code, stdout, answers).
fn judge(claims: &Path, results: &[PathBuf], extra: &[&str]) -> (i32, String, Value) {
    let d = tempfile::tempdir().unwrap();
    let json = d.path().join("answer.json");
    let out = jsbench()
        .arg("claims")
        .arg(claims)
        .args(results)
        .arg("--json")
        .arg(&json)
        .args(extra)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let answers = std::fs::read_to_string(&json)
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap_or_else(|_| panic!("no JSON written: {stdout}\n{stderr}"));
    (out.status.code().unwrap_or(-1), stdout, answers)
}

fn outcome<'a>(answers: &'a Value, id: &str) -> (&'a str, &'a str) {
    let j = answers[0]["judgements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["id"] == id)
        .unwrap_or_else(|| panic!("no judgement {id}"));
    (
        j["outcome"].as_str().unwrap(),
        j["figure"].as_str().unwrap(),
    )
}

const CLAIMS: &str = r#"
title = "Test claims"

[[claim]]
id = "single-keeps"
says = "a single connection keeps order"
kind = "order"
order = "storage"
expect = "preserved"
runs = { strategy = "single", faults = "none" }

[[claim]]
id = "single-breaks"
says = "a single connection breaks order (false)"
kind = "order"
order = "storage"
expect = "broken"
runs = { strategy = "single", faults = "none" }

[[claim]]
id = "pool-breaks"
says = "round robin breaks order"
kind = "order"
order = "storage"
expect = "broken"
runs = { strategy = "round_robin", faults = "none" }

[[claim]]
id = "async-faster"
says = "async is 1000-2000x faster (false)"
kind = "ratio"
metric = "msgs_per_sec"
of = { mode = "async" }
over = { mode = "sync" }
range = [1000.0, 2000.0]
runs = { faults = "none" }

[[claim]]
id = "async-faster-somewhat"
says = "async is 2-1000x faster"
kind = "ratio"
metric = "msgs_per_sec"
of = { mode = "async" }
over = { mode = "sync" }
range = [2.0, 1000.0]
runs = { faults = "none" }

[[claim]]
id = "no-loss"
says = "nothing acknowledged is lost"
kind = "figure"
figure = "lost"
expect = "zero"

[[claim]]
id = "keyed-consume"
says = "a keyed pool keeps order"
kind = "order"
order = "consume"
expect = "preserved"
runs = { consume = "keyed" }

[[claim]]
id = "consume-order-of-publishers"
says = "publishing runs measured a consume order"
kind = "order"
order = "consume"
expect = "preserved"
runs = { faults = "none" }
"#;

fn claims_file(dir: &Path) -> PathBuf {
    let p = dir.join("test.toml");
    std::fs::write(&p, CLAIMS).unwrap();
    p
}

#[test]
fn recorded_results_confirm_refute_and_leave_unmeasured() {
    let d = tempfile::tempdir().unwrap();
    let (code, stdout, answers) = judge(&claims_file(d.path()), &[recorded()], &[]);
    assert_eq!(code, 0, "{stdout}");
    let expect = [
        ("single-keeps", "confirmed"),
        ("single-breaks", "refuted"),
        ("pool-breaks", "confirmed"),
        ("async-faster", "refuted"),
        ("async-faster-somewhat", "confirmed"),
        ("no-loss", "confirmed"),
        ("keyed-consume", "not_measured"),
        ("consume-order-of-publishers", "not_measured"),
    ];
    for (id, want) in expect {
        let (got, figure) = outcome(&answers, id);
        assert_eq!(got, want, "{id}: {figure}\n{stdout}");
    }
    // Figures name what was measured and where.
    assert_eq!(
        outcome(&answers, "single-keeps").1,
        "0 of 40,000 late per key in 2 runs"
    );
    assert!(
        outcome(&answers, "pool-breaks")
            .1
            .contains("late per key (16/16 keys) in rr4-async-none"),
        "{}",
        outcome(&answers, "pool-breaks").1
    );
    assert!(outcome(&answers, "keyed-consume")
        .1
        .starts_with("no complete run matches consume = keyed"));
    assert!(outcome(&answers, "consume-order-of-publishers")
        .1
        .contains("none measured the consume order"));
    // The terminal answer: the order table, then the claims with their marks.
    assert!(stdout.contains("round-robin pool ×4"), "{stdout}");
    assert!(stdout.contains("❌ refuted"), "{stdout}");
    assert!(stdout.contains("➖ not measured"), "{stdout}");
    // --strict fails unless every claim is confirmed.
    let (code, _, _) = judge(&claims_file(d.path()), &[recorded()], &["--strict"]);
    assert_eq!(code, 1);
}

/// Copies the recorded runs, letting `edit` change one result.json by scenario name.
fn tampered(dir: &Path, scenario: &str, edit: impl Fn(&mut Value)) -> PathBuf {
    let root = dir.join("runs");
    for entry in std::fs::read_dir(recorded()).unwrap() {
        let from = entry.unwrap().path();
        let to = root.join(from.file_name().unwrap());
        std::fs::create_dir_all(&to).unwrap();
        for f in std::fs::read_dir(&from).unwrap() {
            let f = f.unwrap().path();
            std::fs::copy(&f, to.join(f.file_name().unwrap())).unwrap();
        }
        let result = to.join("result.json");
        let mut v: Value =
            serde_json::from_str(&std::fs::read_to_string(&result).unwrap()).unwrap();
        if v["scenario"]["name"] == scenario {
            edit(&mut v);
            std::fs::write(&result, serde_json::to_string(&v).unwrap()).unwrap();
        }
    }
    root
}

#[test]
fn a_claim_follows_its_figure() {
    let d = tempfile::tempdir().unwrap();
    // The pool kept its order after all: "breaks" is refuted.
    let runs = tampered(d.path(), "rr4-async-none", |v| {
        v["order"]["storage"]["late_per_key"] = 0.into();
        v["order"]["storage"]["late"] = 0.into();
    });
    let (_, _, answers) = judge(&claims_file(d.path()), &[runs], &[]);
    assert_eq!(outcome(&answers, "pool-breaks").0, "refuted");
    assert_eq!(
        outcome(&answers, "pool-breaks").1,
        "0 of 20,000 late per key in 1 run"
    );

    // A lost message refutes "nothing is lost" and is named.
    let d = tempfile::tempdir().unwrap();
    let runs = tampered(d.path(), "single-async-none", |v| {
        v["counts"]["lost"] = 3.into();
    });
    let (_, _, answers) = judge(&claims_file(d.path()), &[runs], &[]);
    assert_eq!(
        outcome(&answers, "no-loss"),
        (
            "refuted",
            "3 lost in single-async-none; non-zero in 1 of 6 runs"
        )
    );

    // A run that did not complete is left out, not judged.
    let d = tempfile::tempdir().unwrap();
    let runs = tampered(d.path(), "single-sync-none", |v| {
        v["status"] = "failed".into();
    });
    let (_, _, answers) = judge(&claims_file(d.path()), &[runs], &[]);
    let j = answers[0]["judgements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["id"] == "single-keeps")
        .unwrap();
    assert_eq!(j["left_out"], serde_json::json!(["single-sync-none"]));
    assert_eq!(j["figure"], "0 of 20,000 late per key in 1 run");
    // Without its sync run, no ratio can be formed.
    assert_eq!(outcome(&answers, "async-faster").0, "not_measured");
}

#[test]
fn repeats_give_an_interval_and_a_straddled_bound_is_inconclusive() {
    let d = tempfile::tempdir().unwrap();
    let single = recorded().join("20261127T115755Z-single-async-none/result.json");
    let sync = recorded().join("20261127T115747Z-single-sync-none/result.json");
    let base: Value = serde_json::from_str(&std::fs::read_to_string(&single).unwrap()).unwrap();
    let sync_v: Value = serde_json::from_str(&std::fs::read_to_string(&sync).unwrap()).unwrap();
    let s = sync_v["throughput"]["msgs_per_sec"].as_f64().unwrap();
    // Three async repeats at 8×, 10× and 12× the sync rate, three sync repeats at the same rate.
    let mut paths = Vec::new();
    for (k, (v, factor)) in [(&base, 8.0), (&base, 10.0), (&base, 12.0)]
        .into_iter()
        .chain([(&sync_v, 1.0), (&sync_v, 1.0), (&sync_v, 1.0)])
        .enumerate()
    {
        let mut v = v.clone();
        v["throughput"]["msgs_per_sec"] = (s * factor).into();
        v["scenario"]["repetition"] = ((k % 3) as u64 + 1).into();
        let dir = d.path().join(format!("run{k}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("result.json"), v.to_string()).unwrap();
        paths.push(dir);
    }
    let claims = d.path().join("c.toml");
    std::fs::write(
        &claims,
        "title = \"t\"\n[[claim]]\nid = \"r\"\nsays = \"async is 9-20x faster\"\nkind = \"ratio\"\n\
         metric = \"msgs_per_sec\"\nof = { mode = \"async\" }\nover = { mode = \"sync\" }\n\
         range = [9.0, 20.0]\n",
    )
    .unwrap();
    let (_, _, answers) = judge(&claims, &paths, &[]);
    let (got, figure) = outcome(&answers, "r");
    assert_eq!(got, "inconclusive", "{figure}");
    assert!(figure.contains("single 10.0× [8.00–12.0]"), "{figure}");
}

#[test]
fn the_shipped_claims_are_judged_from_recorded_runs() {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../claims/publish-order.toml");
    let (code, stdout, answers) = judge(&shipped, &[recorded()], &[]);
    assert_eq!(code, 0, "{stdout}");
    assert_eq!(outcome(&answers, "single-keeps-order").0, "confirmed");
    assert_eq!(outcome(&answers, "pool-breaks-order").0, "confirmed");
    assert_eq!(outcome(&answers, "key-affine-keeps-order").0, "confirmed");
    // Recorded before the publish call was timed, and without a consume side.
    assert_eq!(
        outcome(&answers, "async-latency-lower-call").0,
        "not_measured"
    );
    assert_eq!(
        outcome(&answers, "keyed-pool-keeps-order").0,
        "not_measured"
    );
    let table = &answers[0]["table"]["rows"];
    assert_eq!(table.as_array().unwrap().len(), 3, "{table}");
}

#[test]
fn a_bad_claims_file_names_file_field_and_allowed_values() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("bad.toml");
    std::fs::write(
        &p,
        "title = \"t\"\n[[claim]]\nid = \"a\"\nsays = \"x\"\nkind = \"order\"\norder = \"storage\"\nexpect = \"kept\"\n",
    )
    .unwrap();
    let out = jsbench()
        .arg("claims")
        .arg(&p)
        .arg(recorded())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml: claim[0].expect: \"kept\"; allowed: preserved, broken"),
        "{err}"
    );
}

#[test]
fn the_answer_replaces_a_marked_block() {
    let d = tempfile::tempdir().unwrap();
    let doc = d.path().join("README.md");
    std::fs::write(
        &doc,
        "# x\n<!-- jsbench:answer:begin -->\nold\n<!-- jsbench:answer:end -->\ntail\n",
    )
    .unwrap();
    let out = jsbench()
        .arg("claims")
        .arg(claims_file(d.path()))
        .arg(recorded())
        .arg("--update")
        .arg(&doc)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = std::fs::read_to_string(&doc).unwrap();
    assert!(!text.contains("old"), "{text}");
    assert!(text.contains("| single connection |"), "{text}");
    assert!(
        text.ends_with("<!-- jsbench:answer:end -->\ntail\n"),
        "{text}"
    );
    let no_markers = d.path().join("plain.md");
    std::fs::write(&no_markers, "nothing\n").unwrap();
    let out = jsbench()
        .arg("claims")
        .arg(claims_file(d.path()))
        .arg(recorded())
        .arg("--update")
        .arg(&no_markers)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

const CLIENT_CLAIMS: &str = r#"
title = "Clients"

[[claim]]
id = "go-acks-out-of-order"
says = "nats.go acks may complete out of order"
kind = "order"
order = "ack_completion"
expect = "broken"
runs = { client = "nats.go", strategy = "single", mode = "async", faults = "none" }

[[claim]]
id = "async-nats-acks-in-order"
says = "async-nats completes acks in order on one connection"
kind = "order"
order = "ack_completion"
expect = "preserved"
runs = { client = "async-nats", strategy = "single", mode = "async", faults = "none" }

[[claim]]
id = "c-acks"
says = "nats.c acks in order"
kind = "order"
order = "ack_completion"
expect = "preserved"
runs = { client = ["nats.c", "nats.py"] }

[[claim]]
id = "no-definite-but-stored"
says = "a correct client never reports definite failure for a stored message"
kind = "figure"
figure = "definite_but_stored"
expect = "zero"
"#;

#[test]
fn a_client_selector_picks_runs_by_client_name() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("clients.toml");
    std::fs::write(&p, CLIENT_CLAIMS).unwrap();
    let (code, stdout, answers) = judge(&p, &[recorded(), clients()], &[]);
    assert_eq!(code, 0, "{stdout}");
    let (o, figure) = outcome(&answers, "go-acks-out-of-order");
    assert_eq!(o, "confirmed", "{figure}");
    assert!(figure.contains("single-async-none"), "{figure}");
    // Results without a `client` object count as async-nats: only the recorded run is judged.
    assert_eq!(
        outcome(&answers, "async-nats-acks-in-order"),
        ("confirmed", "0 of 20,000 late per key in 1 run")
    );
    // The nats.go fixture has one definite failure found stored; older results read theirs
    // from failed_but_stored (0 in every recorded run).
    assert_eq!(
        outcome(&answers, "no-definite-but-stored"),
        (
            "refuted",
            "1 definite failures stored in single-async-none; non-zero in 1 of 7 runs"
        )
    );
    let (o, figure) = outcome(&answers, "c-acks");
    assert_eq!(o, "not_measured", "{figure}");
    assert!(
        figure.starts_with("no complete run matches client = [\"nats.c\",\"nats.py\"]"),
        "{figure}"
    );

    // An unknown client name is a usage error naming the field and the allowed names.
    std::fs::write(&p, CLIENT_CLAIMS.replace("\"nats.c\", ", "\"nats.rs\", ")).unwrap();
    let out = jsbench()
        .arg("claims")
        .arg(&p)
        .arg(clients())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("claim[2].runs.client: unknown client \"nats.rs\"; allowed: async-nats, nats.go, nats.c, nats.py"),
        "{err}"
    );
}

#[test]
fn the_order_table_has_a_group_of_rows_per_client() {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../claims/publish-order.toml");
    let (_, stdout, alone) = judge(&shipped, &[recorded()], &[]);
    let (_, _, mixed) = judge(&shipped, &[recorded(), clients()], &[]);
    let rows = mixed[0]["table"]["rows"].as_array().unwrap();
    // The in-process rows come first and read exactly as without the adapter run.
    let before = alone[0]["table"]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), before.len() + 1, "{stdout}");
    assert_eq!(&rows[..before.len()], before.as_slice());
    let go = &rows[before.len()];
    assert_eq!(go["label"], "single connection · nats.go");
    assert_eq!(go["client"], "nats.go");
    // Columns: publish, ack on the wire, ack completion, storage, consume. Through an adapter
    // the wire order is not measured.
    assert!(go["cells"][1].is_null(), "{go}");
    // The ack-completion claim says per client which one broke the order.
    let (o, figure) = outcome(&mixed, "acks-out-of-order");
    assert_eq!(o, "confirmed", "{figure}");
    assert!(
        figure.contains("per client: async-nats ✓ 0 of 20,000; nats.go ✗"),
        "{figure}"
    );
    assert!(!outcome(&alone, "acks-out-of-order")
        .1
        .contains("per client"));
    assert_eq!(go["cells"][2]["preserved"], false, "{go}");
    assert_eq!(go["cells"][3]["preserved"], true, "{go}");
    assert!(before.iter().all(|r| r.get("client").is_none()));
}
