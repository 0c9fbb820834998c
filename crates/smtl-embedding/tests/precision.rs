//! The opt-in fast paths against sentence-transformers' fp32 embeddings of
//! the 323 fixture sentences: quality floors (cosine), not speed.

mod common;

use common::*;
use smtl_backbone::Precision;
use smtl_embedding::{EncoderOptions, SentenceEncoder};
use tch::Device;

/// (mean, min) cosine of each row of the `precision` encoder to the fixture.
fn cosines(precision: Precision) -> (f64, f64) {
    let options = EncoderOptions {
        precision,
        ..EncoderOptions::default()
    };
    let encoder = SentenceEncoder::from_dir_with(minilm_dir(), Device::Cpu, options).unwrap();
    assert_eq!(encoder.options().precision, precision);
    let sentences: Vec<String> = read_json(fixtures().join("minilm/sentences.json"));
    let got = encoder.encode(&sentences).unwrap();
    let want = read_npy(fixtures().join("minilm/embeddings.npy"));
    let cos: Vec<f64> = (0..sentences.len())
        .map(|i| cosine(got.row(i), want.row(i)))
        .collect();
    let mean = cos.iter().sum::<f64>() / cos.len() as f64;
    let min = cos.iter().cloned().fold(f64::MAX, f64::min);
    eprintln!("{precision}: mean cosine {mean:.7}, min {min:.7}");
    (mean, min)
}

#[test]
fn fp32_keeps_exact_parity() {
    let (mean, min) = cosines(Precision::Fp32);
    assert!(min >= 0.99999 && mean >= 0.999999, "mean {mean} min {min}");
}

#[test]
fn bf16_stays_within_its_quality_floor() {
    let (mean, min) = cosines(Precision::Bf16);
    assert!(mean >= 0.9999, "mean cosine {mean}");
    assert!(min >= 0.999, "min cosine {min}");
}

#[test]
fn int8_stays_within_its_quality_floor() {
    let (mean, min) = cosines(Precision::Int8);
    assert!(mean >= 0.995, "mean cosine {mean}");
    assert!(min >= 0.97, "min cosine {min}");
}

#[test]
fn precision_names_parse_and_bad_ones_are_errors() {
    for (s, p) in [
        ("fp32", Precision::Fp32),
        ("BF16", Precision::Bf16),
        ("int8", Precision::Int8),
    ] {
        assert_eq!(s.parse::<Precision>().unwrap(), p);
        assert_eq!(p.to_string().parse::<Precision>().unwrap(), p);
    }
    assert!("fp8".parse::<Precision>().is_err());
}

#[test]
fn switching_precision_back_to_fp32_restores_parity() {
    let mut encoder = SentenceEncoder::from_dir(minilm_dir(), Device::Cpu).unwrap();
    let s = ["switching kernels keeps the weights"];
    let fp32 = encoder.encode(&s).unwrap();
    encoder.set_precision(Precision::Int8).unwrap();
    let int8 = encoder.encode(&s).unwrap();
    assert!(max_abs_diff(fp32.row(0), int8.row(0)) > 0.0);
    encoder.set_precision(Precision::Fp32).unwrap();
    assert_eq!(encoder.encode(&s).unwrap(), fp32);
}

#[test]
fn a_bf16_encoder_whose_weights_train_still_runs() {
    // Trainable weights always take the plain fp32 product; bf16 activations
    // reaching them are cast, never a dtype error.
    let options = EncoderOptions {
        precision: Precision::Bf16,
        ..EncoderOptions::default()
    };
    let mut encoder = SentenceEncoder::from_dir_with(minilm_dir(), Device::Cpu, options).unwrap();
    encoder.var_store_mut().unfreeze();
    let s = ["trainable weights take the plain path"];
    let emb = encoder.encode(&s).unwrap();
    assert!(emb.iter().all(|x| x.is_finite()));
    let batch = encoder.tokenizer().pad(
        &encoder
            .tokenizer()
            .encode_texts(&s)
            .unwrap()
            .iter()
            .collect::<Vec<_>>(),
        Device::Cpu,
    );
    let states = encoder.token_embeddings(&batch, true).unwrap();
    assert_eq!(states.kind(), tch::Kind::Float);
    assert!(states.requires_grad());
}
