//! Scoring a task on labelled examples with the metrics of smtl-metrics.

use std::collections::BTreeMap;

use smtl_heads::{Example, MultiTaskModel, Prediction, TaskMetrics, TaskSpec};

use crate::cache::{CachedSplit, FeatureCache};
use crate::TrainError;

/// Batch size of evaluation (no gradients: larger than training's).
const EVAL_BATCH: usize = 64;

/// A task's scores on a split.
#[derive(Debug, Clone)]
pub struct TaskEval {
    /// The task's model-selection score: accuracy for sentence
    /// classification, strict IOB2 entity micro-F1 for token classification.
    pub score: f64,
    pub metrics: TaskMetrics,
    /// One prediction per example, in order.
    pub predictions: Vec<Prediction>,
}

impl TaskEval {
    /// See [`TaskMetrics::headline`].
    pub fn headline(&self) -> BTreeMap<String, f64> {
        self.metrics.headline()
    }
}

/// The model's spec of `task`, or an error naming it.
pub(crate) fn task_spec<M: MultiTaskModel>(model: &M, task: &str) -> Result<TaskSpec, TrainError> {
    model
        .tasks()
        .into_iter()
        .find(|t| t.name == task)
        .ok_or_else(|| TrainError::InvalidConfig(format!("unknown task {task:?}")))
}

/// Predicts every example of `task` and scores the predictions against the
/// examples' labels (which must all be present).
pub fn evaluate<M: MultiTaskModel>(
    model: &M,
    task: &str,
    examples: &[Example],
) -> Result<TaskEval, TrainError> {
    evaluate_with(model, task, examples, None)
}

/// As [`evaluate`]; with `cache`, the encoder's features of `examples` (the
/// task's dev split) come from the feature cache instead of the encoder.
pub fn evaluate_with<M: MultiTaskModel>(
    model: &M,
    task: &str,
    examples: &[Example],
    cache: Option<&FeatureCache>,
) -> Result<TaskEval, TrainError> {
    let spec = task_spec(model, task)?;
    if examples.is_empty() {
        return Err(TrainError::EmptyDataset(task.to_string()));
    }
    let mut predictions = Vec::with_capacity(examples.len());
    let indices: Vec<usize> = (0..examples.len()).collect();
    for (chunk, idx) in examples.chunks(EVAL_BATCH).zip(indices.chunks(EVAL_BATCH)) {
        let refs: Vec<&Example> = chunk.iter().collect();
        let batch = model.make_batch(task, &refs)?;
        let out = tch::no_grad(|| -> Result<_, TrainError> {
            let features = match cache {
                Some(c) => c.batch(task, CachedSplit::Dev, idx)?,
                None => model.features(&batch, false)?,
            };
            Ok(model.forward_features(&batch, &features, false)?)
        })?;
        predictions.extend(model.decode(&batch, &out)?);
    }
    score(&spec, examples, predictions)
}

/// Scores `predictions` against the labels of `examples`, both in the same
/// order, with the metrics of the task's kind (shared by [`evaluate`] and
/// the cached-feature path).
pub fn score(
    spec: &TaskSpec,
    examples: &[Example],
    predictions: Vec<Prediction>,
) -> Result<TaskEval, TrainError> {
    if examples.len() != predictions.len() {
        return Err(smtl_heads::HeadError::PredictionCount {
            predictions: predictions.len(),
            examples: examples.len(),
        }
        .into());
    }
    let (score, metrics) = spec
        .head
        .kind
        .behaviour()
        .score(spec, examples, &predictions)?;
    Ok(TaskEval {
        score,
        metrics,
        predictions,
    })
}
