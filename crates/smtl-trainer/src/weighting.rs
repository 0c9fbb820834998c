//! How the per-task losses are weighted before the backward pass.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

/// Loss weighting scheme. Written as in configs: `fixed`, `uncertainty`,
/// `fixed:taskA=1,taskB=2`.
#[derive(Clone, Debug, PartialEq)]
pub enum LossWeighting {
    /// A constant multiplier per task; a task missing from the map gets 1.0.
    Fixed(BTreeMap<String, f64>),
    /// Homoscedastic uncertainty weighting (Kendall, Gal & Cipolla 2018): a
    /// learnable log-variance `s_t` per task, loss `exp(-s_t) * L_t + s_t`.
    Uncertainty,
}

/// A string that is no loss weighting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid loss weighting {text:?}: expected fixed, uncertainty or fixed:TASK=W,TASK=W ({reason})")]
pub struct ParseWeightingError {
    pub text: String,
    pub reason: String,
}

impl std::str::FromStr for LossWeighting {
    type Err = ParseWeightingError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason: String| ParseWeightingError {
            text: s.to_string(),
            reason,
        };
        match s.trim() {
            "fixed" => Ok(Self::Fixed(BTreeMap::new())),
            "uncertainty" => Ok(Self::Uncertainty),
            other => {
                let spec = other
                    .strip_prefix("fixed:")
                    .ok_or_else(|| err("unknown scheme".into()))?;
                let mut weights = BTreeMap::new();
                for pair in spec.split(',') {
                    let (task, w) = pair
                        .split_once('=')
                        .ok_or_else(|| err(format!("{pair:?} is not TASK=W")))?;
                    let w: f64 = w
                        .trim()
                        .parse()
                        .map_err(|_| err(format!("weight {w:?} is not a number")))?;
                    if !w.is_finite() || w < 0.0 {
                        return Err(err(format!("weight {w} must be finite and >= 0")));
                    }
                    if weights.insert(task.trim().to_string(), w).is_some() {
                        return Err(err(format!("task {:?} is weighted twice", task.trim())));
                    }
                }
                Ok(Self::Fixed(weights))
            }
        }
    }
}

impl std::fmt::Display for LossWeighting {
    /// The form `FromStr` reads.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Uncertainty => f.write_str("uncertainty"),
            Self::Fixed(w) if w.is_empty() => f.write_str("fixed"),
            Self::Fixed(w) => {
                let pairs: Vec<String> = w.iter().map(|(t, v)| format!("{t}={v}")).collect();
                write!(f, "fixed:{}", pairs.join(","))
            }
        }
    }
}

impl Serialize for LossWeighting {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for LossWeighting {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

enum Inner {
    Fixed(BTreeMap<String, f64>),
    /// (task, s_t) in task order.
    Uncertainty(Vec<(String, Tensor)>),
}

/// A [`LossWeighting`] instantiated for a set of tasks.
pub struct LossWeighter {
    tasks: Vec<String>,
    inner: Inner,
}

/// Prefix of the names returned by [`LossWeighter::parameters`].
pub const LOG_VAR_PREFIX: &str = "loss_weighting.log_var.";

impl LossWeighter {
    /// Uncertainty: one learnable log-variance `s_t` per task, a 0-dim f32
    /// tensor on `device`, initialised to 0, with `requires_grad`.
    pub fn new(weighting: &LossWeighting, tasks: &[String], device: Device) -> Self {
        let inner = match weighting {
            LossWeighting::Fixed(weights) => Inner::Fixed(
                tasks
                    .iter()
                    .map(|t| (t.clone(), weights.get(t).copied().unwrap_or(1.0)))
                    .collect(),
            ),
            LossWeighting::Uncertainty => Inner::Uncertainty(
                tasks
                    .iter()
                    .map(|t| {
                        let s = Tensor::zeros([], (Kind::Float, device)).set_requires_grad(true);
                        (t.clone(), s)
                    })
                    .collect(),
            ),
        };
        Self {
            tasks: tasks.to_vec(),
            inner,
        }
    }

    pub fn tasks(&self) -> &[String] {
        &self.tasks
    }

    /// Fixed: `w_t * loss` (`w_t` = 1.0 for a task not in the map).
    /// Uncertainty: `exp(-s_t) * loss + s_t`.
    ///
    /// # Panics
    /// With `Uncertainty`, on a task that was not given to [`LossWeighter::new`].
    pub fn weigh(&self, task: &str, loss: &Tensor) -> Tensor {
        match &self.inner {
            Inner::Fixed(weights) => loss * weights.get(task).copied().unwrap_or(1.0),
            Inner::Uncertainty(log_vars) => {
                let s = log_vars
                    .iter()
                    .find(|(t, _)| t == task)
                    .map(|(_, s)| s)
                    .unwrap_or_else(|| panic!("LossWeighter: unknown task {task:?}"));
                s.neg().exp() * loss + s
            }
        }
    }

    /// Whether the weights are learned (uncertainty weighting).
    pub fn is_learned(&self) -> bool {
        matches!(self.inner, Inner::Uncertainty(_))
    }

    /// `("loss_weighting.log_var.<task>", s_t)` per task (empty for Fixed);
    /// the tensors are the live parameters, for an optimizer group.
    pub fn parameters(&self) -> Vec<(String, Tensor)> {
        match &self.inner {
            Inner::Fixed(_) => Vec::new(),
            Inner::Uncertainty(log_vars) => log_vars
                .iter()
                .map(|(t, s)| (format!("{LOG_VAR_PREFIX}{t}"), s.shallow_clone()))
                .collect(),
        }
    }

    /// The effective multiplier of each task's loss: `w_t` or `exp(-s_t)`.
    pub fn current_weights(&self) -> BTreeMap<String, f64> {
        match &self.inner {
            Inner::Fixed(weights) => weights.clone(),
            Inner::Uncertainty(log_vars) => log_vars
                .iter()
                .map(|(t, s)| (t.clone(), (-s.double_value(&[])).exp()))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tasks() -> Vec<String> {
        vec!["trec".into(), "wnut".into()]
    }

    #[test]
    fn fixed_weights_scale_and_default_to_one() {
        let w = LossWeighting::Fixed(BTreeMap::from([
            ("trec".to_string(), 0.5),
            ("other".to_string(), 9.0),
        ]));
        let lw = LossWeighter::new(&w, &tasks(), Device::Cpu);
        let loss = Tensor::from(2.0f32);
        assert_eq!(lw.weigh("trec", &loss).double_value(&[]), 1.0);
        assert_eq!(lw.weigh("wnut", &loss).double_value(&[]), 2.0);
        assert!(lw.parameters().is_empty());
        assert_eq!(
            lw.current_weights(),
            BTreeMap::from([("trec".to_string(), 0.5), ("wnut".to_string(), 1.0)])
        );
    }

    #[test]
    fn uncertainty_value_and_gradient() {
        let lw = LossWeighter::new(&LossWeighting::Uncertainty, &tasks(), Device::Cpu);
        let params = lw.parameters();
        assert_eq!(
            params.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
            ["loss_weighting.log_var.trec", "loss_weighting.log_var.wnut"]
        );
        assert!(params
            .iter()
            .all(|(_, s)| s.requires_grad() && s.double_value(&[]) == 0.0));
        assert_eq!(lw.current_weights()["trec"], 1.0);

        let s_val = 0.7f64;
        tch::no_grad(|| {
            let _ = params[0].1.shallow_clone().fill_(s_val);
        });
        let l_val = 1.3f64;
        let loss = Tensor::from(l_val as f32);
        let weighted = lw.weigh("trec", &loss);
        let want = (-s_val).exp() * l_val + s_val;
        assert!((weighted.double_value(&[]) - want).abs() < 1e-6);
        weighted.backward();
        let grad = params[0].1.grad().double_value(&[]);
        let want_grad = 1.0 - (-s_val).exp() * l_val;
        assert!((grad - want_grad).abs() < 1e-6, "{grad} vs {want_grad}");
        // The other task's log-variance took no part.
        assert!(!params[1].1.grad().defined());
        assert!((lw.current_weights()["trec"] - (-s_val).exp()).abs() < 1e-7);
    }

    #[test]
    fn serde_round_trip() {
        for w in [
            LossWeighting::Uncertainty,
            LossWeighting::Fixed(BTreeMap::from([("trec".to_string(), 2.0)])),
        ] {
            let j = serde_json::to_string(&w).unwrap();
            assert_eq!(serde_json::from_str::<LossWeighting>(&j).unwrap(), w);
        }
    }

    #[test]
    fn parses_the_config_forms() {
        assert_eq!(
            "fixed:trec=1,wnut=2.5".parse::<LossWeighting>().unwrap(),
            LossWeighting::Fixed(BTreeMap::from([
                ("trec".to_string(), 1.0),
                ("wnut".to_string(), 2.5)
            ]))
        );
        for bad in [
            "fixd",
            "fixed:trec",
            "fixed:trec=x",
            "fixed:a=1,a=2",
            "fixed:a=-1",
        ] {
            let err = bad.parse::<LossWeighting>().unwrap_err();
            assert!(err.to_string().contains(bad), "{err}");
        }
    }
}
