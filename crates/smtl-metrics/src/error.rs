use std::fmt;

/// Inputs the metrics cannot score.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetricsError {
    /// Gold and predictions hold different numbers of items (labels, or
    /// tag sequences).
    CountMismatch { gold: usize, pred: usize },
    /// Gold and predicted tag sequence number `index` differ in length.
    LengthMismatch {
        index: usize,
        gold: usize,
        pred: usize,
    },
    /// A class id is not below the number of labels.
    LabelOutOfRange {
        position: usize,
        id: usize,
        num_labels: usize,
    },
    /// A tag is not `O`, `B-TYPE` or `I-TYPE` (TYPE non-empty).
    /// `sequence` is the index of the sequence, `position` the token's.
    InvalidTag {
        sequence: usize,
        position: usize,
        tag: String,
    },
    /// A correlation needs at least two items.
    TooFewItems { n: usize },
    /// A correlation input is NaN or infinite at `position` (for cosine
    /// similarities: an all-zero embedding).
    NotFinite { position: usize },
    /// One side of a correlation does not vary, so it has no correlation.
    ConstantInput { which: &'static str },
}

impl fmt::Display for MetricsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetricsError::CountMismatch { gold, pred } => {
                write!(f, "{gold} gold items but {pred} predictions")
            }
            MetricsError::LengthMismatch { index, gold, pred } => {
                write!(f, "sequence {index}: {gold} gold tags but {pred} predicted tags")
            }
            MetricsError::LabelOutOfRange {
                position,
                id,
                num_labels,
            } => write!(f, "item {position}: class id {id} but only {num_labels} labels"),
            MetricsError::InvalidTag { sequence, position, tag } => write!(
                f,
                "sequence {sequence}, token {position}: invalid tag {tag:?} (expected O, B-TYPE or I-TYPE)"
            ),
            MetricsError::TooFewItems { n } => {
                write!(f, "a correlation needs at least 2 items, got {n}")
            }
            MetricsError::NotFinite { position } => write!(
                f,
                "item {position}: the value is not finite (an all-zero embedding has no cosine similarity)"
            ),
            MetricsError::ConstantInput { which } => write!(
                f,
                "the {which} values are all equal, so they have no correlation"
            ),
        }
    }
}

impl std::error::Error for MetricsError {}
