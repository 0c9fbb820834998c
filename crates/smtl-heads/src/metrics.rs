//! The metrics of a task on a split, typed per kind.

use std::collections::BTreeMap;

use serde::Serialize;
use smtl_metrics::{ClassificationReport, EntityReport, RankingReport, SimilarityReport};

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
/// per-type P/R/F1; or `pearson_cosine` and `spearman_cosine`; or
/// `accuracy@1`, `mrr@10` and `recall@10`. One variant per kind of report.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum TaskMetrics {
    Classification(ClassificationReport),
    Entities(EntityMetrics),
    Similarity(SimilarityReport),
    Ranking(RankingReport),
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
            Self::Similarity(r) => BTreeMap::from([
                ("pearson_cosine".to_string(), r.pearson_cosine),
                ("spearman_cosine".to_string(), r.spearman_cosine),
            ]),
            Self::Ranking(r) => BTreeMap::from([
                ("accuracy@1".to_string(), r.accuracy_at_1),
                ("mrr@10".to_string(), r.mrr_at_10),
                ("recall@10".to_string(), r.recall_at_10),
            ]),
        }
    }

    /// As a JSON object.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("metrics serialize")
    }
}
