//! From data-set examples (smtl-data) to the trainer's [`TaskData`]: label
//! vocabularies built on the training split, every label mapped to its id.

use smtl_data::{LabelVocab, SentenceExample, Splits, TokenExample};
use smtl_heads::{Example, HeadConfig, TaskKind};

use crate::trainer::TaskData;
use crate::TrainError;

/// A task ready for training and testing.
#[derive(Debug, Clone)]
pub struct PreparedTask {
    pub data: TaskData,
    pub vocab: LabelVocab,
    pub head: HeadConfig,
    pub test: Vec<Example>,
    /// Source-file index of each test example (for prediction files).
    pub test_indices: Vec<usize>,
}

/// A sentence-classification task; labels absent from training are errors.
pub fn sentence_task(
    name: &str,
    splits: Splits<SentenceExample>,
) -> Result<PreparedTask, TrainError> {
    if splits.train.is_empty() {
        return Err(TrainError::EmptyDataset(name.to_string()));
    }
    let vocab = LabelVocab::from_sentence_examples(name, &splits.train);
    let convert = |xs: &[SentenceExample]| -> Result<Vec<Example>, TrainError> {
        xs.iter()
            .map(|e| {
                Ok(Example::Sentence {
                    text: e.text.clone(),
                    label: Some(vocab.id(&e.label)?),
                })
            })
            .collect()
    };
    Ok(PreparedTask {
        data: TaskData {
            name: name.to_string(),
            train: convert(&splits.train)?,
            dev: convert(&splits.dev)?,
        },
        head: HeadConfig::linear(TaskKind::SentenceClassification, vocab.len()),
        test: convert(&splits.test)?,
        test_indices: splits.test.iter().map(|e| e.index).collect(),
        vocab,
    })
}

/// A token-classification (BIO) task; the tag vocabulary is `O` plus `B-`/`I-`
/// of every entity type seen in training.
pub fn token_task(name: &str, splits: Splits<TokenExample>) -> Result<PreparedTask, TrainError> {
    if splits.train.is_empty() {
        return Err(TrainError::EmptyDataset(name.to_string()));
    }
    let vocab = LabelVocab::bio_from_examples(name, &splits.train)?;
    let convert = |xs: &[TokenExample]| -> Result<Vec<Example>, TrainError> {
        xs.iter()
            .map(|e| {
                e.check_lengths()?;
                Ok(Example::Words {
                    words: e.tokens.clone(),
                    tags: Some(vocab.encode(&e.tags)?),
                })
            })
            .collect()
    };
    Ok(PreparedTask {
        data: TaskData {
            name: name.to_string(),
            train: convert(&splits.train)?,
            dev: convert(&splits.dev)?,
        },
        head: HeadConfig::linear(TaskKind::TokenClassification, vocab.len()),
        test: convert(&splits.test)?,
        test_indices: splits.test.iter().map(|e| e.index).collect(),
        vocab,
    })
}
