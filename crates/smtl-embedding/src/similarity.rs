//! The STS evaluation sentence-transformers users trust
//! (`EmbeddingSimilarityEvaluator`, cosine): embed both sides of every
//! pair, take each pair's cosine similarity, and report its Pearson and
//! Spearman correlation with the gold scores. And the ranking evaluation
//! of in-batch-negatives objectives: each anchor's positive among all
//! the split's positives.

use std::collections::HashMap;

use smtl_metrics::{RankingReport, SimilarityReport};
use tch::{Kind, Tensor};

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

/// Rows of `anchors` scored per block of the similarity matrix.
const RANK_BLOCK: i64 = 1024;

/// For every anchor, the 1-based rank of its own positive among the
/// distinct positives (`positive_texts` decides which rows are the same
/// candidate: a repeated positive is one candidate, so it neither counts
/// against nor for the anchors that share it), by cosine similarity in
/// f64. `anchors` and `positives` are `[pairs, dim]`. An all-zero
/// embedding has no cosine: `EmbedError::Scoring`.
pub fn positive_ranks<S: AsRef<str>>(
    anchors: &Tensor,
    positives: &Tensor,
    positive_texts: &[S],
) -> Result<(Vec<usize>, usize)> {
    let n = anchors.size()[0];
    if positives.size()[0] != n || positive_texts.len() as i64 != n {
        return Err(EmbedError::InvalidOption(format!(
            "{n} anchors, {} positives and {} positive texts",
            positives.size()[0],
            positive_texts.len()
        )));
    }
    // Candidate of each pair: the first row with the same positive text.
    let mut first: HashMap<&str, usize> = HashMap::new();
    let mut rows: Vec<i64> = Vec::new();
    let gold: Vec<usize> = positive_texts
        .iter()
        .enumerate()
        .map(|(i, t)| {
            *first.entry(t.as_ref()).or_insert_with(|| {
                rows.push(i as i64);
                rows.len() - 1
            })
        })
        .collect();
    let unit = |x: &Tensor| {
        let x = x.to_kind(Kind::Double);
        let norm = x.norm_scalaropt_dim(2, [-1].as_slice(), true);
        x / norm
    };
    let rows = Tensor::from_slice(&rows).to_device(positives.device());
    let candidates = unit(&positives.index_select(0, &rows));
    let anchors = unit(anchors);
    let mut ranks = Vec::with_capacity(n as usize);
    let mut start = 0;
    while start < n {
        let len = RANK_BLOCK.min(n - start);
        let scores = anchors
            .narrow(0, start, len)
            .matmul(&candidates.transpose(0, 1))
            .to_device(tch::Device::Cpu);
        let scores = Vec::<Vec<f64>>::try_from(scores)?;
        for (offset, row) in scores.iter().enumerate() {
            let i = start as usize + offset;
            ranks.push(RankingReport::rank_of(row, gold[i], i).map_err(EmbedError::Scoring)?);
        }
        start += len;
    }
    Ok((ranks, first.len()))
}

/// accuracy@1, MRR@10 and recall@10 of every anchor's positive among the
/// distinct positives, on the encoder's embeddings (see
/// [`positive_ranks`]).
pub fn evaluate_ranking<S: AsRef<str>>(
    encoder: &SentenceEncoder,
    anchors: &[S],
    positives: &[S],
) -> Result<RankingReport> {
    let a = encoder.encode_tensor(anchors)?;
    let p = encoder.encode_tensor(positives)?;
    let (ranks, candidates) = positive_ranks(&a, &p, positives)?;
    RankingReport::from_ranks(&ranks, candidates).map_err(EmbedError::Scoring)
}
