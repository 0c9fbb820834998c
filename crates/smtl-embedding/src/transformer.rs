//! The Transformer module: the backbone, its tokenizer, and the files of its
//! folder (configs, vocabulary) kept in memory, so that saving and
//! [`crate::SentenceEncoder::shared_handle`] never read the source directory
//! again.

use std::path::Path;

use serde::Deserialize;
use smtl_backbone::{Backbone, EncoderConfig, Family};
use tch::{nn, Tensor};

use crate::modules::read_json;
use crate::tokenize::TextTokenizer;
use crate::{EmbedError, Result};

/// `sentence_bert_config.json`.
#[derive(Deserialize, Default)]
pub(crate) struct SentenceBertConfig {
    #[serde(default)]
    pub max_seq_length: Option<usize>,
    #[serde(default)]
    pub do_lower_case: bool,
}

/// Files of a module folder written back as they were read: configs,
/// vocabularies, sentencepiece models (not weights, which come from the
/// live variables).
pub(crate) fn is_carried_file(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("json") | Some("txt") | Some("model")
    )
}

/// A module folder's carried files: `(file name, bytes)`.
pub(crate) type CarriedFiles = Vec<(String, Vec<u8>)>;

/// Every carried file directly in `dir`, by name.
pub(crate) fn read_carried_files(dir: &Path) -> Result<CarriedFiles> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| EmbedError::Io { path, source }
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let path = entry.path();
        if entry.file_type().map_err(io(&path))?.is_file() && is_carried_file(&path) {
            let bytes = std::fs::read(&path).map_err(io(&path))?;
            files.push((entry.file_name().to_string_lossy().into_owned(), bytes));
        }
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(files)
}

/// The loaded Transformer module.
#[derive(Debug)]
pub struct Transformer {
    pub(crate) backbone: Backbone,
    pub(crate) tokenizer: TextTokenizer,
    /// The folder's configs and vocabulary, written back by [`Self::save`].
    files: CarriedFiles,
    /// The checkpoint's pooler (unused by sentence-transformers), kept so
    /// that a saved checkpoint loads in transformers without
    /// re-initialising it.
    pooler: Vec<(String, Tensor)>,
}

impl Transformer {
    /// Reads the folder's config, tokenizer and carried files; the backbone's
    /// variables are built under `p` (filled by the caller).
    pub(crate) fn read(
        dir: &Path,
        p: nn::Path,
        config: &EncoderConfig,
        max_len: usize,
        do_lower_case: bool,
    ) -> Result<Self> {
        let tokenizer = TextTokenizer::from_file(
            &dir.join("tokenizer.json"),
            max_len,
            do_lower_case,
            config.pad_token_id,
        )?;
        let backbone = Backbone::load(p, config)?;
        Ok(Self {
            backbone,
            tokenizer,
            files: read_carried_files(dir)?,
            pooler: Vec::new(),
        })
    }

    /// Keeps the pooler tensors of the checkpoint's weights.
    pub(crate) fn keep_pooler(&mut self, family: Family, bytes: &[u8]) {
        let Ok(file) = safetensors::SafeTensors::deserialize(bytes) else {
            return;
        };
        for (name, view) in file.tensors() {
            let canonical = smtl_backbone::canonical_name(family, &name);
            if !canonical.starts_with("pooler.") {
                continue;
            }
            let Some(kind) = smtl_backbone::weight_kind(view.dtype()) else {
                continue;
            };
            let shape: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
            if let Ok(t) = Tensor::f_from_data_size(view.data(), &shape, kind) {
                self.pooler.push((canonical, t));
            }
        }
    }

    /// The same module over new variables under `p` (zeros until shared).
    pub(crate) fn handle(&self, p: nn::Path) -> Result<Self> {
        Ok(Self {
            backbone: Backbone::load(p, self.backbone.config())?,
            tokenizer: self.tokenizer.clone(),
            files: self.files.clone(),
            pooler: self
                .pooler
                .iter()
                .map(|(n, t)| (n.clone(), t.shallow_clone()))
                .collect(),
        })
    }

    pub fn backbone(&self) -> &Backbone {
        &self.backbone
    }

    pub fn tokenizer(&self) -> &TextTokenizer {
        &self.tokenizer
    }

    /// Writes the carried files and `model.safetensors` (Hugging Face names,
    /// from `variables`: the backbone's, with the store prefix removed).
    pub(crate) fn save(&self, dir: &Path, variables: Vec<(String, Tensor)>) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|source| EmbedError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        for (name, bytes) in &self.files {
            crate::save::write_file(&dir.join(name), bytes)?;
        }
        let mut tensors = variables;
        tensors.extend(
            self.pooler
                .iter()
                .map(|(n, t)| (n.clone(), t.shallow_clone())),
        );
        tensors.sort_by(|a, b| a.0.cmp(&b.0));
        crate::save::write_safetensors(&dir.join("model.safetensors"), &tensors)
    }
}

/// `sentence_bert_config.json` of `dir`, or the defaults.
pub(crate) fn sentence_bert_config(dir: &Path) -> Result<SentenceBertConfig> {
    match dir.join("sentence_bert_config.json") {
        p if p.is_file() => read_json(&p, "sentence_bert_config.json"),
        _ => Ok(SentenceBertConfig::default()),
    }
}
