//! Training regimes and transfer learning, measured on TREC-6 + WNUT-16:
//! what freezing the whole network, the backbone, one head, or the bottom
//! layers costs and buys. Every regime runs with the same seed and the same
//! splits; the best dev checkpoint of each is scored on test.
//!
//! `cargo run --release --example training_regimes -- --out runs/regimes`
//!
//! Writes `results.json`, `results.md` and `regimes.png` into `--out`
//! (rewritten after every regime, so a partial run keeps what it measured),
//! plus one folder per trained regime (metrics, curves, checkpoints).
//! `--only` runs a subset: `full`, `frozen_all`, `frozen_backbone`,
//! `one_head`, `transfer` (comma-separated).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

mod common;

use clap::Parser;
use common::{BoxError, ModelDataDevice, TASK_A, TASK_B};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sentence_mtl::heads::{SharedEncoderModel, TaskMetrics};
use sentence_mtl::trainer::{
    evaluate, Checkpoints, PreparedTask, TaskData, TrainConfig, TrainObserver, Trainer,
};
use sentence_mtl::SentenceEncoder;
use serde::Serialize;
use smtl_cli::plot::{plot_bars, BarPanel};
use tch::Device;

#[derive(Parser, Debug)]
#[command(
    about = "Training regimes (frozen network, backbone, head, bottom layers) on TREC-6 + WNUT-16"
)]
struct Args {
    /// Output directory (results table, plot, one folder per regime).
    #[arg(long)]
    out: PathBuf,
    /// Epochs of every regime that runs the encoder (the reference's 3).
    #[arg(long, default_value_t = 3)]
    epochs: usize,
    /// Epochs of the cached frozen-backbone heads' long runs.
    #[arg(long, default_value_t = 40)]
    cached_epochs: usize,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    #[command(flatten)]
    common: ModelDataDevice,
    /// TREC training examples replayed while Task B is added (rehearsal).
    #[arg(long, default_value_t = 500)]
    replay: usize,
    /// Scenarios to run: full, frozen_all, frozen_backbone, one_head, transfer.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
}

/// One line of the results table.
#[derive(Debug, Clone, Serialize)]
struct Row {
    scenario: String,
    regime: String,
    trec_accuracy: f64,
    trec_macro_f1: f64,
    wnut16_entity_f1: f64,
    /// One-head-frozen scenario: Task A test accuracy before Task B was added.
    trec_accuracy_before: Option<f64>,
    trainable_parameters: i64,
    optimizer_state_bytes: i64,
    /// Mean training wall time of one epoch (both tasks), without evaluation.
    seconds_per_epoch: Option<f64>,
    epochs: usize,
    /// One-off cost before training (building the feature cache).
    setup_seconds: Option<f64>,
    note: String,
}

struct Ctx {
    args: Args,
    device: Device,
    trec: PreparedTask,
    wnut: PreparedTask,
    rows: Vec<Row>,
}

impl Ctx {
    fn wants(&self, scenario: &str) -> bool {
        self.args.only.is_empty() || self.args.only.iter().any(|s| s == scenario)
    }

    /// The pretrained encoder with both heads freshly initialised (seeded).
    fn fresh_model(&self) -> Result<SharedEncoderModel, BoxError> {
        self.model_with_heads(None)
    }

    /// As [`Self::fresh_model`], heads with a hidden layer of `hidden`.
    fn model_with_heads(&self, hidden: Option<i64>) -> Result<SharedEncoderModel, BoxError> {
        tch::manual_seed(self.args.seed as i64);
        let encoder = SentenceEncoder::from_dir(&self.args.common.model, self.device)?;
        let mut model = SharedEncoderModel::new(encoder);
        for task in [&self.trec, &self.wnut] {
            let mut head = task.head.clone();
            head.hidden = hidden;
            model.add_task(&task.data.name, head, task.vocab.labels().to_vec())?;
        }
        Ok(model)
    }

    fn config(&self, freeze: &[&str]) -> TrainConfig {
        TrainConfig {
            epochs: self.args.epochs,
            seed: self.args.seed,
            freeze: freeze
                .iter()
                .map(|s| s.parse().expect("the regimes' freeze rules are valid"))
                .collect(),
            ..TrainConfig::default()
        }
    }

    fn both_tasks(&self) -> Vec<TaskData> {
        vec![self.trec.data.clone(), self.wnut.data.clone()]
    }

    /// Trains `model` on `tasks` into `out/<dir>`; returns the best dev
    /// checkpoint and the trainer's figures.
    fn train(
        &self,
        dir: &str,
        model: SharedEncoderModel,
        tasks: Vec<TaskData>,
        config: TrainConfig,
    ) -> Result<(SharedEncoderModel, Trained), BoxError> {
        let out = self.args.out.join(dir);
        if out.exists() {
            std::fs::remove_dir_all(&out)?;
        }
        let mut trainer = Trainer::new(model, tasks, config)?;
        let mut checkpoints = Checkpoints::new(&out);
        let mut log = smtl_cli::metrics_log::RunLog::new(out.join("metrics.jsonl"));
        let mut progress = smtl_cli::progress::TrainProgress::new();
        let summary = trainer.fit(&mut [
            &mut checkpoints as &mut dyn TrainObserver,
            &mut log,
            &mut progress,
        ])?;
        drop(progress);
        let trained = Trained {
            trainable: trainer.optimizer().trainable_parameter_count(),
            state_bytes: trainer.optimizer().state_bytes(),
            seconds_per_epoch: mean(&summary.epoch_train_seconds),
            epochs: summary.epoch_train_seconds.len(),
            cache_seconds: summary.cache_seconds,
        };
        drop(trainer);
        let best = SharedEncoderModel::load(&out.join("best"), self.device)?;
        Ok((best, trained))
    }

    /// Scores `model` on both test splits into a row.
    fn test_row(
        &self,
        scenario: &str,
        regime: &str,
        model: &SharedEncoderModel,
        trained: Option<&Trained>,
        note: &str,
    ) -> Result<Row, BoxError> {
        let a = evaluate(model, TASK_A, &self.trec.test)?;
        let b = evaluate(model, TASK_B, &self.wnut.test)?;
        Ok(Row {
            scenario: scenario.into(),
            regime: regime.into(),
            trec_accuracy: a.score,
            trec_macro_f1: macro_f1(&a.metrics),
            wnut16_entity_f1: b.score,
            trec_accuracy_before: None,
            trainable_parameters: trained.map_or(0, |t| t.trainable),
            optimizer_state_bytes: trained.map_or(0, |t| t.state_bytes),
            seconds_per_epoch: trained.map(|t| t.seconds_per_epoch),
            epochs: trained.map_or(0, |t| t.epochs),
            setup_seconds: None,
            note: note.into(),
        })
    }

    /// Adds a row and rewrites the table, the JSON and the plot.
    fn record(&mut self, row: Row) -> Result<(), BoxError> {
        eprintln!(
            "[{}] {}: trec acc {:.4} macro-F1 {:.4} | wnut16 entity-F1 {:.4} | {} trainable, {:.0} s/epoch",
            row.scenario,
            row.regime,
            row.trec_accuracy,
            row.trec_macro_f1,
            row.wnut16_entity_f1,
            row.trainable_parameters,
            row.seconds_per_epoch.unwrap_or(f64::NAN)
        );
        self.rows.push(row);
        write_results(&self.args.out, &self.rows)
    }
}

struct Trained {
    trainable: i64,
    state_bytes: i64,
    seconds_per_epoch: f64,
    epochs: usize,
    cache_seconds: Option<f64>,
}

fn macro_f1(m: &TaskMetrics) -> f64 {
    match m {
        TaskMetrics::Classification(r) => r.macro_f1,
        TaskMetrics::Entities(e) => e.report.macro_f1,
        // This example trains the classification tasks only.
        TaskMetrics::Similarity(_) | TaskMetrics::Ranking(_) => f64::NAN,
    }
}

fn mean(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        f64::NAN
    } else {
        xs.iter().sum::<f64>() / xs.len() as f64
    }
}

fn write_results(out: &Path, rows: &[Row]) -> Result<(), BoxError> {
    std::fs::create_dir_all(out)?;
    std::fs::write(
        out.join("results.json"),
        serde_json::to_string_pretty(rows)?,
    )?;
    let mut md = String::from(
        "| scenario | regime | TREC acc | TREC macro-F1 | WNUT-16 entity-F1 | TREC acc before | trainable params | optimizer state | s/epoch | epochs | setup s | note |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    let opt = |x: Option<f64>, digits: usize| {
        x.filter(|v| v.is_finite())
            .map_or("–".to_string(), |v| format!("{v:.digits$}"))
    };
    for r in rows {
        md.push_str(&format!(
            "| {} | {} | {:.4} | {:.4} | {:.4} | {} | {} | {:.1} MiB | {} | {} | {} | {} |\n",
            r.scenario,
            r.regime,
            r.trec_accuracy,
            r.trec_macro_f1,
            r.wnut16_entity_f1,
            opt(r.trec_accuracy_before, 4),
            r.trainable_parameters,
            r.optimizer_state_bytes as f64 / (1 << 20) as f64,
            opt(r.seconds_per_epoch, 1),
            r.epochs,
            opt(r.setup_seconds, 1),
            r.note
        ));
    }
    std::fs::write(out.join("results.md"), md)?;
    let names: Vec<String> = rows
        .iter()
        .map(|r| format!("{}: {}", r.scenario, r.regime))
        .collect();
    plot_bars(
        &names,
        &[
            BarPanel {
                title: "Test scores".into(),
                x_desc: "score".into(),
                x_max: Some(1.0),
                series: vec![
                    (
                        "TREC accuracy".into(),
                        rows.iter().map(|r| r.trec_accuracy).collect(),
                    ),
                    (
                        "WNUT-16 entity-F1".into(),
                        rows.iter().map(|r| r.wnut16_entity_f1).collect(),
                    ),
                ],
            },
            BarPanel {
                title: "Training time per epoch (both tasks)".into(),
                x_desc: "seconds".into(),
                x_max: None,
                series: vec![(
                    "s/epoch".into(),
                    rows.iter()
                        .map(|r| r.seconds_per_epoch.unwrap_or(f64::NAN))
                        .collect(),
                )],
            },
        ],
        &out.join("regimes.png"),
    )?;
    Ok(())
}

/// Full fine-tuning: every group trains (transfer learning with k = 0).
fn full(ctx: &mut Ctx) -> Result<(), BoxError> {
    let model = ctx.fresh_model()?;
    let (best, t) = ctx.train("full", model, ctx.both_tasks(), ctx.config(&[]))?;
    let row = ctx.test_row(
        "full fine-tuning",
        "all layers + heads",
        &best,
        Some(&t),
        "the reference regime",
    )?;
    ctx.record(row)
}

/// Whole network frozen: nothing trains. Untrained heads give the floor;
/// a trained checkpoint served as-is gives exactly its own scores.
fn frozen_all(ctx: &mut Ctx) -> Result<(), BoxError> {
    let model = ctx.fresh_model()?;
    let row = ctx.test_row(
        "frozen: all",
        "pretrained encoder, untrained heads",
        &model,
        None,
        "chance floor",
    )?;
    ctx.record(row)?;
    let best = ctx.args.out.join("full").join("best");
    if best.is_dir() {
        let model = SharedEncoderModel::load(&best, ctx.device)?;
        let row = ctx.test_row(
            "frozen: all",
            "fine-tuned checkpoint served as-is",
            &model,
            None,
            "inference only",
        )?;
        ctx.record(row)?;
    } else {
        eprintln!(
            "no {} yet: run the `full` scenario first for the served-checkpoint row",
            best.display()
        );
    }
    Ok(())
}

/// Backbone frozen: heads train. The plain path runs the frozen encoder at
/// every step; `cache_features` runs it once.
fn frozen_backbone(ctx: &mut Ctx) -> Result<(), BoxError> {
    let model = ctx.fresh_model()?;
    let (best, t) = ctx.train(
        "frozen_backbone",
        model,
        ctx.both_tasks(),
        ctx.config(&["backbone"]),
    )?;
    let row = ctx.test_row(
        "frozen: backbone",
        "heads only, encoder run every step",
        &best,
        Some(&t),
        "= transfer k=6",
    )?;
    ctx.record(row)?;

    // The same regime over the feature cache: the encoder runs once, every
    // later step reads its features (`cache_features`), so long runs and
    // MLP heads are cheap. Same trainer, same batches, same evaluation.
    let variants: [(&str, &str, usize, Option<i64>); 3] = [
        (
            "cached_linear",
            "cached, linear heads",
            ctx.args.epochs,
            None,
        ),
        (
            "cached_linear_long",
            "cached, linear heads, long",
            ctx.args.cached_epochs,
            None,
        ),
        (
            "cached_mlp_long",
            "cached, MLP heads, long",
            ctx.args.cached_epochs,
            Some(384),
        ),
    ];
    for (dir, regime, epochs, hidden) in variants {
        let model = ctx.model_with_heads(hidden)?;
        let config = TrainConfig {
            epochs,
            cache_features: true,
            ..ctx.config(&["backbone"])
        };
        let (best, t) = ctx.train(dir, model, ctx.both_tasks(), config)?;
        let mut row = ctx.test_row(
            "frozen: backbone",
            regime,
            &best,
            Some(&t),
            "features cached once",
        )?;
        row.setup_seconds = t.cache_seconds;
        ctx.record(row)?;
    }
    Ok(())
}

/// One head frozen: Task A is trained first, then Task B is added with
/// head A frozen; Task A's drift is its test accuracy before vs after.
fn one_head(ctx: &mut Ctx) -> Result<(), BoxError> {
    let model = ctx.fresh_model()?;
    let (model_a, t) = ctx.train(
        "task_a_only",
        model,
        vec![ctx.trec.data.clone()],
        ctx.config(&[]),
    )?;
    let before = evaluate(&model_a, TASK_A, &ctx.trec.test)?.score;
    let row = ctx.test_row(
        "one head frozen",
        "step 1: Task A alone",
        &model_a,
        Some(&t),
        "WNUT head untrained",
    )?;
    ctx.record(row)?;
    drop(model_a);

    let mut rng = ChaCha8Rng::seed_from_u64(ctx.args.seed);
    let mut replay = ctx.trec.data.train.clone();
    replay.shuffle(&mut rng);
    replay.truncate(ctx.args.replay);
    let replay_task = TaskData {
        name: TASK_A.into(),
        train: replay,
        dev: Vec::new(),
    };
    let variants: [(&str, &str, Vec<&str>, bool); 3] = [
        (
            "add_b_head_a_frozen",
            "step 2: + Task B, head A frozen",
            vec!["head:trec"],
            false,
        ),
        (
            "add_b_head_a_bottom4_frozen",
            "step 2: + Task B, head A + bottom 4 frozen",
            vec!["head:trec", "bottom:4"],
            false,
        ),
        (
            "add_b_head_a_frozen_rehearsal",
            "step 2: + Task B, head A frozen, rehearsal",
            vec!["head:trec"],
            true,
        ),
    ];
    for (dir, regime, freeze, rehearse) in variants {
        let model =
            SharedEncoderModel::load(&ctx.args.out.join("task_a_only").join("best"), ctx.device)?;
        let mut tasks = vec![ctx.wnut.data.clone()];
        if rehearse {
            tasks.push(replay_task.clone());
        }
        let (best, t) = ctx.train(dir, model, tasks, ctx.config(&freeze))?;
        let mut row = ctx.test_row(
            "one head frozen",
            regime,
            &best,
            Some(&t),
            &if rehearse {
                format!("{} replayed TREC examples", ctx.args.replay)
            } else {
                String::new()
            },
        )?;
        row.trec_accuracy_before = Some(before);
        ctx.record(row)?;
    }
    Ok(())
}

/// Transfer learning: how much of the pretrained encoder to keep fixed.
fn transfer(ctx: &mut Ctx) -> Result<(), BoxError> {
    for k in [2, 4] {
        let model = ctx.fresh_model()?;
        let pattern = format!("bottom:{k}");
        let (best, t) = ctx.train(
            &format!("bottom{k}"),
            model,
            ctx.both_tasks(),
            ctx.config(&[&pattern]),
        )?;
        let row = ctx.test_row(
            "transfer",
            &format!("bottom k={k} frozen (embeddings + layers 0..{k})"),
            &best,
            Some(&t),
            "",
        )?;
        ctx.record(row)?;
    }
    let model = ctx.fresh_model()?;
    let config = TrainConfig {
        gradual_unfreezing: true,
        ..ctx.config(&[])
    };
    let (best, t) = ctx.train("gradual_unfreezing", model, ctx.both_tasks(), config)?;
    let row = ctx.test_row(
        "transfer",
        "gradual unfreezing (top 2, 4, all)",
        &best,
        Some(&t),
        "trainable/state: last epoch",
    )?;
    ctx.record(row)?;

    let model = ctx.fresh_model()?;
    let config = TrainConfig {
        layerwise_lr_decay: Some(0.8),
        ..ctx.config(&[])
    };
    let (best, t) = ctx.train("llrd", model, ctx.both_tasks(), config)?;
    let row = ctx.test_row("transfer", "layer-wise LR decay 0.8", &best, Some(&t), "")?;
    ctx.record(row)
}

fn run(args: Args) -> Result<(), BoxError> {
    const SCENARIOS: [&str; 5] = [
        "full",
        "frozen_all",
        "frozen_backbone",
        "one_head",
        "transfer",
    ];
    if let Some(bad) = args.only.iter().find(|s| !SCENARIOS.contains(&s.as_str())) {
        return Err(anyhow::anyhow!(
            "unknown scenario {bad:?} (known: {})",
            SCENARIOS.join(", ")
        ));
    }
    let device = args.common.device()?;
    let (trec, wnut) = args.common.trec_and_wnut()?;
    let mut ctx = Ctx {
        args,
        device,
        trec,
        wnut,
        rows: Vec::new(),
    };
    let started = Instant::now();
    type Scenario = fn(&mut Ctx) -> Result<(), BoxError>;
    let scenarios: [(&str, Scenario); 5] = [
        ("full", full),
        ("frozen_all", frozen_all),
        ("frozen_backbone", frozen_backbone),
        ("one_head", one_head),
        ("transfer", transfer),
    ];
    for (name, scenario) in scenarios {
        if ctx.wants(name) {
            scenario(&mut ctx)?;
        }
    }
    eprintln!(
        "done in {:.0} s; table in {}",
        started.elapsed().as_secs_f64(),
        ctx.args.out.join("results.md").display()
    );
    Ok(())
}

fn main() -> ExitCode {
    common::exit_code(run(Args::parse()))
}
