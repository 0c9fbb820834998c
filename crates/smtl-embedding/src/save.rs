//! Writing a (fine-tuned) encoder back in sentence-transformers layout, so
//! that `SentenceTransformer(dir)` in Python loads it and gives the same
//! embeddings as this crate.

use std::path::{Path, PathBuf};

use tch::{Kind, Tensor};

use crate::encoder::BACKBONE_PREFIX;
use crate::{EmbedError, Result, SentenceEncoder};

/// Weight files never copied from the source directory: the weights are
/// written from the live variables instead.
fn is_copied_config(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("json") | Some("txt") | Some("model")
    )
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> EmbedError + '_ {
    move |source| EmbedError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Copies the configuration files (json, txt, sentencepiece) of `src` into
/// `dst`, keeping sub-folders (`1_Pooling/`, `2_Dense/`, ...).
fn copy_configs(src: &Path, dst: &Path) -> Result<()> {
    std::fs::create_dir_all(dst).map_err(io(dst))?;
    for entry in std::fs::read_dir(src).map_err(io(src))? {
        let entry = entry.map_err(io(src))?;
        let path = entry.path();
        let target = dst.join(entry.file_name());
        let kind = entry.file_type().map_err(io(&path))?;
        if kind.is_dir() {
            copy_configs(&path, &target)?;
        } else if kind.is_file() && is_copied_config(&path) {
            std::fs::copy(&path, &target).map_err(io(&path))?;
        }
    }
    Ok(())
}

/// Writes `tensors` as float32 safetensors (contiguous, on the CPU).
pub fn write_safetensors(path: &Path, tensors: &[(String, Tensor)]) -> Result<()> {
    let cpu: Vec<(String, Tensor)> = tensors
        .iter()
        .map(|(n, t)| {
            (
                n.clone(),
                t.detach()
                    .to_device(tch::Device::Cpu)
                    .to_kind(Kind::Float)
                    .contiguous(),
            )
        })
        .collect();
    Tensor::write_safetensors(&cpu, path)?;
    Ok(())
}

impl SentenceEncoder {
    /// Writes the model into `dir` (created if needed; must not be the
    /// directory it was loaded from): the source's configuration files,
    /// `model.safetensors` with Hugging Face names from the current weights
    /// (plus the unused BERT pooler copied from the source, so that
    /// transformers loads it without re-initialising anything), and each
    /// Dense module's weights.
    pub fn save_pretrained(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        let src = self.model_dir();
        if dir.exists() && dir.canonicalize().ok() == src.canonicalize().ok() {
            return Err(EmbedError::InvalidOption(format!(
                "refusing to save over the directory the model was loaded from ({})",
                dir.display()
            )));
        }
        copy_configs(src, dir)?;
        let rel = |p: &Path| -> PathBuf { dir.join(p.strip_prefix(src).unwrap_or(Path::new(""))) };

        let vars = self.var_store().variables();
        let prefix = format!("{BACKBONE_PREFIX}.");
        let mut backbone: Vec<(String, Tensor)> = vars
            .iter()
            .filter_map(|(n, t)| {
                n.strip_prefix(&prefix)
                    .map(|s| (s.to_string(), t.shallow_clone()))
            })
            .collect();
        let source_weights = self.transformer_dir().join("model.safetensors");
        if let Ok(original) = Tensor::read_safetensors(&source_weights) {
            for (name, t) in original {
                let name = name.strip_prefix("bert.").unwrap_or(&name).to_string();
                if name.starts_with("pooler.") {
                    backbone.push((name, t));
                }
            }
        }
        backbone.sort_by(|a, b| a.0.cmp(&b.0));
        write_safetensors(
            &rel(self.transformer_dir()).join("model.safetensors"),
            &backbone,
        )?;

        for spec in self.modules() {
            let dense_prefix = format!("dense.{}.", spec.name);
            let dense: Vec<(String, Tensor)> = vars
                .iter()
                .filter_map(|(n, t)| {
                    n.strip_prefix(&dense_prefix)
                        .map(|s| (s.to_string(), t.shallow_clone()))
                })
                .collect();
            if !dense.is_empty() {
                write_safetensors(&rel(&spec.dir).join("model.safetensors"), &dense)?;
            }
        }
        Ok(())
    }
}
