//! The statistics of a comparison: medians and a deterministic percentile bootstrap of the
//! relative change of medians.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Median; sorts `v` in place. `v` must not be empty.
pub fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Percentile bootstrap of the relative change of medians (percent): resample each side with
/// replacement, take the change of the two medians, and return the 2.5th and 97.5th percentiles
/// of those changes. Deterministic for a given RNG state.
pub fn bootstrap_ci(
    base: &[f64],
    cand: &[f64],
    resamples: usize,
    rng: &mut ChaCha8Rng,
) -> Option<(f64, f64)> {
    if base.is_empty() || cand.is_empty() || resamples == 0 {
        return None;
    }
    let mut bs = vec![0.0; base.len()];
    let mut cs = vec![0.0; cand.len()];
    let mut changes = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        for x in bs.iter_mut() {
            *x = base[rng.random_range(0..base.len())];
        }
        for x in cs.iter_mut() {
            *x = cand[rng.random_range(0..cand.len())];
        }
        let (mb, mc) = (median(&mut bs), median(&mut cs));
        if mb > 0.0 {
            changes.push((mc / mb - 1.0) * 100.0);
        }
    }
    if changes.len() * 2 < resamples {
        return None; // mostly zero baselines: no meaningful interval
    }
    changes.sort_by(f64::total_cmp);
    let at = |q: f64| changes[((changes.len() - 1) as f64 * q).round() as usize];
    Some((at(0.025), at(0.975)))
}
