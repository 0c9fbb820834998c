//! Fine-tuning works the same on every encoder family: a tiny random
//! RoBERTa, XLM-R, MPNet and DistilBERT (fixtures/families) each train a
//! sentence and a token head with the embeddings frozen, keep the frozen
//! and fixed tensors bit-identical, and write a checkpoint that
//! sentence-transformers loads with the embeddings this crate computes.

use serde_json::Value;
use smtl_heads::MultiTaskModel;
use smtl_trainer::{TrainConfig, Trainer};
use tch::Device;

mod common;
use common::*;

fn st_embeddings(dir: &std::path::Path, sentences: &[&str]) -> Vec<Vec<f32>> {
    let script = r#"
import json, sys
from sentence_transformers import SentenceTransformer
m = SentenceTransformer(sys.argv[1], device="cpu")
print(json.dumps(m.encode(json.loads(sys.argv[2])).tolist()))
"#;
    let output = std::process::Command::new(repo().join(".venv/bin/python"))
        .env("HF_HUB_OFFLINE", "1")
        .env("TRANSFORMERS_OFFLINE", "1")
        .args([
            "-c",
            script,
            dir.to_str().unwrap(),
            &serde_json::to_string(sentences).unwrap(),
        ])
        .output()
        .expect("run scripts/setup: .venv/bin/python is missing");
    assert!(
        output.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn every_family_fine_tunes_freezes_and_saves_a_checkpoint_sentence_transformers_loads() {
    let _rng = lock();
    let manifest: Vec<Value> = serde_json::from_str(
        &std::fs::read_to_string(repo().join("fixtures/families/manifest.json")).unwrap(),
    )
    .unwrap();
    let sentences = [
        "the cat sat on the mat",
        "stocks fell",
        "",
        "a segfault in the parser",
    ];
    for entry in manifest {
        let name = entry["name"].as_str().unwrap();
        let dir = repo().join("fixtures/families").join(name);
        let model = two_head_model(&dir);
        let groups: Vec<String> = model
            .parameter_groups()
            .iter()
            .map(|g| g.id.to_string())
            .collect();
        for g in ["embeddings", "layer.0", "layer.1", "head:topic", "head:ner"] {
            assert!(
                groups.iter().any(|x| x == g),
                "{name}: no group {g} in {groups:?}"
            );
        }
        // MPNet's relative bias is a position parameter of the embeddings group.
        let embeddings_before = [
            snapshot(&model, "backbone.embeddings."),
            snapshot(&model, "backbone.encoder.relative_attention_bias"),
        ];
        let layers_before = [
            snapshot(&model, "backbone.encoder.layer."),
            snapshot(&model, "backbone.transformer.layer."),
        ];
        let mut trainer = Trainer::new(
            model,
            tasks(),
            TrainConfig {
                freeze: vec!["embeddings".parse().unwrap()],
                ..config(1)
            },
        )
        .unwrap();
        let out = tempfile::tempdir().unwrap();
        let history = fit_into(&mut trainer, out.path()).unwrap();
        assert!(
            history.steps.iter().all(|s| s.loss.is_finite()),
            "{name}: non-finite loss"
        );
        let model = trainer.model();
        assert!(
            all_equal(
                &embeddings_before[0],
                &snapshot(model, "backbone.embeddings.")
            ) && all_equal(
                &embeddings_before[1],
                &snapshot(model, "backbone.encoder.relative_attention_bias")
            ),
            "{name}: frozen embeddings moved"
        );
        let moved = !all_equal(
            &layers_before[0],
            &snapshot(model, "backbone.encoder.layer."),
        ) || !all_equal(
            &layers_before[1],
            &snapshot(model, "backbone.transformer.layer."),
        );
        assert!(moved, "{name}: the layers did not train");
        let tags = model
            .predict("ner", &["we met John Smith in Paris"])
            .unwrap();
        assert_eq!(tags.len(), 1, "{name}");

        let best = out.path().join("best");
        let ours = smtl_embedding::SentenceEncoder::from_dir(&best, Device::Cpu)
            .unwrap()
            .encode(&sentences)
            .unwrap();
        let theirs = st_embeddings(&best, &sentences);
        for (i, row) in theirs.iter().enumerate() {
            for (j, v) in row.iter().enumerate() {
                let d = (v - ours[[i, j]]).abs();
                assert!(
                    d <= 1e-5,
                    "{name}: sentence {i} dim {j}: python {v} vs rust {}",
                    ours[[i, j]]
                );
            }
        }
        eprintln!(
            "{name}: trained {} steps, checkpoint loads in sentence-transformers",
            history.steps.len()
        );
    }
}

/// DistilBERT's sinusoidal position table is fixed: no group holds it, so
/// it stays bit-identical even when nothing is frozen.
#[test]
fn a_sinusoidal_position_table_never_trains() {
    let _rng = lock();
    let model = two_head_model(&repo().join("fixtures/families/distilbert_sinusoidal"));
    let before = snapshot(&model, "backbone.embeddings.position_embeddings.");
    assert_eq!(before.len(), 1);
    assert!(model
        .parameter_groups()
        .iter()
        .flat_map(|g| g.params.iter())
        .all(|(n, _)| !n.contains("position_embeddings")));
    let mut trainer = Trainer::new(model, tasks(), config(1)).unwrap();
    let out = tempfile::tempdir().unwrap();
    fit_into(&mut trainer, out.path()).unwrap();
    assert!(all_equal(
        &before,
        &snapshot(trainer.model(), "backbone.embeddings.position_embeddings.")
    ));
}
