//! Sentence embeddings and multi-task learning on libtorch.
//!
//! This facade re-exports the workspace crates so that a user depends on one
//! crate: [`backbone`] (the BERT encoder), [`embedding`] (the
//! sentence-transformers pipeline and [`SentenceEncoder`]).

pub use smtl_backbone as backbone;
pub use smtl_embedding as embedding;

pub use smtl_backbone::{BertConfig, BertModel, DeviceSpec};
pub use smtl_embedding::{EmbedError, SentenceEncoder};
