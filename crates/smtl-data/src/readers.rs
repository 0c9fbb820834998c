//! File readers. Each returns `Err(DataError::Empty)` when the file holds no
//! example, and names the file and 1-based line of any bad line.

use std::path::Path;

use serde::Deserialize;

use crate::lines::{raw_lines, read_bytes, RawLine};
use crate::{BioTag, DataError, SentenceExample, TokenExample};

/// Lines of TREC's `train_5500.label` (the training set, 5452 questions).
pub const TREC_TRAIN_LINES: usize = 5452;

/// TREC coarse classes, sorted.
pub const TREC_COARSE_LABELS: [&str; 6] = ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"];

/// Sentiment labels of [`read_sentiment_ground_truth`], sorted.
pub const SENTIMENT_LABELS: [&str; 2] = ["negative", "positive"];

fn non_empty(
    path: &Path,
    examples: Vec<SentenceExample>,
) -> Result<Vec<SentenceExample>, DataError> {
    if examples.is_empty() {
        Err(DataError::Empty {
            path: path.to_path_buf(),
        })
    } else {
        Ok(examples)
    }
}

/// Reads TREC question classification data: lines `COARSE:fine question`,
/// keeping the coarse class as the label.
///
/// Only the file's last [`TREC_TRAIN_LINES`] lines are used (the project's
/// `data/trec_question_labels.txt` ends with TREC's train_5500; the lines
/// before it repeat parts of it and of the test set). Blank lines at the end
/// of the file are ignored before counting. See [`read_trec_tail`].
pub fn read_trec(path: impl AsRef<Path>) -> Result<Vec<SentenceExample>, DataError> {
    read_trec_tail(path, TREC_TRAIN_LINES)
}

/// Like [`read_trec`], with the last `lines` lines of the file (all of them
/// when the file is shorter). `index` 0 is the first line taken. Within the
/// lines taken, a blank line, a coarse class outside
/// [`TREC_COARSE_LABELS`], an empty fine class or an empty question is
/// `Malformed`. Lines before the ones taken are not decoded or checked.
pub fn read_trec_tail(
    path: impl AsRef<Path>,
    lines: usize,
) -> Result<Vec<SentenceExample>, DataError> {
    let path = path.as_ref();
    let bytes = read_bytes(path)?;
    let mut all = raw_lines(&bytes);
    while all.last().is_some_and(RawLine::is_blank) {
        all.pop();
    }
    let start = all.len().saturating_sub(lines);
    let mut examples = Vec::with_capacity(all.len() - start);
    for (index, raw) in all[start..].iter().enumerate() {
        let line = raw.decode(path)?;
        let bad = |msg: String| DataError::malformed(path, raw.number, msg);
        let line = line.trim();
        if line.is_empty() {
            return Err(bad("blank line inside the TREC data".into()));
        }
        let (label, text) = match line.split_once(|c: char| c.is_ascii_whitespace()) {
            Some((label, text)) => (label, text.trim()),
            None => (line, ""),
        };
        let Some((coarse, fine)) = label.split_once(':') else {
            return Err(bad(format!(
                "expected COARSE:fine before the question, found {label:?}"
            )));
        };
        if !TREC_COARSE_LABELS.contains(&coarse) {
            return Err(bad(format!(
                "unknown TREC coarse class {coarse:?} (expected one of {TREC_COARSE_LABELS:?})"
            )));
        }
        if fine.is_empty() {
            return Err(bad("empty TREC fine class".into()));
        }
        if text.is_empty() {
            return Err(bad("empty question text".into()));
        }
        examples.push(SentenceExample {
            index,
            text: text.to_owned(),
            label: coarse.to_owned(),
        });
    }
    non_empty(path, examples)
}

/// Reads token-per-line NER data (CoNLL style, e.g. WNUT-16).
///
/// Each line is `token ... tag`: columns separated by tabs or other ASCII
/// whitespace, the token first, the tag last (middle columns are ignored);
/// at least two columns. A sentence ends at a line that is empty or holds
/// only ASCII whitespace (WNUT-16 uses a single tab). `-DOCSTART-` lines are
/// skipped and also end a sentence. Tags must be `O`, `B-X` or `I-X`
/// ([`BioTag`]); the tag *sequence* is not checked (an `I-X` after `O` is
/// read as is). `index` is the sentence's 0-based order in the file.
pub fn read_conll(path: impl AsRef<Path>) -> Result<Vec<TokenExample>, DataError> {
    let path = path.as_ref();
    let bytes = read_bytes(path)?;
    let mut examples = Vec::new();
    let mut tokens = Vec::new();
    let mut tags = Vec::new();
    let mut flush = |tokens: &mut Vec<String>, tags: &mut Vec<String>| {
        if !tokens.is_empty() {
            examples.push(TokenExample {
                index: examples.len(),
                tokens: std::mem::take(tokens),
                tags: std::mem::take(tags),
            });
        }
    };
    for raw in raw_lines(&bytes) {
        if raw.is_blank() {
            flush(&mut tokens, &mut tags);
            continue;
        }
        let line = raw.decode(path)?;
        let mut columns = line.split_ascii_whitespace();
        let token = columns.next().unwrap_or_default();
        if token == "-DOCSTART-" {
            flush(&mut tokens, &mut tags);
            continue;
        }
        let Some(tag) = columns.last() else {
            return Err(DataError::malformed(
                path,
                raw.number,
                format!("expected `token<TAB>tag`, found only {token:?}"),
            ));
        };
        if BioTag::parse(tag).is_none() {
            return Err(DataError::malformed(
                path,
                raw.number,
                format!("invalid BIO tag {tag:?} (expected O, B-TYPE or I-TYPE)"),
            ));
        }
        tokens.push(token.to_owned());
        tags.push(tag.to_owned());
    }
    flush(&mut tokens, &mut tags);
    if examples.is_empty() {
        return Err(DataError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(examples)
}

fn sentence(
    path: &Path,
    raw: &RawLine<'_>,
    index: usize,
    text: &str,
    label: &str,
) -> Result<SentenceExample, DataError> {
    let (text, label) = (text.trim(), label.trim());
    if text.is_empty() {
        return Err(DataError::malformed(path, raw.number, "empty text"));
    }
    if label.is_empty() {
        return Err(DataError::malformed(path, raw.number, "empty label"));
    }
    Ok(SentenceExample {
        index,
        text: text.to_owned(),
        label: label.to_owned(),
    })
}

/// Reads `text<TAB>label` lines. The label is the part after the *last*
/// tab; text and label are trimmed and must not be empty. A first line that
/// is exactly `text<TAB>label` is a header and skipped; blank lines are
/// skipped. `index` counts the examples in file order.
pub fn read_sentence_tsv(path: impl AsRef<Path>) -> Result<Vec<SentenceExample>, DataError> {
    let path = path.as_ref();
    let bytes = read_bytes(path)?;
    let mut examples = Vec::new();
    for raw in raw_lines(&bytes) {
        if raw.is_blank() {
            continue;
        }
        let line = raw.decode(path)?;
        if raw.number == 1 && line.trim_end() == "text\tlabel" {
            continue;
        }
        let Some((text, label)) = line.rsplit_once('\t') else {
            return Err(DataError::malformed(
                path,
                raw.number,
                "expected `text<TAB>label`, found no tab",
            ));
        };
        examples.push(sentence(path, &raw, examples.len(), text, label)?);
    }
    non_empty(path, examples)
}

#[derive(Deserialize)]
struct JsonSentence {
    text: String,
    label: String,
}

/// Reads JSON Lines: one object per line with string fields `text` and
/// `label` (other fields are ignored). Blank lines are skipped; text and
/// label are trimmed and must not be empty. `index` counts the examples.
pub fn read_sentence_jsonl(path: impl AsRef<Path>) -> Result<Vec<SentenceExample>, DataError> {
    let path = path.as_ref();
    let bytes = read_bytes(path)?;
    let mut examples = Vec::new();
    for raw in raw_lines(&bytes) {
        if raw.is_blank() {
            continue;
        }
        let line = raw.decode(path)?;
        let parsed: JsonSentence = serde_json::from_str(line).map_err(|e| {
            DataError::malformed(path, raw.number, format!("invalid JSON example: {e}"))
        })?;
        examples.push(sentence(
            path,
            &raw,
            examples.len(),
            &parsed.text,
            &parsed.label,
        )?);
    }
    non_empty(path, examples)
}

/// What [`read_sentiment_ground_truth_detailed`] read.
#[derive(Debug, Clone, PartialEq)]
pub struct SentimentFile {
    /// Examples labelled `positive` (score > 0) or `negative` (score < 0).
    pub examples: Vec<SentenceExample>,
    /// Data rows read, zero scores included.
    pub rows: usize,
    /// Rows dropped because their score is exactly 0.
    pub zero_scores: usize,
}

/// Reads a hutto (VADER, ICWSM 2014) `*_GroundTruth.txt` file:
/// `id<TAB>score<TAB>text` rows, score a float in [-4, 4]. Label `positive`
/// when score > 0, `negative` when score < 0; rows scoring exactly 0 are
/// dropped (counted by [`read_sentiment_ground_truth_detailed`]).
pub fn read_sentiment_ground_truth(
    path: impl AsRef<Path>,
) -> Result<Vec<SentenceExample>, DataError> {
    read_sentiment_ground_truth_detailed(path).map(|f| f.examples)
}

/// [`read_sentiment_ground_truth`] with row counts.
///
/// A first line whose first two fields are `id` and `sentiment` is a header
/// and skipped; blank lines are skipped. The text is everything after the
/// second tab, trimmed, and must not be empty; the id must not be empty;
/// the score must parse as a finite float in [-4, 4]. `index` is the data
/// row's 0-based position *counting dropped zero-score rows*, so a
/// snippet's index (and so its split) does not depend on the zero policy;
/// indices of the returned examples can have gaps.
pub fn read_sentiment_ground_truth_detailed(
    path: impl AsRef<Path>,
) -> Result<SentimentFile, DataError> {
    let path = path.as_ref();
    let bytes = read_bytes(path)?;
    let mut examples = Vec::new();
    let mut rows = 0;
    let mut zero_scores = 0;
    for raw in raw_lines(&bytes) {
        if raw.is_blank() {
            continue;
        }
        let line = raw.decode(path)?;
        let mut fields = line.splitn(3, '\t');
        let (id, score, text) = (fields.next(), fields.next(), fields.next());
        if raw.number == 1
            && id.map(str::trim) == Some("id")
            && score.map(str::trim) == Some("sentiment")
        {
            continue;
        }
        let bad = |msg: String| DataError::malformed(path, raw.number, msg);
        let (Some(id), Some(score), Some(text)) = (id, score, text) else {
            return Err(bad("expected `id<TAB>score<TAB>text`".into()));
        };
        if id.trim().is_empty() {
            return Err(bad("empty id".into()));
        }
        let value: f64 = score
            .trim()
            .parse()
            .map_err(|_| bad(format!("score {score:?} is not a number")))?;
        if !value.is_finite() || !(-4.0..=4.0).contains(&value) {
            return Err(bad(format!("score {value} outside [-4, 4]")));
        }
        let text = text.trim();
        if text.is_empty() {
            return Err(bad("empty text".into()));
        }
        let index = rows;
        rows += 1;
        let label = if value > 0.0 {
            SENTIMENT_LABELS[1]
        } else if value < 0.0 {
            SENTIMENT_LABELS[0]
        } else {
            zero_scores += 1;
            continue;
        };
        examples.push(SentenceExample {
            index,
            text: text.to_owned(),
            label: label.to_owned(),
        });
    }
    let examples = non_empty(path, examples)?;
    Ok(SentimentFile {
        examples,
        rows,
        zero_scores,
    })
}
