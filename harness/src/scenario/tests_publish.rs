//! Validation of the publish modes and the client: batch and fast mode, the per-key guard,
//! `[client]` and `publish.api` (split from `tests.rs`, which holds the other sections).

use super::tests::{errs, message_for, MIN};
use super::*;

#[test]
fn batch_mode_and_the_guard_validate() {
    let ok = crate::scenario::parse(
        "name = \"x\"\n[workload]\nmessages = 1\n[publish]\nmode = \"batch\"\nbatch_size = 1000\n",
        "t.toml",
        &Overrides::default(),
    )
    .unwrap();
    assert_eq!(ok.publish.batch_size, Some(1000));
    assert_eq!(ok.publish.max_in_flight, 4, "batches awaiting their commit");
    let e = errs(
        "name = \"x\"\n[publish]\nmode = \"batch\"\nbatch_size = 1001\nmax_in_flight = 51\n\
         expect_last_subject_seq = true\n[publish.retry]\nattempts = 3\n",
    );
    let fields: Vec<&str> = e.iter().map(|x| x.field.as_str()).collect();
    for f in [
        "publish.batch_size",
        "publish.max_in_flight",
        "publish.expect_last_subject_seq",
        "publish.retry",
    ] {
        assert!(fields.contains(&f), "no error for {f}: {e:?}");
    }
    let e = errs("name = \"x\"\n[workload]\nmessages = 1\npayload_size = 16\n[publish]\nmode = \"async\"\nbatch_size = 10\n");
    let find = |field: &str| message_for(&e, field);
    assert!(find("publish.batch_size").contains("batch"), "{e:?}");
    assert!(find("workload.payload_size").contains("24"), "{e:?}");
}

#[test]
fn fast_mode_validates_its_fields() {
    use crate::scenario::GapMode;
    let ok = parse(
        &format!("{MIN}[publish]\nmode = \"fast\"\n"),
        "t.toml",
        &Overrides::default(),
    )
    .unwrap();
    let p = &ok.publish;
    assert_eq!(p.mode, Mode::Fast);
    assert_eq!(
        (p.batch_size, p.flow, p.max_outstanding_acks, p.gap),
        (Some(10_000), Some(100), Some(2), Some(GapMode::Fail)),
        "the defaults"
    );
    assert_eq!(p.max_in_flight, 1, "one fast batch at a time");
    let ok = parse(
        &format!(
            "{MIN}[publish]\nmode = \"fast\"\nbatch_size = 10000000\nflow = 500\n\
             max_outstanding_acks = 3\ngap = \"ok\"\n"
        ),
        "t.toml",
        &Overrides::default(),
    )
    .unwrap();
    assert_eq!(ok.publish.gap, Some(GapMode::Ok));
    // Out of range, and what fast mode refuses.
    let e = errs(&format!(
        "{MIN}[publish]\nmode = \"fast\"\nbatch_size = 10000001\nflow = 501\n\
         max_outstanding_acks = 4\nmax_in_flight = 4\nexpect_last_subject_seq = true\n\
         msg_id = true\nrepeat_msg_id_every = 5\n[publish.retry]\nattempts = 2\n"
    ));
    let find = |e: &[FieldError], field: &str| {
        e.iter()
            .find(|x| x.field == field)
            .unwrap_or_else(|| panic!("no error for {field}: {e:?}"))
            .message
            .clone()
    };
    assert!(find(&e, "publish.batch_size").contains("10000000"), "{e:?}");
    assert!(find(&e, "publish.flow").contains("500"), "{e:?}");
    assert!(
        find(&e, "publish.max_outstanding_acks").contains("3"),
        "{e:?}"
    );
    assert!(find(&e, "publish.max_in_flight").contains("fast"), "{e:?}");
    assert!(find(&e, "publish.retry").contains("fast mode"), "{e:?}");
    find(&e, "publish.expect_last_subject_seq");
    find(&e, "publish.repeat_msg_id_every");
    // The fast fields belong to fast mode.
    let e = errs(&format!(
        "{MIN}[publish]\nmode = \"async\"\nflow = 10\nmax_outstanding_acks = 1\ngap = \"ok\"\n"
    ));
    for f in [
        "publish.flow",
        "publish.max_outstanding_acks",
        "publish.gap",
    ] {
        assert!(find(&e, f).contains("mode = \"fast\""), "{e:?}");
    }
    let e = errs(&format!(
        "{MIN}[publish]\nmode = \"fast\"\ngap = \"maybe\"\n"
    ));
    assert_eq!(e[0].field, "publish.gap", "{e:?}");
}

#[test]
fn the_client_section_defaults_to_async_nats_in_process() {
    let p = parse(MIN, "t.toml", &Overrides::default()).unwrap();
    assert!(p.client.is_in_process());
    assert_eq!(p.client.command, None);
    // max_in_flight + 1 (nats.go counts the publish being made), twice the ack timeout.
    assert_eq!(p.client.max_pending, 10_001);
    assert_eq!(p.client.resolve_timeout, Duration::from_secs(10));
    let p = parse(
        &format!("{MIN}[client]\nadapter = \"nats.go\"\n[publish]\nmode = \"sync\"\nack_timeout = \"1s\"\n"),
        "t.toml",
        &Overrides::default(),
    )
    .unwrap();
    assert_eq!(p.client.adapter, ClientAdapter::NatsGo);
    assert_eq!(
        (p.client.max_pending, p.client.resolve_timeout),
        (2, Duration::from_secs(2))
    );
    let p = parse(
        &format!("{MIN}[client]\ncommand = [\"sh\", \"-c\", \"exit 0\"]\nmax_pending = 7\nresolve_timeout = \"3s\"\n"),
        "t.toml",
        &Overrides::default(),
    )
    .unwrap();
    assert_eq!(p.client.adapter, ClientAdapter::Command);
    assert_eq!(p.client.command.as_deref().map(|c| c.len()), Some(3));
    assert_eq!(
        (p.client.max_pending, p.client.resolve_timeout),
        (7, Duration::from_secs(3))
    );
}

#[test]
fn client_errors_name_the_field_and_what_is_allowed() {
    let m = message_for(
        &errs(&format!("{MIN}[client]\nadapter = \"nats.java\"\n")),
        "client.adapter",
    );
    for name in [
        "async-nats",
        "async-nats-stdio",
        "nats.go",
        "nats.c",
        "nats.py",
    ] {
        assert!(m.contains(&format!("\"{name}\"")), "{m}");
    }
    let both = format!("{MIN}[client]\nadapter = \"nats.go\"\ncommand = [\"sh\"]\n");
    assert!(message_for(&errs(&both), "client.command").contains("exclusive"));
    let missing = format!("{MIN}[client]\ncommand = [\"/no/such/adapter\"]\n");
    assert!(message_for(&errs(&missing), "client.command").contains("not found"));
    let not_exec = format!("{MIN}[client]\ncommand = [\"./Cargo.toml\"]\n");
    assert!(message_for(&errs(&not_exec), "client.command").contains("not executable"));
    let empty = format!("{MIN}[client]\ncommand = []\n");
    assert!(message_for(&errs(&empty), "client.command").contains("must name a program"));
    let unsupported = format!("{MIN}[client]\nadapter = \"nats.c\"\n[publish]\nmode = \"batch\"\n");
    assert!(message_for(&errs(&unsupported), "publish.mode").contains("\"sync\" or \"async\""));
    let guard = format!(
        "{MIN}[client]\nadapter = \"nats.py\"\n[publish]\nexpect_last_subject_seq = true\n"
    );
    message_for(&errs(&guard), "publish.expect_last_subject_seq");
    let wire = format!("{MIN}[client]\nadapter = \"nats.go\"\n[publish]\nwire = \"headers\"\n");
    assert!(message_for(&errs(&wire), "publish.wire").contains("payload"));
    let tls = format!(
        "{MIN}[client]\nadapter = \"nats.go\"\n[server]\nbackend = \"external\"\nurl = \"tls://127.0.0.1:4222\"\ntls_ca = \"/ca.pem\"\n"
    );
    let e = errs(&tls);
    message_for(&e, "server.tls_ca");
    message_for(&e, "server.url");
    let zero = format!("{MIN}[client]\nadapter = \"nats.go\"\nmax_pending = 0\n");
    assert!(message_for(&errs(&zero), "client.max_pending").contains("between 1 and"));
    let in_process = format!("{MIN}[client]\nresolve_timeout = \"1s\"\n");
    message_for(&errs(&in_process), "client.resolve_timeout");
}

#[test]
fn publish_api_is_jetstream_by_default_and_lean_only_for_sync_and_async_in_process() {
    let p = parse(MIN, "t.toml", &Overrides::default()).unwrap();
    assert_eq!(p.publish.api, Api::Jetstream);
    for mode in ["sync", "async"] {
        let lean = format!("{MIN}[publish]\nmode = \"{mode}\"\napi = \"lean\"\n");
        let p = parse(&lean, "t.toml", &Overrides::default()).unwrap();
        assert_eq!((p.publish.api, p.publish.mode.as_str()), (Api::Lean, mode));
    }
    for mode in ["batch", "fast"] {
        let lean = format!("{MIN}[publish]\nmode = \"{mode}\"\napi = \"lean\"\n");
        let m = message_for(&errs(&lean), "publish.api");
        assert!(m.contains("\"sync\" or \"async\""), "{m}");
        assert!(m.contains("allowed with this mode: \"jetstream\""), "{m}");
    }
    let adapter = format!("{MIN}[client]\nadapter = \"nats.go\"\n[publish]\napi = \"lean\"\n");
    let m = message_for(&errs(&adapter), "publish.api");
    assert!(m.contains("\"jetstream\""), "{m}");
    let unknown = format!("{MIN}[publish]\napi = \"raw\"\n");
    let e = parse(&unknown, "t.toml", &Overrides::default()).expect_err("unknown api");
    let text = e.to_string();
    assert!(
        text.contains("publish.api") || text.contains("api"),
        "{text}"
    );
    assert!(
        text.contains("jetstream") && text.contains("lean"),
        "{text}"
    );
}
