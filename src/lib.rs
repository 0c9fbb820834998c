//! Sentence embeddings and multi-task learning on libtorch.
//!
//! This facade re-exports the workspace crates so that a user depends on one
//! crate. The layout follows the architecture, bottom to top:
//!
//! * [`backbone`]: the BERT encoder, loaded from `config.json` + `model.safetensors`;
//! * [`embedding`]: the sentence-transformers pipeline and [`SentenceEncoder`];
//! * [`heads`]: task heads and the [`MultiTaskModel`](heads::MultiTaskModel) trait;
//! * [`data`]: readers, splits and label vocabularies of the training data;
//! * [`metrics`]: accuracy / macro-F1 and strict IOB2 entity F1;
//! * [`trainer`]: optimizers, freeze masks, task sampling, loss weighting,
//!   checkpoints and the training loop.

pub use smtl_backbone as backbone;
pub use smtl_data as data;
pub use smtl_embedding as embedding;
pub use smtl_heads as heads;
pub use smtl_metrics as metrics;
pub use smtl_trainer as trainer;

pub use smtl_backbone::{BertConfig, BertModel, DeviceSpec, Precision};
pub use smtl_embedding::{EmbedError, SentenceEncoder};
