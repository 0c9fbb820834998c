//! `smtl train --config RUN.toml --out DIR [--resume DIR/last]`: multi-task
//! training on the user's files, then the test splits scored with the best
//! dev checkpoint.
//!
//! Writes into `--out`: `best/`, `last/`, `metrics.jsonl`, `curves.png`,
//! `report.json` and `predictions/NAME.jsonl` for every task with a test
//! split.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde_json::json;
use smtl_backbone::DeviceSpec;
use smtl_embedding::SentenceEncoder;
use smtl_heads::{MultiTaskModel, SharedEncoderModel};
use smtl_trainer::{evaluate, Checkpoints, TaskData, TrainObserver, Trainer};

use crate::config::RunConfig;
use crate::data::{load_task, TaskFiles};
use crate::metrics_log::{Curves, RunLog};
use crate::progress::TrainProgress;
use crate::signals::{catch_signals, interrupted, Interrupted, StopOnSignal};

#[derive(clap::Args, Debug, Clone)]
pub struct TrainArgs {
    /// Run config (TOML): model, tasks and their files, optimizer.
    #[arg(long, value_name = "RUN.toml")]
    pub config: PathBuf,
    /// Output directory: checkpoints, metrics, curves, report, predictions.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Continue a run from its checkpoint (OUT/last).
    #[arg(long, value_name = "DIR/last")]
    pub resume: Option<PathBuf>,
}

/// What a finished run reports.
pub struct TrainOutcome {
    pub report: serde_json::Value,
}

/// A model from `config.model`: a checkpoint of `smtl train` (its heads
/// kept) or any sentence-transformers directory, with a head for every task
/// the checkpoint lacks. Heads are initialised from libtorch's generator,
/// which the caller seeds.
fn build_model(
    config: &RunConfig,
    tasks: &[TaskFiles],
    device: tch::Device,
) -> Result<SharedEncoderModel> {
    let is_checkpoint = config.model.join("tasks.json").is_file();
    let mut model = if is_checkpoint {
        SharedEncoderModel::load(&config.model, device)
    } else {
        SentenceEncoder::from_dir(&config.model, device)
            .map(SharedEncoderModel::new)
            .map_err(Into::into)
    }
    .with_context(|| format!("cannot load model {}", config.model.display()))?;
    let existing = model.tasks();
    for t in tasks {
        let p = &t.prepared;
        match existing.iter().find(|s| s.name == p.data.name) {
            Some(spec)
                if spec.labels == p.vocab.labels()
                    && spec.head.kind == p.head.kind
                    && spec.head.objective == p.head.objective => {}
            Some(spec) => bail!(
                "task {:?}: the checkpoint {} has a {} head over labels [{}], the data gives [{}]",
                p.data.name,
                config.model.display(),
                spec.head.kind.id(),
                spec.labels.join(", "),
                p.vocab.labels().join(", ")
            ),
            None => model.add_task(&p.data.name, p.head.clone(), p.vocab.labels().to_vec())?,
        }
    }
    Ok(model)
}

/// Writes `text` to `path` through a temporary file and a rename.
pub fn write_atomic(path: &Path, text: &str) -> Result<()> {
    let mut file = crate::io::AtomicFile::create(path)?;
    file.write_all(text.as_bytes())?;
    file.commit()?;
    Ok(())
}

/// Trains `config` into `out`; `resume` continues from a checkpoint.
pub fn train(config: &RunConfig, out: &Path, resume: Option<&Path>) -> Result<TrainOutcome> {
    let device = config.device.parse::<DeviceSpec>()?.resolve()?;
    let tasks: Vec<TaskFiles> = config
        .tasks
        .iter()
        .map(|t| load_task(t).with_context(|| format!("task {:?}", t.name)))
        .collect::<Result<_>>()?;
    for t in &tasks {
        let p = &t.prepared;
        eprintln!(
            "task {}: {} train / {} dev / {} test{}",
            p.data.name,
            p.data.train.len(),
            p.data.dev.len(),
            p.test.len(),
            if t.carved.is_empty() {
                String::new()
            } else {
                format!(" ({} carved from train)", t.carved.join(" and "))
            }
        );
    }
    let data: Vec<TaskData> = tasks.iter().map(|t| t.prepared.data.clone()).collect();
    let mut trainer = match resume {
        Some(dir) => {
            let mut trainer = Trainer::<SharedEncoderModel>::resume(dir, data, device)
                .with_context(|| format!("cannot resume from {}", dir.display()))?;
            // The checkpoint fixes the run; when to stop is this call's.
            trainer.set_max_steps(config.train.max_steps);
            trainer
        }
        None => {
            // Heads are initialised from libtorch's generator: seeded for
            // reproducible runs (the same order as train_multitask).
            tch::manual_seed(config.train.seed as i64);
            let model = build_model(config, &tasks, device)?;
            Trainer::new(model, data, config.train.clone())?
        }
    };
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    catch_signals()?;
    let mut checkpoints = Checkpoints::new(out).every_steps(config.checkpoint_every_steps);
    let mut log = RunLog::new(out.join("metrics.jsonl"));
    let mut curves = Curves {
        log: out.join("metrics.jsonl"),
        png: out.join("curves.png"),
    };
    let mut progress = TrainProgress::new();
    let mut stop = StopOnSignal;
    let summary = {
        let mut observers: [&mut dyn TrainObserver; 5] = [
            &mut checkpoints,
            &mut log,
            &mut curves,
            &mut progress,
            &mut stop,
        ];
        trainer.fit(&mut observers)?
    };
    drop(progress);
    if interrupted() {
        return Err(Interrupted("last/ holds the checkpoint to --resume from").into());
    }
    eprintln!(
        "trained in {:.0}s; best dev score {} after epoch {}",
        summary.seconds,
        summary
            .best_score
            .map_or("-".to_string(), |s| format!("{s:.4}")),
        summary
            .best_epoch
            .map_or("-".to_string(), |e| e.to_string())
    );

    // Test: the best dev checkpoint (the last one when there is no dev data).
    let chosen = if out.join("best").is_dir() {
        out.join("best")
    } else {
        out.join("last")
    };
    let model = SharedEncoderModel::load(&chosen, device)
        .with_context(|| format!("cannot load {}", chosen.display()))?;
    let mut report_tasks = serde_json::Map::new();
    for t in &tasks {
        let p = &t.prepared;
        if p.test.is_empty() {
            continue;
        }
        let eval = evaluate(&model, &p.data.name, &p.test)?;
        let dir = out.join("predictions");
        std::fs::create_dir_all(&dir)?;
        let lines: String = p
            .test_indices
            .iter()
            .zip(&eval.predictions)
            .map(|(index, pred)| {
                format!(
                    "{}\n",
                    crate::commands::predict::prediction_json(*index, pred)
                )
            })
            .collect();
        write_atomic(&dir.join(format!("{}.jsonl", p.data.name)), &lines)?;
        report_tasks.insert(p.data.name.clone(), eval.metrics.to_json());
    }
    let report = json!({
        "tasks": report_tasks,
        "run": {
            "config": config.path,
            "model": config.model,
            "device": crate::commands::embed::device_name(device),
            "train_seconds": summary.seconds,
            "epoch_train_seconds": summary.epoch_train_seconds,
            "best_epoch": summary.best_epoch,
            "best_dev_score": summary.best_score,
            "evaluated_checkpoint": chosen,
            "train_config": trainer.config(),
            "data": tasks.iter().map(|t| (t.prepared.data.name.clone(), json!({
                "train": t.prepared.data.train.len(),
                "dev": t.prepared.data.dev.len(),
                "test": t.prepared.test.len(),
                "carved_from_train": t.carved,
                "test_file": t.test_file,
            }))).collect::<BTreeMap<_, _>>(),
            "labels": model.tasks().iter().map(|t| (t.name.clone(), t.labels.clone())).collect::<BTreeMap<_, _>>(),
        }
    });
    write_atomic(
        &out.join("report.json"),
        &serde_json::to_string_pretty(&report)?,
    )?;
    Ok(TrainOutcome { report })
}

pub fn run(args: &TrainArgs) -> Result<()> {
    let config = RunConfig::load(&args.config)?;
    let outcome = train(&config, &args.out, args.resume.as_deref())?;
    for (task, metrics) in outcome.report["tasks"].as_object().into_iter().flatten() {
        // A token task's macro_f1 is over entity types: its headline is entity_f1.
        let keys: &[&str] = if metrics.get("entity_f1").is_some() {
            &["entity_f1"]
        } else {
            &[
                "accuracy",
                "macro_f1",
                "pearson_cosine",
                "spearman_cosine",
                "accuracy@1",
                "mrr@10",
                "recall@10",
            ]
        };
        let figures: Vec<String> = keys
            .iter()
            .filter_map(|k| {
                metrics
                    .get(*k)
                    .and_then(|v| v.as_f64())
                    .map(|v| format!("{k} {v:.4}"))
            })
            .collect();
        eprintln!("test {task}: {}", figures.join(", "));
    }
    eprintln!("report: {}", args.out.join("report.json").display());
    Ok(())
}
