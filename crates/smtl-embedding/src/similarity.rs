//! The STS evaluation sentence-transformers users trust
//! (`EmbeddingSimilarityEvaluator`, cosine): embed both sides of every
//! pair, take each pair's cosine similarity, and report its Pearson and
//! Spearman correlation with the gold scores.

use smtl_metrics::SimilarityReport;

use crate::{EmbedError, Result, SentenceEncoder};

/// Cosine similarity of two rows, in f64 from the f32 embeddings. An
/// all-zero row has none: NaN, which the report refuses by position.
fn cosine(a: ndarray::ArrayView1<f32>, b: ndarray::ArrayView1<f32>) -> f64 {
    let (mut ab, mut aa, mut bb) = (0f64, 0f64, 0f64);
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (f64::from(*x), f64::from(*y));
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    ab / (aa.sqrt() * bb.sqrt())
}

/// The cosine similarity of each `(sentences1[i], sentences2[i])` pair.
pub fn pair_cosines<S: AsRef<str>>(
    encoder: &SentenceEncoder,
    sentences1: &[S],
    sentences2: &[S],
) -> Result<Vec<f64>> {
    if sentences1.len() != sentences2.len() {
        return Err(EmbedError::InvalidOption(format!(
            "{} first sentences but {} second ones",
            sentences1.len(),
            sentences2.len()
        )));
    }
    let (e1, e2) = (encoder.encode(sentences1)?, encoder.encode(sentences2)?);
    Ok((0..sentences1.len())
        .map(|i| cosine(e1.row(i), e2.row(i)))
        .collect())
}

/// `pearson_cosine` and `spearman_cosine` of the pairs against `scores`,
/// as `EmbeddingSimilarityEvaluator` reports them (Spearman with average
/// ranks for ties). Fewer than two pairs, constant scores or similarities,
/// and an all-zero embedding are `EmbedError::Scoring`, never NaN.
pub fn evaluate_similarity<S: AsRef<str>>(
    encoder: &SentenceEncoder,
    sentences1: &[S],
    sentences2: &[S],
    scores: &[f64],
) -> Result<SimilarityReport> {
    let cosines = pair_cosines(encoder, sentences1, sentences2)?;
    SimilarityReport::compute(scores, &cosines).map_err(EmbedError::Scoring)
}
