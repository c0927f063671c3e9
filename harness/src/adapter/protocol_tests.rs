use super::*;

#[test]
fn parses_every_report_line() {
    assert_eq!(
        parse_line("s 0 1609876 2011322"),
        Ok(Line::Sent {
            id: 0,
            t0: 1609876,
            t1: 2011322
        })
    );
    assert_eq!(
        parse_line("a 7 2011322 1 0"),
        Ok(Line::Acked {
            id: 7,
            t: 2011322,
            seq: 1,
            dup: false
        })
    );
    assert_eq!(
        parse_line("a 7 5 1 1"),
        Ok(Line::Acked {
            id: 7,
            t: 5,
            seq: 1,
            dup: true
        })
    );
    assert_eq!(
        parse_line("e 1 1104001900 i 0 timeout nats: timeout"),
        Ok(Line::Failed {
            id: 1,
            t: 1104001900,
            class: FailClass::Indefinite,
            code: 0,
            kind: "timeout",
            text: "nats: timeout"
        })
    );
    assert_eq!(
        parse_line("c 16 18446744073709551615"),
        Ok(Line::Clock { n: 16, t: u64::MAX })
    );
}

#[test]
fn failed_text_may_be_empty_with_or_without_its_space() {
    for line in ["e 3 9 d 503 no_responders", "e 3 9 d 503 no_responders "] {
        match parse_line(line) {
            Ok(Line::Failed {
                text,
                kind,
                class,
                code,
                ..
            }) => {
                assert_eq!(
                    (text, kind, class, code),
                    ("", "no_responders", FailClass::Definite, 503)
                )
            }
            other => panic!("{line:?}: {other:?}"),
        }
    }
    // The text keeps its own spaces, doubled ones too.
    match parse_line("e 3 9 d 10071 api_error wrong  last seq ") {
        Ok(Line::Failed { text, .. }) => assert_eq!(text, "wrong  last seq "),
        other => panic!("{other:?}"),
    }
}

#[test]
fn every_malformed_line_says_why() {
    let cases: &[(&str, &str)] = &[
        ("", "empty line"),
        ("s", "a verb alone, without fields"),
        ("x 1 2 3", "unknown verb (expected s, a, e or c)"),
        ("S 1 2 3", "unknown verb (expected s, a, e or c)"),
        ("p 1 0 a - 00", "unknown verb (expected s, a, e or c)"),
        ("s 1 2", "too few fields"),
        ("s 1 2 3 4", "too many fields"),
        ("s 1 2 3 ", "too many fields"),
        ("s 1  2 3", "t0 is not a decimal number"),
        ("s -1 2 3", "id is not a decimal number"),
        ("s +1 2 3", "id is not a decimal number"),
        ("s 1.0 2 3", "id is not a decimal number"),
        ("s 1 2 3\r", "t1 is not a decimal number"),
        ("s 18446744073709551616 2 3", "id is not a decimal number"),
        ("s 000000000000000000001 2 3", "id is not a decimal number"),
        ("s 1 5 4", "t1 is before t0"),
        ("s 1 x 4", "t0 is not a decimal number"),
        ("a 1 2 3", "too few fields"),
        ("a 1 2 3 2", "dup is neither 0 nor 1"),
        ("a 1 2 3 true", "dup is neither 0 nor 1"),
        ("a 1 2 x 0", "seq is not a decimal number"),
        ("a 1 t 3 0", "t is not a decimal number"),
        ("a 1 2 3 0 extra", "too many fields"),
        ("e 1 2 d 0", "too few fields"),
        ("e 1 2 x 0 kind text", "class is neither d nor i"),
        ("e 1 2 definite 0 kind", "class is neither d nor i"),
        ("e 1 2 d 4294967296 kind", "code does not fit 32 bits"),
        ("e 1 2 d -1 kind", "code is not a decimal number"),
        ("e 1 2 d 0 Timeout text", "kind is not [a-z0-9_]+"),
        ("e 1 2 d 0 time-out", "kind is not [a-z0-9_]+"),
        ("e 1 2 d 0  text", "kind is not [a-z0-9_]+"),
        ("e 1 2", "too few fields"),
        ("c 1", "too few fields"),
        ("c x 1", "probe number is not a decimal number"),
        ("c 1 2 3", "too many fields"),
        ("{\"type\":\"init_ok\"}", "a verb alone, without fields"),
    ];
    for (line, why) in cases {
        assert_eq!(parse_line(line), Err(*why), "line {line:?}");
    }
}

#[test]
fn numbers_are_plain_digits() {
    assert_eq!(parse_u64("0"), Some(0));
    assert_eq!(parse_u64("007"), Some(7));
    assert_eq!(parse_u64("18446744073709551615"), Some(u64::MAX));
    for bad in [
        "",
        "+1",
        "-1",
        " 1",
        "1 ",
        "1e3",
        "0x10",
        "18446744073709551616",
    ] {
        assert_eq!(parse_u64(bad), None, "{bad:?}");
    }
}

#[test]
fn written_lines_parse_back() {
    let tag: [u8; TAG_LEN] = std::array::from_fn(|i| (i * 11) as u8);
    let mut out = Vec::new();
    write_publish(
        &mut out,
        1042,
        1,
        "jsb.3f9a0c21.m.k7",
        Some("3f9a0c21-m-k7-66"),
        &tag,
    );
    write_publish(&mut out, 0, 0, "s", None, &tag);
    write_probe(&mut out, 16);
    let text = String::from_utf8(out).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        format!("p 1042 1 jsb.3f9a0c21.m.k7 3f9a0c21-m-k7-66 {}", hex(&tag))
    );
    assert_eq!(
        parse_command(lines[0]),
        Ok(Command::Publish {
            id: 1042,
            conn: 1,
            subject: "jsb.3f9a0c21.m.k7",
            msg_id: Some("3f9a0c21-m-k7-66"),
            tag
        })
    );
    assert!(matches!(
        parse_command(lines[1]),
        Ok(Command::Publish { msg_id: None, .. })
    ));
    assert_eq!(parse_command(lines[2]), Ok(Command::Probe { n: 16 }));

    let mut out = Vec::new();
    write_sent(&mut out, 5, 10, 20);
    write_acked(&mut out, 5, 30, 99, true);
    write_failed(&mut out, 6, 40, FailClass::Indefinite, 0, "timeout", "a\nb");
    write_clock(&mut out, 3, u64::MAX);
    let text = String::from_utf8(out).unwrap();
    let parsed: Vec<Line<'_>> = text.lines().map(|l| parse_line(l).unwrap()).collect();
    assert_eq!(
        parsed,
        vec![
            Line::Sent {
                id: 5,
                t0: 10,
                t1: 20
            },
            Line::Acked {
                id: 5,
                t: 30,
                seq: 99,
                dup: true
            },
            Line::Failed {
                id: 6,
                t: 40,
                class: FailClass::Indefinite,
                code: 0,
                kind: "timeout",
                text: "a b"
            },
            Line::Clock { n: 3, t: u64::MAX },
        ]
    );
}

#[test]
fn malformed_commands() {
    let tag = "00".repeat(24);
    for (line, why) in [
        ("p 1 0 subj -", "too few fields"),
        ("p 1 0 subj - 00", "tag is not 48 hex digits"),
        ("p x 0 subj - TAG", "id is not a decimal number"),
        ("p 1 0 subj - TAG x", "too many fields"),
        ("c", "too few fields"),
        ("q 1", "unknown verb (expected p or c)"),
    ] {
        let line = line.replace("TAG", &tag);
        assert_eq!(parse_command(&line), Err(why), "{line:?}");
    }
}

#[test]
fn init_is_written_with_type_and_protocol_and_read_back() {
    let init = Init {
        run: "0000beef".into(),
        connections: vec![vec!["nats://127.0.0.1:40001".into()]],
        token: Some("t".into()),
        user: None,
        password: None,
        stream: "JSB_DEMO".into(),
        subjects: "jsb.0000beef.>".into(),
        mode: InitMode::Sync,
        max_pending: 1,
        ack_timeout_ms: 1000,
        msg_id: true,
        payload_size: 32,
        filler: "797a616263646566".into(),
    };
    let line = init.to_line();
    assert!(line.starts_with("{\"type\":\"init\",\"protocol\":1,\"run\":\"0000beef\""));
    assert!(line.ends_with("}\n") && line.matches('\n').count() == 1);
    let back = Init::from_line(line.trim_end()).unwrap();
    assert_eq!(back.mode, InitMode::Sync);
    assert_eq!(back.connections, init.connections);
    assert_eq!(unhex(&back.filler).unwrap(), b"yzabcdef");
    let other = line.replace("\"protocol\":1", "\"protocol\":2");
    assert!(Init::from_line(other.trim_end())
        .unwrap_err()
        .contains("protocol 2"));
}

#[test]
fn init_answers() {
    let ok = r#"{"type":"init_ok","client":{"name":"nats.go","version":"1.22.1"},"adapter":{"name":"jsbench-nats.go","version":"1"},"features":["sync","async","msg_id"],"extra":1}"#;
    match parse_init_answer(ok) {
        Ok(InitAnswer::Ok(h)) => {
            assert_eq!(h.client.version, "1.22.1");
            assert!(h.has("msg_id") && !h.has("batch"));
            assert!(h.settings.is_empty());
            assert_eq!(
                parse_init_answer(h.to_line().trim_end()),
                Ok(InitAnswer::Ok(h))
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        parse_init_answer(r#"{"type":"error","text":"connection refused"}"#),
        Ok(InitAnswer::Error("connection refused".into()))
    );
    for bad in [
        "",
        "init_ok",
        r#"{"type":"init_ok"}"#,
        r#"{"type":"hello"}"#,
        r#"{"type":"error"}"#,
        r#"{"client":1}"#,
    ] {
        assert!(parse_init_answer(bad).is_err(), "{bad:?}");
    }
}
