//! AdamW over named parameter groups, with its state kept here so that it
//! can be saved and restored and frozen parameters never hold any.
//!
//! The update is `torch.optim.AdamW`'s, run by libtorch's fused kernel
//! (`fused=True`; equal to the single-tensor path within rounding):
//!
//! ```text
//! step += 1
//! p     *= 1 - lr * weight_decay               (decoupled weight decay)
//! m      = lerp(m, g, 1 - beta1)
//! v      = beta2 * v + (1 - beta2) * g * g
//! denom  = sqrt(v) / sqrt(1 - beta2^step) + eps
//! p     -= lr / (1 - beta1^step) * m / denom
//! ```
//!
//! # Gradients that are "absent"
//!
//! tch cannot set a gradient back to `None`, so [`AdamW::zero_grad`] zeroes
//! each gradient in place and remembers its storage address and version
//! counter. A backward pass that reaches the parameter bumps the version (or
//! replaces the tensor), so [`AdamW::step`] and [`AdamW::clip_grad_norm`] can
//! tell a gradient that no backward has touched since `zero_grad` from a real
//! one, and treat it as absent. That reproduces torch's
//! `zero_grad(set_to_none=True)`: the head of a task that was not in the batch
//! gets no weight decay, no moment update and no step count.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tch::Tensor;

use crate::TrainError;

/// Settings of one parameter group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GroupSettings {
    /// Base learning rate; a step uses `lr * lr_factor`.
    pub lr: f64,
    /// Decoupled weight decay (torch AdamW's `weight_decay`).
    pub weight_decay: f64,
    /// A frozen group is never updated, holds no state and its parameters
    /// have `requires_grad == false`.
    pub frozen: bool,
}

/// Hyper-parameters shared by all groups.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdamWConfig {
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// Whether biases and normalisation weights take weight decay too.
    /// `false` (the default) exempts them, as the Hugging Face Trainer does
    /// (and so sentence-transformers' `fit`): see [`decays`].
    #[serde(default)]
    pub decay_bias_and_norm: bool,
}

impl Default for AdamWConfig {
    /// torch's defaults: betas (0.9, 0.999), eps 1e-8; biases and norms
    /// exempt from decay, as the Hugging Face Trainer.
    fn default() -> Self {
        Self {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            decay_bias_and_norm: false,
        }
    }
}

/// Whether the parameter `name` takes weight decay under the Hugging Face
/// Trainer's rule (`get_decay_parameter_names`): not when its lower-cased
/// name contains `bias`, `layernorm` or `rmsnorm`, or has a segment `norm`
/// or one ending in `_norm` (DistilBERT's `sa_layer_norm`).
pub fn decays(name: &str) -> bool {
    let name = name.to_lowercase();
    let exempt = ["bias", "layernorm", "rmsnorm"]
        .iter()
        .any(|p| name.contains(p))
        || name
            .split('.')
            .any(|segment| segment == "norm" || segment.ends_with("_norm"));
    !exempt
}

struct Param {
    name: String,
    tensor: Tensor,
    /// Takes the group's weight decay (see [`AdamWConfig::decay_bias_and_norm`]).
    decays: bool,
    /// `(data_ptr, version)` of the gradient as `zero_grad` left it.
    zeroed_grad: Option<(usize, i64)>,
}

impl Param {
    /// The gradient, unless there is none or no backward pass has touched it
    /// since `zero_grad`.
    fn live_grad(&self) -> Option<Tensor> {
        let grad = self.tensor.grad();
        if !grad.defined() {
            return None;
        }
        if let Some((ptr, version)) = self.zeroed_grad {
            if grad.data_ptr() as usize == ptr && grad.internal_version() == version {
                return None;
            }
        }
        Some(grad)
    }
}

struct Group {
    name: String,
    settings: GroupSettings,
    params: Vec<Param>,
}

struct ParamState {
    step: i64,
    exp_avg: Tensor,
    exp_avg_sq: Tensor,
}

/// One group's tensors for a fused step.
#[derive(Default)]
struct StepTensors {
    params: Vec<Tensor>,
    grads: Vec<Tensor>,
    exp_avgs: Vec<Tensor>,
    exp_avg_sqs: Vec<Tensor>,
    steps: Vec<Tensor>,
}

/// AdamW over named parameter groups; see the module docs.
pub struct AdamW {
    groups: Vec<Group>,
    config: AdamWConfig,
    /// Keyed by parameter name; only parameters that have taken a step.
    state: HashMap<String, ParamState>,
}

/// `(group name, settings, named parameters)`, as given to [`AdamW::new`].
pub type ParamGroup = (String, GroupSettings, Vec<(String, Tensor)>);

/// Version tag written into [`AdamW::state_meta`].
pub const STATE_FORMAT: &str = "smtl-adamw-v1";

fn set_requires_grad(tensor: &Tensor, requires_grad: bool) {
    // `set_requires_grad` acts on the tensor itself; the returned handle is
    // just another reference to it.
    let _ = tensor.set_requires_grad(requires_grad);
}

impl AdamW {
    /// `groups`: (group name, settings, named params). Sets
    /// `requires_grad = true` on the parameters of unfrozen groups and `false`
    /// on frozen ones.
    ///
    /// # Panics
    /// If two groups share a name, two parameters share a name (across all
    /// groups), or a parameter is not a leaf tensor (autograd never fills its
    /// `.grad`; `Tensor::copy` of a tensor that requires grad is such a
    /// tensor, `t.detach().copy()` is not).
    pub fn new(groups: Vec<ParamGroup>, config: AdamWConfig) -> Self {
        let mut group_names = HashSet::new();
        let mut param_names = HashSet::new();
        let groups = groups
            .into_iter()
            .map(|(name, settings, params)| {
                assert!(group_names.insert(name.clone()), "AdamW: duplicate parameter group {name:?}");
                let params = params
                    .into_iter()
                    .map(|(pname, tensor)| {
                        assert!(param_names.insert(pname.clone()), "AdamW: duplicate parameter name {pname:?}");
                        assert!(
                            tensor.is_leaf(),
                            "AdamW: parameter {pname:?} is not a leaf tensor (it would never receive a gradient)"
                        );
                        set_requires_grad(&tensor, !settings.frozen);
                        Param {
                            decays: config.decay_bias_and_norm || decays(&pname),
                            name: pname,
                            tensor,
                            zeroed_grad: None,
                        }
                    })
                    .collect();
                Group { name, settings, params }
            })
            .collect();
        Self {
            groups,
            config,
            state: HashMap::new(),
        }
    }

    pub fn config(&self) -> &AdamWConfig {
        &self.config
    }

    fn group_mut(&mut self, group: &str) -> Result<&mut Group, TrainError> {
        self.groups
            .iter_mut()
            .find(|g| g.name == group)
            .ok_or_else(|| TrainError::InvalidConfig(format!("unknown parameter group {group:?}")))
    }

    /// Freezing drops the group's optimiser state and sets
    /// `requires_grad = false` on its parameters; unfreezing sets it back to
    /// `true`, and the next steps start from fresh state. Setting the flag it
    /// already has changes nothing.
    pub fn set_frozen(&mut self, group: &str, frozen: bool) -> Result<(), TrainError> {
        let g = self.group_mut(group)?;
        if g.settings.frozen == frozen {
            return Ok(());
        }
        g.settings.frozen = frozen;
        let names: Vec<String> = g
            .params
            .iter()
            .map(|p| {
                set_requires_grad(&p.tensor, !frozen);
                p.name.clone()
            })
            .collect();
        if frozen {
            for name in names {
                self.state.remove(&name);
            }
        }
        Ok(())
    }

    /// Group names, in construction order.
    pub fn group_names(&self) -> Vec<String> {
        self.groups.iter().map(|g| g.name.clone()).collect()
    }

    pub fn settings(&self, group: &str) -> Option<&GroupSettings> {
        self.groups
            .iter()
            .find(|g| g.name == group)
            .map(|g| &g.settings)
    }

    /// Sets the group's base learning rate.
    pub fn set_lr(&mut self, group: &str, lr: f64) -> Result<(), TrainError> {
        self.group_mut(group)?.settings.lr = lr;
        Ok(())
    }

    /// Drops the gradients of all parameters (frozen ones included), which
    /// is torch's `set_to_none=True` behaviour: a parameter no backward pass
    /// reaches afterwards has no gradient and takes no step. Dropping them
    /// (`smtl_kernels::reset_grad`) rather than zeroing saves the zero-fill
    /// and lets the next backward write the gradient instead of adding it to
    /// zeros; where that fails the gradient is zeroed and marked absent
    /// until a backward pass touches it again (see the module docs).
    pub fn zero_grad(&mut self) {
        let _guard = tch::no_grad_guard();
        for group in &mut self.groups {
            for p in &mut group.params {
                let mut grad = p.tensor.grad();
                p.zeroed_grad = None;
                if grad.defined() && smtl_kernels::reset_grad(&p.tensor).is_err() {
                    let _ = grad.detach_();
                    let _ = grad.zero_();
                    p.zeroed_grad = Some((grad.data_ptr() as usize, grad.internal_version()));
                }
            }
        }
    }

    fn live_trainable_grads(&self) -> Vec<Tensor> {
        self.groups
            .iter()
            .filter(|g| !g.settings.frozen)
            .flat_map(|g| g.params.iter().filter_map(Param::live_grad))
            .collect()
    }

    /// Like `torch.nn.utils.clip_grad_norm_(params, max_norm)` over the
    /// gradients of the unfrozen groups: the global L2 norm of all gradients;
    /// when it exceeds `max_norm` every gradient is scaled in place by
    /// `max_norm / (norm + 1e-6)`. Returns the norm before clipping (0.0 when
    /// there are no gradients). A non-finite norm is returned as is and leaves
    /// the gradients untouched (torch would turn them all into NaN): check the
    /// result with `is_finite()`.
    pub fn clip_grad_norm(&self, max_norm: f64) -> f64 {
        let _guard = tch::no_grad_guard();
        let grads = self.live_trainable_grads();
        let Some(first) = grads.first() else {
            return 0.0;
        };
        let device = first.device();
        let norms: Vec<Tensor> = grads.iter().map(|g| g.norm().to_device(device)).collect();
        let total = Tensor::stack(&norms, 0).norm();
        let total_value = total.double_value(&[]);
        if !total_value.is_finite() {
            return total_value;
        }
        // torch: clip_coef = max_norm / (total_norm + 1e-6), clamped at 1.0;
        // `float / tensor` is `tensor.reciprocal() * float` in torch.
        let coef = (total + 1e-6).reciprocal() * max_norm;
        if coef.double_value(&[]) < 1.0 {
            for mut g in grads {
                let coef = coef.to_device(g.device());
                let _ = g.g_mul_(&coef);
            }
        }
        total_value
    }

    /// One AdamW step with learning rate `settings.lr * lr_factor` for every
    /// unfrozen group. Parameters of frozen groups, and parameters without a
    /// gradient, are left untouched (no weight decay either) and get no state.
    ///
    /// The update is libtorch's fused AdamW kernel
    /// ([`smtl_kernels::fused_adamw`], torch's `fused=True`, which the
    /// Hugging Face Trainer uses by default): one pass per parameter instead
    /// of six tensor operations, which took a fifth of a MiniLM training step
    /// (docs/performance.md, "Training").
    pub fn step(&mut self, lr_factor: f64) -> Result<(), TrainError> {
        let _guard = tch::no_grad_guard();
        let AdamWConfig {
            beta1, beta2, eps, ..
        } = self.config;
        for group in &self.groups {
            if group.settings.frozen {
                continue;
            }
            // [decayed, exempt]: one fused call each.
            let mut sets = [StepTensors::default(), StepTensors::default()];
            for p in &group.params {
                let Some(grad) = p.live_grad() else {
                    continue;
                };
                let state = self
                    .state
                    .entry(p.name.clone())
                    .or_insert_with(|| ParamState {
                        step: 0,
                        exp_avg: p.tensor.zeros_like(),
                        exp_avg_sq: p.tensor.zeros_like(),
                    });
                state.step += 1;
                let tensors = &mut sets[usize::from(!p.decays)];
                tensors.params.push(p.tensor.shallow_clone());
                tensors.grads.push(grad.contiguous());
                tensors.exp_avgs.push(state.exp_avg.shallow_clone());
                tensors.exp_avg_sqs.push(state.exp_avg_sq.shallow_clone());
                tensors
                    .steps
                    .push(Tensor::from(state.step as f32).to_device(p.tensor.device()));
            }
            for (tensors, weight_decay) in sets.iter().zip([group.settings.weight_decay, 0.0]) {
                if tensors.params.is_empty() {
                    continue;
                }
                smtl_kernels::fused_adamw(
                    smtl_kernels::AdamWTensors {
                        params: &tensors.params,
                        grads: &tensors.grads,
                        exp_avgs: &tensors.exp_avgs,
                        exp_avg_sqs: &tensors.exp_avg_sqs,
                        steps: &tensors.steps,
                    },
                    smtl_kernels::AdamWStep {
                        lr: group.settings.lr * lr_factor,
                        beta1,
                        beta2,
                        weight_decay,
                        eps,
                    },
                )?;
            }
        }
        Ok(())
    }

    /// Number of scalars in the unfrozen groups.
    pub fn trainable_parameter_count(&self) -> i64 {
        self.groups
            .iter()
            .filter(|g| !g.settings.frozen)
            .flat_map(|g| g.params.iter())
            .map(|p| p.tensor.numel() as i64)
            .sum()
    }

    /// Bytes held by the first and second moments.
    pub fn state_bytes(&self) -> i64 {
        self.state
            .values()
            .flat_map(|s| [&s.exp_avg, &s.exp_avg_sq])
            .map(|t| (t.numel() * t.kind().elt_size_in_bytes()) as i64)
            .sum()
    }

    /// Names of the parameters that hold state, in group/parameter order.
    fn params_with_state(&self) -> impl Iterator<Item = (&Param, &ParamState)> {
        self.groups
            .iter()
            .flat_map(|g| g.params.iter())
            .filter_map(|p| self.state.get(&p.name).map(|s| (p, s)))
    }

    /// Copies (not views) of the moments: `exp_avg.<param>` and
    /// `exp_avg_sq.<param>` for every parameter that holds state. The step
    /// counts are in [`AdamW::state_meta`].
    pub fn state_tensors(&self) -> Vec<(String, Tensor)> {
        let _guard = tch::no_grad_guard();
        self.params_with_state()
            .flat_map(|(p, s)| {
                [
                    (format!("exp_avg.{}", p.name), s.exp_avg.copy()),
                    (format!("exp_avg_sq.{}", p.name), s.exp_avg_sq.copy()),
                ]
            })
            .collect()
    }

    /// `{"format": "smtl-adamw-v1", "config": {...}, "groups": {name:
    /// {"lr", "weight_decay", "frozen"}}, "step": {param: count}}`. Only
    /// `"step"` is read back by [`AdamW::load_state`]; the rest is for the
    /// record.
    pub fn state_meta(&self) -> Value {
        let steps: serde_json::Map<String, Value> = self
            .params_with_state()
            .map(|(p, s)| (p.name.clone(), json!(s.step)))
            .collect();
        let groups: serde_json::Map<String, Value> = self
            .groups
            .iter()
            .map(|g| (g.name.clone(), json!(g.settings)))
            .collect();
        json!({
            "format": STATE_FORMAT,
            "config": self.config,
            "groups": groups,
            "step": steps,
        })
    }

    /// Replaces the whole state with the one saved by
    /// [`AdamW::state_tensors`] / [`AdamW::state_meta`]. Tensors are copied
    /// onto each parameter's device and dtype. Fails, changing nothing, when a
    /// named parameter is unknown or belongs to a frozen group (restore the
    /// frozen flags first), a moment is missing, has the wrong shape, or is
    /// left over.
    pub fn load_state(
        &mut self,
        tensors: Vec<(String, Tensor)>,
        meta: &Value,
    ) -> Result<(), TrainError> {
        let bad = |msg: String| TrainError::InvalidState(msg);
        if let Some(format) = meta.get("format") {
            if format != STATE_FORMAT {
                return Err(bad(format!("unsupported state format {format}")));
            }
        }
        let steps = meta
            .get("step")
            .and_then(Value::as_object)
            .ok_or_else(|| bad("meta has no \"step\" object".into()))?;
        let mut tensors: HashMap<String, Tensor> = tensors.into_iter().collect();
        let mut new_state = HashMap::new();
        let _guard = tch::no_grad_guard();
        for (name, step) in steps {
            let step = step.as_i64().filter(|s| *s >= 1).ok_or_else(|| {
                bad(format!(
                    "step count of {name:?} is {step}, not a positive integer"
                ))
            })?;
            let (group, param) = self
                .groups
                .iter()
                .find_map(|g| g.params.iter().find(|p| &p.name == name).map(|p| (g, p)))
                .ok_or_else(|| bad(format!("state for unknown parameter {name:?}")))?;
            if group.settings.frozen {
                return Err(bad(format!(
                    "state for parameter {name:?} of frozen group {:?}",
                    group.name
                )));
            }
            let mut moment = |prefix: &str| -> Result<Tensor, TrainError> {
                let key = format!("{prefix}.{name}");
                let t = tensors
                    .remove(&key)
                    .ok_or_else(|| bad(format!("missing state tensor {key:?}")))?;
                if t.size() != param.tensor.size() {
                    return Err(bad(format!(
                        "state tensor {key:?} has shape {:?}, parameter has {:?}",
                        t.size(),
                        param.tensor.size()
                    )));
                }
                let mut dst = param.tensor.zeros_like();
                dst.f_copy_(&t)?;
                Ok(dst)
            };
            let exp_avg = moment("exp_avg")?;
            let exp_avg_sq = moment("exp_avg_sq")?;
            new_state.insert(
                name.clone(),
                ParamState {
                    step,
                    exp_avg,
                    exp_avg_sq,
                },
            );
        }
        if let Some(extra) = tensors.keys().min() {
            return Err(bad(format!(
                "state tensor {extra:?} has no step count in meta"
            )));
        }
        self.state = new_state;
        Ok(())
    }
}
