//! The real all-MiniLM-L6-v2 against sentence-transformers' own outputs
//! (fixtures written by scripts/make_fixtures.py).

mod common;

use common::*;
use smtl_embedding::SentenceEncoder;
use tch::Device;

fn sentences() -> Vec<String> {
    read_json(fixtures().join("minilm/sentences.json"))
}

#[test]
fn embeddings_equal_sentence_transformers() {
    let encoder = SentenceEncoder::from_dir(minilm_dir(), Device::Cpu).unwrap();
    let sentences = sentences();
    assert!(sentences.len() >= 300);
    let got = encoder.encode(&sentences).unwrap();
    let want = read_npy(fixtures().join("minilm/embeddings.npy"));
    let (cos, diff) = assert_rows_match(&got, &want, &sentences, 0.99999, 1e-4);
    eprintln!(
        "all-MiniLM-L6-v2 parity over {} sentences: min cosine {cos:.9}, max |diff| {diff:.3e}",
        sentences.len()
    );
}

#[test]
fn token_ids_and_truncation_equal_sentence_transformers() {
    let encoder = SentenceEncoder::from_dir(minilm_dir(), Device::Cpu).unwrap();
    let sentences = sentences();
    let want: Vec<Vec<u32>> = read_json(fixtures().join("minilm/token_ids.json"));
    let got = encoder.tokenizer().encode_texts(&sentences).unwrap();
    assert_token_ids(&got, &want, &sentences, "all-MiniLM-L6-v2");
    let longest = got.iter().map(|e| e.len()).max().unwrap();
    assert_eq!(
        longest, 256,
        "long fixtures are truncated to max_seq_length"
    );
}

#[test]
fn a_sentence_embeds_the_same_alone_and_inside_a_padded_batch() {
    let encoder = SentenceEncoder::from_dir(minilm_dir(), Device::Cpu).unwrap();
    let sentences = sentences();
    let batch = encoder.encode(&sentences).unwrap();
    // Short, medium and truncated sentences, each padded in the batch.
    let mut by_len: Vec<usize> = (0..sentences.len()).collect();
    by_len.sort_by_key(|&i| sentences[i].len());
    let picks = [
        by_len[1],
        by_len[by_len.len() / 3],
        by_len[by_len.len() / 2],
        by_len[by_len.len() - 1],
    ];
    for i in picks {
        let alone = encoder.encode(&[sentences[i].as_str()]).unwrap();
        let d = max_abs_diff(alone.row(0), batch.row(i));
        assert!(
            d <= 1e-5,
            "sentence #{i} differs by {d:e} alone vs in a batch"
        );
    }
}

#[test]
fn rows_come_back_in_the_callers_order() {
    let encoder = SentenceEncoder::from_dir(minilm_dir(), Device::Cpu).unwrap();
    let s = [
        "a short one",
        "a considerably longer sentence that will sort first in its batch",
        "",
    ];
    let fwd = encoder.encode(&s).unwrap();
    let rev: Vec<&str> = s.iter().rev().copied().collect();
    let bwd = encoder.encode(&rev).unwrap();
    for i in 0..s.len() {
        assert!(max_abs_diff(fwd.row(i), bwd.row(s.len() - 1 - i)) <= 1e-5);
    }
    assert_eq!(encoder.encode::<&str>(&[]).unwrap().dim(), (0, 384));
}

#[test]
fn related_sentences_are_closer_than_unrelated_ones() {
    let encoder = SentenceEncoder::from_dir(minilm_dir(), Device::Cpu).unwrap();
    let e = encoder
        .encode(&[
            "A man is playing a guitar.",
            "Someone plays an instrument.",
            "The stock market fell sharply today.",
        ])
        .unwrap();
    let related = cosine(e.row(0), e.row(1));
    let unrelated = cosine(e.row(0), e.row(2));
    assert!(
        related > unrelated + 0.2,
        "related {related:.3} vs unrelated {unrelated:.3}"
    );
    for row in e.rows() {
        let norm: f32 = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        approx::assert_abs_diff_eq!(norm, 1.0, epsilon = 1e-5); // Normalize module
    }
}
