//! The `smtl` command and the application code of sentence-mtl: files
//! (streaming `.npy`/JSONL writers, atomic outputs), run configs, plots,
//! progress bars, signal handling, reports and the HTTP server (`serve`).
//! The library crates hold none of it; the examples call these functions too.

pub mod commands;
pub mod config;
pub mod data;
pub mod io;
pub mod metrics_log;
pub mod plot;
pub mod progress;
pub mod serve;
pub mod shard;
pub mod signals;

use clap::{Parser, Subcommand};

/// `smtl`: sentence embeddings and multi-task learning on libtorch.
#[derive(Parser, Debug)]
#[command(name = "smtl", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Embed a file of sentences (one per line) into .npy or .jsonl.
    Embed(commands::embed::EmbedArgs),
    /// Multi-task training from a run config (TOML).
    Train(commands::train::TrainArgs),
    /// Predict with a trained checkpoint's task head, one input per line.
    Predict(commands::predict::PredictArgs),
    /// Score a labelled file; prints one JSON object of metrics on stdout.
    Eval(commands::eval::EvalArgs),
    /// Describe a model or checkpoint directory.
    Info(commands::info::InfoArgs),
    /// Join the parts of a sharded `smtl embed --shard` run.
    Merge(commands::merge::MergeArgs),
    /// Serve embeddings and task-head predictions over HTTP (TEI's routes).
    Serve(serve::ServeArgs),
}

/// A command's ending: success, or `error:` and the cause chain on stderr
/// with exit status 130 when a signal stopped it and 1 otherwise.
pub fn exit_code(result: anyhow::Result<()>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            if err.downcast_ref::<signals::Interrupted>().is_some() {
                std::process::ExitCode::from(130)
            } else {
                std::process::ExitCode::FAILURE
            }
        }
    }
}

/// Runs one parsed command line.
pub fn run(cli: &Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Embed(a) => commands::embed::run(a),
        Command::Train(a) => commands::train::run(a),
        Command::Predict(a) => commands::predict::run(a),
        Command::Eval(a) => commands::eval::run(a),
        Command::Info(a) => commands::info::run(a),
        Command::Merge(a) => commands::merge::run(a),
        Command::Serve(a) => serve::run(a),
    }
}

/// Which backends the libtorch in use has, and what `auto` picks.
pub fn backends() -> serde_json::Value {
    let backend = smtl_kernels::load_cuda_backend();
    let cuda = tch::Cuda::is_available();
    let devices = if cuda { tch::Cuda::device_count() } else { 0 };
    let auto = smtl_backbone::DeviceSpec::Auto
        .resolve()
        .map(commands::embed::device_name)
        .unwrap_or_else(|e| e.to_string());
    let runtime = match &backend {
        Ok(v) => format!(
            "CUDA backend loaded (runtime {}.{})",
            v / 1000,
            v % 1000 / 10
        ),
        Err(why) => format!("no CUDA backend ({why})"),
    };
    serde_json::json!({
        "cpu": true,
        "cuda_backend": backend.as_ref().ok(),
        "cuda": cuda,
        "cuda_devices": devices,
        "auto": auto,
        "summary": format!(
            "cpu; {runtime}; {}; auto picks {auto}",
            if cuda { format!("{devices} CUDA device(s)") } else { "no CUDA device".to_string() }
        ),
    })
}
