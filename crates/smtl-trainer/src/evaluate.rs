//! Scoring a task on labelled examples with the metrics of smtl-metrics.

use serde_json::json;
use smtl_heads::{Example, MultiTaskModel, Prediction, TaskKind, TaskSpec};
use smtl_metrics::{ClassificationReport, EntityReport};

use crate::TrainError;

/// Batch size of evaluation (no gradients: larger than training's).
const EVAL_BATCH: usize = 64;

/// A task's scores on a split.
#[derive(Debug, Clone)]
pub struct TaskEval {
    /// The task's model-selection score: accuracy for sentence
    /// classification, strict IOB2 entity micro-F1 for token classification.
    pub score: f64,
    /// Every metric, as written to metrics.jsonl and report.json: `accuracy`,
    /// `macro_f1`, per-class P/R/F1 and the confusion matrix; or `entity_f1`,
    /// precision, recall and per-type P/R/F1.
    pub metrics: serde_json::Value,
    /// One prediction per example, in order.
    pub predictions: Vec<Prediction>,
}

impl TaskEval {
    /// The metrics worth a curve: `accuracy` and `macro_f1`, or `entity_f1`.
    pub fn headline(&self) -> serde_json::Value {
        // A token task's `macro_f1` is the entity macro-F1; the headline is
        // its micro entity-F1 alone.
        let keep: &[&str] = if self.metrics.get("entity_f1").is_some() {
            &["entity_f1"]
        } else {
            &["accuracy", "macro_f1"]
        };
        let map: serde_json::Map<String, serde_json::Value> = keep
            .iter()
            .filter_map(|k| self.metrics.get(*k).map(|v| (k.to_string(), v.clone())))
            .collect();
        serde_json::Value::Object(map)
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
    let spec = task_spec(model, task)?;
    if examples.is_empty() {
        return Err(TrainError::EmptyDataset(task.to_string()));
    }
    let mut predictions = Vec::with_capacity(examples.len());
    for chunk in examples.chunks(EVAL_BATCH) {
        let refs: Vec<&Example> = chunk.iter().collect();
        let batch = model.make_batch(task, &refs)?;
        let out = tch::no_grad(|| model.forward_t(&batch, false))?;
        predictions.extend(model.decode(&batch, &out)?);
    }
    score(spec.head.kind, &spec.labels, examples, predictions)
}

/// Scores `predictions` against the labels of `examples`, both in the same
/// order (shared by [`evaluate`] and the cached-feature path).
pub fn score(
    kind: TaskKind,
    labels: &[String],
    examples: &[Example],
    predictions: Vec<Prediction>,
) -> Result<TaskEval, TrainError> {
    if examples.len() != predictions.len() {
        return Err(TrainError::InvalidConfig(format!(
            "{} predictions for {} examples",
            predictions.len(),
            examples.len()
        )));
    }
    let task = kind.name();
    let missing = || TrainError::InvalidConfig(format!("{task} evaluation examples need labels"));
    let (score, metrics) = match kind {
        TaskKind::SentenceClassification => {
            let mut gold = Vec::with_capacity(examples.len());
            let mut pred = Vec::with_capacity(examples.len());
            for (e, p) in examples.iter().zip(&predictions) {
                let (Example::Sentence { label: Some(l), .. }, Prediction::Label(p)) = (e, p)
                else {
                    return Err(missing());
                };
                gold.push(*l);
                pred.push(*p);
            }
            let report = ClassificationReport::compute(&gold, &pred, labels)?;
            (
                report.accuracy,
                serde_json::to_value(&report).expect("report serializes"),
            )
        }
        TaskKind::TokenClassification => {
            let name = |ids: &[usize]| -> Result<Vec<String>, TrainError> {
                ids.iter()
                    .map(|&i| {
                        labels.get(i).cloned().ok_or_else(|| {
                            TrainError::InvalidConfig(format!(
                                "tag id {i} outside the {} labels",
                                labels.len()
                            ))
                        })
                    })
                    .collect()
            };
            let mut gold = Vec::with_capacity(examples.len());
            let mut pred = Vec::with_capacity(examples.len());
            for (e, p) in examples.iter().zip(&predictions) {
                let (Example::Words { tags: Some(t), .. }, Prediction::Tags(p)) = (e, p) else {
                    return Err(missing());
                };
                gold.push(name(t)?);
                pred.push(name(p)?);
            }
            let report = EntityReport::compute(&gold, &pred)?;
            let mut metrics = serde_json::to_value(&report).expect("report serializes");
            metrics["entity_f1"] = json!(report.f1);
            (report.f1, metrics)
        }
    };
    Ok(TaskEval {
        score,
        metrics,
        predictions,
    })
}
