//! From data-set examples (smtl-data) to the trainer's [`TaskData`]: label
//! vocabularies built on the training split, every label mapped to its id.

use smtl_data::{
    HasIndex, LabelVocab, ScoredPair, SentenceExample, Splits, TextPair, TokenExample,
};
use smtl_heads::{Example, HeadConfig, PairObjective, TaskKind};

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
    prepare(
        name,
        &splits,
        vocab,
        TaskKind::SentenceClassification,
        |e, vocab| {
            Ok(Example::Sentence {
                text: e.text.clone(),
                label: Some(vocab.id(&e.label)?),
            })
        },
    )
}

/// A token-classification (BIO) task; the tag vocabulary is `O` plus `B-`/`I-`
/// of every entity type seen in training.
pub fn token_task(name: &str, splits: Splits<TokenExample>) -> Result<PreparedTask, TrainError> {
    if splits.train.is_empty() {
        return Err(TrainError::EmptyDataset(name.to_string()));
    }
    let vocab = LabelVocab::bio_from_examples(name, &splits.train)?;
    prepare(
        name,
        &splits,
        vocab,
        TaskKind::TokenClassification,
        |e, vocab| {
            e.check_lengths()?;
            Ok(Example::Words {
                words: e.tokens.clone(),
                tags: Some(vocab.encode(&e.tags)?),
            })
        },
    )
}

/// A sentence-similarity task: scored pairs, every score checked against
/// `0..=objective.score_max` (naming the split and the line).
pub fn similarity_task(
    name: &str,
    splits: Splits<ScoredPair>,
    objective: PairObjective,
) -> Result<PreparedTask, TrainError> {
    let max = objective.score_max;
    let convert = |split: &'static str, xs: &[ScoredPair]| -> Result<Vec<Example>, TrainError> {
        xs.iter()
            .map(|p| {
                if !(0.0..=max).contains(&p.score) {
                    return Err(TrainError::ScoreOutOfRange {
                        task: name.to_string(),
                        split,
                        line: p.line,
                        score: p.score,
                        score_max: max,
                    });
                }
                Ok(Example::Pair {
                    first: p.sentence1.clone(),
                    second: p.sentence2.clone(),
                    score: Some(p.score),
                })
            })
            .collect()
    };
    pair_task(
        name,
        &splits,
        HeadConfig::pair(TaskKind::SentenceSimilarity, objective),
        convert,
    )
}

/// A pair-ranking task: (anchor, positive) pairs.
pub fn ranking_task(
    name: &str,
    splits: Splits<TextPair>,
    objective: PairObjective,
) -> Result<PreparedTask, TrainError> {
    let convert = |_: &'static str, xs: &[TextPair]| -> Result<Vec<Example>, TrainError> {
        Ok(xs
            .iter()
            .map(|p| Example::Pair {
                first: p.anchor.clone(),
                second: p.positive.clone(),
                score: None,
            })
            .collect())
    };
    pair_task(
        name,
        &splits,
        HeadConfig::pair(TaskKind::PairRanking, objective),
        convert,
    )
}

/// Converts every split of a pair task (no labels, no head).
fn pair_task<T: HasIndex>(
    name: &str,
    splits: &Splits<T>,
    head: HeadConfig,
    convert: impl Fn(&'static str, &[T]) -> Result<Vec<Example>, TrainError>,
) -> Result<PreparedTask, TrainError> {
    if splits.train.is_empty() {
        return Err(TrainError::EmptyDataset(name.to_string()));
    }
    Ok(PreparedTask {
        data: TaskData {
            name: name.to_string(),
            train: convert("train", &splits.train)?,
            dev: convert("dev", &splits.dev)?,
        },
        head,
        test: convert("test", &splits.test)?,
        test_indices: splits.test.iter().map(HasIndex::index).collect(),
        vocab: LabelVocab::from_labels(name, Vec::<String>::new()),
    })
}

/// Converts every split with `convert` and adds a linear head of `kind`
/// over the vocabulary.
fn prepare<T: HasIndex>(
    name: &str,
    splits: &Splits<T>,
    vocab: LabelVocab,
    kind: TaskKind,
    convert: impl Fn(&T, &LabelVocab) -> Result<Example, TrainError>,
) -> Result<PreparedTask, TrainError> {
    let all = |xs: &[T]| {
        xs.iter()
            .map(|e| convert(e, &vocab))
            .collect::<Result<Vec<_>, _>>()
    };
    Ok(PreparedTask {
        data: TaskData {
            name: name.to_string(),
            train: all(&splits.train)?,
            dev: all(&splits.dev)?,
        },
        head: HeadConfig::linear(kind, vocab.len()),
        test: all(&splits.test)?,
        test_indices: splits.test.iter().map(HasIndex::index).collect(),
        vocab,
    })
}
