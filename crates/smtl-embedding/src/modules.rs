//! `modules.json`: which sentence-transformers modules make up the model, in order.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::{EmbedError, Result};

/// The module types this crate can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModuleKind {
    Transformer,
    Pooling,
    Dense,
    Normalize,
    /// Identity at inference time.
    Dropout,
}

/// One entry of `modules.json`, resolved against the model directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleSpec {
    pub name: String,
    pub kind: ModuleKind,
    /// The module's folder (the model directory itself for path `""`).
    pub dir: PathBuf,
}

#[derive(Deserialize)]
struct RawModule {
    #[serde(default)]
    idx: Option<i64>,
    name: String,
    #[serde(default)]
    path: String,
    #[serde(rename = "type")]
    kind: String,
}

/// Reads `modules.json`. Module types are matched on their class name (the
/// last dotted component), so both `sentence_transformers.models.Pooling`
/// and the 6.x `sentence_transformers.sentence_transformer.modules.pooling.Pooling`
/// are understood. Entries are ordered by `idx` as sentence-transformers does.
pub fn read_modules(model_dir: &Path) -> Result<Vec<ModuleSpec>> {
    let path = model_dir.join("modules.json");
    let text = std::fs::read_to_string(&path).map_err(|source| EmbedError::Io {
        path: path.clone(),
        source,
    })?;
    let mut raw: Vec<RawModule> =
        serde_json::from_str(&text).map_err(|reason| EmbedError::Json {
            path: path.clone(),
            what: "modules.json (a list of {idx, name, path, type})",
            reason,
        })?;
    raw.sort_by_key(|m| m.idx.unwrap_or(i64::MAX));
    raw.into_iter()
        .map(|m| {
            let class = m.kind.rsplit('.').next().unwrap_or(&m.kind);
            let kind = match class {
                "Transformer" => ModuleKind::Transformer,
                "Pooling" => ModuleKind::Pooling,
                "Dense" => ModuleKind::Dense,
                "Normalize" => ModuleKind::Normalize,
                "Dropout" => ModuleKind::Dropout,
                _ => {
                    return Err(EmbedError::UnsupportedModule {
                        kind: m.kind.clone(),
                        name: m.name.clone(),
                    })
                }
            };
            if Path::new(&m.path).is_absolute() || m.path.split(['/', '\\']).any(|c| c == "..") {
                return Err(EmbedError::InvalidModule {
                    path: path.clone(),
                    message: format!("module path {:?} leaves the model directory", m.path),
                });
            }
            Ok(ModuleSpec {
                name: m.name,
                kind,
                dir: model_dir.join(&m.path),
            })
        })
        .collect()
}

/// Reads and parses a JSON file of a module, naming the file on error.
pub(crate) fn read_json<T: serde::de::DeserializeOwned>(
    path: &Path,
    what: &'static str,
) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|source| EmbedError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|reason| EmbedError::Json {
        path: path.to_path_buf(),
        what,
        reason,
    })
}
