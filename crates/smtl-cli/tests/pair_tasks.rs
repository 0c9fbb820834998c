//! `smtl train` / `predict` / `eval` with the pair kinds on the tiny
//! fixture model: a sentence-similarity and a pair-ranking task trained
//! with a classification task on one encoder; `best/` reproduces the
//! embeddings that were scored (in `smtl eval` and in sentence-transformers);
//! and the pair kinds' bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn smtl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_smtl"))
        .args(args)
        .env("SMTL_TEST", "1")
        .output()
        .expect("smtl runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn assert_fails(o: &Output, needles: &[&str]) {
    let err = stderr(o);
    assert!(!o.status.success(), "succeeded: {err}");
    assert!(!err.contains("panicked"), "{err}");
    for n in needles {
        assert!(err.contains(n), "{n:?} missing from: {err}");
    }
}

const WORDS: [&str; 12] = [
    "cat", "dog", "bird", "stock", "bank", "loan", "code", "rust", "bug", "rain", "snow", "sun",
];

/// `sts.tsv` (scored pairs, 0..5), `rank.tsv` (anchor/positive) and
/// `topic.tsv`, each 40 lines; the scores follow how many words two
/// sentences share, so they can be learnt.
fn data_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let (mut sts, mut rank, mut topic) = (String::new(), String::new(), String::new());
    for i in 0..40 {
        let w = |k: usize| WORDS[(i + k) % WORDS.len()];
        let shared = i % 4; // 0..3 words in common
        let first = format!("the {} and the {} and the {}", w(0), w(1), w(2));
        let second: Vec<&str> = (0..3)
            .map(|k| if k < shared { w(k) } else { w(k + 5) })
            .collect();
        let second = format!("a {} with a {} by a {}", second[0], second[1], second[2]);
        let score = shared as f64 * 5.0 / 3.0;
        sts.push_str(&format!("{first}\t{second}\t{score}\n"));
        rank.push_str(&format!(
            "about {} {}\tall on {} {}\n",
            w(0),
            w(1),
            w(1),
            w(0)
        ));
        topic.push_str(&format!("the {} {i}\t{}\n", w(0), ["a", "b", "c"][i % 3]));
    }
    std::fs::write(dir.path().join("sts.tsv"), sts).unwrap();
    std::fs::write(dir.path().join("rank.tsv"), rank).unwrap();
    std::fs::write(dir.path().join("topic.tsv"), topic).unwrap();
    dir
}

fn config_text(extra_sts: &str, extra_rank: &str) -> String {
    let model = repo().join("fixtures/tiny/mean").canonicalize().unwrap();
    format!(
        r#"model = "{}"
seed = 3
epochs = 2
batch_size = 8

[optimizer]
backbone_lr = 1e-3
head_lr = 1e-2

[[tasks]]
name = "sts"
kind = "sentence-similarity"
train = "sts.tsv"
{extra_sts}

[[tasks]]
name = "rank"
kind = "pair-ranking"
train = "rank.tsv"
{extra_rank}

[[tasks]]
name = "topic"
kind = "sentence-classification"
train = "topic.tsv"
"#,
        model.display()
    )
}

fn train(dir: &Path, config: &str) -> Output {
    let path = dir.join("run.toml");
    std::fs::write(&path, config).unwrap();
    smtl(&[
        "train",
        "--config",
        path.to_str().unwrap(),
        "--out",
        dir.join("out").to_str().unwrap(),
    ])
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn pair_tasks_train_with_a_label_head_and_best_reproduces_what_was_scored() {
    let data = data_dir();
    let o = train(
        data.path(),
        &config_text("loss = \"cosine-mse\"", "symmetric = true"),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = data.path().join("out");
    let report = read_json(&out.join("report.json"));
    let sts = &report["tasks"]["sts"];
    for key in ["pairs", "pearson_cosine", "spearman_cosine"] {
        assert!(sts[key].is_number(), "{key} missing: {sts}");
    }
    let rank = &report["tasks"]["rank"];
    for key in ["pairs", "candidates", "accuracy@1", "mrr@10", "recall@10"] {
        assert!(rank[key].is_number(), "{key} missing: {rank}");
    }
    assert!(report["tasks"]["topic"]["accuracy"].is_number());
    let tasks = read_json(&out.join("best/tasks.json"));
    let objective = &tasks.as_array().unwrap()[1]["head"]["objective"];
    assert_eq!(objective["loss"], "cosine-mse", "{tasks}");
    assert_eq!(
        tasks.as_array().unwrap()[0]["head"]["objective"]["symmetric"],
        true
    );

    // The test split (carved: every 10th line from 9) scored again from
    // best/ as plain embeddings gives the report's figure.
    let test: String = std::fs::read_to_string(data.path().join("sts.tsv"))
        .unwrap()
        .lines()
        .enumerate()
        .filter(|(i, _)| i % 10 == 9)
        .map(|(_, l)| format!("{l}\n"))
        .collect();
    let test_file = data.path().join("sts-test.tsv");
    std::fs::write(&test_file, &test).unwrap();
    let best = out.join("best");
    let o = smtl(&[
        "eval",
        "--model",
        best.to_str().unwrap(),
        "--kind",
        "sentence-similarity",
        "--data",
        test_file.to_str().unwrap(),
        "--device",
        "cpu",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let again: Value = serde_json::from_slice(&o.stdout).unwrap();
    for key in ["pearson_cosine", "spearman_cosine"] {
        let (a, b) = (again[key].as_f64().unwrap(), sts[key].as_f64().unwrap());
        assert!((a - b).abs() < 1e-6, "{key}: eval {a} vs report {b}");
    }
    // `smtl eval --task` on the checkpoint's own task agrees too.
    let o = smtl(&[
        "eval",
        "--model",
        best.to_str().unwrap(),
        "--task",
        "sts",
        "--data",
        test_file.to_str().unwrap(),
        "--device",
        "cpu",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let own: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        (own["spearman_cosine"].as_f64().unwrap() - sts["spearman_cosine"].as_f64().unwrap()).abs()
            < 1e-6
    );

    // predict: `s1<TAB>s2` lines to {"index", "score"}; the scores are
    // sentence-transformers' cosines of best/'s embeddings.
    let input = data.path().join("pairs.txt");
    let lines: Vec<(String, String)> = test
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[0].to_string(), f[1].to_string())
        })
        .collect();
    let text: String = lines.iter().map(|(a, b)| format!("{a}\t{b}\n")).collect();
    std::fs::write(&input, text).unwrap();
    let pred = data.path().join("pred.jsonl");
    for task in ["sts", "rank"] {
        let o = smtl(&[
            "predict",
            "--model",
            best.to_str().unwrap(),
            "--task",
            task,
            "--input",
            input.to_str().unwrap(),
            "--output",
            pred.to_str().unwrap(),
            "--device",
            "cpu",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    let rows: Vec<Value> = std::fs::read_to_string(&pred)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), lines.len());
    let script = r#"
import json, sys
from sentence_transformers import SentenceTransformer
m = SentenceTransformer(sys.argv[1], device="cpu")
pairs = json.loads(sys.argv[2])
a = m.encode([p[0] for p in pairs], normalize_embeddings=True)
b = m.encode([p[1] for p in pairs], normalize_embeddings=True)
print(json.dumps([float((x * y).sum()) for x, y in zip(a, b)]))
"#;
    let py = Command::new(repo().join(".venv/bin/python"))
        .env("HF_HUB_OFFLINE", "1")
        .env("TRANSFORMERS_OFFLINE", "1")
        .args([
            "-c",
            script,
            best.to_str().unwrap(),
            &serde_json::to_string(&lines).unwrap(),
        ])
        .output()
        .expect("run scripts/setup: .venv/bin/python is missing");
    assert!(
        py.status.success(),
        "{}",
        String::from_utf8_lossy(&py.stderr)
    );
    let cosines: Vec<f64> = serde_json::from_slice(&py.stdout).unwrap();
    for (i, (row, want)) in rows.iter().zip(&cosines).enumerate() {
        assert_eq!(row.as_object().unwrap().len(), 2, "{row}");
        assert_eq!(row["index"].as_u64(), Some(i as u64));
        let got = row["score"].as_f64().unwrap();
        assert!(
            (got - want).abs() < 1e-5,
            "pair {i}: smtl {got} vs python {want}"
        );
    }

    // A line with one side names the file and the line.
    std::fs::write(&input, "a\tb\nno second side\n").unwrap();
    let o = smtl(&[
        "predict",
        "--model",
        best.to_str().unwrap(),
        "--task",
        "sts",
        "--input",
        input.to_str().unwrap(),
        "--output",
        pred.to_str().unwrap(),
    ]);
    assert_fails(&o, &["pairs.txt:2", "sentence1<TAB>sentence2"]);
}

#[test]
fn pair_task_mistakes_name_the_file_the_key_and_the_line() {
    let data = data_dir();
    let dir = data.path();
    // Config keys that do not fit the kind.
    for (sts, rank, needles) in [
        (
            "loss = \"mnrl\"",
            "",
            vec!["tasks[0].loss", "cosent or cosine-mse"],
        ),
        (
            "loss = \"cosnet\"",
            "",
            vec!["tasks[0].loss", "unknown pair loss"],
        ),
        ("", "loss = \"cosent\"", vec!["tasks[1].loss", "mnrl"]),
        ("symmetric = true", "", vec!["tasks[0].symmetric"]),
        ("", "score_max = 4.0", vec!["tasks[1].score_max"]),
        (
            "score_max = 0.0",
            "",
            vec!["tasks[0].score_max", "positive"],
        ),
        ("format = \"conll\"", "", vec!["tasks[0].format"]),
        (
            "",
            "min_score = 4.0",
            vec!["tasks[1].min_score", "scored pairs"],
        ),
        ("", "format = \"stsb\"", vec!["tasks[1].min_score", "needs"]),
    ] {
        assert_fails(&train(dir, &config_text(sts, rank)), &needles);
    }
    let head_key = config_text("", "").replace(
        "train = \"topic.tsv\"",
        "train = \"topic.tsv\"\nloss = \"cosent\"",
    );
    assert_fails(&train(dir, &head_key), &["tasks[2].loss", "pair kinds"]);
    // In-batch negatives need two pairs per batch.
    let one = config_text("", "").replace("batch_size = 8", "batch_size = 1");
    assert_fails(&train(dir, &one), &["batch_size", "at least 2"]);

    // A score above score_max, on line 3.
    let sts = std::fs::read_to_string(dir.join("sts.tsv")).unwrap();
    let mut lines: Vec<String> = sts.lines().map(str::to_string).collect();
    lines[2] = "one side\tother side\t5.5".into();
    std::fs::write(dir.join("sts.tsv"), lines.join("\n")).unwrap();
    assert_fails(
        &train(dir, &config_text("", "")),
        &["sts.tsv", "line 3", "5.5", "score_max"],
    );
    // ... accepted once score_max covers it.
    let o = train(
        dir,
        &config_text("score_max = 6.0", "").replace("epochs = 2", "epochs = 1\nmax_steps = 1"),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    // A missing side, on line 2.
    std::fs::write(dir.join("sts.tsv"), "a b\tc d\t1.0\nlonely\t\t2.0\n").unwrap();
    assert_fails(&train(dir, &config_text("", "")), &["sts.tsv:2"]);
    std::fs::write(dir.join("sts.tsv"), sts).unwrap();
    std::fs::write(dir.join("rank.tsv"), "a\tb\nonly an anchor\n").unwrap();
    assert_fails(
        &train(dir, &config_text("", "")),
        &["rank.tsv:2", "anchor<TAB>positive"],
    );
    // An empty split.
    std::fs::write(dir.join("rank.tsv"), "\n\n").unwrap();
    assert_fails(&train(dir, &config_text("", "")), &["rank.tsv"]);
}
