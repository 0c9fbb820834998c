//! Embeds sentences with a sentence-transformers model.
//!
//! With no arguments: embeds a few sample sentences with
//! `models/all-MiniLM-L6-v2`, prints each embedding's dimension, norm and
//! first values, then their cosine-similarity matrix.
//!
//! File mode: one sentence per line in, one embedding per line out, streamed
//! so that memory does not grow with the file:
//!
//! ```text
//! cargo run --release --example embed_sentences -- --input sentences.txt --output emb.npy
//! cargo run --release --example embed_sentences -- --input sentences.txt --output emb.jsonl
//! ```
//!
//! `.npy` output is a float32 `[lines, dim]` matrix in input order; `.jsonl`
//! output has one `{"index", "text", "embedding"}` object per line.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

mod common;

use clap::Parser;
use common::BoxError;
use smtl_cli::commands::embed::{self, device_name, load_encoder};

#[derive(Parser, Debug)]
#[command(
    about = "Embed sentences with a sentence-transformers model",
    long_about = "Embed sentences with a sentence-transformers model.\n\n\
        Without --input/--output, embeds a few sample sentences and prints their \
        cosine similarities. With them, reads one UTF-8 sentence per line and writes \
        a float32 .npy matrix [lines, dim] or a .jsonl file, chosen by the extension \
        (the same code as `smtl embed`)."
)]
struct Cli {
    /// Input text file: UTF-8, one sentence per line.
    #[arg(long, value_name = "FILE", requires = "output")]
    input: Option<PathBuf>,
    /// Output file: .npy (float32 [lines, dim]) or .jsonl.
    #[arg(long, value_name = "FILE", requires = "input")]
    output: Option<PathBuf>,
    /// Model directory in sentence-transformers layout.
    #[arg(long, value_name = "DIR", default_value = "models/all-MiniLM-L6-v2")]
    model: PathBuf,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    device: String,
    /// Sentences per forward pass.
    #[arg(long, value_name = "N", default_value_t = 32)]
    batch_size: usize,
    /// fp32 (default, exact parity with sentence-transformers), or the
    /// opt-in fast paths bf16 and int8 (see docs/performance.md).
    #[arg(long, default_value = "fp32")]
    precision: String,
}

fn encoder(cli: &Cli) -> Result<sentence_mtl::SentenceEncoder, BoxError> {
    load_encoder(&cli.model, &cli.device, cli.batch_size, &cli.precision)
}

// ---------------------------------------------------------------------------
// Demo mode
// ---------------------------------------------------------------------------

const SAMPLES: [&str; 8] = [
    "A cat is sleeping on the warm windowsill.",
    "The kitten curled up and napped in the sunshine.",
    "The central bank raised interest rates to fight inflation.",
    "Mortgages are getting more expensive since the Fed hiked rates again.",
    "My Python script crashes with a KeyError while parsing the JSON file.",
    "The program throws an exception when it reads the JSON config.",
    "Whisk the eggs with sugar before folding in the flour.",
    "This cake recipe needs two cups of flour and three eggs.",
];

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb).max(1e-12)
}

fn demo(cli: &Cli) -> Result<(), BoxError> {
    let encoder = encoder(cli)?;
    println!(
        "model  {} (embedding dim {})",
        cli.model.display(),
        encoder.embedding_dim()
    );
    println!("device {}", device_name(encoder.device()));
    let start = Instant::now();
    let emb = encoder.encode(&SAMPLES)?;
    println!(
        "embedded {} sentences in {:.1} ms\n",
        SAMPLES.len(),
        start.elapsed().as_secs_f64() * 1e3
    );

    let rows: Vec<Vec<f32>> = emb.rows().into_iter().map(|r| r.to_vec()).collect();
    for (i, (text, row)) in SAMPLES.iter().zip(&rows).enumerate() {
        let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        let head: Vec<String> = row.iter().take(5).map(|v| format!("{v:+.4}")).collect();
        println!("[{i}] {text}");
        println!(
            "    dim {}  L2 norm {norm:.6}  first 5 [{}]",
            row.len(),
            head.join(", ")
        );
    }

    println!("\ncosine similarity");
    print!("     ");
    for j in 0..rows.len() {
        print!("{:>7}", format!("[{j}]"));
    }
    println!();
    for (i, a) in rows.iter().enumerate() {
        print!("{:<5}", format!("[{i}]"));
        for b in &rows {
            print!("{:>7.3}", cosine(a, b));
        }
        println!();
    }

    println!("\nnearest neighbour of each sentence");
    for (i, a) in rows.iter().enumerate() {
        let (j, sim) = rows
            .iter()
            .enumerate()
            .filter(|&(j, _)| j != i)
            .map(|(j, b)| (j, cosine(a, b)))
            .fold((i, f32::NEG_INFINITY), |best, cur| {
                if cur.1 > best.1 {
                    cur
                } else {
                    best
                }
            });
        println!("[{i}] -> [{j}]  {sim:.3}");
    }

    // The samples come in related pairs (0,1), (2,3), ...
    let (mut related, mut unrelated) = (Vec::new(), Vec::new());
    for i in 0..rows.len() {
        for j in i + 1..rows.len() {
            let s = cosine(&rows[i], &rows[j]);
            if i / 2 == j / 2 {
                related.push(s);
            } else {
                unrelated.push(s);
            }
        }
    }
    let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len() as f32;
    let max = |v: &[f32]| v.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let min = |v: &[f32]| v.iter().copied().fold(f32::INFINITY, f32::min);
    println!(
        "\nrelated pairs:   mean cosine {:.3} (min {:.3})\nunrelated pairs: mean cosine {:.3} (max {:.3})",
        mean(&related),
        min(&related),
        mean(&unrelated),
        max(&unrelated)
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// File mode: `smtl embed` itself
// ---------------------------------------------------------------------------

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match (&cli.input, &cli.output) {
        (Some(input), Some(output)) => embed::run(&embed::EmbedArgs {
            model: cli.model.clone(),
            input: input.clone(),
            output: output.clone(),
            device: cli.device.clone(),
            batch_size: cli.batch_size,
            precision: cli.precision.clone(),
            shard: None,
            shards: None,
        }),
        _ => demo(&cli),
    };
    smtl_cli::exit_code(result)
}
