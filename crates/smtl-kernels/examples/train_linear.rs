//! Milliseconds per forward + backward of one linear layer on the shapes
//! of a MiniLM training batch (ROWS token rows, default 1024: 32 sentences x
//! 32 wordpieces), libtorch's autograd (MKL sgemm) against
//! `onednn_linear_train` (all three products on oneDNN), with the largest
//! gradient difference, for docs/performance.md "Training":
//!
//! ```text
//! cargo run --release -p smtl-kernels --example train_linear [-- ROWS]
//! ```
//!
//! Alternates the two kernels; median of 7 timings of 20 calls each, 2 threads.

use std::time::Instant;

use tch::{Device, Kind, Tensor};

fn main() {
    tch::set_num_threads(2);
    let rows: i64 = std::env::args()
        .nth(1)
        .map(|r| r.parse().expect("ROWS is a number"))
        .unwrap_or(1024);
    assert!(
        smtl_kernels::onednn_linear_available(),
        "no oneDNN linear in this libtorch"
    );
    let opts = (Kind::Float, Device::Cpu);
    println!("rows {rows}");
    println!("| in x out | autograd (MKL) ms | oneDNN ms | ratio | max grad diff |");
    println!("|---|---|---|---|---|");
    for (k, n) in [(384i64, 384i64), (384, 1536), (1536, 384)] {
        tch::manual_seed(0);
        let x = Tensor::randn([rows, k], opts).set_requires_grad(true);
        let w = (Tensor::randn([n, k], opts) * 0.05).set_requires_grad(true);
        let b = Tensor::randn([n], opts).set_requires_grad(true);
        let g = Tensor::randn([rows, n], opts);
        let step = |onednn: bool| {
            let y = if onednn {
                smtl_kernels::onednn_linear_train(&x, &w, Some(&b)).unwrap()
            } else {
                x.linear(&w, Some(&b))
            };
            (&y * &g).sum(Kind::Float).backward();
        };
        let grads = |onednn: bool| {
            for t in [&x, &w, &b] {
                let _ = t.grad().zero_();
            }
            step(onednn);
            Tensor::cat(
                &[x.grad().flatten(0, -1), w.grad().flatten(0, -1), b.grad()],
                0,
            )
        };
        for _ in 0..5 {
            step(false);
            step(true);
        }
        let diff = (grads(true) - grads(false)).abs().max().double_value(&[]);
        let (mut plain, mut fast) = (Vec::new(), Vec::new());
        for _ in 0..7 {
            for (onednn, out) in [(false, &mut plain), (true, &mut fast)] {
                let start = Instant::now();
                for _ in 0..20 {
                    step(onednn);
                }
                out.push(start.elapsed().as_secs_f64() / 20.0 * 1e3);
            }
        }
        plain.sort_by(f64::total_cmp);
        fast.sort_by(f64::total_cmp);
        println!(
            "| {k} x {n} | {:.2} | {:.2} | {:.2} | {diff:.1e} |",
            plain[3],
            fast[3],
            plain[3] / fast[3]
        );
    }
}
