//! Trains TREC question type (Task A, sentence classification) and WNUT-16
//! NER (Task B, token classification) on one shared all-MiniLM-L6-v2 encoder,
//! evaluates the best dev checkpoint on test, and writes into `--out`:
//! `best/` and `last/` checkpoints, `metrics.jsonl`, `curves.png`,
//! `report.json` and `predictions/{trec,wnut16}.jsonl`.
//!
//! `cargo run --release --example train_multitask -- --out runs/mtl`

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod common;

use clap::Parser;
use common::{BoxError, ModelDataDevice, TASK_A, TASK_B};
use sentence_mtl::heads::{MultiTaskModel, Prediction, SharedEncoderModel};
use sentence_mtl::trainer::{
    evaluate, Checkpoints, LossWeighting, PreparedTask, SamplingStrategy, TrainConfig,
    TrainObserver, TrainPrecision, Trainer,
};
use sentence_mtl::SentenceEncoder;
use serde_json::json;
use smtl_cli::metrics_log::{Curves, RunLog};
use smtl_cli::progress::TrainProgress;

#[derive(Parser, Debug)]
#[command(about = "Multi-task fine-tuning: TREC-6 question type + WNUT-16 NER on a shared encoder")]
struct Args {
    /// Output directory (checkpoints, metrics, report, predictions).
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value_t = 3)]
    epochs: usize,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    #[command(flatten)]
    common: ModelDataDevice,
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    #[arg(long, default_value_t = 5e-5)]
    backbone_lr: f64,
    #[arg(long, default_value_t = 1e-3)]
    head_lr: f64,
    /// Head learning rate of the NER task (defaults to --head-lr).
    #[arg(long)]
    ner_head_lr: Option<f64>,
    #[arg(long, default_value_t = 0.01)]
    weight_decay: f64,
    #[arg(long, default_value_t = 0.1)]
    warmup_ratio: f64,
    #[arg(long, default_value_t = 1.0)]
    max_grad_norm: f64,
    #[arg(long, default_value_t = 1)]
    grad_accumulation: usize,
    /// round-robin | proportional | temperature:T
    #[arg(long, default_value = "proportional")]
    sampling: String,
    /// fixed | uncertainty | fixed:trec=1,wnut16=2
    #[arg(long, default_value = "fixed")]
    loss_weighting: String,
    #[arg(long)]
    layerwise_lr_decay: Option<f64>,
    /// Frozen groups (repeatable): all, backbone, bottom:K, embeddings, layer.N, head:TASK.
    #[arg(long)]
    freeze: Vec<String>,
    /// Stop after this many optimizer steps (smoke tests).
    #[arg(long, default_value_t = 0)]
    max_steps: usize,
    /// Give both heads a hidden layer of this width (an MLP head) instead of
    /// the default linear head.
    #[arg(long)]
    head_hidden: Option<i64>,
    /// fp32 (exact) or bf16 (mixed precision: bf16 products, fp32 weights).
    #[arg(long, default_value = "fp32")]
    precision: TrainPrecision,
    /// Resume from a checkpoint directory (e.g. OUT/last).
    #[arg(long)]
    resume: Option<PathBuf>,
}

fn write_predictions(
    path: &Path,
    task: &PreparedTask,
    predictions: &[Prediction],
) -> Result<(), BoxError> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    for (index, p) in task.test_indices.iter().zip(predictions) {
        let line = match p {
            Prediction::Label { id, .. } => json!({"index": index, "label": task.vocab.label(*id)}),
            Prediction::Tags { ids, .. } => {
                json!({"index": index, "tags": ids.iter().map(|&i| task.vocab.label(i)).collect::<Vec<_>>()})
            }
            Prediction::PairScore { score, .. } => json!({"index": index, "score": score}),
        };
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    Ok(())
}

fn run(args: Args) -> Result<(), BoxError> {
    let device = args.common.device()?;
    // Heads are initialised from libtorch's generator: seed it for reproducible runs.
    tch::manual_seed(args.seed as i64);
    let (mut trec, mut wnut) = args.common.trec_and_wnut()?;
    trec.head.hidden = args.head_hidden;
    wnut.head.hidden = args.head_hidden;
    eprintln!(
        "data: {TASK_A} {}/{}/{} (train/dev/test), {TASK_B} {}/{}/{}; device {device:?}",
        trec.data.train.len(),
        trec.data.dev.len(),
        trec.test.len(),
        wnut.data.train.len(),
        wnut.data.dev.len(),
        wnut.test.len()
    );
    let mut config = TrainConfig {
        epochs: args.epochs,
        batch_size: args.batch_size,
        seed: args.seed,
        backbone_lr: args.backbone_lr,
        backbone_weight_decay: args.weight_decay,
        head_lr: args.head_lr,
        head_weight_decay: args.weight_decay,
        layerwise_lr_decay: args.layerwise_lr_decay,
        warmup_ratio: args.warmup_ratio,
        max_grad_norm: args.max_grad_norm,
        grad_accumulation: args.grad_accumulation,
        sampling: args.sampling.parse::<SamplingStrategy>()?,
        loss_weighting: args.loss_weighting.parse::<LossWeighting>()?,
        freeze: args
            .freeze
            .iter()
            .map(|f| f.parse())
            .collect::<Result<_, _>>()?,
        max_steps: args.max_steps,
        precision: args.precision,
        ..TrainConfig::default()
    };
    if let Some(lr) = args.ner_head_lr {
        config.head_lr_overrides.insert(TASK_B.to_string(), lr);
    }
    let tasks = vec![trec.data.clone(), wnut.data.clone()];
    let mut trainer = match &args.resume {
        Some(dir) => Trainer::<SharedEncoderModel>::resume(dir, tasks, device)?,
        None => {
            let encoder = SentenceEncoder::from_dir(&args.common.model, device)?;
            let mut model = SharedEncoderModel::new(encoder);
            model.add_task(TASK_A, trec.head.clone(), trec.vocab.labels().to_vec())?;
            model.add_task(TASK_B, wnut.head.clone(), wnut.vocab.labels().to_vec())?;
            Trainer::new(model, tasks, config)?
        }
    };
    let mut checkpoints = Checkpoints::new(&args.out);
    let mut log = RunLog::new(args.out.join("metrics.jsonl"));
    let mut curves = Curves {
        log: args.out.join("metrics.jsonl"),
        png: args.out.join("curves.png"),
    };
    let mut progress = TrainProgress::new();
    let summary = trainer.fit(&mut [
        &mut checkpoints as &mut dyn TrainObserver,
        &mut log,
        &mut curves,
        &mut progress,
    ])?;
    drop(progress);
    eprintln!(
        "trained in {:.0}s; best dev score {:.4} after epoch {}",
        summary.seconds,
        summary.best_score.unwrap_or(f64::NAN),
        summary
            .best_epoch
            .map_or("-".to_string(), |e| e.to_string())
    );

    // Test: the best dev checkpoint, never tuned on.
    let best = SharedEncoderModel::load(&args.out.join("best"), device)?;
    std::fs::create_dir_all(args.out.join("predictions"))?;
    let mut report = serde_json::Map::new();
    for task in [&trec, &wnut] {
        let eval = evaluate(&best, &task.data.name, &task.test)?;
        write_predictions(
            &args
                .out
                .join("predictions")
                .join(format!("{}.jsonl", task.data.name)),
            task,
            &eval.predictions,
        )?;
        report.insert(task.data.name.clone(), eval.metrics.to_json());
    }
    report.insert(
        "run".into(),
        json!({
            "train_seconds": summary.seconds,
            "best_epoch": summary.best_epoch,
            "best_dev_score": summary.best_score,
            "config": trainer.config(),
            "tasks": best.tasks().iter().map(|t| (t.name.clone(), t.labels.clone())).collect::<BTreeMap<_, _>>(),
        }),
    );
    let a = &report[TASK_A];
    let b = &report[TASK_B];
    println!(
        "test: {TASK_A} accuracy {:.4} macro_f1 {:.4} | {TASK_B} entity_f1 {:.4}",
        a["accuracy"].as_f64().unwrap_or(f64::NAN),
        a["macro_f1"].as_f64().unwrap_or(f64::NAN),
        b["entity_f1"].as_f64().unwrap_or(f64::NAN)
    );
    std::fs::write(
        args.out.join("report.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    Ok(())
}

fn main() -> ExitCode {
    common::exit_code(run(Args::parse()))
}
