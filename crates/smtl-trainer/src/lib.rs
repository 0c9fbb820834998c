//! The multi-task trainer: an AdamW optimiser whose state can be saved and
//! restored, the linear warm-up schedule, per-batch task sampling, loss
//! weighting, freeze rules, evaluation, atomic checkpoints and the training
//! loop, which reports through [`TrainObserver`]s and writes nothing itself.

pub mod optim;
pub mod sampler;
pub mod schedule;
pub mod weighting;

mod cache;
pub mod checkpoint;
mod error;
mod evaluate;
mod freeze;
mod observe;
mod precision;
mod tasks;
mod trainer;

pub use cache::{CachedSplit, FeatureCache};
pub use error::TrainError;
pub use evaluate::{evaluate, evaluate_with, score, TaskEval};
pub use freeze::{frozen_groups, FreezeRule, ParseFreezeRuleError};
pub use observe::{
    CheckpointWriter, Checkpoints, EpochRecord, History, RunStart, StepRecord, TrainObserver,
};
pub use precision::TrainPrecision;
pub use sampler::{ParseSamplingError, SamplingStrategy};
pub use tasks::{ranking_task, sentence_task, similarity_task, token_task, PreparedTask};
pub use trainer::{FitSummary, Persist, TaskData, TrainConfig, TrainState, Trainer};
pub use weighting::{LossWeighting, ParseWeightingError};
