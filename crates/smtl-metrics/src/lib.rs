//! Evaluation metrics for the sentence-mtl tasks (pure Rust, serde only).
//!
//! - [`ClassificationReport`]: accuracy, per-class precision/recall/F1,
//!   macro and weighted averages and the confusion matrix, with
//!   scikit-learn's definitions (undefined ratios are 0, like sklearn's
//!   default `zero_division="warn"`).
//! - [`EntityReport`]: entity-level scores exactly as
//!   `seqeval.metrics.f1_score(y_true, y_pred, mode="strict", scheme=IOB2)`
//!   (seqeval 1.2.2) computes them; see [`extract_entities`] for the strict
//!   IOB2 chunking rule.
//!
//! - [`pearson`], [`spearman`] (average ranks for ties) and
//!   [`SimilarityReport`]: scipy's `pearsonr` / `spearmanr`, as
//!   sentence-transformers' `EmbeddingSimilarityEvaluator` reports them.
//! - [`RankingReport`]: accuracy@1, MRR@10 and recall@10 of each anchor's
//!   positive among the split's candidates (in-batch-negatives ranking).
//!
//! All are cross-checked to 1e-9 against fixtures made by
//! `scripts/make_metric_fixtures.py` with the real seqeval and sklearn.

mod classification;
mod correlation;
mod entity;
mod error;
mod ranking;

pub use classification::{ClassMetrics, ClassificationReport};
pub use correlation::{average_ranks, pearson, spearman, SimilarityReport};
pub use entity::{extract_entities, Entity, EntityReport, TypeMetrics};
pub use error::MetricsError;
pub use ranking::{RankingReport, CUTOFF};

/// `num / den`, or 0 when `den == 0` (sklearn / seqeval zero_division).
pub(crate) fn ratio(num: usize, den: usize) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

/// F1 from precision and recall as sklearn/seqeval compute it:
/// `2PR / (P + R)`, 0 when `P + R == 0`.
pub(crate) fn f1(precision: f64, recall: f64) -> f64 {
    let den = precision + recall;
    if den == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / den
    }
}

pub(crate) fn mean(values: impl ExactSizeIterator<Item = f64>) -> f64 {
    let n = values.len();
    if n == 0 {
        0.0
    } else {
        values.sum::<f64>() / n as f64
    }
}
