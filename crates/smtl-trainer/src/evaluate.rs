//! Scoring a task on labelled examples with the metrics of smtl-metrics.

use std::collections::BTreeMap;

use serde::Serialize;
use smtl_heads::{Example, MultiTaskModel, Prediction, TaskKind, TaskSpec};
use smtl_metrics::{ClassificationReport, EntityReport};

use crate::TrainError;

/// Batch size of evaluation (no gradients: larger than training's).
const EVAL_BATCH: usize = 64;

/// Entity-level scores of a token task, serialised with `entity_f1` (the
/// strict IOB2 micro-F1) in front of the report's fields.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EntityMetrics {
    pub entity_f1: f64,
    #[serde(flatten)]
    pub report: EntityReport,
}

/// Every metric of a task on a split, as written to metrics.jsonl,
/// report.json and `smtl eval`: `accuracy`, `macro_f1`, per-class P/R/F1
/// and the confusion matrix; or `entity_f1`, precision, recall and
/// per-type P/R/F1.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum TaskMetrics {
    Classification(ClassificationReport),
    Entities(EntityMetrics),
}

impl TaskMetrics {
    /// The metrics worth a curve: `accuracy` and `macro_f1`, or `entity_f1`
    /// (a token task's macro-F1 is the entity macro-F1: left out).
    pub fn headline(&self) -> BTreeMap<String, f64> {
        match self {
            Self::Classification(r) => BTreeMap::from([
                ("accuracy".to_string(), r.accuracy),
                ("macro_f1".to_string(), r.macro_f1),
            ]),
            Self::Entities(e) => BTreeMap::from([("entity_f1".to_string(), e.entity_f1)]),
        }
    }

    /// As a JSON object.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("metrics serialize")
    }
}

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
                let (Example::Sentence { label: Some(l), .. }, Some(p)) = (e, p.label_id()) else {
                    return Err(missing());
                };
                gold.push(*l);
                pred.push(p);
            }
            let report = ClassificationReport::compute(&gold, &pred, labels)?;
            (report.accuracy, TaskMetrics::Classification(report))
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
                let (Example::Words { tags: Some(t), .. }, Some(p)) = (e, p.tag_ids()) else {
                    return Err(missing());
                };
                gold.push(name(t)?);
                pred.push(name(p)?);
            }
            let report = EntityReport::compute(&gold, &pred)?;
            (
                report.f1,
                TaskMetrics::Entities(EntityMetrics {
                    entity_f1: report.f1,
                    report,
                }),
            )
        }
    };
    Ok(TaskEval {
        score,
        metrics,
        predictions,
    })
}
