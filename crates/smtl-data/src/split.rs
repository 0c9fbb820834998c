//! Deterministic train/dev/test split by example index.

use serde::{Deserialize, Serialize};

use crate::{SentenceExample, TokenExample};

/// Which part of the data an example belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    Train,
    Dev,
    Test,
}

impl Split {
    /// `index % 10 == 8` → Dev, `index % 10 == 9` → Test, else Train
    /// (80/10/10, stable under appending data).
    pub fn of(index: usize) -> Split {
        match index % 10 {
            8 => Split::Dev,
            9 => Split::Test,
            _ => Split::Train,
        }
    }

    pub const ALL: [Split; 3] = [Split::Train, Split::Dev, Split::Test];

    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Dev => "dev",
            Split::Test => "test",
        }
    }
}

impl std::fmt::Display for Split {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Anything with a 0-based source index.
pub trait HasIndex {
    fn index(&self) -> usize;
}

impl HasIndex for SentenceExample {
    fn index(&self) -> usize {
        self.index
    }
}

impl HasIndex for TokenExample {
    fn index(&self) -> usize {
        self.index
    }
}

impl HasIndex for crate::ScoredPair {
    fn index(&self) -> usize {
        self.index
    }
}

impl HasIndex for crate::TextPair {
    fn index(&self) -> usize {
        self.index
    }
}

/// The three parts of a data set; each keeps the input order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Splits<T> {
    pub train: Vec<T>,
    pub dev: Vec<T>,
    pub test: Vec<T>,
}

impl<T> Default for Splits<T> {
    fn default() -> Self {
        Splits {
            train: Vec::new(),
            dev: Vec::new(),
            test: Vec::new(),
        }
    }
}

impl<T> Splits<T> {
    pub fn get(&self, split: Split) -> &[T] {
        match split {
            Split::Train => &self.train,
            Split::Dev => &self.dev,
            Split::Test => &self.test,
        }
    }
}

/// Distributes examples by [`Split::of`] of their index.
pub fn split_examples<T: HasIndex>(examples: Vec<T>) -> Splits<T> {
    let mut splits = Splits::default();
    for example in examples {
        match Split::of(example.index()) {
            Split::Train => splits.train.push(example),
            Split::Dev => splits.dev.push(example),
            Split::Test => splits.test.push(example),
        }
    }
    splits
}
