//! Statistics shared by every part that summarises several runs — compare's regression gate,
//! claims' ratios, the strategy charts — and by the benches: the median, and a deterministic
//! percentile bootstrap of the relative change of medians.
//!
//! One median for all of them: with an even count it is the mean of the two middle values, so
//! the same runs give the same figure in a bench's printout, a chart and a comparison.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// The median of `v`: its middle value, or the mean of the two middle values when the count is
/// even. `v` must not be empty.
pub fn median(v: &[f64]) -> f64 {
    median_in_place(&mut v.to_vec())
}

/// [`median`] without a copy: sorts `v` in place (for loops that reuse one buffer). `v` must not
/// be empty.
pub fn median_in_place(v: &mut [f64]) -> f64 {
    assert!(!v.is_empty(), "the median of no values");
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
        let (mb, mc) = (median_in_place(&mut bs), median_in_place(&mut cs));
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

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&[7.0]), 7.0);
        assert_eq!(median(&[1.0, 9.0]), 5.0);
        let mut v = [2.0, 1.0];
        assert_eq!(median_in_place(&mut v), 1.5);
        assert_eq!(v, [1.0, 2.0], "sorted in place");
    }

    #[test]
    #[should_panic(expected = "the median of no values")]
    fn median_of_nothing_is_refused() {
        median(&[]);
    }

    #[test]
    fn bootstrap_is_deterministic_and_brackets_the_change() {
        let base = [100.0, 102.0, 98.0, 101.0, 99.0];
        let cand = [110.0, 112.0, 108.0, 111.0, 109.0];
        let ci = |seed| bootstrap_ci(&base, &cand, 500, &mut ChaCha8Rng::seed_from_u64(seed));
        let (lo, hi) = ci(7).expect("an interval");
        assert!(lo <= 10.0 && 10.0 <= hi, "{lo} … {hi}");
        assert_eq!(ci(7), Some((lo, hi)));
        assert_eq!(
            bootstrap_ci(&[], &cand, 500, &mut ChaCha8Rng::seed_from_u64(7)),
            None
        );
    }
}
