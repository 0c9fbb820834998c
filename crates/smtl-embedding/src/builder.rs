//! [`EncoderBuilder`]: loading an encoder from what users hold: a device as
//! text (`"auto"`, `"cuda:1"`), a [`DeviceSpec`] or a `tch::Device`; a
//! precision as text or value; a batch size.

use std::path::PathBuf;

use smtl_backbone::{DeviceSpec, Precision};
use tch::Device;

use crate::tokenize::Truncation;
use crate::{EmbedError, EncoderOptions, Result, SentenceEncoder};

/// Anything that names a device: `"auto"`, `"cpu"`, `"cuda:N"`, a
/// [`DeviceSpec`] or a resolved `tch::Device`.
pub trait IntoDevice {
    fn into_device(self) -> Result<Device>;
}

impl IntoDevice for Device {
    fn into_device(self) -> Result<Device> {
        Ok(self)
    }
}

impl IntoDevice for DeviceSpec {
    fn into_device(self) -> Result<Device> {
        Ok(self.resolve()?)
    }
}

impl IntoDevice for &str {
    fn into_device(self) -> Result<Device> {
        let spec: DeviceSpec = self.parse().map_err(smtl_backbone::BackboneError::from)?;
        spec.into_device()
    }
}

impl IntoDevice for &String {
    fn into_device(self) -> Result<Device> {
        self.as_str().into_device()
    }
}

/// Builds a [`SentenceEncoder`]; see [`SentenceEncoder::builder`].
#[derive(Debug)]
pub struct EncoderBuilder {
    dir: PathBuf,
    device: Result<Device>,
    precision: Result<Precision>,
    options: EncoderOptions,
}

impl EncoderBuilder {
    pub(crate) fn new(dir: PathBuf) -> Self {
        Self {
            dir,
            device: DeviceSpec::Auto.into_device(),
            precision: Ok(Precision::Fp32),
            options: EncoderOptions::default(),
        }
    }

    /// Default `"auto"`: CUDA when libtorch sees a device, else the CPU.
    pub fn device(mut self, device: impl IntoDevice) -> Self {
        self.device = device.into_device();
        self
    }

    /// `Precision::Fp32` (default), `Bf16`, `Int8`, or their names.
    pub fn precision(mut self, precision: impl IntoPrecision) -> Self {
        self.precision = precision.into_precision();
        self
    }

    /// Sentences per forward pass (default 32).
    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.options.batch_size = batch_size;
        self
    }

    /// Refuse over-long sentences instead of truncating them.
    pub fn truncation(mut self, truncation: Truncation) -> Self {
        self.options.truncation = truncation;
        self
    }

    /// Accept `pytorch_model.bin` (see [`EncoderOptions::allow_pickle`]).
    pub fn allow_pickle(mut self, allow: bool) -> Self {
        self.options.allow_pickle = allow;
        self
    }

    /// Loads the model; the first bad setting is the error.
    pub fn build(self) -> Result<SentenceEncoder> {
        let device = self.device?;
        let options = EncoderOptions {
            precision: self.precision?,
            ..self.options
        };
        SentenceEncoder::from_dir_with(&self.dir, device, options)
    }
}

/// A precision or its name (`"fp32"`, `"bf16"`, `"int8"`).
pub trait IntoPrecision {
    fn into_precision(self) -> Result<Precision>;
}

impl IntoPrecision for Precision {
    fn into_precision(self) -> Result<Precision> {
        Ok(self)
    }
}

impl IntoPrecision for &str {
    fn into_precision(self) -> Result<Precision> {
        self.parse::<Precision>()
            .map_err(|e| EmbedError::Backbone(e.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_settings_are_errors_of_build() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/tiny/mean");
        let e = SentenceEncoder::builder(&dir)
            .device("cpu")
            .precision("bf16")
            .batch_size(8)
            .build()
            .unwrap();
        assert_eq!(e.options().precision, Precision::Bf16);
        assert_eq!(e.options().batch_size, 8);
        assert_eq!(e.device(), Device::Cpu);
        let err = SentenceEncoder::builder(&dir)
            .device("tpu")
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("tpu"), "{err}");
        let err = SentenceEncoder::builder(&dir)
            .precision("fp8")
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("fp8"), "{err}");
        let err = SentenceEncoder::builder(&dir)
            .batch_size(0)
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("batch_size"), "{err}");
        let spec: DeviceSpec = "cpu".parse().unwrap();
        assert!(SentenceEncoder::builder(&dir).device(spec).build().is_ok());
    }
}
