//! The readers on the real data sets that `scripts/setup` links under
//! `data/`. The exact counts were observed independently (Python, byte
//! level) when the readers were written: they guard against silently
//! dropped or merged lines. Missing data is a failure, not a skip: run
//! `scripts/setup` first.

use std::collections::BTreeMap;
use std::path::PathBuf;

use smtl_data::*;

fn data(rel: &str) -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../data")
        .join(rel);
    assert!(p.exists(), "{} is missing: run scripts/setup", p.display());
    p
}

fn counts<'a>(labels: impl IntoIterator<Item = &'a str>) -> BTreeMap<&'a str, usize> {
    let mut m = BTreeMap::new();
    for l in labels {
        *m.entry(l).or_insert(0) += 1;
    }
    m
}

#[test]
fn trec_train_5500() {
    let ex = read_trec(data("trec_question_labels.txt")).unwrap();
    assert_eq!(ex.len(), 5452);
    assert!(ex.iter().enumerate().all(|(i, e)| e.index == i));
    assert_eq!(
        ex[0].text,
        "How did serfdom develop in and then leave Russia ?"
    );
    assert_eq!(ex[0].label, "DESC");
    assert_eq!(ex[5451].text, "What currency is used in Australia ?");
    assert_eq!(ex[5451].label, "ENTY");
    let dist = counts(ex.iter().map(|e| e.label.as_str()));
    let expected = BTreeMap::from([
        ("ABBR", 86),
        ("DESC", 1162),
        ("ENTY", 1250),
        ("HUM", 1223),
        ("LOC", 835),
        ("NUM", 896),
    ]);
    assert_eq!(dist, expected);
    let vocab = LabelVocab::from_sentence_examples("trec", &ex);
    assert_eq!(vocab.labels(), TREC_COARSE_LABELS);
    // The file's only non-ASCII character: a U+FFFD already in the data.
    let odd: Vec<_> = ex.iter().filter(|e| !e.text.is_ascii()).collect();
    assert_eq!(odd.len(), 1);
    assert!(odd[0].text.contains("sister\u{FFFD}city"));
    let s = split_examples(ex);
    assert_eq!((s.train.len(), s.dev.len(), s.test.len()), (4362, 545, 545));
}

#[test]
fn wnut16_ner() {
    let ex = read_conll(data("wnut16_ner.txt")).unwrap();
    assert_eq!(ex.len(), 2394);
    assert_eq!(ex.iter().map(TokenExample::len).sum::<usize>(), 46469);
    assert!(ex
        .iter()
        .all(|e| e.check_lengths().is_ok() && !e.is_empty()));
    assert_eq!(ex[0].tokens[..3], ["@paulwalk", "It", "'s"]);
    assert_eq!(
        ex[0].tags[14..17],
        ["B-facility", "I-facility", "I-facility"]
    );
    let types = entity_types(&ex);
    assert_eq!(
        types,
        [
            "company",
            "facility",
            "geo-loc",
            "movie",
            "musicartist",
            "other",
            "person",
            "product",
            "sportsteam",
            "tvshow"
        ]
    );
    let tags = counts(ex.iter().flat_map(|e| e.tags.iter().map(String::as_str)));
    let vocab = LabelVocab::bio_from_examples("wnut16", &ex).unwrap();
    assert_eq!(vocab.len(), 21);
    assert_eq!(tags.len(), 21);
    assert!(tags.keys().all(|t| vocab.id(t).is_ok()));
    assert_eq!(tags["O"], 44007);
    // Entities = B- tags (there is no I- without a preceding B-/I- of its type).
    let begins: BTreeMap<&str, usize> = tags
        .iter()
        .filter_map(|(t, n)| t.strip_prefix("B-").map(|ty| (ty, *n)))
        .collect();
    let expected = BTreeMap::from([
        ("company", 171),
        ("facility", 104),
        ("geo-loc", 276),
        ("movie", 34),
        ("musicartist", 55),
        ("other", 225),
        ("person", 449),
        ("product", 97),
        ("sportsteam", 51),
        ("tvshow", 34),
    ]);
    assert_eq!(begins, expected);
    assert_eq!(begins.values().sum::<usize>(), 1496);
    let s = split_examples(ex);
    assert_eq!((s.train.len(), s.dev.len(), s.test.len()), (1916, 239, 239));
}

#[test]
fn hutto_ground_truth_files() {
    // (file, rows, positive, negative, zero)
    let cases = [
        ("movieReviewSnippets_GroundTruth.txt", 10605, 5242, 5326, 37),
        ("amazonReviewSnippets_GroundTruth.txt", 3708, 2128, 1482, 98),
        (
            "nytEditorialSnippets_GroundTruth.txt",
            5190,
            2204,
            2742,
            244,
        ),
        ("tweets_GroundTruth.txt", 4200, 2897, 1299, 4),
    ];
    for (name, rows, pos, neg, zero) in cases {
        let f = read_sentiment_ground_truth_detailed(data(&format!("hutto_ICWSM_2014/{name}")))
            .unwrap();
        let dist = counts(f.examples.iter().map(|e| e.label.as_str()));
        assert_eq!(
            (f.rows, dist["positive"], dist["negative"], f.zero_scores),
            (rows, pos, neg, zero),
            "{name}"
        );
    }
    let movie =
        read_sentiment_ground_truth(data("hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt"))
            .unwrap();
    assert_eq!(movie[0].index, 0);
    assert!(movie[0]
        .text
        .starts_with("The Rock is destined to be the 21st Century's new ''Conan''"));
    assert_eq!(movie[0].label, "positive");
    let last = movie.last().unwrap();
    assert_eq!((last.index, last.label.as_str()), (10604, "negative"));
    assert!(last.text.ends_with("In this case zero."));
    // Proper UTF-8 accents survive (no Latin-1 mojibake in the source).
    assert!(movie.iter().any(|e| e.text.contains('é')));
}
