//! One tiny randomly initialised checkpoint per encoder family (RoBERTa,
//! XLM-RoBERTa, MPNet, DistilBERT with learned and sinusoidal positions),
//! made with transformers and encoded by sentence-transformers
//! (scripts/make_family_fixtures.py): our embeddings and token ids must equal
//! theirs.

mod common;

use common::*;
use serde_json::Value;
use smtl_backbone::{Family, Precision};
use smtl_embedding::{EncoderOptions, SentenceEncoder};
use tch::Device;

fn manifest() -> Vec<Value> {
    read_json(fixtures().join("families/manifest.json"))
}

#[test]
fn every_family_fixture_is_there() {
    let names: Vec<String> = manifest()
        .iter()
        .map(|m| m["model_type"].as_str().unwrap().to_string())
        .collect();
    for family in ["roberta", "xlm-roberta", "mpnet", "distilbert"] {
        assert!(names.iter().any(|n| n == family), "no {family} fixture");
    }
}

#[test]
fn each_family_equals_sentence_transformers() {
    let sentences: Vec<String> = read_json(fixtures().join("tiny/sentences.json"));
    for entry in manifest() {
        let name = entry["name"].as_str().unwrap();
        let dir = fixtures().join("families").join(name);
        let encoder = SentenceEncoder::from_dir(&dir, Device::Cpu).unwrap();
        let family = encoder.backbone().family();
        assert_eq!(
            Some(family),
            Family::from_model_type(entry["model_type"].as_str().unwrap()),
            "{name}"
        );
        let ids: Vec<Vec<u32>> = read_json(dir.join("token_ids.json"));
        let got_ids = encoder.tokenizer().encode_texts(&sentences).unwrap();
        assert_token_ids(&got_ids, &ids, &sentences, name);
        let want = read_npy(dir.join("expected.npy"));
        let got = encoder.encode(&sentences).unwrap();
        let mut worst = 0f32;
        for i in 0..sentences.len() {
            worst = worst.max(max_abs_diff(got.row(i), want.row(i)));
        }
        eprintln!("{name}: max |diff| {worst:.3e}");
        assert!(worst <= 1e-5, "{name}: max |diff| {worst:e} > 1e-5");
    }
}

/// The fast paths keep BERT's quality floors for every family: mean cosine
/// to the fp32 reference ≥ 0.9999 in bf16, ≥ 0.995 in int8.
#[test]
fn each_family_meets_the_bf16_and_int8_quality_floors() {
    let sentences: Vec<String> = read_json(fixtures().join("tiny/sentences.json"));
    for entry in manifest() {
        let name = entry["name"].as_str().unwrap();
        let dir = fixtures().join("families").join(name);
        let want = read_npy(dir.join("expected.npy"));
        for (precision, floor) in [(Precision::Bf16, 0.9999), (Precision::Int8, 0.995)] {
            let options = EncoderOptions {
                precision,
                ..EncoderOptions::default()
            };
            let got = SentenceEncoder::from_dir_with(&dir, Device::Cpu, options)
                .unwrap()
                .encode(&sentences)
                .unwrap();
            let mean = (0..sentences.len())
                .map(|i| cosine(got.row(i), want.row(i)))
                .sum::<f64>()
                / sentences.len() as f64;
            eprintln!("{name} {precision}: mean cosine {mean:.6}");
            assert!(mean >= floor, "{name} {precision}: mean cosine {mean}");
        }
    }
}
