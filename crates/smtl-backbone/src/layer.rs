//! The transformer block every supported family shares: self-attention,
//! residual + LayerNorm, feed-forward, residual + LayerNorm (post-LN).
//!
//! BERT, RoBERTa, XLM-RoBERTa, MPNet and DistilBERT compute exactly this
//! block; they differ only in the names of its tensors ([`LayerNames`]), in
//! whether the attention output has its own dropout, and in an optional
//! additive attention bias (MPNet's relative positions), which arrives as a
//! float attention mask.

use tch::{nn, nn::Module, Device, Kind, Tensor};

use crate::linear::{Linear, Precision};
use crate::{Activation, EncoderConfig, Result};

/// Where one family keeps a block's tensors, relative to the block
/// (`encoder.layer.N.` / `transformer.layer.N.`), dot-separated.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LayerNames {
    pub query: &'static str,
    pub key: &'static str,
    pub value: &'static str,
    pub attention_output: &'static str,
    pub attention_norm: &'static str,
    pub ff_in: &'static str,
    pub ff_out: &'static str,
    pub output_norm: &'static str,
    /// BERT-style blocks drop out the attention projection before the
    /// residual; DistilBERT's does not.
    pub attention_output_dropout: bool,
    /// Whether int8 inference quantizes the feed-forward output projection.
    /// Its input is the GELU of the intermediate states, whose rows a few
    /// outlier activations can dominate; per-row int8 loses the rest. It
    /// stays bf16 where that was measured to matter (MPNet: mean cosine to
    /// fp32 0.9930 with it int8, 0.9957 bf16; docs/architectures.md).
    pub int8_feed_forward_output: bool,
}

/// `p` followed by each dot-separated component of `dotted`
/// (`nn::Path` refuses dots inside one component).
pub(crate) fn at<'a>(p: &nn::Path<'a>, dotted: &str) -> nn::Path<'a> {
    let mut parts = dotted.split('.');
    let first = p / parts.next().unwrap_or(dotted);
    parts.fold(first, |p, part| &p / part)
}

pub(crate) fn layer_norm(p: nn::Path, config: &EncoderConfig) -> nn::LayerNorm {
    let cfg = nn::LayerNormConfig {
        eps: config.layer_norm_eps,
        ..Default::default()
    };
    nn::layer_norm(p, vec![config.hidden_size], cfg)
}

/// Longest sequence for which inference computes attention as two batched
/// products and a softmax instead of libtorch's fused
/// `scaled_dot_product_attention`: for short sequences the fused CPU kernel
/// (a flash-attention kernel tiled for long ones) is slower; the crossover
/// measured end to end is about 30 wordpieces for fp32 and bf16, 50 for
/// int8 (docs/performance.md, "Levers measured").
pub const EXPLICIT_ATTENTION_MAX_LEN: i64 = 32;

/// softmax(q k^T / sqrt(d) + mask) v, for inference on short sequences.
/// Same arithmetic as the fused kernel up to summation order. `mask` is
/// boolean (true = may attend) or additive (a float bias, `-inf` = masked),
/// as for the fused kernel.
fn explicit_attention(
    q: &Tensor,
    k: &Tensor,
    v: &Tensor,
    mask: Option<&Tensor>,
    dropout: f64,
) -> Tensor {
    let scale = 1.0 / (*q.size().last().expect("head dim") as f64).sqrt();
    let mut scores = (q * scale).matmul(&k.transpose(-1, -2));
    match mask {
        Some(mask) if mask.kind() == Kind::Bool => {
            let _ = scores.masked_fill_(&mask.logical_not(), f64::NEG_INFINITY);
        }
        Some(bias) => scores += bias,
        None => {}
    }
    smtl_kernels::dropout(&scores.softmax(-1, scores.kind()), dropout, dropout > 0.0).matmul(v)
}

/// One post-LayerNorm transformer block: self-attention and feed-forward.
#[derive(Debug)]
pub struct TransformerLayer {
    query: Linear,
    key: Linear,
    value: Linear,
    attention_out: Linear,
    attention_norm: nn::LayerNorm,
    intermediate: Linear,
    output: Linear,
    output_norm: nn::LayerNorm,
    num_heads: i64,
    head_dim: i64,
    activation: Activation,
    hidden_dropout: f64,
    attention_dropout: f64,
    attention_output_dropout: bool,
    int8_feed_forward_output: bool,
}

impl TransformerLayer {
    pub(crate) fn load(p: nn::Path, c: &EncoderConfig, names: &LayerNames) -> Self {
        let (h, i) = (c.hidden_size, c.intermediate_size);
        let lin = |name: &str, input, output| Linear::new(at(&p, name), input, output);
        Self {
            query: lin(names.query, h, h),
            key: lin(names.key, h, h),
            value: lin(names.value, h, h),
            attention_out: lin(names.attention_output, h, h),
            attention_norm: layer_norm(at(&p, names.attention_norm), c),
            intermediate: lin(names.ff_in, h, i),
            output: lin(names.ff_out, i, h),
            output_norm: layer_norm(at(&p, names.output_norm), c),
            num_heads: c.num_attention_heads,
            head_dim: c.head_dim(),
            activation: c.hidden_act,
            hidden_dropout: c.hidden_dropout_prob,
            attention_dropout: c.attention_probs_dropout_prob,
            attention_output_dropout: names.attention_output_dropout,
            int8_feed_forward_output: names.int8_feed_forward_output,
        }
    }

    /// `attention_mask`: `None` when no position is padding and there is no
    /// bias; else a boolean `[batch, 1, 1, seq]` mask, true where a key may
    /// be attended to, or an additive float mask `[batch|1, heads|1, seq,
    /// seq]` in the kind of `xs` (bias, `-inf` at padding).
    pub fn forward_t(&self, xs: &Tensor, attention_mask: Option<&Tensor>, train: bool) -> Tensor {
        let (b, t, h) = xs.size3().expect("hidden states are [batch, seq, hidden]");
        let heads = |lin: &Linear| {
            lin.forward_t(xs, train)
                .view([b, t, self.num_heads, self.head_dim])
                .transpose(1, 2)
        };
        let (q, k, v) = (heads(&self.query), heads(&self.key), heads(&self.value));
        let dropout = if train { self.attention_dropout } else { 0.0 };
        let context = if dropout > 0.0 && q.device() == Device::Cpu {
            // libtorch's CPU attention with dropout is its math path, these
            // same operations, with libtorch's serial dropout mask; this
            // takes the shim's (`smtl_kernels::dropout`).
            explicit_attention(&q, &k, &v, attention_mask, dropout)
        } else if train || q.requires_grad() || t > EXPLICIT_ATTENTION_MAX_LEN {
            Tensor::scaled_dot_product_attention(
                &q,
                &k,
                &v,
                attention_mask,
                dropout,
                false,
                None,
                false,
            )
        } else {
            explicit_attention(&q, &k, &v, attention_mask, 0.0)
        }
        .transpose(1, 2)
        .reshape([b, t, h]);
        let attention_out = smtl_kernels::dropout(
            &self.attention_out.forward_t(&context, train),
            self.hidden_dropout,
            train && self.attention_output_dropout,
        );
        let attended = self.attention_norm.forward(&(attention_out + xs));
        let ff = self
            .activation
            .apply(&self.intermediate.forward_t(&attended, train));
        let output = smtl_kernels::dropout(
            &self.output.forward_t(&ff, train),
            self.hidden_dropout,
            train,
        );
        self.output_norm.forward(&(output + attended))
    }

    /// Prepares every linear layer's inference kernel for `precision`.
    pub fn set_precision(&mut self, precision: Precision) -> Result<()> {
        for lin in [
            &mut self.query,
            &mut self.key,
            &mut self.value,
            &mut self.attention_out,
            &mut self.intermediate,
            &mut self.output,
        ] {
            lin.set_precision(precision)?;
        }
        // See `LayerNames::int8_feed_forward_output`.
        if precision == Precision::Int8 && !self.int8_feed_forward_output {
            self.output.set_precision(Precision::Bf16)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The explicit inference attention equals libtorch's fused kernel, with
    /// and without padding, in fp32 (parity path) and bf16 (fast paths).
    #[test]
    fn explicit_attention_equals_the_fused_kernel() {
        tch::manual_seed(7);
        let opts = (Kind::Float, tch::Device::Cpu);
        let (b, h, t, d) = (3, 4, 9, 32);
        let [q, k, v] = [0, 1, 2].map(|_| Tensor::randn([b, h, t, d], opts));
        // Second sentence has 6 real tokens, third 1 (only its CLS).
        let lengths = Tensor::from_slice(&[9i64, 6, 1]).view([b, 1, 1, 1]);
        let mask = Tensor::arange(t, (Kind::Int64, tch::Device::Cpu))
            .view([1, 1, 1, t])
            .lt_tensor(&lengths);
        for (kind, tolerance) in [(Kind::Float, 1e-5), (Kind::BFloat16, 2e-2)] {
            let [q, k, v] = [&q, &k, &v].map(|x| x.to_kind(kind));
            for mask in [None, Some(&mask)] {
                let fused =
                    Tensor::scaled_dot_product_attention(&q, &k, &v, mask, 0.0, false, None, false);
                let explicit = explicit_attention(&q, &k, &v, mask, 0.0);
                assert_eq!(explicit.kind(), kind);
                let diff = (explicit.to_kind(Kind::Float) - fused.to_kind(Kind::Float))
                    .abs()
                    .max()
                    .double_value(&[]);
                assert!(
                    diff < tolerance,
                    "{kind:?}, mask {}: {diff}",
                    mask.is_some()
                );
            }
        }
    }
}
