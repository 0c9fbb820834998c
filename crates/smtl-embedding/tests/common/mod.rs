//! Paths and comparisons shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use ndarray::{Array2, ArrayView1};

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn fixtures() -> PathBuf {
    repo_root().join("fixtures")
}

/// The real all-MiniLM-L6-v2 that `scripts/setup` installs. The test suite is
/// run through `scripts/test`, which runs the set-up first, so a missing
/// model is a set-up failure, not a reason to skip.
pub fn minilm_dir() -> PathBuf {
    let dir = repo_root().join("models/all-MiniLM-L6-v2");
    assert!(
        dir.join("model.safetensors").is_file(),
        "{} is missing: run scripts/setup (scripts/test does it for you)",
        dir.display()
    );
    dir
}

pub fn mpnet_dir() -> PathBuf {
    let dir = repo_root().join("models/all-mpnet-base-v2");
    assert!(
        dir.join("model.safetensors").is_file(),
        "{} is missing: run scripts/setup (scripts/test does it for you)",
        dir.display()
    );
    dir
}

/// Copies a folder tree (a model directory into a scratch folder).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

pub fn read_json<T: serde::de::DeserializeOwned>(path: PathBuf) -> T {
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn read_npy(path: PathBuf) -> Array2<f32> {
    ndarray_npy::read_npy(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn cosine(a: ArrayView1<f32>, b: ArrayView1<f32>) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
    let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb).max(1e-30)
}

pub fn max_abs_diff(a: ArrayView1<f32>, b: ArrayView1<f32>) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// Asserts every row of `got` matches `want` (cosine and max |diff|) and
/// returns the worst (cosine, diff) for the record.
pub fn assert_rows_match(
    got: &Array2<f32>,
    want: &Array2<f32>,
    sentences: &[String],
    min_cos: f64,
    max_diff: f32,
) -> (f64, f32) {
    assert_eq!(got.dim(), want.dim(), "embedding matrix shape");
    let (mut worst_cos, mut worst_diff) = (1.0f64, 0.0f32);
    let mut failures = Vec::new();
    for (i, s) in sentences.iter().enumerate() {
        let c = cosine(got.row(i), want.row(i));
        let d = max_abs_diff(got.row(i), want.row(i));
        worst_cos = worst_cos.min(c);
        worst_diff = worst_diff.max(d);
        if !(c >= min_cos && d <= max_diff) {
            let short: String = s.chars().take(60).collect();
            failures.push(format!("#{i} {short:?}: cosine {c:.8}, max|diff| {d:.2e}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} sentence(s) off:\n{}",
        failures.len(),
        failures.join("\n")
    );
    (worst_cos, worst_diff)
}

/// Each sentence's token ids equal the reference's (sentence-transformers'
/// ids, no padding), naming the first sentence that differs.
pub fn assert_token_ids(
    got: &[tokenizers::Encoding],
    want: &[Vec<u32>],
    sentences: &[String],
    what: &str,
) {
    assert_eq!(got.len(), want.len(), "{what}: number of sentences");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(
            g.get_ids(),
            w.as_slice(),
            "{what}: token ids of sentence #{i} {:?}",
            sentences[i]
        );
    }
}
