//! Transformer encoder backbones on libtorch, loaded from Hugging Face
//! checkpoints with no conversion.
//!
//! * [`EncoderConfig`] reads a `config.json` and picks the [`Family`]
//!   (BERT, RoBERTa, XLM-RoBERTa, MPNet, DistilBERT) from `model_type`;
//! * [`Backbone`] is the encoder (embeddings + transformer layers, one
//!   shared [`TransformerLayer`]; one file per family for what differs),
//!   wired on a [`tch::nn::Path`] with exactly the family's parameter names,
//!   so that
//! * [`load_safetensors`] can fill it straight from `model.safetensors`, with a
//!   typed error for every missing, unexpected, mis-shaped or mis-typed
//!   tensor, and for tensors of another family;
//! * [`DeviceSpec`] picks CPU or CUDA at run time (`auto|cpu|cuda|cuda:N`);
//! * [`Precision`] picks the inference kernels of the linear layers
//!   (`fp32` exact, opt-in `bf16` and `int8`).

mod backbone;
mod bert;
mod config;
mod device;
mod distilbert;
mod embeddings;
mod error;
mod layer;
mod linear;
mod mpnet;
mod roberta;
mod weights;

pub use backbone::{Backbone, EncoderOutput};
pub use config::{Activation, EncoderConfig, Family};
pub use device::DeviceSpec;
pub use embeddings::Embeddings;
pub use error::{BackboneError, ParseError};
pub use layer::{TransformerLayer, EXPLICIT_ATTENTION_MAX_LEN};
pub use linear::{Linear, Precision};
pub use mpnet::RelativeAttentionBias;
pub use weights::{
    canonical_name, check_config_fits, load_safetensors, load_safetensors_bytes,
    pickle_to_safetensors_bytes, read_safetensors, tensor_family_layout, to_kind as weight_kind,
    LoadReport,
};

/// Result alias of this crate.
pub type Result<T, E = BackboneError> = std::result::Result<T, E>;
