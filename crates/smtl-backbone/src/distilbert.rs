//! DistilBERT (`distilbert`): no token types, positions from 0 in a learned
//! or (with `sinusoidal_pos_embds`) fixed sinusoidal table, LayerNorm eps
//! fixed at 1e-12, and its own names: blocks under `transformer.layer.N.`
//! with `attention.{q_lin,k_lin,v_lin,out_lin}`, `sa_layer_norm`,
//! `ffn.{lin1,lin2}`, `output_layer_norm`. Its config names the sizes `dim`,
//! `n_layers`, `n_heads`, `hidden_dim` (mapped in `config.rs`). The block
//! computes what BERT's does, except that the attention projection has no
//! dropout of its own. Task checkpoints prefix the tensors `distilbert.`.

use crate::layer::LayerNames;

/// Where DistilBERT's blocks live.
pub(crate) const LAYERS: &str = "transformer.layer";

pub(crate) const NAMES: LayerNames = LayerNames {
    query: "attention.q_lin",
    key: "attention.k_lin",
    value: "attention.v_lin",
    attention_output: "attention.out_lin",
    attention_norm: "sa_layer_norm",
    ff_in: "ffn.lin1",
    ff_out: "ffn.lin2",
    output_norm: "output_layer_norm",
    attention_output_dropout: false,
    int8_feed_forward_output: true,
};
