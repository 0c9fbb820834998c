//! Progress on stderr: a bar over the run's batches and one line per epoch.

use indicatif::{ProgressBar, ProgressStyle};
use smtl_trainer::{
    CheckpointWriter, EpochRecord, RunStart, StepRecord, TrainError, TrainObserver,
};

/// Draws a progress bar for a training run (hidden when stderr is no terminal).
pub struct TrainProgress {
    bar: ProgressBar,
}

impl Default for TrainProgress {
    fn default() -> Self {
        Self::new()
    }
}

impl TrainProgress {
    pub fn new() -> Self {
        Self {
            bar: ProgressBar::hidden(),
        }
    }
}

impl TrainObserver for TrainProgress {
    fn on_start(&mut self, run: &RunStart) -> Result<(), TrainError> {
        self.bar = ProgressBar::new(run.total_steps as u64);
        self.bar.set_style(
            ProgressStyle::with_template(
                "{elapsed_precise} [{bar:30}] {pos}/{len} steps  eta {eta}  {msg}",
            )
            .expect("static template")
            .progress_chars("=> "),
        );
        self.bar.set_position(run.completed_steps as u64);
        Ok(())
    }

    fn on_step(
        &mut self,
        step: &StepRecord,
        _run: &dyn CheckpointWriter,
    ) -> Result<(), TrainError> {
        self.bar.inc(1);
        self.bar
            .set_message(format!("{} loss {:.4}", step.task, step.loss));
        Ok(())
    }

    fn on_epoch(
        &mut self,
        epoch: &EpochRecord,
        _run: &dyn CheckpointWriter,
    ) -> Result<(), TrainError> {
        let dev: Vec<String> = epoch
            .dev
            .iter()
            .map(|(task, m)| {
                let figures: Vec<String> = m.iter().map(|(k, v)| format!("{k} {v:.4}")).collect();
                format!("{task} {}", figures.join(" "))
            })
            .collect();
        let line = format!(
            "epoch {}: {:.0}s, dev {}",
            epoch.epoch,
            epoch.train_seconds,
            if dev.is_empty() {
                "-".into()
            } else {
                dev.join(", ")
            }
        );
        // A hidden bar (stderr is no terminal) prints nothing itself.
        if self.bar.is_hidden() {
            eprintln!("{line}");
        } else {
            self.bar.println(line);
        }
        Ok(())
    }
}

impl Drop for TrainProgress {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// The bar of `smtl embed`/`predict`: bytes of the input read.
pub fn bytes_bar(total_bytes: u64) -> ProgressBar {
    ProgressBar::new(total_bytes).with_style(
        ProgressStyle::with_template(
            "{bar:40} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} eta {eta} {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    )
}
