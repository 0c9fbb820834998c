//! What the two pair kinds share: a batch holds both sides of every pair
//! in one padded batch (first sides, then second sides), so one encoder
//! pass embeds them all; the features are the full module pipeline's
//! sentence embeddings (Normalize included, as sentence-transformers
//! computes its losses), `[batch, 2, dim]`; a pair's score is the cosine
//! of its two embeddings.

use smtl_embedding::SentenceEncoder;
use tch::{Device, Kind, Tensor};

use crate::model::{wrong_example, Example, Prediction, TaskBatch, TaskSpec};
use crate::objective::PairObjective;
use crate::{HeadError, Result};

/// The unlabelled pair of one `first<TAB>second` input line.
pub(super) fn unlabelled_pair(text: &str) -> Result<Example> {
    let fields: Vec<&str> = text.split('\t').collect();
    match fields[..] {
        [first, second] if !first.trim().is_empty() && !second.trim().is_empty() => {
            Ok(Example::Pair {
                first: first.to_string(),
                second: second.to_string(),
                score: None,
            })
        }
        _ => Err(HeadError::InvalidInput(format!(
            "a pair task reads `sentence1<TAB>sentence2` lines with both sides non-empty, \
             got {} tab-separated field(s)",
            fields.len()
        ))),
    }
}

/// The task's objective (checked when the task was added).
pub(super) fn objective(spec: &TaskSpec) -> &PairObjective {
    spec.head
        .objective
        .as_ref()
        .expect("pair tasks are added with an objective")
}

/// The two sides and the score of every example, refusing other kinds.
pub(super) fn sides<'a>(
    spec: &TaskSpec,
    examples: &[&'a Example],
) -> Result<Vec<(&'a str, &'a str, Option<f64>)>> {
    examples
        .iter()
        .map(|e| match e {
            Example::Pair {
                first,
                second,
                score,
            } => Ok((first.as_str(), second.as_str(), *score)),
            other => Err(wrong_example(spec, other)),
        })
        .collect()
}

/// Both sides of `pairs` tokenized into one padded batch: rows `0..n` are
/// the first sides, rows `n..2n` the second.
pub(super) fn pair_batch(
    spec: &TaskSpec,
    encoder: &SentenceEncoder,
    pairs: &[(&str, &str, Option<f64>)],
    labels: Option<Tensor>,
) -> Result<TaskBatch> {
    let texts: Vec<&str> = pairs
        .iter()
        .map(|p| p.0)
        .chain(pairs.iter().map(|p| p.1))
        .collect();
    let encodings = encoder.tokenizer().encode_texts(&texts)?;
    let refs: Vec<_> = encodings.iter().collect();
    Ok(TaskBatch {
        task: spec.name.clone(),
        tokens: encoder.tokenizer().pad(&refs, encoder.device()),
        labels,
        word_starts: Vec::new(),
    })
}

/// `[pairs, 2, dim]`: each pair's two sentence embeddings.
pub(super) fn pair_features(
    encoder: &SentenceEncoder,
    batch: &TaskBatch,
    train: bool,
) -> Result<Tensor> {
    let states = encoder.token_embeddings(&batch.tokens, train)?;
    let embeddings = encoder.sentence_embeddings(&states, &batch.tokens.attention_mask);
    let pairs = embeddings.size()[0] / 2;
    Ok(embeddings.view([2, pairs, -1]).transpose(0, 1))
}

/// The first and second sides of `[pairs, 2, dim]` features.
pub(super) fn split_sides(features: &Tensor) -> (Tensor, Tensor) {
    (features.select(1, 0), features.select(1, 1))
}

/// Each pair's cosine (in f64), and with `keep_embeddings` both unit
/// vectors. An all-zero embedding has no cosine: `ZeroEmbedding`.
pub(super) fn decode_pairs(
    spec: &TaskSpec,
    features: &Tensor,
    keep_embeddings: bool,
) -> Result<Vec<Prediction>> {
    let (a, b) = split_sides(&features.to_kind(Kind::Double).to_device(Device::Cpu));
    let unit = |x: &Tensor| -> Result<Tensor> {
        let norm = x.norm_scalaropt_dim(2, [-1].as_slice(), true);
        let zero = Vec::<f64>::try_from(norm.view([-1]))?
            .iter()
            .position(|n| *n == 0.0 || !n.is_finite());
        if let Some(row) = zero {
            return Err(HeadError::ZeroEmbedding {
                task: spec.name.clone(),
                row,
            });
        }
        Ok(x / norm)
    };
    let (a, b) = (unit(&a)?, unit(&b)?);
    let scores = Vec::<f64>::try_from((&a * &b).sum_dim_intlist(-1, false, None))?;
    let rows = |x: &Tensor| Vec::<Vec<f32>>::try_from(x.to_kind(Kind::Float));
    let embeddings: Vec<Option<(Vec<f32>, Vec<f32>)>> = if keep_embeddings {
        rows(&a)?.into_iter().zip(rows(&b)?).map(Some).collect()
    } else {
        vec![None; scores.len()]
    };
    Ok(scores
        .into_iter()
        .zip(embeddings)
        .map(|(score, embeddings)| Prediction::PairScore { score, embeddings })
        .collect())
}

/// The pairs' scores, refusing predictions of another kind.
pub(super) fn predicted_scores(spec: &TaskSpec, predictions: &[Prediction]) -> Result<Vec<f64>> {
    predictions
        .iter()
        .map(|p| match p {
            Prediction::PairScore { score, .. } => Ok(*score),
            _ => Err(HeadError::InvalidInput(format!(
                "task {:?}: a pair task is scored on pair predictions",
                spec.name
            ))),
        })
        .collect()
}
