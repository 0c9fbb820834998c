//! Arbitrary bytes as a data file: every reader returns Ok or a typed error
//! that names the file; none panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smtl_data::*;

fuzz_target!(|bytes: &[u8]| {
    let path = std::env::temp_dir().join(format!("smtl-fuzz-{}.txt", std::process::id()));
    std::fs::write(&path, bytes).expect("temp file");
    let name = path.display().to_string();
    let errors = [
        read_trec(&path).err(),
        read_trec_tail(&path, 3).err(),
        read_conll(&path).err(),
        read_sentence_tsv(&path).err(),
        read_sentence_jsonl(&path).err(),
        read_sentiment_ground_truth_detailed(&path).err(),
    ];
    for e in errors.into_iter().flatten() {
        assert!(e.to_string().contains(&name), "error without the file: {e}");
    }
    if let Ok(examples) = read_conll(&path) {
        assert!(examples.iter().all(|e| e.check_lengths().is_ok()));
    }
});
