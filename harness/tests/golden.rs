//! Golden outputs: every rendering of the recorded fixtures (`tests/fixtures/recorded/`) is
//! compared byte for byte with the files in `tests/fixtures/golden/` — the terminal summaries,
//! the summary table, the csv and json summaries, the comparison table and the HTML report (its
//! "Generated <time>" line aside). A change to what users read shows up here as a diff to look
//! at, not by accident.
//!
//! After an intended change: `JSBENCH_BLESS=1 cargo test --test golden`, then review the diff of
//! `tests/fixtures/golden/` before committing it.

use std::path::{Path, PathBuf};

use jsbench::compare::{self, CompareOptions};
use jsbench::render::{comparison, html, machine as output, text};
use jsbench::result::{load as results, Report};

/// The fixtures by a relative path, so that the paths in the outputs do not depend on where the
/// checkout lives (integration tests run in the package directory).
fn runs() -> Vec<(PathBuf, Report)> {
    let runs = results::collect_runs(&[PathBuf::from("tests/fixtures/recorded")]).unwrap();
    assert_eq!(runs.len(), 6, "the six recorded runs");
    runs
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/golden")
}

/// The HTML's generation time changes on every rendering.
fn without_generated_time(html: &str) -> String {
    html.lines()
        .map(|l| {
            if l.starts_with("<p class=\"when\">Generated ") {
                "<p class=\"when\">Generated (time removed)"
            } else {
                l
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn check(name: &str, got: &str) {
    let path = golden_dir().join(name);
    if std::env::var("JSBENCH_BLESS").as_deref() == Ok("1") {
        std::fs::create_dir_all(golden_dir()).unwrap();
        std::fs::write(&path, got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (JSBENCH_BLESS=1 writes it)", path.display()));
    if want != got {
        let line = want
            .lines()
            .zip(got.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| want.lines().count().min(got.lines().count()));
        panic!(
            "{name} differs from {} from line {}:\n  golden: {:?}\n  now:    {:?}\n\
             (JSBENCH_BLESS=1 cargo test --test golden rewrites it; review the diff)",
            path.display(),
            line + 1,
            want.lines().nth(line),
            got.lines().nth(line)
        );
    }
}

#[test]
fn terminal_summaries() {
    let text: String = runs()
        .iter()
        .map(|(d, r)| text::terminal_summary(r, d))
        .collect();
    check("terminal.txt", &text);
}

#[test]
fn summary_table_csv_and_json() {
    let runs = runs();
    check("summary.md", &text::summary_table(&runs));
    check("summary-compact.txt", &text::compact_table(&runs));
    check("summary.csv", &output::csv(&runs));
    check("summary.json", &output::json(&runs));
}

#[test]
fn comparison_table() {
    let runs = runs();
    let c = compare::compare(&runs, &runs, &CompareOptions::default());
    check("compare.md", &comparison::render_table(&c));
}

#[test]
fn html_report() {
    let runs = runs();
    let dir = PathBuf::from("tests/fixtures/recorded");
    let page = html::render(&dir, &runs, None, &[], "jsbench golden");
    check("index.html", &without_generated_time(&page));
    let c = compare::compare(&runs, &runs, &CompareOptions::default());
    let page = html::render(&dir, &runs, Some(&c), &[], "jsbench golden");
    check("index-compare.html", &without_generated_time(&page));
}

#[test]
fn the_compact_table_fits_a_terminal_and_shortens_only_the_names() {
    let mut runs = runs();
    // A name long enough to push the table past 120 columns.
    runs[0].1.scenario.name = "very-long-scenario-name-".repeat(5);
    let table = text::compact_table(&runs);
    for line in table.lines() {
        assert!(line.chars().count() <= text::TERMINAL_WIDTH, "{line:?}");
    }
    let first_row = table.lines().nth(2).unwrap();
    assert!(
        first_row.starts_with("| very-long-scenario-name-"),
        "{first_row}"
    );
    assert!(first_row.contains("…"), "{first_row}");
    // The other rows keep their names whole, and the figures are not cut.
    for (_, r) in &runs[1..] {
        let name = &r.scenario.name;
        assert!(table.contains(&format!("| {name} ")), "{name}: {table}");
        assert!(
            table.contains(&format!("{:.0}", r.throughput.msgs_per_sec)),
            "{table}"
        );
    }
    let header = table.lines().next().unwrap();
    for h in ["verdict", "msgs/s", "p99", "storage", "lost", "dup"] {
        assert!(header.contains(h), "{header}");
    }
}
