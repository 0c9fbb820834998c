//! libtorch's CUDA backend is wired in. Once loaded, the real CUDA hooks
//! answer (the runtime version), which the stub hooks of a process without
//! libtorch_cuda.so cannot; with no GPU, `cuda` is then "no CUDA device",
//! not "no CUDA backend". The wheel scripts/setup installs is the CUDA
//! build. A test binary of its own: libtorch fixes its CUDA hooks at the
//! first CUDA query, so nothing may query CUDA before this test loads it.

#[test]
fn the_cuda_backend_loads_and_answers_without_a_gpu() {
    let version = smtl_kernels::load_cuda_backend().expect("libtorch_cuda.so loads");
    assert!(version >= 11000, "CUDA runtime version {version}");
    assert_eq!(smtl_kernels::cuda_runtime_version(), Some(version));
    // Loading twice is a no-op.
    assert_eq!(smtl_kernels::load_cuda_backend(), Ok(version));
    if !std::path::Path::new("/dev/nvidiactl").exists() {
        assert!(!tch::Cuda::is_available());
    }
}
