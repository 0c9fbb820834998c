//! Writing a (fine-tuned) encoder back in sentence-transformers layout, so
//! that `SentenceTransformer(dir)` in Python loads it and gives the same
//! embeddings as this crate. Every module writes its own folder from what
//! it holds in memory; the source directory is not read again.

use std::path::{Path, PathBuf};

use tch::{Kind, Tensor};

use crate::encoder::{SentenceStep, BACKBONE_PREFIX};
use crate::{EmbedError, Result, SentenceEncoder};

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> EmbedError + '_ {
    move |source| EmbedError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `bytes` to `path`, creating its folder.
pub(crate) fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    std::fs::write(path, bytes).map_err(io(path))
}

/// Writes `tensors` as float32 safetensors (contiguous, on the CPU).
pub fn write_safetensors(path: &Path, tensors: &[(String, Tensor)]) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
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
    /// directory it was loaded from): the model directory's files
    /// (`modules.json`, ...), the Transformer's folder (configs, tokenizer,
    /// `model.safetensors` with Hugging Face names from the current weights,
    /// plus BERT's unused pooler so that transformers loads it without
    /// re-initialising anything), and every other module's folder.
    pub fn save_pretrained(&self, dir: impl AsRef<Path>) -> Result<()> {
        let dir = dir.as_ref();
        let src = self.model_dir();
        if dir.exists() && dir.canonicalize().ok() == src.canonicalize().ok() {
            return Err(EmbedError::InvalidOption(format!(
                "refusing to save over the directory the model was loaded from ({})",
                dir.display()
            )));
        }
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let rel = |p: &Path| -> PathBuf { dir.join(p.strip_prefix(src).unwrap_or(Path::new(""))) };
        for (name, bytes) in self.top_files() {
            write_file(&dir.join(name), bytes)?;
        }
        let prefix = format!("{BACKBONE_PREFIX}.");
        let backbone: Vec<(String, Tensor)> = self
            .var_store()
            .variables()
            .into_iter()
            .filter_map(|(n, t)| n.strip_prefix(&prefix).map(|s| (s.to_string(), t)))
            .collect();
        self.transformer()
            .save(&rel(self.transformer_dir()), backbone)?;
        if self.modules().is_empty() {
            // A plain Hugging Face directory: no module folders to write.
            return Ok(());
        }
        for (step, spec) in self.steps().iter().zip(self.step_modules()) {
            let folder = rel(&spec.dir);
            match step {
                SentenceStep::Pooling(p) => p.save(&folder)?,
                SentenceStep::Dense(d) => d.save(&folder)?,
                SentenceStep::Normalize => std::fs::create_dir_all(&folder).map_err(io(&folder))?,
            }
        }
        for (spec, files) in self.carried_modules() {
            for (name, bytes) in files {
                write_file(&rel(&spec.dir).join(name), bytes)?;
            }
        }
        Ok(())
    }
}
