use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{BackboneError, Result};

/// Feed-forward activation named by `hidden_act` in `config.json`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// Exact (erf) GELU, what Hugging Face calls `gelu`.
    Gelu,
    /// Tanh approximation (`gelu_new`, `gelu_pytorch_tanh`).
    #[serde(alias = "gelu_new", alias = "gelu_pytorch_tanh", alias = "gelu_fast")]
    GeluTanh,
    Relu,
    #[serde(alias = "swish")]
    Silu,
}

impl Activation {
    pub fn apply(self, xs: &tch::Tensor) -> tch::Tensor {
        match self {
            Self::Gelu => xs.gelu("none"),
            Self::GeluTanh => xs.gelu("tanh"),
            Self::Relu => xs.relu(),
            Self::Silu => xs.silu(),
        }
    }
}

/// The subset of a Hugging Face BERT `config.json` that shapes the encoder.
/// Unknown keys are ignored, as transformers does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BertConfig {
    #[serde(default = "default_model_type")]
    pub model_type: String,
    pub vocab_size: i64,
    pub hidden_size: i64,
    pub num_hidden_layers: i64,
    pub num_attention_heads: i64,
    pub intermediate_size: i64,
    #[serde(default = "default_act")]
    pub hidden_act: Activation,
    #[serde(default = "default_dropout")]
    pub hidden_dropout_prob: f64,
    #[serde(default = "default_dropout")]
    pub attention_probs_dropout_prob: f64,
    #[serde(default = "default_max_positions")]
    pub max_position_embeddings: i64,
    #[serde(default = "default_type_vocab")]
    pub type_vocab_size: i64,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    #[serde(default)]
    pub pad_token_id: i64,
    #[serde(default = "default_position_type")]
    pub position_embedding_type: String,
}

fn default_model_type() -> String {
    "bert".into()
}
fn default_act() -> Activation {
    Activation::Gelu
}
fn default_dropout() -> f64 {
    0.1
}
fn default_max_positions() -> i64 {
    512
}
fn default_type_vocab() -> i64 {
    2
}
fn default_eps() -> f64 {
    1e-12
}
fn default_position_type() -> String {
    "absolute".into()
}

impl BertConfig {
    /// Reads and validates `config.json`.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| BackboneError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let config: Self =
            serde_json::from_str(&text).map_err(|reason| BackboneError::ConfigParse {
                path: path.to_path_buf(),
                reason,
            })?;
        config.validate()?;
        Ok(config)
    }

    /// Number of parameters [`crate::BertModel`] allocates (pooler excluded),
    /// `None` if it does not fit in a `u64`.
    pub fn num_parameters(&self) -> Option<u64> {
        let u = |v: i64| u64::try_from(v).ok();
        let (h, i) = (u(self.hidden_size)?, u(self.intermediate_size)?);
        let tables = u(self.vocab_size)?
            .checked_add(u(self.max_position_embeddings)?)?
            .checked_add(u(self.type_vocab_size)?)?;
        let embeddings = tables.checked_add(2)?.checked_mul(h)?;
        // q, k, v, attention output: h*h + h each; two LayerNorms: 2h each;
        // intermediate: i*h + i; output: h*i + h.
        let layer = h
            .checked_mul(h)?
            .checked_add(h)?
            .checked_mul(4)?
            .checked_add(h.checked_mul(4)?)?
            .checked_add(h.checked_mul(i)?.checked_mul(2)?)?
            .checked_add(i)?
            .checked_add(h)?;
        layer
            .checked_mul(u(self.num_hidden_layers)?)?
            .checked_add(embeddings)
    }

    /// Width of one attention head.
    pub fn head_dim(&self) -> i64 {
        self.hidden_size / self.num_attention_heads
    }

    /// Rejects configurations this implementation would compute wrongly.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(BackboneError::InvalidConfig(m));
        if self.model_type != "bert" {
            return bad(format!(
                "model_type {:?} is not supported (only the BERT layout: model_type \"bert\")",
                self.model_type
            ));
        }
        if self.position_embedding_type != "absolute" {
            return bad(format!(
                "position_embedding_type {:?} is not supported (only \"absolute\")",
                self.position_embedding_type
            ));
        }
        for (name, v) in [
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
            ("intermediate_size", self.intermediate_size),
            ("max_position_embeddings", self.max_position_embeddings),
            ("type_vocab_size", self.type_vocab_size),
        ] {
            if v <= 0 {
                return bad(format!("{name} must be positive, got {v}"));
            }
        }
        if self.hidden_size % self.num_attention_heads != 0 {
            return bad(format!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                self.hidden_size, self.num_attention_heads
            ));
        }
        for (name, p) in [
            ("hidden_dropout_prob", self.hidden_dropout_prob),
            (
                "attention_probs_dropout_prob",
                self.attention_probs_dropout_prob,
            ),
        ] {
            if !(0.0..1.0).contains(&p) {
                return bad(format!("{name} must be in [0, 1), got {p}"));
            }
        }
        if self.layer_norm_eps.is_nan() || self.layer_norm_eps <= 0.0 {
            return bad(format!(
                "layer_norm_eps must be positive, got {}",
                self.layer_norm_eps
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minilm_json() -> serde_json::Value {
        serde_json::json!({
            "architectures": ["BertModel"], "attention_probs_dropout_prob": 0.1,
            "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "hidden_size": 384,
            "initializer_range": 0.02, "intermediate_size": 1536, "layer_norm_eps": 1e-12,
            "max_position_embeddings": 512, "model_type": "bert", "num_attention_heads": 12,
            "num_hidden_layers": 6, "pad_token_id": 0, "position_embedding_type": "absolute",
            "type_vocab_size": 2, "vocab_size": 30522
        })
    }

    #[test]
    fn reads_a_hugging_face_config() {
        let c: BertConfig = serde_json::from_value(minilm_json()).unwrap();
        c.validate().unwrap();
        assert_eq!(c.head_dim(), 32);
        assert_eq!(c.hidden_act, Activation::Gelu);
    }

    #[test]
    fn rejects_inconsistent_or_unsupported_configs() {
        let mut j = minilm_json();
        j["num_attention_heads"] = 7.into();
        let c: BertConfig = serde_json::from_value(j).unwrap();
        assert!(matches!(c.validate(), Err(BackboneError::InvalidConfig(_))));

        let mut j = minilm_json();
        j["position_embedding_type"] = "relative_key".into();
        let c: BertConfig = serde_json::from_value(j).unwrap();
        assert!(c.validate().is_err());

        let mut j = minilm_json();
        j["hidden_act"] = "mish".into();
        assert!(serde_json::from_value::<BertConfig>(j).is_err());
    }
}
