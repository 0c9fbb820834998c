//! plot_curves renders a PNG of the expected size from synthetic records.

use serde_json::{json, Value};
use smtl_cli::plot::{plot_curves, PLOT_HEIGHT, PLOT_WIDTH};

fn png_dimensions(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&bytes[12..16], b"IHDR");
    let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    (w, h)
}

/// With SMTL_KEEP_PLOTS=<folder>, copies the PNG there for a look.
fn keep(png: &std::path::Path) {
    if let Ok(dir) = std::env::var("SMTL_KEEP_PLOTS") {
        std::fs::copy(
            png,
            std::path::Path::new(&dir).join(png.file_name().unwrap()),
        )
        .unwrap();
    }
}

fn synthetic_records() -> Vec<Value> {
    let mut records = vec![json!({"kind": "config", "seed": 1})];
    let tasks = ["trec", "wnut", "sst"];
    let mut step = 0;
    for epoch in 0..4 {
        for i in 0..150 {
            let t = i % 3;
            let x = step as f64;
            let noise = ((step * 7919) % 97) as f64 / 97.0 - 0.5;
            let loss = (1.5 + t as f64 * 0.5) * (-x / (200.0 + 100.0 * t as f64)).exp()
                + 0.1
                + 0.2 * noise;
            records.push(json!({"kind": "step", "step": step, "epoch": epoch, "task": tasks[t], "loss": loss, "lr_factor": 0.5}));
            step += 1;
        }
        let e = epoch as f64;
        records.push(json!({"kind": "epoch", "epoch": epoch, "dev": {
            "trec": {"accuracy": 0.6 + 0.1 * e, "macro_f1": 0.5 + 0.11 * e},
            "wnut": {"entity_f1": 0.1 + 0.07 * e},
            "sst": {"accuracy": 0.7 + 0.05 * e, "per_class": {"pos": 0.9}},
        }}));
    }
    records
}

#[test]
fn writes_png_of_expected_size() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("plots/curves.png");
    plot_curves(&synthetic_records(), &out).unwrap();
    let bytes = std::fs::read(&out).unwrap();
    assert!(
        bytes.len() > 10_000,
        "suspiciously small PNG: {} bytes",
        bytes.len()
    );
    assert_eq!(png_dimensions(&bytes), (PLOT_WIDTH, PLOT_HEIGHT));
    keep(&out);
}

#[test]
fn empty_and_single_point_records_still_plot() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("empty.png");
    plot_curves(&[], &out).unwrap();
    assert_eq!(
        png_dimensions(&std::fs::read(&out).unwrap()),
        (PLOT_WIDTH, PLOT_HEIGHT)
    );
    let one = vec![
        json!({"kind": "step", "step": 0, "epoch": 0, "task": "trec", "loss": 1.0}),
        json!({"kind": "epoch", "epoch": 0, "dev": {"trec": {"accuracy": 0.5}}}),
    ];
    let out = dir.path().join("one.png");
    plot_curves(&one, &out).unwrap();
    assert_eq!(
        png_dimensions(&std::fs::read(&out).unwrap()),
        (PLOT_WIDTH, PLOT_HEIGHT)
    );
    keep(&dir.path().join("empty.png"));
    keep(&out);
}
