//! The BERT encoder, wired on [`nn::Path`] with Hugging Face parameter names
//! (`embeddings.word_embeddings.weight`, `encoder.layer.3.attention.self.query.bias`, ...).

use std::borrow::Borrow;

use tch::{nn, nn::Module, Kind, Tensor};

use crate::linear::{Linear, Precision};
use crate::{Activation, BackboneError, BertConfig, Result};

fn linear(p: nn::Path, input: i64, output: i64) -> Linear {
    Linear::new(p, input, output)
}

fn layer_norm(p: nn::Path, config: &BertConfig) -> nn::LayerNorm {
    let cfg = nn::LayerNormConfig {
        eps: config.layer_norm_eps,
        ..Default::default()
    };
    nn::layer_norm(p, vec![config.hidden_size], cfg)
}

/// Word + position + token-type embeddings, then LayerNorm and dropout.
#[derive(Debug)]
pub struct BertEmbeddings {
    word: nn::Embedding,
    position: nn::Embedding,
    token_type: nn::Embedding,
    layer_norm: nn::LayerNorm,
    dropout: f64,
}

impl BertEmbeddings {
    pub fn load(p: nn::Path, c: &BertConfig) -> Self {
        let emb =
            |name: &str, n: i64| nn::embedding(&p / name, n, c.hidden_size, Default::default());
        Self {
            word: emb("word_embeddings", c.vocab_size),
            position: emb("position_embeddings", c.max_position_embeddings),
            token_type: emb("token_type_embeddings", c.type_vocab_size),
            layer_norm: layer_norm(&p / "LayerNorm", c),
            dropout: c.hidden_dropout_prob,
        }
    }

    pub fn forward_t(&self, input_ids: &Tensor, token_type_ids: &Tensor, train: bool) -> Tensor {
        let seq_len = input_ids.size()[1];
        let positions = Tensor::arange(seq_len, (Kind::Int64, input_ids.device()));
        let xs = self.word.forward(input_ids)
            + self.position.forward(&positions).unsqueeze(0)
            + self.token_type.forward(token_type_ids);
        self.layer_norm.forward(&xs).dropout(self.dropout, train)
    }
}

/// Longest sequence for which inference computes attention as two batched
/// products and a softmax instead of libtorch's fused
/// `scaled_dot_product_attention`: for short sequences the fused CPU kernel
/// (a flash-attention kernel tiled for long ones) is slower; the crossover
/// measured end to end is about 30 wordpieces for fp32 and bf16, 50 for
/// int8 (docs/performance.md, "Levers measured").
pub const EXPLICIT_ATTENTION_MAX_LEN: i64 = 32;

/// softmax(q k^T / sqrt(d) + mask) v, for inference on short sequences.
/// Same arithmetic as the fused kernel up to summation order.
fn explicit_attention(q: &Tensor, k: &Tensor, v: &Tensor, mask: Option<&Tensor>) -> Tensor {
    let scale = 1.0 / (*q.size().last().expect("head dim") as f64).sqrt();
    let mut scores = (q * scale).matmul(&k.transpose(-1, -2));
    if let Some(mask) = mask {
        let _ = scores.masked_fill_(&mask.logical_not(), f64::NEG_INFINITY);
    }
    scores.softmax(-1, scores.kind()).matmul(v)
}

/// One post-LayerNorm transformer block: self-attention and feed-forward.
#[derive(Debug)]
pub struct BertLayer {
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
}

impl BertLayer {
    pub fn load(p: nn::Path, c: &BertConfig) -> Self {
        let h = c.hidden_size;
        let attn = &p / "attention";
        let this = &attn / "self";
        Self {
            query: linear(&this / "query", h, h),
            key: linear(&this / "key", h, h),
            value: linear(&this / "value", h, h),
            attention_out: linear(&attn / "output" / "dense", h, h),
            attention_norm: layer_norm(&attn / "output" / "LayerNorm", c),
            intermediate: linear(&p / "intermediate" / "dense", h, c.intermediate_size),
            output: linear(&p / "output" / "dense", c.intermediate_size, h),
            output_norm: layer_norm(&p / "output" / "LayerNorm", c),
            num_heads: c.num_attention_heads,
            head_dim: c.head_dim(),
            activation: c.hidden_act,
            hidden_dropout: c.hidden_dropout_prob,
            attention_dropout: c.attention_probs_dropout_prob,
        }
    }

    /// `attention_mask`: `None` when no position is padding, else a boolean
    /// `[batch, 1, 1, seq]` mask that is true where a key may be attended to.
    pub fn forward_t(&self, xs: &Tensor, attention_mask: Option<&Tensor>, train: bool) -> Tensor {
        let (b, t, h) = xs.size3().expect("hidden states are [batch, seq, hidden]");
        let heads = |lin: &Linear| {
            lin.forward_t(xs, train)
                .view([b, t, self.num_heads, self.head_dim])
                .transpose(1, 2)
        };
        let (q, k, v) = (heads(&self.query), heads(&self.key), heads(&self.value));
        let context = if train || q.requires_grad() || t > EXPLICIT_ATTENTION_MAX_LEN {
            let dropout = if train { self.attention_dropout } else { 0.0 };
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
            explicit_attention(&q, &k, &v, attention_mask)
        }
        .transpose(1, 2)
        .reshape([b, t, h]);
        let attended = self.attention_norm.forward(
            &(self
                .attention_out
                .forward_t(&context, train)
                .dropout(self.hidden_dropout, train)
                + xs),
        );
        let ff = self
            .activation
            .apply(&self.intermediate.forward_t(&attended, train));
        self.output_norm.forward(
            &(self
                .output
                .forward_t(&ff, train)
                .dropout(self.hidden_dropout, train)
                + attended),
        )
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
        Ok(())
    }
}

/// Token-level output of the encoder.
#[derive(Debug)]
pub struct EncoderOutput {
    /// `[batch, seq, hidden]` contextual token states of the last layer.
    pub last_hidden_state: Tensor,
    /// Every layer's states when asked for: index 0 is the embedding output,
    /// index `i` the output of layer `i` (as Hugging Face's `hidden_states`).
    pub all_hidden_states: Option<Vec<Tensor>>,
}

/// The BERT encoder: [`BertEmbeddings`] then `num_hidden_layers` [`BertLayer`]s.
///
/// BERT's pooler (`pooler.dense`) is not built: sentence embeddings pool the
/// token states instead, as sentence-transformers does.
#[derive(Debug)]
pub struct BertModel {
    pub embeddings: BertEmbeddings,
    pub layers: Vec<BertLayer>,
    config: BertConfig,
    precision: Precision,
}

impl BertModel {
    /// Builds the variables under `p` (use `vs.root()` for the HF layout).
    pub fn load(p: nn::Path, config: &BertConfig) -> Result<Self> {
        config.validate()?;
        let layer_path = &p / "encoder" / "layer";
        Ok(Self {
            embeddings: BertEmbeddings::load(&p / "embeddings", config),
            layers: (0..config.num_hidden_layers)
                .map(|i| BertLayer::load(&layer_path / i, config))
                .collect(),
            config: config.clone(),
            precision: Precision::Fp32,
        })
    }

    pub fn config(&self) -> &BertConfig {
        &self.config
    }

    /// Selects the inference kernels of every layer (see [`Precision`]).
    /// Training forwards are unaffected. bf16 and int8 keep converted copies
    /// of the weights: set the precision again after the weights change.
    pub fn set_precision(&mut self, precision: Precision) -> Result<()> {
        for layer in &mut self.layers {
            layer.set_precision(precision)?;
        }
        self.precision = precision;
        Ok(())
    }

    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// Checks ids/mask shapes and ranges so that libtorch never sees input it
    /// would abort on (index out of range) or silently misread.
    fn check_input(&self, input_ids: &Tensor, attention_mask: &Tensor) -> Result<()> {
        let bad = |m: String| Err(BackboneError::BadInput(m));
        let size = input_ids.size();
        if size.len() != 2 {
            return bad(format!("input_ids must be [batch, seq], got {size:?}"));
        }
        if attention_mask.size() != size {
            return bad(format!(
                "attention_mask {:?} differs from input_ids {size:?}",
                attention_mask.size()
            ));
        }
        if input_ids.kind() != Kind::Int64 {
            return bad(format!(
                "input_ids must be int64, got {:?}",
                input_ids.kind()
            ));
        }
        if size[1] > self.config.max_position_embeddings {
            return bad(format!(
                "sequence of {} tokens exceeds max_position_embeddings {}",
                size[1], self.config.max_position_embeddings
            ));
        }
        if input_ids.numel() > 0 {
            let (lo, hi) = (
                input_ids.f_min()?.int64_value(&[]),
                input_ids.f_max()?.int64_value(&[]),
            );
            if lo < 0 || hi >= self.config.vocab_size {
                return bad(format!(
                    "token ids range over [{lo}, {hi}], outside the vocabulary of {}",
                    self.config.vocab_size
                ));
            }
        }
        Ok(())
    }

    /// Runs the encoder. `attention_mask` is `[batch, seq]` with 1 for real
    /// tokens and 0 for padding; token types are all zero (single sentences).
    pub fn forward_t(
        &self,
        input_ids: &Tensor,
        attention_mask: &Tensor,
        train: bool,
    ) -> Result<Tensor> {
        Ok(self
            .forward_all_t(input_ids, attention_mask, false, train)?
            .last_hidden_state)
    }

    /// As [`Self::forward_t`], optionally keeping every layer's states
    /// (for heads that mix layers).
    pub fn forward_all_t(
        &self,
        input_ids: &Tensor,
        attention_mask: &Tensor,
        keep_all_layers: bool,
        train: bool,
    ) -> Result<EncoderOutput> {
        self.check_input(input_ids, attention_mask)?;
        let token_types = input_ids.zeros_like();
        let mut xs = self.embeddings.forward_t(input_ids, &token_types, train);
        // bf16 and int8 inference keep the activations bf16 from layer to
        // layer (no cast around each product; attention, GELU and LayerNorm
        // in bf16); training never does.
        let bf16 = matches!(self.precision, Precision::Bf16 | Precision::Int8)
            && !train
            && !xs.requires_grad();
        if bf16 {
            xs = xs.to_kind(Kind::BFloat16);
        }
        // No mask at all when the batch has no padding: the attention kernel
        // then takes its fastest path and the result is the same.
        let has_padding =
            attention_mask.numel() > 0 && attention_mask.f_min()?.int64_value(&[]) == 0;
        let mask = has_padding.then(|| {
            attention_mask.to_kind(Kind::Bool).view([
                attention_mask.size()[0],
                1,
                1,
                attention_mask.size()[1],
            ])
        });
        let mut all = keep_all_layers.then(|| vec![xs.shallow_clone()]);
        for layer in &self.layers {
            xs = layer.forward_t(&xs, mask.as_ref().map(Borrow::borrow), train);
            if let Some(all) = all.as_mut() {
                all.push(xs.shallow_clone());
            }
        }
        if bf16 {
            xs = xs.to_kind(Kind::Float);
            all = all.map(|states| states.iter().map(|t| t.to_kind(Kind::Float)).collect());
        }
        Ok(EncoderOutput {
            last_hidden_state: xs,
            all_hidden_states: all,
        })
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
                let explicit = explicit_attention(&q, &k, &v, mask);
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
