use std::path::PathBuf;

use smtl_backbone::BackboneError;

/// Everything that can go wrong while loading or running a sentence encoder.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error(transparent)]
    Backbone(#[from] BackboneError),
    #[error("model directory {0} does not exist or is not a directory")]
    ModelDirMissing(PathBuf),
    #[error("cannot read {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The parser's reason is part of the message, not a separate cause.
    #[error("{path} is not valid JSON for {what}: {reason}")]
    Json {
        path: PathBuf,
        what: &'static str,
        reason: serde_json::Error,
    },
    #[error("cannot load tokenizer {path}: {message}")]
    Tokenizer { path: PathBuf, message: String },
    #[error("tokenization failed: {0}")]
    Tokenize(String),
    #[error("unknown pooling mode {0:?}: expected one of cls, max, mean, mean_sqrt_len_tokens, weightedmean, lasttoken")]
    UnknownPooling(String),
    #[error("{path}: {message}")]
    InvalidModule { path: PathBuf, message: String },
    #[error("module type {kind:?} (module {name:?} in modules.json) is not supported: only Transformer, Pooling, Dense, Normalize and Dropout are")]
    UnsupportedModule { kind: String, name: String },
    #[error("unknown Dense activation {0:?}")]
    UnknownActivation(String),
    #[error("sentence {index} has {tokens} tokens, more than max_seq_length {max}, and truncation is switched off")]
    TooLong {
        index: usize,
        tokens: usize,
        max: usize,
    },
    #[error("invalid option: {0}")]
    InvalidOption(String),
    #[error("cannot score the pairs: {0}")]
    Scoring(smtl_metrics::MetricsError),
    #[error(transparent)]
    Torch(#[from] tch::TchError),
}
