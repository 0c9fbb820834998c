use std::path::PathBuf;

/// Everything that can go wrong while building or running the backbone.
#[derive(Debug, thiserror::Error)]
pub enum BackboneError {
    #[error("cannot read {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The parser's reason is part of the message (it is what says which
    /// key is wrong), not a separate cause.
    #[error("{path} is not a valid config.json: {reason}")]
    ConfigParse {
        path: PathBuf,
        reason: serde_json::Error,
    },
    #[error("invalid encoder config: {0}")]
    InvalidConfig(String),
    #[error("model_type {model_type} is not a supported encoder family (supported: {supported})")]
    UnknownFamily {
        model_type: String,
        supported: String,
    },
    #[error(
        "config.json says model_type {config}, but the tensors of {path} are laid out as {tensors}"
    )]
    FamilyMismatch {
        path: PathBuf,
        config: crate::Family,
        tensors: &'static str,
    },
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
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error("{path}: unreadable pickle weights: {message}")]
    BadPickle { path: PathBuf, message: String },
    #[error("device {requested} asked for, but {available}")]
    DeviceUnavailable {
        requested: String,
        available: String,
    },
    #[error("bad input to the encoder: {0}")]
    BadInput(String),
    #[error(transparent)]
    Torch(#[from] tch::TchError),
}

/// Text that names no device or precision (what `FromStr` returns).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("unknown device {0:?}: expected auto, cpu, cuda or cuda:N")]
    Device(String),
    #[error("unknown precision {0:?}: expected fp32, bf16 or int8")]
    Precision(String),
}
