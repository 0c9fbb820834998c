//! The real all-mpnet-base-v2 (MPNet) against sentence-transformers' own
//! outputs (fixtures written by scripts/make_family_fixtures.py), in every
//! precision.

mod common;

use common::*;
use smtl_backbone::{Family, Precision};
use smtl_embedding::{EncoderOptions, SentenceEncoder};
use tch::Device;

fn sentences() -> Vec<String> {
    read_json(fixtures().join("mpnet/sentences.json"))
}

fn encoder(precision: Precision) -> SentenceEncoder {
    let options = EncoderOptions {
        precision,
        ..EncoderOptions::default()
    };
    SentenceEncoder::from_dir_with(mpnet_dir(), Device::Cpu, options).unwrap()
}

#[test]
fn mpnet_embeddings_equal_sentence_transformers_in_fp32_and_meet_the_floors_in_bf16_and_int8() {
    let sentences = sentences();
    assert!(sentences.len() >= 300);
    let want = read_npy(fixtures().join("mpnet/embeddings.npy"));
    let fp32 = encoder(Precision::Fp32);
    assert_eq!(fp32.backbone().family(), Family::Mpnet);
    assert_eq!(fp32.embedding_dim(), 768);
    let got = fp32.encode(&sentences).unwrap();
    let (cos, diff) = assert_rows_match(&got, &want, &sentences, 0.99999, 1e-4);
    eprintln!(
        "all-mpnet-base-v2 fp32 parity over {} sentences: min cosine {cos:.9}, max |diff| {diff:.3e}",
        sentences.len()
    );
    drop(fp32);
    for (precision, mean_floor) in [(Precision::Bf16, 0.9999), (Precision::Int8, 0.995)] {
        let got = encoder(precision).encode(&sentences).unwrap();
        let cos: Vec<f64> = (0..sentences.len())
            .map(|i| cosine(got.row(i), want.row(i)))
            .collect();
        let mean = cos.iter().sum::<f64>() / cos.len() as f64;
        let min = cos.iter().cloned().fold(f64::MAX, f64::min);
        eprintln!("all-mpnet-base-v2 {precision}: mean cosine {mean:.7}, min {min:.7}");
        assert!(mean >= mean_floor, "{precision}: mean cosine {mean}");
    }
}

#[test]
fn mpnet_token_ids_and_truncation_equal_sentence_transformers() {
    let encoder = encoder(Precision::Fp32);
    let sentences = sentences();
    let want: Vec<Vec<u32>> = read_json(fixtures().join("mpnet/token_ids.json"));
    let got = encoder.tokenizer().encode_texts(&sentences).unwrap();
    assert_token_ids(&got, &want, &sentences, "all-mpnet-base-v2");
    let longest = got.iter().map(|e| e.len()).max().unwrap();
    assert_eq!(
        longest, 384,
        "texts past 384 wordpieces are truncated there"
    );
}

#[test]
fn an_mpnet_sentence_embeds_the_same_alone_and_inside_a_padded_batch() {
    let encoder = encoder(Precision::Fp32);
    let sentences = sentences();
    let mut by_len: Vec<usize> = (0..sentences.len()).collect();
    by_len.sort_by_key(|&i| sentences[i].len());
    // A padded batch: the shortest sentences with one long one.
    let picks = [
        by_len[0],
        by_len[1],
        by_len[by_len.len() / 2],
        by_len[by_len.len() - 1],
    ];
    let batch: Vec<&str> = picks.iter().map(|&i| sentences[i].as_str()).collect();
    let together = encoder.encode(&batch).unwrap();
    for (row, &i) in picks.iter().enumerate() {
        let alone = encoder.encode(&[sentences[i].as_str()]).unwrap();
        let d = max_abs_diff(alone.row(0), together.row(row));
        assert!(
            d <= 1e-5,
            "sentence #{i} differs by {d:e} alone vs in a batch"
        );
    }
}
