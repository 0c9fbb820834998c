//! Data loading for the sentence-mtl tasks (pure Rust, no libtorch).
//!
//! Readers (each `Result<Vec<_>, DataError>`):
//! - [`read_trec`]: TREC question classification, coarse class as label,
//!   the last 5452 lines of the file (TREC train_5500).
//! - [`read_conll`]: token-per-line NER (WNUT-16, CoNLL), BIO tags checked.
//! - [`read_sentence_tsv`], [`read_sentence_jsonl`]: generic labelled
//!   sentences.
//! - [`read_sentiment_ground_truth`]: hutto/VADER `*_GroundTruth.txt`.
//! - [`read_stsb`], [`read_scored_pair_tsv`], [`read_scored_pair_jsonl`]:
//!   sentence pairs with a similarity score (STS Benchmark and general);
//!   [`read_text_pair_tsv`], [`read_text_pair_jsonl`]: anchor/positive pairs.
//!
//! Then [`split_examples`] (by `index % 10`) and [`LabelVocab`].
//!
//! # Encoding policy
//!
//! Every reader decodes strictly as UTF-8, line by line, and a bad line is
//! `DataError::NotUtf8 { path, line }`; nothing is decoded lossily. The
//! real files under `data/` were checked byte by byte and are valid UTF-8
//! throughout: the hutto files (CRLF line ends, handled) contain proper
//! UTF-8 accents and dashes (no Latin-1 bytes), and the one non-ASCII
//! character in the TREC file is a U+FFFD already present in the file
//! ("sister\u{FFFD}city", an upstream lossy conversion) which is kept as is.
//! A UTF-8 BOM at the start of a file is dropped. Readers never panic on
//! arbitrary bytes (property-tested).
//!
//! # Index
//!
//! `index` is an example's 0-based position in its file's example order,
//! and fixes its split. Each reader documents what it counts.

mod error;
mod example;
mod lines;
mod pairs;
mod readers;
mod split;
mod vocab;

pub use error::DataError;
pub use example::{entity_types, BioTag, SentenceExample, TokenExample};
pub use pairs::{
    read_scored_pair_jsonl, read_scored_pair_tsv, read_stsb, read_text_pair_jsonl,
    read_text_pair_tsv, ScoredPair, TextPair,
};
pub use readers::{
    read_conll, read_sentence_jsonl, read_sentence_tsv, read_sentiment_ground_truth,
    read_sentiment_ground_truth_detailed, read_trec, read_trec_tail, SentimentFile,
    SENTIMENT_LABELS, TREC_COARSE_LABELS, TREC_TRAIN_LINES,
};
pub use split::{split_examples, HasIndex, Split, Splits};
pub use vocab::LabelVocab;
