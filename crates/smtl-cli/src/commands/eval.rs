//! `smtl eval --model CKPT --task NAME --data FILE [--format F]`: scores a
//! labelled file with the metrics of the training report and prints them as
//! one JSON object on stdout.
//!
//! `smtl eval --model DIR --kind sentence-similarity --data FILE [--format
//! stsb|tsv|jsonl]` scores the embeddings of any sentence-transformers
//! directory (or checkpoint) on scored sentence pairs, as
//! sentence-transformers' `EmbeddingSimilarityEvaluator` does:
//! `{"pairs": N, "pearson_cosine": .., "spearman_cosine": ..}`; with
//! `--kind pair-ranking [--format tsv|jsonl]` on (anchor, positive) pairs:
//! `{"pairs", "candidates", "accuracy@1", "mrr@10", "recall@10"}`.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use smtl_heads::TaskKind;
use smtl_trainer::evaluate;

use crate::commands::predict::{choose_task, load_checkpoint};
use crate::data::{format_for, ranking_pairs, read, to_examples, Labelled};

#[derive(clap::Args, Debug, Clone)]
pub struct EvalArgs {
    /// A checkpoint written by `smtl train` (e.g. OUT/best).
    #[arg(long, value_name = "CKPT")]
    pub model: PathBuf,
    /// The task to score; may be left out when the checkpoint has one task.
    #[arg(long, conflicts_with = "kind")]
    pub task: Option<String>,
    /// `sentence-similarity` (scored pairs) or `pair-ranking` ((anchor,
    /// positive) pairs): score the model's embeddings (any
    /// sentence-transformers directory; no task heads needed).
    #[arg(long, value_name = "KIND")]
    pub kind: Option<String>,
    /// Labelled data in one of the task kind's formats.
    #[arg(long, value_name = "FILE")]
    pub data: PathBuf,
    /// tsv, jsonl, conll, trec, hutto or stsb, as the kind reads them
    /// (default: from the extension; `.csv` is STS Benchmark's layout).
    #[arg(long, value_name = "F")]
    pub format: Option<String>,
    /// `--kind pair-ranking` on scored pairs (`stsb`): the pairs scored at
    /// least this are the (anchor, positive) pairs.
    #[arg(long, value_name = "SCORE")]
    pub min_score: Option<f64>,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: String,
}

pub fn run(args: &EvalArgs) -> Result<()> {
    match args.kind.as_deref() {
        None => {}
        Some("sentence-similarity") => {
            return run_embedding_eval(args, TaskKind::SentenceSimilarity)
        }
        Some("pair-ranking") => return run_embedding_eval(args, TaskKind::PairRanking),
        Some(other) => bail!(
            "--kind {other:?} is not an evaluation kind: expected sentence-similarity or \
             pair-ranking (a checkpoint's own tasks are scored with --task)"
        ),
    }
    let model = load_checkpoint(&args.model, &args.device)?;
    let task = choose_task(&model, args.task.as_deref())?;
    let format = format_for(&args.data, args.format.as_deref(), task.head.kind)?;
    let examples = to_examples(
        with_min_score(
            read(&args.data, format, task.head.kind)?,
            task.head.kind,
            args.min_score,
        )?,
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

/// Scores the embeddings of `args.model` on pairs, without task heads.
fn run_embedding_eval(args: &EvalArgs, kind: TaskKind) -> Result<()> {
    let format = format_for(&args.data, args.format.as_deref(), kind)?;
    let pairs = read(&args.data, format, kind)?;
    let pairs = with_min_score(pairs, kind, args.min_score)?;
    let encoder = crate::commands::embed::load_encoder(&args.model, &args.device, 32, "fp32")?;
    let report = match pairs {
        Labelled::Scored(pairs) => {
            eprintln!(
                "scoring {} scored pairs of {} with {}",
                pairs.len(),
                args.data.display(),
                args.model.display()
            );
            let first: Vec<&str> = pairs.iter().map(|p| p.sentence1.as_str()).collect();
            let second: Vec<&str> = pairs.iter().map(|p| p.sentence2.as_str()).collect();
            let gold: Vec<f64> = pairs.iter().map(|p| p.score).collect();
            let report = smtl_embedding::evaluate_similarity(&encoder, &first, &second, &gold);
            serde_json::to_string(&report.with_context(|| cannot_score(args))?)?
        }
        Labelled::Ranked(pairs) => {
            eprintln!(
                "ranking {} (anchor, positive) pairs of {} with {}",
                pairs.len(),
                args.data.display(),
                args.model.display()
            );
            let anchors: Vec<&str> = pairs.iter().map(|p| p.anchor.as_str()).collect();
            let positives: Vec<&str> = pairs.iter().map(|p| p.positive.as_str()).collect();
            let report = smtl_embedding::evaluate_ranking(&encoder, &anchors, &positives);
            serde_json::to_string(&report.with_context(|| cannot_score(args))?)?
        }
        _ => unreachable!("read gives pairs for the pair kinds"),
    };
    println!("{report}");
    Ok(())
}

/// Scored pairs as ranking pairs (those scored at least `--min-score`)
/// for a ranking kind; `--min-score` anywhere else is a mistake.
fn with_min_score(pairs: Labelled, kind: TaskKind, min_score: Option<f64>) -> Result<Labelled> {
    match (kind, &pairs, min_score) {
        (TaskKind::PairRanking, Labelled::Scored(_), None) => {
            bail!("ranking scored pairs needs --min-score: the lowest score of a positive pair")
        }
        (TaskKind::PairRanking, Labelled::Scored(_), min) => Ok(ranking_pairs(pairs, min)),
        (_, _, Some(_)) => {
            bail!("--min-score applies to pair-ranking on scored pairs (--format stsb) only")
        }
        _ => Ok(pairs),
    }
}

fn cannot_score(args: &EvalArgs) -> String {
    format!("cannot score {}", args.data.display())
}
