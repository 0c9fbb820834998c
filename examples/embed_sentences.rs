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

use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

mod common;

use clap::Parser;
use common::BoxError;
use indicatif::{ProgressBar, ProgressStyle};
use sentence_mtl::embedding::{EncoderOptions, JsonlRowWriter, LineReader, NpyRowWriter};
use sentence_mtl::{DeviceSpec, Precision, SentenceEncoder};
use tch::Device;

/// Lines embedded per call to the encoder (which sorts by length within it).
const CHUNK_LINES: usize = 4096;
/// ...or fewer, once the chunk holds this many bytes of text.
const CHUNK_BYTES: usize = 8 << 20;

#[derive(Parser, Debug)]
#[command(
    about = "Embed sentences with a sentence-transformers model",
    long_about = "Embed sentences with a sentence-transformers model.\n\n\
        Without --input/--output, embeds a few sample sentences and prints their \
        cosine similarities. With them, reads one UTF-8 sentence per line and writes \
        a float32 .npy matrix [lines, dim] or a .jsonl file, chosen by the extension."
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutputFormat {
    Npy,
    Jsonl,
}

impl OutputFormat {
    fn from_path(path: &Path) -> Result<Self, BoxError> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("npy") => Ok(Self::Npy),
            Some("jsonl") => Ok(Self::Jsonl),
            _ => Err(format!(
                "cannot tell the output format of {}: the extension must be .npy or .jsonl",
                path.display()
            )
            .into()),
        }
    }
}

fn device_name(device: Device) -> String {
    match device {
        Device::Cpu => "cpu".to_string(),
        Device::Cuda(n) => format!("cuda:{n}"),
        other => format!("{other:?}"),
    }
}

/// Loads the model after the cheap checks of the options.
fn load_encoder(cli: &Cli) -> Result<SentenceEncoder, BoxError> {
    if cli.batch_size == 0 {
        return Err("--batch-size must be at least 1".into());
    }
    let precision: Precision = cli.precision.parse()?;
    let spec: DeviceSpec = cli.device.parse()?;
    let device = spec.resolve()?;
    let options = EncoderOptions {
        batch_size: cli.batch_size,
        precision,
        ..EncoderOptions::default()
    };
    SentenceEncoder::from_dir_with(&cli.model, device, options).map_err(|e| {
        Context {
            message: format!("cannot load model {}", cli.model.display()),
            source: e.into(),
        }
        .into()
    })
}

/// An error with what was being done in front of it.
#[derive(Debug)]
struct Context {
    message: String,
    source: BoxError,
}

impl std::fmt::Display for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl Error for Context {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(self.source.as_ref())
    }
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
    let encoder = load_encoder(cli)?;
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
// File mode
// ---------------------------------------------------------------------------

enum Sink {
    Npy(NpyRowWriter),
    Jsonl(JsonlRowWriter),
}

impl Sink {
    fn create(path: &Path, format: OutputFormat, dim: usize) -> Result<Self, BoxError> {
        Ok(match format {
            OutputFormat::Npy => Self::Npy(NpyRowWriter::create(path, dim)?),
            OutputFormat::Jsonl => Self::Jsonl(JsonlRowWriter::create(path, dim)?),
        })
    }

    /// Writes the embeddings of `texts` (lines `first_index..`), row-major.
    fn write(&mut self, first_index: u64, texts: &[String], rows: &[f32]) -> Result<(), BoxError> {
        match self {
            Self::Npy(w) => w.write_rows(rows)?,
            Self::Jsonl(w) => {
                let dim = rows.len() / texts.len().max(1);
                for (k, (text, row)) in texts.iter().zip(rows.chunks_exact(dim)).enumerate() {
                    w.write_row(first_index + k as u64, text, row)?;
                }
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<u64, BoxError> {
        Ok(match self {
            Self::Npy(w) => w.finish()?,
            Self::Jsonl(w) => w.finish()?,
        })
    }
}

/// Set by SIGINT, SIGTERM or SIGHUP; the streaming loop stops at the next
/// batch, and dropping the unfinished output removes its `.partial` file.
static INTERRUPTED: OnceLock<Arc<AtomicBool>> = OnceLock::new();

/// Installs the handlers: a first signal asks for a clean stop, a second
/// one terminates at once (the default behaviour).
fn catch_signals() -> Result<(), BoxError> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let flag = INTERRUPTED.get_or_init(|| Arc::new(AtomicBool::new(false)));
    for sig in [SIGINT, SIGTERM, SIGHUP] {
        signal_hook::flag::register_conditional_shutdown(sig, 130, Arc::clone(flag))?;
        signal_hook::flag::register(sig, Arc::clone(flag))?;
    }
    Ok(())
}

fn interrupted() -> bool {
    INTERRUPTED.get().is_some_and(|f| f.load(Ordering::Relaxed))
}

#[derive(Debug)]
struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted by a signal; the partial output was removed")
    }
}

impl Error for Interrupted {}

/// Embeds `reader`'s lines chunk by chunk into `sink`, in input order.
fn stream<R: std::io::BufRead>(
    encoder: &SentenceEncoder,
    reader: &mut LineReader<R>,
    sink: &mut Sink,
    bar: &ProgressBar,
) -> Result<(), BoxError> {
    let mut chunk: Vec<String> = Vec::with_capacity(CHUNK_LINES);
    let mut chunk_bytes = 0usize;
    let mut first_index = 0u64;
    loop {
        let line = reader.next();
        let end = line.is_none();
        if let Some((_, line)) = line {
            let line = line?;
            chunk_bytes += line.len();
            chunk.push(line);
        }
        let full = chunk.len() >= CHUNK_LINES || chunk_bytes >= CHUNK_BYTES;
        if (full || end) && interrupted() {
            return Err(Interrupted.into());
        }
        if (full || end) && !chunk.is_empty() {
            let emb = encoder.encode(&chunk)?;
            let emb = emb.as_standard_layout();
            let rows = emb.as_slice().ok_or("embeddings are not contiguous")?;
            sink.write(first_index, &chunk, rows)?;
            first_index += chunk.len() as u64;
            chunk.clear();
            chunk_bytes = 0;
            bar.set_position(reader.bytes_read());
            bar.set_message(format!("{first_index} lines"));
        }
        if end {
            return Ok(());
        }
    }
}

fn embed_file(cli: &Cli, input: &Path, output: &Path) -> Result<(), BoxError> {
    // Cheap checks first, before the model loads.
    let format = OutputFormat::from_path(output)?;
    if let Some(parent) = output.parent().filter(|p| !p.as_os_str().is_empty()) {
        if !parent.is_dir() {
            return Err(format!("output directory {} does not exist", parent.display()).into());
        }
    }
    let mut reader = LineReader::open(input)?;
    let total_bytes = fs::metadata(input).map(|m| m.len()).unwrap_or(0);

    let encoder = load_encoder(cli)?;
    let dim = usize::try_from(encoder.embedding_dim())?;
    eprintln!(
        "embedding {} with {} (dim {dim}) on {}",
        input.display(),
        cli.model.display(),
        device_name(encoder.device())
    );
    let start = Instant::now();
    catch_signals()?;
    let mut sink = Sink::create(output, format, dim)?;

    let bar = ProgressBar::new(total_bytes).with_style(
        ProgressStyle::with_template(
            "{bar:40} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );

    let result = stream(&encoder, &mut reader, &mut sink, &bar);
    bar.finish_and_clear();
    result?; // on error, dropping `sink` removes the partial file
    let rows = sink.finish()?;
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "wrote {rows} embeddings of dim {dim} to {} in {secs:.1} s ({:.0} sentences/s)",
        output.display(),
        rows as f64 / secs.max(1e-9)
    );
    Ok(())
}

// ---------------------------------------------------------------------------

/// `error: top: cause: root cause`, skipping causes already in the message.
fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match (&cli.input, &cli.output) {
        (Some(input), Some(output)) => embed_file(&cli, input, output),
        _ => demo(&cli),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", common::report(err.as_ref()));
            if err.is::<Interrupted>() {
                ExitCode::from(130)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
