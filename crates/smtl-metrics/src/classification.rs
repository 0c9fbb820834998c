use serde::{Deserialize, Serialize};

use crate::{f1, mean, ratio, MetricsError};

/// Scores of one class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassMetrics {
    pub label: String,
    /// `correct / predicted`, 0 when never predicted.
    pub precision: f64,
    /// `correct / support`, 0 when absent from gold.
    pub recall: f64,
    /// `2PR / (P + R)`, 0 when `P + R == 0`.
    pub f1: f64,
    /// Gold items of this class.
    pub support: usize,
    /// Items predicted as this class.
    pub predicted: usize,
    /// True positives.
    pub correct: usize,
}

/// Single-label classification scores over a fixed label set.
///
/// Every class in `labels` takes part in the macro means, also one that
/// occurs in neither gold nor predictions (its P, R and F1 are 0): this is
/// sklearn's `f1_score(gold, pred, labels=range(len(labels)),
/// average="macro")`. (sklearn *without* `labels=` averages only over the
/// classes present in gold or pred.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassificationReport {
    pub labels: Vec<String>,
    /// Number of items scored.
    pub total: usize,
    pub correct: usize,
    /// `correct / total`, 0 for no items.
    pub accuracy: f64,
    pub macro_precision: f64,
    pub macro_recall: f64,
    /// Mean of the per-class F1 (sklearn `average="macro"`).
    pub macro_f1: f64,
    /// Per-class F1 weighted by support (sklearn `average="weighted"`),
    /// 0 when there is no item.
    pub weighted_f1: f64,
    /// One entry per label, in `labels` order.
    pub per_class: Vec<ClassMetrics>,
    /// `confusion[gold][pred]` counts.
    pub confusion: Vec<Vec<usize>>,
}

impl ClassificationReport {
    /// Scores class ids `pred` against `gold`; ids index `labels`.
    ///
    /// Errors: `CountMismatch` when the slices differ in length,
    /// `LabelOutOfRange` for an id `>= labels.len()`. Empty input gives a
    /// report of zeros.
    pub fn compute(
        gold: &[usize],
        pred: &[usize],
        labels: &[String],
    ) -> Result<Self, MetricsError> {
        if gold.len() != pred.len() {
            return Err(MetricsError::CountMismatch {
                gold: gold.len(),
                pred: pred.len(),
            });
        }
        let k = labels.len();
        let mut confusion = vec![vec![0usize; k]; k];
        for (position, (&g, &p)) in gold.iter().zip(pred).enumerate() {
            for id in [g, p] {
                if id >= k {
                    return Err(MetricsError::LabelOutOfRange {
                        position,
                        id,
                        num_labels: k,
                    });
                }
            }
            confusion[g][p] += 1;
        }
        let correct: usize = (0..k).map(|c| confusion[c][c]).sum();
        let per_class: Vec<ClassMetrics> = (0..k)
            .map(|c| {
                let tp = confusion[c][c];
                let support: usize = confusion[c].iter().sum();
                let predicted: usize = confusion.iter().map(|row| row[c]).sum();
                let precision = ratio(tp, predicted);
                let recall = ratio(tp, support);
                ClassMetrics {
                    label: labels[c].clone(),
                    precision,
                    recall,
                    f1: f1(precision, recall),
                    support,
                    predicted,
                    correct: tp,
                }
            })
            .collect();
        let total = gold.len();
        let weighted_f1 = if total == 0 {
            0.0
        } else {
            per_class
                .iter()
                .map(|c| c.f1 * c.support as f64)
                .sum::<f64>()
                / total as f64
        };
        Ok(ClassificationReport {
            labels: labels.to_vec(),
            total,
            correct,
            accuracy: ratio(correct, total),
            macro_precision: mean(per_class.iter().map(|c| c.precision)),
            macro_recall: mean(per_class.iter().map(|c| c.recall)),
            macro_f1: mean(per_class.iter().map(|c| c.f1)),
            weighted_f1,
            per_class,
            confusion,
        })
    }
}
