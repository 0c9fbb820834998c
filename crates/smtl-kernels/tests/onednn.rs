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

/// Per-channel weight quantization as the backbone does it.
fn quantize_weights(w: &Tensor) -> (Tensor, Tensor) {
    let scales = w.abs().amax([1], false).clamp_min(1e-12) / 127.0;
    let q = (w / scales.unsqueeze(1))
        .round()
        .clamp(-127.0, 127.0)
        .to_kind(Kind::Int8);
    (q.tr().contiguous(), scales)
}

/// The same arithmetic as separate tensor operations.
fn int8_reference(x: &Tensor, w_t: &Tensor, scales: &Tensor, b: Option<&Tensor>) -> Tensor {
    let k = *x.size().last().unwrap();
    let x2 = x.reshape([-1, k]).to_kind(Kind::Float);
    let rs = x2.abs().amax([1], true).clamp_min(1e-12) / 127.0;
    let xq = (&x2 / &rs).round().to_kind(Kind::Int8);
    let mut y = xq.internal_int_mm(w_t).to_kind(Kind::Float) * rs * scales.unsqueeze(0);
    if let Some(b) = b {
        y += b;
    }
    let mut shape = x.size();
    *shape.last_mut().unwrap() = scales.size()[0];
    y.reshape(shape)
}

#[test]
fn int8_equals_the_unfused_quantized_product_and_approximates_fp32() {
    tch::manual_seed(2);
    let opts = (Kind::Float, Device::Cpu);
    let w = Tensor::randn([96, 384], opts) * 0.05;
    let b = Tensor::randn([96], opts);
    let (w_t, scales) = quantize_weights(&w);
    for shape in [vec![1, 384], vec![7, 384], vec![4, 13, 384], vec![33, 384]] {
        let x = Tensor::randn(shape.as_slice(), opts);
        for bias in [Some(&b), None] {
            let got = tch::no_grad(|| smtl_kernels::int8_linear(&x, &w_t, &scales, bias)).unwrap();
            assert_eq!(got.kind(), Kind::Float);
            let want = int8_reference(&x, &w_t, &scales, bias);
            assert_eq!(got.size(), want.size(), "{shape:?}");
            // x * (1/s) vs x / s may round one element of a row differently.
            let rel = ((&got - &want).norm() / want.norm()).double_value(&[]);
            assert!(
                rel < 1e-3,
                "{shape:?}: relative difference to unfused {rel}"
            );
            let exact = x.linear(&w, bias);
            let rel = ((&got - &exact).norm() / exact.norm()).double_value(&[]);
            assert!(rel < 2e-2, "{shape:?}: relative error to fp32 {rel}");
        }
    }
}

#[test]
fn int8_keeps_bf16_activations_bf16() {
    tch::manual_seed(3);
    let opts = (Kind::Float, Device::Cpu);
    let w = Tensor::randn([64, 128], opts) * 0.05;
    let b = Tensor::randn([64], opts);
    let (w_t, scales) = quantize_weights(&w);
    let x = Tensor::randn([5, 9, 128], opts);
    let got = tch::no_grad(|| {
        smtl_kernels::int8_linear(&x.to_kind(Kind::BFloat16), &w_t, &scales, Some(&b))
    })
    .unwrap();
    assert_eq!(got.kind(), Kind::BFloat16);
    assert_eq!(got.size(), vec![5, 9, 64]);
    let exact = x.linear(&w, Some(&b));
    let rel = ((got.to_kind(Kind::Float) - &exact).norm() / exact.norm()).double_value(&[]);
    assert!(rel < 2e-2, "relative error to fp32 {rel}");
}

#[test]
fn int8_rejects_mismatched_inputs() {
    let opts = (Kind::Float, Device::Cpu);
    let (w_t, scales) = quantize_weights(&Tensor::ones([8, 16], opts));
    let x = Tensor::ones([4, 16], opts);
    let bad = [
        smtl_kernels::int8_linear(&Tensor::ones([4, 12], opts), &w_t, &scales, None),
        smtl_kernels::int8_linear(&x, &w_t.to_kind(Kind::Float), &scales, None),
        smtl_kernels::int8_linear(&x, &w_t, &Tensor::ones([7], opts), None),
        smtl_kernels::int8_linear(&x, &w_t, &scales, Some(&Tensor::ones([9], opts))),
        smtl_kernels::int8_linear(&x.to_kind(Kind::Int64), &w_t, &scales, None),
    ];
    for (i, r) in bad.iter().enumerate() {
        assert!(r.is_err(), "case {i} should be an error");
    }
}

#[test]
fn int8_gives_nan_rows_for_nan_inputs_like_the_exact_product() {
    let opts = (Kind::Float, Device::Cpu);
    tch::manual_seed(4);
    let w = Tensor::randn([32, 40], opts) * 0.05;
    let (w_t, scales) = quantize_weights(&w);
    // Row 1 has a NaN in the vectorised body, row 2 in the 8-element tail.
    let x = Tensor::randn([3, 40], opts);
    let _ = x.get(1).get(3).fill_(f64::NAN);
    let _ = x.get(2).get(37).fill_(f64::NAN);
    for kind in [Kind::Float, Kind::BFloat16] {
        let y = tch::no_grad(|| smtl_kernels::int8_linear(&x.to_kind(kind), &w_t, &scales, None))
            .unwrap()
            .to_kind(Kind::Float);
        assert_eq!(
            y.get(0).isfinite().all().int64_value(&[]),
            1,
            "{kind:?}: clean row"
        );
        for row in [1, 2] {
            assert_eq!(
                y.get(row).isnan().all().int64_value(&[]),
                1,
                "{kind:?}: row {row}"
            );
        }
    }
}

/// The training linear's output and all three gradients equal libtorch's
/// autograd through its plain linear, with and without a bias, for 2-D and
/// 3-D inputs; a frozen weight gets no gradient.
#[test]
fn train_linear_gradients_match_plain_autograd() {
    if !smtl_kernels::onednn_linear_available() {
        return;
    }
    tch::manual_seed(3);
    let opts = (Kind::Float, Device::Cpu);
    for shape in [vec![9, 48], vec![3, 11, 48]] {
        for with_bias in [true, false] {
            let leaf = |t: Tensor| t.set_requires_grad(true);
            let x0 = Tensor::randn(shape.as_slice(), opts);
            let w0 = Tensor::randn([40, 48], opts) * 0.1;
            let b0 = Tensor::randn([40], opts);
            let upstream =
                Tensor::randn([shape[..shape.len() - 1].to_vec(), vec![40]].concat(), opts);
            let run = |onednn: bool| {
                let (x, w, b) = (leaf(x0.copy()), leaf(w0.copy()), leaf(b0.copy()));
                let bias = with_bias.then_some(&b);
                let y = if onednn {
                    smtl_kernels::onednn_linear_train(&x, &w, bias).unwrap()
                } else {
                    x.linear(&w, bias)
                };
                (&y * &upstream).sum(Kind::Float).backward();
                let db = if with_bias { Some(b.grad()) } else { None };
                (y.detach(), x.grad(), w.grad(), db)
            };
            let (got, want) = (run(true), run(false));
            let close = |a: &Tensor, b: &Tensor, what: &str| {
                assert_eq!(a.size(), b.size(), "{what}");
                let diff = (a - b).abs().max().double_value(&[]);
                assert!(diff < 1e-4, "{shape:?} bias {with_bias} {what}: {diff}");
            };
            close(&got.0, &want.0, "output");
            close(&got.1, &want.1, "input gradient");
            close(&got.2, &want.2, "weight gradient");
            match (&got.3, &want.3) {
                (Some(a), Some(b)) => close(a, b, "bias gradient"),
                (None, None) => {}
                _ => panic!("bias gradient present on one side only"),
            }
        }
    }
    // Frozen weight: only the input gets a gradient.
    let x = Tensor::randn([5, 48], opts).set_requires_grad(true);
    let w = Tensor::randn([40, 48], opts);
    smtl_kernels::onednn_linear_train(&x, &w, None)
        .unwrap()
        .sum(Kind::Float)
        .backward();
    assert!(x.grad().defined() && !w.grad().defined());
}
