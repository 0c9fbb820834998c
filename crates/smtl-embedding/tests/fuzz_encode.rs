//! Property tests: arbitrary text through tokenize + encode never panics and
//! always gives finite, unit-norm embeddings of the right shape, on the tiny
//! test model (many cases) and on the real all-MiniLM-L6-v2 (fewer cases).
//! The same property runs unbounded under libFuzzer: fuzz/fuzz_targets/encode.rs.

mod common;

use std::sync::OnceLock;

use common::*;
use proptest::prelude::*;
use smtl_embedding::SentenceEncoder;
use tch::Device;

fn tiny() -> &'static std::sync::Mutex<SentenceEncoder> {
    static E: OnceLock<std::sync::Mutex<SentenceEncoder>> = OnceLock::new();
    E.get_or_init(|| {
        let e =
            SentenceEncoder::from_dir(fixtures().join("tiny/mean_normalize"), Device::Cpu).unwrap();
        std::sync::Mutex::new(e)
    })
}

fn minilm() -> &'static std::sync::Mutex<SentenceEncoder> {
    static E: OnceLock<std::sync::Mutex<SentenceEncoder>> = OnceLock::new();
    E.get_or_init(|| {
        std::sync::Mutex::new(SentenceEncoder::from_dir(minilm_dir(), Device::Cpu).unwrap())
    })
}

fn check(encoder: &SentenceEncoder, texts: &[String]) -> Result<(), TestCaseError> {
    let emb = encoder
        .encode(texts)
        .map_err(|e| TestCaseError::fail(format!("{e}")))?;
    prop_assert_eq!(emb.dim(), (texts.len(), encoder.embedding_dim() as usize));
    for row in emb.rows() {
        prop_assert!(row.iter().all(|x| x.is_finite()), "non-finite embedding");
        let norm: f32 = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        // Normalize makes every row unit-length; an all-zero row cannot occur
        // because every text has at least [CLS] and [SEP].
        prop_assert!((norm - 1.0).abs() < 1e-4, "norm {norm}");
    }
    Ok(())
}

/// Text that stresses tokenizers: any Unicode scalar, combining marks,
/// controls, NULs, RTL, emoji with joiners, very long runs, raw bytes.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        proptest::collection::vec(any::<u8>(), 0..300)
            .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
        "[\\u{0300}-\\u{036F}\\u{200B}-\\u{200F}\\u{202A}-\\u{202E}\\u{0000}-\\u{001F} a]{0,64}",
        "(\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}|\u{05D0}\u{05D1}|\u{4E2D}\u{6587}|caf\u{E9}|x){0,50}",
        (1usize..4000).prop_map(|n| "word ".repeat(n)),
        (1usize..3000).prop_map(|n| "\u{00E9}".repeat(n)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn any_text_gives_finite_unit_embeddings_on_the_tiny_model(texts in proptest::collection::vec(text(), 1..6)) {
        check(&tiny().lock().unwrap(), &texts)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn any_text_gives_finite_unit_embeddings_on_minilm(texts in proptest::collection::vec(text(), 1..4)) {
        check(&minilm().lock().unwrap(), &texts)?;
    }
}
