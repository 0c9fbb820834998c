//! Kernels libtorch has but tch does not bind, for the inference fast paths.
//!
//! libtorch's default fp32 `linear` goes through MKL's sgemm, which on AMD
//! CPUs reaches about half of the machine's peak; oneDNN's fused linear
//! (`mkldnn::_linear_pointwise`) reaches it on the same dense tensors, and
//! runs bf16 natively. tch exposes only `mkldnn_linear`, which wants the
//! mkldnn tensor layout and loses the gain converting to it and back. A
//! 60-line C++ shim (`cpp/shim.cpp`) calls the operator through libtorch's
//! dispatcher instead. [`onednn_linear_available`] says at run time whether
//! the libtorch in use has the operator (CPU builds with oneDNN) and whether
//! it agrees with the plain path; callers fall back otherwise.

use std::ffi::{c_char, CStr};
use std::sync::OnceLock;

use tch::{Device, Kind, TchError, Tensor};

mod ffi {
    use std::ffi::c_char;
    #[repr(C)]
    pub struct CTensor {
        _private: [u8; 0],
    }
    extern "C" {
        pub fn smtl_onednn_linear_registered() -> i32;
        pub fn smtl_onednn_linear(
            x: *const CTensor,
            w: *const CTensor,
            b: *const CTensor,
            out: *mut *mut CTensor,
        ) -> *mut c_char;
        pub fn smtl_free_message(message: *mut c_char);
    }
}

/// `x @ w^T + b` through oneDNN, on ordinary dense CPU tensors (fp32 or
/// bf16; `x` may have any number of leading dimensions). No autograd: call
/// it for inference only.
pub fn onednn_linear(x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Result<Tensor, TchError> {
    let mut out: *mut ffi::CTensor = std::ptr::null_mut();
    // SAFETY: tch's `as_ptr` is the `at::Tensor*` the shim expects; the shim
    // only reads its inputs, and on success hands over a new `at::Tensor*`
    // that `Tensor::from_ptr` takes ownership of.
    unsafe {
        let err = ffi::smtl_onednn_linear(
            x.as_ptr() as *const ffi::CTensor,
            w.as_ptr() as *const ffi::CTensor,
            b.map_or(std::ptr::null(), |b| b.as_ptr() as *const ffi::CTensor),
            &mut out,
        );
        if !err.is_null() {
            let message = CStr::from_ptr(err as *const c_char)
                .to_string_lossy()
                .into_owned();
            ffi::smtl_free_message(err);
            return Err(TchError::Torch(message));
        }
        Ok(Tensor::from_ptr(out as *mut torch_sys::C_tensor))
    }
}

/// Whether [`onednn_linear`] can be used: the operator is registered and,
/// on a small self-test, agrees with libtorch's plain `linear` in fp32
/// (checked once per process).
pub fn onednn_linear_available() -> bool {
    static OK: OnceLock<bool> = OnceLock::new();
    *OK.get_or_init(|| {
        // SAFETY: no arguments; the shim catches every C++ exception.
        if unsafe { ffi::smtl_onednn_linear_registered() } == 0 {
            return false;
        }
        tch::no_grad(|| {
            // Deterministic inputs: the check must not draw from libtorch's
            // global generator, which callers seed for their own use (head
            // initialisation right after loading an encoder).
            let opts = (Kind::Float, Device::Cpu);
            let x = Tensor::arange(3 * 5 * 64, opts).sin().view([3, 5, 64]);
            let w = Tensor::arange(48 * 64, opts).cos().view([48, 64]);
            let b = Tensor::arange(48, opts).sin();
            match onednn_linear(&x, &w, Some(&b)) {
                Ok(y) => {
                    let want = x.linear(&w, Some(&b));
                    y.size() == want.size() && (y - want).abs().max().double_value(&[]) < 1e-3
                }
                Err(_) => false,
            }
        })
    })
}
