//! Linear layers whose inference kernel can be switched at run time.
//!
//! Training, and any call whose weights require gradients, always takes
//! libtorch's plain `linear` (autograd needs it). Inference picks the kernel
//! of the encoder's [`Precision`]:
//!
//! * `Fp32`: oneDNN's fused linear on the fp32 weights when the libtorch in
//!   use has it (see `smtl-kernels`), else the plain path. Same numbers up to
//!   float summation order.
//! * `Bf16`: a bf16 copy of the weights. The encoder runs its layers on
//!   bf16 activations (LayerNorm with fp32 parameters, attention, GELU and
//!   residuals in bf16) and returns fp32 states for pooling; a bf16 linear
//!   given fp32 input casts it in and its result back out.
//! * `Int8`: dynamic quantization: weights int8 per output channel once,
//!   activations int8 per row at each call, an int8 x int8 -> int32 matrix
//!   product (`_int_mm`), rescaled into the input's kind (the encoder keeps
//!   bf16 activations here too). On the CPU the quantization and rescale are
//!   the fused `smtl_kernels::int8_linear`; elsewhere the same arithmetic
//!   runs as tensor operations.

use std::fmt;
use std::str::FromStr;

use tch::{nn, nn::Module, Device, Kind, Tensor};

use crate::{ParseError, Result};

/// Numeric precision of inference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Precision {
    /// Exact: parity with sentence-transformers holds.
    #[default]
    Fp32,
    /// bf16 matrix products (opt-in; mean cosine to fp32 ≥ 0.9999 measured).
    Bf16,
    /// int8 dynamic quantization of the matrix products (opt-in).
    Int8,
}

impl FromStr for Precision {
    type Err = ParseError;
    fn from_str(s: &str) -> std::result::Result<Self, ParseError> {
        match s.to_ascii_lowercase().as_str() {
            "fp32" | "f32" | "float32" => Ok(Self::Fp32),
            "bf16" | "bfloat16" => Ok(Self::Bf16),
            "int8" | "i8" => Ok(Self::Int8),
            _ => Err(ParseError::Precision(s.to_string())),
        }
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Fp32 => "fp32",
            Self::Bf16 => "bf16",
            Self::Int8 => "int8",
        })
    }
}

#[derive(Debug)]
enum Kernel {
    Plain,
    OneDnn,
    Bf16 {
        weight: Tensor,
        bias: Option<Tensor>,
        onednn: bool,
    },
    Int8 {
        /// `[in, out]` int8, per-output-channel scales `[out]`.
        weight_t: Tensor,
        scales: Tensor,
    },
}

/// `nn::Linear` plus an inference kernel.
#[derive(Debug)]
pub struct Linear {
    inner: nn::Linear,
    kernel: Kernel,
}

fn onednn_usable(device: Device) -> bool {
    device == Device::Cpu && smtl_kernels::onednn_linear_available()
}

impl Linear {
    pub fn new(p: nn::Path, input: i64, output: i64) -> Self {
        Self {
            inner: nn::linear(p, input, output, Default::default()),
            kernel: Kernel::Plain,
        }
    }

    /// Prepares the inference kernel of `precision` from the current
    /// weights (bf16 and int8 keep a converted copy: call this again after
    /// the weights change).
    pub fn set_precision(&mut self, precision: Precision) -> Result<()> {
        let w = &self.inner.ws;
        let device = w.device();
        self.kernel = tch::no_grad(|| -> Result<Kernel> {
            Ok(match precision {
                Precision::Fp32 if onednn_usable(device) => Kernel::OneDnn,
                Precision::Fp32 => Kernel::Plain,
                Precision::Bf16 => Kernel::Bf16 {
                    weight: w.f_to_kind(Kind::BFloat16)?,
                    bias: self
                        .inner
                        .bs
                        .as_ref()
                        .map(|b| b.f_to_kind(Kind::BFloat16))
                        .transpose()?,
                    onednn: onednn_usable(device),
                },
                Precision::Int8 => {
                    let w = w.f_to_kind(Kind::Float)?;
                    let scales = w.abs().amax([1], false).clamp_min(1e-12) / 127.0;
                    let q = (&w / scales.unsqueeze(1))
                        .round()
                        .clamp(-127.0, 127.0)
                        .f_to_kind(Kind::Int8)?;
                    Kernel::Int8 {
                        weight_t: q.tr().contiguous(),
                        scales,
                    }
                }
            })
        })?;
        Ok(())
    }

    pub fn forward_t(&self, xs: &Tensor, train: bool) -> Tensor {
        if train || self.inner.ws.requires_grad() {
            let kind = self.inner.ws.kind();
            // Under autocast libtorch picks the product's kind itself.
            if xs.kind() != kind && !smtl_kernels::Autocast::enabled(xs.device()) {
                // bf16 activations reaching trainable fp32 weights.
                return self.inner.forward(&xs.to_kind(kind)).to_kind(xs.kind());
            }
            return self.inner.forward(xs);
        }
        let bias = self.inner.bs.as_ref();
        match &self.kernel {
            Kernel::Plain => self.inner.forward(xs),
            Kernel::OneDnn => smtl_kernels::onednn_linear(xs, &self.inner.ws, bias)
                .unwrap_or_else(|_| self.inner.forward(xs)),
            Kernel::Bf16 {
                weight,
                bias,
                onednn,
            } => {
                // bf16 in, bf16 out (the encoder keeps bf16 activations
                // between layers); any other input is cast in and back out.
                let keep_bf16 = xs.kind() == Kind::BFloat16;
                let x = xs.to_kind(Kind::BFloat16);
                let y = if *onednn {
                    smtl_kernels::onednn_linear(&x, weight, bias.as_ref())
                        .unwrap_or_else(|_| x.linear(weight, bias.as_ref()))
                } else {
                    x.linear(weight, bias.as_ref())
                };
                if keep_bf16 {
                    y
                } else {
                    y.to_kind(Kind::Float)
                }
            }
            Kernel::Int8 { weight_t, scales } => {
                if xs.device() == Device::Cpu {
                    if let Ok(y) = smtl_kernels::int8_linear(xs, weight_t, scales, bias) {
                        return y;
                    }
                }
                // Other devices (or a kernel refusal): the same arithmetic
                // as separate tensor operations.
                let size = xs.size();
                let k = *size.last().expect("linear input has a feature dimension");
                let x = xs.reshape([-1, k]).to_kind(Kind::Float);
                let row_scales = x.abs().amax([1], true).clamp_min(1e-12) / 127.0;
                let xq = (&x / &row_scales).round().to_kind(Kind::Int8);
                let mut y = xq.internal_int_mm(weight_t).to_kind(Kind::Float)
                    * row_scales
                    * scales.unsqueeze(0);
                if let Some(b) = bias {
                    y += b;
                }
                let mut out_size = size.clone();
                *out_size.last_mut().expect("non-empty") = scales.size()[0];
                y.reshape(out_size).to_kind(xs.kind())
            }
        }
    }
}
