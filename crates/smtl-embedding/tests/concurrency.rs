//! One loaded encoder serving several threads: per-thread handles share the
//! weight memory and compute exactly what the single-threaded encoder does.

mod common;

use common::*;
use smtl_backbone::Precision;
use smtl_embedding::{EmbedError, EncoderOptions, ParallelEncoder, SentenceEncoder, Truncation};
use tch::Device;

fn assert_send<T: Send>() {}

#[test]
fn encoders_can_move_between_threads() {
    assert_send::<SentenceEncoder>();
}

#[test]
fn handles_on_several_threads_equal_single_threaded_results() {
    let encoder = SentenceEncoder::from_dir(minilm_dir(), Device::Cpu).unwrap();
    let sentences: Vec<String> = read_json(fixtures().join("minilm/sentences.json"));
    let sentences = &sentences[..96];
    let reference = encoder.encode(sentences).unwrap();

    let threads = 4;
    let handles: Vec<SentenceEncoder> = (0..threads)
        .map(|_| encoder.shared_handle().unwrap())
        .collect();
    // The weights exist once: every handle points at the same storage.
    let name = "backbone.encoder.layer.0.attention.self.query.weight";
    let ptr = |e: &SentenceEncoder| e.var_store().variables()[name].data_ptr();
    for h in &handles {
        assert_eq!(ptr(h), ptr(&encoder), "handle copied the weights");
    }
    // Each thread encodes everything, in a different order, twice over.
    let results: Vec<_> = std::thread::scope(|scope| {
        let workers: Vec<_> = handles
            .into_iter()
            .enumerate()
            .map(|(t, handle)| {
                scope.spawn(move || {
                    let mut order: Vec<usize> = (0..sentences.len()).collect();
                    order.rotate_left(t * 17);
                    let picked: Vec<&String> = order.iter().map(|&i| &sentences[i]).collect();
                    let mut rows = Vec::new();
                    for _ in 0..2 {
                        rows.push((order.clone(), handle.encode(&picked).unwrap()));
                    }
                    rows
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    for (t, runs) in results.iter().enumerate() {
        for (order, got) in runs {
            for (row, &i) in order.iter().enumerate() {
                let d = max_abs_diff(got.row(row), reference.row(i));
                // Batches group other sentences in another order, so padding
                // differs: equal up to float summation order.
                assert!(d <= 1e-5, "thread {t}, sentence {i}: |diff| {d}");
            }
        }
    }
}

#[test]
fn a_handle_sees_weights_changed_after_it_was_made() {
    let encoder = SentenceEncoder::from_dir(minilm_dir(), Device::Cpu).unwrap();
    let handle = encoder.shared_handle().unwrap();
    let before = handle.encode(&["a shared weight"]).unwrap();
    tch::no_grad(|| {
        let vars = encoder.var_store().variables();
        let _ = vars["backbone.embeddings.LayerNorm.bias"]
            .shallow_clone()
            .fill_(0.5);
    });
    let after = handle.encode(&["a shared weight"]).unwrap();
    assert!(max_abs_diff(before.row(0), after.row(0)) > 1e-3);
    assert_eq!(after, encoder.encode(&["a shared weight"]).unwrap());
}

#[test]
fn a_handle_keeps_the_encoders_precision() {
    let options = EncoderOptions {
        precision: Precision::Int8,
        ..EncoderOptions::default()
    };
    let encoder = SentenceEncoder::from_dir_with(minilm_dir(), Device::Cpu, options).unwrap();
    let handle = encoder.shared_handle().unwrap();
    assert_eq!(handle.options().precision, Precision::Int8);
    let sentences = ["int8 on both sides", "the same quantized weights"];
    assert_eq!(
        handle.encode(&sentences).unwrap(),
        encoder.encode(&sentences).unwrap()
    );
}

#[test]
fn a_handle_takes_the_weights_from_memory_not_from_the_weight_file() {
    // A copy of the model whose weight file is gone once the encoder holds
    // it: a handle must not read (or need) it again.
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&minilm_dir(), dir.path());
    let encoder = SentenceEncoder::from_dir(dir.path(), Device::Cpu).unwrap();
    std::fs::remove_file(dir.path().join("model.safetensors")).unwrap();
    let handle = encoder.shared_handle().unwrap();
    assert_eq!(handle.load_report(), encoder.load_report());
    let sentences = ["weights already in memory"];
    assert_eq!(
        handle.encode(&sentences).unwrap(),
        encoder.encode(&sentences).unwrap()
    );
}

#[test]
fn parallel_encoder_equals_one_encoder_in_input_order() {
    let encoder = SentenceEncoder::from_dir(minilm_dir(), Device::Cpu).unwrap();
    let sentences: Vec<String> = read_json(fixtures().join("minilm/sentences.json"));
    // 41 sentences over 3 workers: shares of 14, 14 and 13.
    let sentences = &sentences[..41];
    let reference = encoder.encode(sentences).unwrap();
    let threads_before = tch::get_num_threads();
    let mut parallel = ParallelEncoder::new(encoder, 3).unwrap();
    assert_eq!(parallel.workers(), 3);
    let got = parallel.encode(sentences).unwrap();
    assert_eq!(got.dim(), reference.dim());
    for i in 0..sentences.len() {
        let d = max_abs_diff(got.row(i), reference.row(i));
        assert!(d <= 1e-5, "sentence {i}: |diff| {d}");
    }
    assert_eq!(
        tch::get_num_threads(),
        threads_before,
        "caller's thread count changed"
    );
    // Fewer sentences than workers, and none.
    let two = parallel.encode(&sentences[..2]).unwrap();
    assert!(max_abs_diff(two.row(1), reference.row(1)) <= 1e-5);
    assert_eq!(parallel.encode::<&str>(&[]).unwrap().dim(), (0, 384));
}

#[test]
fn parallel_encoder_reports_the_callers_index_of_a_too_long_sentence() {
    let options = EncoderOptions {
        truncation: Truncation::Error,
        ..EncoderOptions::default()
    };
    let encoder = SentenceEncoder::from_dir_with(minilm_dir(), Device::Cpu, options).unwrap();
    let mut parallel = ParallelEncoder::new(encoder, 2).unwrap();
    let long = "word ".repeat(600);
    let mut sentences = vec!["short one".to_string(); 6];
    sentences[5] = long;
    match parallel.encode(&sentences) {
        Err(EmbedError::TooLong { index, .. }) => assert_eq!(index, 5),
        other => panic!("expected TooLong, got {other:?}"),
    }
    let no_workers = SentenceEncoder::from_dir(minilm_dir(), Device::Cpu).unwrap();
    assert!(matches!(
        ParallelEncoder::new(no_workers, 0),
        Err(EmbedError::InvalidOption(_))
    ));
}
