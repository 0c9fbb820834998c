//! Every pooling path, Dense, Normalize, do_lower_case and `bert.`-prefixed
//! weights, each on a tiny random checkpoint, against sentence-transformers.

mod common;

use common::*;
use serde::Deserialize;
use smtl_embedding::SentenceEncoder;
use tch::Device;

#[derive(Deserialize)]
struct Entry {
    name: String,
    embedding_dim: usize,
}

#[test]
fn every_tiny_model_matches_sentence_transformers() {
    let manifest: Vec<Entry> = read_json(fixtures().join("tiny/manifest.json"));
    let sentences: Vec<String> = read_json(fixtures().join("tiny/sentences.json"));
    assert!(
        manifest.len() >= 10,
        "the manifest covers every pooling path"
    );
    for entry in manifest {
        let dir = fixtures().join("tiny").join(&entry.name);
        let encoder = SentenceEncoder::from_dir(&dir, Device::Cpu)
            .unwrap_or_else(|e| panic!("{}: {e}", entry.name));
        assert_eq!(
            encoder.embedding_dim() as usize,
            entry.embedding_dim,
            "{}",
            entry.name
        );
        let got = encoder.encode(&sentences).unwrap();
        let want = read_npy(dir.join("expected.npy"));
        let (cos, diff) = assert_rows_match(&got, &want, &sentences, 0.99999, 1e-5);
        eprintln!(
            "{:<28} min cosine {cos:.9}  max |diff| {diff:.2e}",
            entry.name
        );
    }
}

#[test]
fn tensors_skipped_while_loading_are_reported() {
    let dir = fixtures().join("tiny/bert_prefix");
    let encoder = SentenceEncoder::from_dir(&dir, Device::Cpu).unwrap();
    let report = encoder.load_report();
    assert!(report.loaded > 0);
    assert!(
        report.ignored.iter().any(|n| n.starts_with("cls.")),
        "the MLM head of a BertForMaskedLM checkpoint is listed as ignored: {:?}",
        report.ignored
    );
}
