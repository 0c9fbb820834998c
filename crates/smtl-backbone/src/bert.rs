//! BERT (`model_type: bert`): the reference layout the others are told
//! apart from. Tensors under `embeddings.` (word, position from 0, token
//! type) and `encoder.layer.N.` (`attention.self.{query,key,value}`,
//! `attention.output.{dense,LayerNorm}`, `intermediate.dense`,
//! `output.{dense,LayerNorm}`); `BertFor*` checkpoints prefix them `bert.`.

use crate::layer::LayerNames;

/// Where BERT's blocks live.
pub(crate) const LAYERS: &str = "encoder.layer";

/// BERT's block tensor names (also RoBERTa's and XLM-RoBERTa's).
pub(crate) const NAMES: LayerNames = LayerNames {
    query: "attention.self.query",
    key: "attention.self.key",
    value: "attention.self.value",
    attention_output: "attention.output.dense",
    attention_norm: "attention.output.LayerNorm",
    ff_in: "intermediate.dense",
    ff_out: "output.dense",
    output_norm: "output.LayerNorm",
    attention_output_dropout: true,
    int8_feed_forward_output: true,
};
