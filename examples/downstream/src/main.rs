//! Embeds sentences with the real all-MiniLM-L6-v2 through sentence-mtl,
//! used as a library from another crate, and checks them against the
//! sentence-transformers embeddings committed as fixtures.
//!
//! `smtl-downstream-example MODEL_DIR SENTENCES.txt EXPECTED.f32`: one
//! sentence per line; EXPECTED.f32 is little-endian float32, row-major.

use sentence_mtl::{DeviceSpec, SentenceEncoder};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, model, sentences, expected] = args.as_slice() else {
        return Err("usage: smtl-downstream-example MODEL_DIR SENTENCES.txt EXPECTED.f32".into());
    };
    let device = "auto".parse::<DeviceSpec>()?.resolve()?;
    let encoder = SentenceEncoder::from_dir(model, device)?;
    let text = std::fs::read_to_string(sentences)?;
    let lines: Vec<&str> = text.lines().collect();
    let emb: sentence_mtl::ndarray::Array2<f32> = encoder.encode(&lines)?;
    let want: Vec<f32> = std::fs::read(expected)?
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let dim = emb.ncols();
    assert_eq!(want.len(), lines.len() * dim, "expected values");
    let mut min_cos = f64::INFINITY;
    for (i, row) in emb.rows().into_iter().enumerate() {
        let w = &want[i * dim..(i + 1) * dim];
        let dot: f64 = row
            .iter()
            .zip(w)
            .map(|(a, b)| (*a as f64) * (*b as f64))
            .sum();
        let na: f64 = row.iter().map(|a| (*a as f64).powi(2)).sum::<f64>().sqrt();
        let nb: f64 = w.iter().map(|b| (*b as f64).powi(2)).sum::<f64>().sqrt();
        min_cos = min_cos.min(dot / (na * nb).max(1e-12));
    }
    println!(
        "sentences {} dim {dim} min_cosine {min_cos:.9}",
        lines.len()
    );
    if min_cos < 0.99999 {
        return Err(format!("min cosine {min_cos} to sentence-transformers").into());
    }
    Ok(())
}
