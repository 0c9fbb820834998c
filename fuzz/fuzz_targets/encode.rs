//! Arbitrary bytes, read as (lossy) UTF-8 lines, through tokenize + encode
//! on the tiny test model: never a panic, always finite unit-norm rows of
//! the model's width.
#![no_main]

use std::sync::{Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;
use smtl_embedding::SentenceEncoder;

fn encoder() -> &'static Mutex<SentenceEncoder> {
    static E: OnceLock<Mutex<SentenceEncoder>> = OnceLock::new();
    E.get_or_init(|| {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/tiny/mean_normalize");
        Mutex::new(SentenceEncoder::from_dir(dir, tch::Device::Cpu).expect("tiny model"))
    })
}

fuzz_target!(|bytes: &[u8]| {
    let text = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = text.split('\n').take(16).collect();
    let encoder = encoder().lock().expect("not poisoned");
    let emb = encoder.encode(&lines).expect("any text encodes");
    assert_eq!(emb.dim(), (lines.len(), encoder.embedding_dim() as usize));
    for row in emb.rows() {
        assert!(row.iter().all(|x| x.is_finite()));
        let norm: f32 = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "norm {norm}");
    }
});
