//! The frozen-backbone fast path as a feature source of the one training
//! loop.
//!
//! With the whole encoder frozen, every step of [`crate::Trainer`] would
//! run the same encoder on the same sentences again, epoch after epoch.
//! With `TrainConfig::cache_features`, the trainer asks each task's kind for
//! its features ([`MultiTaskModel::features`]: the pooled vector of a
//! sentence task, the token states of a token task) once per example, in
//! eval mode without gradients, and every later step reads them from here:
//! a step then costs the tokenizer (for the targets) and the head. The
//! batches, the sampling, the optimizer, the evaluation and the checkpoints
//! are those of the plain path.
//!
//! The numbers are those of the plain path with the encoder in eval mode
//! (no dropout inside the frozen encoder): tested on one batch per task
//! within 1e-6 for the loss and 1e-5 for every head gradient.

use std::collections::BTreeMap;
use std::time::Instant;

use smtl_heads::{Example, MultiTaskModel};
use tch::Tensor;

use crate::trainer::TaskData;
use crate::TrainError;

/// Examples encoded per forward pass while building the cache.
const BUILD_BATCH: usize = 64;

/// Which part of a task's data a cached row belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CachedSplit {
    Train,
    Dev,
}

/// Per task and split, one feature row per example (token rows trimmed to
/// the sentence's tokens).
#[derive(Debug, Default)]
pub struct FeatureCache {
    rows: BTreeMap<(String, CachedSplit), Vec<Tensor>>,
    /// Tasks whose features are token-aligned (padded when collated).
    token_aligned: BTreeMap<String, bool>,
    /// Wall time of building the cache.
    pub seconds: f64,
}

impl FeatureCache {
    /// Runs `model`'s encoder once over the train and dev examples of
    /// every task (eval mode, no gradients).
    pub fn build<M: MultiTaskModel>(model: &M, tasks: &[TaskData]) -> Result<Self, TrainError> {
        let started = Instant::now();
        let mut cache = Self::default();
        for t in tasks {
            let spec = crate::evaluate::task_spec(model, &t.name)?;
            let aligned = spec.head.kind.behaviour().token_aligned_features();
            cache.token_aligned.insert(t.name.clone(), aligned);
            for (split, examples) in [(CachedSplit::Train, &t.train), (CachedSplit::Dev, &t.dev)] {
                let rows = encode_rows(model, &t.name, examples, aligned)?;
                cache.rows.insert((t.name.clone(), split), rows);
            }
        }
        cache.seconds = started.elapsed().as_secs_f64();
        Ok(cache)
    }

    /// The features of examples `indices` of `task`'s `split`, collated
    /// as [`MultiTaskModel::features`] would return them for that batch.
    pub fn batch(
        &self,
        task: &str,
        split: CachedSplit,
        indices: &[usize],
    ) -> Result<Tensor, TrainError> {
        let rows = self
            .rows
            .get(&(task.to_string(), split))
            .ok_or_else(|| TrainError::InvalidConfig(format!("task {task:?} is not cached")))?;
        let picked: Vec<&Tensor> = indices
            .iter()
            .map(|&i| {
                rows.get(i).ok_or_else(|| {
                    TrainError::InvalidConfig(format!(
                        "example {i} of task {task:?} is not cached ({} are)",
                        rows.len()
                    ))
                })
            })
            .collect::<Result<_, _>>()?;
        if self.token_aligned.get(task).copied().unwrap_or(false) {
            let width = picked.iter().map(|r| r.size()[0]).max().unwrap_or(0);
            let padded: Vec<Tensor> = picked
                .iter()
                .map(|r| {
                    let pad = width - r.size()[0];
                    if pad == 0 {
                        r.shallow_clone()
                    } else {
                        let mut shape = r.size();
                        shape[0] = pad;
                        let zeros = Tensor::zeros(shape.as_slice(), (r.kind(), r.device()));
                        Tensor::cat(&[(*r).shallow_clone(), zeros], 0)
                    }
                })
                .collect();
            Ok(Tensor::stack(&padded, 0))
        } else {
            Ok(Tensor::stack(&picked, 0))
        }
    }

    /// Bytes held by the cached features.
    pub fn bytes(&self) -> i64 {
        self.rows
            .values()
            .flatten()
            .map(|t| t.numel() as i64 * t.kind().elt_size_in_bytes() as i64)
            .sum()
    }
}

/// One row per example of `task`: the features of batches of similar
/// length (less padding), split back per example in the input order.
fn encode_rows<M: MultiTaskModel>(
    model: &M,
    task: &str,
    examples: &[Example],
    token_aligned: bool,
) -> Result<Vec<Tensor>, TrainError> {
    let mut order: Vec<usize> = (0..examples.len()).collect();
    order.sort_by_key(|&i| examples[i].text_len());
    let mut rows: Vec<Option<Tensor>> = (0..examples.len()).map(|_| None).collect();
    tch::no_grad(|| -> Result<(), TrainError> {
        for chunk in order.chunks(BUILD_BATCH) {
            let refs: Vec<&Example> = chunk.iter().map(|&i| &examples[i]).collect();
            let batch = model.make_batch(task, &refs)?;
            let features = model.features(&batch, false)?;
            for (row, &i) in chunk.iter().enumerate() {
                let mut f = features.get(row as i64);
                if token_aligned {
                    f = f.narrow(0, 0, batch.tokens.lengths[row] as i64);
                }
                rows[i] = Some(f.copy());
            }
        }
        Ok(())
    })?;
    Ok(rows
        .into_iter()
        .map(|r| r.expect("every example was encoded"))
        .collect())
}
