//! The frozen-backbone fast path: encoder outputs computed once, heads
//! trained over the cache.
//!
//! With the backbone frozen, every training step of [`crate::Trainer`] runs
//! the same frozen encoder on the same sentences again, epoch after epoch.
//! [`FeatureCache`] runs it once (eval mode, no gradients) and keeps only
//! what a head reads: the pooled sentence vector for sentence tasks, the
//! state of each word's first wordpiece for token tasks. A head trained over
//! the cache ([`CachedHead`], [`train_cached`]) then costs a few small
//! matrix products per step, so it can afford many epochs, a hidden layer,
//! or a learned mix of several layers' states.
//!
//! The gradients are those of the uncached path with the encoder in eval
//! mode: a token head is applied position by position, so its mean loss
//! over the labelled words of a batch does not depend on where the words
//! sit in the padded batch (tested on one batch within 1e-5).

use std::time::Instant;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use smtl_embedding::EmbedError;
use smtl_heads::{
    Example, HeadConfig, HeadError, MultiTaskModel, Prediction, SharedEncoderModel, TaskHead,
    TaskKind,
};
use tch::{nn, Device, Kind, Tensor};

use crate::evaluate::{score, task_spec, TaskEval};
use crate::optim::{AdamW, AdamWConfig, GroupSettings};
use crate::schedule::LinearSchedule;
use crate::TrainError;

/// Sentences encoded per forward pass while building a cache.
const CACHE_BATCH: usize = 64;

/// One task's split, encoded once by a frozen encoder.
#[derive(Debug)]
pub struct FeatureCache {
    pub task: String,
    pub kind: TaskKind,
    /// Encoder layers kept, as indices into Hugging Face's `hidden_states`
    /// (0 = embedding output, `num_layers` = last layer).
    pub layers: Vec<usize>,
    /// `[items, layers, dim]`: one item per sentence (sentence tasks) or per
    /// word that has a wordpiece (token tasks).
    pub features: Tensor,
    /// `[items]` label ids.
    pub labels: Tensor,
    /// Token tasks: for each example, the item of each word (`None` for a
    /// word cut off by truncation; it is predicted tag 0, as in
    /// [`MultiTaskModel::decode`]). Empty for sentence tasks.
    pub items_of_words: Vec<Vec<Option<usize>>>,
    /// The examples, for scoring.
    pub examples: Vec<Example>,
    /// Wall time of building the cache.
    pub seconds: f64,
}

impl FeatureCache {
    /// Runs `model`'s encoder once over `examples` (eval mode, no gradients)
    /// and keeps the features `task`'s head reads, from each of `layers`.
    pub fn build(
        model: &SharedEncoderModel,
        task: &str,
        examples: &[Example],
        layers: &[usize],
    ) -> Result<Self, TrainError> {
        let started = Instant::now();
        let spec = task_spec(model, task)?;
        if examples.is_empty() {
            return Err(TrainError::EmptyDataset(task.to_string()));
        }
        let num_layers = model.encoder().backbone().config().num_hidden_layers as usize;
        if layers.is_empty() || layers.iter().any(|&l| l > num_layers) {
            return Err(TrainError::InvalidConfig(format!(
                "cache layers {layers:?}: need at least one, each in 0..={num_layers}"
            )));
        }
        // Similar lengths together: less padding work. Results go back in order.
        let mut order: Vec<usize> = (0..examples.len()).collect();
        order.sort_by_key(|&i| match &examples[i] {
            Example::Sentence { text, .. } => text.len(),
            Example::Words { words, .. } => words.iter().map(|w| w.len() + 1).sum(),
        });
        let encoder = model.encoder();
        let mut rows: Vec<Option<(Tensor, Vec<i64>)>> = (0..examples.len()).map(|_| None).collect();
        let mut presence: Vec<Vec<bool>> = vec![Vec::new(); examples.len()];
        tch::no_grad(|| -> Result<(), TrainError> {
            for chunk in order.chunks(CACHE_BATCH) {
                let refs: Vec<&Example> = chunk.iter().map(|&i| &examples[i]).collect();
                let batch = model.make_batch(task, &refs)?;
                let out = encoder
                    .backbone()
                    .forward_all_t(
                        &batch.tokens.input_ids,
                        &batch.tokens.attention_mask,
                        true,
                        false,
                    )
                    .map_err(|e| HeadError::from(EmbedError::from(e)))?;
                let all = out.all_hidden_states.expect("asked for every layer");
                match spec.head.kind {
                    TaskKind::SentenceClassification => {
                        // [batch, layers, dim]
                        let pooled = Tensor::stack(
                            &layers
                                .iter()
                                .map(|&l| {
                                    encoder.pooled_embeddings(&all[l], &batch.tokens.attention_mask)
                                })
                                .collect::<Vec<_>>(),
                            1,
                        );
                        for (row, &i) in chunk.iter().enumerate() {
                            let Example::Sentence { label: Some(l), .. } = &examples[i] else {
                                return Err(unlabelled(task));
                            };
                            rows[i] = Some((pooled.get(row as i64), vec![*l as i64]));
                        }
                    }
                    TaskKind::TokenClassification => {
                        // [batch, seq, layers, dim]
                        let states = Tensor::stack(
                            &layers
                                .iter()
                                .map(|&l| all[l].shallow_clone())
                                .collect::<Vec<_>>(),
                            2,
                        );
                        for (row, &i) in chunk.iter().enumerate() {
                            let Example::Words {
                                tags: Some(tags), ..
                            } = &examples[i]
                            else {
                                return Err(unlabelled(task));
                            };
                            let starts = &batch.word_starts[row];
                            let present: Vec<i64> =
                                starts.iter().flatten().map(|&p| p as i64).collect();
                            let labels: Vec<i64> = starts
                                .iter()
                                .zip(tags)
                                .filter(|(s, _)| s.is_some())
                                .map(|(_, &t)| t as i64)
                                .collect();
                            let index = Tensor::from_slice(&present).to_device(states.device());
                            let feats = states.get(row as i64).index_select(0, &index);
                            presence[i] = starts.iter().map(Option::is_some).collect();
                            rows[i] = Some((feats, labels));
                        }
                    }
                }
            }
            Ok(())
        })?;
        let mut feats = Vec::with_capacity(examples.len());
        let mut labels = Vec::new();
        let mut items_of_words = Vec::new();
        let mut next = 0usize;
        for (i, row) in rows.into_iter().enumerate() {
            let (f, l) = row.expect("every example was encoded");
            if spec.head.kind == TaskKind::TokenClassification {
                items_of_words.push(
                    presence[i]
                        .iter()
                        .map(|&p| {
                            p.then(|| {
                                next += 1;
                                next - 1
                            })
                        })
                        .collect(),
                );
                feats.push(f);
            } else {
                feats.push(f.unsqueeze(0));
            }
            labels.extend(l);
        }
        Ok(Self {
            task: task.to_string(),
            kind: spec.head.kind,
            layers: layers.to_vec(),
            features: Tensor::cat(&feats, 0),
            labels: Tensor::from_slice(&labels).to_device(model.device()),
            items_of_words,
            examples: examples.to_vec(),
            seconds: started.elapsed().as_secs_f64(),
        })
    }

    /// The same cache restricted to `layers` (a subset of [`Self::layers`]).
    pub fn keep_layers(&self, layers: &[usize]) -> Result<Self, TrainError> {
        let positions = layers
            .iter()
            .map(|l| {
                self.layers
                    .iter()
                    .position(|k| k == l)
                    .map(|p| p as i64)
                    .ok_or_else(|| {
                        TrainError::InvalidConfig(format!("layer {l} is not in the cache"))
                    })
            })
            .collect::<Result<Vec<i64>, TrainError>>()?;
        let index = Tensor::from_slice(&positions).to_device(self.features.device());
        Ok(Self {
            task: self.task.clone(),
            kind: self.kind,
            layers: layers.to_vec(),
            features: self.features.index_select(1, &index),
            labels: self.labels.shallow_clone(),
            items_of_words: self.items_of_words.clone(),
            examples: self.examples.clone(),
            seconds: self.seconds,
        })
    }

    pub fn len(&self) -> usize {
        self.labels.size()[0] as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Width of one layer's features.
    pub fn dim(&self) -> i64 {
        self.features.size()[2]
    }

    /// Bytes held by the features.
    pub fn bytes(&self) -> i64 {
        self.features.numel() as i64 * self.features.kind().elt_size_in_bytes() as i64
    }
}

fn unlabelled(task: &str) -> TrainError {
    TrainError::InvalidConfig(format!("task {task:?}: cached examples need labels"))
}

/// A task head over cached features; with several layers cached it first
/// mixes them with learned softmax weights (ELMo's scalar mix).
pub struct CachedHead {
    vs: nn::VarStore,
    mix: Option<Tensor>,
    head: TaskHead,
}

impl CachedHead {
    /// A fresh head (initialised from libtorch's generator) for `cache`.
    pub fn new(
        cache: &FeatureCache,
        config: HeadConfig,
        device: Device,
    ) -> Result<Self, TrainError> {
        let vs = nn::VarStore::new(device);
        let root = vs.root();
        let mix = (cache.layers.len() > 1).then(|| root.zeros("mix", &[cache.layers.len() as i64]));
        let head = TaskHead::new(&root / "head", cache.dim(), config)?;
        Ok(Self { vs, mix, head })
    }

    /// A copy of `model`'s head of `cache.task` (the cache must hold one
    /// layer): trains the same weights as the uncached path would.
    pub fn from_model(
        model: &SharedEncoderModel,
        cache: &FeatureCache,
    ) -> Result<Self, TrainError> {
        if cache.layers.len() != 1 {
            return Err(TrainError::InvalidConfig(
                "a model's own head reads one layer; the cache holds several".into(),
            ));
        }
        let spec = task_spec(model, &cache.task)?;
        let this = Self::new(cache, spec.head, model.device())?;
        let source = model.encoder().var_store().variables();
        let prefix = format!("{}.{}.", smtl_heads::HEADS_PREFIX, cache.task);
        tch::no_grad(|| -> Result<(), TrainError> {
            for (name, var) in this.vs.variables() {
                let key = format!("{prefix}{}", name.trim_start_matches("head."));
                let from = source.get(&key).ok_or_else(|| {
                    TrainError::InvalidConfig(format!("model has no head variable {key}"))
                })?;
                var.shallow_clone().f_copy_(from)?;
            }
            Ok(())
        })?;
        Ok(this)
    }

    pub fn var_store(&self) -> &nn::VarStore {
        &self.vs
    }

    /// Logits for `features` (`[items, layers, dim]`).
    pub fn forward_t(&self, features: &Tensor, train: bool) -> Tensor {
        let xs = match &self.mix {
            Some(w) => (features * w.softmax(0, Kind::Float).view([1, -1, 1])).sum_dim_intlist(
                1,
                false,
                Kind::Float,
            ),
            None => features.select(1, features.size()[1] - 1),
        };
        self.head.forward_t(&xs, train)
    }

    /// Mean cross-entropy over `items` of `cache`.
    pub fn loss(&self, cache: &FeatureCache, items: &Tensor, train: bool) -> Tensor {
        let logits = self.forward_t(&cache.features.index_select(0, items), train);
        logits.cross_entropy_for_logits(&cache.labels.index_select(0, items))
    }

    /// Predictions for every example of `cache`, scored with the task's metrics.
    pub fn evaluate(
        &self,
        cache: &FeatureCache,
        labels: &[String],
    ) -> Result<TaskEval, TrainError> {
        let (best, probs) = tch::no_grad(|| {
            let (ids, probs): (Vec<Tensor>, Vec<Tensor>) = (0..cache.len() as i64)
                .step_by(4096)
                .map(|s| {
                    let n = (cache.len() as i64 - s).min(4096);
                    let logits = self.forward_t(&cache.features.narrow(0, s, n), false);
                    let ids = logits.argmax(-1, false);
                    let p = logits
                        .softmax(-1, Kind::Float)
                        .gather(-1, &ids.unsqueeze(-1), false)
                        .squeeze_dim(-1);
                    (ids, p)
                })
                .unzip();
            (Tensor::cat(&ids, 0), Tensor::cat(&probs, 0))
        });
        let ids = Vec::<i64>::try_from(best.to_device(Device::Cpu).to_kind(Kind::Int64))?;
        let probs = Vec::<f64>::try_from(probs.to_device(Device::Cpu).to_kind(Kind::Double))?;
        let name = |i: usize| labels.get(i).cloned().unwrap_or_default();
        let predictions = match cache.kind {
            TaskKind::SentenceClassification => ids
                .iter()
                .zip(&probs)
                .map(|(&i, &p)| Prediction::Label {
                    id: i as usize,
                    label: name(i as usize),
                    score: p,
                })
                .collect(),
            TaskKind::TokenClassification => cache
                .items_of_words
                .iter()
                .map(|items| {
                    let ids: Vec<usize> = items
                        .iter()
                        .map(|it| it.map_or(0, |k| ids[k] as usize))
                        .collect();
                    Prediction::Tags {
                        tags: ids.iter().map(|&i| name(i)).collect(),
                        ids,
                    }
                })
                .collect(),
        };
        score(cache.kind, labels, &cache.examples, predictions)
    }
}

/// Settings of [`train_cached`].
#[derive(Debug, Clone, Serialize)]
pub struct CachedTrainConfig {
    pub epochs: usize,
    /// Items per step: sentences, or words for token tasks.
    pub batch_size: usize,
    pub lr: f64,
    pub weight_decay: f64,
    pub warmup_ratio: f64,
    pub seed: u64,
}

/// What [`train_cached`] returns besides the head.
#[derive(Debug, Clone, Serialize)]
pub struct CachedFit {
    /// Dev score after every epoch.
    pub dev_scores: Vec<f64>,
    /// Epoch whose head was kept (best dev score).
    pub best_epoch: usize,
    pub train_seconds: f64,
    pub trainable_parameters: i64,
    pub optimizer_state_bytes: i64,
}

/// Trains `head` over `train` with AdamW and the linear warm-up schedule,
/// keeping the weights of the epoch with the best score on `dev`.
pub fn train_cached(
    head: &mut CachedHead,
    train: &FeatureCache,
    dev: &FeatureCache,
    labels: &[String],
    config: &CachedTrainConfig,
) -> Result<CachedFit, TrainError> {
    if train.is_empty() {
        return Err(TrainError::EmptyDataset(train.task.clone()));
    }
    if config.epochs == 0 || config.batch_size == 0 {
        return Err(TrainError::InvalidConfig(
            "cached training needs epochs and batch_size of at least 1".into(),
        ));
    }
    let started = Instant::now();
    let params: Vec<(String, Tensor)> = head.vs.variables().into_iter().collect();
    let settings = GroupSettings {
        lr: config.lr,
        weight_decay: config.weight_decay,
        frozen: false,
    };
    let mut optimizer = AdamW::new(
        vec![("head".to_string(), settings, params)],
        AdamWConfig::default(),
    );
    let steps_per_epoch = train.len().div_ceil(config.batch_size);
    let total = steps_per_epoch * config.epochs;
    let schedule = LinearSchedule {
        warmup_steps: (total as f64 * config.warmup_ratio).round() as usize,
        total_steps: total,
    };
    let device = train.features.device();
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    // (dev score, epoch, copy of the head's variables)
    type Snapshot = (f64, usize, Vec<(String, Tensor)>);
    let mut best: Option<Snapshot> = None;
    let mut dev_scores = Vec::with_capacity(config.epochs);
    let mut step = 0usize;
    for epoch in 0..config.epochs {
        let mut order: Vec<i64> = (0..train.len() as i64).collect();
        order.shuffle(&mut rng);
        for items in order.chunks(config.batch_size) {
            tch::manual_seed(config.seed.wrapping_add(step as u64) as i64);
            let items = Tensor::from_slice(items).to_device(device);
            optimizer.zero_grad();
            let loss = head.loss(train, &items, true);
            let value = loss.double_value(&[]);
            if !value.is_finite() {
                return Err(TrainError::NonFiniteLoss {
                    task: train.task.clone(),
                    step,
                    value,
                });
            }
            loss.backward();
            optimizer.step(schedule.factor(step));
            step += 1;
        }
        let dev_score = head.evaluate(dev, labels)?.score;
        dev_scores.push(dev_score);
        if best.as_ref().is_none_or(|(s, _, _)| dev_score > *s) {
            let snapshot = head
                .vs
                .variables()
                .into_iter()
                .map(|(n, t)| (n, t.detach().copy()))
                .collect();
            best = Some((dev_score, epoch, snapshot));
        }
    }
    let (_, best_epoch, snapshot) = best.expect("at least one epoch");
    tch::no_grad(|| {
        let vars = head.vs.variables();
        for (name, saved) in &snapshot {
            vars[name].shallow_clone().copy_(saved);
        }
    });
    Ok(CachedFit {
        dev_scores,
        best_epoch,
        train_seconds: started.elapsed().as_secs_f64(),
        trainable_parameters: optimizer.trainable_parameter_count(),
        optimizer_state_bytes: optimizer.state_bytes(),
    })
}
