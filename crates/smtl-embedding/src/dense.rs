//! The Dense module: a linear projection (plus activation) of the pooled vector.

use std::path::Path;

use safetensors::SafeTensors;
use serde::Deserialize;
use tch::{nn, Tensor};

use crate::modules::read_json;
use crate::{EmbedError, Result};

/// Activation named by the class path sentence-transformers stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenseActivation {
    Identity,
    Tanh,
    Relu,
    Gelu,
    Sigmoid,
    Silu,
}

impl DenseActivation {
    pub fn parse(name: &str) -> Result<Self> {
        let class = name.rsplit('.').next().unwrap_or(name);
        Ok(match class {
            "Identity" => Self::Identity,
            "Tanh" => Self::Tanh,
            "ReLU" => Self::Relu,
            "GELU" => Self::Gelu,
            "Sigmoid" => Self::Sigmoid,
            "SiLU" => Self::Silu,
            _ => return Err(EmbedError::UnknownActivation(name.to_string())),
        })
    }

    fn apply(self, xs: Tensor) -> Tensor {
        match self {
            Self::Identity => xs,
            Self::Tanh => xs.tanh(),
            Self::Relu => xs.relu(),
            Self::Gelu => xs.gelu("none"),
            Self::Sigmoid => xs.sigmoid(),
            Self::Silu => xs.silu(),
        }
    }
}

#[derive(Debug, Deserialize, Clone)]
struct DenseConfig {
    in_features: i64,
    out_features: i64,
    #[serde(default = "yes")]
    bias: bool,
    #[serde(default = "tanh")]
    activation_function: String,
    #[serde(default)]
    use_residual: bool,
}

fn yes() -> bool {
    true
}
fn tanh() -> String {
    "torch.nn.modules.activation.Tanh".into()
}

/// `y = activation(W x + b)` (+ `x` or `R x` with `use_residual`).
#[derive(Debug)]
pub struct Dense {
    config: DenseConfig,
    /// The `config.json` it was loaded from, written back by [`Self::save`].
    config_json: String,
    weight: Tensor,
    bias: Option<Tensor>,
    residual: Option<Tensor>,
    use_residual: bool,
    activation: DenseActivation,
    pub in_features: i64,
    pub out_features: i64,
}

impl Dense {
    /// Builds the variables under `p` and fills them from `<dir>/model.safetensors`.
    pub fn load(p: nn::Path, dir: &Path) -> Result<Self> {
        let json: serde_json::Value = read_json(&dir.join("config.json"), "a Dense config")?;
        let config: DenseConfig =
            serde_json::from_value(json.clone()).map_err(|reason| EmbedError::Json {
                path: dir.join("config.json"),
                what: "a Dense config",
                reason,
            })?;
        let config_json = serde_json::to_string_pretty(&json).expect("JSON serializes");
        let dense = Self::with_config(p, config, config_json, dir)?;
        let mut wanted: Vec<(&str, &Tensor)> = vec![("linear.weight", &dense.weight)];
        if let Some(b) = &dense.bias {
            wanted.push(("linear.bias", b));
        }
        if let Some(r) = &dense.residual {
            wanted.push(("residual.weight", r));
        }
        fill_from_safetensors(&dir.join("model.safetensors"), &wanted)?;
        Ok(dense)
    }

    /// The same module with its own (zero) variables under `p`, for a
    /// handle whose variables are then pointed at this module's.
    pub fn fresh_like(&self, p: nn::Path) -> Result<Self> {
        Self::with_config(
            p,
            self.config.clone(),
            self.config_json.clone(),
            Path::new(""),
        )
    }

    /// Writes `<dir>/config.json` and `<dir>/model.safetensors` from the
    /// current weights.
    pub fn save(&self, dir: &Path) -> Result<()> {
        crate::save::write_file(&dir.join("config.json"), self.config_json.as_bytes())?;
        let mut tensors = vec![("linear.weight".to_string(), self.weight.shallow_clone())];
        if let Some(b) = &self.bias {
            tensors.push(("linear.bias".to_string(), b.shallow_clone()));
        }
        if let Some(r) = &self.residual {
            tensors.push(("residual.weight".to_string(), r.shallow_clone()));
        }
        crate::save::write_safetensors(&dir.join("model.safetensors"), &tensors)
    }

    fn with_config(
        p: nn::Path,
        config: DenseConfig,
        config_json: String,
        dir: &Path,
    ) -> Result<Self> {
        let activation = DenseActivation::parse(&config.activation_function)?;
        let (i, o) = (config.in_features, config.out_features);
        if i <= 0 || o <= 0 {
            return Err(EmbedError::InvalidModule {
                path: dir.join("config.json"),
                message: format!("in_features {i} and out_features {o} must be positive"),
            });
        }
        let lin = &p / "linear";
        let weight = lin.zeros("weight", &[o, i]);
        let bias = config.bias.then(|| lin.zeros("bias", &[o]));
        let residual =
            (config.use_residual && i != o).then(|| (&p / "residual").zeros("weight", &[o, i]));
        Ok(Self {
            use_residual: config.use_residual,
            config,
            config_json,
            weight,
            bias,
            residual,
            activation,
            in_features: i,
            out_features: o,
        })
    }

    pub fn forward(&self, xs: &Tensor) -> Tensor {
        let out = self
            .activation
            .apply(xs.linear(&self.weight, self.bias.as_ref()));
        match (&self.residual, self.use_residual) {
            (Some(r), _) => out + xs.linear::<&Tensor>(r, None),
            (None, true) => out + xs,
            (None, false) => out,
        }
    }
}

/// Copies exactly the named tensors of a small safetensors file into `wanted`;
/// a missing, extra or mis-shaped tensor is an error.
fn fill_from_safetensors(path: &Path, wanted: &[(&str, &Tensor)]) -> Result<()> {
    let invalid = |message: String| EmbedError::InvalidModule {
        path: path.to_path_buf(),
        message,
    };
    let bytes = std::fs::read(path).map_err(|source| EmbedError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let file = SafeTensors::deserialize(&bytes).map_err(|e| invalid(e.to_string()))?;
    let mut names = file.names();
    names.sort();
    let mut expected: Vec<&str> = wanted.iter().map(|(n, _)| *n).collect();
    expected.sort();
    if names != expected {
        return Err(invalid(format!(
            "holds tensors {names:?}, the Dense config implies {expected:?}"
        )));
    }
    tch::no_grad(|| {
        for (name, var) in wanted {
            let view = file.tensor(name).map_err(|e| invalid(e.to_string()))?;
            let shape: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
            if shape != var.size() {
                return Err(invalid(format!(
                    "{name} has shape {shape:?}, expected {:?}",
                    var.size()
                )));
            }
            let kind = smtl_backbone::weight_kind(view.dtype()).ok_or_else(|| {
                invalid(format!("{name} has unsupported dtype {:?}", view.dtype()))
            })?;
            let src = Tensor::f_from_data_size(view.data(), &shape, kind)?;
            (*var).shallow_clone().f_copy_(&src)?;
        }
        Ok(())
    })
}
