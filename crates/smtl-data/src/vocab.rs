//! Label vocabularies: label <-> id.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::{entity_types, DataError, SentenceExample, TokenExample};

/// An ordered list of labels with a reverse index.
///
/// Order policy: [`LabelVocab::from_labels`] sorts (byte-wise, `str::cmp`)
/// and de-duplicates, so the ids do not depend on file order;
/// [`LabelVocab::bio`] uses `O` first, then `B-T`, `I-T` for each entity
/// type `T` in sorted order; [`LabelVocab::from_ordered`] keeps the order
/// given. Serialises as `{"task": ..., "labels": [...]}`; deserialising
/// rejects duplicate labels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "VocabRepr", into = "VocabRepr")]
pub struct LabelVocab {
    task: String,
    labels: Vec<String>,
    ids: HashMap<String, usize>,
}

#[derive(Serialize, Deserialize)]
struct VocabRepr {
    task: String,
    labels: Vec<String>,
}

impl TryFrom<VocabRepr> for LabelVocab {
    type Error = DataError;
    fn try_from(repr: VocabRepr) -> Result<Self, DataError> {
        LabelVocab::from_ordered(repr.task, repr.labels)
    }
}

impl From<LabelVocab> for VocabRepr {
    fn from(vocab: LabelVocab) -> Self {
        VocabRepr {
            task: vocab.task,
            labels: vocab.labels,
        }
    }
}

impl LabelVocab {
    /// Sorted, de-duplicated vocabulary of `labels`.
    pub fn from_labels<I, S>(task: impl Into<String>, labels: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut labels: Vec<String> = labels.into_iter().map(Into::into).collect();
        labels.sort();
        labels.dedup();
        let ids = labels
            .iter()
            .enumerate()
            .map(|(i, l)| (l.clone(), i))
            .collect();
        LabelVocab {
            task: task.into(),
            labels,
            ids,
        }
    }

    /// The labels in the order given; `Err(DuplicateLabel)` on a repeat.
    pub fn from_ordered(task: impl Into<String>, labels: Vec<String>) -> Result<Self, DataError> {
        let task = task.into();
        let mut ids = HashMap::with_capacity(labels.len());
        for (i, label) in labels.iter().enumerate() {
            if ids.insert(label.clone(), i).is_some() {
                return Err(DataError::DuplicateLabel {
                    label: label.clone(),
                    task,
                });
            }
        }
        Ok(LabelVocab { task, labels, ids })
    }

    /// Sorted vocabulary of the examples' labels.
    pub fn from_sentence_examples(task: impl Into<String>, examples: &[SentenceExample]) -> Self {
        Self::from_labels(task, examples.iter().map(|e| e.label.clone()))
    }

    /// BIO tag vocabulary: `O`, then `B-T`, `I-T` for each entity type `T`
    /// (sorted, de-duplicated). `Err(InvalidLabel)` for an empty type.
    pub fn bio<I, S>(task: impl Into<String>, entity_types: I) -> Result<Self, DataError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let task = task.into();
        let mut types: Vec<String> = entity_types.into_iter().map(Into::into).collect();
        types.sort();
        types.dedup();
        let mut labels = Vec::with_capacity(1 + 2 * types.len());
        labels.push("O".to_owned());
        for ty in types {
            if ty.is_empty() {
                return Err(DataError::InvalidLabel {
                    label: ty,
                    task,
                    reason: "empty entity type".into(),
                });
            }
            labels.push(format!("B-{ty}"));
            labels.push(format!("I-{ty}"));
        }
        Self::from_ordered(task, labels)
    }

    /// [`LabelVocab::bio`] over the entity types used in `examples`.
    pub fn bio_from_examples(
        task: impl Into<String>,
        examples: &[TokenExample],
    ) -> Result<Self, DataError> {
        Self::bio(task, entity_types(examples))
    }

    pub fn task(&self) -> &str {
        &self.task
    }

    /// The id of `label`, or `Err(UnknownLabel)`.
    pub fn id(&self, label: &str) -> Result<usize, DataError> {
        self.ids
            .get(label)
            .copied()
            .ok_or_else(|| DataError::UnknownLabel {
                label: label.to_owned(),
                task: self.task.clone(),
            })
    }

    /// The label with id `id`, `None` when out of range.
    pub fn label(&self, id: usize) -> Option<&str> {
        self.labels.get(id).map(String::as_str)
    }

    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Ids of `labels`, stopping at the first unknown one.
    pub fn encode<S: AsRef<str>>(&self, labels: &[S]) -> Result<Vec<usize>, DataError> {
        labels.iter().map(|l| self.id(l.as_ref())).collect()
    }
}
