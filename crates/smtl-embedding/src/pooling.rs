//! The Pooling module: token states -> one vector per sentence.

use std::path::Path;

use serde::Deserialize;
use tch::{Kind, Tensor};

use crate::modules::read_json;
use crate::{EmbedError, Result};

/// One pooling strategy of sentence-transformers' `Pooling` module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolingMode {
    /// The first real token (`[CLS]` for BERT).
    Cls,
    /// Element-wise max over real tokens.
    Max,
    /// Average over real tokens: padding never counts.
    Mean,
    /// Sum over real tokens divided by sqrt(number of real tokens).
    MeanSqrtLen,
    /// Position-weighted mean (weights 1, 2, 3, ... over real tokens).
    WeightedMean,
    /// The last real token (for decoder-style models).
    LastToken,
}

impl PoolingMode {
    /// All modes in sentence-transformers' concatenation order.
    pub const ALL: [PoolingMode; 6] = [
        Self::Cls,
        Self::Max,
        Self::Mean,
        Self::MeanSqrtLen,
        Self::WeightedMean,
        Self::LastToken,
    ];

    pub fn parse(name: &str) -> Result<Self> {
        Ok(match name {
            "cls" => Self::Cls,
            "max" => Self::Max,
            "mean" => Self::Mean,
            "mean_sqrt_len_tokens" => Self::MeanSqrtLen,
            "weightedmean" => Self::WeightedMean,
            "lasttoken" => Self::LastToken,
            other => return Err(EmbedError::UnknownPooling(other.to_string())),
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Cls => "cls",
            Self::Max => "max",
            Self::Mean => "mean",
            Self::MeanSqrtLen => "mean_sqrt_len_tokens",
            Self::WeightedMean => "weightedmean",
            Self::LastToken => "lasttoken",
        }
    }

    /// The pre-6.0 boolean key that switches this mode on.
    fn legacy_key(self) -> &'static str {
        match self {
            Self::Cls => "pooling_mode_cls_token",
            Self::Max => "pooling_mode_max_tokens",
            Self::Mean => "pooling_mode_mean_tokens",
            Self::MeanSqrtLen => "pooling_mode_mean_sqrt_len_tokens",
            Self::WeightedMean => "pooling_mode_weightedmean_tokens",
            Self::LastToken => "pooling_mode_lasttoken",
        }
    }
}

/// `pooling_mode` of the 6.x config: one name or a list of names.
#[derive(Deserialize)]
#[serde(untagged)]
enum ModeField {
    One(String),
    Many(Vec<String>),
}

/// The Pooling module: one or more [`PoolingMode`]s whose outputs are
/// concatenated in the order the config lists them (legacy boolean configs
/// use sentence-transformers' fixed order: cls, max, mean, mean_sqrt_len,
/// weightedmean, lasttoken).
#[derive(Debug, Clone, PartialEq)]
pub struct Pooling {
    pub modes: Vec<PoolingMode>,
    /// Width of the token states this pooling expects.
    pub token_dim: i64,
    /// The `config.json` it was loaded from, written back unchanged by
    /// [`Self::save`] (`None`: built in code).
    config_json: Option<String>,
}

impl Pooling {
    pub fn new(modes: Vec<PoolingMode>, token_dim: i64) -> Result<Self> {
        if modes.is_empty() {
            return Err(EmbedError::InvalidOption(
                "Pooling needs at least one mode".into(),
            ));
        }
        Ok(Self {
            modes,
            token_dim,
            config_json: None,
        })
    }

    /// Reads `<dir>/config.json` in either the 6.x (`pooling_mode`,
    /// `embedding_dimension`) or the legacy (`pooling_mode_*_tokens`,
    /// `word_embedding_dimension`) form.
    pub fn from_dir(dir: &Path) -> Result<Self> {
        let path = dir.join("config.json");
        let json: serde_json::Value = read_json(&path, "a Pooling config")?;
        let mut pooling = Self::from_json(&path, &json)?;
        pooling.config_json = Some(serde_json::to_string_pretty(&json).expect("JSON serializes"));
        Ok(pooling)
    }

    /// Writes `<dir>/config.json`: the loaded config, or sentence-transformers'
    /// legacy boolean form for a pooling built in code.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let text = match &self.config_json {
            Some(text) => text.clone(),
            None => {
                let mut map = serde_json::Map::new();
                map.insert("word_embedding_dimension".into(), self.token_dim.into());
                for mode in PoolingMode::ALL {
                    map.insert(mode.legacy_key().into(), self.modes.contains(&mode).into());
                }
                serde_json::to_string_pretty(&map).expect("JSON serializes")
            }
        };
        crate::save::write_file(&dir.join("config.json"), text.as_bytes())
    }

    fn from_json(path: &Path, json: &serde_json::Value) -> Result<Self> {
        let path = path.to_path_buf();
        let invalid = |message: String| EmbedError::InvalidModule {
            path: path.clone(),
            message,
        };
        let dim = json
            .get("embedding_dimension")
            .or_else(|| json.get("word_embedding_dimension"))
            .and_then(|v| v.as_i64())
            .filter(|&d| d > 0)
            .ok_or_else(|| invalid("no positive word_embedding_dimension".into()))?;
        let modes = match json.get("pooling_mode") {
            Some(v) => match serde_json::from_value::<ModeField>(v.clone()) {
                Ok(ModeField::One(m)) => vec![PoolingMode::parse(&m)?],
                Ok(ModeField::Many(ms)) => ms
                    .iter()
                    .map(|m| PoolingMode::parse(m))
                    .collect::<Result<_>>()?,
                Err(_) => {
                    return Err(invalid(format!(
                        "pooling_mode {v} is neither a name nor a list"
                    )))
                }
            },
            None => {
                if let Some(obj) = json.as_object() {
                    for key in obj.keys().filter(|k| k.starts_with("pooling_mode_")) {
                        if !PoolingMode::ALL.iter().any(|m| m.legacy_key() == key) {
                            return Err(EmbedError::UnknownPooling(key.clone()));
                        }
                    }
                }
                let on: Vec<_> = PoolingMode::ALL
                    .into_iter()
                    .filter(|m| json.get(m.legacy_key()).and_then(|v| v.as_bool()) == Some(true))
                    .collect();
                // sentence-transformers falls back to mean when nothing is on.
                if on.is_empty() {
                    vec![PoolingMode::Mean]
                } else {
                    on
                }
            }
        };
        if modes.is_empty() {
            return Err(invalid("pooling_mode lists no mode".into()));
        }
        Self::new(modes, dim)
    }

    /// Width of the pooled vector.
    pub fn output_dim(&self) -> i64 {
        self.token_dim * self.modes.len() as i64
    }

    /// `states`: `[batch, seq, dim]`; `mask`: `[batch, seq]`, 1 for real tokens.
    /// Same formulas as sentence-transformers' `Pooling._forward_padded`.
    pub fn forward(&self, states: &Tensor, mask: &Tensor) -> Tensor {
        let kind = states.kind();
        let (_, seq, dim) = states.size3().expect("token states are [batch, seq, dim]");
        let mask_f = mask.to_kind(kind).unsqueeze(-1);
        let mut outputs = Vec::with_capacity(self.modes.len());
        for mode in &self.modes {
            let pooled = match mode {
                PoolingMode::Cls => {
                    let first = mask.to_kind(Kind::Int).argmax(1, false);
                    gather_position(states, &first, dim)
                }
                PoolingMode::Max => states
                    .masked_fill(&mask_f.eq(0.0), f64::NEG_INFINITY)
                    .amax(1, false),
                PoolingMode::Mean | PoolingMode::MeanSqrtLen => {
                    let sum = (states * &mask_f).sum_dim_intlist(1, false, kind);
                    let count = mask_f.sum_dim_intlist(1, false, kind).clamp_min(1e-9);
                    if *mode == PoolingMode::Mean {
                        sum / count
                    } else {
                        sum / count.sqrt()
                    }
                }
                PoolingMode::WeightedMean => {
                    let leading_pad = mask.to_kind(Kind::Int).argmax(1, false).to_kind(kind);
                    let positions = Tensor::arange_start(1, seq + 1, (kind, states.device()));
                    let weights = positions.view([1, -1, 1]) - leading_pad.view([-1, 1, 1]);
                    let weighted_mask = &mask_f * weights;
                    let sum = (states * &weighted_mask).sum_dim_intlist(1, false, kind);
                    sum / weighted_mask
                        .sum_dim_intlist(1, false, kind)
                        .clamp_min(1e-9)
                }
                PoolingMode::LastToken => {
                    let (values, flipped_idx) = mask.flip([1]).max_dim(1, false);
                    let flipped_idx =
                        flipped_idx.where_self(&values.ne(0), &flipped_idx.full_like(seq - 1));
                    let last = (-flipped_idx) + (seq - 1);
                    gather_position(&(states * &mask_f), &last, dim)
                }
            };
            outputs.push(pooled);
        }
        if outputs.len() == 1 {
            outputs.pop().expect("one output")
        } else {
            Tensor::cat(&outputs, -1)
        }
    }
}

/// `states[b, index[b], :]` for every batch row.
fn gather_position(states: &Tensor, index: &Tensor, dim: i64) -> Tensor {
    let idx = index
        .to_kind(Kind::Int64)
        .view([-1, 1, 1])
        .expand([-1, 1, dim], false);
    states.gather(1, &idx, false).squeeze_dim(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    fn batch() -> (Tensor, Tensor) {
        // Two sentences: 3 real tokens, then 2 real tokens + 1 pad.
        let states = Tensor::from_slice(&[
            1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0, // sentence 0
            -1.0, 0.5, 2.0, -3.0, 100.0, 100.0, // sentence 1 (last is pad)
        ])
        .view([2, 3, 2]);
        let mask = Tensor::from_slice(&[1i64, 1, 1, 1, 1, 0]).view([2, 3]);
        (states, mask)
    }

    fn rows(t: &Tensor) -> Vec<Vec<f32>> {
        let t = t.to_device(Device::Cpu);
        (0..t.size()[0])
            .map(|i| Vec::<f32>::try_from(t.get(i)).unwrap())
            .collect()
    }

    #[test]
    fn every_mode_ignores_padding() {
        let (s, m) = batch();
        let pool = |mode| rows(&Pooling::new(vec![mode], 2).unwrap().forward(&s, &m));
        assert_eq!(
            pool(PoolingMode::Cls),
            vec![vec![1.0, 2.0], vec![-1.0, 0.5]]
        );
        assert_eq!(pool(PoolingMode::Max), vec![vec![5.0, 6.0], vec![2.0, 0.5]]);
        assert_eq!(
            pool(PoolingMode::Mean),
            vec![vec![3.0, 4.0], vec![0.5, -1.25]]
        );
        assert_eq!(
            pool(PoolingMode::LastToken),
            vec![vec![5.0, 6.0], vec![2.0, -3.0]]
        );
        let sqrt = pool(PoolingMode::MeanSqrtLen);
        approx::assert_abs_diff_eq!(sqrt[1][0], 1.0 / 2f32.sqrt(), epsilon = 1e-6);
        // weights 1,2(,3): (1*-1 + 2*2)/3 = 1
        let wm = pool(PoolingMode::WeightedMean);
        approx::assert_abs_diff_eq!(wm[1][0], 1.0, epsilon = 1e-6);
        approx::assert_abs_diff_eq!(wm[0][0], (1.0 + 6.0 + 15.0) / 6.0, epsilon = 1e-6);
    }

    #[test]
    fn several_modes_concatenate_in_order() {
        let (s, m) = batch();
        let p = Pooling::new(vec![PoolingMode::Cls, PoolingMode::Mean], 2).unwrap();
        assert_eq!(p.output_dim(), 4);
        assert_eq!(rows(&p.forward(&s, &m))[1], vec![-1.0, 0.5, 0.5, -1.25]);
    }

    #[test]
    fn unknown_modes_are_errors() {
        assert!(matches!(
            PoolingMode::parse("median"),
            Err(EmbedError::UnknownPooling(_))
        ));
    }
}
