//! Example types and the BIO tag grammar.

use serde::{Deserialize, Serialize};

use crate::DataError;

/// One labelled sentence (TREC question, sentiment snippet, ...).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentenceExample {
    /// 0-based position in the source file's example order (see each reader
    /// for what counts as an example); [`crate::Split::of`] uses it.
    pub index: usize,
    pub text: String,
    pub label: String,
}

/// One tagged sentence for token classification (NER).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenExample {
    /// 0-based position of the sentence in the source file.
    pub index: usize,
    pub tokens: Vec<String>,
    /// One BIO tag per token.
    pub tags: Vec<String>,
}

impl TokenExample {
    /// Builds an example, checking that there is one tag per token.
    pub fn new(index: usize, tokens: Vec<String>, tags: Vec<String>) -> Result<Self, DataError> {
        let example = TokenExample {
            index,
            tokens,
            tags,
        };
        example.check_lengths()?;
        Ok(example)
    }

    /// `Err(LengthMismatch)` unless `tokens.len() == tags.len()`.
    pub fn check_lengths(&self) -> Result<(), DataError> {
        if self.tokens.len() == self.tags.len() {
            Ok(())
        } else {
            Err(DataError::LengthMismatch {
                index: self.index,
                tokens: self.tokens.len(),
                tags: self.tags.len(),
            })
        }
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }
}

/// A parsed BIO tag: `O`, `B-TYPE` or `I-TYPE` with a non-empty `TYPE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BioTag<'a> {
    Outside,
    Begin(&'a str),
    Inside(&'a str),
}

impl<'a> BioTag<'a> {
    /// Parses a tag; `None` for anything that is not `O`, `B-X` or `I-X`
    /// (X non-empty). The type is taken verbatim after the two-character
    /// prefix, so `B-geo-loc` has type `geo-loc`.
    pub fn parse(tag: &'a str) -> Option<Self> {
        if tag == "O" {
            return Some(BioTag::Outside);
        }
        if let Some(ty) = tag.strip_prefix("B-") {
            if !ty.is_empty() {
                return Some(BioTag::Begin(ty));
            }
        }
        if let Some(ty) = tag.strip_prefix("I-") {
            if !ty.is_empty() {
                return Some(BioTag::Inside(ty));
            }
        }
        None
    }

    /// The entity type, `None` for `O`.
    pub fn entity_type(&self) -> Option<&'a str> {
        match *self {
            BioTag::Outside => None,
            BioTag::Begin(t) | BioTag::Inside(t) => Some(t),
        }
    }
}

/// Sorted, de-duplicated entity types used by the tags of `examples`.
pub fn entity_types(examples: &[TokenExample]) -> Vec<String> {
    let mut types: Vec<String> = examples
        .iter()
        .flat_map(|e| e.tags.iter())
        .filter_map(|t| BioTag::parse(t).and_then(|b| b.entity_type()))
        .map(str::to_owned)
        .collect();
    types.sort();
    types.dedup();
    types
}
