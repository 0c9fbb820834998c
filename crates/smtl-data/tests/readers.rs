//! Readers, errors, split rule and vocabularies on small temp files.

use std::io::Write;
use std::path::{Path, PathBuf};

use smtl_data::*;

fn file(content: &[u8]) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(content).unwrap();
    f.flush().unwrap();
    f
}

/// Asserts `Malformed` at `line` of `path`, with `needle` in the message.
fn assert_malformed<T: std::fmt::Debug>(
    result: Result<T, DataError>,
    path: &Path,
    line: usize,
    needle: &str,
) {
    match result {
        Err(DataError::Malformed {
            path: p,
            line: l,
            message,
        }) => {
            assert_eq!(p, path);
            assert_eq!(l, line, "message: {message}");
            assert!(message.contains(needle), "{message:?} lacks {needle:?}");
        }
        other => panic!("expected Malformed at line {line}, got {other:?}"),
    }
}

fn assert_not_utf8<T: std::fmt::Debug>(result: Result<T, DataError>, path: &Path, line: usize) {
    match result {
        Err(DataError::NotUtf8 { path: p, line: l }) => {
            assert_eq!(p, path);
            assert_eq!(l, line);
        }
        other => panic!("expected NotUtf8 at line {line}, got {other:?}"),
    }
}

fn assert_empty<T: std::fmt::Debug>(result: Result<T, DataError>, path: &Path) {
    match result {
        Err(DataError::Empty { path: p }) => assert_eq!(p, path),
        other => panic!("expected Empty, got {other:?}"),
    }
}

fn ex(index: usize, text: &str, label: &str) -> SentenceExample {
    SentenceExample {
        index,
        text: text.into(),
        label: label.into(),
    }
}

// ---- TREC --------------------------------------------------------------------

#[test]
fn trec_reads_coarse_labels() {
    let f = file(b"DESC:manner How did serfdom develop ?\nENTY:cremat What films featured Popeye ?\r\nNUM:date When ?\n\n");
    let got = read_trec(f.path()).unwrap();
    assert_eq!(
        got,
        vec![
            ex(0, "How did serfdom develop ?", "DESC"),
            ex(1, "What films featured Popeye ?", "ENTY"),
            ex(2, "When ?", "NUM"),
        ]
    );
}

#[test]
fn trec_takes_only_the_tail_and_indexes_from_it() {
    // Lines before the tail are neither used nor checked (even if not UTF-8).
    let f = file(b"\xff\xfe garbage\nHUM:ind Who ?\nLOC:city Where ?\nABBR:exp What is NASA ?\n");
    let got = read_trec_tail(f.path(), 2).unwrap();
    assert_eq!(
        got,
        vec![ex(0, "Where ?", "LOC"), ex(1, "What is NASA ?", "ABBR")]
    );
    // A longer tail than the file takes everything, and then line 1 is bad.
    assert_not_utf8(read_trec_tail(f.path(), 10), f.path(), 1);
}

#[test]
fn trec_errors_name_file_and_line() {
    let f = file(b"HUM:ind Who ?\nFOO:bar What ?\n");
    assert_malformed(
        read_trec(f.path()),
        f.path(),
        2,
        "unknown TREC coarse class \"FOO\"",
    );
    let f = file(b"HUM:ind Who ?\nHUM What ?\n");
    assert_malformed(read_trec(f.path()), f.path(), 2, "expected COARSE:fine");
    let f = file(b"HUM:ind Who ?\nHUM: What ?\n");
    assert_malformed(read_trec(f.path()), f.path(), 2, "empty TREC fine class");
    let f = file(b"HUM:ind Who ?\nHUM:ind   \n");
    assert_malformed(read_trec(f.path()), f.path(), 2, "empty question text");
    let f = file(b"HUM:ind Who ?\n\nHUM:ind Who ?\n");
    assert_malformed(read_trec(f.path()), f.path(), 2, "blank line");
    let f = file(b"HUM:ind Who ?\nHUM:ind Caf\xe9 ?\n");
    assert_not_utf8(read_trec(f.path()), f.path(), 2);
    let f = file(b"\n \n");
    assert_empty(read_trec(f.path()), f.path());
}

#[test]
fn io_error_names_the_file() {
    let missing = PathBuf::from("/nonexistent/dir/trec.txt");
    match read_trec(&missing) {
        Err(DataError::Io { path, .. }) => assert_eq!(path, missing),
        other => panic!("expected Io, got {other:?}"),
    }
    let err = read_conll(&missing).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("/nonexistent/dir/trec.txt: cannot read"),
        "{err}"
    );
}

// ---- CoNLL -------------------------------------------------------------------

#[test]
fn conll_reads_wnut_style_and_conll2003_style() {
    // WNUT-16: token<TAB>tag, sentences separated by a line holding a tab.
    let f = file(
        b"@paulwalk\tO\nEmpire\tB-facility\nState\tI-facility\n\t\nESB\tB-geo-loc\n.\tO\n\t\n",
    );
    let got = read_conll(f.path()).unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].index, 0);
    assert_eq!(got[0].tokens, ["@paulwalk", "Empire", "State"]);
    assert_eq!(got[0].tags, ["O", "B-facility", "I-facility"]);
    assert_eq!(got[1].index, 1);
    assert_eq!(got[1].tokens, ["ESB", "."]);
    assert_eq!(got[1].tags, ["B-geo-loc", "O"]);

    // CoNLL-2003: space-separated columns, tag last, -DOCSTART-, blank lines,
    // CRLF, several blank lines in a row, no final blank line.
    let f = file(b"-DOCSTART- -X- -X- O\r\n\r\nEU NNP B-NP B-ORG\r\nrejects VBZ B-VP O\r\n\r\n\r\n   \r\nPeter NNP B-NP B-PER\r\n");
    let got = read_conll(f.path()).unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].tokens, ["EU", "rejects"]);
    assert_eq!(got[0].tags, ["B-ORG", "O"]);
    assert_eq!(got[1].index, 1);
    assert_eq!(got[1].tokens, ["Peter"]);
    assert_eq!(got[1].tags, ["B-PER"]);
    // I- after O is read as is (scoring decides what it means).
    let f = file(b"a\tI-x\n");
    assert_eq!(read_conll(f.path()).unwrap()[0].tags, ["I-x"]);
}

#[test]
fn conll_errors_name_file_and_line() {
    for bad in ["E-PER", "S-LOC", "B-", "I-", "b-per", "PER", "o", "B_PER"] {
        let f = file(format!("a\tO\n\t\nb\tO\nc\t{bad}\n").as_bytes());
        assert_malformed(read_conll(f.path()), f.path(), 4, "invalid BIO tag");
    }
    let f = file(b"a\tO\nlonely\n");
    assert_malformed(
        read_conll(f.path()),
        f.path(),
        2,
        "expected `token<TAB>tag`",
    );
    let f = file(b"a\tO\n\xc3\x28\tO\n");
    assert_not_utf8(read_conll(f.path()), f.path(), 2);
    let f = file(b"\t\n\n-DOCSTART-\tO\n \n");
    assert_empty(read_conll(f.path()), f.path());
    let f = file(b"");
    assert_empty(read_conll(f.path()), f.path());
}

#[test]
fn token_example_length_mismatch() {
    let err = TokenExample::new(7, vec!["a".into(), "b".into()], vec!["O".into()]).unwrap_err();
    match err {
        DataError::LengthMismatch {
            index,
            tokens,
            tags,
        } => assert_eq!((index, tokens, tags), (7, 2, 1)),
        other => panic!("{other:?}"),
    }
    assert!(TokenExample::new(0, vec!["a".into()], vec!["O".into()]).is_ok());
}

#[test]
fn bio_tag_parse() {
    assert_eq!(BioTag::parse("O"), Some(BioTag::Outside));
    assert_eq!(BioTag::parse("B-geo-loc"), Some(BioTag::Begin("geo-loc")));
    assert_eq!(BioTag::parse("I-x"), Some(BioTag::Inside("x")));
    for bad in ["", "B", "B-", "I-", "O-x", "E-x", "BX", " O"] {
        assert_eq!(BioTag::parse(bad), None, "{bad:?}");
    }
}

// ---- TSV / JSONL ---------------------------------------------------------------

#[test]
fn tsv_reads_with_and_without_header() {
    let f = file(b"text\tlabel\nhello world\tgreet\n\n  bye \tleave\r\n");
    assert_eq!(
        read_sentence_tsv(f.path()).unwrap(),
        vec![ex(0, "hello world", "greet"), ex(1, "bye", "leave")]
    );
    // Label is after the last tab.
    let f = file(b"a\tb\tc\n");
    assert_eq!(
        read_sentence_tsv(f.path()).unwrap(),
        vec![ex(0, "a\tb", "c")]
    );
    // A header-like line elsewhere is data.
    let f = file(b"x\ty\ntext\tlabel\n");
    assert_eq!(
        read_sentence_tsv(f.path()).unwrap()[1],
        ex(1, "text", "label")
    );
}

#[test]
fn tsv_errors_name_file_and_line() {
    let f = file(b"text\tlabel\nok\tyes\nno tab here\n");
    assert_malformed(read_sentence_tsv(f.path()), f.path(), 3, "found no tab");
    let f = file(b"ok\tyes\n\t \n");
    // A line of only whitespace is blank (skipped): then the file is fine.
    assert_eq!(read_sentence_tsv(f.path()).unwrap().len(), 1);
    let f = file(b"ok\tyes\n \tx\n");
    assert_malformed(read_sentence_tsv(f.path()), f.path(), 2, "empty text");
    let f = file(b"ok\tyes\nx\t \n");
    assert_malformed(read_sentence_tsv(f.path()), f.path(), 2, "empty label");
    let f = file(b"ok\tyes\n\x80\tx\n");
    assert_not_utf8(read_sentence_tsv(f.path()), f.path(), 2);
    let f = file(b"text\tlabel\n");
    assert_empty(read_sentence_tsv(f.path()), f.path());
}

#[test]
fn jsonl_reads_objects() {
    let f = file(
        br#"{"text": "hi there", "label": "greet", "extra": 1}

{"label":"leave","text":" bye "}
"#,
    );
    assert_eq!(
        read_sentence_jsonl(f.path()).unwrap(),
        vec![ex(0, "hi there", "greet"), ex(1, "bye", "leave")]
    );
}

#[test]
fn jsonl_errors_name_file_and_line() {
    let f = file(b"{\"text\":\"a\",\"label\":\"b\"}\n{\"text\":\"a\"}\n");
    assert_malformed(
        read_sentence_jsonl(f.path()),
        f.path(),
        2,
        "missing field `label`",
    );
    let f = file(b"{\"text\":\"a\",\"label\":\"b\"}\n{\"text\":\"a\",\"label\":3}\n");
    assert_malformed(
        read_sentence_jsonl(f.path()),
        f.path(),
        2,
        "invalid JSON example",
    );
    let f = file(b"{\"text\":\"a\",\"label\":\"b\"}\n[1,2]\n");
    assert_malformed(
        read_sentence_jsonl(f.path()),
        f.path(),
        2,
        "invalid JSON example",
    );
    let f = file(b"{\"text\":\"a\",\"label\":\"b\"}\n{\"text\":\"a\",\"label\":\"\"}\n");
    assert_malformed(read_sentence_jsonl(f.path()), f.path(), 2, "empty label");
    let f = file(b"{\"text\":\"a\",\"label\":\"b\"}\n{\"text\":\"\xff\",\"label\":\"b\"}\n");
    assert_not_utf8(read_sentence_jsonl(f.path()), f.path(), 2);
    let f = file(b"\n\n");
    assert_empty(read_sentence_jsonl(f.path()), f.path());
}

// ---- hutto sentiment -------------------------------------------------------------

#[test]
fn sentiment_labels_by_sign_and_counts_zeros() {
    let f = file(b"id\tsentiment\ttext\r\n1\t2.25\tGreat fun .\r\n2\t-0.5\tMeh\r\n3\t0.0\tNeutral\r\n4\t-4\t Awful, truly\tawful \r\n5\t4\tBest");
    let got = read_sentiment_ground_truth_detailed(f.path()).unwrap();
    assert_eq!(got.rows, 5);
    assert_eq!(got.zero_scores, 1);
    assert_eq!(
        got.examples,
        vec![
            ex(0, "Great fun .", "positive"),
            ex(1, "Meh", "negative"),
            // index 2 was the dropped zero: indices keep the row position.
            ex(3, "Awful, truly\tawful", "negative"),
            ex(4, "Best", "positive"),
        ]
    );
    assert_eq!(read_sentiment_ground_truth(f.path()).unwrap(), got.examples);
    // No header is fine too.
    let f = file(b"a_1\t-1.5\tbad\n");
    assert_eq!(
        read_sentiment_ground_truth(f.path()).unwrap(),
        vec![ex(0, "bad", "negative")]
    );
}

#[test]
fn sentiment_errors_name_file_and_line() {
    let p = |s: &[u8]| file(s);
    let f = p(b"id\tsentiment\ttext\n1\t1\tok\n2\tgood\tbad score\n");
    assert_malformed(
        read_sentiment_ground_truth(f.path()),
        f.path(),
        3,
        "is not a number",
    );
    let f = p(b"1\t1\tok\n2\t4.5\ttoo high\n");
    assert_malformed(
        read_sentiment_ground_truth(f.path()),
        f.path(),
        2,
        "outside [-4, 4]",
    );
    let f = p(b"1\t1\tok\n2\tNaN\tnan\n");
    assert_malformed(
        read_sentiment_ground_truth(f.path()),
        f.path(),
        2,
        "outside [-4, 4]",
    );
    let f = p(b"1\t1\tok\n2\t1\n");
    assert_malformed(
        read_sentiment_ground_truth(f.path()),
        f.path(),
        2,
        "expected `id<TAB>score<TAB>text`",
    );
    let f = p(b"1\t1\tok\n2\t1\t  \n");
    assert_malformed(
        read_sentiment_ground_truth(f.path()),
        f.path(),
        2,
        "empty text",
    );
    let f = p(b"1\t1\tok\n \t1\tx\n");
    assert_malformed(
        read_sentiment_ground_truth(f.path()),
        f.path(),
        2,
        "empty id",
    );
    let f = p(b"1\t1\tok\n2\t1\tna\xefve\n");
    assert_not_utf8(read_sentiment_ground_truth(f.path()), f.path(), 2);
    // Only zero scores: no example at all.
    let f = p(b"id\tsentiment\ttext\n1\t0\tmeh\n2\t-0.0\tmeh\n");
    assert_empty(read_sentiment_ground_truth(f.path()), f.path());
}

#[test]
fn bom_is_dropped() {
    let f = file(b"\xEF\xBB\xBFtext\tlabel\nhi\tx\n");
    assert_eq!(read_sentence_tsv(f.path()).unwrap(), vec![ex(0, "hi", "x")]);
}

#[test]
fn error_display_names_file_and_line() {
    let f = file(b"a\tO\nb\tX-y\n");
    let msg = read_conll(f.path()).unwrap_err().to_string();
    assert_eq!(
        msg,
        format!(
            "{}:2: invalid BIO tag \"X-y\" (expected O, B-TYPE or I-TYPE)",
            f.path().display()
        )
    );
}

// ---- split ---------------------------------------------------------------------

#[test]
fn split_rule() {
    assert_eq!(Split::of(0), Split::Train);
    assert_eq!(Split::of(7), Split::Train);
    assert_eq!(Split::of(8), Split::Dev);
    assert_eq!(Split::of(9), Split::Test);
    assert_eq!(Split::of(10), Split::Train);
    assert_eq!(Split::of(18), Split::Dev);
    assert_eq!(Split::of(1239), Split::Test);

    let examples: Vec<SentenceExample> = (0..25).map(|i| ex(i, "t", "l")).collect();
    let s = split_examples(examples);
    let idx = |v: &[SentenceExample]| v.iter().map(|e| e.index).collect::<Vec<_>>();
    assert_eq!(idx(&s.dev), [8, 18]);
    assert_eq!(idx(&s.test), [9, 19]);
    assert_eq!(s.train.len(), 21);
    assert!(s.train.iter().all(|e| e.index % 10 < 8));
    assert_eq!(s.get(Split::Dev).len(), 2);
    assert_eq!(Split::Dev.to_string(), "dev");
}

// ---- vocab ---------------------------------------------------------------------

#[test]
fn vocab_sorted_and_lookup() {
    let v = LabelVocab::from_labels("trec", ["NUM", "ABBR", "HUM", "ABBR"]);
    assert_eq!(v.labels(), ["ABBR", "HUM", "NUM"]);
    assert_eq!(v.len(), 3);
    assert_eq!(v.id("HUM").unwrap(), 1);
    assert_eq!(v.label(2), Some("NUM"));
    assert_eq!(v.label(3), None);
    assert_eq!(v.encode(&["NUM", "ABBR"]).unwrap(), [2, 0]);
    match v.id("LOC") {
        Err(DataError::UnknownLabel { label, task }) => {
            assert_eq!((label.as_str(), task.as_str()), ("LOC", "trec"))
        }
        other => panic!("{other:?}"),
    }
    let json = serde_json::to_string(&v).unwrap();
    assert_eq!(json, r#"{"task":"trec","labels":["ABBR","HUM","NUM"]}"#);
    let back: LabelVocab = serde_json::from_str(&json).unwrap();
    assert_eq!(back, v);
    assert_eq!(back.id("NUM").unwrap(), 2);
    assert!(serde_json::from_str::<LabelVocab>(r#"{"task":"t","labels":["a","a"]}"#).is_err());
    match LabelVocab::from_ordered("t", vec!["b".into(), "a".into(), "b".into()]) {
        Err(DataError::DuplicateLabel { label, .. }) => assert_eq!(label, "b"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn bio_vocab() {
    let v = LabelVocab::bio("ner", ["person", "company", "person"]).unwrap();
    assert_eq!(
        v.labels(),
        ["O", "B-company", "I-company", "B-person", "I-person"]
    );
    assert!(matches!(
        LabelVocab::bio("ner", [""]),
        Err(DataError::InvalidLabel { .. })
    ));
    let examples = vec![TokenExample {
        index: 0,
        tokens: vec!["a".into(), "b".into(), "c".into()],
        tags: vec!["B-z".into(), "I-z".into(), "I-a".into()],
    }];
    assert_eq!(entity_types(&examples), ["a", "z"]);
    let v = LabelVocab::bio_from_examples("ner", &examples).unwrap();
    assert_eq!(v.labels(), ["O", "B-a", "I-a", "B-z", "I-z"]);
}
