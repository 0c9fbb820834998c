//! `smtl embed`: one sentence per line in, one embedding per line out,
//! streamed so that memory does not grow with the file, written atomically
//! (`OUT.partial` renamed on success), stopped cleanly by a signal.

use std::cell::{Cell, RefCell};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use smtl_embedding::SentenceEncoder;

use crate::io::{EmbedIoError, JsonlRowWriter, LineReader, NpyRowWriter};
use crate::progress::bytes_bar;
use crate::shard::{self, ShardManifest, ShardPlan, ShardSpec};
use crate::signals::{catch_signals, interrupted, Interrupted};

/// Flags of `smtl embed` (and of `embed_sentences`' file mode).
#[derive(clap::Args, Debug, Clone)]
pub struct EmbedArgs {
    /// Model directory in sentence-transformers layout (or a checkpoint).
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    /// Input text file: UTF-8, one sentence per line.
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,
    /// Output file: .npy (float32 [lines, dim]) or .jsonl.
    #[arg(long, value_name = "FILE")]
    pub output: PathBuf,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// Sentences per forward pass.
    #[arg(long, value_name = "N", default_value_t = 32)]
    pub batch_size: usize,
    /// fp32 (default, exact parity with sentence-transformers), or the
    /// opt-in fast paths bf16 and int8.
    #[arg(long, default_value = "fp32")]
    pub precision: String,
    /// Embed only block I of N of the input's lines (0-based I), writing
    /// that block's rows and a manifest `OUTPUT.shard.json` for `smtl
    /// merge`; `auto` takes I from JOB_COMPLETION_INDEX (Kubernetes
    /// Indexed Job) or SLURM_ARRAY_TASK_ID (Slurm job array).
    #[arg(long, value_name = "I/N|auto")]
    pub shard: Option<String>,
    /// The shard count N with `--shard auto` (Slurm: default
    /// SLURM_ARRAY_TASK_COUNT).
    #[arg(long, value_name = "N", requires = "shard")]
    pub shards: Option<usize>,
}

impl EmbedArgs {
    /// The block of the input this run embeds (`None`: all of it).
    pub fn shard_plan(&self) -> Result<Option<ShardPlan>> {
        let spec = match self.shard.as_deref() {
            None => return Ok(None),
            Some("auto") => ShardSpec::from_env(self.shards, |k| std::env::var(k).ok())?,
            Some(text) => {
                if self.shards.is_some() {
                    bail!("--shards goes with --shard auto; --shard I/N names the count itself");
                }
                ShardSpec::parse(text)?
            }
        };
        Ok(Some(shard::plan(&self.input, spec)?))
    }
}

/// The output format, from the output file's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Npy,
    Jsonl,
}

impl OutputFormat {
    pub fn from_path(path: &Path) -> Result<Self> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("npy") => Ok(Self::Npy),
            Some("jsonl") => Ok(Self::Jsonl),
            _ => bail!(
                "cannot tell the output format of {}: the extension must be .npy or .jsonl",
                path.display()
            ),
        }
    }
}

/// `cpu`, `cuda:0`, ... as users write devices.
pub fn device_name(device: tch::Device) -> String {
    match device {
        tch::Device::Cpu => "cpu".to_string(),
        tch::Device::Cuda(n) => format!("cuda:{n}"),
        other => format!("{other:?}"),
    }
}

/// Loads `model` with the command-line options, after the cheap checks.
pub fn load_encoder(
    model: &Path,
    device: &str,
    batch_size: usize,
    precision: &str,
) -> Result<SentenceEncoder> {
    if batch_size == 0 {
        bail!("--batch-size must be at least 1");
    }
    SentenceEncoder::builder(model)
        .device(device)
        .precision(precision)
        .batch_size(batch_size)
        .build()
        .with_context(|| format!("cannot load model {}", model.display()))
}

enum Sink {
    Npy(NpyRowWriter),
    Jsonl(JsonlRowWriter),
}

impl Sink {
    fn create(path: &Path, format: OutputFormat, dim: usize) -> Result<Self> {
        Ok(match format {
            OutputFormat::Npy => Self::Npy(NpyRowWriter::create(path, dim)?),
            OutputFormat::Jsonl => Self::Jsonl(JsonlRowWriter::create(path, dim)?),
        })
    }

    /// Writes the embeddings of `texts` (lines `first_index..`), row-major.
    fn write(&mut self, first_index: u64, texts: &[String], rows: &[f32]) -> Result<()> {
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

    fn finish(self) -> Result<u64> {
        Ok(match self {
            Self::Npy(w) => w.finish()?,
            Self::Jsonl(w) => w.finish()?,
        })
    }
}

/// The lines of a [`LineReader`] as plain strings for
/// [`SentenceEncoder::encode_stream`]: the first read error ends the
/// iteration and is kept for the caller.
struct Lines<R> {
    reader: LineReader<R>,
    error: Rc<RefCell<Option<EmbedIoError>>>,
    bytes: Rc<Cell<u64>>,
}

impl<R: std::io::BufRead> Iterator for Lines<R> {
    type Item = String;
    fn next(&mut self) -> Option<String> {
        let (_, line) = self.reader.next()?;
        self.bytes.set(self.reader.bytes_read());
        match line {
            Ok(line) => Some(line),
            Err(e) => {
                *self.error.borrow_mut() = Some(e);
                None
            }
        }
    }
}

/// What [`embed_file`] wrote.
#[derive(Debug, Clone, Copy)]
pub struct EmbedSummary {
    pub rows: u64,
    pub dim: usize,
    pub seconds: f64,
}

/// Embeds `input` into `output` with `encoder`, streaming; nothing is left
/// under the output's name (or its `.partial`) unless every line was
/// embedded.
pub fn embed_file(encoder: &SentenceEncoder, input: &Path, output: &Path) -> Result<EmbedSummary> {
    embed_block(encoder, input, output, None)
}

/// [`embed_file`] of one shard's block, then its manifest beside the output.
pub fn embed_block(
    encoder: &SentenceEncoder,
    input: &Path,
    output: &Path,
    shard: Option<&ShardPlan>,
) -> Result<EmbedSummary> {
    let format = OutputFormat::from_path(output)?;
    let (reader, first_line, lines, total_bytes) = match shard {
        None => {
            let total = std::fs::metadata(input).map(|m| m.len()).unwrap_or(0);
            (LineReader::open(input)?, 0, u64::MAX, total)
        }
        Some(p) => {
            let reader = LineReader::open_at(input, p.first_byte, p.first_line)?;
            (reader, p.first_line, p.lines, p.input_bytes - p.first_byte)
        }
    };
    let dim = usize::try_from(encoder.embedding_dim())?;
    let start = Instant::now();
    catch_signals()?;
    let mut sink = Sink::create(output, format, dim)?;
    let bar = bytes_bar(total_bytes);
    let error = Rc::new(RefCell::new(None));
    let bytes = Rc::new(Cell::new(0));
    let lines = Lines {
        reader,
        error: Rc::clone(&error),
        bytes: Rc::clone(&bytes),
    }
    .take(usize::try_from(lines).unwrap_or(usize::MAX));
    let result = (|| -> Result<()> {
        for chunk in encoder.encode_stream(lines) {
            if interrupted() {
                return Err(Interrupted("the partial output was removed").into());
            }
            let chunk = chunk?;
            let emb = chunk.embeddings.as_standard_layout();
            let rows = emb.as_slice().context("embeddings are not contiguous")?;
            sink.write(first_line + chunk.first_index, &chunk.texts, rows)?;
            bar.set_position(bytes.get());
            bar.set_message(format!(
                "{} lines",
                chunk.first_index + chunk.texts.len() as u64
            ));
        }
        if let Some(e) = error.borrow_mut().take() {
            return Err(e.into());
        }
        if interrupted() {
            return Err(Interrupted("the partial output was removed").into());
        }
        Ok(())
    })();
    bar.finish_and_clear();
    result?; // on error, dropping `sink` removes the partial file
    let rows = sink.finish()?;
    if let Some(p) = shard {
        let manifest = ShardManifest {
            shard: p.spec.index,
            shards: p.spec.count,
            first_line: p.first_line,
            lines: rows,
            total_lines: p.total_lines,
            input_bytes: p.input_bytes,
            dim,
            format: match format {
                OutputFormat::Npy => "npy".into(),
                OutputFormat::Jsonl => "jsonl".into(),
            },
        };
        let text = serde_json::to_string_pretty(&manifest)? + "\n";
        crate::commands::train::write_atomic(&ShardManifest::path_of(output), &text)?;
    }
    Ok(EmbedSummary {
        rows,
        dim,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Checks that the output can be written before the model loads.
pub fn check_output(output: &Path) -> Result<OutputFormat> {
    let format = OutputFormat::from_path(output)?;
    if let Some(parent) = output.parent().filter(|p| !p.as_os_str().is_empty()) {
        if !parent.is_dir() {
            bail!("output directory {} does not exist", parent.display());
        }
    }
    Ok(format)
}

pub fn run(args: &EmbedArgs) -> Result<()> {
    // Cheap checks first, before the model loads.
    check_output(&args.output)?;
    if !args.input.is_file() {
        // LineReader names the file and the OS reason.
        LineReader::open(&args.input)?;
    }
    let shard = args.shard_plan()?;
    let encoder = load_encoder(&args.model, &args.device, args.batch_size, &args.precision)?;
    let block = match &shard {
        Some(p) => format!(
            " (shard {}/{}: lines {}..{} of {})",
            p.spec.index,
            p.spec.count,
            p.first_line + 1,
            p.first_line + p.lines,
            p.total_lines
        ),
        None => String::new(),
    };
    eprintln!(
        "embedding {}{block} with {} (dim {}) on {}",
        args.input.display(),
        args.model.display(),
        encoder.embedding_dim(),
        device_name(encoder.device())
    );
    let s = embed_block(&encoder, &args.input, &args.output, shard.as_ref())?;
    eprintln!(
        "wrote {} embeddings of dim {} to {} in {:.1} s ({:.0} sentences/s)",
        s.rows,
        s.dim,
        args.output.display(),
        s.seconds,
        s.rows as f64 / s.seconds.max(1e-9)
    );
    Ok(())
}
