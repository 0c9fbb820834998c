//! Encoder throughput over a grid of sentence lengths x batch sizes, as a
//! table, a JSON file and a plot (how cost grows with the work):
//!
//! ```text
//! cargo run --release --example throughput_grid -- --out runs/throughput --precision fp32
//! ```
//!
//! Each cell encodes the same `--sentences` real texts of about L wordpieces
//! ([CLS]/[SEP] included) at batch size B: a warm-up encode, then
//! `--rounds` timed encodes, median reported. Texts of length L are real
//! sentences within ±10 % of L when the data holds enough of them, else
//! consecutive real sentences joined and cut at a word boundary to at most L
//! (the corpora of `cargo bench`, `benches/support/corpus.rs`).
//!
//! Writes `OUT/grid_<precision>.json` (one record a cell) and
//! `OUT/throughput_<precision>.png`: tokens/s against sentence length (a line
//! a batch size) and sentences/s against batch size (a line a length).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

mod common;

use clap::Parser;
use sentence_mtl::{Precision, SentenceEncoder};
use smtl_cli::plot::{plot_lines, LinePanel};
use tch::Device;

#[path = "../benches/support/corpus.rs"]
mod corpus;
use anyhow::Context;
use common::BoxError;
use corpus::{long_bucket, natural_bucket, real_sentences, Counter};

#[derive(Parser, Debug)]
#[command(about = "Encoder throughput over sentence lengths x batch sizes: table, JSON, plot")]
struct Cli {
    /// Output folder (created).
    #[arg(long, value_name = "DIR", default_value = "runs/throughput")]
    out: PathBuf,
    #[arg(long, value_name = "DIR", default_value = "models/all-MiniLM-L6-v2")]
    model: PathBuf,
    /// fp32 (exact), bf16 or int8.
    #[arg(long, default_value = "fp32")]
    precision: String,
    /// libtorch intra-op threads; 0 keeps libtorch's default (one per core).
    #[arg(long, value_name = "N", default_value_t = 0)]
    threads: i32,
    /// Texts per cell (the largest batch size should not exceed it).
    #[arg(long, value_name = "N", default_value_t = 128)]
    sentences: usize,
    #[arg(long, value_delimiter = ',', default_value = "1,8,32,128")]
    batch_sizes: Vec<usize>,
    /// Target wordpieces per text.
    #[arg(long, value_delimiter = ',', default_value = "10,30,64,128,256")]
    lengths: Vec<usize>,
    /// Timed encodes per cell (median reported).
    #[arg(long, value_name = "N", default_value_t = 3)]
    rounds: usize,
}

/// `n` texts of about `target` wordpieces (see the module docs).
fn bucket(all: &[String], counter: &Counter, target: usize, n: usize) -> Vec<String> {
    let (lo, hi) = (target * 9 / 10, target.div_ceil(10) * 11);
    natural_bucket(all, counter, lo, hi, n).unwrap_or_else(|| long_bucket(all, counter, target, n))
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn run(cli: &Cli) -> Result<(), BoxError> {
    if cli.sentences == 0 || cli.rounds == 0 {
        return Err(anyhow::anyhow!(
            "--sentences and --rounds must be at least 1"
        ));
    }
    if cli.batch_sizes.contains(&0) || cli.lengths.iter().any(|&l| l < 3) {
        return Err(anyhow::anyhow!(
            "batch sizes must be at least 1, lengths at least 3 wordpieces"
        ));
    }
    if cli.threads > 0 {
        tch::set_num_threads(cli.threads);
    }
    let precision: Precision = cli.precision.parse()?;
    let mut encoder = SentenceEncoder::from_dir(&cli.model, Device::Cpu)
        .with_context(|| format!("cannot load model {}", cli.model.display()))?;
    encoder.set_precision(precision)?;
    let max_len = encoder.tokenizer().max_len();
    if let Some(l) = cli.lengths.iter().find(|&&l| l > max_len) {
        return Err(anyhow::anyhow!(
            "length {l} exceeds the model's {max_len} wordpieces"
        ));
    }
    let counter = Counter::new(&encoder);
    let all = real_sentences();
    eprintln!(
        "throughput_grid: {precision}, {} libtorch threads, {} texts a cell, {} rounds",
        tch::get_num_threads(),
        cli.sentences,
        cli.rounds
    );

    println!("| wordpieces (mean) | batch | sentences/s | tokens/s |");
    println!("|---|---|---|---|");
    let mut records = Vec::new();
    for &target in &cli.lengths {
        let texts = bucket(&all, &counter, target, cli.sentences);
        let mean = counter.mean(&texts);
        for &batch in &cli.batch_sizes {
            encoder.set_batch_size(batch)?;
            encoder.encode(&texts[..batch.min(texts.len())])?;
            let times = (0..cli.rounds)
                .map(|_| {
                    let start = Instant::now();
                    encoder
                        .encode(&texts)
                        .map(|_| start.elapsed().as_secs_f64())
                })
                .collect::<Result<Vec<f64>, _>>()?;
            let seconds = median(times);
            let per_s = texts.len() as f64 / seconds;
            println!(
                "| {target} ({mean:.1}) | {batch} | {per_s:.1} | {:.0} |",
                per_s * mean
            );
            records.push(serde_json::json!({
                "target_wordpieces": target,
                "mean_wordpieces": mean,
                "batch_size": batch,
                "sentences": texts.len(),
                "seconds_median": seconds,
                "sentences_per_s": per_s,
                "tokens_per_s": per_s * mean,
            }));
        }
    }

    std::fs::create_dir_all(&cli.out)?;
    let json = cli.out.join(format!("grid_{precision}.json"));
    let meta = serde_json::json!({
        "precision": precision.to_string(),
        "threads": tch::get_num_threads(),
        "rounds": cli.rounds,
        "cells": records,
    });
    std::fs::write(&json, serde_json::to_string_pretty(&meta)?)?;

    let point = |r: &serde_json::Value, x: &str, y: &str| {
        (
            r[x].as_f64().unwrap_or(f64::NAN),
            r[y].as_f64().unwrap_or(f64::NAN),
        )
    };
    let by_batch = cli
        .batch_sizes
        .iter()
        .map(|&b| {
            let points = records
                .iter()
                .filter(|r| r["batch_size"] == b)
                .map(|r| point(r, "mean_wordpieces", "tokens_per_s"))
                .collect();
            (format!("batch {b}"), points)
        })
        .collect();
    let by_length = cli
        .lengths
        .iter()
        .map(|&l| {
            let points = records
                .iter()
                .filter(|r| r["target_wordpieces"] == l)
                .map(|r| point(r, "batch_size", "sentences_per_s"))
                .collect();
            (format!("~{l} wordpieces"), points)
        })
        .collect();
    let png = cli.out.join(format!("throughput_{precision}.png"));
    plot_lines(
        &[
            LinePanel {
                title: format!("Tokens/s against sentence length ({precision})"),
                x_desc: "wordpieces per sentence".into(),
                y_desc: "tokens/s".into(),
                series: by_batch,
            },
            LinePanel {
                title: format!("Sentences/s against batch size ({precision})"),
                x_desc: "batch size".into(),
                y_desc: "sentences/s".into(),
                series: by_length,
            },
        ],
        &png,
    )?;
    eprintln!("wrote {} and {}", json.display(), png.display());
    Ok(())
}

fn main() -> ExitCode {
    common::exit_code(run(&Cli::parse()))
}
