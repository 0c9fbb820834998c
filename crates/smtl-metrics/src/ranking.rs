//! Retrieval scores of in-batch-negatives ranking: for every anchor, the
//! rank of its own positive among all candidates (the distinct positives
//! of the split), reported as sentence-transformers'
//! `InformationRetrievalEvaluator` names them for one relevant document
//! per query: accuracy@1, MRR@10 and recall@10.

use serde::Serialize;

use crate::MetricsError;

/// How far down the ranking MRR and recall look.
pub const CUTOFF: usize = 10;

/// Ranking scores over `pairs` anchors and `candidates` candidates.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RankingReport {
    pub pairs: usize,
    pub candidates: usize,
    /// Share of anchors whose positive ranks first.
    #[serde(rename = "accuracy@1")]
    pub accuracy_at_1: f64,
    /// Mean of 1/rank over anchors, 0 where the rank is past 10.
    #[serde(rename = "mrr@10")]
    pub mrr_at_10: f64,
    /// Share of anchors whose positive is in the top 10 (one relevant
    /// candidate per anchor, so recall@10 is hit@10).
    #[serde(rename = "recall@10")]
    pub recall_at_10: f64,
}

impl RankingReport {
    /// From the 1-based rank of each anchor's positive among `candidates`.
    pub fn from_ranks(ranks: &[usize], candidates: usize) -> Result<Self, MetricsError> {
        if ranks.is_empty() {
            return Err(MetricsError::TooFewItems { n: 0 });
        }
        if let Some(position) = ranks.iter().position(|&r| r == 0 || r > candidates) {
            return Err(MetricsError::LabelOutOfRange {
                position,
                id: ranks[position],
                num_labels: candidates,
            });
        }
        let n = ranks.len() as f64;
        let top = |k: usize| ranks.iter().filter(|&&r| r <= k).count() as f64 / n;
        let mrr = ranks
            .iter()
            .map(|&r| if r <= CUTOFF { 1.0 / r as f64 } else { 0.0 })
            .sum::<f64>()
            / n;
        Ok(Self {
            pairs: ranks.len(),
            candidates,
            accuracy_at_1: top(1),
            mrr_at_10: mrr,
            recall_at_10: top(CUTOFF),
        })
    }

    /// The 1-based rank of the gold candidate in one row of similarities:
    /// 1 + the number of candidates scored strictly higher (a tie with the
    /// gold counts in its favour). A NaN similarity is `NotFinite`.
    pub fn rank_of(scores: &[f64], gold: usize, row: usize) -> Result<usize, MetricsError> {
        if scores.iter().any(|s| !s.is_finite()) {
            return Err(MetricsError::NotFinite { position: row });
        }
        let g = scores[gold];
        Ok(1 + scores.iter().filter(|&&s| s > g).count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_make_the_retrieval_scores() {
        // Ranks 1, 2, 11 over 12 candidates.
        let r = RankingReport::from_ranks(&[1, 2, 11], 12).unwrap();
        assert_eq!(r.accuracy_at_1, 1.0 / 3.0);
        assert!((r.mrr_at_10 - (1.0 + 0.5) / 3.0).abs() < 1e-12);
        assert_eq!(r.recall_at_10, 2.0 / 3.0);
        let json = serde_json::to_value(&r).unwrap();
        for key in ["pairs", "candidates", "accuracy@1", "mrr@10", "recall@10"] {
            assert!(json.get(key).is_some(), "{key}");
        }
    }

    #[test]
    fn a_rank_counts_only_strictly_better_candidates() {
        assert_eq!(RankingReport::rank_of(&[0.1, 0.9, 0.5], 2, 0).unwrap(), 2);
        assert_eq!(RankingReport::rank_of(&[0.5, 0.5, 0.1], 1, 0).unwrap(), 1);
        assert!(matches!(
            RankingReport::rank_of(&[f64::NAN, 0.5], 1, 7),
            Err(MetricsError::NotFinite { position: 7 })
        ));
        assert!(RankingReport::from_ranks(&[], 3).is_err());
        assert!(RankingReport::from_ranks(&[4], 3).is_err());
    }
}
