//! The encoder of any supported family: [`Embeddings`], then
//! `num_hidden_layers` [`TransformerLayer`]s, with MPNet's relative
//! attention bias when the family has one. Variables are built on an
//! [`nn::Path`] with exactly the family's Hugging Face tensor names, so that
//! `model.safetensors` fills them with no conversion.

use std::borrow::Borrow;

use tch::{nn, Kind, Tensor};

use crate::embeddings::Embeddings;
use crate::layer::{at, LayerNames, TransformerLayer};
use crate::linear::Precision;
use crate::mpnet::RelativeAttentionBias;
use crate::{bert, distilbert, mpnet, BackboneError, EncoderConfig, Family, Result};

/// Token-level output of the encoder.
#[derive(Debug)]
pub struct EncoderOutput {
    /// `[batch, seq, hidden]` contextual token states of the last layer.
    pub last_hidden_state: Tensor,
    /// Every layer's states when asked for: index 0 is the embedding output,
    /// index `i` the output of layer `i` (as Hugging Face's `hidden_states`).
    pub all_hidden_states: Option<Vec<Tensor>>,
}

/// Where a family keeps its blocks and what their tensors are called.
pub(crate) fn layout(family: Family) -> (&'static str, &'static LayerNames) {
    match family {
        Family::Bert | Family::Roberta | Family::XlmRoberta => (bert::LAYERS, &bert::NAMES),
        Family::Mpnet => (mpnet::LAYERS, &mpnet::NAMES),
        Family::DistilBert => (distilbert::LAYERS, &distilbert::NAMES),
    }
}

/// A transformer encoder of one of the supported families.
///
/// The pooler of BERT-style checkpoints (`pooler.dense`) is not built:
/// sentence embeddings pool the token states instead, as
/// sentence-transformers does.
#[derive(Debug)]
pub struct Backbone {
    pub embeddings: Embeddings,
    pub layers: Vec<TransformerLayer>,
    /// MPNet's relative-position bias; `None` for the other families.
    pub relative_attention_bias: Option<RelativeAttentionBias>,
    config: EncoderConfig,
    precision: Precision,
}

impl Backbone {
    /// Builds the variables under `p` (use `vs.root()` for the HF layout).
    pub fn load(p: nn::Path, config: &EncoderConfig) -> Result<Self> {
        config.validate()?;
        let (layers, names) = layout(config.family);
        let layer_path = at(&p, layers);
        Ok(Self {
            embeddings: Embeddings::load(&p / "embeddings", config),
            layers: (0..config.num_hidden_layers)
                .map(|i| TransformerLayer::load(&layer_path / i, config, names))
                .collect(),
            relative_attention_bias: (config.family == Family::Mpnet)
                .then(|| RelativeAttentionBias::load(&p / "encoder", config)),
            config: config.clone(),
            precision: Precision::Fp32,
        })
    }

    pub fn config(&self) -> &EncoderConfig {
        &self.config
    }

    pub fn family(&self) -> Family {
        self.config.family
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
        let max_len = self.config.max_sequence_length();
        if size[1] > max_len {
            return bad(format!(
                "sequence of {} tokens exceeds the {max_len} this {} model can place \
                 (max_position_embeddings {}, positions from {})",
                size[1],
                self.config.family,
                self.config.max_position_embeddings,
                self.config.position_offset()
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
        let mut xs = self.embeddings.forward_t(input_ids, train);
        // bf16 and int8 inference keep the activations bf16 from layer to
        // layer (no cast around each product; attention, GELU and LayerNorm
        // in bf16); training never does.
        let bf16 = matches!(self.precision, Precision::Bf16 | Precision::Int8)
            && !train
            && !xs.requires_grad();
        if bf16 {
            xs = xs.to_kind(Kind::BFloat16);
        }
        let mask = self.attention_mask(attention_mask, xs.kind())?;
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

    /// The mask every layer's attention gets: none at all when there is no
    /// padding and no bias (the kernel's fastest path, same result); a
    /// boolean `[batch, 1, 1, seq]` key mask for padding; with MPNet's bias,
    /// the additive `[batch|1, heads, seq, seq]` bias with `-inf` at padded
    /// keys, in the activations' kind.
    fn attention_mask(&self, attention_mask: &Tensor, kind: Kind) -> Result<Option<Tensor>> {
        let (batch, seq) = (attention_mask.size()[0], attention_mask.size()[1]);
        let has_padding =
            attention_mask.numel() > 0 && attention_mask.f_min()?.int64_value(&[]) == 0;
        let keys = has_padding.then(|| attention_mask.to_kind(Kind::Bool).view([batch, 1, 1, seq]));
        Ok(match (&self.relative_attention_bias, keys) {
            (None, keys) => keys,
            (Some(bias), keys) => {
                let bias = bias.forward(seq).to_kind(kind);
                Some(match keys {
                    None => bias,
                    Some(keys) => bias.masked_fill(&keys.logical_not(), f64::NEG_INFINITY),
                })
            }
        })
    }
}
