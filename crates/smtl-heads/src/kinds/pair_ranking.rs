//! Pair ranking: (anchor, positive) pairs trained with in-batch negatives
//! (sentence-transformers' `MultipleNegativesRankingLoss`, scale 20,
//! cosine; optionally symmetric). Scored by ranking, for every anchor of
//! the split, its positive among all the split's distinct positives:
//! accuracy@1, MRR@10 (the selection score) and recall@10.
//!
//! Duplicates: a batch where two pairs share a positive (or an anchor)
//! would teach the model to push a sentence away from itself, a known
//! failure of MNRL. sentence-transformers avoids such batches with its
//! `NO_DUPLICATES` sampler; here the batch keeps them and the loss masks
//! them out instead: each softmax row holds the batch's distinct
//! candidates once (a repeated positive is neither a negative of its
//! anchors nor counted twice for the others), so every batch keeps its
//! size and a batch without repeats is exactly sentence-transformers' loss.

use smtl_embedding::SentenceEncoder;
use smtl_metrics::RankingReport;
use tch::{Device, Kind, Tensor};

use super::pairs::{
    decode_pairs, objective, pair_batch, pair_features, sides, split_sides, unlabelled_pair,
};
use super::HeadKind;
use crate::metrics::TaskMetrics;
use crate::model::{Example, Prediction, TaskBatch, TaskSpec};
use crate::objective::PairLoss;
use crate::pair_losses::multiple_negatives_ranking;
use crate::{HeadError, Result};

#[derive(Debug, Clone, Copy, Default)]
pub struct PairRanking;

/// The two `[n, n]` masks of a batch (see [`multiple_negatives_ranking`]),
/// as `[2, n, n]`. Entry `(i, j)` of the first is masked when positive `j`
/// is no negative of anchor `i`: it repeats anchor `i`'s positive, belongs
/// to a repeat of anchor `i`, or is a later copy of an earlier positive
/// (counted once). The second is the same for positive `i` against the
/// anchors. Every row then holds the batch's distinct candidates once.
fn false_negatives(pairs: &[(&str, &str, Option<f64>)]) -> Vec<bool> {
    let n = pairs.len();
    let repeated_positive = |j: usize| pairs[..j].iter().any(|p| p.1 == pairs[j].1);
    let repeated_anchor = |j: usize| pairs[..j].iter().any(|p| p.0 == pairs[j].0);
    let same = |i: usize, j: usize| pairs[i].0 == pairs[j].0 || pairs[i].1 == pairs[j].1;
    let mut mask = vec![false; 2 * n * n];
    for i in 0..n {
        for j in 0..n {
            if i != j {
                mask[i * n + j] = same(i, j) || repeated_positive(j);
                mask[n * n + i * n + j] = same(i, j) || repeated_anchor(j);
            }
        }
    }
    mask
}

impl HeadKind for PairRanking {
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
        &[PairLoss::Mnrl]
    }

    /// Targets: the false-negative mask (the pairing itself is the label,
    /// so every batch has one).
    fn make_batch(
        &self,
        spec: &TaskSpec,
        encoder: &SentenceEncoder,
        examples: &[&Example],
    ) -> Result<TaskBatch> {
        let pairs = sides(spec, examples)?;
        let n = pairs.len() as i64;
        let mask = Tensor::from_slice(&false_negatives(&pairs))
            .view([2, n, n])
            .to_device(encoder.device());
        pair_batch(spec, encoder, &pairs, Some(mask))
    }

    fn features(
        &self,
        encoder: &SentenceEncoder,
        batch: &TaskBatch,
        train: bool,
    ) -> Result<Tensor> {
        pair_features(encoder, batch, train)
    }

    /// A batch of one pair has no negatives: its loss is 0 with no
    /// gradient (as sentence-transformers'; configs refuse `batch_size = 1`).
    fn loss(&self, spec: &TaskSpec, logits: &Tensor, targets: &Tensor) -> Tensor {
        let (anchors, positives) = split_sides(logits);
        let objective = objective(spec);
        multiple_negatives_ranking(
            &anchors,
            &positives,
            objective.scale,
            objective.symmetric,
            Some((&targets.get(0), &targets.get(1))),
        )
    }

    fn decode(
        &self,
        spec: &TaskSpec,
        _batch: &TaskBatch,
        logits: &Tensor,
    ) -> Result<Vec<Prediction>> {
        decode_pairs(spec, logits, true)
    }

    fn score(
        &self,
        spec: &TaskSpec,
        examples: &[Example],
        predictions: &[Prediction],
    ) -> Result<(f64, TaskMetrics)> {
        let refs: Vec<&Example> = examples.iter().collect();
        let positives: Vec<&str> = sides(spec, &refs)?.iter().map(|p| p.1).collect();
        let mut first = Vec::with_capacity(predictions.len());
        let mut second = Vec::with_capacity(predictions.len());
        for p in predictions {
            let Prediction::PairScore {
                embeddings: Some((a, b)),
                ..
            } = p
            else {
                return Err(HeadError::InvalidInput(format!(
                    "task {:?}: ranking needs the predictions' embeddings",
                    spec.name
                )));
            };
            first.push(Tensor::from_slice(a));
            second.push(Tensor::from_slice(b));
        }
        if first.is_empty() {
            return Err(HeadError::Metrics(
                smtl_metrics::MetricsError::TooFewItems { n: 0 },
            ));
        }
        let stack = |xs: &[Tensor]| {
            Tensor::stack(xs, 0)
                .to_kind(Kind::Float)
                .to_device(Device::Cpu)
        };
        let (ranks, candidates) =
            smtl_embedding::positive_ranks(&stack(&first), &stack(&second), &positives)?;
        let report = RankingReport::from_ranks(&ranks, candidates)?;
        Ok((report.mrr_at_10, TaskMetrics::Ranking(report)))
    }
}
