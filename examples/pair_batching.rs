//! Whether a pair batch pays for embedding both sides in one forward pass:
//! times one training step (forward in train mode, CoSENT, backward) of
//! STS-B train batches of 16 pairs, as one pass of 32 rows padded together
//! (what the pair kinds do) against two passes of 16 rows (each side
//! padded on its own), alternating the two per batch; prints the medians
//! and their ratio as one JSON line, with the median time of the update
//! that follows each step (gradient clip, AdamW, zero-grad).
//!
//! ```text
//! cargo run --release --example pair_batching -- [--model models/all-MiniLM-L6-v2] [--batches 60]
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Parser;
use sentence_mtl::heads::pair_losses::cosent;
use sentence_mtl::trainer::optim::{AdamW, AdamWConfig, GroupSettings};
use sentence_mtl::SentenceEncoder;
use tch::{Device, Tensor};

#[derive(Parser, Debug)]
struct Cli {
    #[arg(long, default_value = "models/all-MiniLM-L6-v2")]
    model: PathBuf,
    #[arg(long, default_value = "data/stsb/sts-train.csv")]
    data: PathBuf,
    /// Batches of 16 pairs timed each way.
    #[arg(long, default_value_t = 60)]
    batches: usize,
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// One training step on `sides`, embedded in `passes`; returns seconds.
fn step(
    encoder: &SentenceEncoder,
    sides: &[Vec<&str>; 2],
    scores: &Tensor,
    one_pass: bool,
) -> anyhow::Result<f64> {
    let t = Instant::now();
    let embed = |texts: &[&str]| -> anyhow::Result<Tensor> {
        let enc = encoder.tokenizer().encode_texts(texts)?;
        let refs: Vec<_> = enc.iter().collect();
        let batch = encoder.tokenizer().pad(&refs, Device::Cpu);
        let states = encoder.token_embeddings(&batch, true)?;
        Ok(encoder.sentence_embeddings(&states, &batch.attention_mask))
    };
    let (a, b) = if one_pass {
        let all: Vec<&str> = sides[0].iter().chain(&sides[1]).copied().collect();
        let e = embed(&all)?;
        let n = sides[0].len() as i64;
        (e.narrow(0, 0, n), e.narrow(0, n, n))
    } else {
        (embed(&sides[0])?, embed(&sides[1])?)
    };
    let loss = cosent(&a, &b, scores, 20.0);
    loss.backward();
    Ok(t.elapsed().as_secs_f64())
}

/// Clip, AdamW step and zero-grad of what `step` left: seconds.
fn update(optimizer: &mut AdamW) -> f64 {
    let t = Instant::now();
    optimizer.clip_grad_norm(1.0);
    optimizer.step(1.0).expect("AdamW step");
    optimizer.zero_grad();
    t.elapsed().as_secs_f64()
}

fn run(cli: Cli) -> anyhow::Result<()> {
    tch::set_num_threads(2);
    let mut encoder = SentenceEncoder::from_dir(&cli.model, Device::Cpu)?;
    encoder.var_store_mut().unfreeze();
    let settings = GroupSettings {
        lr: 2e-5,
        weight_decay: 0.01,
        frozen: false,
    };
    let params = encoder.var_store().variables().into_iter().collect();
    let mut optimizer = AdamW::new(
        vec![("all".into(), settings, params)],
        AdamWConfig::default(),
    );
    let pairs: Vec<(String, String, f32)> = std::fs::read_to_string(&cli.data)?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (
                f[5].to_string(),
                f[6].to_string(),
                f[4].parse::<f32>().unwrap_or(0.0) / 5.0,
            )
        })
        .collect();
    let (mut one, mut two, mut updates) = (Vec::new(), Vec::new(), Vec::new());
    for (k, chunk) in pairs.chunks(16).take(cli.batches + 2).enumerate() {
        let sides = [
            chunk.iter().map(|p| p.0.as_str()).collect::<Vec<_>>(),
            chunk.iter().map(|p| p.1.as_str()).collect::<Vec<_>>(),
        ];
        let scores = Tensor::from_slice(&chunk.iter().map(|p| p.2).collect::<Vec<_>>());
        // Alternate which goes first; the first two batches warm up.
        let order = if k % 2 == 0 {
            [true, false]
        } else {
            [false, true]
        };
        for one_pass in order {
            let s = step(&encoder, &sides, &scores, one_pass)?;
            let u = update(&mut optimizer);
            if k >= 2 {
                if one_pass {
                    one.push(s)
                } else {
                    two.push(s)
                }
                updates.push(u);
            }
        }
    }
    let (m1, m2, mu) = (median(one), median(two), median(updates));
    println!(
        "{}",
        serde_json::json!({
            "batches": cli.batches, "pairs_per_batch": 16,
            "one_pass_median_s": m1, "two_passes_median_s": m2,
            "two_over_one": m2 / m1,
            "optimizer_update_median_s": mu,
        })
    );
    Ok(())
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
