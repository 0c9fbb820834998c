//! Where a training step of the default multi-task run goes: batches of 32
//! real TREC-6 and WNUT-16 training examples (drawn in the default run's
//! 137 : 60 proportion from a fixed seed) through the shared
//! all-MiniLM-L6-v2 encoder and the two linear heads, timing each phase of
//! every step: making the batch (tokenization, padding), the forward pass
//! with the loss, the backward pass, and the update (gradient clip, AdamW,
//! dropping the gradients). Prints the median of each phase over the steps
//! after the first five, as one JSON line; `scripts/torch_train_steps.py
//! --breakdown` prints the same phases for plain PyTorch.
//!
//! ```text
//! cargo run --release --example train_step_breakdown -- [--steps 60] [--precision fp32|bf16]
//! ```

use std::process::ExitCode;
use std::time::Instant;

mod common;

use clap::Parser;
use common::{BoxError, ModelDataDevice};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sentence_mtl::heads::{Example, GroupId, MultiTaskModel, SharedEncoderModel};
use sentence_mtl::trainer::optim::{AdamW, AdamWConfig, GroupSettings};
use sentence_mtl::trainer::TrainPrecision;
use sentence_mtl::SentenceEncoder;
use serde_json::json;

#[derive(Parser, Debug)]
struct Cli {
    #[command(flatten)]
    common: ModelDataDevice,
    /// Steps timed (the first five are warm-up and not counted).
    #[arg(long, default_value_t = 60)]
    steps: usize,
    #[arg(long, default_value = "fp32")]
    precision: TrainPrecision,
    #[arg(long, default_value_t = 2)]
    threads: i32,
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn run(cli: Cli) -> Result<(), BoxError> {
    anyhow::ensure!(cli.steps > 5, "--steps must exceed the 5 warm-up steps");
    tch::set_num_threads(cli.threads);
    let device = cli.common.device()?;
    let (trec, wnut) = cli.common.trec_and_wnut()?;
    tch::manual_seed(42);
    let mut model = SharedEncoderModel::new(SentenceEncoder::from_dir(&cli.common.model, device)?);
    for t in [&trec, &wnut] {
        model.add_task(&t.data.name, t.head.clone(), t.vocab.labels().to_vec())?;
    }
    let groups = model
        .parameter_groups()
        .into_iter()
        .map(|g| {
            let lr = match g.id {
                GroupId::Head(_) => 1e-3,
                _ => 5e-5,
            };
            let settings = GroupSettings {
                lr,
                weight_decay: 0.01,
                frozen: false,
            };
            (g.id.to_string(), settings, g.params)
        })
        .collect();
    let mut optimizer = AdamW::new(groups, AdamWConfig::default());
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let mut phases: [Vec<f64>; 5] = Default::default();
    for step in 0..cli.steps {
        // 137 TREC batches to 60 WNUT-16 batches per epoch in the default run.
        let task = if rng.gen_range(0..197) < 137 {
            &trec
        } else {
            &wnut
        };
        let train = &task.data.train;
        let start = rng.gen_range(0..train.len() - 32);
        let examples: Vec<&Example> = train[start..start + 32].iter().collect();
        let t0 = Instant::now();
        let batch = model.make_batch(&task.data.name, &examples)?;
        let t1 = Instant::now();
        let region = cli.precision.forward_region(device)?;
        let loss = model
            .forward_t(&batch, true)?
            .loss
            .ok_or_else(|| anyhow::anyhow!("no labels"))?;
        let value = loss.double_value(&[]);
        drop(region);
        let t2 = Instant::now();
        loss.backward();
        let t3 = Instant::now();
        optimizer.clip_grad_norm(1.0);
        optimizer.step(1.0)?;
        optimizer.zero_grad();
        let t4 = Instant::now();
        anyhow::ensure!(value.is_finite(), "step {step}: loss {value}");
        if step >= 5 {
            for (i, s) in [t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0]
                .iter()
                .enumerate()
            {
                phases[i].push(s.as_secs_f64());
            }
        }
    }
    let [batch, forward, backward, update, total] = phases.map(median);
    println!(
        "{}",
        json!({
            "impl": "smtl", "precision": cli.precision.to_string(), "steps": cli.steps,
            "threads": tch::get_num_threads(),
            "median_s": {
                "batch": batch, "forward_and_loss": forward, "backward": backward,
                "clip_adamw_zero_grad": update, "step": total,
            },
        })
    );
    Ok(())
}

fn main() -> ExitCode {
    common::exit_code(run(Cli::parse()))
}
