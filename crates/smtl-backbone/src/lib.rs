//! BERT-family backbone on libtorch.
//!
//! * [`BertConfig`] reads a Hugging Face `config.json`;
//! * [`BertModel`] is the encoder (embeddings + transformer layers), wired on a
//!   [`tch::nn::Path`] with exactly the Hugging Face parameter names, so that
//! * [`load_safetensors`] can fill it straight from `model.safetensors`, with no
//!   conversion step and a typed error for every missing, unexpected, mis-shaped
//!   or mis-typed tensor;
//! * [`DeviceSpec`] picks CPU or CUDA at run time (`auto|cpu|cuda|cuda:N`);
//! * [`Precision`] picks the inference kernels of the linear layers
//!   (`fp32` exact, opt-in `bf16` and `int8`).

mod bert;
mod config;
mod device;
mod error;
mod linear;
mod weights;

pub use bert::{BertEmbeddings, BertLayer, BertModel, EncoderOutput};
pub use config::{Activation, BertConfig};
pub use device::DeviceSpec;
pub use error::{BackboneError, ParseError};
pub use linear::{Linear, Precision};
pub use weights::{
    check_config_fits, load_safetensors, load_safetensors_bytes, pickle_to_safetensors_bytes,
    read_safetensors, to_kind as weight_kind, LoadReport,
};

/// Result alias of this crate.
pub type Result<T, E = BackboneError> = std::result::Result<T, E>;
