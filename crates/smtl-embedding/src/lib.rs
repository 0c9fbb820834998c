//! The sentence-transformers pipeline on the smtl BERT backbone.
//!
//! A model directory in sentence-transformers layout is read as
//! sentence-transformers reads it: `modules.json` lists the modules in order
//! (Transformer -> Pooling -> optional Dense -> optional Normalize), each with
//! its own folder and config. [`SentenceEncoder`] runs that pipeline and gives
//! embeddings numerically equal to `SentenceTransformer.encode`.

mod builder;
mod dense;
mod encoder;
mod error;
mod modules;
mod parallel;
mod pooling;
mod save;
mod similarity;
mod tokenize;
mod transformer;

pub use builder::{EncoderBuilder, IntoDevice, IntoPrecision};
pub use dense::{Dense, DenseActivation};
pub use encoder::{
    ChunkCut, EncodeStream, EncodedChunk, EncoderOptions, SentenceEncoder, SentenceStep,
    TokenStates, BACKBONE_PREFIX, STREAM_CHUNK_BYTES, STREAM_CHUNK_LINES,
};
pub use error::EmbedError;
pub use modules::{ModuleKind, ModuleSpec};
pub use parallel::ParallelEncoder;
pub use pooling::{Pooling, PoolingMode};
pub use save::write_safetensors;
pub use similarity::{evaluate_ranking, evaluate_similarity, pair_cosines, positive_ranks};
pub use smtl_metrics::SimilarityReport;
pub use tokenize::{TextTokenizer, TokenBatch, Truncation};
pub use transformer::Transformer;

/// Result alias of this crate.
pub type Result<T, E = EmbedError> = std::result::Result<T, E>;
