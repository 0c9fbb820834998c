//! Head kinds: everything that differs between tasks of different kinds,
//! behind one trait, one file per kind.
//!
//! A kind decides what a batch's targets are, which encoder output its head
//! reads (the features, which the frozen-backbone cache stores), the loss,
//! how logits decode into predictions with label text, and the metrics.
//! [`crate::SharedEncoderModel`], the trainer and the feature cache only
//! call through [`HeadKind`]; a new kind is a new file here and one arm in
//! [`TaskKind::behaviour`].

mod pair_ranking;
mod pairs;
mod sentence_classification;
mod sentence_similarity;
mod token_classification;

pub use pair_ranking::PairRanking;
pub use sentence_classification::SentenceClassification;
pub use sentence_similarity::SentenceSimilarity;
pub use token_classification::TokenClassification;

use smtl_embedding::SentenceEncoder;
use tch::Tensor;

use crate::metrics::TaskMetrics;
use crate::model::{Example, Prediction, TaskBatch, TaskSpec};
use crate::objective::PairLoss;
use crate::{Result, TaskKind};

/// What a kind of task does; see the module docs.
pub trait HeadKind: std::fmt::Debug + Send + Sync {
    /// Width of the features the head reads from `encoder`.
    fn input_dim(&self, encoder: &SentenceEncoder) -> i64;

    /// The unlabelled example `predict` makes of one input line.
    fn unlabelled(&self, text: &str) -> Result<Example>;

    /// Whether the kind has a head of its own (the pair kinds score the
    /// encoder's embeddings directly: no head variables, no labels).
    fn has_head(&self) -> bool {
        true
    }

    /// The pair losses the kind trains with, its default first (none for
    /// the kinds with a cross-entropy head).
    fn losses(&self) -> &'static [PairLoss] {
        &[]
    }

    /// Tokenizes and pads `examples`, with targets when they are labelled.
    fn make_batch(
        &self,
        spec: &TaskSpec,
        encoder: &SentenceEncoder,
        examples: &[&Example],
    ) -> Result<TaskBatch>;

    /// The encoder output the head reads, `[batch, ...]` (what the feature
    /// cache stores, one row per example).
    fn features(&self, encoder: &SentenceEncoder, batch: &TaskBatch, train: bool)
        -> Result<Tensor>;

    /// Whether [`Self::features`] has one row per token (`[batch, seq,
    /// ...]`, padded like the batch): the feature cache then keeps each
    /// example's rows up to its length and pads them again per batch.
    fn token_aligned_features(&self) -> bool {
        false
    }

    /// Mean loss of `logits` against `targets` (the batch's labels).
    fn loss(&self, spec: &TaskSpec, logits: &Tensor, targets: &Tensor) -> Tensor;

    /// Predictions, label text included, from the head's logits.
    fn decode(
        &self,
        spec: &TaskSpec,
        batch: &TaskBatch,
        logits: &Tensor,
    ) -> Result<Vec<Prediction>>;

    /// Scores `predictions` against the labels of `examples` (same order):
    /// the model-selection score and every metric.
    fn score(
        &self,
        spec: &TaskSpec,
        examples: &[Example],
        predictions: &[Prediction],
    ) -> Result<(f64, TaskMetrics)>;
}

impl TaskKind {
    /// The implementation of this kind.
    pub fn behaviour(self) -> &'static dyn HeadKind {
        match self {
            TaskKind::SentenceClassification => &SentenceClassification,
            TaskKind::TokenClassification => &TokenClassification,
            TaskKind::SentenceSimilarity => &SentenceSimilarity,
            TaskKind::PairRanking => &PairRanking,
        }
    }
}
