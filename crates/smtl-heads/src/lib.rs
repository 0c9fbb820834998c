//! Task heads on one shared sentence encoder.
//!
//! * [`HeadConfig`] / [`TaskHead`]: a sentence-classification head (pooled
//!   embedding -> dropout -> linear) and a token-classification head (token
//!   states -> dropout -> linear over BIO tags);
//! * pair kinds (`sentence-similarity`, `pair-ranking`): no head, the
//!   encoder's sentence embeddings trained by a [`PairObjective`]
//!   ([`pair_losses`]: sentence-transformers' CoSENT, cosine MSE, MNRL);
//! * [`align`]: word-level labels onto wordpieces (first piece labelled, the
//!   rest and the special tokens ignored) and back;
//! * [`MultiTaskModel`]: what a trainer needs of a multi-task model (forward a
//!   task's batch, named parameter groups for freezing and optimizers);
//! * [`SharedEncoderModel`]: the implementation on a [`SentenceEncoder`].

pub mod align;
mod error;
mod group;
mod head;
pub mod kinds;
mod metrics;
mod model;
mod objective;
pub mod pair_losses;

pub use error::HeadError;
pub use group::{GroupId, ParseGroupError};
pub use head::{HeadConfig, ParseKindError, TaskHead, TaskKind, IGNORE_INDEX};
pub use kinds::HeadKind;
pub use metrics::{EntityMetrics, TaskMetrics};
pub use model::{
    Example, MultiTaskModel, ParamGroup, Prediction, SharedEncoderModel, TaskBatch, TaskOutput,
    TaskSpec, HEADS_PREFIX,
};
pub use objective::{PairLoss, PairObjective};

pub type Result<T, E = HeadError> = std::result::Result<T, E>;
