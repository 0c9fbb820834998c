//! Times one `SentenceEncoder::encode` over a corpus file and prints one JSON
//! line: `{"sentences", "seconds", "sentences_per_s", "peak_rss_mb", ...}`.
//!
//! The Rust half of `scripts/bench-vs-python` (which runs it in its own
//! process, alternating with sentence-transformers):
//!
//! ```text
//! cargo run --release --example bench_encode -- \
//!     --input corpus.txt --batch-size 32 --threads 2 [--save emb.npy]
//! ```
//!
//! The input is UTF-8, one sentence per line. Timed: `encode` of the whole
//! corpus (tokenization, forward passes, pooling, normalisation, copy to an
//! ndarray), after an untimed warm-up encode of the first `--warmup`
//! sentences. Not timed: process start, model load, reading the file.
//! `peak_rss_mb` is the process's high-water resident set (`VmHWM` of
//! `/proc/self/status`), read after the timed run; it includes the model load.
//!
//! `--workers N` (default 1) measures inter-op parallelism instead
//! ([`ParallelEncoder`]): N threads, each with its own encoder over the same
//! weights and one libtorch thread, encode every N-th sentence.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

mod common;

use anyhow::Context;
use clap::Parser;
use common::BoxError;
use sentence_mtl::embedding::{EncoderOptions, ParallelEncoder};
use sentence_mtl::{DeviceSpec, Precision, SentenceEncoder};
use smtl_cli::io::LineReader;

#[derive(Parser, Debug)]
#[command(about = "Time SentenceEncoder::encode over a corpus file; print JSON")]
struct Cli {
    /// UTF-8 text, one sentence per line.
    #[arg(long, value_name = "FILE")]
    input: PathBuf,
    /// Model directory in sentence-transformers layout.
    #[arg(long, value_name = "DIR", default_value = "models/all-MiniLM-L6-v2")]
    model: PathBuf,
    /// Sentences per forward pass.
    #[arg(long, value_name = "N", default_value_t = 32)]
    batch_size: usize,
    /// libtorch intra-op threads (tch::set_num_threads); 0 keeps libtorch's default.
    #[arg(long, value_name = "N", default_value_t = 0)]
    threads: i32,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Inference precision: fp32 (exact), bf16 or int8 (opt-in fast paths).
    #[arg(long, default_value = "fp32")]
    precision: String,
    /// Sentences encoded once, untimed, before the timed run.
    #[arg(long, value_name = "N", default_value_t = 64)]
    warmup: usize,
    /// Also write the embeddings as a float32 .npy file (after timing).
    #[arg(long, value_name = "FILE")]
    save: Option<PathBuf>,
    /// Encoder threads over shared weights with one libtorch thread each,
    /// each encoding every N-th sentence (`--threads` is then ignored).
    #[arg(long, value_name = "N", default_value_t = 1)]
    workers: usize,
}

/// Peak resident set size of this process in MiB (Linux `VmHWM`).
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn run(cli: &Cli) -> Result<(), BoxError> {
    if cli.batch_size == 0 {
        return Err(anyhow::anyhow!("--batch-size must be at least 1"));
    }
    if cli.workers == 0 {
        return Err(anyhow::anyhow!("--workers must be at least 1"));
    }
    if cli.threads < 0 {
        return Err(anyhow::anyhow!("--threads must be 0 (default) or positive"));
    }
    if cli.threads > 0 {
        tch::set_num_threads(cli.threads);
    }
    let sentences = LineReader::open(&cli.input)?
        .map(|(_, line)| line)
        .collect::<Result<Vec<String>, _>>()?;
    if sentences.is_empty() {
        return Err(anyhow::anyhow!("{} holds no sentence", cli.input.display()));
    }

    let device = cli.device.parse::<DeviceSpec>()?.resolve()?;
    let options = EncoderOptions {
        batch_size: cli.batch_size,
        precision: cli.precision.parse::<Precision>()?,
        ..EncoderOptions::default()
    };
    let encoder = SentenceEncoder::from_dir_with(&cli.model, device, options)
        .with_context(|| format!("cannot load model {}", cli.model.display()))?;

    let warm = &sentences[..cli.warmup.min(sentences.len())];
    let mut encoder = ParallelEncoder::new(encoder, cli.workers)?;
    if !warm.is_empty() {
        // With several workers, each warms up on its share.
        encoder.encode(warm)?;
    }

    let start = Instant::now();
    let embeddings = encoder.encode(&sentences)?;
    let seconds = start.elapsed().as_secs_f64();
    let threads = if cli.workers > 1 {
        1
    } else {
        tch::get_num_threads()
    };
    let encoder = encoder.encoder();

    if let Some(path) = &cli.save {
        ndarray_npy::write_npy(path, &embeddings)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let json = serde_json::json!({
        "impl": "rust",
        "sentences": sentences.len(),
        "seconds": seconds,
        "sentences_per_s": sentences.len() as f64 / seconds,
        "peak_rss_mb": peak_rss_mb(),
        "batch_size": cli.batch_size,
        "threads": threads,
        "workers": cli.workers,
        "dim": embeddings.ncols(),
        "precision": encoder.options().precision.to_string(),
    });
    println!("{json}");
    Ok(())
}

fn main() -> ExitCode {
    common::exit_code(run(&Cli::parse()))
}
