//! `smtl eval --model CKPT --task NAME --data FILE [--format F]`: scores a
//! labelled file with the metrics of the training report and prints them as
//! one JSON object on stdout.
//!
//! `smtl eval --model DIR --kind sentence-similarity --data FILE [--format
//! stsb|tsv|jsonl]` scores the embeddings of any sentence-transformers
//! directory (or checkpoint) on scored sentence pairs, as
//! sentence-transformers' `EmbeddingSimilarityEvaluator` does:
//! `{"pairs": N, "pearson_cosine": .., "spearman_cosine": ..}`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use smtl_data::ScoredPair;
use smtl_trainer::evaluate;

use crate::commands::predict::{choose_task, load_checkpoint};
use crate::data::{format_for, read, to_examples};

#[derive(clap::Args, Debug, Clone)]
pub struct EvalArgs {
    /// A checkpoint written by `smtl train` (e.g. OUT/best).
    #[arg(long, value_name = "CKPT")]
    pub model: PathBuf,
    /// The task to score; may be left out when the checkpoint has one task.
    #[arg(long, conflicts_with = "kind")]
    pub task: Option<String>,
    /// `sentence-similarity`: score the model's embeddings on scored pairs
    /// (any sentence-transformers directory; no task heads needed).
    #[arg(long, value_name = "KIND")]
    pub kind: Option<String>,
    /// Labelled data in one of the task kind's formats.
    #[arg(long, value_name = "FILE")]
    pub data: PathBuf,
    /// tsv, jsonl, conll, trec or hutto; stsb, tsv or jsonl with
    /// `--kind sentence-similarity` (default: from the extension).
    #[arg(long, value_name = "F")]
    pub format: Option<String>,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: String,
}

pub fn run(args: &EvalArgs) -> Result<()> {
    match args.kind.as_deref() {
        None => {}
        Some("sentence-similarity") => return run_similarity(args),
        Some(other) => bail!(
            "--kind {other:?} is not an evaluation kind: expected sentence-similarity \
             (a checkpoint's own tasks are scored with --task)"
        ),
    }
    let model = load_checkpoint(&args.model, &args.device)?;
    let task = choose_task(&model, args.task.as_deref())?;
    let format = format_for(&args.data, args.format.as_deref(), task.head.kind)?;
    let examples = to_examples(
        read(&args.data, format)?,
        task.head.kind,
        &task.labels,
        &task.name,
        &args.data,
    )?;
    eprintln!(
        "scoring task {} on {} examples of {}",
        task.name,
        examples.len(),
        args.data.display()
    );
    let eval = evaluate(&model, &task.name, &examples)?;
    println!("{}", serde_json::to_string(&eval.metrics)?);
    Ok(())
}

/// A file layout of scored sentence pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PairFormat {
    /// STS Benchmark's `sts-*.csv` (see `smtl_data::read_stsb`).
    Stsb,
    /// `sentence1<TAB>sentence2<TAB>score`.
    Tsv,
    /// `{"sentence1", "sentence2", "score"}` per line.
    Jsonl,
}

impl PairFormat {
    /// The format `--format` names, or else the file's extension's (`.csv`
    /// is STS Benchmark's layout).
    pub fn of(path: &Path, given: Option<&str>) -> Result<Self> {
        if let Some(given) = given {
            return match given {
                "stsb" => Ok(Self::Stsb),
                "tsv" => Ok(Self::Tsv),
                "jsonl" => Ok(Self::Jsonl),
                other => {
                    bail!("--format {other:?} is not a pair format: expected stsb, tsv or jsonl")
                }
            };
        }
        match path.extension().and_then(|e| e.to_str()) {
            Some("csv") => Ok(Self::Stsb),
            Some("tsv") => Ok(Self::Tsv),
            Some("jsonl") => Ok(Self::Jsonl),
            _ => bail!(
                "cannot infer the pair format of {} from its extension (.csv is STS Benchmark's \
                 layout, .tsv, .jsonl): pass --format stsb, tsv or jsonl",
                path.display()
            ),
        }
    }

    /// Reads the scored pairs of `path`.
    pub fn read(self, path: &Path) -> Result<Vec<ScoredPair>> {
        Ok(match self {
            Self::Stsb => smtl_data::read_stsb(path)?,
            Self::Tsv => smtl_data::read_scored_pair_tsv(path)?,
            Self::Jsonl => smtl_data::read_scored_pair_jsonl(path)?,
        })
    }
}

fn run_similarity(args: &EvalArgs) -> Result<()> {
    let pairs = PairFormat::of(&args.data, args.format.as_deref())?.read(&args.data)?;
    let encoder = crate::commands::embed::load_encoder(&args.model, &args.device, 32, "fp32")?;
    eprintln!(
        "scoring {} pairs of {} with {}",
        pairs.len(),
        args.data.display(),
        args.model.display()
    );
    let first: Vec<&str> = pairs.iter().map(|p| p.sentence1.as_str()).collect();
    let second: Vec<&str> = pairs.iter().map(|p| p.sentence2.as_str()).collect();
    let gold: Vec<f64> = pairs.iter().map(|p| p.score).collect();
    let report = smtl_embedding::evaluate_similarity(&encoder, &first, &second, &gold)
        .with_context(|| format!("cannot score {}", args.data.display()))?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}
