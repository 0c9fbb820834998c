//! What the examples share: the flags naming the model, the data and the
//! device; loading the two tasks of the brief; and how `main` reports an
//! error. (A folder, not `examples/common.rs`, so that Cargo does not take
//! it for an example of its own.)

// Each example uses part of this module.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use sentence_mtl::data::{read_conll, read_trec, split_examples};
use sentence_mtl::trainer::{sentence_task, token_task, PreparedTask};
use sentence_mtl::DeviceSpec;
use tch::Device;

/// The examples' error: context plus the cause chain.
pub type BoxError = anyhow::Error;

/// Task A's name in checkpoints, reports and predictions.
pub const TASK_A: &str = "trec";
/// Task B's name.
pub const TASK_B: &str = "wnut16";

/// `--model`, `--data-dir`, `--device`, as every training example takes them.
#[derive(clap::Args, Debug, Clone)]
pub struct ModelDataDevice {
    /// Model directory in sentence-transformers layout.
    #[arg(long, value_name = "DIR", default_value = "models/all-MiniLM-L6-v2")]
    pub model: PathBuf,
    /// Folder holding trec_question_labels.txt, wnut16_ner.txt and
    /// hutto_ICWSM_2014/ (scripts/setup links them).
    #[arg(long, value_name = "DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: String,
}

impl ModelDataDevice {
    pub fn device(&self) -> Result<Device, BoxError> {
        Ok(self.device.parse::<DeviceSpec>()?.resolve()?)
    }

    /// Task A (TREC-6, last 5452 lines) and Task B (WNUT-16), split by
    /// example index (i % 10 == 8 dev, 9 test).
    pub fn trec_and_wnut(&self) -> Result<(PreparedTask, PreparedTask), BoxError> {
        let trec = sentence_task(
            TASK_A,
            split_examples(read_trec(self.data_dir.join("trec_question_labels.txt"))?),
        )?;
        let wnut = token_task(
            TASK_B,
            split_examples(read_conll(self.data_dir.join("wnut16_ner.txt"))?),
        )?;
        Ok((trec, wnut))
    }
}

/// `main`'s ending: the `smtl` command's (`error:` and the cause chain
/// on stderr, exit status 1, or 130 after a signal).
pub fn exit_code(result: Result<(), BoxError>) -> ExitCode {
    smtl_cli::exit_code(result)
}
