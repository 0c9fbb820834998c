//! Kernels libtorch has but tch does not bind: the inference fast paths, and
//! for the trainer the fused AdamW step, a parallel dropout and bf16
//! autocast regions ([`Autocast`]; tch binds only the CUDA autocast switch, with no dtype).
//!
//! libtorch's default fp32 `linear` goes through MKL's sgemm, which on AMD
//! CPUs reaches about half of the machine's peak; oneDNN's fused linear
//! (`mkldnn::_linear_pointwise`) reaches it on the same dense tensors, and
//! runs bf16 natively. tch exposes only `mkldnn_linear`, which wants the
//! mkldnn tensor layout and loses the gain converting to it and back. A
//! small C++ shim (`cpp/shim.cpp`) calls the operator through libtorch's
//! dispatcher instead. [`onednn_linear_available`] says at run time whether
//! the libtorch in use has the operator (CPU builds with oneDNN) and whether
//! it agrees with the plain path; callers fall back otherwise.
//!
//! The shim also holds [`int8_linear`]: dynamic int8 quantization around
//! libtorch's `_int_mm`, with the per-row quantization and the rescale each
//! done in one pass (libtorch would need nine operations for them).

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
        pub fn smtl_onednn_linear_train(
            x: *const CTensor,
            w: *const CTensor,
            b: *const CTensor,
            out: *mut *mut CTensor,
        ) -> *mut c_char;
        pub fn smtl_int8_linear(
            x: *const CTensor,
            w_t: *const CTensor,
            col_scales: *const CTensor,
            bias: *const CTensor,
            out: *mut *mut CTensor,
        ) -> *mut c_char;
        pub fn smtl_dropout(x: *const CTensor, p: f64, out: *mut *mut CTensor) -> *mut c_char;
        pub fn smtl_free_message(message: *mut c_char);
        pub fn smtl_autocast_enter(
            cuda: i32,
            prev_enabled: *mut i32,
            prev_dtype: *mut i32,
        ) -> *mut c_char;
        pub fn smtl_autocast_exit(cuda: i32, prev_enabled: i32, prev_dtype: i32);
        pub fn smtl_autocast_enabled(cuda: i32) -> i32;
        pub fn smtl_reset_grad(t: *const CTensor) -> *mut c_char;
        #[allow(clippy::too_many_arguments)]
        pub fn smtl_fused_adamw(
            params: *const *const CTensor,
            grads: *const *const CTensor,
            exp_avgs: *const *const CTensor,
            exp_avg_sqs: *const *const CTensor,
            steps: *const *const CTensor,
            n: i64,
            lr: f64,
            beta1: f64,
            beta2: f64,
            weight_decay: f64,
            eps: f64,
        ) -> *mut c_char;
        pub fn smtl_cuda_runtime_version() -> std::os::raw::c_long;
    }
}

/// `x @ w^T + b` through oneDNN, on ordinary dense CPU tensors (fp32 or
/// bf16; `x` may have any number of leading dimensions). No autograd: call
/// it for inference only.
pub fn onednn_linear(x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Result<Tensor, TchError> {
    // SAFETY: tch's `as_ptr` is the `at::Tensor*` the shim expects; the shim
    // only reads its inputs.
    call(|out| unsafe {
        ffi::smtl_onednn_linear(
            c_tensor(x),
            c_tensor(w),
            b.map_or(std::ptr::null(), c_tensor),
            out,
        )
    })
}

/// `x @ w^T + b` through oneDNN with autograd: the forward product and
/// both backward products (`dx = dy w`, `dw = dy^T x`) run on oneDNN
/// instead of the MKL sgemm libtorch's autograd uses, which on AMD CPUs
/// was thought to reach about half the rate. Same fp32 arithmetic up to
/// summation order. CPU only; check [`onednn_linear_available`] first.
///
/// Measured, not adopted: on MiniLM's training shapes it is 0.72-0.85x the
/// speed of libtorch's autograd linear (`cargo run --release -p smtl-kernels
/// --example train_linear`; docs/performance.md "Training"), because MKL's
/// sgemm already runs these shapes near the machine's fp32 peak and the
/// transposes oneDNN needs cost copies. The backbone keeps libtorch's
/// linear for training; this stays as the measured alternative.
pub fn onednn_linear_train(x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Result<Tensor, TchError> {
    // SAFETY: as in `onednn_linear`; the new tensor owns its autograd node.
    call(|out| unsafe {
        ffi::smtl_onednn_linear_train(
            c_tensor(x),
            c_tensor(w),
            b.map_or(std::ptr::null(), c_tensor),
            out,
        )
    })
}

/// Dynamically quantized `x @ w^T + b`: `x` (fp32 or bf16, any leading
/// dimensions) is quantized per row to int8 (scale = max|row| / 127), multiplied
/// by int8 weights `w_t` (`[in, out]`, quantized per output channel with the
/// fp32 `scales` `[out]`) in int32 by libtorch's `_int_mm`, then rescaled
/// and biased (fp32 `b`) into x's dtype. The quantization and the rescale
/// are one fused pass each (in C++), instead of five and four tensor
/// operations. CPU only, no autograd.
pub fn int8_linear(
    x: &Tensor,
    w_t: &Tensor,
    scales: &Tensor,
    b: Option<&Tensor>,
) -> Result<Tensor, TchError> {
    // SAFETY: as in `onednn_linear`; the shim checks kinds and shapes.
    call(|out| unsafe {
        ffi::smtl_int8_linear(
            c_tensor(x),
            c_tensor(w_t),
            c_tensor(scales),
            b.map_or(std::ptr::null(), c_tensor),
            out,
        )
    })
}

/// Dropout as `xs.dropout(p, train)`, with autograd: in training each
/// element is kept with probability `1 - p` and scaled by `1 / (1 - p)`
/// (torch's arithmetic), outside training `xs` itself.
///
/// On fp32 and bf16 CPU tensors the mask comes from the shim's kernel: a
/// counter-based hash per element seeded from libtorch's default generator
/// (so `tch::manual_seed` still fixes it), made in parallel in the same pass
/// as the output, and kept as one byte per element for the backward pass.
/// libtorch's own CPU dropout draws its mask serially on AMD CPUs (its
/// parallel MKL path is for Intel only) and takes three passes; it is the
/// fallback for other kinds and devices. The masks differ from libtorch's
/// (another random stream); their distribution does not.
pub fn dropout(xs: &Tensor, p: f64, train: bool) -> Tensor {
    if !train || p == 0.0 {
        return xs.shallow_clone();
    }
    let kind_ok = matches!(xs.kind(), Kind::Float | Kind::BFloat16);
    if xs.device() == Device::Cpu && kind_ok && (0.0..1.0).contains(&p) {
        // SAFETY: as in `onednn_linear`; the new tensor owns its autograd node.
        if let Ok(y) = call(|out| unsafe { ffi::smtl_dropout(c_tensor(xs), p, out) }) {
            return y;
        }
    }
    xs.dropout(p, train)
}

/// A bf16 mixed-precision region, as `torch.autocast(device,
/// dtype=torch.bfloat16)`: while it lives, libtorch runs the eligible
/// operators of the calling thread (matrix products, attention) in bf16 on
/// fp32 inputs and keeps the precision-sensitive ones (softmax, norms,
/// losses) in fp32; weights stay fp32, their gradients arrive in fp32.
/// Dropping it leaves the region as torch does: the outermost exit clears
/// the cache of bf16 weight copies, which an optimizer step makes stale.
/// Autocast state is per thread, so the guard is not `Send`.
pub struct Autocast {
    cuda: i32,
    prev_enabled: i32,
    prev_dtype: i32,
    _thread_bound: std::marker::PhantomData<*const ()>,
}

impl Autocast {
    /// Enters bf16 autocast for `device`'s type (CPU or CUDA).
    pub fn bf16(device: Device) -> Result<Self, TchError> {
        let cuda = i32::from(device.is_cuda());
        let (mut prev_enabled, mut prev_dtype) = (0, 0);
        // SAFETY: the shim writes the two integers and touches only
        // libtorch's thread-local autocast state.
        let err = unsafe { ffi::smtl_autocast_enter(cuda, &mut prev_enabled, &mut prev_dtype) };
        status(err)?;
        Ok(Self {
            cuda,
            prev_enabled,
            prev_dtype,
            _thread_bound: std::marker::PhantomData,
        })
    }

    /// Whether autocast is on for `device`'s type on this thread.
    pub fn enabled(device: Device) -> bool {
        // SAFETY: a read of libtorch's thread-local autocast state.
        unsafe { ffi::smtl_autocast_enabled(i32::from(device.is_cuda())) != 0 }
    }
}

impl Drop for Autocast {
    fn drop(&mut self) {
        // SAFETY: restores the state `bf16` saved, on the same thread.
        unsafe { ffi::smtl_autocast_exit(self.cuda, self.prev_enabled, self.prev_dtype) }
    }
}

/// Drops `t`'s gradient (torch's `zero_grad(set_to_none=True)`; tch can
/// only zero it): the next backward pass writes a fresh gradient rather
/// than adding into zeros, which saves a pass over the parameter and the
/// zero-fill. Afterwards `t.grad()` is undefined until a backward pass
/// reaches `t`.
pub fn reset_grad(t: &Tensor) -> Result<(), TchError> {
    // SAFETY: as in `onednn_linear`; the shim only resets the tensor's
    // autograd gradient slot.
    let err = unsafe { ffi::smtl_reset_grad(c_tensor(t)) };
    status(err)
}

/// The tensors of one [`fused_adamw`] call, parameter by parameter.
pub struct AdamWTensors<'a> {
    pub params: &'a [Tensor],
    pub grads: &'a [Tensor],
    pub exp_avgs: &'a [Tensor],
    pub exp_avg_sqs: &'a [Tensor],
    /// Float32 scalars holding each parameter's step number, counting this
    /// step.
    pub steps: &'a [Tensor],
}

/// AdamW's hyper-parameters for one [`fused_adamw`] call.
#[derive(Clone, Copy, Debug)]
pub struct AdamWStep {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub weight_decay: f64,
    pub eps: f64,
}

/// One AdamW step through libtorch's fused kernel (`_fused_adamw_`, what
/// `torch.optim.AdamW(fused=True)` and the Hugging Face Trainer's default
/// optimizer run): decoupled decay, both moments and the update in one
/// pass per parameter, updating `params`, `exp_avgs` and `exp_avg_sqs` in
/// place. Parameters and gradients must be contiguous; all lists must have
/// the same length.
pub fn fused_adamw(t: AdamWTensors<'_>, h: AdamWStep) -> Result<(), TchError> {
    let n = t.params.len();
    if [
        t.grads.len(),
        t.exp_avgs.len(),
        t.exp_avg_sqs.len(),
        t.steps.len(),
    ]
    .iter()
    .any(|&len| len != n)
    {
        return Err(TchError::Torch(
            "fused AdamW: every tensor list needs one tensor per parameter".into(),
        ));
    }
    let ptrs = |list: &[Tensor]| list.iter().map(c_tensor).collect::<Vec<_>>();
    let (p, g, m, v, s) = (
        ptrs(t.params),
        ptrs(t.grads),
        ptrs(t.exp_avgs),
        ptrs(t.exp_avg_sqs),
        ptrs(t.steps),
    );
    // SAFETY: as in `onednn_linear`; each pointer array holds `n` live
    // tensors for the length of the call, and the shim only updates the
    // tensors' data in place.
    let err = unsafe {
        ffi::smtl_fused_adamw(
            p.as_ptr(),
            g.as_ptr(),
            m.as_ptr(),
            v.as_ptr(),
            s.as_ptr(),
            n as i64,
            h.lr,
            h.beta1,
            h.beta2,
            h.weight_decay,
            h.eps,
        )
    };
    status(err)
}

/// The error a shim entry point returned, if any: a non-null message is a
/// C string the shim allocated, freed here once.
fn take_message(err: *mut c_char) -> Option<TchError> {
    if err.is_null() {
        return None;
    }
    // SAFETY: see above; `err` is not used after it is freed.
    unsafe {
        let message = CStr::from_ptr(err as *const c_char)
            .to_string_lossy()
            .into_owned();
        ffi::smtl_free_message(err);
        Some(TchError::Torch(message))
    }
}

/// A shim call's status: null is success, anything else its error message.
fn status(err: *mut c_char) -> Result<(), TchError> {
    take_message(err).map_or(Ok(()), Err)
}

fn c_tensor(t: &Tensor) -> *const ffi::CTensor {
    t.as_ptr() as *const ffi::CTensor
}

/// Runs one shim entry point: a null message means `out` holds a new
/// `at::Tensor*`, which the returned `Tensor` takes ownership of.
fn call(f: impl FnOnce(*mut *mut ffi::CTensor) -> *mut c_char) -> Result<Tensor, TchError> {
    let mut out: *mut ffi::CTensor = std::ptr::null_mut();
    status(f(&mut out))?;
    // SAFETY: a null message comes with a valid new tensor in `out`.
    Ok(unsafe { Tensor::from_ptr(out as *mut torch_sys::C_tensor) })
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

/// The directory of the `libtorch_cpu.so` this process runs on (from
/// `/proc/self/maps`), where the wheel keeps `libtorch_cuda.so` too.
fn libtorch_dir() -> Option<std::path::PathBuf> {
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    maps.lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .find(|p| p.ends_with("/libtorch_cpu.so"))
        .and_then(|p| std::path::Path::new(p).parent().map(|d| d.to_path_buf()))
}

/// Loads libtorch's CUDA backend (`libtorch_cuda.so`, next to the
/// `libtorch_cpu.so` in use) into the process, once.
///
/// tch can only use CUDA when that library is loaded: its static
/// initialisers register the CUDA hooks. Binaries link only what they call
/// (`--as-needed`), which never includes it, so without this `auto` would
/// quietly pick the CPU on a GPU machine. Loading needs no GPU; on a libtorch
/// without CUDA (the CPU-only wheel) it is an `Err` that callers treat as
/// "no CUDA backend". Returns the CUDA runtime version the real hooks report.
///
/// Call it before anything queries CUDA: libtorch registers the hooks it
/// finds at its first CUDA query and keeps them for the life of the process
/// (`DeviceSpec::resolve` calls this first). On a machine with an NVIDIA
/// driver the shim already loaded it when the process started.
pub fn load_cuda_backend() -> Result<i64, String> {
    static LOADED: OnceLock<Result<i64, String>> = OnceLock::new();
    LOADED
        .get_or_init(|| {
            // libtorch fixes its CUDA hooks at the first CUDA query: the
            // library must be loaded before anything asks (so no version
            // query here before loading).
            let path = libtorch_dir()
                .map(|d| d.join("libtorch_cuda.so"))
                .filter(|p| p.is_file())
                .ok_or_else(|| {
                    "this libtorch has no libtorch_cuda.so (a CPU-only build)".to_string()
                })?;
            // SAFETY: loading a shared library runs its initialisers; this
            // is libtorch's own CUDA backend, built for the libtorch_cpu
            // already loaded. RTLD_GLOBAL: its symbols serve later loads.
            let lib = unsafe {
                libloading::os::unix::Library::open(
                    Some(&path),
                    libloading::os::unix::RTLD_NOW | libloading::os::unix::RTLD_GLOBAL,
                )
            }
            .map_err(|e| format!("cannot load {}: {e}", path.display()))?;
            // Never unloaded: libtorch keeps pointers into it.
            std::mem::forget(lib);
            cuda_runtime_version()
                .ok_or_else(|| format!("{} loaded but registered no CUDA hooks", path.display()))
        })
        .clone()
}

/// The CUDA runtime version of libtorch's CUDA hooks (e.g. 12080 for 12.8),
/// `None` with the stub hooks of a process whose first CUDA query came
/// before the backend was loaded.
pub fn cuda_runtime_version() -> Option<i64> {
    // SAFETY: no arguments; the shim catches every C++ exception.
    let v = unsafe { ffi::smtl_cuda_runtime_version() };
    (v >= 0).then_some(v as i64)
}
