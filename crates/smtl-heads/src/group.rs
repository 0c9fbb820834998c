//! Parameter groups: the names under which a model's tensors are frozen,
//! decayed and scheduled together.

use std::fmt;
use std::str::FromStr;

/// One parameter group of a multi-task model. Written as in configs and
/// logs: `embeddings`, `layer.N`, `dense`, `head:TASK`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GroupId {
    /// Token, position (and type) embeddings with their LayerNorm.
    Embeddings,
    /// Transformer layer N (0 = closest to the embeddings).
    Layer(usize),
    /// The sentence-transformers Dense modules after pooling.
    Dense,
    /// The head of one task.
    Head(String),
}

impl GroupId {
    /// Part of the shared encoder (everything but heads).
    pub fn is_backbone(&self) -> bool {
        !matches!(self, Self::Head(_))
    }

    /// The layer index, for `layer.N`.
    pub fn layer(&self) -> Option<usize> {
        match self {
            Self::Layer(n) => Some(*n),
            _ => None,
        }
    }
}

impl fmt::Display for GroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Embeddings => f.write_str("embeddings"),
            Self::Layer(n) => write!(f, "layer.{n}"),
            Self::Dense => f.write_str("dense"),
            Self::Head(task) => write!(f, "head:{task}"),
        }
    }
}

/// A string that names no parameter group.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a parameter group (expected embeddings, layer.N, dense or head:TASK)")]
pub struct ParseGroupError {
    pub text: String,
}

impl FromStr for GroupId {
    type Err = ParseGroupError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseGroupError {
            text: s.to_string(),
        };
        match s {
            "embeddings" => Ok(Self::Embeddings),
            "dense" => Ok(Self::Dense),
            _ => {
                if let Some(n) = s.strip_prefix("layer.") {
                    n.parse().map(Self::Layer).map_err(|_| err())
                } else if let Some(task) = s.strip_prefix("head:") {
                    if task.is_empty() {
                        Err(err())
                    } else {
                        Ok(Self::Head(task.to_string()))
                    }
                } else {
                    Err(err())
                }
            }
        }
    }
}

impl serde::Serialize for GroupId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for GroupId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_its_text() {
        for g in [
            GroupId::Embeddings,
            GroupId::Layer(11),
            GroupId::Dense,
            GroupId::Head("trec".into()),
        ] {
            assert_eq!(g.to_string().parse::<GroupId>().unwrap(), g);
        }
        for bad in ["", "layer.", "layer.x", "head:", "heads", "Layer.1"] {
            assert!(bad.parse::<GroupId>().is_err(), "{bad}");
        }
    }
}
