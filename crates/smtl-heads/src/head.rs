//! The heads themselves: small modules on top of the shared encoder's output.

use serde::{Deserialize, Serialize};
use tch::{nn, nn::Module, Tensor};

use crate::objective::PairObjective;
use crate::{HeadError, Result};

/// Label id that the loss ignores (wordpieces after the first, special tokens).
pub const IGNORE_INDEX: i64 = -100;

/// What a head reads and predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// One label per sentence, from the pooled sentence embedding.
    SentenceClassification,
    /// One label per word, from the token states.
    TokenClassification,
    /// A gold similarity per sentence pair, trained on the cosine of the
    /// pair's sentence embeddings (CoSENT or cosine MSE).
    SentenceSimilarity,
    /// (anchor, positive) pairs, trained with in-batch negatives (MNRL).
    PairRanking,
}

impl TaskKind {
    /// Every kind, in the order configs list them.
    pub const ALL: [TaskKind; 4] = [
        Self::SentenceClassification,
        Self::TokenClassification,
        Self::SentenceSimilarity,
        Self::PairRanking,
    ];

    /// In words, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::SentenceClassification => "sentence classification",
            Self::TokenClassification => "token classification",
            Self::SentenceSimilarity => "sentence similarity",
            Self::PairRanking => "pair ranking",
        }
    }

    /// As run configs and `smtl` write it: `sentence-classification`, ...
    pub fn id(self) -> &'static str {
        match self {
            Self::SentenceClassification => "sentence-classification",
            Self::TokenClassification => "token-classification",
            Self::SentenceSimilarity => "sentence-similarity",
            Self::PairRanking => "pair-ranking",
        }
    }
}

/// A string that names no task kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown task kind {text:?}: expected one of {}", TaskKind::ALL.map(TaskKind::id).join(", "))]
pub struct ParseKindError {
    pub text: String,
}

impl std::str::FromStr for TaskKind {
    type Err = ParseKindError;
    fn from_str(s: &str) -> std::result::Result<Self, ParseKindError> {
        Self::ALL
            .into_iter()
            .find(|k| k.id() == s)
            .ok_or_else(|| ParseKindError {
                text: s.to_string(),
            })
    }
}

/// A head's shape, stored in checkpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeadConfig {
    pub kind: TaskKind,
    pub num_labels: i64,
    /// Dropout on the head's input during training.
    #[serde(default = "default_dropout")]
    pub dropout: f64,
    /// Width of an optional hidden layer (`None`: a single linear layer).
    #[serde(default)]
    pub hidden: Option<i64>,
    /// The pair kinds' objective (they have no head: `num_labels` is 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objective: Option<PairObjective>,
}

fn default_dropout() -> f64 {
    0.1
}

impl HeadConfig {
    pub fn linear(kind: TaskKind, num_labels: usize) -> Self {
        Self {
            kind,
            num_labels: num_labels as i64,
            dropout: default_dropout(),
            hidden: None,
            objective: None,
        }
    }

    /// A pair task: no head, the sentence embeddings trained by `objective`.
    pub fn pair(kind: TaskKind, objective: PairObjective) -> Self {
        Self {
            kind,
            num_labels: 0,
            dropout: default_dropout(),
            hidden: None,
            objective: Some(objective),
        }
    }

    fn validate(&self) -> Result<()> {
        let kind = self.kind.behaviour();
        if !kind.has_head() {
            let objective = self.objective.as_ref().ok_or_else(|| {
                HeadError::InvalidConfig(format!("a {} task needs an objective", self.kind.id()))
            })?;
            objective.validate(self.kind, kind.losses())?;
            if self.num_labels != 0 || self.hidden.is_some() {
                return Err(HeadError::InvalidConfig(format!(
                    "a {} task has no head: no labels and no hidden layer",
                    self.kind.id()
                )));
            }
            return Ok(());
        }
        if self.objective.is_some() {
            return Err(HeadError::InvalidConfig(format!(
                "a {} task's loss is cross-entropy: it takes no pair objective",
                self.kind.id()
            )));
        }
        if self.num_labels < 2 {
            return Err(HeadError::InvalidConfig(format!(
                "a head needs at least 2 labels, got {}",
                self.num_labels
            )));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(HeadError::InvalidConfig(format!(
                "dropout must be in [0, 1), got {}",
                self.dropout
            )));
        }
        if matches!(self.hidden, Some(h) if h <= 0) {
            return Err(HeadError::InvalidConfig(
                "hidden width must be positive".into(),
            ));
        }
        Ok(())
    }
}

/// dropout -> linear (or dropout -> linear -> GELU -> dropout -> linear with
/// a hidden layer), applied on the last dimension: works for `[batch, dim]`
/// sentence vectors and `[batch, seq, dim]` token states alike.
/// Pair kinds score the encoder's own embeddings: their head is the
/// identity, with no variables.
#[derive(Debug)]
pub struct TaskHead {
    config: HeadConfig,
    hidden: Option<nn::Linear>,
    output: Option<nn::Linear>,
}

impl TaskHead {
    /// Builds the head's variables under `p` for `input_dim`-wide features.
    pub fn new(p: nn::Path, input_dim: i64, config: HeadConfig) -> Result<Self> {
        config.validate()?;
        if !config.kind.behaviour().has_head() {
            return Ok(Self {
                config,
                hidden: None,
                output: None,
            });
        }
        let hidden = config
            .hidden
            .map(|h| nn::linear(&p / "hidden", input_dim, h, Default::default()));
        let out_in = config.hidden.unwrap_or(input_dim);
        let output = Some(nn::linear(
            &p / "output",
            out_in,
            config.num_labels,
            Default::default(),
        ));
        Ok(Self {
            config,
            hidden,
            output,
        })
    }

    pub fn config(&self) -> &HeadConfig {
        &self.config
    }

    pub fn kind(&self) -> TaskKind {
        self.config.kind
    }

    /// Logits over the head's labels (pair kinds: the features as they are).
    pub fn forward_t(&self, features: &Tensor, train: bool) -> Tensor {
        let Some(output) = &self.output else {
            return features.shallow_clone();
        };
        let mut xs = smtl_kernels::dropout(features, self.config.dropout, train);
        if let Some(hidden) = &self.hidden {
            xs = smtl_kernels::dropout(
                &hidden.forward(&xs).gelu("none"),
                self.config.dropout,
                train,
            );
        }
        output.forward(&xs)
    }
}
