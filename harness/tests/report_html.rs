//! Charts and the HTML report over the recorded fixtures: well-formed SVG / markup, every
//! scenario named, fault labels drawn, links to each result.json, nothing loaded from elsewhere;
//! and `jsbench report` end to end.

use std::path::{Path, PathBuf};
use std::process::Command;

use jsbench::checker::{ConsumeFigures, OrderFigures};
use jsbench::render::chart::{
    self, ChartError, ComparisonBar, ConsumeSeries, FaultSpan, OrderRow, SpectrumSeries,
    TimelineSeries,
};
use jsbench::render::text;
use jsbench::result::{
    self, ConsumeReport, ConsumeTimeline, LatencyKind, LatencySummary, Report, Unit,
};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/recorded")
}

fn runs_in(root: &Path) -> Vec<(PathBuf, Report)> {
    let runs = jsbench::result::load::collect_runs(&[root.to_path_buf()]).unwrap();
    assert_eq!(runs.len(), 6, "the six recorded runs");
    runs
}

const PAUSE: &str = "single-async-pause-retry";

/// A small XML well-formedness check: tags balance, attributes are quoted and hold no `<`,
/// every `&` starts an entity. Comments, `<!DOCTYPE>` and `<?xml?>` are skipped.
fn well_formed(s: &str) -> Result<(), String> {
    let b = s.as_bytes();
    let mut stack: Vec<&str> = Vec::new();
    let mut i = 0;
    let at = |i: usize| {
        format!(
            "at byte {i}: {:?}",
            &s[i.saturating_sub(40)..(i + 40).min(s.len())]
        )
    };
    let entity = |i: usize| -> Result<usize, String> {
        let end = s[i..]
            .find(';')
            .ok_or_else(|| format!("bare & {}", at(i)))?
            + i;
        let name = &s[i + 1..end];
        let ok = matches!(name, "lt" | "gt" | "amp" | "quot" | "apos")
            || (name.starts_with('#')
                && name.len() > 1
                && name[1..].chars().all(|c| c.is_ascii_digit()))
            || (name.starts_with("#x")
                && name.len() > 2
                && name[2..].chars().all(|c| c.is_ascii_hexdigit()));
        if ok {
            Ok(end + 1)
        } else {
            Err(format!("bad entity &{name}; {}", at(i)))
        }
    };
    let mut roots = 0;
    while i < b.len() {
        match b[i] {
            b'<' if s[i..].starts_with("<!--") => {
                i += s[i..].find("-->").ok_or("unclosed comment")? + 3;
            }
            b'<' if s[i..].starts_with("<!") || s[i..].starts_with("<?") => {
                i += s[i..].find('>').ok_or("unclosed declaration")? + 1;
            }
            b'<' if s[i..].starts_with("</") => {
                let end = s[i..].find('>').ok_or("unclosed end tag")? + i;
                let name = s[i + 2..end].trim();
                match stack.pop() {
                    Some(open) if open == name => {}
                    other => return Err(format!("</{name}> closes {other:?} {}", at(i))),
                }
                i = end + 1;
            }
            b'<' => {
                let mut j = i + 1;
                while j < b.len() && !b" \n\t/>".contains(&b[j]) {
                    j += 1;
                }
                let name = &s[i + 1..j];
                if name.is_empty() || !name.chars().next().unwrap().is_ascii_alphabetic() {
                    return Err(format!("bad tag name {}", at(i)));
                }
                loop {
                    while j < b.len() && b" \n\t\r".contains(&b[j]) {
                        j += 1;
                    }
                    if j >= b.len() {
                        return Err(format!("unclosed tag {}", at(i)));
                    }
                    if s[j..].starts_with("/>") {
                        j += 2;
                        if stack.is_empty() {
                            roots += 1;
                        }
                        break;
                    }
                    if b[j] == b'>' {
                        j += 1;
                        if stack.is_empty() {
                            roots += 1;
                        }
                        stack.push(name);
                        break;
                    }
                    let eq = s[j..]
                        .find('=')
                        .ok_or_else(|| format!("attribute without value {}", at(j)))?
                        + j;
                    let attr = s[j..eq].trim();
                    if attr.is_empty()
                        || attr.contains(|c: char| c.is_whitespace() || c == '>' || c == '<')
                    {
                        return Err(format!("bad attribute {attr:?} {}", at(j)));
                    }
                    let q = b[eq + 1];
                    if q != b'"' && q != b'\'' {
                        return Err(format!("unquoted attribute {}", at(eq)));
                    }
                    let close = s[eq + 2..].find(q as char).ok_or("unclosed attribute")? + eq + 2;
                    let mut k = eq + 2;
                    while k < close {
                        match b[k] {
                            b'<' => return Err(format!("< in attribute {}", at(k))),
                            b'&' => k = entity(k)?,
                            _ => k += 1,
                        }
                    }
                    j = close + 1;
                }
                i = j;
            }
            b'&' => i = entity(i)?,
            _ => i += 1,
        }
    }
    if !stack.is_empty() {
        return Err(format!("unclosed elements: {stack:?}"));
    }
    if roots != 1 {
        return Err(format!("{roots} root elements"));
    }
    Ok(())
}

fn assert_svg(svg: &str, names: &[&str]) {
    let t = svg.trim();
    assert!(t.starts_with("<svg"), "{}", &t[..80.min(t.len())]);
    assert!(t.ends_with("</svg>"));
    well_formed(t).unwrap_or_else(|e| panic!("not well-formed: {e}"));
    for n in names {
        // plotters writes ' as &apos;, the HTML page as &#39;: both are fine.
        let e = jsbench::render::html::esc(n);
        assert!(
            svg.contains(&e) || svg.contains(&e.replace("&#39;", "&apos;")),
            "{n} missing from the chart"
        );
    }
}

#[test]
fn the_checker_catches_broken_markup() {
    assert!(well_formed("<svg><text>a</text></svg>").is_ok());
    assert!(well_formed("<svg><text>a</svg>").is_err());
    assert!(well_formed("<svg><text>a<b</text></svg>").is_err());
    assert!(well_formed("<svg><text>a & b</text></svg>").is_err());
    assert!(well_formed("<svg x=\"<\"/>").is_err());
    assert!(well_formed("<svg x=1/>").is_err());
    assert!(well_formed("<a/><b/>").is_err());
}

struct Inputs {
    names: Vec<String>,
    spectrum: Vec<SpectrumSeries>,
    timelines: Vec<TimelineSeries>,
    faults: Vec<FaultSpan>,
    orders: Vec<OrderRow>,
}

fn inputs(runs: &[(PathBuf, Report)]) -> Inputs {
    let names: Vec<String> = runs.iter().map(|(_, r)| r.scenario.name.clone()).collect();
    Inputs {
        spectrum: runs
            .iter()
            .map(|(d, r)| SpectrumSeries {
                name: r.scenario.name.clone(),
                points: chart::spectrum_from_histogram(
                    &result::hlog::load_histogram(d, r, LatencyKind::PublishAck)
                        .unwrap()
                        .expect("an hlog"),
                ),
            })
            .collect(),
        timelines: runs
            .iter()
            .map(|(_, r)| TimelineSeries::from_report(&r.scenario.name, r))
            .collect(),
        faults: runs
            .iter()
            .flat_map(|(_, r)| FaultSpan::from_report(&r.scenario.name, r))
            .collect(),
        orders: runs
            .iter()
            .map(|(_, r)| OrderRow::from_report(&r.scenario.name, r))
            .collect(),
        names,
    }
}

fn comparison_bars(runs: &[(PathBuf, Report)]) -> Vec<ComparisonBar> {
    let mut bars = Vec::new();
    for (_, r) in runs {
        let l = r.latency_us["publish_ack"];
        for (metric, unit, base, cand, regression) in [
            (
                "msgs/s",
                Unit::MsgsPerSec,
                r.throughput.msgs_per_sec,
                r.throughput.msgs_per_sec * 0.9,
                true,
            ),
            ("p50", Unit::Micros, l.p50, l.p50, false),
            ("p99", Unit::Micros, l.p99, l.p99 * 1.1, true),
            ("p99.9", Unit::Micros, l.p999, l.p999 * 0.8, false),
        ] {
            bars.push(ComparisonBar {
                scenario: r.scenario.name.clone(),
                metric: metric.into(),
                unit,
                baseline: base,
                candidate: cand,
                change_pct: (cand - base) / base * 100.0,
                regression,
            });
        }
    }
    bars
}

#[test]
fn every_chart_is_well_formed_svg_naming_every_scenario() {
    let runs = runs_in(&fixtures());
    let inp = inputs(&runs);
    let names: Vec<&str> = inp.names.iter().map(String::as_str).collect();
    let spectrum = chart::latency_spectrum(&inp.spectrum).unwrap();
    assert_svg(&spectrum, &names);
    assert!(
        spectrum.contains("99.999%") && spectrum.contains("99.9%"),
        "nines ticks"
    );
    assert!(
        spectrum.contains("latency (ms, log scale)"),
        "unit and log scale named"
    );

    let overlay = chart::throughput_timeline(&inp.timelines, &inp.faults).unwrap();
    assert_svg(&overlay, &names);
    assert!(
        overlay.contains("single-async-pause-retry: freeze (pause)"),
        "fault label with its scenario"
    );
    assert!(overlay.contains("rr4-async-skew: skew-4ms (latency)"));

    let multiples = chart::throughput_timelines(&inp.timelines, &inp.faults).unwrap();
    assert_eq!(multiples.len(), 6);
    for (name, svg) in &multiples {
        assert_svg(svg, &[name]);
        let has_label = svg.contains("freeze (pause)");
        assert_eq!(
            has_label,
            name == PAUSE,
            "{name}: only the pause run shows the pause"
        );
    }

    let orders = chart::order_divergence(&inp.orders).unwrap();
    assert_svg(&orders, &names);
    // rr4-async-none stores 41% of messages late per key (the recorded figure).
    assert!(
        orders.contains("storage: 41% per key (16/16 keys)"),
        "figures written on the bars"
    );
    assert!(orders.contains("preserved (0 of 20000 late)"));

    let bars = comparison_bars(&runs);
    let cmp = chart::comparison(&bars).unwrap();
    assert_svg(&cmp, &names);
    assert!(cmp.contains("-10.0%, REGRESSION"), "regression called out");
    for panel in ["msgs/s — higher is better", "p50 (", "p99 (", "p99.9 ("] {
        assert!(cmp.contains(panel), "panel {panel}");
    }
}

#[test]
fn a_consume_order_is_one_more_entry() {
    let runs = runs_in(&fixtures());
    // The recorded runs have no consume side: the row says so.
    let svg = chart::order_divergence(&[OrderRow::from_report("x", &runs[0].1)]).unwrap();
    assert_svg(&svg, &["x"]);
    assert!(svg.contains("consume: not measured"));
    // With `order.consume` set, the row carries its figures.
    let mut r = runs[0].1.clone();
    with_consume(&mut r);
    let row = OrderRow::from_report("x", &r);
    assert_eq!(row.orders.last().unwrap().0, "consume");
    let svg = chart::order_divergence(&[row]).unwrap();
    assert_svg(&svg, &["x"]);
    assert!(
        svg.contains("consume: 3.0% per key (7/16 keys) · 12% global"),
        "consume figures on the bar"
    );
    assert!(!svg.contains("consume: not measured"));
}

/// Attaches a synthetic consume side to a recorded report: a consumer that processes at 60% of
/// the publish rate until publishing ends, then drains; its backlog, consume order and
/// end-to-end latency summary (no hlog: the page falls back to the summary points).
fn with_consume(r: &mut Report) {
    let tl = &r.throughput.timeline;
    let published: Vec<u64> = tl.published.clone();
    let total: u64 = published.iter().sum();
    assert!(total > 0, "the fixture published");
    let (mut processed, mut backlog) = (Vec::new(), Vec::new());
    let (mut pubs, mut done) = (0u64, 0u64);
    let mut k = 0;
    while done < total {
        pubs += published.get(k).copied().unwrap_or(0);
        let rate = published.iter().max().copied().unwrap() * 6 / 10;
        let n = rate.max(1).min(pubs - done);
        done += n;
        processed.push(n);
        backlog.push(pubs - done);
        k += 1;
    }
    r.consume = Some(ConsumeReport {
        consumer: "durable".into(),
        model: "keyed".into(),
        workers: 4,
        when: "concurrent".into(),
        figures: ConsumeFigures {
            processed: total,
            processings: total,
            deliveries: total,
            ..Default::default()
        },
        msgs_per_sec: 1234.0,
        duration_s: k as f64 * tl.bucket_ms / 1000.0,
        complete: true,
        error: None,
        timeline: ConsumeTimeline {
            bucket_ms: tl.bucket_ms,
            processed,
            backlog,
        },
    });
    r.order.consume = Some(OrderFigures {
        messages: 100,
        late: 12,
        inversions: 20,
        max_displacement: 5,
        late_per_key: 3,
        keys_affected: 7,
        keys: 16,
    });
    r.latency_us.insert(
        "end_to_end".into(),
        LatencySummary {
            p50: 20_000.0,
            p90: 80_000.0,
            p99: 150_000.0,
            p999: 180_000.0,
            max: 200_000.0,
            mean: 35_000.0,
            count: total,
        },
    );
}

#[test]
fn consume_timeline_shows_rates_and_backlog() {
    let runs = runs_in(&fixtures());
    let (_, plain) = &runs[0];
    assert!(
        ConsumeSeries::from_report("p", plain).is_none(),
        "no consume side, no series"
    );
    let mut pause = runs
        .iter()
        .find(|(_, r)| r.scenario.name == PAUSE)
        .unwrap()
        .1
        .clone();
    with_consume(&mut pause);
    let s = ConsumeSeries::from_report(PAUSE, &pause).expect("a series");
    assert_eq!(s.published, pause.throughput.timeline.published);
    assert_eq!(
        s.processed,
        pause.consume.as_ref().unwrap().timeline.processed
    );
    assert!(
        s.backlog.iter().any(|&b| b > 0),
        "the synthetic consumer falls behind"
    );
    let faults = FaultSpan::from_report(PAUSE, &pause);
    assert!(!faults.is_empty());

    // Alone: its own fault, labelled without the scenario.
    let svg = chart::consume_timeline(std::slice::from_ref(&s), &faults).unwrap();
    assert_svg(
        &svg,
        &[
            PAUSE,
            "Consume side: processed vs published, and backlog",
            "rate (msgs/s)",
            "backlog (messages)",
            "time since the measured phase started (s)",
            "freeze (pause)",
        ],
    );
    // Beside a run without consume (an empty series keeps its place): two scenarios, so the
    // fault label names its scenario; the empty one is not in the legend.
    let empty = ConsumeSeries {
        name: "no-consume".into(),
        bucket_ms: 0.0,
        processed: vec![],
        backlog: vec![],
        published: vec![],
    };
    let other = ConsumeSeries {
        name: "other".into(),
        ..s.clone()
    };
    let svg = chart::consume_timeline(&[empty.clone(), s.clone(), other], &faults).unwrap();
    assert_svg(&svg, &[PAUSE, "other", &format!("{PAUSE}: freeze (pause)")]);
    assert!(!svg.contains("no-consume"));

    assert!(matches!(
        chart::consume_timeline(&[], &[]),
        Err(ChartError::Empty(_))
    ));
    assert!(matches!(
        chart::consume_timeline(&[empty], &faults),
        Err(ChartError::Empty(_))
    ));
}

#[test]
fn index_html_shows_the_consume_side_when_a_run_has_one() {
    let d = tempfile::tempdir().unwrap();
    let root = copy_fixtures(d.path());
    let mut runs = runs_in(&root);
    let pause = runs
        .iter_mut()
        .find(|(_, r)| r.scenario.name == PAUSE)
        .unwrap();
    with_consume(&mut pause.1);
    let out = d.path().join("out");
    let html = std::fs::read_to_string(
        jsbench::render::html::write_report(&out, &runs, None, &[], "c").unwrap(),
    )
    .unwrap();
    let body = html
        .trim_start()
        .strip_prefix("<!DOCTYPE html>")
        .expect("doctype");
    well_formed(body).unwrap_or_else(|e| panic!("index.html not well-formed: {e}"));
    assert!(!html.contains("Chart not drawn"), "every chart drawn");
    assert!(html.contains("<h3>Consume side</h3>"));
    assert!(html.contains("Consume side: processed vs published, and backlog"));
    assert!(html.contains("the consumer falls behind"), "the caption");
    assert!(html.contains(jsbench::render::html::E2E_TITLE));
    assert!(html.contains("Publish → ack latency by percentile"));
    // The consume chart comes after the throughput timelines, and the end-to-end spectrum
    // after the publish → ack one.
    let at = |s: &str| html.find(s).unwrap_or_else(|| panic!("{s}"));
    assert!(at("Consume side: processed") > at("Acked throughput over time: "));
    assert!(at(jsbench::render::html::E2E_TITLE) > at("Publish → ack latency by percentile"));
    // The order chart has the consume figures of the one run that has them.
    assert!(html.contains("consume: 3.0% per key (7/16 keys) · 12% global"));
    assert_offline(&html);
}

#[test]
fn markup_in_names_is_escaped() {
    let runs = runs_in(&fixtures());
    let nasty = "a<b & \"c\" 'd'";
    let pause = &runs
        .iter()
        .find(|(_, r)| r.scenario.name == PAUSE)
        .unwrap()
        .1;
    let t = TimelineSeries::from_report(nasty, pause);
    let f = FaultSpan::from_report(nasty, pause);
    let svgs = [
        chart::latency_spectrum(&[SpectrumSeries {
            name: nasty.into(),
            points: vec![(0.5, 10.0), (0.99, 50.0)],
        }])
        .unwrap(),
        chart::throughput_timeline(
            &[
                t.clone(),
                TimelineSeries {
                    name: "other".into(),
                    ..t.clone()
                },
            ],
            &f,
        )
        .unwrap(),
        chart::order_divergence(&[OrderRow::from_report(nasty, pause)]).unwrap(),
        chart::consume_timeline(
            &[
                ConsumeSeries {
                    name: nasty.into(),
                    bucket_ms: 100.0,
                    processed: vec![5, 10],
                    backlog: vec![5, 0],
                    published: vec![10, 5],
                },
                ConsumeSeries {
                    name: "other".into(),
                    bucket_ms: 100.0,
                    processed: vec![1],
                    backlog: vec![0],
                    published: vec![1],
                },
            ],
            &f,
        )
        .unwrap(),
        chart::comparison(&[ComparisonBar {
            scenario: nasty.into(),
            metric: "p99 <&>".into(),
            unit: Unit::Micros,
            baseline: 1.0,
            candidate: 2.0,
            change_pct: 100.0,
            regression: true,
        }])
        .unwrap(),
    ];
    for svg in &svgs {
        assert_svg(svg, &[nasty]);
        assert!(!svg.contains(nasty), "raw name must not appear");
    }
}

#[test]
fn nothing_to_draw_is_an_error() {
    assert!(matches!(
        chart::latency_spectrum(&[]),
        Err(ChartError::Empty(_))
    ));
    assert!(matches!(
        chart::throughput_timeline(&[], &[]),
        Err(ChartError::Empty(_))
    ));
    assert!(matches!(
        chart::order_divergence(&[]),
        Err(ChartError::Empty(_))
    ));
    assert!(matches!(chart::comparison(&[]), Err(ChartError::Empty(_))));
}

/// Copies the fixtures to `<dst>/recorded` (two levels: run dirs and their files).
fn copy_fixtures(dst: &Path) -> PathBuf {
    let root = dst.join("recorded");
    for run in std::fs::read_dir(fixtures()).unwrap() {
        let run = run.unwrap().path();
        let to = root.join(run.file_name().unwrap());
        std::fs::create_dir_all(&to).unwrap();
        for f in std::fs::read_dir(&run).unwrap() {
            let f = f.unwrap().path();
            std::fs::copy(&f, to.join(f.file_name().unwrap())).unwrap();
        }
    }
    root
}

fn assert_offline(html: &str) {
    for bad in [
        "src=\"http",
        "href=\"http",
        "src='http",
        "href='http",
        "<link",
        "<script",
        "@import",
        "url(",
    ] {
        assert!(!html.contains(bad), "external reference: {bad}");
    }
}

#[test]
fn index_html_is_self_contained_and_complete() {
    let d = tempfile::tempdir().unwrap();
    let root = copy_fixtures(d.path());
    let runs = runs_in(&root);
    // The comparison as `jsbench compare` makes it: a baseline 40% faster than the recorded
    // runs (so the candidate regresses in msgs/s), single runs decided by threshold alone, and a
    // claim that passed in the baseline and fails in the candidate.
    let mut base = runs.clone();
    for (_, r) in &mut base {
        r.throughput.msgs_per_sec *= 1.4;
    }
    let mut cand = runs.clone();
    let flipped = cand
        .iter_mut()
        .find(|(_, r)| !r.verdicts.is_empty())
        .expect("a run with claims");
    flipped.1.verdicts[0].verdict = jsbench::checker::Verdict::Fail;
    let flipped_name = flipped.1.scenario.name.clone();
    let opts = jsbench::compare::CompareOptions {
        min_runs: 1,
        ..Default::default()
    };
    let cmp = jsbench::compare::compare(&base, &cand, &opts);
    assert!(cmp.regressions >= runs.len(), "{}", cmp.regressions);
    let out = d.path().join("out");
    let path =
        jsbench::render::html::write_report(&out, &runs, Some(&cmp), &[], "Test <report> & more")
            .unwrap();
    assert_eq!(path, out.join("index.html"));
    let html = std::fs::read_to_string(&path).unwrap();
    let body = html
        .trim_start()
        .strip_prefix("<!DOCTYPE html>")
        .expect("doctype");
    well_formed(body).unwrap_or_else(|e| panic!("index.html not well-formed: {e}"));
    assert!(html.contains("<title>Test &lt;report&gt; &amp; more</title>"));
    assert!(html.contains("How to read this"));
    for (dir, r) in &runs {
        assert!(html.contains(&r.scenario.name), "{}", r.scenario.name);
        let link = format!(
            "href=\"../recorded/{}/result.json\"",
            dir.file_name().unwrap().to_string_lossy()
        );
        assert!(html.contains(&link), "{link}");
        assert!(
            out.join(&link[6..link.len() - 1]).is_file(),
            "the link resolves"
        );
    }
    for title in [
        "Publish → ack latency by percentile",
        "Acked throughput over time",
        "Acked throughput over time: single-async-pause-retry",
        "Order divergence",
        "Baseline vs candidate",
    ] {
        assert!(html.contains(title), "chart {title}");
    }
    assert!(
        html.matches("<svg").count() >= 4 + 6,
        "4 charts + 6 small multiples"
    );
    assert!(!html.contains("Chart not drawn"));
    // The comparison: the gate's verdict, a REGRESSION row per scenario, the claim flip.
    assert!(html.contains(&format!("{} regression(s)", cmp.regressions)));
    assert!(html.matches(">REGRESSION</td>").count() >= runs.len());
    assert!(html.contains("Regressions regardless of noise"));
    assert!(html.contains(&format!("<li class=\"fail\">{flipped_name}: claim ")));
    // The summary table, its verdicts coloured; fault windows with their split; the plan.
    let t = text::summary_rows(&runs);
    for h in &t.headers {
        assert!(
            html.contains(&format!("<th>{}</th>", jsbench::render::html::esc(h))),
            "{h}"
        );
    }
    assert!(html.contains("<td class=\"pass\">pass</td>"));
    assert!(html.contains("<strong>freeze</strong> #1 · pause"));
    assert!(html.contains("<tr><th>during</th>"));
    assert!(
        html.contains("&quot;timeline_bucket&quot;: &quot;100ms&quot;"),
        "plan as escaped JSON"
    );
    assert!(
        html.contains("2.15.1") && html.contains("current_thread"),
        "environment"
    );
    assert_offline(&html);

    // Without a comparison, no comparison chart.
    let out2 = d.path().join("out2");
    let html2 = std::fs::read_to_string(
        jsbench::render::html::write_report(&out2, &runs, None, &[], "t").unwrap(),
    )
    .unwrap();
    assert!(!html2.contains("Baseline vs candidate"));
    assert!(html2.contains("Order divergence"));
    // No run consumes: no consume chart, no end-to-end spectrum.
    for h in [&html, &html2] {
        assert!(!h.contains("Consume side"));
        assert!(!h.contains(jsbench::render::html::E2E_TITLE));
    }
}

#[test]
fn summary_table_renders_the_shared_rows() {
    let runs = runs_in(&fixtures());
    let t = text::summary_rows(&runs);
    assert_eq!(t.rows.len(), 6);
    assert!(t.rows.iter().all(|r| r.len() == t.headers.len()));
    let text = text::summary_table(&runs);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2 + 6);
    for (row, line) in t.rows.iter().zip(&lines[2..]) {
        let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
        assert_eq!(&cells, row);
    }
    let rr4 = t.rows.iter().find(|r| r[0] == "rr4-async-none").unwrap();
    assert_eq!(rr4[6], "broken: 41% late per key (16/16 keys)");
}

#[test]
fn cli_report_over_a_results_root_and_a_suite() {
    let d = tempfile::tempdir().unwrap();
    let root = copy_fixtures(d.path());
    let out = d.path().join("reports");
    let o = Command::new(env!("CARGO_BIN_EXE_jsbench"))
        .args(["report"])
        .arg(&root)
        .arg("--out")
        .arg(&out)
        .args(["--title", "CLI report"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let printed = PathBuf::from(String::from_utf8(o.stdout).unwrap().trim());
    assert!(
        printed.starts_with(&out) && printed.ends_with("index.html"),
        "{}",
        printed.display()
    );
    assert!(printed
        .parent()
        .unwrap()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .ends_with("-report"));
    let html = std::fs::read_to_string(&printed).unwrap();
    assert!(html.contains("<h1>CLI report</h1>"));
    assert!(html.contains(PAUSE));
    assert!(!html.contains("Comparison with the baseline"));
    assert_offline(&html);

    // --baseline: the same runs against themselves, decided on single runs: no regression, and
    // the comparison section is there. A baseline that does not exist is bad usage.
    let o = Command::new(env!("CARGO_BIN_EXE_jsbench"))
        .args(["report"])
        .arg(&root)
        .arg("--out")
        .arg(&out)
        .arg("--baseline")
        .arg(&root)
        .args(["--min-runs", "1"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let printed = PathBuf::from(String::from_utf8(o.stdout).unwrap().trim());
    let html = std::fs::read_to_string(&printed).unwrap();
    assert!(html.contains("Comparison with the baseline"));
    assert!(html.contains("<b>No regression</b>"));
    assert!(html.contains("Baseline vs candidate"));
    assert!(html.contains(">unchanged</td>"));
    let o = Command::new(env!("CARGO_BIN_EXE_jsbench"))
        .args(["report"])
        .arg(&root)
        .args(["--out"])
        .arg(&out)
        .args(["--baseline", "/nonexistent/base"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("baseline: /nonexistent/base"));

    // A suite dir: index.html goes into it, with only the suite's runs.
    let suite = root.join("20261127T120000Z-suite");
    std::fs::create_dir(&suite).unwrap();
    let names: Vec<String> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with("-none"))
        .collect();
    assert_eq!(names.len(), 4);
    let entries: Vec<serde_json::Value> = names
        .iter()
        .map(|n| serde_json::json!({"scenario": n, "result": format!("../{n}/result.json")}))
        .collect();
    std::fs::write(
        suite.join("suite.json"),
        serde_json::json!({"schema": "jsbench.suite/1", "runs": entries}).to_string(),
    )
    .unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_jsbench"))
        .current_dir(d.path())
        .arg("report")
        .arg(&suite)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let html = std::fs::read_to_string(suite.join("index.html")).unwrap();
    assert!(html.contains("rr4-async-none") && !html.contains(PAUSE));

    // Nothing there: bad usage.
    let o = Command::new(env!("CARGO_BIN_EXE_jsbench"))
        .args(["report", "/nonexistent/results"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent/results"));
}

/// A suite run (two tiny scenarios on the process backend) leaves index.html beside summary.md.
#[test]
fn a_suite_writes_index_html() {
    let d = tempfile::tempdir().unwrap();
    let sc = d.path().join("sc");
    std::fs::create_dir(&sc).unwrap();
    for (file, name) in [("a.toml", "one"), ("b.toml", "two")] {
        std::fs::write(
            sc.join(file),
            format!(
                "name = \"{name}\"\n[server]\nbackend = \"process\"\n[workload]\nmessages = 300\n"
            ),
        )
        .unwrap();
    }
    let out_dir = d.path().join("results");
    let o = Command::new(env!("CARGO_BIN_EXE_jsbench"))
        .args(["run", "--no-progress", "--out"])
        .arg(&out_dir)
        .arg(&sc)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let suite = std::fs::read_dir(&out_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("-suite"))
        .expect("suite dir");
    let md = std::fs::read_to_string(suite.join("summary.md")).unwrap();
    assert!(md.contains("index.html"), "{md}");
    let html = std::fs::read_to_string(suite.join("index.html")).unwrap();
    assert!(html.contains("<h1>jsbench suite "), "titled");
    for (dir, _) in jsbench::result::load::collect_runs(std::slice::from_ref(&suite)).unwrap() {
        let link = format!(
            "href=\"../{}/result.json\"",
            dir.file_name().unwrap().to_string_lossy()
        );
        assert!(html.contains(&link), "{link}");
    }
    assert!(html.contains("one") && html.contains("two"));
    assert_offline(&html);
}

#[test]
fn index_html_opens_with_the_claims_answer_and_its_charts() {
    let d = tempfile::tempdir().unwrap();
    let root = copy_fixtures(d.path());
    let runs = runs_in(&root);
    let claims =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../claims/publish-order.toml");
    let file = jsbench::claims::load(&claims).unwrap();
    let answer = jsbench::claims::answer(&file, &runs);
    let out = d.path().join("out");
    let html = std::fs::read_to_string(
        jsbench::render::html::write_report(&out, &runs, None, &[answer], "c").unwrap(),
    )
    .unwrap();
    let body = html
        .trim_start()
        .strip_prefix("<!DOCTYPE html>")
        .expect("doctype");
    well_formed(body).unwrap_or_else(|e| panic!("index.html not well-formed: {e}"));
    let answer_at = html.find("<h2 id=\"answer\">Does PublishAsync reorder my events?</h2>");
    let howto_at = html.find("How to read this");
    assert!(
        answer_at.is_some() && answer_at < howto_at,
        "the answer comes first"
    );
    assert!(
        html.contains("<th>round-robin pool ×4</th>"),
        "order table rows"
    );
    assert!(html.contains("✅ confirmed"), "claims judged");
    assert!(html.contains("➖ not measured"), "unmeasured claims say so");
    assert!(html.contains("Throughput by publish mode per connection strategy"));
    assert!(html.contains("Late per key by strategy and order"));
    assert!(html.contains("Sync vs async latency by percentile"));
    assert!(
        !html.contains("chart not drawn"),
        "every answer chart drawn"
    );
}
