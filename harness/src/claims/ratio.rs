//! Ratio claims: runs of one kind (`of`) paired with runs of another (`over`) that publish the
//! same way to the same kind of stream (`matched_on`), and the ratio of their medians with a
//! percentile-bootstrap interval across repeats.

use std::collections::BTreeMap;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::file::Metric;
use super::select::{MatchField, RunFacts, Selector};
use crate::result::Report;
use crate::stats::median;

/// Resamples of the bootstrap; fixed seed, so a judgement of the same results never changes.
const RESAMPLES: usize = 2000;
const SEED: u64 = 0x006a_7362_656e_6368;

/// One matched pair of groups and their ratio.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PairRatio {
    /// What the two groups share, in words ("round_robin ×4, file, R1").
    pub label: String,
    pub of_runs: Vec<String>,
    pub over_runs: Vec<String>,
    /// Median of `of` over median of `over`.
    pub ratio: f64,
    /// 95 % percentile-bootstrap interval of that ratio; `None` with fewer than 2 runs a side.
    pub interval: Option<(f64, f64)>,
}

/// Pairs the runs and computes each pair's ratio. Runs without the metric are left out.
pub fn pairs(
    runs: &[(RunFacts, &Report)],
    metric: &Metric,
    of: &Selector,
    over: &Selector,
    matched_on: &[MatchField],
) -> Vec<PairRatio> {
    type Side = Vec<(String, f64)>;
    let mut groups: BTreeMap<Vec<String>, (Side, Side)> = BTreeMap::new();
    for (facts, report) in runs {
        let Some(v) = metric.of(report) else { continue };
        let key: Vec<String> = matched_on.iter().map(|f| facts.field(*f)).collect();
        let entry = (facts.label.clone(), v);
        if of.matches(facts) {
            groups.entry(key.clone()).or_default().0.push(entry.clone());
        }
        if over.matches(facts) {
            groups.entry(key).or_default().1.push(entry);
        }
    }
    groups.retain(|_, (a, b)| !a.is_empty() && !b.is_empty());
    // Name pairs by what tells them apart; the strategy when nothing does.
    let varies: Vec<bool> = (0..matched_on.len())
        .map(|i| {
            let mut values = groups.keys().map(|k| &k[i]);
            let first = values.next();
            values.any(|v| Some(v) != first)
        })
        .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    groups
        .into_iter()
        .map(|(key, (a, b))| {
            let av: Vec<f64> = a.iter().map(|x| x.1).collect();
            let bv: Vec<f64> = b.iter().map(|x| x.1).collect();
            PairRatio {
                label: label(matched_on, &key, &varies),
                of_runs: a.into_iter().map(|x| x.0).collect(),
                over_runs: b.into_iter().map(|x| x.0).collect(),
                ratio: median(&av) / median(&bv),
                interval: (av.len() >= 2 && bv.len() >= 2)
                    .then(|| bootstrap(&av, &bv, &mut rng))
                    .flatten(),
            }
        })
        .collect()
}

/// The shared fields in words: the strategy and pool size, then any other field whose value
/// differs between pairs (storage, replicas, …); fields the same in every pair say nothing.
fn label(fields: &[MatchField], key: &[String], varies: &[bool]) -> String {
    let mut parts = Vec::new();
    for ((f, v), varies) in fields.iter().zip(key).zip(varies) {
        let lead = matches!(f, MatchField::Strategy | MatchField::Connections);
        if !varies && !lead {
            continue;
        }
        let part = match f {
            MatchField::Connections if v == "1" => continue,
            MatchField::Strategy => v.replace('_', "-"),
            MatchField::Connections => format!("×{v}"),
            MatchField::Replicas => format!("R{v}"),
            MatchField::Payload => format!("{v} B"),
            _ if v.is_empty() => continue,
            _ => v.clone(),
        };
        parts.push(part);
    }
    parts.join(" ")
}

/// 95 % percentile-bootstrap interval of median(a) / median(b): compare's interval of the
/// relative change of medians from `b` to `a`, as a ratio.
fn bootstrap(a: &[f64], b: &[f64], rng: &mut ChaCha8Rng) -> Option<(f64, f64)> {
    crate::stats::bootstrap_ci(b, a, RESAMPLES, rng)
        .map(|(lo, hi)| (1.0 + lo / 100.0, 1.0 + hi / 100.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_brackets_the_ratio_of_medians() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let (lo, hi) = bootstrap(&[30.0, 31.0, 29.0], &[10.0, 10.5, 9.5], &mut rng).unwrap();
        assert!(lo <= 3.0 && 3.0 <= hi, "{lo} {hi}");
        assert!(lo > 2.5 && hi < 3.5, "{lo} {hi}");
    }

    #[test]
    fn labels_lead_with_the_strategy() {
        let key = vec!["round_robin".to_string(), "4".into(), "file".into()];
        let f = [
            MatchField::Strategy,
            MatchField::Connections,
            MatchField::Storage,
        ];
        assert_eq!(
            label(&f, &key, &[false, false, true]),
            "round-robin ×4 file"
        );
        assert_eq!(label(&f, &key, &[true, false, false]), "round-robin ×4");
    }
}
