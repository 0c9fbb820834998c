//! `smtl eval --kind sentence-similarity` on the real STS Benchmark with the
//! real models, against sentence-transformers' `EmbeddingSimilarityEvaluator`
//! (fixtures/sts/evaluator_scores.json, scripts/make_sts_fixtures.py), and
//! its bad input; `smtl eval --kind pair-ranking` against
//! `InformationRetrievalEvaluator` (fixtures/sts/ranking_scores.json).

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn smtl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_smtl"))
        .args(args)
        .output()
        .expect("smtl runs")
}

fn eval(model: &str, data: &str, extra: &[&str]) -> Output {
    let model = repo().join("models").join(model);
    let data = repo().join(data);
    let mut args = vec![
        "eval",
        "--model",
        model.to_str().unwrap(),
        "--kind",
        "sentence-similarity",
        "--data",
        data.to_str().unwrap(),
        "--device",
        "cpu",
    ];
    args.extend_from_slice(extra);
    smtl(&args)
}

/// Both splits, every real model: equal to sentence-transformers within
/// 1e-4, printed as exactly one JSON object with the keys.
#[test]
fn stsb_scores_equal_sentence_transformers_for_every_real_model() {
    let want: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("fixtures/sts/evaluator_scores.json")).unwrap(),
    )
    .unwrap();
    for model in ["all-MiniLM-L6-v2", "all-mpnet-base-v2"] {
        for split in ["dev", "test"] {
            let out = eval(model, &format!("data/stsb/sts-{split}.csv"), &[]);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{model} {split}: {stderr}");
            let stdout = String::from_utf8(out.stdout).unwrap();
            assert_eq!(stdout.lines().count(), 1, "{stdout}");
            let got: Value = serde_json::from_str(&stdout).unwrap();
            let keys: Vec<&String> = got.as_object().unwrap().keys().collect();
            assert_eq!(keys.len(), 3, "{got}");
            let w = &want[model][split];
            assert_eq!(got["pairs"], w["pairs"], "{model} {split}");
            for key in ["pearson_cosine", "spearman_cosine"] {
                let (g, e) = (got[key].as_f64().unwrap(), w[key].as_f64().unwrap());
                assert!(
                    (g - e).abs() <= 1e-4,
                    "{model} sts-{split} {key}: {g} vs sentence-transformers {e}"
                );
            }
            eprintln!("{model} sts-{split}: {got}");
        }
    }
}

#[test]
fn the_general_pair_formats_score_the_same_pairs() {
    let dir = tempfile::tempdir().unwrap();
    let pairs = [
        ("A man is playing a guitar.", "A man plays the guitar.", 4.8),
        (
            "A woman is slicing an onion.",
            "A man is riding a horse.",
            0.2,
        ),
        (
            "Two dogs run in the snow.",
            "Dogs are running through snow.",
            4.2,
        ),
        (
            "The stock market fell today.",
            "A cat sleeps on the sofa.",
            0.0,
        ),
    ];
    let tsv: String = pairs
        .iter()
        .map(|(a, b, s)| format!("{a}\t{b}\t{s}\n"))
        .collect();
    let jsonl: String = pairs
        .iter()
        .map(|(a, b, s)| {
            format!(
                "{}\n",
                serde_json::json!({"sentence1": a, "sentence2": b, "score": s})
            )
        })
        .collect();
    std::fs::write(dir.path().join("p.tsv"), tsv).unwrap();
    std::fs::write(dir.path().join("p.jsonl"), jsonl).unwrap();
    let mut results = Vec::new();
    for file in ["p.tsv", "p.jsonl"] {
        let path = dir.path().join(file);
        let out = eval("all-MiniLM-L6-v2", path.to_str().unwrap(), &[]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["pairs"], 4);
        assert!(v["spearman_cosine"].as_f64().unwrap() > 0.7, "{v}");
        results.push(v);
    }
    assert_eq!(results[0], results[1]);
}

#[test]
fn bad_pair_input_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let cases = [
        (
            write("missing.tsv", "only one side\t3.0\n"),
            vec!["missing.tsv:1", "field(s)"],
        ),
        (
            write("nan.tsv", "a\tb\tnan\n"),
            vec!["nan.tsv:1", "not a finite number"],
        ),
        (write("one.tsv", "a\tb\t1.0\n"), vec!["at least 2 items"]),
        (
            write("flat.tsv", "a\tb\t1.0\nc\td\t1.0\n"),
            vec!["all equal"],
        ),
        (write("empty.tsv", "\n"), vec!["no examples"]),
        (write("x.dat", "a\tb\t1\n"), vec!["--format"]),
    ];
    for (path, needles) in cases {
        let out = eval("all-MiniLM-L6-v2", path.to_str().unwrap(), &[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{}: {err}", path.display());
        assert!(!err.contains("panicked"), "{err}");
        for n in needles {
            assert!(
                err.contains(n),
                "{}: {n:?} missing from {err}",
                path.display()
            );
        }
    }
    let path = write("p.tsv", "a\tb\t1\n");
    let out = eval(
        "all-MiniLM-L6-v2",
        path.to_str().unwrap(),
        &["--format", "csv"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown data format"));
    let out = eval(
        "all-MiniLM-L6-v2",
        path.to_str().unwrap(),
        &["--format", "conll"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("reads stsb, tsv, jsonl"));
    let out = smtl(&["eval", "--model", "x", "--kind", "nli", "--data", "y"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("sentence-similarity"));
}

/// The STS-B pairs scored 4.0 or more as (anchor, positive), ranked by
/// every real model: accuracy@1, MRR@10 and recall@10 equal
/// sentence-transformers' `InformationRetrievalEvaluator` (each anchor a
/// query, the distinct positives the corpus) within 1e-4.
#[test]
fn stsb_ranking_equals_the_information_retrieval_evaluator() {
    let want: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("fixtures/sts/ranking_scores.json")).unwrap(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    for split in ["dev", "test"] {
        let stsb =
            std::fs::read_to_string(repo().join(format!("data/stsb/sts-{split}.csv"))).unwrap();
        let pairs: String = stsb
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.split('\t').collect::<Vec<_>>())
            .filter(|f| f[4].trim().parse::<f64>().unwrap() >= 4.0)
            .map(|f| format!("{}\t{}\n", f[5], f[6]))
            .collect();
        let path = dir.path().join(format!("{split}.tsv"));
        std::fs::write(&path, pairs).unwrap();
        for model in ["all-MiniLM-L6-v2", "all-mpnet-base-v2"] {
            let model_dir = repo().join("models").join(model);
            let out = smtl(&[
                "eval",
                "--model",
                model_dir.to_str().unwrap(),
                "--kind",
                "pair-ranking",
                "--data",
                path.to_str().unwrap(),
                "--device",
                "cpu",
            ]);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let got: Value = serde_json::from_slice(&out.stdout).unwrap();
            let w = &want[model][split];
            assert_eq!(got["pairs"], w["pairs"], "{model} {split}");
            assert_eq!(got["candidates"], w["candidates"], "{model} {split}");
            for key in ["accuracy@1", "mrr@10", "recall@10"] {
                let (g, e) = (got[key].as_f64().unwrap(), w[key].as_f64().unwrap());
                assert!((g - e).abs() <= 1e-4, "{model} {split} {key}: {g} vs {e}");
            }
            eprintln!("{model} sts-{split} ranking: {got}");
        }
    }
}
