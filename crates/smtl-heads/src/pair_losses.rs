//! The sentence-pair objectives of sentence-transformers, on embedding
//! batches (what the pair task kinds will call): each equals its
//! sentence-transformers loss module in value and gradient
//! (`tests/pair_losses.rs`, fixtures from `scripts/make_loss_fixtures.py`).

use tch::{Kind, Tensor};

/// Row-wise cosine similarity of two `[batch, dim]` embedding batches, as
/// sentence-transformers' `pairwise_cos_sim` (rows normalised first).
pub fn pairwise_cosine(a: &Tensor, b: &Tensor) -> Tensor {
    normalize(a)
        .multiply(&normalize(b))
        .sum_dim_intlist(-1, false, None)
}

/// `[batch_a, batch_b]` cosine similarities (`util.cos_sim`).
pub fn cosine_matrix(a: &Tensor, b: &Tensor) -> Tensor {
    normalize(a).matmul(&normalize(b).transpose(0, 1))
}

/// L2-normalised rows, with torch's `F.normalize` epsilon (1e-12).
fn normalize(x: &Tensor) -> Tensor {
    let norm = x
        .norm_scalaropt_dim(2, [-1].as_slice(), true)
        .clamp_min(1e-12);
    x / norm
}

/// CoSENT (`CoSENTLoss`, scale 20 by default):
/// `log(1 + Σ_{i,j: label_i > label_j} exp(scale·(cos_j − cos_i)))`, which
/// only asks that pairs with higher gold scores get higher similarities.
pub fn cosent(a: &Tensor, b: &Tensor, labels: &Tensor, scale: f64) -> Tensor {
    let scores = pairwise_cosine(a, b) * scale;
    // differences[i][j] = s_j - s_i, kept where label_i > label_j.
    let differences = scores.unsqueeze(0) - scores.unsqueeze(1);
    let keep = labels.unsqueeze(1).gt_tensor(&labels.unsqueeze(0));
    let masked = differences.masked_fill(&keep.logical_not(), f64::NEG_INFINITY);
    let zero = Tensor::zeros([1], (scores.kind(), scores.device()));
    Tensor::cat(&[zero, masked.view([-1])], 0).logsumexp([0].as_slice(), false)
}

/// `CosineSimilarityLoss`: mean squared error between each pair's cosine
/// similarity and its gold score (already scaled to 0..1).
pub fn cosine_mse(a: &Tensor, b: &Tensor, labels: &Tensor) -> Tensor {
    pairwise_cosine(a, b).mse_loss(&labels.to_kind(a.kind()), tch::Reduction::Mean)
}

/// `MultipleNegativesRankingLoss` (scale 20, cosine): each anchor's positive
/// must win a softmax over every positive of the batch (the other rows are
/// its in-batch negatives). With `symmetric`, the mean of that and the
/// same the other way (each positive's anchor among the batch's anchors),
/// as `MultipleNegativesSymmetricRankingLoss`. `masks`, two `[batch,
/// batch]` bool masks with a false diagonal, remove entries from the
/// anchor-to-positive softmax (rows anchors, columns positives) and from
/// the positive-to-anchor one (rows positives, columns anchors); without
/// them this is sentence-transformers' loss exactly.
pub fn multiple_negatives_ranking(
    anchors: &Tensor,
    positives: &Tensor,
    scale: f64,
    symmetric: bool,
    masks: Option<(&Tensor, &Tensor)>,
) -> Tensor {
    let scores = cosine_matrix(anchors, positives) * scale;
    let targets = Tensor::arange(scores.size()[0], (Kind::Int64, scores.device()));
    // Not `cross_entropy_for_logits`: it computes in f32 whatever the input.
    let ce = |s: &Tensor, mask: Option<&Tensor>| {
        let s = match mask {
            Some(m) => s.masked_fill(m, f64::NEG_INFINITY),
            None => s.shallow_clone(),
        };
        s.cross_entropy_loss(&targets, None::<Tensor>, tch::Reduction::Mean, -100, 0.0)
    };
    let forward = ce(&scores, masks.map(|m| m.0));
    if symmetric {
        (forward + ce(&scores.transpose(0, 1), masks.map(|m| m.1))) / 2.0
    } else {
        forward
    }
}
