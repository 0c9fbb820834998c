//! Building blocks of the multi-task trainer: an AdamW optimiser whose state
//! can be saved and restored, the linear warm-up schedule, per-batch task
//! sampling, loss weighting, a JSON-lines metrics log and training plots;
//! evaluation, atomic checkpoints and the multi-task training loop.

pub mod log;
pub mod optim;
pub mod plot;
pub mod sampler;
pub mod schedule;
pub mod weighting;

pub mod cached;
pub mod checkpoint;
mod error;
mod evaluate;
mod tasks;
mod trainer;

pub use error::TrainError;
pub use evaluate::{evaluate, score, TaskEval};
pub use sampler::SamplingStrategy;
pub use tasks::{sentence_task, token_task, PreparedTask};
pub use trainer::{frozen_groups, FitSummary, Persist, TaskData, TrainConfig, TrainState, Trainer};
pub use weighting::LossWeighting;
