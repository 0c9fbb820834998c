//! Freeze rules: which parameter groups a run leaves untouched.

use std::fmt;
use std::str::FromStr;

use smtl_heads::GroupId;

use crate::TrainError;

/// One entry of a run's `freeze` list, as written in configs:
/// `all`, `backbone`, `bottom:K`, or a group (`embeddings`, `layer.N`,
/// `dense`, `head:TASK`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FreezeRule {
    /// Every group: nothing trains.
    All,
    /// Every group of the shared encoder (all but the heads).
    Backbone,
    /// The embeddings and layers `0..K`.
    Bottom(usize),
    /// One group.
    Group(GroupId),
}

/// A string that is no freeze rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid freeze rule {text:?}: expected all, backbone, bottom:K, embeddings, layer.N, dense or head:TASK")]
pub struct ParseFreezeRuleError {
    pub text: String,
}

impl FromStr for FreezeRule {
    type Err = ParseFreezeRuleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseFreezeRuleError {
            text: s.to_string(),
        };
        match s {
            "all" => Ok(Self::All),
            "backbone" => Ok(Self::Backbone),
            _ => match s.strip_prefix("bottom:") {
                Some(k) => k.parse().map(Self::Bottom).map_err(|_| err()),
                None => s.parse().map(Self::Group).map_err(|_| err()),
            },
        }
    }
}

impl fmt::Display for FreezeRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::All => f.write_str("all"),
            Self::Backbone => f.write_str("backbone"),
            Self::Bottom(k) => write!(f, "bottom:{k}"),
            Self::Group(g) => g.fmt(f),
        }
    }
}

impl serde::Serialize for FreezeRule {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for FreezeRule {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl FreezeRule {
    /// The groups among `groups` this rule freezes.
    pub fn matches<'a>(&self, groups: &'a [GroupId]) -> Vec<&'a GroupId> {
        groups
            .iter()
            .filter(|g| match self {
                Self::All => true,
                Self::Backbone => g.is_backbone(),
                Self::Bottom(k) => **g == GroupId::Embeddings || g.layer().is_some_and(|i| i < *k),
                Self::Group(one) => *g == one,
            })
            .collect()
    }
}

/// The groups frozen by `rules`, sorted; a rule that matches no group of
/// the model (`layer.99` on a 6-layer encoder, a head that does not exist)
/// is an error naming the groups there are.
pub fn frozen_groups(rules: &[FreezeRule], groups: &[GroupId]) -> Result<Vec<GroupId>, TrainError> {
    let mut out = Vec::new();
    for rule in rules {
        let matched = rule.matches(groups);
        if matched.is_empty() {
            return Err(TrainError::InvalidConfig(format!(
                "freeze rule {:?} matches no parameter group (groups: {})",
                rule.to_string(),
                groups
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        out.extend(matched.into_iter().cloned());
    }
    out.sort();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_documented_form_and_names_a_bad_one() {
        for (text, rule) in [
            ("all", FreezeRule::All),
            ("backbone", FreezeRule::Backbone),
            ("bottom:4", FreezeRule::Bottom(4)),
            ("embeddings", FreezeRule::Group(GroupId::Embeddings)),
            ("layer.3", FreezeRule::Group(GroupId::Layer(3))),
            ("head:trec", FreezeRule::Group(GroupId::Head("trec".into()))),
        ] {
            assert_eq!(text.parse::<FreezeRule>().unwrap(), rule);
            assert_eq!(rule.to_string(), text);
        }
        let err = "botom:4".parse::<FreezeRule>().unwrap_err();
        assert!(err.to_string().contains("\"botom:4\""), "{err}");
        assert!("bottom:x".parse::<FreezeRule>().is_err());
    }

    #[test]
    fn bottom_k_takes_the_embeddings_and_the_first_k_layers() {
        let groups = vec![
            GroupId::Embeddings,
            GroupId::Layer(0),
            GroupId::Layer(1),
            GroupId::Layer(2),
            GroupId::Head("a".into()),
        ];
        let frozen = frozen_groups(&[FreezeRule::Bottom(2)], &groups).unwrap();
        assert_eq!(
            frozen,
            vec![GroupId::Embeddings, GroupId::Layer(0), GroupId::Layer(1)]
        );
        assert_eq!(
            frozen_groups(&[FreezeRule::Backbone], &groups)
                .unwrap()
                .len(),
            4
        );
        assert!(frozen_groups(&["layer.9".parse().unwrap()], &groups).is_err());
    }
}
