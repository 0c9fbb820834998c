//! MPNet (`mpnet`, all-mpnet-base-v2): no token types, RoBERTa's position
//! numbering (with the padding index fixed at 1, as transformers does), and
//! a relative-position bias added to every layer's attention scores: one
//! table `encoder.relative_attention_bias.weight` `[buckets, heads]` shared
//! by all layers, looked up by T5-style log-spaced distance buckets. Block
//! tensors are `attention.attn.{q,k,v,o}`, `attention.LayerNorm`,
//! `intermediate.dense`, `output.{dense,LayerNorm}` under `encoder.layer.N.`.

use tch::{nn, Kind, Tensor};

use crate::config::MPNET_BUCKETS;
use crate::layer::LayerNames;
use crate::EncoderConfig;

/// Where MPNet's blocks live.
pub(crate) const LAYERS: &str = "encoder.layer";

pub(crate) const NAMES: LayerNames = LayerNames {
    query: "attention.attn.q",
    key: "attention.attn.k",
    value: "attention.attn.v",
    attention_output: "attention.attn.o",
    attention_norm: "attention.LayerNorm",
    ff_in: "intermediate.dense",
    ff_out: "output.dense",
    output_norm: "output.LayerNorm",
    attention_output_dropout: true,
    int8_feed_forward_output: false,
};

/// Farthest distance with its own buckets range (`max_distance`).
const MAX_DISTANCE: f64 = 128.0;

/// The relative-position attention bias.
#[derive(Debug)]
pub struct RelativeAttentionBias {
    table: Tensor,
}

impl RelativeAttentionBias {
    pub(crate) fn load(p: nn::Path, c: &EncoderConfig) -> Self {
        Self {
            table: (&p / "relative_attention_bias").var(
                "weight",
                &[c.relative_attention_num_buckets, c.num_attention_heads],
                nn::Init::Const(0.0),
            ),
        }
    }

    /// `[1, heads, seq, seq]` bias for a sequence of `seq_len` positions
    /// (it depends on distances only, so padding does not change it).
    pub fn forward(&self, seq_len: i64) -> Tensor {
        let buckets = relative_position_buckets(seq_len, self.table.device());
        Tensor::embedding(&self.table, &buckets, -1, false, false)
            .permute([2, 0, 1])
            .unsqueeze(0)
    }
}

/// transformers' `MPNetEncoder.relative_position_bucket` with its defaults
/// (32 buckets, max distance 128), op for op on libtorch so that the float
/// rounding at bucket edges is the same: half the buckets per direction, the
/// first 8 distances exact, the rest log-spaced up to 128.
pub(crate) fn relative_position_buckets(seq_len: i64, device: tch::Device) -> Tensor {
    let positions = Tensor::arange(seq_len, (Kind::Int64, device));
    // relative = memory - context; n = -relative.
    let n = positions.unsqueeze(1) - positions.unsqueeze(0);
    let half = MPNET_BUCKETS / 2;
    let direction = n.lt(0).to_kind(Kind::Int64) * half;
    let n = n.abs();
    let max_exact = half / 2;
    let is_small = n.lt(max_exact);
    let large = ((n.to_kind(Kind::Float) / max_exact as f64).log()
        / (MAX_DISTANCE / max_exact as f64).ln()
        * (half - max_exact) as f64)
        .to_kind(Kind::Int64)
        + max_exact;
    let large = large.clamp_max(half - 1);
    direction + n.where_self(&is_small, &large)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expected values printed by transformers' `relative_position_bucket`.
    #[test]
    fn buckets_match_transformers() {
        let b = relative_position_buckets(300, tch::Device::Cpu);
        let at = |query: i64, key: i64| b.int64_value(&[query, key]);
        // Same position, and the exact range on both sides.
        assert_eq!(at(0, 0), 0);
        assert_eq!(at(5, 0), 5); // key 5 before the query: n = 5
        assert_eq!(at(0, 5), 16 + 5); // key after the query
        assert_eq!(at(7, 0), 7);
        assert_eq!(at(8, 0), 8);
        // Log range: 8 + floor(ln(n/8) / ln(16) * 8), capped at 15.
        assert_eq!(at(16, 0), 10);
        assert_eq!(at(64, 0), 14);
        assert_eq!(at(11, 0), 8);
        assert_eq!(at(23, 0), 11);
        assert_eq!(at(45, 0), 12);
        assert_eq!(at(90, 0), 14);
        assert_eq!(at(127, 0), 15);
        assert_eq!(at(128, 0), 15);
        assert_eq!(at(299, 0), 15);
        assert_eq!(at(0, 299), 31);
    }
}
