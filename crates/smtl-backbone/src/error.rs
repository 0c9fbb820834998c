use std::path::PathBuf;

/// Everything that can go wrong while building or running the backbone.
#[derive(Debug, thiserror::Error)]
pub enum BackboneError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a valid BERT config.json: {source}")]
    ConfigParse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("invalid BERT config: {0}")]
    InvalidConfig(String),
    #[error("{path} is not a valid safetensors file: {message}")]
    SafeTensors { path: PathBuf, message: String },
    #[error("{path} lacks {} tensor(s) the model needs: {}", names.len(), names.join(", "))]
    MissingTensors { path: PathBuf, names: Vec<String> },
    #[error("{path} holds {} tensor(s) this model does not know: {}", names.len(), names.join(", "))]
    UnexpectedTensors { path: PathBuf, names: Vec<String> },
    #[error("tensor {name} in {path} has shape {found:?}, the config implies {expected:?}")]
    ShapeMismatch {
        path: PathBuf,
        name: String,
        expected: Vec<i64>,
        found: Vec<i64>,
    },
    #[error("tensor {name} in {path} has dtype {dtype}; only F32, F16, BF16 and F64 weights are supported")]
    UnsupportedDtype {
        path: PathBuf,
        name: String,
        dtype: String,
    },
    #[error("pickle weights ({path}) are refused: a pickle can execute code when Python loads it; convert them to model.safetensors, or opt in with EncoderOptions::allow_pickle (read by libtorch's restricted C++ unpickler)")]
    PickleRefused { path: PathBuf },
    #[error("unknown device {0:?}: expected auto, cpu, cuda or cuda:N")]
    UnknownDevice(String),
    #[error("{path}: unreadable pickle weights: {message}")]
    BadPickle { path: PathBuf, message: String },
    #[error("device {requested} asked for, but {available}")]
    DeviceUnavailable {
        requested: String,
        available: String,
    },
    #[error("bad input to the encoder: {0}")]
    BadInput(String),
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
}
