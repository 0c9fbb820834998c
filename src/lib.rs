//! Sentence embeddings and multi-task learning on libtorch.
//!
//! This facade re-exports the workspace crates so that a user depends on one
//! crate. The layout follows the architecture, bottom to top:
//!
//! * [`backbone`]: the transformer encoder, loaded from `config.json` +
//!   `model.safetensors`; devices and precisions;
//! * [`embedding`]: the sentence-transformers pipeline and [`SentenceEncoder`];
//! * [`heads`]: task heads and the [`MultiTaskModel`](heads::MultiTaskModel) trait;
//! * [`data`]: readers, splits and label vocabularies of the training data;
//! * [`metrics`]: accuracy / macro-F1 and strict IOB2 entity F1;
//! * [`trainer`]: optimizers, freeze rules, task sampling, loss weighting,
//!   checkpoints, observers and the training loop.
//!
//! Each type has one home, its crate's module here; the root lifts only
//! what an embedding user needs ([`SentenceEncoder`], [`DeviceSpec`],
//! [`Precision`], [`Error`]) and the exact `tch` and `ndarray` versions the
//! signatures use, so a user adds no second copy of either.
//!
//! The `training` feature (on by default) brings heads, data, metrics and
//! the trainer; without it only the embedding stack is compiled.
//!
//! ```no_run
//! use sentence_mtl::{DeviceSpec, SentenceEncoder};
//!
//! fn main() -> Result<(), sentence_mtl::Error> {
//!     let device = "auto".parse::<DeviceSpec>()?.resolve()?;
//!     let encoder = SentenceEncoder::from_dir("models/all-MiniLM-L6-v2", device)?;
//!     let emb = encoder.encode(&["A man plays guitar.", "Someone plays an instrument."])?;
//!     let cos: f32 = emb.row(0).dot(&emb.row(1)); // rows are unit-norm
//!     println!("cosine {cos:.3}");
//!     Ok(())
//! }
//! ```

pub use ndarray;
pub use tch;

pub use smtl_backbone as backbone;
#[cfg(feature = "training")]
pub use smtl_data as data;
pub use smtl_embedding as embedding;
#[cfg(feature = "training")]
pub use smtl_heads as heads;
#[cfg(feature = "training")]
pub use smtl_metrics as metrics;
#[cfg(feature = "training")]
pub use smtl_trainer as trainer;

pub use smtl_backbone::{DeviceSpec, Precision};
pub use smtl_embedding::SentenceEncoder;

/// Any error of the library, for callers that want one type: every crate's
/// error converts into it with `?`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Backbone(#[from] smtl_backbone::BackboneError),
    #[error(transparent)]
    Embedding(#[from] smtl_embedding::EmbedError),
    #[error(transparent)]
    Parse(#[from] smtl_backbone::ParseError),
    #[cfg(feature = "training")]
    #[error(transparent)]
    Heads(#[from] smtl_heads::HeadError),
    #[cfg(feature = "training")]
    #[error(transparent)]
    Data(#[from] smtl_data::DataError),
    #[cfg(feature = "training")]
    #[error(transparent)]
    Metrics(#[from] smtl_metrics::MetricsError),
    #[cfg(feature = "training")]
    #[error(transparent)]
    Train(#[from] smtl_trainer::TrainError),
    #[error(transparent)]
    Torch(#[from] tch::TchError),
}

/// `Result` with the facade's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
