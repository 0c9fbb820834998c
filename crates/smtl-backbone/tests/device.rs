//! Device selection against the hardware libtorch sees: an explicit CUDA
//! request never silently falls back to the CPU; `auto` does.

use smtl_backbone::{BackboneError, DeviceSpec, ParseError};
use tch::{Cuda, Device};

#[test]
fn explicit_cuda_without_cuda_is_device_unavailable() -> Result<(), BackboneError> {
    for spec in ["cuda:0", "cuda", "gpu", "CUDA:0"] {
        let resolved = spec.parse::<DeviceSpec>()?.resolve();
        if Cuda::is_available() {
            assert_eq!(resolved?, Device::Cuda(0), "{spec}");
        } else {
            let err = resolved.unwrap_err();
            assert!(
                matches!(&err, BackboneError::DeviceUnavailable { requested, .. } if requested == "cuda:0"),
                "{spec}: {err:?}"
            );
            let msg = err.to_string();
            assert!(
                msg.contains("cuda:0") && msg.contains("no CUDA device"),
                "{msg}"
            );
        }
    }
    Ok(())
}

#[test]
fn cuda_index_past_the_visible_devices_is_device_unavailable() -> Result<(), BackboneError> {
    let count = if Cuda::is_available() {
        Cuda::device_count() as usize
    } else {
        0
    };
    let err = format!("cuda:{count}")
        .parse::<DeviceSpec>()?
        .resolve()
        .unwrap_err();
    assert!(
        matches!(&err, BackboneError::DeviceUnavailable { requested, .. } if *requested == format!("cuda:{count}")),
        "{err:?}"
    );
    assert!(err.to_string().contains(&format!("cuda:{count}")), "{err}");
    Ok(())
}

#[test]
fn auto_resolves_to_cpu_without_cuda() -> Result<(), BackboneError> {
    let device = "auto".parse::<DeviceSpec>()?.resolve()?;
    if Cuda::is_available() {
        assert_eq!(device, Device::Cuda(0));
    } else {
        assert_eq!(device, Device::Cpu);
    }
    assert_eq!(DeviceSpec::default().resolve()?, device);
    assert_eq!("cpu".parse::<DeviceSpec>()?.resolve()?, Device::Cpu);
    Ok(())
}

#[test]
fn unknown_device_names_are_errors() {
    for bad in ["tpu", "cuda:-1", "cuda:one", "mps", ""] {
        let err = bad.parse::<DeviceSpec>().unwrap_err();
        assert!(
            matches!(&err, ParseError::Device(s) if s == bad),
            "{bad:?}: {err:?}"
        );
        assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
    }
}
