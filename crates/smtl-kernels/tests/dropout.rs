//! The shim's training dropout. One test in its own binary: it re-seeds
//! libtorch's global generator, which tests running beside it would draw from.

use tch::{Device, Kind, Tensor};

/// The dropout kernel: torch's arithmetic on the kept elements, the keep
/// rate of 1 - p, a mask fixed by `tch::manual_seed`, a gradient that is the
/// same mask and scale, NaN inputs staying NaN, and identity outside training.
#[test]
fn dropout_keeps_one_minus_p_scales_and_is_seeded() {
    let opts = (Kind::Float, Device::Cpu);
    let x = (Tensor::rand([64, 40, 384], opts) + 0.5).set_requires_grad(true);
    let p = 0.1;
    tch::manual_seed(11);
    let y = smtl_kernels::dropout(&x, p, true);
    tch::manual_seed(11);
    let again = smtl_kernels::dropout(&x, p, true);
    assert!(y.equal(&again), "the same seed gives the same mask");
    let other = smtl_kernels::dropout(&x, p, true);
    assert!(!y.equal(&other), "the next draw gives another mask");
    let kept = y.ne(0.0);
    let rate = kept
        .to_kind(Kind::Double)
        .mean(Kind::Double)
        .double_value(&[]);
    // 983,040 elements: the keep rate's standard error is 3e-4.
    assert!((rate - (1.0 - p)).abs() < 2e-3, "keep rate {rate}");
    let scale = Tensor::from(1.0f32 / (1.0 - p) as f32);
    let want = &x * &scale;
    let diff = (y.masked_select(&kept) - want.masked_select(&kept))
        .abs()
        .max()
        .double_value(&[]);
    assert_eq!(diff, 0.0, "kept elements are x * 1/(1-p) exactly");
    // The gradient is the same mask and scale.
    y.sum(Kind::Float).backward();
    let g = x.grad();
    assert!(g.equal(&(kept.to_kind(Kind::Float) * &scale)));
    // Neighbouring elements are not correlated (a counter hash could be).
    let k = kept.to_kind(Kind::Double).view([-1]);
    let n = k.size()[0];
    let pairs = (k.narrow(0, 0, n - 1) * k.narrow(0, 1, n - 1))
        .mean(Kind::Double)
        .double_value(&[]);
    assert!(
        (pairs - (1.0 - p) * (1.0 - p)).abs() < 3e-3,
        "pair rate {pairs}"
    );
    // bf16 (autocast's activations): the kept elements equal torch's own
    // bf16 dropout's (scale rounded to bf16, product rounded once), and the
    // gradient stays bf16.
    let xb = x.detach().to_kind(Kind::BFloat16).set_requires_grad(true);
    let ours = smtl_kernels::dropout(&xb, p, true);
    assert_eq!(ours.kind(), Kind::BFloat16);
    let theirs = xb.detach().dropout(p, true);
    let both = ours.ne(0.0).logical_and(&theirs.ne(0.0));
    assert!(both.sum(Kind::Int64).int64_value(&[]) > 700_000);
    assert!(ours
        .masked_select(&both)
        .equal(&theirs.masked_select(&both)));
    let rate = ours
        .ne(0.0)
        .to_kind(Kind::Double)
        .mean(Kind::Double)
        .double_value(&[]);
    assert!((rate - (1.0 - p)).abs() < 2e-3, "bf16 keep rate {rate}");
    ours.sum(Kind::Float).backward();
    assert_eq!(xb.grad().kind(), Kind::BFloat16);
    // Not training, or p = 0: the input itself.
    assert!(smtl_kernels::dropout(&x, p, false).equal(&x));
    assert!(smtl_kernels::dropout(&x, 0.0, true).equal(&x));
    // NaN stays NaN where kept, as torch's x * mask would give.
    let nan = Tensor::full([1000], f64::NAN, opts);
    let out = smtl_kernels::dropout(&nan, 0.5, true);
    assert_eq!(out.isnan().sum(Kind::Int64).int64_value(&[]), 1000);
}
