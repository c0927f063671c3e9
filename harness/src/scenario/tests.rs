//! Scenario parsing and validation, end to end: text in, a Plan or field errors out.

use super::*;
use crate::nemesis::FaultDirection;

pub(super) fn errs(text: &str) -> Vec<FieldError> {
    parse(text, "t.toml", &Overrides::default())
        .expect_err("should fail")
        .errors
}

pub(super) const MIN: &str = "name = \"x\"\n[workload]\nmessages = 10\n";

/// The message of the error about `field`; panics (listing them all) when there is none.
pub(super) fn message_for(e: &[FieldError], field: &str) -> String {
    e.iter()
        .find(|x| x.field == field)
        .unwrap_or_else(|| panic!("no error for {field}: {e:?}"))
        .message
        .clone()
}

#[test]
fn minimal_scenario_gets_defaults() {
    let p = parse(MIN, "t.toml", &Overrides::default()).unwrap();
    assert_eq!(p.connections.strategy, Strategy::Single);
    assert_eq!(p.connections.count, 1);
    assert_eq!(p.publish.mode, Mode::Async);
    assert_eq!(p.publish.max_in_flight, 10_000);
    assert_eq!(p.workload.amount, Amount::Messages(10));
    assert_eq!(p.workload.keys, 16);
    assert_eq!(p.stream.duplicate_window, Duration::from_secs(120));
    assert_eq!(p.server.backend, Backend::Auto);
}

#[test]
fn unknown_field_names_path_and_line() {
    let e =
        errs("name = \"x\"\n[publish]\nmode = \"async\"\nwindow = 3\n[workload]\nmessages = 1\n");
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].field, "publish.window");
    assert_eq!(e[0].line, Some(4));
    assert!(e[0].message.contains("max_in_flight"), "{}", e[0].message);
    assert!(e[0].to_string().starts_with("t.toml:4: publish.window: "));
}

#[test]
fn bad_enum_value_lists_allowed() {
    let e = errs("name = \"x\"\n[publish]\nmode = \"asyn\"\n[workload]\nmessages = 1\n");
    assert_eq!(e[0].field, "publish.mode");
    assert!(e[0].message.contains("sync") && e[0].message.contains("async"));
}

#[test]
fn semantic_errors_are_all_reported() {
    let e = errs(
        "name = \"bad name\"\n[connections]\nstrategy = \"single\"\ncount = 4\n[publish]\nack_timeout = \"soon\"\n[workload]\nmessages = 1\nduration = \"1s\"\nrate = -5\n",
    );
    let fields: Vec<&str> = e.iter().map(|e| e.field.as_str()).collect();
    assert!(fields.contains(&"name"), "{fields:?}");
    assert!(fields.contains(&"connections.count"), "{fields:?}");
    assert!(fields.contains(&"publish.ack_timeout"), "{fields:?}");
    assert!(fields.contains(&"workload"), "{fields:?}");
    assert!(fields.contains(&"workload.rate"), "{fields:?}");
}

#[test]
fn external_needs_url_and_replicas_need_cluster() {
    let e = errs("name = \"x\"\n[server]\nbackend = \"external\"\n[workload]\nmessages = 1\n");
    assert_eq!(e[0].field, "server.url");
    let e = errs("name = \"x\"\n[stream]\nreplicas = 3\n[workload]\nmessages = 1\n");
    assert_eq!(e[0].field, "stream.replicas");
}

#[test]
fn overrides_replace_amount_and_backend() {
    let o = Overrides {
        duration: Some(Duration::from_secs(3)),
        server_url: Some("nats://127.0.0.1:4222".into()),
        ..Default::default()
    };
    let p = parse(MIN, "t.toml", &o).unwrap();
    assert_eq!(p.workload.amount, Amount::Duration(Duration::from_secs(3)));
    assert_eq!(p.server.backend, Backend::External);
}

#[test]
fn more_messages_than_max_messages_says_to_raise_it() {
    // `--messages 100000000` with the default bound (50M): the error names the bound and how to
    // raise it, not only a range; raised, the same count is a plan.
    let o = Overrides {
        messages: Some(100_000_000),
        ..Default::default()
    };
    let e = parse(MIN, "t.toml", &o)
        .expect_err("above the bound")
        .errors;
    let m = message_for(&e, "workload.messages");
    assert!(
        m.contains("workload.max_messages (50000000)") && m.contains("raise"),
        "{m}"
    );
    let raised = "name = \"x\"\n[workload]\nmessages = 10\nmax_messages = 200000000\n";
    let p = parse(raised, "t.toml", &o).unwrap();
    assert_eq!(p.workload.amount, Amount::Messages(100_000_000));
}

#[test]
fn rate_warmup_and_sizes() {
    let p = parse(
        "name = \"x\"\n[stream]\nmax_bytes = \"1GiB\"\n[workload]\nmessages = 5\nrate = 1000\nwarmup = \"2s\"\n",
        "t.toml",
        &Overrides::default(),
    )
    .unwrap();
    assert_eq!(p.workload.rate, Rate::PerSec(1000));
    assert_eq!(p.workload.warmup, Warmup::Duration(Duration::from_secs(2)));
    assert_eq!(p.stream.max_bytes, 1 << 30);
}

#[test]
fn seed_is_fixed_when_absent() {
    let a = parse(MIN, "t.toml", &Overrides::default()).unwrap();
    let with = format!("seed = 7\n{MIN}");
    let b = parse(&with, "t.toml", &Overrides::default()).unwrap();
    assert_eq!(b.seed, 7);
    let _ = a.seed; // drawn at random, but present
}

#[test]
fn faults_and_retry_validate() {
    let p = parse(
        "name = \"x\"\n[publish]\nmsg_id = true\n[publish.retry]\nattempts = 4\nbackoff = \"50ms\"\n\
         [connections]\nstrategy = \"round_robin\"\ncount = 4\n[workload]\nduration = \"5s\"\n\
         [[faults]]\nkind = \"latency\"\ntarget = [1, 3]\ndirection = \"upstream\"\nlatency = \"2ms\"\n\
         [[faults]]\nname = \"freeze\"\nkind = \"pause\"\nstart = \"1s\"\nduration = \"500ms\"\nrepeat = 3\nevery = \"1s\"\n\
         [[faults]]\nkind = \"down\"\ntarget = 0.5\nstart = \"2s\"\nduration = \"1s\"\n",
        "t.toml",
        &Overrides::default(),
    )
    .unwrap();
    assert!(
        p.connections.proxy,
        "network faults route connections through proxies"
    );
    assert_eq!(p.publish.retry.attempts, 4);
    assert_eq!(p.publish.retry.backoff_after(1), Duration::from_millis(50));
    assert_eq!(p.publish.retry.backoff_after(3), Duration::from_millis(200));
    assert_eq!(p.faults.len(), 3);
    assert_eq!(p.faults[0].name, "latency-1");
    assert_eq!(p.faults[0].connections, vec![1, 3]);
    assert_eq!(
        p.faults[0].fault.direction(),
        Some(FaultDirection::Upstream)
    );
    assert_eq!(p.faults[1].schedule.occurrences().len(), 3);
    assert_eq!(p.faults[2].connections.len(), 2, "half of 4 connections");
    // Fractions are drawn from the seed: the same seed picks the same connections.
    let again = parse(
        "name = \"x\"\nseed = 5\n[connections]\nstrategy = \"round_robin\"\ncount = 8\n[workload]\nmessages = 1\n[[faults]]\nkind = \"timeout\"\ntarget = 0.25\n",
        "t.toml",
        &Overrides::default(),
    )
    .unwrap();
    let twice = parse(
        "name = \"x\"\nseed = 5\n[connections]\nstrategy = \"round_robin\"\ncount = 8\n[workload]\nmessages = 1\n[[faults]]\nkind = \"timeout\"\ntarget = 0.25\n",
        "t.toml",
        &Overrides::default(),
    )
    .unwrap();
    assert_eq!(again.faults[0].connections, twice.faults[0].connections);
    assert_eq!(again.faults[0].connections.len(), 2);
}

#[test]
fn a_boolean_claim_set_to_false_says_what_to_write_instead() {
    let e = errs(
        "name = \"x\"\n[workload]\nmessages = 1\n[consume]\n\
         [expect]\nno_loss = false\nno_duplicates = false\nall_acked = false\nall_processed = false\n",
    );
    let find = |field: &str| message_for(&e, field);
    assert!(find("expect.no_loss").contains("lost = \"some\""));
    assert!(find("expect.no_duplicates").contains("duplicates = \"some\""));
    assert!(find("expect.all_acked").contains("unacked = \"some\""));
    assert!(find("expect.all_processed").contains("unprocessed = \"some\""));
    assert_eq!(e.len(), 4, "{e:?}");
    // The claims it points to are accepted.
    let ok = "name = \"x\"\n[workload]\nmessages = 1\n[consume]\n\
              [expect]\nlost = \"some\"\nunacked = \"none\"\nunprocessed = \"some\"\n";
    let plan = parse(ok, "x.toml", &Overrides::default()).expect("valid");
    assert_eq!(plan.expect.lost, Some(Presence::Some));
}

#[test]
fn fault_errors_name_the_field_and_what_is_allowed() {
    let e = errs(
        "name = \"x\"\n[server]\nbackend = \"external\"\nurl = \"nats://127.0.0.1:4222\"\n[workload]\nmessages = 1\n\
         [[faults]]\nkind = \"kill\"\nstart = \"1s\"\nduration = \"1s\"\n\
         [[faults]]\nkind = \"reset_peer\"\ndirection = \"upstream\"\n\
         [[faults]]\nkind = \"latency\"\ntarget = 9\n\
         [[faults]]\nkind = \"pause\"\nstart = \"1s\"\nduration = \"1s\"\nrepeat = 2\n\
         [[faults]]\nkind = \"timeout\"\nlatency = \"1ms\"\n",
    );
    let find = |field: &str| message_for(&e, field);
    let kill = find("faults[0].kind");
    assert!(kill.contains("kill") && kill.contains("external"), "{kill}");
    assert!(find("faults[1].direction").contains("latency, bandwidth, slicer and timeout"));
    assert!(find("faults[1].start").contains("required"));
    assert!(find("faults[2].latency").contains("required"));
    assert!(find("faults[2].target").contains("connection index"));
    assert!(find("faults[3].every").contains("repeat > 1"));
    assert!(find("faults[4].latency").contains("kind = \"latency\""));
    let e = errs("name = \"x\"\n[workload]\nmessages = 1\n[[faults]]\nkind = \"quake\"\n");
    assert_eq!(e[0].field, "faults[0].kind");
    assert!(e[0].message.contains("reset_peer"), "{}", e[0].message);
}

#[test]
fn consume_errors_name_the_field_and_what_is_allowed() {
    let e = errs(
        "name = \"x\"\n[workload]\nmessages = 1\n[consume]\nconsumer = \"ordered\"\n\
         fail_rate = 0.1\nworkers = 0\nprocessing_distribution = \"uniform\"\nack_wait = \"1s\"\n",
    );
    let find = |field: &str| message_for(&e, field);
    assert!(find("consume.fail_rate").contains("consumer = \"durable\""));
    assert!(find("consume.ack_wait").contains("does not ack"));
    assert!(find("consume.workers").contains("between 1 and 1024"));
    assert!(find("consume.processing_max").contains("needs processing_max"));
    let e = errs(
        "name = \"x\"\n[workload]\nmessages = 1\n[consume]\nfail_rate = 1.5\nmodel = \"pool\"\n",
    );
    assert_eq!(e[0].field, "consume.model", "{e:?}");
    assert!(e[0].message.contains("keyed"), "{}", e[0].message);
    let e = errs("name = \"x\"\n[workload]\nmessages = 1\n[consume]\nfail_rate = 1.5\n");
    assert_eq!(e[0].field, "consume.fail_rate");
    assert!(e[0].message.contains("below 1"), "{}", e[0].message);
    let e =
        errs("name = \"x\"\n[workload]\nmessages = 1\n[expect]\nconsume_order = \"preserved\"\n");
    assert!(e[0].message.contains("need a [consume] section"), "{e:?}");
    // Defaults: a durable consumer, concurrent, keyed ×4, no processing time, no failures.
    let p = parse(
        "name = \"x\"\n[workload]\nmessages = 1\n[consume]\n",
        "x.toml",
        &Overrides::default(),
    )
    .unwrap();
    let c = p.consume.unwrap();
    assert_eq!(c.consumer, ConsumerKind::Durable);
    assert_eq!(c.when, ConsumeWhen::Concurrent);
    assert_eq!(c.model, PoolModel::Keyed);
    assert_eq!(c.workers, 4);
    assert_eq!(c.fail_rate, 0.0);
}

#[test]
fn fault_entries_are_parsed_strictly() {
    // The parameters of [[faults]] come from the fault table, but parsing is as strict as for
    // the derived sections: unknown keys and wrong TOML types name the field and the line.
    let e = errs(
        "name = \"x\"\n[workload]\nmessages = 1\n[[faults]]\nkind = \"latency\"\nlatency = \"1ms\"\nwindow = 3\n",
    );
    assert_eq!(
        (e[0].field.as_str(), e[0].line),
        ("faults[0].window", Some(7))
    );
    assert!(
        e[0].message.contains(
            "expected one of `name`, `kind`, `target`, `direction`, `node`, `latency`, `jitter`, \
             `bytes_per_sec`, `average_size`, `size_variation`, `delay`, `clients`, `files`, \
             `bits`, `bytes`, `fraction`, `start`, `duration`, `repeat`, `every`"
        ),
        "{}",
        e[0].message
    );
    let e = errs(
        "name = \"x\"\n[workload]\nmessages = 1\n[[faults]]\nkind = \"latency\"\nlatency = 5\n",
    );
    assert_eq!(
        (e[0].field.as_str(), e[0].line),
        ("faults[0].latency", Some(6))
    );
    assert!(
        e[0].message.contains("expected a string"),
        "{}",
        e[0].message
    );
    let e = errs(
        "name = \"x\"\n[workload]\nmessages = 1\n[[faults]]\nkind = \"slicer\"\naverage_size = 10\nsize_variation = 12\n",
    );
    assert_eq!(e[0].field, "faults[0].size_variation");
    assert!(
        e[0].message.contains("smaller than average_size (10)"),
        "{}",
        e[0].message
    );
}

const CLUSTER: &str =
    "name = \"c\"\n[server]\nnodes = 3\n[stream]\nreplicas = 3\n[workload]\nmessages = 10\n";

#[test]
fn a_cluster_scenario_parses_node_targets_and_connect_to() {
    let text = format!(
        "{CLUSTER}[connections]\nconnect_to = \"follower\"\n\
         [[faults]]\nkind = \"kill\"\nnode = \"leader\"\nstart = \"1s\"\nduration = \"2s\"\n\
         [[faults]]\nkind = \"partition\"\nnode = [0, 2]\nstart = \"4s\"\nduration = \"1s\"\n\
         [[faults]]\nkind = \"leader_stepdown\"\nstart = \"6s\"\n"
    );
    let p = parse(&text, "t.toml", &Overrides::default()).unwrap();
    assert_eq!(p.server.nodes, 3);
    assert_eq!(p.stream.replicas, 3);
    assert_eq!(p.connections.connect_to, ConnectTo::Follower);
    let nodes: Vec<_> = p.faults.iter().map(|f| f.node.clone()).collect();
    assert_eq!(
        nodes,
        vec![
            Some(crate::nemesis::NodeTarget::Leader),
            Some(crate::nemesis::NodeTarget::Nodes(vec![0, 2])),
            None
        ]
    );
}

#[test]
fn cluster_errors_name_the_field_and_what_is_allowed() {
    let cases: &[(&str, &str, &str)] = &[
        // A node fault on a cluster must say which node.
        (
            "[[faults]]\nkind = \"kill\"\nstart = \"1s\"\nduration = \"1s\"\n",
            "faults[0].node",
            "is required on a cluster",
        ),
        (
            "[[faults]]\nkind = \"pause\"\nnode = \"boss\"\nstart = \"1s\"\nduration = \"1s\"\n",
            "faults[0].node",
            "\"leader\", \"follower\"",
        ),
        (
            "[[faults]]\nkind = \"pause\"\nnode = 3\nstart = \"1s\"\nduration = \"1s\"\n",
            "faults[0].node",
            "indexes go from 0 to 2",
        ),
        // Route latency needs the process backend's route proxies.
        (
            "[[faults]]\nkind = \"route_latency\"\nlatency = \"5ms\"\nstart = \"1s\"\nduration = \"1s\"\n",
            "faults[0].kind",
            "needs backend = \"process\"",
        ),
        // Cluster faults act on nodes, not connections.
        (
            "[[faults]]\nkind = \"partition\"\nnode = \"leader\"\ntarget = 0\nstart = \"1s\"\nduration = \"1s\"\n",
            "faults[0].target",
            "use node instead",
        ),
    ];
    for (extra, field, message) in cases {
        let e = errs(&format!("{CLUSTER}{extra}"));
        assert!(
            e.iter()
                .any(|e| e.field == *field && e.message.contains(message)),
            "{extra}: wanted {field}: …{message}…, got {e:?}"
        );
    }
    // Roles need a cluster; so do cluster faults and cluster claims.
    let single = "name = \"s\"\n[workload]\nmessages = 10\n";
    for (extra, field, message) in [
        (
            "[[faults]]\nkind = \"kill\"\nnode = \"leader\"\nstart = \"1s\"\nduration = \"1s\"\n",
            "faults[0].node",
            "need a cluster",
        ),
        (
            "[[faults]]\nkind = \"leader_stepdown\"\nstart = \"1s\"\n",
            "faults[0].kind",
            "needs a cluster",
        ),
        (
            "[connections]\nconnect_to = \"leader\"\n",
            "connections.connect_to",
            "need a cluster",
        ),
    ] {
        let e = errs(&format!("{single}{extra}"));
        assert!(
            e.iter()
                .any(|e| e.field == field && e.message.contains(message)),
            "{extra}: wanted {field}: …{message}…, got {e:?}"
        );
    }
}

#[test]
fn a_container_partition_needs_a_single_node_side() {
    let five = |node: &str| {
        format!(
            "name = \"c\"\n[server]\nbackend = \"container\"\nnodes = 5\n[stream]\nreplicas = 3\n\
             [workload]\nmessages = 10\n[[faults]]\nkind = \"partition\"\nnode = {node}\n\
             start = \"1s\"\nduration = \"1s\"\n"
        )
    };
    let e = errs(&five("\"minority\""));
    assert!(
        e.iter()
            .any(|e| e.field == "faults[0].node" && e.message.contains("2 against 3")),
        "{e:?}"
    );
    parse(&five("\"leader\""), "t.toml", &Overrides::default()).unwrap();
    parse(&five("[0, 1, 2, 3]"), "t.toml", &Overrides::default()).unwrap();
    let process = five("\"minority\"").replace("container", "process");
    parse(&process, "t.toml", &Overrides::default()).unwrap();
}

#[test]
fn a_duration_that_must_not_be_zero_gets_one_error_naming_its_field() {
    let with = |v: &str| errs(&format!("{MIN}[publish]\nack_timeout = \"{v}\"\n"));
    let e = with("0s");
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0].field, "publish.ack_timeout");
    assert!(
        e[0].message.contains("greater than zero"),
        "{}",
        e[0].message
    );
    // Not a duration: that error alone, not also "greater than zero".
    let e = with("soon");
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].message.contains("is not a duration"),
        "{}",
        e[0].message
    );
}

#[test]
fn follow_is_resolved_against_the_run_length_and_needs_the_read_back() {
    let at = |workload: &str, observe: &str, o: &Overrides| {
        let text = format!("name = \"x\"\n[workload]\n{workload}\n[observe]\n{observe}\n");
        parse(&text, "t.toml", o).unwrap().observe
    };
    let none = Overrides::default();
    // auto: on from 60 s or 5M messages, off below.
    assert!(!at("messages = 4999999", "", &none).following);
    assert!(at("messages = 5000000", "", &none).following);
    assert!(!at("duration = \"59s\"", "", &none).following);
    assert!(at("duration = \"60s\"", "", &none).following);
    assert!(at("messages = 10", "follow = \"on\"", &none).following);
    assert!(!at("duration = \"1h\"", "follow = \"off\"", &none).following);
    // --follow replaces the field; --duration changes what auto means.
    let on = Overrides {
        follow: Some(Follow::On),
        ..Default::default()
    };
    let o = at("messages = 10", "follow = \"off\"", &on);
    assert_eq!((o.follow, o.following), (Follow::On, true));
    let long = Overrides {
        duration: Some(Duration::from_secs(3600)),
        ..Default::default()
    };
    assert!(at("messages = 10", "", &long).following);
    // Without the read-back there is nothing to follow: auto is off, on is an error.
    assert!(!at("duration = \"1h\"", "read_back = false", &none).following);
    let e = errs(
        "name = \"x\"\n[workload]\nmessages = 1\n[observe]\nread_back = false\nfollow = \"on\"\n",
    );
    assert!(message_for(&e, "observe.follow").contains("read_back"));
    let e = errs("name = \"x\"\n[workload]\nmessages = 1\n[observe]\nfollow = \"always\"\n");
    let m = message_for(&e, "observe.follow");
    assert!(m.contains("auto") && m.contains("off"), "{m}");
}
