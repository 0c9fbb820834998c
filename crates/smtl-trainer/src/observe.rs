//! How a run reports what it does: [`TrainObserver`]s.
//!
//! The trainer itself writes nothing. Everything a run leaves behind is an
//! observer the caller attaches: [`Checkpoints`] (atomic `last/` and `best/`
//! directories, provided here because resuming needs them), [`History`] (the
//! records in memory), and in the `smtl` command the metrics log, the
//! progress bar, the curves PNG and the signal handler. With no observer,
//! [`crate::Trainer::fit`] trains in memory only.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::TrainError;

/// What a run is about to do, given once before the first step.
#[derive(Debug, Clone, Serialize)]
pub struct RunStart {
    /// Batches the whole run takes (every epoch).
    pub total_steps: usize,
    /// Batches already taken (non-zero when resumed from a checkpoint).
    pub completed_steps: usize,
}

/// One training batch, as `metrics.jsonl` records it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepRecord {
    /// 1-based count of batches taken so far.
    pub step: usize,
    pub epoch: usize,
    pub task: String,
    /// The task's unweighted loss on this batch.
    pub loss: f64,
    /// Seconds since `fit` started.
    pub seconds: f64,
    /// Learning-rate factor of the optimizer step this batch ended (absent
    /// while gradients accumulate).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lr_factor: Option<f64>,
    /// Global gradient norm before clipping, when clipping is on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grad_norm: Option<f64>,
    /// Learned loss weights (uncertainty weighting).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub loss_weights: Option<BTreeMap<String, f64>>,
}

/// The end of an epoch: training time and the dev evaluation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EpochRecord {
    pub epoch: usize,
    /// Training wall time of the epoch, evaluation excluded.
    pub train_seconds: f64,
    /// Mean of the tasks' selection scores on dev (`None`: no dev data).
    pub dev_score: Option<f64>,
    /// Each task's headline dev metrics (`accuracy`, `macro_f1`,
    /// `entity_f1`, ...), for curves.
    pub dev: BTreeMap<String, BTreeMap<String, f64>>,
    /// Each task's full dev metrics.
    pub dev_full: BTreeMap<String, serde_json::Value>,
    /// The dev score beat every earlier epoch's (the `best/` checkpoint).
    #[serde(skip)]
    pub improved: bool,
}

/// Something that can write a resumable checkpoint of the run in progress
/// (the trainer, handed to observers).
pub trait CheckpointWriter {
    /// Writes model, optimizer and trainer state into `dir`, atomically.
    fn save_checkpoint(&self, dir: &Path) -> Result<(), TrainError>;
}

/// Hooks called by [`crate::Trainer::fit`]. Every method has a default that
/// does nothing; an error from any hook stops training with that error.
pub trait TrainObserver {
    fn on_start(&mut self, _run: &RunStart) -> Result<(), TrainError> {
        Ok(())
    }
    /// After every batch (and its optimizer step, if it ended one).
    fn on_step(
        &mut self,
        _step: &StepRecord,
        _run: &dyn CheckpointWriter,
    ) -> Result<(), TrainError> {
        Ok(())
    }
    /// After every epoch's dev evaluation (also after a run stopped early).
    fn on_epoch(
        &mut self,
        _epoch: &EpochRecord,
        _run: &dyn CheckpointWriter,
    ) -> Result<(), TrainError> {
        Ok(())
    }
    /// Asked after every batch: `true` ends the run there, as `max_steps`
    /// would (the epoch hooks still run, so checkpoints are written).
    fn should_stop(&self) -> bool {
        false
    }
}

/// Writes `DIR/last/` after every epoch (and every `every_steps` optimizer
/// steps when set) and `DIR/best/` whenever the dev score improves.
#[derive(Debug, Clone)]
pub struct Checkpoints {
    dir: PathBuf,
    every_steps: usize,
    steps_seen: usize,
}

impl Checkpoints {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            every_steps: 0,
            steps_seen: 0,
        }
    }

    /// Also write `last/` every `n` batches (0: at epoch ends only).
    pub fn every_steps(mut self, n: usize) -> Self {
        self.every_steps = n;
        self
    }

    pub fn last(&self) -> PathBuf {
        self.dir.join("last")
    }

    pub fn best(&self) -> PathBuf {
        self.dir.join("best")
    }
}

impl TrainObserver for Checkpoints {
    fn on_step(
        &mut self,
        _step: &StepRecord,
        run: &dyn CheckpointWriter,
    ) -> Result<(), TrainError> {
        self.steps_seen += 1;
        if self.every_steps > 0 && self.steps_seen.is_multiple_of(self.every_steps) {
            run.save_checkpoint(&self.last())?;
        }
        Ok(())
    }

    fn on_epoch(
        &mut self,
        epoch: &EpochRecord,
        run: &dyn CheckpointWriter,
    ) -> Result<(), TrainError> {
        if epoch.improved {
            run.save_checkpoint(&self.best())?;
        }
        run.save_checkpoint(&self.last())
    }
}

/// Keeps every record in memory (tests, notebooks, callers that plot
/// themselves).
#[derive(Debug, Clone, Default)]
pub struct History {
    pub steps: Vec<StepRecord>,
    pub epochs: Vec<EpochRecord>,
}

impl History {
    /// `(step, loss)` of every batch, in order.
    pub fn losses(&self) -> Vec<(usize, f64)> {
        self.steps.iter().map(|s| (s.step, s.loss)).collect()
    }
}

impl TrainObserver for History {
    fn on_step(
        &mut self,
        step: &StepRecord,
        _run: &dyn CheckpointWriter,
    ) -> Result<(), TrainError> {
        self.steps.push(step.clone());
        Ok(())
    }

    fn on_epoch(
        &mut self,
        epoch: &EpochRecord,
        _run: &dyn CheckpointWriter,
    ) -> Result<(), TrainError> {
        self.epochs.push(epoch.clone());
        Ok(())
    }
}
