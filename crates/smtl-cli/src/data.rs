//! Reading a task's labelled files into trainer tasks: format dispatch,
//! carving missing dev/test splits from train, labels checked against the
//! training split with the file named.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use smtl_data::{
    read_conll, read_scored_pair_jsonl, read_scored_pair_tsv, read_sentence_jsonl,
    read_sentence_tsv, read_sentiment_ground_truth, read_stsb, read_text_pair_jsonl,
    read_text_pair_tsv, read_trec, BioTag, HasIndex, ScoredPair, SentenceExample, Split, Splits,
    TextPair, TokenExample,
};
use smtl_heads::{Example, TaskKind};
use smtl_trainer::{ranking_task, sentence_task, similarity_task, token_task, PreparedTask};

use crate::config::{formats, DataFormat, TaskPlan};

/// Labelled examples of one file, as the kind reads them.
pub enum Labelled {
    Sentences(Vec<SentenceExample>),
    Tokens(Vec<TokenExample>),
    /// Sentence pairs with a gold score.
    Scored(Vec<ScoredPair>),
    /// (anchor, positive) pairs.
    Ranked(Vec<TextPair>),
}

/// Reads `path` as `format`, with the records of `kind` (`tsv` and `jsonl`
/// hold a sentence task's, a similarity task's or a ranking task's).
pub fn read(path: &Path, format: DataFormat, kind: TaskKind) -> Result<Labelled> {
    use TaskKind::{PairRanking, SentenceSimilarity};
    Ok(match (format, kind) {
        (DataFormat::Tsv, SentenceSimilarity) => Labelled::Scored(read_scored_pair_tsv(path)?),
        (DataFormat::Jsonl, SentenceSimilarity) => Labelled::Scored(read_scored_pair_jsonl(path)?),
        (DataFormat::Tsv, PairRanking) => Labelled::Ranked(read_text_pair_tsv(path)?),
        (DataFormat::Jsonl, PairRanking) => Labelled::Ranked(read_text_pair_jsonl(path)?),
        (DataFormat::Stsb, _) => Labelled::Scored(read_stsb(path)?),
        (DataFormat::Tsv, _) => Labelled::Sentences(read_sentence_tsv(path)?),
        (DataFormat::Jsonl, _) => Labelled::Sentences(read_sentence_jsonl(path)?),
        (DataFormat::Trec, _) => Labelled::Sentences(read_trec(path)?),
        (DataFormat::Hutto, _) => Labelled::Sentences(read_sentiment_ground_truth(path)?),
        (DataFormat::Conll, _) => Labelled::Tokens(read_conll(path)?),
    })
}

/// The format of a data file: `--format` when given, else its extension.
pub fn format_for(path: &Path, given: Option<&str>, kind: TaskKind) -> Result<DataFormat> {
    let format = match given {
        Some(f) => f.parse::<DataFormat>().map_err(anyhow::Error::msg)?,
        None => DataFormat::from_extension(path).with_context(|| {
            format!(
                "cannot infer the format of {} from its extension: pass --format",
                path.display()
            )
        })?,
    };
    if !formats(kind).contains(&format) {
        bail!(
            "a {} task reads {}, not {format}",
            kind.id(),
            formats(kind)
                .iter()
                .map(|f| f.name())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(format)
}

/// A task's data: train/dev/test, where each split came from, which splits
/// were carved out of the training file.
pub struct TaskFiles {
    pub prepared: PreparedTask,
    /// Splits taken from the training file by example index.
    pub carved: Vec<&'static str>,
    /// The file the test examples (and their `index`) come from.
    pub test_file: PathBuf,
}

fn carve<T: HasIndex>(
    train: Vec<T>,
    dev: Option<Vec<T>>,
    test: Option<Vec<T>>,
) -> (Splits<T>, Vec<&'static str>) {
    let mut carved = Vec::new();
    if dev.is_none() {
        carved.push("dev");
    }
    if test.is_none() {
        carved.push("test");
    }
    let mut splits = Splits {
        train: Vec::new(),
        dev: dev.unwrap_or_default(),
        test: test.unwrap_or_default(),
    };
    for e in train {
        match Split::of(e.index()) {
            Split::Dev if carved.contains(&"dev") => splits.dev.push(e),
            Split::Test if carved.contains(&"test") => splits.test.push(e),
            _ => splits.train.push(e),
        }
    }
    (splits, carved)
}

impl Labelled {
    fn what(&self) -> &'static str {
        match self {
            Self::Sentences(_) => "sentence",
            Self::Tokens(_) => "token",
            Self::Scored(_) => "scored-pair",
            Self::Ranked(_) => "ranking-pair",
        }
    }
}

fn wrong_data(l: &Labelled, path: &Path, task: &str) -> anyhow::Error {
    anyhow::anyhow!("{}: {} data for a {task} task", path.display(), l.what())
}

fn sentences(l: Labelled, path: &Path) -> Result<Vec<SentenceExample>> {
    match l {
        Labelled::Sentences(s) => Ok(s),
        other => Err(wrong_data(&other, path, "sentence")),
    }
}

fn tokens(l: Labelled, path: &Path) -> Result<Vec<TokenExample>> {
    match l {
        Labelled::Tokens(t) => Ok(t),
        other => Err(wrong_data(&other, path, "token")),
    }
}

fn scored(l: Labelled, path: &Path) -> Result<Vec<ScoredPair>> {
    match l {
        Labelled::Scored(p) => Ok(p),
        other => Err(wrong_data(&other, path, "sentence-similarity")),
    }
}

/// The (anchor, positive) pairs of scored pairs: those scored at least
/// `min_score`.
pub fn ranking_pairs(l: Labelled, min_score: Option<f64>) -> Labelled {
    match (l, min_score) {
        (Labelled::Scored(pairs), Some(min)) => Labelled::Ranked(
            pairs
                .into_iter()
                .filter(|p| p.score >= min)
                .map(|p| TextPair {
                    index: p.index,
                    line: p.line,
                    anchor: p.sentence1,
                    positive: p.sentence2,
                })
                .collect(),
        ),
        (other, _) => other,
    }
}

fn ranked(l: Labelled, path: &Path) -> Result<Vec<TextPair>> {
    match l {
        Labelled::Ranked(p) => Ok(p),
        other => Err(wrong_data(&other, path, "pair-ranking")),
    }
}

/// Refuses a dev/test label that training never saw, naming the file.
fn check_labels<'a>(
    task: &str,
    known: &BTreeSet<String>,
    split: &str,
    file: &Path,
    labels: impl Iterator<Item = (usize, &'a str)>,
) -> Result<()> {
    let source = format!("the training split of task {task:?}");
    check_known(&source, known, split, file, labels)
}

/// Refuses a label outside `known` (the labels of `source`), naming the
/// file and the example.
fn check_known<'a>(
    source: &str,
    known: &BTreeSet<String>,
    split: &str,
    file: &Path,
    labels: impl Iterator<Item = (usize, &'a str)>,
) -> Result<()> {
    for (index, label) in labels {
        if !known.contains(label) {
            bail!(
                "{}: example {index} (0-based) of the {split} data has label {label:?}, which never \
                 occurs in {source} (its labels: {})",
                file.display(),
                known.iter().cloned().collect::<Vec<_>>().join(", ")
            );
        }
    }
    Ok(())
}

/// The task's train/dev/test as `T` (`as_kind` checks each file holds the
/// kind's data), missing splits carved from train; an empty training split
/// is an error naming the file.
fn splits_of<T: HasIndex>(
    plan: &TaskPlan,
    train: Labelled,
    dev: Option<Labelled>,
    test: Option<Labelled>,
    as_kind: fn(Labelled, &Path) -> Result<Vec<T>>,
    noun: &str,
) -> Result<(Splits<T>, Vec<&'static str>)> {
    let conv = |l: Option<Labelled>, p: &Option<PathBuf>| {
        l.map(|l| as_kind(l, p.as_deref().unwrap_or(&plan.train)))
            .transpose()
    };
    let (splits, carved) = carve(
        as_kind(train, &plan.train)?,
        conv(dev, &plan.dev)?,
        conv(test, &plan.test)?,
    );
    if splits.train.is_empty() {
        bail!(
            "task {:?}: no training {noun} in {}",
            plan.name,
            plan.train.display()
        );
    }
    Ok((splits, carved))
}

/// Reads and prepares one task of a run config.
pub fn load_task(plan: &TaskPlan) -> Result<TaskFiles> {
    let read_split = |path: &Option<PathBuf>| -> Result<Option<Labelled>> {
        path.as_ref()
            .map(|p| read(p, plan.format, plan.kind))
            .transpose()
    };
    let train = read(&plan.train, plan.format, plan.kind)?;
    let (dev, test) = (read_split(&plan.dev)?, read_split(&plan.test)?);
    let dev_file = plan.dev.clone().unwrap_or_else(|| plan.train.clone());
    let test_file = plan.test.clone().unwrap_or_else(|| plan.train.clone());
    let (mut prepared, carved) = match plan.kind {
        TaskKind::SentenceClassification => {
            let (splits, carved) = splits_of(plan, train, dev, test, sentences, "examples")?;
            let known: BTreeSet<String> = splits.train.iter().map(|e| e.label.clone()).collect();
            fn labels(xs: &[SentenceExample]) -> impl Iterator<Item = (usize, &str)> {
                xs.iter().map(|e| (e.index, e.label.as_str()))
            }
            check_labels(&plan.name, &known, "dev", &dev_file, labels(&splits.dev))?;
            check_labels(&plan.name, &known, "test", &test_file, labels(&splits.test))?;
            (sentence_task(&plan.name, splits)?, carved)
        }
        TaskKind::TokenClassification => {
            let (splits, carved) = splits_of(plan, train, dev, test, tokens, "sentences")?;
            let types = smtl_data::entity_types(&splits.train);
            let mut known: BTreeSet<String> = BTreeSet::from(["O".to_string()]);
            for t in &types {
                known.insert(format!("B-{t}"));
                known.insert(format!("I-{t}"));
            }
            fn tags(xs: &[TokenExample]) -> impl Iterator<Item = (usize, &str)> {
                xs.iter()
                    .flat_map(|e| e.tags.iter().map(move |t| (e.index, t.as_str())))
                    .filter(|(_, t)| BioTag::parse(t).is_some())
            }
            check_labels(&plan.name, &known, "dev", &dev_file, tags(&splits.dev))?;
            check_labels(&plan.name, &known, "test", &test_file, tags(&splits.test))?;
            (token_task(&plan.name, splits)?, carved)
        }
        TaskKind::SentenceSimilarity => {
            let (splits, carved) = splits_of(plan, train, dev, test, scored, "pairs")?;
            let objective = plan
                .objective
                .clone()
                .expect("pair tasks have an objective");
            let task = similarity_task(&plan.name, splits, objective).map_err(|e| {
                // The score check names the split and the line; add the file.
                let file = match &e {
                    smtl_trainer::TrainError::ScoreOutOfRange { split, .. } => match *split {
                        "dev" => dev_file.clone(),
                        "test" => test_file.clone(),
                        _ => plan.train.clone(),
                    },
                    _ => plan.train.clone(),
                };
                anyhow::Error::new(e).context(format!("{}", file.display()))
            })?;
            (task, carved)
        }
        TaskKind::PairRanking => {
            let pairs = |l| ranking_pairs(l, plan.min_score);
            let (train, dev, test) = (pairs(train), dev.map(pairs), test.map(pairs));
            let (splits, carved) = splits_of(plan, train, dev, test, ranked, "pairs")?;
            let objective = plan
                .objective
                .clone()
                .expect("pair tasks have an objective");
            (ranking_task(&plan.name, splits, objective)?, carved)
        }
    };
    prepared.head.hidden = plan.head_hidden;
    Ok(TaskFiles {
        prepared,
        carved,
        test_file,
    })
}

/// Converts labelled examples of a file to model examples with the label
/// ids of a trained task; a label the task does not know names the file.
pub fn to_examples(
    labelled: Labelled,
    kind: TaskKind,
    labels: &[String],
    task: &str,
    file: &Path,
) -> Result<Vec<Example>> {
    let known: BTreeSet<String> = labels.iter().cloned().collect();
    let id = |l: &str| labels.iter().position(|x| x == l).expect("checked");
    match (kind, labelled) {
        (TaskKind::SentenceClassification, Labelled::Sentences(xs)) => {
            check_known(
                &format!("the checkpoint's task {task:?}"),
                &known,
                "evaluation",
                file,
                xs.iter().map(|e| (e.index, e.label.as_str())),
            )?;
            Ok(xs
                .into_iter()
                .map(|e| Example::Sentence {
                    label: Some(id(&e.label)),
                    text: e.text,
                })
                .collect())
        }
        (TaskKind::TokenClassification, Labelled::Tokens(xs)) => {
            check_known(
                &format!("the checkpoint's task {task:?}"),
                &known,
                "evaluation",
                file,
                xs.iter()
                    .flat_map(|e| e.tags.iter().map(move |t| (e.index, t.as_str()))),
            )?;
            Ok(xs
                .into_iter()
                .map(|e| Example::Words {
                    tags: Some(e.tags.iter().map(|t| id(t)).collect()),
                    words: e.tokens,
                })
                .collect())
        }
        (TaskKind::SentenceSimilarity, Labelled::Scored(xs)) => Ok(xs
            .into_iter()
            .map(|p| Example::Pair {
                first: p.sentence1,
                second: p.sentence2,
                score: Some(p.score),
            })
            .collect()),
        (TaskKind::PairRanking, Labelled::Ranked(xs)) => Ok(xs
            .into_iter()
            .map(|p| Example::Pair {
                first: p.anchor,
                second: p.positive,
                score: None,
            })
            .collect()),
        _ => bail!(
            "{}: data of the wrong kind for task {task:?}",
            file.display()
        ),
    }
}
