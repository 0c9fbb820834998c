use std::fmt;
use std::str::FromStr;

use tch::{Cuda, Device};

use crate::{BackboneError, ParseError, Result};

/// Which device to run on, as a user writes it: `auto`, `cpu`, `cuda` or `cuda:N`.
///
/// `auto` picks the first CUDA device when libtorch sees one, else the CPU. An
/// explicit `cuda` request on a machine without CUDA is an error rather than a
/// silent fall-back, so a benchmark never measures the wrong device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceSpec {
    #[default]
    Auto,
    Cpu,
    Cuda(usize),
}

impl FromStr for DeviceSpec {
    type Err = ParseError;

    fn from_str(s: &str) -> std::result::Result<Self, ParseError> {
        let lower = s.trim().to_ascii_lowercase();
        match lower.as_str() {
            "auto" => Ok(Self::Auto),
            "cpu" => Ok(Self::Cpu),
            "cuda" | "gpu" => Ok(Self::Cuda(0)),
            other => other
                .strip_prefix("cuda:")
                .and_then(|n| n.parse::<usize>().ok())
                .map(Self::Cuda)
                .ok_or_else(|| ParseError::Device(s.to_string())),
        }
    }
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Auto => f.write_str("auto"),
            Self::Cpu => f.write_str("cpu"),
            Self::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

impl DeviceSpec {
    /// Resolves the spec against the hardware libtorch can see now.
    ///
    /// libtorch sees a GPU only with its CUDA backend loaded
    /// ([`smtl_kernels::load_cuda_backend`]): `cuda` always loads it;
    /// `auto` loads it when the machine has an NVIDIA driver
    /// (`/dev/nvidiactl` or `/proc/driver/nvidia`), so that on a CPU-only
    /// machine `auto` costs nothing (the backend maps about 265 MiB of CUDA
    /// libraries, measured in docs/task1-sentence-encoder.md).
    pub fn resolve(self) -> Result<Device> {
        match self {
            Self::Cpu => Ok(Device::Cpu),
            Self::Auto if !nvidia_driver_present() => Ok(Device::Cpu),
            Self::Auto => {
                // The result only says whether a GPU can be seen at all,
                // which `is_available` answers next.
                let _ = smtl_kernels::load_cuda_backend();
                Ok(if Cuda::is_available() {
                    Device::Cuda(0)
                } else {
                    Device::Cpu
                })
            }
            Self::Cuda(n) => {
                let backend = smtl_kernels::load_cuda_backend();
                let count = if Cuda::is_available() {
                    Cuda::device_count() as usize
                } else {
                    0
                };
                if n < count {
                    Ok(Device::Cuda(n))
                } else {
                    Err(BackboneError::DeviceUnavailable {
                        requested: self.to_string(),
                        available: match (count, backend) {
                            (0, Ok(v)) => format!(
                                "libtorch sees no CUDA device (its CUDA backend is loaded: CUDA runtime {}.{})",
                                v / 1000,
                                v % 1000 / 10
                            ),
                            (0, Err(why)) => format!(
                                "libtorch sees no CUDA device: this libtorch has no CUDA backend ({why})"
                            ),
                            (c, _) => format!("libtorch sees only {c} CUDA device(s)"),
                        },
                    })
                }
            }
        }
    }
}

/// An NVIDIA kernel driver is installed (a GPU may be there).
fn nvidia_driver_present() -> bool {
    std::path::Path::new("/dev/nvidiactl").exists()
        || std::path::Path::new("/proc/driver/nvidia").exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_documented_form() {
        assert_eq!("auto".parse::<DeviceSpec>().unwrap(), DeviceSpec::Auto);
        assert_eq!("CPU".parse::<DeviceSpec>().unwrap(), DeviceSpec::Cpu);
        assert_eq!("cuda".parse::<DeviceSpec>().unwrap(), DeviceSpec::Cuda(0));
        assert_eq!("cuda:3".parse::<DeviceSpec>().unwrap(), DeviceSpec::Cuda(3));
        for bad in ["", "tpu", "cuda:", "cuda:x", "cuda:-1"] {
            assert!(matches!(
                bad.parse::<DeviceSpec>(),
                Err(ParseError::Device(_))
            ));
        }
    }

    #[test]
    fn cuda_beyond_the_visible_devices_is_an_error() {
        let err = DeviceSpec::Cuda(4096).resolve().unwrap_err();
        assert!(
            matches!(err, BackboneError::DeviceUnavailable { .. }),
            "{err}"
        );
        assert_eq!(DeviceSpec::Cpu.resolve().unwrap(), Device::Cpu);
    }
}
