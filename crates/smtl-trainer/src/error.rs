use std::path::PathBuf;

/// Everything that can go wrong while training.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Torch(#[from] tch::TchError),
    #[error(transparent)]
    Head(#[from] smtl_heads::HeadError),
    #[error("{}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: invalid JSON at line {}, column {}", path.display(), source.line(), source.column())]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("non-finite loss {value} for task {task:?} at step {step}: training stopped; the last checkpoint written is the last good one")]
    NonFiniteLoss {
        task: String,
        step: usize,
        value: f64,
    },
    #[error("invalid training config: {0}")]
    InvalidConfig(String),
    /// Optimiser state that does not fit the optimiser it is loaded into.
    #[error("invalid optimiser state: {0}")]
    InvalidState(String),
    #[error(transparent)]
    Data(#[from] smtl_data::DataError),
    #[error(transparent)]
    Metrics(#[from] smtl_metrics::MetricsError),
    #[error(
        "task {task:?}: the {split} pair at line {line} has score {score}, outside \
         0..={score_max} (set score_max to the data's top score)"
    )]
    ScoreOutOfRange {
        task: String,
        split: &'static str,
        line: usize,
        score: f64,
        score_max: f64,
    },
    #[error("task {0:?} has no examples to train or evaluate on")]
    EmptyDataset(String),
}
