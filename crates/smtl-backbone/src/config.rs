//! `config.json`: which encoder family a checkpoint is, and the numbers that
//! shape it.
//!
//! Hugging Face families name the same quantities differently (DistilBERT's
//! `dim`, `n_layers`, `n_heads`, `hidden_dim`, `activation`) and default them
//! differently (RoBERTa's `pad_token_id` 1, DistilBERT's fixed LayerNorm eps).
//! [`EncoderConfig::from_json`] maps every family onto one set of fields, so
//! the model code reads `hidden_size` whatever the family.

use std::fmt;
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

/// An encoder architecture family, chosen by `config.json`'s `model_type`.
/// What differs between them is documented in `docs/architectures.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Family {
    /// `bert`: absolute positions from 0, token types.
    Bert,
    /// `roberta`: BERT's layout; positions start after the padding index.
    Roberta,
    /// `xlm-roberta`: RoBERTa's layout (multilingual vocabulary).
    XlmRoberta,
    /// `mpnet`: no token types, positions after the padding index, and a
    /// relative-position attention bias shared by all layers.
    Mpnet,
    /// `distilbert`: no token types, its own tensor names, learned or
    /// sinusoidal positions from 0.
    DistilBert,
}

impl Family {
    /// Every supported family, in the order error messages list them.
    pub const ALL: [Family; 5] = [
        Family::Bert,
        Family::Roberta,
        Family::XlmRoberta,
        Family::Mpnet,
        Family::DistilBert,
    ];

    /// The `model_type` of `config.json`.
    pub fn model_type(self) -> &'static str {
        match self {
            Self::Bert => "bert",
            Self::Roberta => "roberta",
            Self::XlmRoberta => "xlm-roberta",
            Self::Mpnet => "mpnet",
            Self::DistilBert => "distilbert",
        }
    }

    /// The family of a `model_type`.
    pub fn from_model_type(model_type: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.model_type() == model_type)
    }

    /// The family of an `architectures` entry (`MPNetForMaskedLM`,
    /// `XLMRobertaModel`, ...), for configs without `model_type`.
    pub fn from_architecture(architecture: &str) -> Option<Self> {
        let a = architecture.to_ascii_lowercase();
        [
            ("xlmroberta", Self::XlmRoberta),
            ("distilbert", Self::DistilBert),
            ("roberta", Self::Roberta),
            ("mpnet", Self::Mpnet),
            ("bert", Self::Bert),
        ]
        .into_iter()
        .find(|(stem, _)| a.starts_with(stem))
        .map(|(_, f)| f)
    }

    /// The prefix `*For*` task checkpoints put before the backbone's tensor
    /// names (`roberta.encoder...` in a `RobertaForMaskedLM`).
    pub fn checkpoint_prefix(self) -> &'static str {
        match self {
            Self::Bert => "bert.",
            Self::Roberta | Self::XlmRoberta => "roberta.",
            Self::Mpnet => "mpnet.",
            Self::DistilBert => "distilbert.",
        }
    }

    /// Whether the embeddings add a token-type table.
    pub fn has_token_types(self) -> bool {
        matches!(self, Self::Bert | Self::Roberta | Self::XlmRoberta)
    }

    fn supported_list() -> String {
        Self::ALL
            .iter()
            .map(|f| format!("{:?}", f.model_type()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.model_type())
    }
}

/// The subset of a Hugging Face `config.json` that shapes the encoder, in
/// BERT's names whatever the family. Unknown keys are ignored, as
/// transformers does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EncoderConfig {
    /// Set by [`Self::from_json`] from `model_type` / `architectures`.
    #[serde(skip, default = "default_family")]
    pub family: Family,
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
    /// Rows of the token-type table; 0 for families without one.
    #[serde(default = "default_type_vocab")]
    pub type_vocab_size: i64,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    #[serde(default)]
    pub pad_token_id: i64,
    #[serde(default = "default_position_type")]
    pub position_embedding_type: String,
    /// Rows of MPNet's relative-attention bias table.
    #[serde(default = "default_buckets")]
    pub relative_attention_num_buckets: i64,
    /// DistilBERT: fixed sinusoidal position table (not trained).
    #[serde(default)]
    pub sinusoidal_pos_embds: bool,
}

fn default_family() -> Family {
    Family::Bert
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
fn default_buckets() -> i64 {
    32
}

/// Buckets transformers' MPNet computes whatever the config says
/// (`compute_position_bias(..., num_buckets=32)`).
pub const MPNET_BUCKETS: i64 = 32;

impl EncoderConfig {
    /// Reads and validates `config.json`.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| BackboneError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_json(path, &text)
    }

    /// Parses the text of `config.json` (`path` names it in errors): picks
    /// the family, maps its key names and defaults onto BERT's, validates.
    pub fn from_json(path: &Path, text: &str) -> Result<Self> {
        let parse_err = |reason| BackboneError::ConfigParse {
            path: path.to_path_buf(),
            reason,
        };
        let mut json: serde_json::Value = serde_json::from_str(text).map_err(parse_err)?;
        let Some(object) = json.as_object_mut() else {
            // Not an object: let serde say what it is instead.
            return Err(parse_err(
                serde_json::from_value::<Self>(json).expect_err("only an object can be a config"),
            ));
        };
        let family = family_of(object)?;
        normalise_keys(family, object);
        let mut config: Self = serde_json::from_value(json).map_err(parse_err)?;
        config.family = family;
        if !family.has_token_types() {
            config.type_vocab_size = 0;
        }
        config.validate()?;
        Ok(config)
    }

    /// Where position ids start: 0, or `padding index + 1` for the families
    /// that number positions after the padding index (fairseq's scheme).
    /// MPNet's padding index is fixed at 1 in transformers.
    pub fn position_offset(&self) -> i64 {
        match self.family {
            Family::Roberta | Family::XlmRoberta => self.pad_token_id + 1,
            Family::Mpnet => 2,
            Family::Bert | Family::DistilBert => 0,
        }
    }

    /// The padding index positions are counted from (see
    /// [`Self::position_offset`]), `None` when positions start at 0.
    pub fn position_padding_index(&self) -> Option<i64> {
        (self.position_offset() > 0).then(|| self.position_offset() - 1)
    }

    /// Longest input, special tokens included, the position table allows.
    pub fn max_sequence_length(&self) -> i64 {
        self.max_position_embeddings - self.position_offset()
    }

    /// Number of parameters [`crate::Backbone`] allocates (pooler excluded),
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
        let bias = if self.family == Family::Mpnet {
            u(self.relative_attention_num_buckets)?.checked_mul(u(self.num_attention_heads)?)?
        } else {
            0
        };
        layer
            .checked_mul(u(self.num_hidden_layers)?)?
            .checked_add(embeddings)?
            .checked_add(bias)
    }

    /// Width of one attention head.
    pub fn head_dim(&self) -> i64 {
        self.hidden_size / self.num_attention_heads
    }

    /// Rejects configurations this implementation would compute wrongly.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(BackboneError::InvalidConfig(m));
        if self.position_embedding_type != "absolute" {
            return bad(format!(
                "position_embedding_type {:?} is not supported (only \"absolute\")",
                self.position_embedding_type
            ));
        }
        let mut positive = vec![
            ("vocab_size", self.vocab_size),
            ("hidden_size", self.hidden_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
            ("intermediate_size", self.intermediate_size),
            ("max_position_embeddings", self.max_position_embeddings),
        ];
        if self.family.has_token_types() {
            positive.push(("type_vocab_size", self.type_vocab_size));
        }
        for (name, v) in positive {
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
        if self.pad_token_id < 0 || self.pad_token_id >= self.vocab_size {
            return bad(format!(
                "pad_token_id {} is outside the vocabulary of {}",
                self.pad_token_id, self.vocab_size
            ));
        }
        if self.max_sequence_length() < 2 {
            return bad(format!(
                "max_position_embeddings {} leaves no position for a token after the \
                 padding offset {} of {}",
                self.max_position_embeddings,
                self.position_offset(),
                self.family
            ));
        }
        if self.family == Family::Mpnet && self.relative_attention_num_buckets < MPNET_BUCKETS {
            return bad(format!(
                "relative_attention_num_buckets {} is below the {MPNET_BUCKETS} buckets \
                 MPNet's attention bias looks up",
                self.relative_attention_num_buckets
            ));
        }
        if self.family == Family::DistilBert
            && self.sinusoidal_pos_embds
            && self.hidden_size % 2 != 0
        {
            return bad(format!(
                "sinusoidal positions need an even hidden size, got {}",
                self.hidden_size
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

/// The family a config names: `model_type` when present (it is what
/// transformers' `AutoModel` dispatches on), else the first recognised
/// `architectures` entry, else BERT (pre-`model_type` BERT configs).
fn family_of(object: &serde_json::Map<String, serde_json::Value>) -> Result<Family> {
    if let Some(model_type) = object.get("model_type") {
        let name = model_type.as_str().unwrap_or_default();
        let family = Family::from_model_type(name).ok_or_else(|| BackboneError::UnknownFamily {
            model_type: model_type.to_string(),
            supported: Family::supported_list(),
        })?;
        // An `architectures` entry of another family means the file was
        // edited inconsistently: refuse rather than guess.
        if let Some(other) = architectures(object)
            .filter_map(Family::from_architecture)
            .find(|a| !same_layout(*a, family))
        {
            return Err(BackboneError::InvalidConfig(format!(
                "model_type {name:?} disagrees with architectures (a {other} class)"
            )));
        }
        return Ok(family);
    }
    if let Some(arch) = architectures(object).next() {
        return Family::from_architecture(arch).ok_or_else(|| BackboneError::UnknownFamily {
            model_type: format!("none (architectures: {arch:?})"),
            supported: Family::supported_list(),
        });
    }
    Ok(Family::Bert)
}

fn architectures(
    object: &serde_json::Map<String, serde_json::Value>,
) -> impl Iterator<Item = &str> {
    object
        .get("architectures")
        .and_then(|a| a.as_array())
        .into_iter()
        .flatten()
        .filter_map(|a| a.as_str())
}

/// RoBERTa and XLM-RoBERTa checkpoints name each other's classes freely
/// (an XLM-R model saved as `RobertaModel` is common).
fn same_layout(a: Family, b: Family) -> bool {
    let roberta = |f| matches!(f, Family::Roberta | Family::XlmRoberta);
    a == b || (roberta(a) && roberta(b))
}

/// Renames a family's keys to BERT's and fills the family's defaults, so one
/// struct reads every family.
fn normalise_keys(family: Family, object: &mut serde_json::Map<String, serde_json::Value>) {
    let mut default = |key: &str, value: serde_json::Value| {
        object.entry(key.to_string()).or_insert(value);
    };
    match family {
        Family::Bert => {}
        Family::Roberta | Family::XlmRoberta => {
            default("pad_token_id", 1.into());
            default("type_vocab_size", 1.into());
            default("layer_norm_eps", 1e-5.into());
            default("max_position_embeddings", 514.into());
        }
        Family::Mpnet => {
            default("pad_token_id", 1.into());
            default("layer_norm_eps", 1e-12.into());
            default("max_position_embeddings", 514.into());
        }
        Family::DistilBert => {
            for (theirs, ours) in [
                ("dim", "hidden_size"),
                ("n_layers", "num_hidden_layers"),
                ("n_heads", "num_attention_heads"),
                ("hidden_dim", "intermediate_size"),
                ("activation", "hidden_act"),
                ("dropout", "hidden_dropout_prob"),
                ("attention_dropout", "attention_probs_dropout_prob"),
            ] {
                if let Some(v) = object.remove(theirs) {
                    object.insert(ours.to_string(), v);
                }
            }
            // DistilBERT's LayerNorms use 1e-12 whatever the config says.
            object.insert("layer_norm_eps".into(), 1e-12.into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(j: serde_json::Value) -> Result<EncoderConfig> {
        EncoderConfig::from_json(Path::new("config.json"), &j.to_string())
    }

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
        let c = parse(minilm_json()).unwrap();
        assert_eq!(c.family, Family::Bert);
        assert_eq!(c.head_dim(), 32);
        assert_eq!(c.hidden_act, Activation::Gelu);
        assert_eq!(c.max_sequence_length(), 512);
    }

    #[test]
    fn rejects_inconsistent_or_unsupported_configs() {
        let mut j = minilm_json();
        j["num_attention_heads"] = 7.into();
        assert!(matches!(parse(j), Err(BackboneError::InvalidConfig(_))));

        let mut j = minilm_json();
        j["position_embedding_type"] = "relative_key".into();
        assert!(parse(j).is_err());

        let mut j = minilm_json();
        j["hidden_act"] = "mish".into();
        assert!(matches!(parse(j), Err(BackboneError::ConfigParse { .. })));
    }

    #[test]
    fn an_unknown_model_type_is_named_with_the_supported_ones() {
        let mut j = minilm_json();
        j["model_type"] = "modernbert".into();
        let err = parse(j).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, BackboneError::UnknownFamily { .. }));
        for needle in ["modernbert", "bert", "mpnet", "xlm-roberta", "distilbert"] {
            assert!(text.contains(needle), "{text}");
        }
    }

    #[test]
    fn model_type_and_architectures_must_agree() {
        let mut j = minilm_json();
        j["architectures"] = serde_json::json!(["MPNetForMaskedLM"]);
        assert!(matches!(parse(j), Err(BackboneError::InvalidConfig(_))));
        let mut j = minilm_json();
        j.as_object_mut().unwrap().remove("model_type");
        j["architectures"] = serde_json::json!(["XLMRobertaModel"]);
        assert_eq!(parse(j).unwrap().family, Family::XlmRoberta);
    }

    #[test]
    fn mpnet_config_as_all_mpnet_base_v2_ships_it() {
        let c = parse(serde_json::json!({
            "architectures": ["MPNetForMaskedLM"], "attention_probs_dropout_prob": 0.1,
            "bos_token_id": 0, "eos_token_id": 2, "hidden_act": "gelu",
            "hidden_dropout_prob": 0.1, "hidden_size": 768, "initializer_range": 0.02,
            "intermediate_size": 3072, "layer_norm_eps": 1e-05, "max_position_embeddings": 514,
            "model_type": "mpnet", "num_attention_heads": 12, "num_hidden_layers": 12,
            "pad_token_id": 1, "relative_attention_num_buckets": 32, "vocab_size": 30527
        }))
        .unwrap();
        assert_eq!(c.family, Family::Mpnet);
        assert_eq!(c.type_vocab_size, 0);
        assert_eq!(c.position_offset(), 2);
        assert_eq!(c.max_sequence_length(), 512);
        assert_eq!(c.layer_norm_eps, 1e-5);
    }

    #[test]
    fn distilbert_keys_map_onto_berts() {
        let c = parse(serde_json::json!({
            "activation": "gelu", "architectures": ["DistilBertForMaskedLM"],
            "attention_dropout": 0.1, "dim": 768, "dropout": 0.1, "hidden_dim": 3072,
            "max_position_embeddings": 512, "model_type": "distilbert", "n_heads": 12,
            "n_layers": 6, "pad_token_id": 0, "sinusoidal_pos_embds": false,
            "vocab_size": 30522
        }))
        .unwrap();
        assert_eq!(c.family, Family::DistilBert);
        assert_eq!(
            (c.hidden_size, c.num_hidden_layers, c.num_attention_heads),
            (768, 6, 12)
        );
        assert_eq!(c.intermediate_size, 3072);
        assert_eq!(c.type_vocab_size, 0);
        assert_eq!(c.position_offset(), 0);
    }

    #[test]
    fn roberta_positions_start_after_the_padding_index() {
        let mut j = minilm_json();
        j["model_type"] = "xlm-roberta".into();
        j["architectures"] = serde_json::json!(["XLMRobertaModel"]);
        j["pad_token_id"] = 1.into();
        j["max_position_embeddings"] = 514.into();
        let c = parse(j).unwrap();
        assert_eq!(c.position_offset(), 2);
        assert_eq!(c.max_sequence_length(), 512);
    }
}
