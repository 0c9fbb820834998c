//! The arithmetic of the training step: exact fp32, or bf16 mixed precision.
//!
//! `Bf16` is the mixed precision of `torch.autocast(device,
//! dtype=torch.bfloat16)` (what the Hugging Face Trainer's `bf16=True` runs
//! on a CPU): each step's forward pass runs inside an autocast region, so the
//! matrix products and attention take bf16 copies of their fp32 inputs while
//! softmax, normalisation and the losses stay fp32; the backward pass follows
//! the same kinds. Master weights, gradients and the AdamW state stay fp32,
//! so the optimizer, gradient clipping, freeze masks and checkpoints are the
//! fp32 ones. Dev and test evaluation run in fp32: a checkpoint is scored
//! as it will be loaded.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use smtl_kernels::Autocast;
use tch::Device;

use crate::TrainError;

/// Numeric precision of training steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrainPrecision {
    /// Every operation in fp32 (the default).
    #[default]
    Fp32,
    /// bf16 autocast around the forward pass, fp32 master weights.
    Bf16,
}

impl TrainPrecision {
    /// Enters this precision's region for one forward pass on `device`:
    /// `None` for fp32, an autocast guard for bf16 (drop it before the
    /// backward pass, as torch leaves its autocast context).
    pub fn forward_region(self, device: Device) -> Result<Option<Autocast>, TrainError> {
        match self {
            Self::Fp32 => Ok(None),
            Self::Bf16 => Ok(Some(Autocast::bf16(device)?)),
        }
    }
}

impl FromStr for TrainPrecision {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "fp32" => Ok(Self::Fp32),
            "bf16" => Ok(Self::Bf16),
            _ => Err(format!(
                "unknown training precision {s:?} (expected fp32 or bf16)"
            )),
        }
    }
}

impl fmt::Display for TrainPrecision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Fp32 => "fp32",
            Self::Bf16 => "bf16",
        })
    }
}
