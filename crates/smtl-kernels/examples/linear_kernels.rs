//! Microseconds per call of each linear kernel on the shapes of one batch of
//! the throughput corpus (640 rows = 32 sentences x 20 wordpieces), for
//! docs/performance.md:
//!
//! ```text
//! cargo run --release -p smtl-kernels --example linear_kernels
//! ```
//!
//! Per shape (in x out): `_int_mm` alone (int8 product, no quantization);
//! the fused int8 linear of this crate with fp32 and with bf16 input; the
//! same int8 arithmetic as separate libtorch operations; oneDNN bf16; oneDNN
//! fp32. Median of 5 timings of 40 calls each, 2 threads.

use std::time::Instant;

use tch::{Device, Kind, Tensor};

fn micros(f: &dyn Fn() -> Tensor) -> f64 {
    for _ in 0..10 {
        let _ = f();
    }
    let mut runs: Vec<f64> = (0..5)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..40 {
                let _ = f();
            }
            start.elapsed().as_secs_f64() / 40.0 * 1e6
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    runs[2]
}

fn main() {
    tch::set_num_threads(2);
    let _no_grad = tch::no_grad_guard();
    let opts = (Kind::Float, Device::Cpu);
    let rows = 640;
    println!("| in x out | _int_mm alone | int8 fused, fp32 in | int8 fused, bf16 in | int8 unfused ops | oneDNN bf16 | oneDNN fp32 |");
    println!("|---|---|---|---|---|---|---|");
    for (k, n) in [(384i64, 384i64), (384, 1536), (1536, 384)] {
        tch::manual_seed(0);
        let x = Tensor::randn([rows, k], opts);
        let w = Tensor::randn([n, k], opts) * 0.05;
        let b = Tensor::randn([n], opts);
        let scales = w.abs().amax([1], false).clamp_min(1e-12) / 127.0;
        let w_t = (&w / scales.unsqueeze(1))
            .round()
            .to_kind(Kind::Int8)
            .tr()
            .contiguous();
        let (xq, xb, wb, bb) = (
            x.to_kind(Kind::Int8),
            x.to_kind(Kind::BFloat16),
            w.to_kind(Kind::BFloat16),
            b.to_kind(Kind::BFloat16),
        );
        let int_mm = micros(&|| xq.internal_int_mm(&w_t));
        let fused = micros(&|| smtl_kernels::int8_linear(&x, &w_t, &scales, Some(&b)).unwrap());
        let fused_bf16 =
            micros(&|| smtl_kernels::int8_linear(&xb, &w_t, &scales, Some(&b)).unwrap());
        let unfused = micros(&|| {
            let row_scales = x.abs().amax([1], true).clamp_min(1e-12) / 127.0;
            let q = (&x / &row_scales).round().to_kind(Kind::Int8);
            q.internal_int_mm(&w_t).to_kind(Kind::Float) * row_scales * scales.unsqueeze(0) + &b
        });
        let bf16 = micros(&|| smtl_kernels::onednn_linear(&xb, &wb, Some(&bb)).unwrap());
        let fp32 = micros(&|| smtl_kernels::onednn_linear(&x, &w, Some(&b)).unwrap());
        println!(
            "| {k} x {n} | {int_mm:.0} | {fused:.0} | {fused_bf16:.0} | {unfused:.0} | {bf16:.0} | {fp32:.0} |"
        );
    }
}
