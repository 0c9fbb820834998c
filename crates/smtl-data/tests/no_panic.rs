//! Property tests: arbitrary bytes through every reader give `Ok` or `Err`,
//! never a panic; well-formed CoNLL round-trips.

use std::io::Write;

use proptest::prelude::*;
use smtl_data::*;

fn run_all(bytes: &[u8]) {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(bytes).unwrap();
    f.flush().unwrap();
    let p = f.path();
    let name = p.display().to_string();
    // Every error names the file (and, for a bad line, the line).
    let errors = [
        read_trec(p).err(),
        read_trec_tail(p, 3).err(),
        read_conll(p).err(),
        read_sentence_tsv(p).err(),
        read_sentence_jsonl(p).err(),
        read_sentiment_ground_truth_detailed(p).err(),
    ];
    for e in errors.into_iter().flatten() {
        let text = e.to_string();
        assert!(text.contains(&name), "error without the file name: {text}");
    }
    // Ok results uphold the readers' invariants.
    if let Ok(ex) = read_conll(p) {
        assert!(ex
            .iter()
            .all(|e| !e.is_empty() && e.check_lengths().is_ok()));
        assert!(ex
            .iter()
            .flat_map(|e| &e.tags)
            .all(|t| BioTag::parse(t).is_some()));
    }
    if let Ok(ex) = read_trec(p) {
        assert!(ex
            .iter()
            .all(|e| TREC_COARSE_LABELS.contains(&e.label.as_str())));
    }
}

/// Fragments that hit the readers' interesting paths.
fn soup() -> impl Strategy<Value = Vec<u8>> {
    let frag = prop_oneof![
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\t".to_vec()),
        Just(b" ".to_vec()),
        Just(b"O".to_vec()),
        Just(b"B-".to_vec()),
        Just(b"I-x".to_vec()),
        Just(b"HUM:ind".to_vec()),
        Just(b"-DOCSTART-".to_vec()),
        Just(b"text\tlabel".to_vec()),
        Just(b"id\tsentiment\ttext".to_vec()),
        Just(b"{\"text\":\"a\",\"label\":\"b\"}".to_vec()),
        Just(b"{\"text\":".to_vec()),
        Just(b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[".to_vec()),
        Just(b"-0.0".to_vec()),
        Just(b"1e400".to_vec()),
        Just(b"\xEF\xBB\xBF".to_vec()),
        Just("\u{FFFD}é\u{a0}".as_bytes().to_vec()),
        Just(b"\xff\xc3".to_vec()),
        proptest::collection::vec(any::<u8>(), 0..8),
    ];
    proptest::collection::vec(frag, 0..60).prop_map(|v| v.concat())
}

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9@#.,'!?-]{1,8}"
}

fn tag() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("O".to_string()),
        "[a-z]{1,6}".prop_map(|t| format!("B-{t}")),
        "[a-z]{1,6}".prop_map(|t| format!("I-{t}")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        run_all(&bytes);
    }

    #[test]
    fn line_soup_never_panics(bytes in soup()) {
        run_all(&bytes);
    }

    #[test]
    fn conll_round_trip(
        sentences in proptest::collection::vec(proptest::collection::vec((token(), tag()), 1..12), 1..8),
        sep in prop_oneof![Just("\t"), Just(" "), Just("\t_\t")],
        boundary in prop_oneof![Just("\n"), Just("\t\n"), Just(" \n\n")],
    ) {
        let mut text = String::new();
        for s in &sentences {
            for (tok, tag) in s {
                text.push_str(&format!("{tok}{sep}{tag}\n"));
            }
            text.push_str(boundary);
        }
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        let got = read_conll(f.path()).unwrap();
        prop_assert_eq!(got.len(), sentences.len());
        for (i, (e, s)) in got.iter().zip(&sentences).enumerate() {
            prop_assert_eq!(e.index, i);
            prop_assert_eq!(&e.tokens, &s.iter().map(|p| p.0.clone()).collect::<Vec<_>>());
            prop_assert_eq!(&e.tags, &s.iter().map(|p| p.1.clone()).collect::<Vec<_>>());
        }
    }
}
