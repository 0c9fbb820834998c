//! Filling a [`VarStore`] straight from a Hugging Face `model.safetensors`.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use safetensors::{Dtype, SafeTensors};
use tch::{nn::VarStore, Kind, Tensor};

use crate::{BackboneError, EncoderConfig, Family, Result};

/// Namespaces that belong to a backbone (DistilBERT's blocks are under
/// `transformer.`); any tensor in them that the model does not know is an
/// error, because it means the architecture differs.
const BACKBONE_NAMESPACES: [&str; 4] = ["embeddings.", "encoder.", "pooler.", "transformer."];

/// The tensor layout a family's checkpoints have (RoBERTa and XLM-R share
/// BERT's names).
fn family_layout(family: Family) -> &'static str {
    match family {
        Family::Bert | Family::Roberta | Family::XlmRoberta => "BERT/RoBERTa",
        Family::Mpnet => "MPNet",
        Family::DistilBert => "DistilBERT",
    }
}

/// The layout the tensor names of a checkpoint show, if any: each family
/// has block tensor names no other family uses.
pub fn tensor_family_layout<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<&'static str> {
    names.into_iter().find_map(|n| {
        if n.contains(".attention.attn.q.") || n.contains("relative_attention_bias") {
            Some("MPNet")
        } else if n.contains("transformer.layer.") && n.contains(".attention.q_lin.") {
            Some("DistilBERT")
        } else if n.contains(".attention.self.query.") {
            Some("BERT/RoBERTa")
        } else {
            None
        }
    })
}

/// Refuses a checkpoint whose tensors belong to another family than the
/// config's: naming both says more than a list of missing tensors.
fn check_family(family: Family, path: &Path, file: &SafeTensors) -> Result<()> {
    match tensor_family_layout(file.names()) {
        Some(found) if found != family_layout(family) => Err(BackboneError::FamilyMismatch {
            path: path.to_path_buf(),
            config: family,
            tensors: found,
        }),
        _ => Ok(()),
    }
}

/// What [`load_safetensors`] did, for callers that want to log it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Number of variables filled from the file.
    pub loaded: usize,
    /// Tensors present in the file but deliberately not used: the pooler
    /// (sentence-transformers never uses it), the `position_ids` and
    /// `token_type_ids` buffers, and task heads (`cls.*`, `lm_head.*`, ...).
    pub ignored: Vec<String>,
}

/// Canonical backbone name of a checkpoint tensor: drops the family's task
/// checkpoint prefix (`bert.` in `BertFor*`, `roberta.`, `mpnet.`,
/// `distilbert.`) and maps TF-era `LayerNorm.gamma/beta` names.
pub fn canonical_name(family: Family, name: &str) -> String {
    let name = name
        .strip_prefix(family.checkpoint_prefix())
        .unwrap_or(name);
    if let Some(stem) = name.strip_suffix("LayerNorm.gamma") {
        format!("{stem}LayerNorm.weight")
    } else if let Some(stem) = name.strip_suffix("LayerNorm.beta") {
        format!("{stem}LayerNorm.bias")
    } else {
        name.to_string()
    }
}

/// The libtorch kind of a floating-point safetensors dtype; `None` for the
/// dtypes weights may not have (integers, bool, fp8).
pub fn to_kind(dtype: Dtype) -> Option<Kind> {
    match dtype {
        Dtype::F32 => Some(Kind::Float),
        Dtype::F16 => Some(Kind::Half),
        Dtype::BF16 => Some(Kind::BFloat16),
        Dtype::F64 => Some(Kind::Double),
        _ => None,
    }
}

/// Refuses pickle-based weight files, which can execute code when loaded.
pub(crate) fn refuse_pickle(path: &Path) -> Result<()> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    if matches!(ext.as_str(), "bin" | "pt" | "pth" | "pkl" | "ckpt") {
        return Err(BackboneError::PickleRefused {
            path: path.to_path_buf(),
        });
    }
    Ok(())
}

/// Reads a PyTorch `torch.save` state dict (`pytorch_model.bin`) and
/// re-encodes it as safetensors bytes, so that it goes through exactly the
/// checks of [`load_safetensors_bytes`] and [`check_config_fits`].
///
/// Only call this after the user opted in: the file is parsed by libtorch's
/// C++ unpickler (`torch::jit::_load_parameters`), which knows tensors and
/// containers only and runs no Python, but is a far larger parser than
/// safetensors' header.
pub fn pickle_to_safetensors_bytes(path: &Path) -> Result<Vec<u8>> {
    let bad = |message: String| BackboneError::BadPickle {
        path: path.to_path_buf(),
        message,
    };
    let tensors =
        Tensor::loadz_multi_with_device(path, tch::Device::Cpu).map_err(|e| bad(e.to_string()))?;
    struct Raw {
        dtype: Dtype,
        shape: Vec<usize>,
        bytes: Vec<u8>,
    }
    impl safetensors::View for &Raw {
        fn dtype(&self) -> Dtype {
            self.dtype
        }
        fn shape(&self) -> &[usize] {
            &self.shape
        }
        fn data(&self) -> std::borrow::Cow<'_, [u8]> {
            std::borrow::Cow::Borrowed(&self.bytes)
        }
        fn data_len(&self) -> usize {
            self.bytes.len()
        }
    }
    let mut raws = Vec::with_capacity(tensors.len());
    for (name, t) in tensors {
        let dtype = match t.kind() {
            Kind::Float => Dtype::F32,
            Kind::Half => Dtype::F16,
            Kind::BFloat16 => Dtype::BF16,
            Kind::Double => Dtype::F64,
            Kind::Int64 => Dtype::I64,
            other => return Err(bad(format!("tensor {name} has unsupported kind {other:?}"))),
        };
        let shape = t.size().iter().map(|&d| d as usize).collect();
        let flat = t
            .f_contiguous()
            .and_then(|c| c.f_view_dtype(Kind::Uint8))
            .and_then(|c| c.f_flatten(0, -1))
            .map_err(|e| bad(e.to_string()))?;
        let bytes = Vec::<u8>::try_from(&flat).map_err(|e| bad(e.to_string()))?;
        raws.push((
            name,
            Raw {
                dtype,
                shape,
                bytes,
            },
        ));
    }
    let views = raws.iter().map(|(n, r)| (n.clone(), r));
    safetensors::serialize(views, None).map_err(|e| bad(e.to_string()))
}

/// Copies the tensors of `path` into the variables of `vs` whose names start
/// with `prefix` (pass `""` when the backbone sits at the root of the store).
///
/// Every variable must be found with the right shape; every tensor of the
/// backbone's namespaces must be used. Half-precision weights are converted
/// to the variable's kind. Nothing of the store is changed when an error is
/// returned for a missing, unexpected, mis-shaped or mis-typed tensor.
pub fn load_safetensors(
    vs: &VarStore,
    prefix: &str,
    family: Family,
    path: impl AsRef<Path>,
) -> Result<LoadReport> {
    let path = path.as_ref();
    let bytes = read_safetensors(path)?;
    load_safetensors_bytes(vs, prefix, family, path, &bytes)
}

/// Reads a weights file, refusing pickle formats.
pub fn read_safetensors(path: impl AsRef<Path>) -> Result<Vec<u8>> {
    let path = path.as_ref();
    refuse_pickle(path)?;
    std::fs::read(path).map_err(|source| BackboneError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn parse<'a>(path: &Path, bytes: &'a [u8]) -> Result<SafeTensors<'a>> {
    SafeTensors::deserialize(bytes).map_err(|e| BackboneError::SafeTensors {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// Refuses, before any variable is allocated, a config that implies more
/// than twice as many parameters as the whole file holds: the model could
/// not be filled, and building it first could exhaust memory (or panic in
/// libtorch's allocator for absurd sizes). Smaller disagreements are left
/// to [`load_safetensors_bytes`], which names the mismatching tensor.
///
/// A checkpoint of another family than the config's is refused here too.
pub fn check_config_fits(config: &EncoderConfig, path: &Path, bytes: &[u8]) -> Result<()> {
    let file = parse(path, bytes)?;
    check_family(config.family, path, &file)?;
    let held: u64 = file
        .iter()
        .map(|(_, v)| v.shape().iter().map(|&d| d as u64).product::<u64>())
        .sum();
    match config.num_parameters() {
        Some(n) if n <= held.saturating_mul(2) => Ok(()),
        n => Err(BackboneError::InvalidConfig(format!(
            "vocab_size {}, hidden_size {}, num_hidden_layers {}, intermediate_size {}, \
             max_position_embeddings {} imply {} parameters, but {} holds only {held} values",
            config.vocab_size,
            config.hidden_size,
            config.num_hidden_layers,
            config.intermediate_size,
            config.max_position_embeddings,
            n.map_or("more than 2^64".to_string(), |n| n.to_string()),
            path.display()
        ))),
    }
}

/// As [`load_safetensors`], from the file's bytes already read.
pub fn load_safetensors_bytes(
    vs: &VarStore,
    prefix: &str,
    family: Family,
    path: &Path,
    bytes: &[u8],
) -> Result<LoadReport> {
    let file = parse(path, bytes)?;
    check_family(family, path, &file)?;

    // Two tensors of the backbone that map to one variable (`bert.X` and
    // `X`, `LayerNorm.gamma` and `LayerNorm.weight`) are ambiguous.
    let mut by_name: HashMap<String, String> = HashMap::new();
    let mut duplicates = Vec::new();
    for n in file.names() {
        let canonical = canonical_name(family, n);
        let in_backbone = BACKBONE_NAMESPACES
            .iter()
            .any(|ns| canonical.starts_with(ns));
        if let Some(previous) = by_name.insert(canonical, n.to_string()) {
            if in_backbone {
                duplicates.push(previous);
                duplicates.push(n.to_string());
            }
        }
    }
    if !duplicates.is_empty() {
        duplicates.sort();
        duplicates.dedup();
        return Err(BackboneError::UnexpectedTensors {
            path: path.to_path_buf(),
            names: duplicates,
        });
    }

    let prefix = if prefix.is_empty() || prefix.ends_with('.') {
        prefix.to_string()
    } else {
        format!("{prefix}.")
    };
    let variables: Vec<(String, Tensor)> = vs
        .variables()
        .into_iter()
        .filter_map(|(name, t)| name.strip_prefix(&prefix).map(|n| (n.to_string(), t)))
        .collect();

    // Check everything before touching a single variable.
    let mut missing = Vec::new();
    let mut plan = Vec::with_capacity(variables.len());
    for (name, var) in &variables {
        let Some(file_name) = by_name.get(name) else {
            missing.push(name.clone());
            continue;
        };
        let view = file
            .tensor(file_name)
            .map_err(|e| BackboneError::SafeTensors {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
        let found: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
        if found != var.size() {
            return Err(BackboneError::ShapeMismatch {
                path: path.to_path_buf(),
                name: file_name.clone(),
                expected: var.size(),
                found,
            });
        }
        let kind = to_kind(view.dtype()).ok_or_else(|| BackboneError::UnsupportedDtype {
            path: path.to_path_buf(),
            name: file_name.clone(),
            dtype: format!("{:?}", view.dtype()),
        })?;
        plan.push((var, view, kind, found));
    }
    if !missing.is_empty() {
        missing.sort();
        return Err(BackboneError::MissingTensors {
            path: path.to_path_buf(),
            names: missing,
        });
    }

    let used: BTreeSet<&str> = variables.iter().map(|(n, _)| n.as_str()).collect();
    let mut unexpected = Vec::new();
    let mut ignored = Vec::new();
    for (canonical, original) in &by_name {
        if used.contains(canonical.as_str()) {
            continue;
        }
        let in_backbone = BACKBONE_NAMESPACES
            .iter()
            .any(|ns| canonical.starts_with(ns));
        let harmless = canonical.starts_with("pooler.")
            || canonical.ends_with("position_ids")
            || canonical.ends_with("token_type_ids");
        if in_backbone && !harmless {
            unexpected.push(original.clone());
        } else {
            ignored.push(original.clone());
        }
    }
    if !unexpected.is_empty() {
        unexpected.sort();
        return Err(BackboneError::UnexpectedTensors {
            path: path.to_path_buf(),
            names: unexpected,
        });
    }
    ignored.sort();

    tch::no_grad(|| -> Result<()> {
        for (var, view, kind, shape) in &plan {
            let src = Tensor::f_from_data_size(view.data(), shape, *kind)?;
            let mut var = (*var).shallow_clone();
            var.f_copy_(&src)?;
        }
        Ok(())
    })?;
    Ok(LoadReport {
        loaded: plan.len(),
        ignored,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_names_accept_prefixed_and_tf_era_checkpoints() {
        let bert = |n| canonical_name(Family::Bert, n);
        assert_eq!(
            bert("bert.embeddings.LayerNorm.gamma"),
            "embeddings.LayerNorm.weight"
        );
        assert_eq!(
            bert("encoder.layer.0.output.LayerNorm.beta"),
            "encoder.layer.0.output.LayerNorm.bias"
        );
        assert_eq!(bert("pooler.dense.weight"), "pooler.dense.weight");
        assert_eq!(
            canonical_name(
                Family::XlmRoberta,
                "roberta.encoder.layer.0.output.dense.bias"
            ),
            "encoder.layer.0.output.dense.bias"
        );
        assert_eq!(
            canonical_name(
                Family::DistilBert,
                "distilbert.transformer.layer.1.ffn.lin1.weight"
            ),
            "transformer.layer.1.ffn.lin1.weight"
        );
        // Another family's prefix is not stripped: it is not this model's.
        assert_eq!(
            canonical_name(Family::Mpnet, "bert.embeddings.word_embeddings.weight"),
            "bert.embeddings.word_embeddings.weight"
        );
    }

    #[test]
    fn tensor_names_tell_the_family_layout() {
        assert_eq!(
            tensor_family_layout(["encoder.layer.0.attention.attn.q.weight"]),
            Some("MPNet")
        );
        assert_eq!(
            tensor_family_layout(["distilbert.transformer.layer.0.attention.q_lin.weight"]),
            Some("DistilBERT")
        );
        assert_eq!(
            tensor_family_layout(["roberta.encoder.layer.0.attention.self.query.bias"]),
            Some("BERT/RoBERTa")
        );
        assert_eq!(
            tensor_family_layout(["embeddings.word_embeddings.weight"]),
            None
        );
    }

    #[test]
    fn pickle_files_are_refused() {
        for p in ["pytorch_model.bin", "x.pt", "x.PTH"] {
            assert!(matches!(
                refuse_pickle(Path::new(p)),
                Err(BackboneError::PickleRefused { .. })
            ));
        }
        refuse_pickle(Path::new("model.safetensors")).unwrap();
    }
}
