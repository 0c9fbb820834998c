//! Sentence similarity: pairs with a gold score (STS-B: 0..5), trained on
//! the cosine of the two sentence embeddings with CoSENT (default) or
//! cosine MSE, as sentence-transformers' `CoSENTLoss` and
//! `CosineSimilarityLoss`; scored as `EmbeddingSimilarityEvaluator` scores
//! them (Pearson and Spearman of the cosines against the gold scores;
//! `spearman_cosine` selects the model).

use smtl_embedding::SentenceEncoder;
use smtl_metrics::SimilarityReport;
use tch::{Kind, Tensor};

use super::pairs::{
    decode_pairs, objective, pair_batch, pair_features, predicted_scores, sides, split_sides,
    unlabelled_pair,
};
use super::HeadKind;
use crate::metrics::TaskMetrics;
use crate::model::{Example, Prediction, TaskBatch, TaskSpec};
use crate::objective::PairLoss;
use crate::pair_losses::{cosent, cosine_mse};
use crate::{HeadError, Result};

#[derive(Debug, Clone, Copy, Default)]
pub struct SentenceSimilarity;

impl HeadKind for SentenceSimilarity {
    fn input_dim(&self, encoder: &SentenceEncoder) -> i64 {
        encoder.embedding_dim()
    }

    fn unlabelled(&self, text: &str) -> Result<Example> {
        unlabelled_pair(text)
    }

    fn has_head(&self) -> bool {
        false
    }

    fn losses(&self) -> &'static [PairLoss] {
        &[PairLoss::Cosent, PairLoss::CosineMse]
    }

    /// Targets: the scores divided by `score_max` (0..1); a score outside
    /// `0..=score_max` is `ScoreOutOfRange`.
    fn make_batch(
        &self,
        spec: &TaskSpec,
        encoder: &SentenceEncoder,
        examples: &[&Example],
    ) -> Result<TaskBatch> {
        let pairs = sides(spec, examples)?;
        let max = objective(spec).score_max;
        let scores: Option<Vec<f64>> = pairs.iter().map(|p| p.2).collect();
        let labels = match scores {
            Some(scores) => {
                if let Some(&score) = scores.iter().find(|s| !(0.0..=max).contains(*s)) {
                    return Err(HeadError::ScoreOutOfRange {
                        task: spec.name.clone(),
                        score,
                        score_max: max,
                    });
                }
                let scaled: Vec<f32> = scores.iter().map(|s| (s / max) as f32).collect();
                Some(Tensor::from_slice(&scaled).to_device(encoder.device()))
            }
            None => None,
        };
        pair_batch(spec, encoder, &pairs, labels)
    }

    fn features(
        &self,
        encoder: &SentenceEncoder,
        batch: &TaskBatch,
        train: bool,
    ) -> Result<Tensor> {
        pair_features(encoder, batch, train)
    }

    fn loss(&self, spec: &TaskSpec, logits: &Tensor, targets: &Tensor) -> Tensor {
        let (a, b) = split_sides(logits);
        let objective = objective(spec);
        let targets = targets.to_kind(a.kind());
        match objective.loss {
            PairLoss::CosineMse => cosine_mse(&a, &b, &targets),
            _ => cosent(&a, &b, &targets, objective.scale),
        }
        .to_kind(Kind::Float)
    }

    fn decode(
        &self,
        spec: &TaskSpec,
        _batch: &TaskBatch,
        logits: &Tensor,
    ) -> Result<Vec<Prediction>> {
        decode_pairs(spec, logits, false)
    }

    fn score(
        &self,
        spec: &TaskSpec,
        examples: &[Example],
        predictions: &[Prediction],
    ) -> Result<(f64, TaskMetrics)> {
        let refs: Vec<&Example> = examples.iter().collect();
        let gold: Vec<f64> = sides(spec, &refs)?
            .iter()
            .map(|p| p.2.ok_or_else(|| HeadError::Unlabelled(spec.name.clone())))
            .collect::<Result<_>>()?;
        let cosines = predicted_scores(spec, predictions)?;
        let report = SimilarityReport::compute(&gold, &cosines)?;
        Ok((report.spearman_cosine, TaskMetrics::Similarity(report)))
    }
}
