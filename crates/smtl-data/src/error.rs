//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong while loading or encoding task data.
///
/// Every error that comes from a specific line of a file names the file and
/// the 1-based line number, so a bad record can be found with `sed -n Np`.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file could not be opened or read.
    #[error("{}: cannot read", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A line does not follow the file format.
    #[error("{}:{line}: {message}", path.display())]
    Malformed {
        path: PathBuf,
        /// 1-based line number in the file.
        line: usize,
        message: String,
    },

    /// A line is not valid UTF-8. The readers never guess an encoding: the
    /// real data files are all valid UTF-8 (see the crate docs).
    #[error("{}:{line}: not valid UTF-8", path.display())]
    NotUtf8 {
        path: PathBuf,
        /// 1-based line number in the file.
        line: usize,
    },

    /// The file holds no example at all.
    #[error("{}: no examples", path.display())]
    Empty { path: PathBuf },

    /// A label is not in the task's label vocabulary.
    #[error("unknown label {label:?} for task {task:?}")]
    UnknownLabel { label: String, task: String },

    /// A label vocabulary was given the same label twice.
    #[error("duplicate label {label:?} in the vocabulary of task {task:?}")]
    DuplicateLabel { label: String, task: String },

    /// A label cannot be used (e.g. an empty entity type for a BIO vocab).
    #[error("invalid label {label:?} for task {task:?}: {reason}")]
    InvalidLabel {
        label: String,
        task: String,
        reason: String,
    },

    /// A token example has a different number of tokens and tags.
    #[error("example {index}: {tokens} tokens but {tags} tags")]
    LengthMismatch {
        index: usize,
        tokens: usize,
        tags: usize,
    },
}

impl DataError {
    pub(crate) fn malformed(
        path: &std::path::Path,
        line: usize,
        message: impl Into<String>,
    ) -> Self {
        DataError::Malformed {
            path: path.to_path_buf(),
            line,
            message: message.into(),
        }
    }
}
