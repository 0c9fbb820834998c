//! Which task each training batch comes from: one task per batch.

use std::fmt;
use std::str::FromStr;

use rand::distributions::{Distribution, WeightedIndex};
use rand::seq::SliceRandom;
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::TrainError;

/// How the batches of the tasks are interleaved within an epoch. Written
/// as in configs: `round-robin`, `proportional`, `temperature:T`.
#[derive(Clone, Debug, PartialEq)]
pub enum SamplingStrategy {
    /// Tasks in turn, in task order, skipping those whose batches are used up.
    RoundRobin,
    /// Every batch of every task once, in uniformly shuffled order.
    Proportional,
    /// Each step draws task `t` with probability ∝ `n_t^(1/T)`, independently.
    Temperature(f64),
}

impl SamplingStrategy {
    /// A temperature must be positive (`inf` is allowed: uniform over tasks).
    pub fn validate(&self) -> Result<(), TrainError> {
        match self {
            SamplingStrategy::Temperature(t) if t.is_nan() || *t <= 0.0 => Err(
                TrainError::InvalidConfig(format!("sampling temperature must be > 0, got {t}")),
            ),
            _ => Ok(()),
        }
    }
}

/// A string that is no sampling strategy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid sampling strategy {text:?}: expected round-robin, proportional or temperature:T with T > 0")]
pub struct ParseSamplingError {
    pub text: String,
}

impl FromStr for SamplingStrategy {
    type Err = ParseSamplingError;

    /// `"round-robin"`, `"proportional"` or `"temperature:<T>"`, e.g. `"temperature:2.0"`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseSamplingError {
            text: s.to_string(),
        };
        let strategy = match s.trim() {
            "round-robin" => SamplingStrategy::RoundRobin,
            "proportional" => SamplingStrategy::Proportional,
            other => {
                let t: f64 = other
                    .strip_prefix("temperature:")
                    .ok_or_else(err)?
                    .trim()
                    .parse()
                    .map_err(|_| err())?;
                SamplingStrategy::Temperature(t)
            }
        };
        strategy.validate().map_err(|_| err())?;
        Ok(strategy)
    }
}

impl Serialize for SamplingStrategy {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SamplingStrategy {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for SamplingStrategy {
    /// The form [`FromStr`] reads.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SamplingStrategy::RoundRobin => f.write_str("round-robin"),
            SamplingStrategy::Proportional => f.write_str("proportional"),
            SamplingStrategy::Temperature(t) => write!(f, "temperature:{t}"),
        }
    }
}

/// Sampling probabilities of [`SamplingStrategy::Temperature`]:
/// `p_t ∝ n_t^(1/T)`, 0 for tasks without batches. Computed in log space
/// relative to the largest task, so small temperatures do not overflow.
pub fn temperature_probabilities(temperature: f64, batches: &[usize]) -> Vec<f64> {
    let max = batches.iter().copied().max().unwrap_or(0);
    if max == 0 {
        return vec![0.0; batches.len()];
    }
    let log_max = (max as f64).ln();
    let weights: Vec<f64> = batches
        .iter()
        .map(|&n| {
            if n == 0 {
                0.0
            } else {
                (((n as f64).ln() - log_max) / temperature).exp()
            }
        })
        .collect();
    let sum: f64 = weights.iter().sum();
    weights.into_iter().map(|w| w / sum).collect()
}

/// Plan of one epoch: the task index of every step. `batches[t]` is the
/// number of batches task `t` has this epoch.
///
/// * `RoundRobin`: cycles the tasks in order, skipping exhausted ones, until
///   every batch is used; task `t` appears exactly `batches[t]` times. Uses no
///   randomness.
/// * `Proportional`: task `t` appears exactly `batches[t]` times, positions
///   shuffled uniformly.
/// * `Temperature(T)`: `sum(batches)` steps, each drawn independently with
///   `p_t ∝ n_t^(1/T)` (tasks with no batches are never drawn). A task can be
///   drawn more often than it has batches; the trainer then wraps around its
///   batches.
///
/// # Panics
/// On a temperature that is not > 0 (see [`SamplingStrategy::validate`]).
pub fn epoch_plan(
    strategy: &SamplingStrategy,
    batches: &[usize],
    rng: &mut impl Rng,
) -> Vec<usize> {
    let total: usize = batches.iter().sum();
    match strategy {
        SamplingStrategy::RoundRobin => {
            let mut left = batches.to_vec();
            let mut plan = Vec::with_capacity(total);
            while plan.len() < total {
                for (task, n) in left.iter_mut().enumerate() {
                    if *n > 0 {
                        *n -= 1;
                        plan.push(task);
                    }
                }
            }
            plan
        }
        SamplingStrategy::Proportional => {
            let mut plan: Vec<usize> = batches
                .iter()
                .enumerate()
                .flat_map(|(task, &n)| std::iter::repeat_n(task, n))
                .collect();
            plan.shuffle(rng);
            plan
        }
        SamplingStrategy::Temperature(t) => {
            if let Err(e) = strategy.validate() {
                panic!("{e}");
            }
            if total == 0 {
                return Vec::new();
            }
            let probs = temperature_probabilities(*t, batches);
            let dist = WeightedIndex::new(&probs).expect("at least one task has batches");
            (0..total).map(|_| dist.sample(rng)).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn counts(plan: &[usize], tasks: usize) -> Vec<usize> {
        let mut c = vec![0; tasks];
        for &t in plan {
            c[t] += 1;
        }
        c
    }

    #[test]
    fn parses_and_displays() {
        assert_eq!(
            "round-robin".parse::<SamplingStrategy>().unwrap(),
            SamplingStrategy::RoundRobin
        );
        assert_eq!(
            "proportional".parse::<SamplingStrategy>().unwrap(),
            SamplingStrategy::Proportional
        );
        assert_eq!(
            "temperature:2.0".parse::<SamplingStrategy>().unwrap(),
            SamplingStrategy::Temperature(2.0)
        );
        for s in [
            "temperature:0",
            "temperature:-1",
            "temperature:abc",
            "temperature:NaN",
            "uniform",
            "",
        ] {
            assert!(
                s.parse::<SamplingStrategy>().is_err(),
                "{s:?} should not parse"
            );
        }
        for s in [
            SamplingStrategy::RoundRobin,
            SamplingStrategy::Proportional,
            SamplingStrategy::Temperature(2.5),
        ] {
            assert_eq!(s.to_string().parse::<SamplingStrategy>().unwrap(), s);
        }
    }

    #[test]
    fn round_robin_cycles_and_skips_exhausted() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        let plan = epoch_plan(&SamplingStrategy::RoundRobin, &[3, 1, 0, 2], &mut rng);
        assert_eq!(plan, vec![0, 1, 3, 0, 3, 0]);
        assert!(epoch_plan(&SamplingStrategy::RoundRobin, &[], &mut rng).is_empty());
        assert!(epoch_plan(&SamplingStrategy::RoundRobin, &[0, 0], &mut rng).is_empty());
    }

    #[test]
    fn proportional_uses_every_batch_once_and_interleaves() {
        let batches = [50, 20, 0, 5];
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let plan = epoch_plan(&SamplingStrategy::Proportional, &batches, &mut rng);
        assert_eq!(counts(&plan, 4), batches.to_vec());
        // Shuffled: the first task's batches are not all up front.
        assert_ne!(&plan[..50], &[0; 50][..]);
        // Task 0 holds 50/75 of the steps; each half of the epoch gets a fair share.
        let first_half = plan[..37].iter().filter(|&&t| t == 0).count();
        assert!((15..=35).contains(&first_half), "{first_half}");
    }

    #[test]
    fn temperature_frequencies() {
        let batches = [6000, 3000, 1000, 0];
        let total: usize = batches.iter().sum();
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        // T = 1: proportional in expectation.
        let plan = epoch_plan(&SamplingStrategy::Temperature(1.0), &batches, &mut rng);
        assert_eq!(plan.len(), total);
        let c = counts(&plan, 4);
        for (t, want) in [0.6, 0.3, 0.1, 0.0].into_iter().enumerate() {
            let got = c[t] as f64 / total as f64;
            assert!((got - want).abs() < 0.02, "T=1 task {t}: {got} vs {want}");
        }
        // T → ∞: uniform over tasks that have batches.
        let plan = epoch_plan(&SamplingStrategy::Temperature(1e9), &batches, &mut rng);
        let c = counts(&plan, 4);
        for (t, want) in [1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0, 0.0]
            .into_iter()
            .enumerate()
        {
            let got = c[t] as f64 / total as f64;
            assert!((got - want).abs() < 0.02, "T=1e9 task {t}: {got} vs {want}");
        }
        let p = temperature_probabilities(f64::INFINITY, &batches);
        assert_eq!(p[3], 0.0);
        assert!((p[0] - 1.0 / 3.0).abs() < 1e-12);
        // T = 2: square roots.
        let p = temperature_probabilities(2.0, &[400, 100]);
        assert!((p[0] - 2.0 / 3.0).abs() < 1e-12 && (p[1] - 1.0 / 3.0).abs() < 1e-12);
        // Tiny temperatures do not overflow: all mass on the largest task.
        let p = temperature_probabilities(1e-3, &[1000, 900]);
        assert!(p[0] > 0.99 && p.iter().all(|x| x.is_finite()));
    }

    #[test]
    fn seeded_plans_are_deterministic() {
        let batches = [7, 3, 11];
        for strategy in [
            SamplingStrategy::RoundRobin,
            SamplingStrategy::Proportional,
            SamplingStrategy::Temperature(2.0),
        ] {
            let a = epoch_plan(&strategy, &batches, &mut ChaCha8Rng::seed_from_u64(42));
            let b = epoch_plan(&strategy, &batches, &mut ChaCha8Rng::seed_from_u64(42));
            assert_eq!(a, b, "{strategy}");
            assert_eq!(a.len(), 21);
        }
        let a = epoch_plan(
            &SamplingStrategy::Proportional,
            &batches,
            &mut ChaCha8Rng::seed_from_u64(1),
        );
        let b = epoch_plan(
            &SamplingStrategy::Proportional,
            &batches,
            &mut ChaCha8Rng::seed_from_u64(2),
        );
        assert_ne!(a, b);
    }

    #[test]
    fn serde_round_trip() {
        let s = SamplingStrategy::Temperature(2.0);
        let j = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<SamplingStrategy>(&j).unwrap(), s);
    }
}
