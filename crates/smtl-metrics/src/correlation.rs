//! Pearson and Spearman correlation, as scipy's `pearsonr` and `spearmanr`
//! compute them (Spearman = Pearson of the ranks, ties given the average of
//! the ranks they span), and the STS report of sentence-transformers'
//! `EmbeddingSimilarityEvaluator` built on them.

use serde::{Deserialize, Serialize};

use crate::MetricsError;

fn check(x: &[f64], y: &[f64]) -> Result<(), MetricsError> {
    if x.len() != y.len() {
        return Err(MetricsError::CountMismatch {
            gold: x.len(),
            pred: y.len(),
        });
    }
    if x.len() < 2 {
        return Err(MetricsError::TooFewItems { n: x.len() });
    }
    for (position, v) in x.iter().chain(y).enumerate() {
        if !v.is_finite() {
            return Err(MetricsError::NotFinite {
                position: position % x.len(),
            });
        }
    }
    Ok(())
}

/// Pearson's r. Constant input (zero variance) has no correlation: an error,
/// where scipy warns and returns NaN.
pub fn pearson(x: &[f64], y: &[f64]) -> Result<f64, MetricsError> {
    check(x, y)?;
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        let (dx, dy) = (a - mx, b - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    for (which, s) in [("gold", sxx), ("predicted", syy)] {
        if s == 0.0 {
            return Err(MetricsError::ConstantInput { which });
        }
    }
    Ok((sxy / (sxx.sqrt() * syy.sqrt())).clamp(-1.0, 1.0))
}

/// 1-based ranks; tied values share the average of the ranks they span
/// (scipy's `rankdata(method="average")`).
pub fn average_ranks(x: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut ranks = vec![0.0; x.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && x[order[end]] == x[order[start]] {
            end += 1;
        }
        // Positions start..end (0-based) hold ranks start+1..=end.
        let rank = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = rank;
        }
        start = end;
    }
    ranks
}

/// Spearman's rho: Pearson's r of the average ranks.
pub fn spearman(x: &[f64], y: &[f64]) -> Result<f64, MetricsError> {
    check(x, y)?;
    pearson(&average_ranks(x), &average_ranks(y))
}

/// What `EmbeddingSimilarityEvaluator` reports for cosine similarity.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SimilarityReport {
    pub pairs: usize,
    pub pearson_cosine: f64,
    pub spearman_cosine: f64,
}

impl SimilarityReport {
    /// Correlations of the pairs' cosine similarities with the gold scores.
    pub fn compute(gold: &[f64], cosines: &[f64]) -> Result<Self, MetricsError> {
        Ok(Self {
            pairs: gold.len(),
            pearson_cosine: pearson(gold, cosines)?,
            spearman_cosine: spearman(gold, cosines)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_share_the_average_rank() {
        assert_eq!(
            average_ranks(&[3.0, 1.0, 3.0, 2.0]),
            vec![3.5, 1.0, 3.5, 2.0]
        );
        assert_eq!(average_ranks(&[5.0, 5.0, 5.0]), vec![2.0, 2.0, 2.0]);
    }

    #[test]
    fn perfect_and_reversed_orders() {
        let x = [1.0, 2.0, 3.0, 4.0];
        assert!((spearman(&x, &[10.0, 20.0, 30.0, 1000.0]).unwrap() - 1.0).abs() < 1e-12);
        assert!((pearson(&x, &[-1.0, -2.0, -3.0, -4.0]).unwrap() + 1.0).abs() < 1e-12);
    }

    #[test]
    fn undefined_correlations_are_errors_not_nan() {
        assert!(matches!(
            pearson(&[1.0, 1.0], &[1.0, 2.0]),
            Err(MetricsError::ConstantInput { which: "gold" })
        ));
        assert!(matches!(
            spearman(&[1.0, 2.0], &[f64::NAN, 2.0]),
            Err(MetricsError::NotFinite { position: 0 })
        ));
        assert!(matches!(
            pearson(&[1.0], &[1.0]),
            Err(MetricsError::TooFewItems { n: 1 })
        ));
        assert!(pearson(&[1.0, 2.0], &[1.0]).is_err());
    }
}
