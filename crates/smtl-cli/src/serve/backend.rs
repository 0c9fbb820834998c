//! The model behind the server: a sentence-transformers directory (embeddings
//! only) or a checkpoint of `smtl train` (embeddings and task heads).

use std::path::Path;

use anyhow::{bail, Context, Result};
use smtl_backbone::{DeviceSpec, Precision};
use smtl_embedding::SentenceEncoder;
use smtl_heads::{Example, MultiTaskModel, Prediction, SharedEncoderModel, TaskSpec};
use tokenizers::Encoding;

use super::batcher::Backend;

/// A loaded model directory, owned by the batcher's thread.
pub enum ServedModel {
    Encoder(SentenceEncoder),
    Checkpoint(SharedEncoderModel),
}

impl ServedModel {
    /// Loads `dir` (a checkpoint when it has `tasks.json`) on `device` with
    /// `precision`, its inputs cut at `max_input_length` tokens when given.
    pub fn load(
        dir: &Path,
        device: &str,
        precision: &str,
        max_input_length: Option<usize>,
    ) -> Result<Self> {
        if !dir.is_dir() {
            bail!("model directory {} does not exist", dir.display());
        }
        let device = device.parse::<DeviceSpec>()?.resolve()?;
        let precision: Precision = precision.parse()?;
        let mut model = if dir.join("tasks.json").is_file() {
            let model = SharedEncoderModel::load(dir, device)
                .with_context(|| format!("cannot load checkpoint {}", dir.display()))?;
            Self::Checkpoint(model)
        } else {
            let encoder = SentenceEncoder::from_dir(dir, device)
                .with_context(|| format!("cannot load model {}", dir.display()))?;
            Self::Encoder(encoder)
        };
        let encoder = model.encoder_mut();
        encoder.set_precision(precision)?;
        if let Some(n) = max_input_length {
            encoder
                .set_max_seq_length(n)
                .context("--max-input-length")?;
        }
        Ok(model)
    }

    pub fn encoder(&self) -> &SentenceEncoder {
        match self {
            Self::Encoder(e) => e,
            Self::Checkpoint(m) => m.encoder(),
        }
    }

    fn encoder_mut(&mut self) -> &mut SentenceEncoder {
        match self {
            Self::Encoder(e) => e,
            Self::Checkpoint(m) => m.encoder_mut(),
        }
    }

    /// The checkpoint's tasks (none for a plain model).
    pub fn tasks(&self) -> Vec<TaskSpec> {
        match self {
            Self::Encoder(_) => Vec::new(),
            Self::Checkpoint(m) => m.tasks(),
        }
    }
}

/// One model worker of the batcher: the loaded model (the first worker), or
/// a handle on its encoder's weights (the others, which embed only).
pub struct ModelWorker {
    model: ServedModel,
    predicts: bool,
    /// libtorch intra-op threads on this worker's thread (`None`: leave
    /// libtorch's default, every core).
    threads: Option<i32>,
}

impl ModelWorker {
    /// `workers` workers over `model`'s weights: one worker keeps
    /// libtorch's threads; several get one thread each (inter-op instead
    /// of intra-op parallelism, as `ParallelEncoder`).
    pub fn over(model: ServedModel, workers: usize) -> Result<Vec<Self>> {
        let threads = (workers > 1).then_some(1);
        let mut all = Vec::with_capacity(workers);
        for _ in 1..workers {
            let handle = model
                .encoder()
                .shared_handle()
                .context("cannot share the weights with another worker")?;
            all.push(Self {
                model: ServedModel::Encoder(handle),
                predicts: false,
                threads,
            });
        }
        all.insert(
            0,
            Self {
                model,
                predicts: true,
                threads,
            },
        );
        Ok(all)
    }
}

impl Backend for ModelWorker {
    fn embed(&mut self, inputs: &[&Encoding]) -> Result<Vec<Vec<f32>>, String> {
        self.model.embed(inputs)
    }

    fn predict(&mut self, task: &str, examples: &[Example]) -> Result<Vec<Prediction>, String> {
        self.model.predict(task, examples)
    }

    fn can_predict(&self) -> bool {
        self.predicts
    }

    fn enter_thread(&mut self) {
        if let Some(n) = self.threads {
            tch::set_num_threads(n);
        }
    }
}

impl Backend for ServedModel {
    fn embed(&mut self, inputs: &[&Encoding]) -> Result<Vec<Vec<f32>>, String> {
        let rows = self
            .encoder()
            .embed_encodings(inputs, false)
            .map_err(|e| format!("{e:#}"))?;
        Ok(rows.outer_iter().map(|r| r.to_vec()).collect())
    }

    fn predict(&mut self, task: &str, examples: &[Example]) -> Result<Vec<Prediction>, String> {
        match self {
            Self::Encoder(_) => Err("the model has no task heads".to_string()),
            Self::Checkpoint(m) => m
                .predict_examples(task, examples)
                .map_err(|e| format!("{e:#}")),
        }
    }
}
