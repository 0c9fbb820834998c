//! The objective of a pair task: which sentence-transformers loss trains
//! the embeddings, with its settings, as a run config names them and
//! `tasks.json` stores them.

use serde::{Deserialize, Serialize};

use crate::{HeadError, Result, TaskKind};

/// A pair loss, as configs write it (`loss = "cosent"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PairLoss {
    /// `CoSENTLoss`: only the order of the pairs' similarities matters.
    Cosent,
    /// `CosineSimilarityLoss`: squared error of the cosine against the
    /// score scaled to 0..1.
    CosineMse,
    /// `MultipleNegativesRankingLoss`: each anchor's positive against the
    /// batch's other positives.
    Mnrl,
}

impl PairLoss {
    pub const ALL: [PairLoss; 3] = [Self::Cosent, Self::CosineMse, Self::Mnrl];

    pub fn id(self) -> &'static str {
        match self {
            Self::Cosent => "cosent",
            Self::CosineMse => "cosine-mse",
            Self::Mnrl => "mnrl",
        }
    }
}

impl std::str::FromStr for PairLoss {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        Self::ALL.into_iter().find(|l| l.id() == s).ok_or_else(|| {
            format!(
                "unknown pair loss {s:?}: expected one of {}",
                Self::ALL.map(PairLoss::id).join(", ")
            )
        })
    }
}

/// What trains a pair task's embeddings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairObjective {
    pub loss: PairLoss,
    /// Multiplies the cosines before CoSENT and MNRL (20, as
    /// sentence-transformers; unused by cosine MSE).
    #[serde(default = "default_scale")]
    pub scale: f64,
    /// Gold scores run from 0 to this (5 for STS-B); cosine MSE's targets
    /// are the scores divided by it.
    #[serde(default = "default_score_max")]
    pub score_max: f64,
    /// MNRL both ways: also each positive's anchor among the batch's
    /// anchors (`MultipleNegativesSymmetricRankingLoss`).
    #[serde(default)]
    pub symmetric: bool,
}

pub fn default_scale() -> f64 {
    20.0
}

pub fn default_score_max() -> f64 {
    5.0
}

impl PairObjective {
    /// `loss` with sentence-transformers' defaults.
    pub fn new(loss: PairLoss) -> Self {
        Self {
            loss,
            scale: default_scale(),
            score_max: default_score_max(),
            symmetric: false,
        }
    }

    /// Refuses a loss that `kind` cannot train with and settings out of range.
    pub(crate) fn validate(&self, kind: TaskKind, losses: &[PairLoss]) -> Result<()> {
        self.check(kind, losses)
            .map_err(|(_, message)| HeadError::InvalidConfig(message))
    }

    /// [`Self::validate`]'s checks, each failure with the config key it is
    /// about (`loss`, `scale`, `score_max` or `symmetric`), for run configs
    /// that name the key and its line.
    pub fn check(
        &self,
        kind: TaskKind,
        losses: &[PairLoss],
    ) -> std::result::Result<(), (&'static str, String)> {
        if !losses.contains(&self.loss) {
            return Err((
                "loss",
                format!(
                    "a {} task trains with {}, not {}",
                    kind.id(),
                    losses
                        .iter()
                        .map(|l| l.id())
                        .collect::<Vec<_>>()
                        .join(" or "),
                    self.loss.id()
                ),
            ));
        }
        if !(self.scale.is_finite() && self.scale > 0.0) {
            return Err((
                "scale",
                format!("scale must be a positive number, got {}", self.scale),
            ));
        }
        if !(self.score_max.is_finite() && self.score_max > 0.0) {
            return Err((
                "score_max",
                format!(
                    "score_max must be a positive number, got {}",
                    self.score_max
                ),
            ));
        }
        if self.symmetric && self.loss != PairLoss::Mnrl {
            return Err((
                "symmetric",
                format!("symmetric applies to mnrl only, not {}", self.loss.id()),
            ));
        }
        Ok(())
    }
}
