//! Views of a comparison ([`crate::compare`] decides, this draws): the markdown table
//! (terminal, compare.md, the job summary) and github-action-benchmark's
//! `customBiggerIsBetter` / `customSmallerIsBetter` files. The HTML page's comparison section
//! is `html/comparison.rs`, its chart `chart/comparison.rs`.

use crate::compare::{Comparison, Sample};
use crate::render::text::fmt_us;
use crate::result::Unit;

fn fmt_value(v: f64, unit: Unit) -> String {
    match unit {
        Unit::Micros => fmt_us(v),
        Unit::MsgsPerSec => format!("{v:.0} msgs/s"),
        Unit::Millis => format!("{v:.3} ms"),
    }
}

fn fmt_sample(s: &Sample, unit: Unit) -> String {
    if s.n == 0 {
        return "-".into();
    }
    if s.n == 1 {
        return format!("{} (n=1)", fmt_value(s.median, unit));
    }
    // The range without a unit where the unit is not part of the number (msgs/s).
    let bare = |v: f64| match unit {
        Unit::Micros => fmt_us(v),
        Unit::MsgsPerSec | Unit::Millis => format!("{v:.0}"),
    };
    format!(
        "{} (n={}, {}–{})",
        fmt_value(s.median, unit),
        s.n,
        bare(s.min),
        bare(s.max)
    )
}

/// The comparison as markdown (fits a GitHub job summary): the metric table, then the
/// noise-independent regressions, missing / new scenarios, skipped runs, and one closing line.
pub fn render_table(c: &Comparison) -> String {
    let mut s = env_lines(c);
    s.push_str(
        "| scenario | metric | baseline | candidate | change | 95% CI | threshold | decision |\n",
    );
    s.push_str("|---|---|---|---|---|---|---|---|\n");
    for r in c.rows.iter().filter(|r| !c.new.contains(&r.scenario)) {
        let change = r.change_pct.map_or("-".into(), |ch| {
            let dir = if ch == 0.0 {
                ""
            } else if r.worse {
                " worse"
            } else {
                " better"
            };
            format!("{ch:+.1}%{dir}")
        });
        let ci = r
            .ci_pct
            .map_or("-".into(), |(lo, hi)| format!("{lo:+.1}% … {hi:+.1}%"));
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {}{:.0}% | {} |\n",
            r.scenario,
            r.metric,
            fmt_sample(&r.baseline, r.unit),
            fmt_sample(&r.candidate, r.unit),
            change,
            ci,
            if r.bigger_is_better { "-" } else { "+" },
            r.threshold_pct,
            r.decision.label()
        ));
    }
    notes(&mut s, c);
    s.push('\n');
    s.push_str(&if c.refused {
        "refused: the environments differ (no decision; --allow-env-diff to judge anyway)"
            .to_string()
    } else {
        match c.regressions {
            0 => "no regression".to_string(),
            n => format!("{n} regression(s)"),
        }
    });
    s.push('\n');
    s
}

/// Which environment fields differ, first: a reader must know before reading any figure.
fn env_lines(c: &Comparison) -> String {
    if c.env_diffs.is_empty() {
        return String::new();
    }
    let mut s = format!(
        "**{}: the two sides were measured in different environments**\n\n",
        if c.refused { "Refused" } else { "Warning" }
    );
    for d in &c.env_diffs {
        s.push_str(&format!(
            "- {}: baseline {} ≠ candidate {}\n",
            d.field,
            d.baseline.join(", "),
            d.candidate.join(", ")
        ));
    }
    s.push('\n');
    s
}

/// Flips (counted, and timing-dependent ones tolerated), missing / new scenarios, skipped
/// runs, undecided metrics.
fn notes(s: &mut String, c: &Comparison) {
    let (tolerated, counted): (Vec<_>, Vec<_>) = c.flips.iter().partition(|f| f.tolerated);
    for (title, flips) in [
        ("Regressions regardless of noise", counted),
        (
            "Timing-dependent claims failed by a minority of the candidate's runs (not counted)",
            tolerated,
        ),
    ] {
        if flips.is_empty() {
            continue;
        }
        s.push_str(&format!("\n{title}:\n\n"));
        for f in flips {
            s.push_str(&format!(
                "- **{}** {} `{}`: baseline {} → candidate {}\n",
                f.scenario, f.kind, f.what, f.baseline, f.candidate
            ));
        }
    }
    if !c.missing.is_empty() {
        s.push_str(&format!(
            "\nMissing in the candidate (warning): {}\n",
            c.missing.join(", ")
        ));
    }
    if !c.new.is_empty() {
        s.push_str(&format!("\nNew in the candidate: {}\n", c.new.join(", ")));
    }
    if !c.skipped.is_empty() {
        s.push_str("\nRuns left out of the statistics (not complete):\n\n");
        for k in &c.skipped {
            s.push_str(&format!(
                "- {} {} [{}]: {}\n",
                k.side,
                k.scenario,
                k.status,
                k.path.display()
            ));
        }
    }
    if c.insufficient > 0 {
        s.push_str(&format!(
            "\n{} metric(s) not decided: fewer than {} complete run(s) per side (run more repeats, or --min-runs).\n",
            c.insufficient, c.min_runs
        ));
    }
}

/// The candidate's metrics in github-action-benchmark's custom formats: `(customBiggerIsBetter,
/// customSmallerIsBetter)`, each a JSON array of `{name, unit, value, range, extra}`.
/// `value` is the candidate median; `range` is "± (max − min) / 2" of the candidate runs (the
/// spread of the plotted value, in its unit); `extra` tells the run count, the baseline and the
/// change with its interval.
pub fn gh_benchmark_json(c: &Comparison) -> (serde_json::Value, serde_json::Value) {
    let (mut bigger, mut smaller) = (Vec::new(), Vec::new());
    for r in c.rows.iter().filter(|r| r.candidate.n > 0) {
        let mut extra = format!("n={}", r.candidate.n);
        if r.baseline.n > 0 {
            extra.push_str(&format!(
                "; baseline {} (n={})",
                round3(r.baseline.median),
                r.baseline.n
            ));
        }
        if let Some(ch) = r.change_pct {
            extra.push_str(&format!("; change {ch:+.1}%"));
        }
        if let Some((lo, hi)) = r.ci_pct {
            extra.push_str(&format!(" (95% CI {lo:+.1}% … {hi:+.1}%)"));
        }
        let entry = serde_json::json!({
            "name": format!("{} - {}", r.scenario, r.metric),
            "unit": r.unit,
            "value": round3(r.candidate.median),
            "range": format!("± {}", round3((r.candidate.max - r.candidate.min) / 2.0)),
            "extra": extra,
        });
        if r.bigger_is_better {
            bigger.push(entry);
        } else {
            smaller.push(entry);
        }
    }
    (
        serde_json::Value::Array(bigger),
        serde_json::Value::Array(smaller),
    )
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}
