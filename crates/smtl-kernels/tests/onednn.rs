//! oneDNN's linear through the shim equals libtorch's plain linear.

use tch::{Device, Kind, Tensor};

#[test]
fn onednn_is_available_on_x86_cpu_builds() {
    if cfg!(target_arch = "x86_64") {
        assert!(smtl_kernels::onednn_linear_available());
    }
}

#[test]
fn fp32_matches_plain_linear_for_2d_and_3d_inputs() {
    if !smtl_kernels::onednn_linear_available() {
        return;
    }
    tch::manual_seed(0);
    let opts = (Kind::Float, Device::Cpu);
    let w = Tensor::randn([96, 384], opts);
    let b = Tensor::randn([96], opts);
    for shape in [vec![7, 384], vec![4, 13, 384], vec![1, 1, 384]] {
        let x = Tensor::randn(shape.as_slice(), opts);
        for bias in [Some(&b), None] {
            let got = tch::no_grad(|| smtl_kernels::onednn_linear(&x, &w, bias)).unwrap();
            let want = x.linear(&w, bias);
            assert_eq!(got.size(), want.size());
            let diff = (got - want).abs().max().double_value(&[]);
            assert!(diff < 1e-4, "{shape:?}: {diff}");
        }
    }
}

#[test]
fn bf16_is_close_to_fp32() {
    if !smtl_kernels::onednn_linear_available() {
        return;
    }
    tch::manual_seed(1);
    let opts = (Kind::Float, Device::Cpu);
    let (x, w, b) = (
        Tensor::randn([16, 384], opts),
        Tensor::randn([64, 384], opts) * 0.05,
        Tensor::randn([64], opts),
    );
    let bf = |t: &Tensor| t.to_kind(Kind::BFloat16);
    let got = tch::no_grad(|| smtl_kernels::onednn_linear(&bf(&x), &bf(&w), Some(&bf(&b))))
        .unwrap()
        .to_kind(Kind::Float);
    let want = x.linear(&w, Some(&b));
    let rel = ((&got - &want).norm() / want.norm()).double_value(&[]);
    assert!(rel < 1e-2, "relative error {rel}");
}

#[test]
fn bad_shapes_are_errors_not_aborts() {
    let opts = (Kind::Float, Device::Cpu);
    let x = Tensor::randn([4, 10], opts);
    let w = Tensor::randn([8, 12], opts);
    assert!(tch::no_grad(|| smtl_kernels::onednn_linear(&x, &w, None)).is_err());
}
