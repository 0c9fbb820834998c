//! The multi-task training loop.
//!
//! One task per batch: each epoch, every task's training examples are
//! shuffled and cut into batches, and a [`SamplingStrategy`] orders the
//! batches of all tasks into one plan. Each step runs the shared encoder and
//! the task's head, weighs the task's loss ([`LossWeighting`]), and after
//! `grad_accumulation` steps clips the gradient and takes an AdamW step with
//! the learning rate of each parameter group (backbone and every head
//! separately) scaled by the warm-up/decay schedule. Every epoch ends with a
//! dev evaluation, a resumable `last/` checkpoint and, when the dev score
//! improves, a `best/` checkpoint.
//!
//! Determinism: the epoch plan comes from `seed + epoch` alone, and libtorch's
//! generator (dropout) is re-seeded from `seed + step` before every step, so
//! a run resumed from a checkpoint replays exactly the uninterrupted run.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use serde_json::json;
use smtl_heads::{Example, GroupId, MultiTaskModel, SharedEncoderModel};
use tch::{Device, Tensor};

use crate::cache::{CachedSplit, FeatureCache};
use crate::checkpoint::{self, write_atomically, STATE_FILE};
use crate::evaluate::{evaluate_with, TaskEval};
use crate::freeze::{frozen_groups, FreezeRule};
use crate::observe::{CheckpointWriter, EpochRecord, RunStart, StepRecord, TrainObserver};
use crate::optim::{AdamW, AdamWConfig, GroupSettings};
use crate::precision::TrainPrecision;
use crate::sampler::{epoch_plan, SamplingStrategy};
use crate::schedule::LinearSchedule;
use crate::weighting::{LossWeighter, LossWeighting};
use crate::TrainError;

/// A task's data as the trainer sees it.
#[derive(Debug, Clone)]
pub struct TaskData {
    pub name: String,
    pub train: Vec<Example>,
    pub dev: Vec<Example>,
}

/// Every knob of a run; stored in checkpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub seed: u64,
    /// Peak learning rate of the encoder (embeddings, layers, dense).
    pub backbone_lr: f64,
    pub backbone_weight_decay: f64,
    /// Peak learning rate of every head, unless overridden in `head_lr_overrides`.
    pub head_lr: f64,
    pub head_weight_decay: f64,
    #[serde(default)]
    pub head_lr_overrides: BTreeMap<String, f64>,
    /// Layer-wise LR decay: layer `i` of `L` gets `backbone_lr * d^(L-1-i)`,
    /// the embeddings `backbone_lr * d^L`. `None` = one rate for all.
    #[serde(default)]
    pub layerwise_lr_decay: Option<f64>,
    /// Fraction of optimizer steps spent warming up linearly from 0.
    pub warmup_ratio: f64,
    /// Global gradient-norm clip (`<= 0` disables it).
    pub max_grad_norm: f64,
    /// Weight decay on biases and normalisation weights too (`false`: they
    /// are exempt, as in the Hugging Face Trainer; [`crate::optim::decays`]).
    #[serde(default)]
    pub decay_bias_and_norm: bool,
    /// Batches whose gradients are summed before each optimizer step.
    pub grad_accumulation: usize,
    pub sampling: SamplingStrategy,
    pub loss_weighting: LossWeighting,
    /// Frozen parameter groups: `all`, `backbone`, `bottom:K` (embeddings
    /// and layers 0..K), or groups (`embeddings`, `layer.3`, `head:trec`).
    #[serde(default)]
    pub freeze: Vec<FreezeRule>,
    /// Gradual unfreezing (ULMFiT): epoch `e` of `E` trains only the top
    /// `ceil(L·(e+1)/E)` of the `L` layers (plus heads); the embeddings and
    /// the layers below stay frozen until the last epoch, which trains all.
    /// Groups named in `freeze` stay frozen throughout.
    #[serde(default)]
    pub gradual_unfreezing: bool,
    /// Frozen-backbone fast path: the encoder's features of every train and
    /// dev example are computed once (eval mode) and every step reads them
    /// from a [`FeatureCache`]. Valid only with the whole encoder frozen
    /// (`freeze = ["backbone"]` or `["all"]`) and no gradual unfreezing.
    #[serde(default)]
    pub cache_features: bool,
    /// Stop after this many optimizer steps in total (for tests; 0 = no limit).
    #[serde(default)]
    pub max_steps: usize,
    /// fp32, or bf16 mixed precision in the training forward pass
    /// ([`TrainPrecision`]).
    #[serde(default)]
    pub precision: TrainPrecision,
}

impl Default for TrainConfig {
    /// The defaults documented in docs/task4-training-loop.md.
    fn default() -> Self {
        Self {
            epochs: 3,
            batch_size: 32,
            seed: 42,
            backbone_lr: 5e-5,
            backbone_weight_decay: 0.01,
            head_lr: 1e-3,
            head_weight_decay: 0.01,
            head_lr_overrides: BTreeMap::new(),
            layerwise_lr_decay: None,
            warmup_ratio: 0.1,
            max_grad_norm: 1.0,
            decay_bias_and_norm: false,
            grad_accumulation: 1,
            sampling: SamplingStrategy::Proportional,
            loss_weighting: LossWeighting::Fixed(BTreeMap::new()),
            freeze: Vec::new(),
            gradual_unfreezing: false,
            cache_features: false,
            max_steps: 0,
            precision: TrainPrecision::Fp32,
        }
    }
}

impl TrainConfig {
    /// Rejects settings the loop cannot run (zero epochs, bad rates, ...).
    pub fn validate(&self) -> Result<(), TrainError> {
        let bad = |m: &str| Err(TrainError::InvalidConfig(m.to_string()));
        if self.epochs == 0 {
            return bad("epochs must be at least 1");
        }
        if self.batch_size == 0 || self.grad_accumulation == 0 {
            return bad("batch_size and grad_accumulation must be at least 1");
        }
        if !(0.0..1.0).contains(&self.warmup_ratio) {
            return bad("warmup_ratio must be in [0, 1)");
        }
        for lr in [self.backbone_lr, self.head_lr]
            .iter()
            .chain(self.head_lr_overrides.values())
        {
            if !(lr.is_finite() && *lr >= 0.0) {
                return bad("learning rates must be finite and non-negative");
            }
        }
        self.sampling.validate()?;
        if matches!(self.layerwise_lr_decay, Some(d) if !(d > 0.0 && d <= 1.0)) {
            return bad("layerwise_lr_decay must be in (0, 1]");
        }
        Ok(())
    }
}

/// Where a run stands; saved in every checkpoint.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Epoch in progress (or next to start).
    pub epoch: usize,
    /// Batches of the current epoch's plan already consumed.
    pub step_in_epoch: usize,
    /// Batches consumed in total.
    pub global_step: usize,
    /// Optimizer steps taken in total.
    pub optimizer_steps: usize,
    pub best_score: Option<f64>,
    pub best_epoch: Option<usize>,
}

/// What [`Trainer::fit`] returns.
#[derive(Debug, Clone)]
pub struct FitSummary {
    pub best_score: Option<f64>,
    pub best_epoch: Option<usize>,
    pub seconds: f64,
    /// Training time of each epoch run by this call (no evaluation).
    pub epoch_train_seconds: Vec<f64>,
    pub last_dev: BTreeMap<String, TaskEval>,
    /// Time spent building the feature cache (`cache_features`).
    pub cache_seconds: Option<f64>,
}

/// Models the trainer can checkpoint.
pub trait Persist: Sized {
    fn save(&self, dir: &Path) -> Result<(), TrainError>;
    fn load(dir: &Path, device: Device) -> Result<Self, TrainError>;
}

impl Persist for SharedEncoderModel {
    fn save(&self, dir: &Path) -> Result<(), TrainError> {
        Ok(SharedEncoderModel::save(self, dir)?)
    }
    fn load(dir: &Path, device: Device) -> Result<Self, TrainError> {
        Ok(SharedEncoderModel::load(dir, device)?)
    }
}

/// Batches in every epoch's plan: each task's examples cut into batches,
/// summed (every [`SamplingStrategy`] plans exactly that many steps).
fn batches_per_epoch(tasks: &[TaskData], batch_size: usize) -> usize {
    tasks
        .iter()
        .map(|t| t.train.len().div_ceil(batch_size))
        .sum()
}

/// Owns the model, the optimizer, the loss weights and the data of a run.
pub struct Trainer<M: MultiTaskModel + Persist> {
    model: M,
    config: TrainConfig,
    tasks: Vec<TaskData>,
    optimizer: AdamW,
    weighter: LossWeighter,
    schedule: LinearSchedule,
    state: TrainState,
    groups: Vec<GroupId>,
    /// Built at the first `fit` when `cache_features` is on.
    cache: Option<FeatureCache>,
}

impl<M: MultiTaskModel + Persist> Trainer<M> {
    /// Sets up optimizer groups, freeze masks and loss weighting for `tasks`.
    pub fn new(model: M, tasks: Vec<TaskData>, config: TrainConfig) -> Result<Self, TrainError> {
        config.validate()?;
        if tasks.is_empty() {
            return Err(TrainError::InvalidConfig("no task to train".into()));
        }
        let known: Vec<String> = model.tasks().into_iter().map(|t| t.name).collect();
        for t in &tasks {
            if !known.contains(&t.name) {
                return Err(TrainError::InvalidConfig(format!(
                    "task {:?} has data but no head (model tasks: {})",
                    t.name,
                    known.join(", ")
                )));
            }
            if t.train.is_empty() {
                return Err(TrainError::EmptyDataset(t.name.clone()));
            }
        }
        let device = model.device();
        let task_names: Vec<String> = tasks.iter().map(|t| t.name.clone()).collect();
        let weighter = LossWeighter::new(&config.loss_weighting, &task_names, device);

        let groups = model.parameter_groups();
        let group_ids: Vec<GroupId> = groups.iter().map(|g| g.id.clone()).collect();
        let num_layers = groups.iter().filter(|g| g.id.layer().is_some()).count() as i32;
        let mut opt_groups = Vec::new();
        for g in groups {
            let (lr, wd) = if let GroupId::Head(task) = &g.id {
                let lr = config
                    .head_lr_overrides
                    .get(task)
                    .copied()
                    .unwrap_or(config.head_lr);
                (lr, config.head_weight_decay)
            } else {
                let depth = match &g.id {
                    GroupId::Layer(i) => num_layers - 1 - *i as i32,
                    GroupId::Embeddings => num_layers,
                    _ => 0,
                };
                let decay = config.layerwise_lr_decay.unwrap_or(1.0).powi(depth);
                (config.backbone_lr * decay, config.backbone_weight_decay)
            };
            // Freeze flags are set by `apply_freeze` below, the one place
            // that decides them (per epoch, for gradual unfreezing).
            let settings = GroupSettings {
                lr,
                weight_decay: wd,
                frozen: false,
            };
            opt_groups.push((g.id.to_string(), settings, g.params));
        }
        let weights = weighter.parameters();
        if !weights.is_empty() {
            let settings = GroupSettings {
                lr: config.head_lr,
                weight_decay: 0.0,
                frozen: false,
            };
            opt_groups.push(("loss_weighting".to_string(), settings, weights));
        }
        let optimizer = AdamW::new(
            opt_groups,
            AdamWConfig {
                decay_bias_and_norm: config.decay_bias_and_norm,
                ..AdamWConfig::default()
            },
        );

        let steps_per_epoch =
            batches_per_epoch(&tasks, config.batch_size).div_ceil(config.grad_accumulation);
        let total_steps = steps_per_epoch * config.epochs;
        let schedule = LinearSchedule {
            warmup_steps: (total_steps as f64 * config.warmup_ratio).round() as usize,
            total_steps,
        };
        let mut trainer = Self {
            model,
            config,
            tasks,
            optimizer,
            weighter,
            schedule,
            state: TrainState::default(),
            groups: group_ids,
            cache: None,
        };
        trainer.apply_freeze(0)?;
        if trainer.config.cache_features {
            let frozen = trainer.frozen_during(0)?;
            let open: Vec<String> = trainer
                .groups
                .iter()
                .filter(|g| g.is_backbone() && !frozen.contains(g))
                .map(ToString::to_string)
                .collect();
            if trainer.config.gradual_unfreezing || !open.is_empty() {
                return Err(TrainError::InvalidConfig(format!(
                    "cache_features needs the whole encoder frozen for the whole run \
                     (freeze = [\"backbone\"], no gradual unfreezing); trainable: {}",
                    if open.is_empty() {
                        "the layers gradual unfreezing opens".to_string()
                    } else {
                        open.join(", ")
                    }
                )));
            }
        }
        Ok(trainer)
    }

    /// The groups frozen during `epoch`: the `freeze` rules, plus the
    /// bottom of the encoder while gradual unfreezing has not reached it.
    pub fn frozen_during(&self, epoch: usize) -> Result<Vec<GroupId>, TrainError> {
        let mut rules = self.config.freeze.clone();
        if self.config.gradual_unfreezing {
            let layers = self.groups.iter().filter(|g| g.layer().is_some()).count();
            let trained = (layers * (epoch + 1)).div_ceil(self.config.epochs);
            if trained < layers {
                rules.push(FreezeRule::Bottom(layers - trained));
            }
        }
        frozen_groups(&rules, &self.groups)
    }

    /// Sets the optimizer's freeze flags for `epoch`. A group unfrozen here
    /// starts with empty AdamW moments, as a newly added group would.
    fn apply_freeze(&mut self, epoch: usize) -> Result<(), TrainError> {
        let frozen = self.frozen_during(epoch)?;
        for group in &self.groups {
            self.optimizer
                .set_frozen(&group.to_string(), frozen.contains(group))?;
        }
        Ok(())
    }

    /// The model's parameter groups, in optimizer order.
    pub fn groups(&self) -> &[GroupId] {
        &self.groups
    }

    pub fn model(&self) -> &M {
        &self.model
    }

    pub fn into_model(self) -> M {
        self.model
    }

    pub fn optimizer(&self) -> &AdamW {
        &self.optimizer
    }

    pub fn optimizer_mut(&mut self) -> &mut AdamW {
        &mut self.optimizer
    }

    pub fn state(&self) -> &TrainState {
        &self.state
    }

    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// Changes the step limit, e.g. to continue a resumed smoke run to its end.
    pub fn set_max_steps(&mut self, max_steps: usize) {
        self.config.max_steps = max_steps;
    }

    /// The batches of one epoch: `(task index, example indices)` per step.
    pub fn epoch_batches(&self, epoch: usize) -> Vec<(usize, Vec<usize>)> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.config.seed.wrapping_add(epoch as u64));
        let per_task: Vec<Vec<Vec<usize>>> = self
            .tasks
            .iter()
            .map(|t| {
                let mut order: Vec<usize> = (0..t.train.len()).collect();
                order.shuffle(&mut rng);
                order
                    .chunks(self.config.batch_size)
                    .map(<[usize]>::to_vec)
                    .collect()
            })
            .collect();
        let counts: Vec<usize> = per_task.iter().map(Vec::len).collect();
        let plan = epoch_plan(&self.config.sampling, &counts, &mut rng);
        let mut cursor = vec![0usize; per_task.len()];
        plan.into_iter()
            .map(|t| {
                let batch = per_task[t][cursor[t] % per_task[t].len()].clone();
                cursor[t] += 1;
                (t, batch)
            })
            .collect()
    }

    /// Runs one batch forward and backward; returns the unweighted loss.
    fn train_batch(&mut self, task: usize, examples: &[usize]) -> Result<f64, TrainError> {
        let data = &self.tasks[task];
        let refs: Vec<&Example> = examples.iter().map(|&i| &data.train[i]).collect();
        let batch = self.model.make_batch(&data.name, &refs)?;
        let region = self.config.precision.forward_region(self.model.device())?;
        let features = match &self.cache {
            Some(cache) => cache.batch(&data.name, CachedSplit::Train, examples)?,
            None => self.model.features(&batch, true)?,
        };
        let out = self.model.forward_features(&batch, &features, true)?;
        drop(region);
        let loss = out.loss.ok_or_else(|| {
            TrainError::InvalidConfig(format!("task {} batch has no labels", data.name))
        })?;
        let value = loss.double_value(&[]);
        if !value.is_finite() {
            return Err(TrainError::NonFiniteLoss {
                task: data.name.clone(),
                step: self.state.global_step,
                value,
            });
        }
        let weighted =
            self.weighter.weigh(&data.name, &loss) / self.config.grad_accumulation as f64;
        // With everything frozen there is nothing to differentiate.
        if weighted.requires_grad() {
            weighted.backward();
        }
        Ok(value)
    }

    /// Trains from the current state to the last epoch, telling
    /// `observers` about every step and epoch. Nothing is written unless an
    /// observer writes it ([`crate::Checkpoints`] for `last/` and `best/`).
    pub fn fit(
        &mut self,
        observers: &mut [&mut dyn TrainObserver],
    ) -> Result<FitSummary, TrainError> {
        let started = Instant::now();
        if self.config.cache_features && self.cache.is_none() {
            self.cache = Some(FeatureCache::build(&self.model, &self.tasks)?);
        }
        let total = batches_per_epoch(&self.tasks, self.config.batch_size) * self.config.epochs;
        let run = RunStart {
            total_steps: total,
            completed_steps: self.state.global_step,
        };
        for o in observers.iter_mut() {
            o.on_start(&run)?;
        }
        let mut last_dev = BTreeMap::new();
        let mut epoch_train_seconds = Vec::new();
        let mut micro = 0usize;
        self.optimizer.zero_grad();

        let mut stop = false;
        while self.state.epoch < self.config.epochs && !stop {
            let epoch = self.state.epoch;
            self.apply_freeze(epoch)?;
            let plan = self.epoch_batches(epoch);
            let epoch_start = Instant::now();
            for (k, (task, examples)) in plan.iter().enumerate().skip(self.state.step_in_epoch) {
                tch::manual_seed(
                    self.config.seed.wrapping_add(self.state.global_step as u64) as i64
                );
                let loss = self.train_batch(*task, examples)?;
                micro += 1;
                self.state.global_step += 1;
                self.state.step_in_epoch = k + 1;
                let boundary =
                    micro.is_multiple_of(self.config.grad_accumulation) || k + 1 == plan.len();
                let mut record = StepRecord {
                    step: self.state.global_step,
                    epoch,
                    task: self.tasks[*task].name.clone(),
                    loss,
                    seconds: started.elapsed().as_secs_f64(),
                    lr_factor: None,
                    grad_norm: None,
                    loss_weights: None,
                };
                if boundary {
                    let factor = self.schedule.factor(self.state.optimizer_steps);
                    let norm = if self.config.max_grad_norm > 0.0 {
                        self.optimizer.clip_grad_norm(self.config.max_grad_norm)
                    } else {
                        f64::NAN
                    };
                    self.optimizer.step(factor)?;
                    self.optimizer.zero_grad();
                    micro = 0;
                    self.state.optimizer_steps += 1;
                    record.lr_factor = Some(factor);
                    record.grad_norm = norm.is_finite().then_some(norm);
                    if self.weighter.is_learned() {
                        record.loss_weights = Some(self.weighter.current_weights());
                    }
                }
                for o in observers.iter_mut() {
                    o.on_step(&record, &*self)?;
                }
                let limit = self.config.max_steps > 0
                    && self.state.optimizer_steps >= self.config.max_steps;
                if boundary && (limit || observers.iter().any(|o| o.should_stop())) {
                    // Evaluate and checkpoint what was trained, then stop.
                    stop = true;
                    break;
                }
            }
            let train_seconds = epoch_start.elapsed().as_secs_f64();
            epoch_train_seconds.push(train_seconds);
            // Dev evaluation, then the epoch is complete.
            let mut dev = BTreeMap::new();
            for t in &self.tasks {
                if !t.dev.is_empty() {
                    let eval = evaluate_with(&self.model, &t.name, &t.dev, self.cache.as_ref())?;
                    dev.insert(t.name.clone(), eval);
                }
            }
            let score = (!dev.is_empty())
                .then(|| dev.values().map(|e: &TaskEval| e.score).sum::<f64>() / dev.len() as f64);
            // A run stopped mid-epoch keeps its place, so that resuming from
            // `last/` continues the same epoch plan.
            if self.state.step_in_epoch >= plan.len() {
                self.state.epoch += 1;
                self.state.step_in_epoch = 0;
            }
            let improved = match (score, self.state.best_score) {
                (Some(s), Some(b)) => s > b,
                (Some(_), None) => true,
                _ => false,
            };
            if improved {
                self.state.best_score = score;
                self.state.best_epoch = Some(epoch);
            }
            let record = EpochRecord {
                epoch,
                train_seconds,
                dev_score: score,
                dev: dev.iter().map(|(k, v)| (k.clone(), v.headline())).collect(),
                dev_full: dev
                    .iter()
                    .map(|(k, v)| (k.clone(), v.metrics.to_json()))
                    .collect(),
                improved,
            };
            for o in observers.iter_mut() {
                o.on_epoch(&record, &*self)?;
            }
            last_dev = dev;
        }
        Ok(FitSummary {
            cache_seconds: self.cache.as_ref().map(|c| c.seconds),
            best_score: self.state.best_score,
            best_epoch: self.state.best_epoch,
            seconds: started.elapsed().as_secs_f64(),
            epoch_train_seconds,
            last_dev,
        })
    }

    /// Writes model + optimizer + trainer state into `dir`, atomically.
    pub fn save_checkpoint(&self, dir: &Path) -> Result<(), TrainError> {
        CheckpointWriter::save_checkpoint(self, dir)
    }

    /// Continues a run from a checkpoint written by [`Self::save_checkpoint`]
    /// (the `.old` copy is used if a save crashed between its renames).
    pub fn resume(
        checkpoint_dir: &Path,
        tasks: Vec<TaskData>,
        device: Device,
    ) -> Result<Self, TrainError> {
        let dir = checkpoint::resolve(checkpoint_dir).ok_or_else(|| TrainError::Io {
            path: checkpoint_dir.join(STATE_FILE),
            source: std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "no complete checkpoint here",
            ),
        })?;
        let path = dir.join(STATE_FILE);
        let text = std::fs::read_to_string(&path).map_err(|source| TrainError::Io {
            path: path.clone(),
            source,
        })?;
        let saved: serde_json::Value =
            serde_json::from_str(&text).map_err(|source| TrainError::Json {
                path: path.clone(),
                source,
            })?;
        let field = |k: &str| saved.get(k).cloned().unwrap_or(serde_json::Value::Null);
        let config: TrainConfig =
            serde_json::from_value(field("config")).map_err(|source| TrainError::Json {
                path: path.clone(),
                source,
            })?;
        let state: TrainState =
            serde_json::from_value(field("state")).map_err(|source| TrainError::Json {
                path: path.clone(),
                source,
            })?;
        let model = M::load(&dir, device)?;
        let mut trainer = Self::new(model, tasks, config)?;
        let opt_path = dir.join("optimizer.safetensors");
        let tensors = if opt_path.is_file() {
            Tensor::read_safetensors(&opt_path)?
        } else {
            Vec::new()
        };
        // Freeze flags first: a frozen group may hold no state.
        trainer.apply_freeze(state.epoch)?;
        trainer.optimizer.load_state(tensors, &field("optimizer"))?;
        if let Some(weights) = field("loss_weighting").as_object() {
            tch::no_grad(|| {
                for (name, t) in trainer.weighter.parameters() {
                    if let Some(v) = weights.get(&name).and_then(|v| v.as_f64()) {
                        let _ = t.shallow_clone().fill_(v);
                    }
                }
            });
        }
        trainer.state = state;
        Ok(trainer)
    }
}

impl<M: MultiTaskModel + Persist> CheckpointWriter for Trainer<M> {
    fn save_checkpoint(&self, dir: &Path) -> Result<(), TrainError> {
        write_atomically(dir, |tmp| {
            self.model.save(tmp)?;
            let opt = self.optimizer.state_tensors();
            if !opt.is_empty() {
                Tensor::write_safetensors(&opt, tmp.join("optimizer.safetensors"))?;
            }
            let state = json!({
                "state": self.state,
                "config": self.config,
                "optimizer": self.optimizer.state_meta(),
                "loss_weighting": self.weighter.parameters().iter()
                    .map(|(n, t)| (n.clone(), t.double_value(&[]))).collect::<BTreeMap<_, _>>(),
                "tasks": self.tasks.iter().map(|t| &t.name).collect::<Vec<_>>(),
            });
            let path = tmp.join(STATE_FILE);
            std::fs::write(
                &path,
                serde_json::to_string_pretty(&state).expect("state serializes"),
            )
            .map_err(|source| TrainError::Io { path, source })
        })
    }
}
