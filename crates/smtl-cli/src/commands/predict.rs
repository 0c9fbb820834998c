//! `smtl predict --model CKPT --task NAME --input FILE --output OUT.jsonl`:
//! one input per line, one JSON object per line in input order.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::json;
use smtl_backbone::DeviceSpec;
use smtl_heads::{Example, MultiTaskModel, Prediction, SharedEncoderModel, TaskSpec};

use crate::io::{AtomicFile, LineReader};
use crate::signals::{catch_signals, interrupted, Interrupted};

#[derive(clap::Args, Debug, Clone)]
pub struct PredictArgs {
    /// A checkpoint written by `smtl train` (e.g. OUT/best).
    #[arg(long, value_name = "CKPT")]
    pub model: PathBuf,
    /// The task whose head predicts; may be left out when the checkpoint
    /// has one task.
    #[arg(long)]
    pub task: Option<String>,
    /// UTF-8 text, one input per line (token tasks: words split on
    /// whitespace; pair tasks: `sentence1<TAB>sentence2`).
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,
    /// JSON lines out: {"index", "label", "score"} or {"index", "tags"}.
    #[arg(long, value_name = "OUT.jsonl")]
    pub output: PathBuf,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: String,
}

/// One output line: `{"index": i, "label": L, "score": p}`,
/// `{"index": i, "tags": [...]}` or, for pair tasks, `{"index": i,
/// "score": cosine}`.
pub fn prediction_json(index: usize, prediction: &Prediction) -> serde_json::Value {
    match prediction {
        Prediction::Label { label, score, .. } => {
            json!({"index": index, "label": label, "score": score})
        }
        Prediction::Tags { tags, .. } => json!({"index": index, "tags": tags}),
        Prediction::PairScore { score, .. } => json!({"index": index, "score": score}),
    }
}

/// Loads a checkpoint of `smtl train`; a directory that is none says so.
pub fn load_checkpoint(dir: &Path, device: &str) -> Result<SharedEncoderModel> {
    if !dir.is_dir() {
        bail!("checkpoint directory {} does not exist", dir.display());
    }
    if !dir.join("tasks.json").is_file() {
        bail!(
            "{} is not a checkpoint of `smtl train`: it has no tasks.json (a plain \
             sentence-transformers model has no task heads; `smtl embed` embeds with it)",
            dir.display()
        );
    }
    let device = device.parse::<DeviceSpec>()?.resolve()?;
    SharedEncoderModel::load(dir, device)
        .with_context(|| format!("cannot load checkpoint {}", dir.display()))
}

/// The task named `name`, or the only one when `name` is `None`; `None`
/// when there is no such task (callers say why in their own terms).
pub fn find_task<'a>(tasks: &'a [TaskSpec], name: Option<&str>) -> Option<&'a TaskSpec> {
    match (name, tasks) {
        (Some(n), _) => tasks.iter().find(|t| t.name == n),
        (None, [only]) => Some(only),
        (None, _) => None,
    }
}

/// The task names, comma-separated, for messages.
pub fn task_names(tasks: &[TaskSpec]) -> String {
    tasks
        .iter()
        .map(|t| t.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The task `name` of `model`, or its only task when `name` is `None`.
pub fn choose_task(model: &SharedEncoderModel, name: Option<&str>) -> Result<TaskSpec> {
    let tasks = model.tasks();
    if let Some(task) = find_task(&tasks, name) {
        return Ok(task.clone());
    }
    match name {
        Some(n) => bail!(
            "unknown task {n:?}: the checkpoint's tasks are {}",
            task_names(&tasks)
        ),
        None => bail!(
            "the checkpoint has {} tasks: choose one with --task ({})",
            tasks.len(),
            task_names(&tasks)
        ),
    }
}

/// Lines predicted per call.
const CHUNK: usize = 1024;

pub fn run(args: &PredictArgs) -> Result<()> {
    let mut reader = LineReader::open(&args.input)?;
    if args.output.extension().and_then(|e| e.to_str()) != Some("jsonl") {
        bail!(
            "--output must name a .jsonl file, got {}",
            args.output.display()
        );
    }
    let model = load_checkpoint(&args.model, &args.device)?;
    let task = choose_task(&model, args.task.as_deref())?;
    let kind = task.head.kind.behaviour();
    catch_signals()?;
    let mut out = AtomicFile::create(&args.output)?;
    let mut index = 0usize;
    let mut chunk: Vec<Example> = Vec::with_capacity(CHUNK);
    loop {
        let line = reader.next();
        let end = line.is_none();
        if let Some((number, line)) = line {
            let line = line?;
            // A line the task cannot read is named here, not inside a chunk.
            let example = kind
                .unlabelled(&line)
                .with_context(|| format!("{}:{number}", args.input.display()))?;
            chunk.push(example);
        }
        if chunk.len() >= CHUNK || (end && !chunk.is_empty()) {
            if interrupted() {
                return Err(Interrupted("no output was written").into());
            }
            let predictions = model.predict_examples(&task.name, &chunk)?;
            let mut text = String::new();
            for p in &predictions {
                text.push_str(&prediction_json(index, p).to_string());
                text.push('\n');
                index += 1;
            }
            out.write_all(text.as_bytes())?;
            chunk.clear();
        }
        if end {
            break;
        }
    }
    out.commit()?;
    eprintln!(
        "wrote {index} predictions of task {} to {}",
        task.name,
        args.output.display()
    );
    Ok(())
}
