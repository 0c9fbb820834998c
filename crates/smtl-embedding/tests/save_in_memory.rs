//! Saving and shared handles work from what the encoder holds in memory:
//! the source directory can be gone. Every module writes its own folder,
//! and the saved model embeds exactly as the original.

mod common;

use smtl_embedding::SentenceEncoder;
use tch::Device;

const SENTENCES: [&str; 4] = ["a cat sat", "", "stocks fell sharply today", "x"];

fn max_diff(a: &ndarray::Array2<f32>, b: &ndarray::Array2<f32>) -> f32 {
    assert_eq!(a.shape(), b.shape());
    (a - b).iter().fold(0f32, |m, d| m.max(d.abs()))
}

#[test]
fn saving_and_handles_need_no_source_directory() {
    // mean: Transformer at the root; cls_dense_tanh_normalize: Pooling,
    // Dense (weights of its own) and Normalize folders.
    for name in ["mean", "cls_dense_tanh_normalize", "bert_prefix"] {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("src");
        common::copy_dir(&common::fixtures().join("tiny").join(name), &src);
        let encoder = SentenceEncoder::from_dir(&src, Device::Cpu).unwrap();
        let want = encoder.encode(&SENTENCES).unwrap();
        std::fs::remove_dir_all(&src).unwrap();

        let handle = encoder.shared_handle().unwrap();
        assert_eq!(
            max_diff(&handle.encode(&SENTENCES).unwrap(), &want),
            0.0,
            "{name}"
        );

        let saved = tmp.path().join("saved");
        encoder.save_pretrained(&saved).unwrap();
        for file in [
            "modules.json",
            "config.json",
            "tokenizer.json",
            "model.safetensors",
        ] {
            assert!(saved.join(file).is_file(), "{name}: {file} not written");
        }
        let reloaded = SentenceEncoder::from_dir(&saved, Device::Cpu).unwrap();
        assert!(
            max_diff(&reloaded.encode(&SENTENCES).unwrap(), &want) <= 1e-6,
            "{name}: the saved model embeds differently"
        );
        assert_eq!(reloaded.modules().len(), encoder.modules().len());
        // A handle saves too.
        handle
            .save_pretrained(tmp.path().join("from_handle"))
            .unwrap();
    }
}
