//! End-to-end tests of `examples/embed_sentences.rs`: the binary is run as a
//! user runs it, on the real model in `models/all-MiniLM-L6-v2`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use ndarray::Array2;
use ndarray_npy::read_npy;
use sentence_mtl::embedding::EncoderOptions;
use sentence_mtl::SentenceEncoder;
use tch::Device;

const DIM: usize = 384;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn model_dir() -> PathBuf {
    let dir = root().join("models/all-MiniLM-L6-v2");
    assert!(
        dir.join("modules.json").is_file(),
        "{} is missing: run scripts/setup",
        dir.display()
    );
    dir
}

/// The example binary, next to this test's binary: `target/<profile>/deps/`
/// holds this test, `target/<profile>/examples/` the examples. A plain
/// `cargo test` builds the examples but `cargo test --test embed_sentences_cli`
/// does not, so build it here with the same profile (a no-op when fresh).
fn binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let exe = std::env::current_exe().expect("path of the test binary");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("the test binary lives in target/<profile>/deps");
        let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") => "dev",
            Some(other) => other,
            None => panic!("unexpected test binary path {}", exe.display()),
        };
        let status = Command::new(env!("CARGO"))
            .current_dir(root())
            .args([
                "build",
                "--quiet",
                "--example",
                "embed_sentences",
                "--profile",
            ])
            .arg(profile)
            .status()
            .expect("cargo runs");
        assert!(status.success(), "building the example failed");
        let bin = profile_dir
            .join("examples")
            .join(format!("embed_sentences{}", std::env::consts::EXE_SUFFIX));
        assert!(bin.is_file(), "{} was not built", bin.display());
        bin
    })
}

fn run(args: &[&str]) -> Output {
    Command::new(binary())
        .current_dir(root())
        .args(args)
        .output()
        .expect("the example starts")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn p(path: &Path) -> &str {
    path.to_str().expect("temp paths are UTF-8")
}

/// A failed run: non-zero exit, an `error:` line last on stderr, no panic,
/// and nothing in `dir` but the files listed.
fn assert_clean_failure(out: &Output, dir: &Path, keep: &[&str]) -> String {
    let err = stderr(out);
    assert!(!out.status.success(), "expected a failure, stderr: {err}");
    assert_ne!(
        out.status.code(),
        Some(101),
        "exit code 101 is a panic: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    let last = err.lines().last().unwrap_or("");
    assert!(last.starts_with("error: "), "last stderr line: {err}");
    let mut left: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    let mut keep: Vec<String> = keep.iter().map(|s| s.to_string()).collect();
    keep.sort();
    assert_eq!(left, keep, "files left in the output directory");
    last.to_string()
}

/// Input with an empty line, non-ASCII text, a CRLF and no final newline.
const INPUT: &[u8] = "The cat sat on the mat.\n\
    \n\
    Café crème, naïve façade — 日本語のテキスト 🙂\r\n\
    Interest rates rose again this quarter.\n\
    a\n\
    Last line without a newline"
    .as_bytes();

fn input_lines() -> Vec<String> {
    vec![
        "The cat sat on the mat.".into(),
        String::new(),
        "Café crème, naïve façade — 日本語のテキスト 🙂".into(),
        "Interest rates rose again this quarter.".into(),
        "a".into(),
        "Last line without a newline".into(),
    ]
}

fn reference(lines: &[String], batch_size: usize) -> Array2<f32> {
    let options = EncoderOptions {
        batch_size,
        ..EncoderOptions::default()
    };
    SentenceEncoder::from_dir_with(model_dir(), Device::Cpu, options)
        .unwrap()
        .encode(lines)
        .unwrap()
}

#[test]
fn npy_output_equals_the_encoder() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    let output = dir.path().join("out.npy");
    fs::write(&input, INPUT).unwrap();
    let out = run(&[
        "--input",
        p(&input),
        "--output",
        p(&output),
        "--device",
        "cpu",
        "--batch-size",
        "2",
        "--model",
        p(&model_dir()),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!dir.path().join("out.npy.partial").exists());

    let got: Array2<f32> = read_npy(&output).unwrap();
    let want = reference(&input_lines(), 2);
    assert_eq!(got.shape(), &[6, DIM]);
    assert_eq!(got.shape(), want.shape());
    let max_diff = (&got - &want).iter().fold(0f32, |m, d| m.max(d.abs()));
    assert!(max_diff <= 1e-6, "max |npy - encode| = {max_diff}");
    // Normalized embeddings, and distinct rows for distinct lines.
    for row in got.rows() {
        let norm = row.dot(&row).sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "norm {norm}");
    }
    assert!((&got.row(0) - &got.row(3)).iter().any(|d| d.abs() > 1e-3));
}

#[test]
fn jsonl_output_has_index_text_and_embedding() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    let output = dir.path().join("out.jsonl");
    fs::write(&input, INPUT).unwrap();
    let out = run(&[
        "--input",
        p(&input),
        "--output",
        p(&output),
        "--device",
        "cpu",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!dir.path().join("out.jsonl.partial").exists());

    let lines = input_lines();
    let want = reference(&lines, 32);
    let text = fs::read_to_string(&output).unwrap();
    let rows: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is one JSON object"))
        .collect();
    assert_eq!(rows.len(), lines.len());
    for (i, row) in rows.iter().enumerate() {
        let obj = row.as_object().expect("a JSON object");
        let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["embedding", "index", "text"]);
        assert_eq!(obj["index"].as_u64(), Some(i as u64));
        assert_eq!(obj["text"].as_str(), Some(lines[i].as_str()));
        let emb: Vec<f32> = obj["embedding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        assert_eq!(emb.len(), DIM);
        let max_diff = emb
            .iter()
            .zip(want.row(i))
            .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(max_diff <= 1e-6, "row {i}: max diff {max_diff}");
    }
}

#[test]
fn empty_input_gives_zero_rows() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("empty.txt");
    let output = dir.path().join("out.npy");
    fs::write(&input, b"").unwrap();
    let out = run(&[
        "--input",
        p(&input),
        "--output",
        p(&output),
        "--device",
        "cpu",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let got: Array2<f32> = read_npy(&output).unwrap();
    assert_eq!(got.shape(), &[0, DIM]);
}

#[test]
fn non_utf8_input_names_the_line_and_leaves_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("bad.txt");
    let output = dir.path().join("out.npy");
    fs::write(
        &input,
        b"fine\nalso fine\nbroken \xff\xfe here\nfine again\n",
    )
    .unwrap();
    let out = run(&[
        "--input",
        p(&input),
        "--output",
        p(&output),
        "--device",
        "cpu",
    ]);
    let err = assert_clean_failure(&out, dir.path(), &["bad.txt"]);
    assert!(err.contains("bad.txt"), "{err}");
    assert!(err.contains("line 3"), "{err}");
    assert!(err.contains("UTF-8"), "{err}");
}

#[test]
fn failure_keeps_an_existing_output_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("bad.txt");
    let output = dir.path().join("out.jsonl");
    fs::write(&input, b"ok\n\x80\n").unwrap();
    fs::write(&output, b"previous results\n").unwrap();
    let out = run(&[
        "--input",
        p(&input),
        "--output",
        p(&output),
        "--device",
        "cpu",
    ]);
    let err = assert_clean_failure(&out, dir.path(), &["bad.txt", "out.jsonl"]);
    assert!(err.contains("line 2"), "{err}");
    assert_eq!(fs::read(&output).unwrap(), b"previous results\n");
}

#[test]
fn unknown_device_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    fs::write(&input, b"hello\n").unwrap();
    let output = dir.path().join("out.npy");
    let out = run(&[
        "--input",
        p(&input),
        "--output",
        p(&output),
        "--device",
        "tpu",
    ]);
    let err = assert_clean_failure(&out, dir.path(), &["in.txt"]);
    assert!(err.contains("tpu"), "{err}");
    assert!(err.contains("cuda:N"), "{err}");
}

#[test]
fn cuda_device_that_does_not_exist_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    fs::write(&input, b"hello\n").unwrap();
    let output = dir.path().join("out.npy");
    let out = run(&[
        "--input",
        p(&input),
        "--output",
        p(&output),
        "--device",
        "cuda:4096",
    ]);
    let err = assert_clean_failure(&out, dir.path(), &["in.txt"]);
    assert!(err.contains("cuda:4096"), "{err}");
}

#[test]
fn missing_model_dir_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    fs::write(&input, b"hello\n").unwrap();
    let output = dir.path().join("out.npy");
    let missing = dir.path().join("no-such-model");
    let out = run(&[
        "--input",
        p(&input),
        "--output",
        p(&output),
        "--model",
        p(&missing),
        "--device",
        "cpu",
    ]);
    let err = assert_clean_failure(&out, dir.path(), &["in.txt"]);
    assert!(err.contains("no-such-model"), "{err}");
}

#[test]
fn missing_input_file_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out.npy");
    let out = run(&[
        "--input",
        p(&dir.path().join("absent.txt")),
        "--output",
        p(&output),
        "--device",
        "cpu",
    ]);
    let err = assert_clean_failure(&out, dir.path(), &[]);
    assert!(err.contains("absent.txt"), "{err}");
}

#[test]
fn bad_output_extension_and_zero_batch_size_fail_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    fs::write(&input, b"hello\n").unwrap();

    let out = run(&[
        "--input",
        p(&input),
        "--output",
        p(&dir.path().join("out.csv")),
    ]);
    let err = assert_clean_failure(&out, dir.path(), &["in.txt"]);
    assert!(err.contains(".npy") && err.contains(".jsonl"), "{err}");

    let output = dir.path().join("out.npy");
    let out = run(&[
        "--input",
        p(&input),
        "--output",
        p(&output),
        "--batch-size",
        "0",
    ]);
    let err = assert_clean_failure(&out, dir.path(), &["in.txt"]);
    assert!(err.contains("batch-size"), "{err}");
}

#[test]
fn demo_mode_prints_embeddings_and_similarities() {
    let out = run(&["--device", "cpu"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(text.contains("device cpu"), "{text}");
    assert!(text.contains("dim 384"), "{text}");
    assert!(text.contains("cosine similarity"), "{text}");
}

#[test]
fn a_signal_mid_run_leaves_neither_output_nor_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("many.txt");
    let line = "a sentence long enough to keep the encoder busy for a while\n";
    fs::write(&input, line.repeat(400_000)).unwrap();
    let output = dir.path().join("out.npy");
    let partial = dir.path().join("out.npy.partial");
    let mut child = Command::new(binary())
        .current_dir(root())
        .args(["--input", p(&input), "--output", p(&output)])
        // The tiny test model: the first rows arrive within a second.
        .args(["--model", p(&root().join("fixtures/tiny/mean"))])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the example starts");
    // Wait until rows are being written, then ask it to stop.
    let started = std::time::Instant::now();
    while fs::metadata(&partial).map_or(0, |m| m.len()) < 4096 {
        assert!(
            started.elapsed().as_secs() < 120,
            "no partial output after 2 minutes"
        );
        assert!(child.try_wait().unwrap().is_none(), "the CLI ended early");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    assert!(stderr(&out).contains("interrupted"), "{}", stderr(&out));
    assert!(!output.exists(), "output written although interrupted");
    assert!(!partial.exists(), "the .partial file was left behind");
}

/// The real all-mpnet-base-v2 through the example, as the README shows it:
/// 768-wide rows in input order, equal to sentence-transformers' fixture.
#[test]
fn mpnet_npy_output_equals_sentence_transformers_in_input_order() {
    let model = root().join("models/all-mpnet-base-v2");
    assert!(
        model.join("model.safetensors").is_file(),
        "run scripts/setup"
    );
    let sentences: Vec<String> = serde_json::from_str(
        &fs::read_to_string(root().join("fixtures/mpnet/sentences.json")).unwrap(),
    )
    .unwrap();
    let want: Array2<f32> = read_npy(root().join("fixtures/mpnet/embeddings.npy")).unwrap();
    // Lines of very different lengths, in an order the batcher will change.
    let picks: Vec<usize> = vec![40, 3, sentences.len() - 1, 17, 120, 9];
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    let output = dir.path().join("out.npy");
    let lines: Vec<&str> = picks.iter().map(|&i| sentences[i].as_str()).collect();
    fs::write(&input, lines.join("\n") + "\n").unwrap();
    let out = run(&[
        "--model",
        p(&model),
        "--input",
        p(&input),
        "--output",
        p(&output),
        "--device",
        "cpu",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let got: Array2<f32> = read_npy(&output).unwrap();
    assert_eq!(got.shape(), &[picks.len(), 768]);
    for (row, &i) in picks.iter().enumerate() {
        let diff = (&got.row(row) - &want.row(i))
            .iter()
            .fold(0f32, |m, d| m.max(d.abs()));
        assert!(diff <= 1e-4, "line {row} (fixture #{i}): max |diff| {diff}");
    }
}
