use smtl_embedding::EmbedError;

/// Errors of heads and multi-task models.
#[derive(Debug, thiserror::Error)]
pub enum HeadError {
    #[error(transparent)]
    Embed(#[from] EmbedError),
    #[error("unknown task {0:?}")]
    UnknownTask(String),
    #[error("task {0:?} already exists")]
    DuplicateTask(String),
    #[error("task {task:?} is a {expected} task, but got a {got} example")]
    WrongExampleKind {
        task: String,
        expected: &'static str,
        got: &'static str,
    },
    #[error("label id {id} is outside the {num_labels} labels of task {task:?}")]
    LabelOutOfRange {
        task: String,
        id: i64,
        num_labels: i64,
    },
    #[error("example has {words} words but {tags} tags")]
    TagLengthMismatch { words: usize, tags: usize },
    #[error("invalid head config: {0}")]
    InvalidConfig(String),
    #[error("empty batch for task {0:?}")]
    EmptyBatch(String),
    #[error("task {0:?}: evaluation examples need labels")]
    Unlabelled(String),
    #[error("{predictions} predictions for {examples} examples")]
    PredictionCount { predictions: usize, examples: usize },
    #[error("{0}")]
    InvalidInput(String),
    #[error("task {task:?}: score {score} is outside 0..={score_max} (score_max)")]
    ScoreOutOfRange {
        task: String,
        score: f64,
        score_max: f64,
    },
    #[error(
        "task {task:?}: pair {row} of the batch has an all-zero sentence embedding, \
         which has no cosine similarity"
    )]
    ZeroEmbedding { task: String, row: usize },
    #[error(transparent)]
    Metrics(#[from] smtl_metrics::MetricsError),
    #[error(transparent)]
    Torch(#[from] tch::TchError),
}
