//! Filling a [`VarStore`] straight from a Hugging Face `model.safetensors`.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use safetensors::{Dtype, SafeTensors};
use tch::{nn::VarStore, Kind, Tensor};

use crate::{BackboneError, BertConfig, Result};

/// Namespaces that belong to the BERT backbone; any tensor in them that the
/// model does not know is an error, because it means the architecture differs.
const BACKBONE_NAMESPACES: [&str; 3] = ["embeddings.", "encoder.", "pooler."];

/// What [`load_safetensors`] did, for callers that want to log it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Number of variables filled from the file.
    pub loaded: usize,
    /// Tensors present in the file but deliberately not used: BERT's pooler
    /// (sentence-transformers never uses it), the `position_ids` buffer, and
    /// heads of other architectures (`cls.*`, `classifier.*`, ...).
    pub ignored: Vec<String>,
}

/// Canonical backbone name of a checkpoint tensor: drops a `bert.` prefix
/// (`BertFor*` checkpoints) and maps TF-era `LayerNorm.gamma/beta` names.
fn canonical_name(name: &str) -> String {
    let name = name.strip_prefix("bert.").unwrap_or(name);
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
pub fn load_safetensors(vs: &VarStore, prefix: &str, path: impl AsRef<Path>) -> Result<LoadReport> {
    let path = path.as_ref();
    let bytes = read_safetensors(path)?;
    load_safetensors_bytes(vs, prefix, path, &bytes)
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
pub fn check_config_fits(config: &BertConfig, path: &Path, bytes: &[u8]) -> Result<()> {
    let file = parse(path, bytes)?;
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
    path: &Path,
    bytes: &[u8],
) -> Result<LoadReport> {
    let file = parse(path, bytes)?;

    // Two tensors of the backbone that map to one variable (`bert.X` and
    // `X`, `LayerNorm.gamma` and `LayerNorm.weight`) are ambiguous.
    let mut by_name: HashMap<String, String> = HashMap::new();
    let mut duplicates = Vec::new();
    for n in file.names() {
        let canonical = canonical_name(n);
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
        let harmless = canonical.starts_with("pooler.") || canonical.ends_with("position_ids");
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
        assert_eq!(
            canonical_name("bert.embeddings.LayerNorm.gamma"),
            "embeddings.LayerNorm.weight"
        );
        assert_eq!(
            canonical_name("encoder.layer.0.output.LayerNorm.beta"),
            "encoder.layer.0.output.LayerNorm.bias"
        );
        assert_eq!(canonical_name("pooler.dense.weight"), "pooler.dense.weight");
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
