//! `smtl eval --model CKPT --task NAME --data FILE [--format F]`: scores a
//! labelled file with the metrics of the training report and prints them as
//! one JSON object on stdout.

use std::path::PathBuf;

use anyhow::Result;
use smtl_trainer::evaluate;

use crate::commands::predict::{choose_task, load_checkpoint};
use crate::data::{format_for, read, to_examples};

#[derive(clap::Args, Debug, Clone)]
pub struct EvalArgs {
    /// A checkpoint written by `smtl train` (e.g. OUT/best).
    #[arg(long, value_name = "CKPT")]
    pub model: PathBuf,
    /// The task to score; may be left out when the checkpoint has one task.
    #[arg(long)]
    pub task: Option<String>,
    /// Labelled data in one of the task kind's formats.
    #[arg(long, value_name = "FILE")]
    pub data: PathBuf,
    /// tsv, jsonl, conll, trec or hutto (default: from the extension).
    #[arg(long, value_name = "F")]
    pub format: Option<String>,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: String,
}

pub fn run(args: &EvalArgs) -> Result<()> {
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
