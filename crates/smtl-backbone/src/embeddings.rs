//! The input embeddings every family shares: word + position (+ token type)
//! tables, then LayerNorm and dropout. Families differ in where positions
//! start and whether a token-type table exists (see `docs/architectures.md`).

use tch::{nn, nn::Module, Kind, Tensor};

use crate::layer::layer_norm;
use crate::{EncoderConfig, Family};

/// Word, position and optional token-type embeddings under `embeddings.`.
#[derive(Debug)]
pub struct Embeddings {
    word: Tensor,
    position: Tensor,
    token_type: Option<Tensor>,
    layer_norm: nn::LayerNorm,
    /// `Some(pad)`: positions count real tokens from `pad + 1` and padding
    /// sits at `pad` (RoBERTa, XLM-R, MPNet); `None`: `0..seq`.
    position_padding_index: Option<i64>,
    dropout: f64,
}

impl Embeddings {
    pub(crate) fn load(p: nn::Path, c: &EncoderConfig) -> Self {
        let table = |name: &str, rows: i64| {
            (&p / name).var("weight", &[rows, c.hidden_size], nn::Init::Const(0.0))
        };
        let position = if c.family == Family::DistilBert && c.sinusoidal_pos_embds {
            // A fixed table (not trained, as in transformers); its values
            // come from the checkpoint like every other tensor.
            (&p / "position_embeddings")
                .zeros_no_train("weight", &[c.max_position_embeddings, c.hidden_size])
        } else {
            table("position_embeddings", c.max_position_embeddings)
        };
        Self {
            word: table("word_embeddings", c.vocab_size),
            position,
            token_type: c
                .family
                .has_token_types()
                .then(|| table("token_type_embeddings", c.type_vocab_size)),
            layer_norm: layer_norm(&p / "LayerNorm", c),
            position_padding_index: c.position_padding_index(),
            dropout: c.hidden_dropout_prob,
        }
    }

    /// Position ids of `input_ids` `[batch, seq]`, as transformers makes them.
    pub fn position_ids(&self, input_ids: &Tensor) -> Tensor {
        match self.position_padding_index {
            None => {
                let seq_len = input_ids.size()[1];
                Tensor::arange(seq_len, (Kind::Int64, input_ids.device())).unsqueeze(0)
            }
            Some(pad) => crate::roberta::position_ids_after_padding(input_ids, pad),
        }
    }

    /// Single-sentence input: the token type is 0 everywhere.
    pub fn forward_t(&self, input_ids: &Tensor, train: bool) -> Tensor {
        let lookup = |table: &Tensor, ids: &Tensor| Tensor::embedding(table, ids, -1, false, false);
        let mut xs =
            lookup(&self.word, input_ids) + lookup(&self.position, &self.position_ids(input_ids));
        if let Some(token_type) = &self.token_type {
            xs += token_type.get(0);
        }
        smtl_kernels::dropout(&self.layer_norm.forward(&xs), self.dropout, train)
    }
}
