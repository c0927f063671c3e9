//! How long a worker "processes" one message: fixed, uniform or exponential, drawn from the
//! worker's own seeded RNG so a run's processing times are reproducible.

use std::time::Duration;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::scenario::{ConsumePlan, ProcessingDistribution};

/// How long one processing takes.
pub(super) fn processing_time(plan: &ConsumePlan, rng: &mut ChaCha8Rng) -> Duration {
    let base = plan.processing;
    match plan.processing_distribution {
        ProcessingDistribution::Fixed => base,
        ProcessingDistribution::Uniform => {
            let span = plan.processing_max.saturating_sub(base).as_nanos() as u64;
            base + Duration::from_nanos(if span == 0 {
                0
            } else {
                rng.random_range(0..=span)
            })
        }
        ProcessingDistribution::Exponential => {
            // Capped at 20× the mean: the exponential tail is otherwise unbounded.
            let u: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
            let ns = (-u.ln() * base.as_nanos() as f64).min(20.0 * base.as_nanos() as f64);
            Duration::from_nanos(ns as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{ConsumeWhen, ConsumerKind, OnFail, PoolModel};
    use rand::SeedableRng;

    fn plan(dist: ProcessingDistribution, base_ms: u64, max_ms: u64) -> ConsumePlan {
        ConsumePlan {
            consumer: ConsumerKind::Durable,
            when: ConsumeWhen::Concurrent,
            model: PoolModel::Keyed,
            workers: 4,
            processing: Duration::from_millis(base_ms),
            processing_max: Duration::from_millis(max_ms),
            processing_distribution: dist,
            fail_rate: 0.0,
            on_fail: OnFail::Nak,
            max_ack_pending: 1000,
            ack_wait: Duration::from_secs(30),
            fetch_batch: 100,
            drain_timeout: Duration::from_secs(30),
        }
    }

    #[test]
    fn processing_times_follow_the_distribution_and_the_seed() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let fixed = plan(ProcessingDistribution::Fixed, 2, 2);
        assert_eq!(processing_time(&fixed, &mut rng), Duration::from_millis(2));

        let uni = plan(ProcessingDistribution::Uniform, 1, 3);
        let xs: Vec<Duration> = (0..1000).map(|_| processing_time(&uni, &mut rng)).collect();
        assert!(xs
            .iter()
            .all(|d| *d >= Duration::from_millis(1) && *d <= Duration::from_millis(3)));
        assert!(xs.iter().any(|d| *d < Duration::from_micros(1500)));
        assert!(xs.iter().any(|d| *d > Duration::from_micros(2500)));

        let exp = plan(ProcessingDistribution::Exponential, 1, 1);
        let ys: Vec<f64> = (0..20_000)
            .map(|_| processing_time(&exp, &mut rng).as_secs_f64() * 1000.0)
            .collect();
        let mean = ys.iter().sum::<f64>() / ys.len() as f64;
        assert!((0.9..1.1).contains(&mean), "mean {mean}");
        assert!(ys.iter().all(|y| *y <= 20.0));

        // Same seed, same times.
        let a: Vec<Duration> = {
            let mut r = ChaCha8Rng::seed_from_u64(9);
            (0..10).map(|_| processing_time(&uni, &mut r)).collect()
        };
        let b: Vec<Duration> = {
            let mut r = ChaCha8Rng::seed_from_u64(9);
            (0..10).map(|_| processing_time(&uni, &mut r)).collect()
        };
        assert_eq!(a, b);
    }
}
