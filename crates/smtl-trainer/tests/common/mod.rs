//! Shared by the trainer's integration tests: a tiny random BERT with two
//! heads and two small synthetic tasks.
#![allow(dead_code)]

use std::path::PathBuf;

use smtl_heads::{Example, HeadConfig, SharedEncoderModel, TaskKind};
use smtl_trainer::{Checkpoints, History, Persist, TaskData, TrainConfig, Trainer};
use tch::{Device, Tensor};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// libtorch's generator is global: tests that train take turns, so that
/// each run's dropout masks come from its own seeds only.
pub static TORCH_RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());

pub fn lock() -> std::sync::MutexGuard<'static, ()> {
    TORCH_RNG.lock().unwrap_or_else(|e| e.into_inner())
}

/// The tiny model with two heads, initialised from a fixed seed.
pub fn tiny_model() -> SharedEncoderModel {
    two_head_model(&repo().join("fixtures/tiny/mean"))
}

/// The encoder of `dir` with the two heads of [`tasks`] (`topic`: 3
/// classes, `ner`: O/B-X/I-X), initialised from a fixed seed.
pub fn two_head_model(dir: &std::path::Path) -> SharedEncoderModel {
    tch::manual_seed(1234);
    let encoder = smtl_embedding::SentenceEncoder::from_dir(dir, Device::Cpu).unwrap();
    let mut model = SharedEncoderModel::new(encoder);
    let labels = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    model
        .add_task(
            "topic",
            HeadConfig::linear(TaskKind::SentenceClassification, 3),
            labels(&["animal", "money", "code"]),
        )
        .unwrap();
    model
        .add_task(
            "ner",
            HeadConfig::linear(TaskKind::TokenClassification, 3),
            labels(&["O", "B-X", "I-X"]),
        )
        .unwrap();
    model
}

pub fn tasks() -> Vec<TaskData> {
    let topics = [
        ("the cat sat on the mat", 0),
        ("a dog barked at the mailman", 0),
        ("birds sing in the morning", 0),
        ("stocks fell sharply today", 1),
        ("the bank raised interest rates", 1),
        ("inflation is rising again", 1),
        ("the compiler rejected my code", 2),
        ("rust borrows are checked statically", 2),
        ("a segfault in the parser", 2),
    ];
    let sentence = |i: usize| {
        let (t, l) = topics[i % topics.len()];
        Example::Sentence {
            text: format!("{t} {i}"),
            label: Some(l),
        }
    };
    let words = |i: usize| {
        let w: Vec<String> = format!("we met John Smith in Paris on day {i}")
            .split(' ')
            .map(str::to_string)
            .collect();
        let tags = vec![0, 0, 1, 2, 0, 1, 0, 0, 0];
        Example::Words {
            words: w,
            tags: Some(tags),
        }
    };
    vec![
        TaskData {
            name: "topic".into(),
            train: (0..27).map(sentence).collect(),
            dev: (27..36).map(sentence).collect(),
        },
        TaskData {
            name: "ner".into(),
            train: (0..14).map(words).collect(),
            dev: (14..18).map(words).collect(),
        },
    ]
}

pub fn config(epochs: usize) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size: 4,
        seed: 7,
        backbone_lr: 1e-3,
        head_lr: 1e-2,
        ..TrainConfig::default()
    }
}

pub fn snapshot(model: &SharedEncoderModel, prefix: &str) -> Vec<(String, Tensor)> {
    let mut v: Vec<(String, Tensor)> = model
        .encoder()
        .var_store()
        .variables()
        .into_iter()
        .filter(|(n, _)| n.starts_with(prefix))
        .map(|(n, t)| (n, t.detach().copy()))
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

pub fn all_equal(a: &[(String, Tensor)], b: &[(String, Tensor)]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|((n1, t1), (n2, t2))| n1 == n2 && t1.equal(t2))
}

/// Trains with `last/` and `best/` checkpoints under `out`; returns the
/// step and epoch records.
pub fn fit_into<M: smtl_heads::MultiTaskModel + Persist>(
    trainer: &mut Trainer<M>,
    out: &std::path::Path,
) -> Result<History, smtl_trainer::TrainError> {
    let mut checkpoints = Checkpoints::new(out);
    let mut history = History::default();
    trainer.fit(&mut [&mut checkpoints, &mut history])?;
    Ok(history)
}
