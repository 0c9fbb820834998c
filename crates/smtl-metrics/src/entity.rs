use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use crate::{f1, mean, ratio, MetricsError};

/// An entity chunk: tokens `start..end` (end exclusive) of type
/// `entity_type`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Entity {
    pub entity_type: String,
    pub start: usize,
    pub end: usize,
}

enum Tag<'a> {
    Outside,
    Begin(&'a str),
    Inside(&'a str),
}

fn parse(tag: &str) -> Option<Tag<'_>> {
    if tag == "O" {
        return Some(Tag::Outside);
    }
    match (tag.strip_prefix("B-"), tag.strip_prefix("I-")) {
        (Some(t), _) if !t.is_empty() => Some(Tag::Begin(t)),
        (_, Some(t)) if !t.is_empty() => Some(Tag::Inside(t)),
        _ => None,
    }
}

/// Entities of one tag sequence under strict IOB2, as seqeval 1.2.2's
/// `Entities(seqs, IOB2)` (mode="strict") extracts them:
///
/// - an entity starts only at `B-X`, whatever precedes it;
/// - it extends over the following `I-X` of the *same* type X and ends
///   before the first other tag (`O`, any `B-`, or `I-Y` with Y != X), or
///   at the end of the sequence;
/// - an `I-X` that does not continue an entity (after `O`, at the start,
///   or after a `B-Y`/`I-Y` of another type) belongs to no entity: it is
///   ignored, never promoted to an entity start (that is the default,
///   conlleval-style mode, not strict).
///
/// Tags must be `O`, `B-X` or `I-X` with X non-empty (the type is all text
/// after the two-character prefix); anything else is `InvalidTag` with
/// `sequence` 0. (seqeval accepts a few odd spellings, e.g. `B` or
/// `BX`, and raises for prefixes like `E-`/`S-`; they are all rejected
/// here.)
pub fn extract_entities<S: AsRef<str>>(tags: &[S]) -> Result<Vec<Entity>, MetricsError> {
    let parsed = tags
        .iter()
        .enumerate()
        .map(|(position, t)| {
            parse(t.as_ref()).ok_or_else(|| MetricsError::InvalidTag {
                sequence: 0,
                position,
                tag: t.as_ref().to_owned(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut entities = Vec::new();
    let mut i = 0;
    while i < parsed.len() {
        let Tag::Begin(ty) = parsed[i] else {
            i += 1;
            continue;
        };
        let mut end = i + 1;
        while end < parsed.len() && matches!(parsed[end], Tag::Inside(t) if t == ty) {
            end += 1;
        }
        entities.push(Entity {
            entity_type: ty.to_owned(),
            start: i,
            end,
        });
        i = end;
    }
    Ok(entities)
}

/// Scores of one entity type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TypeMetrics {
    pub entity_type: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Gold entities of this type.
    pub support: usize,
    /// Predicted entities of this type.
    pub predicted: usize,
    /// Exact matches (type, sentence, start, end).
    pub correct: usize,
}

/// Entity-level scores, seqeval strict IOB2.
///
/// A predicted entity is correct when the same (sentence, type, start, end)
/// is a gold entity. `precision`/`recall`/`f1` are micro-averaged over all
/// types (seqeval's default `average="micro"`); undefined ratios are 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntityReport {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Gold entities.
    pub support: usize,
    /// Predicted entities.
    pub predicted: usize,
    /// Exactly matched entities.
    pub correct: usize,
    /// Means over `per_type` (seqeval `average="macro"`); 0 when there is
    /// no entity at all (seqeval gives NaN there).
    pub macro_precision: f64,
    pub macro_recall: f64,
    pub macro_f1: f64,
    /// Token-level accuracy (seqeval `accuracy_score`); 0 for no tokens
    /// (seqeval gives NaN there).
    pub token_accuracy: f64,
    /// Number of tokens scored.
    pub tokens: usize,
    /// Every type found in gold or predictions, sorted.
    pub per_type: Vec<TypeMetrics>,
}

impl EntityReport {
    /// Scores predicted tag sequences against gold ones.
    ///
    /// Errors: `CountMismatch` for different numbers of sequences,
    /// `LengthMismatch` when pair `index` differs in length, `InvalidTag`
    /// for a tag that is not `O`/`B-X`/`I-X`.
    pub fn compute<S: AsRef<str>>(gold: &[Vec<S>], pred: &[Vec<S>]) -> Result<Self, MetricsError> {
        if gold.len() != pred.len() {
            return Err(MetricsError::CountMismatch {
                gold: gold.len(),
                pred: pred.len(),
            });
        }
        // (predicted, gold, correct) per type; BTreeMap keeps types sorted
        // like seqeval's sorted(set(...)).
        let mut counts: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
        let mut tokens = 0;
        let mut same_tokens = 0;
        for (index, (g, p)) in gold.iter().zip(pred).enumerate() {
            if g.len() != p.len() {
                return Err(MetricsError::LengthMismatch {
                    index,
                    gold: g.len(),
                    pred: p.len(),
                });
            }
            let in_sequence = |e: MetricsError| match e {
                MetricsError::InvalidTag { position, tag, .. } => MetricsError::InvalidTag {
                    sequence: index,
                    position,
                    tag,
                },
                other => other,
            };
            let gold_entities = extract_entities(g).map_err(in_sequence)?;
            let pred_entities = extract_entities(p).map_err(in_sequence)?;
            tokens += g.len();
            same_tokens += g
                .iter()
                .zip(p)
                .filter(|(a, b)| a.as_ref() == b.as_ref())
                .count();
            let gold_set: HashSet<&Entity> = gold_entities.iter().collect();
            for e in &gold_entities {
                counts.entry(e.entity_type.clone()).or_default().1 += 1;
            }
            for e in &pred_entities {
                let c = counts.entry(e.entity_type.clone()).or_default();
                c.0 += 1;
                if gold_set.contains(e) {
                    c.2 += 1;
                }
            }
        }
        let per_type: Vec<TypeMetrics> = counts
            .into_iter()
            .map(|(entity_type, (predicted, support, correct))| {
                let precision = ratio(correct, predicted);
                let recall = ratio(correct, support);
                TypeMetrics {
                    entity_type,
                    precision,
                    recall,
                    f1: f1(precision, recall),
                    support,
                    predicted,
                    correct,
                }
            })
            .collect();
        let support = per_type.iter().map(|t| t.support).sum();
        let predicted = per_type.iter().map(|t| t.predicted).sum();
        let correct = per_type.iter().map(|t| t.correct).sum();
        let precision = ratio(correct, predicted);
        let recall = ratio(correct, support);
        Ok(EntityReport {
            precision,
            recall,
            f1: f1(precision, recall),
            support,
            predicted,
            correct,
            macro_precision: mean(per_type.iter().map(|t| t.precision)),
            macro_recall: mean(per_type.iter().map(|t| t.recall)),
            macro_f1: mean(per_type.iter().map(|t| t.f1)),
            token_accuracy: ratio(same_tokens, tokens),
            tokens,
            per_type,
        })
    }
}
