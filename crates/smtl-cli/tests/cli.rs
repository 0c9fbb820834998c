//! End-to-end tests of the `smtl` binary on the tiny fixture model and tiny
//! data: train (TSV + CoNLL), resume, predict, eval, info, embed, and every
//! bad-input case with its exit status and message.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn tiny_model() -> PathBuf {
    repo().join("fixtures/tiny/mean").canonicalize().unwrap()
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

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A failure with exit status `code`, one `error:` line naming each of
/// `needles`, and no panic.
fn assert_fails(o: &Output, code: i32, needles: &[&str]) -> String {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(code), "stderr: {err}");
    assert!(!err.contains("panicked"), "{err}");
    for n in needles {
        assert!(err.contains(n), "{n:?} missing from: {err}");
    }
    err
}

const TOPICS: [(&str, &str); 9] = [
    ("the cat sat on the mat", "animal"),
    ("a dog barked at the mailman", "animal"),
    ("birds sing in the morning", "animal"),
    ("stocks fell sharply today", "money"),
    ("the bank raised interest rates", "money"),
    ("inflation is rising again", "money"),
    ("the compiler rejected my code", "code"),
    ("rust borrows are checked statically", "code"),
    ("a segfault in the parser", "code"),
];

/// A data folder: `topic.tsv` (40 lines), `topic.jsonl` (the same as JSON
/// lines), `ner.conll` (24 sentences).
fn data_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut tsv = String::new();
    let mut jsonl = String::new();
    for i in 0..40 {
        let (t, l) = TOPICS[i % TOPICS.len()];
        tsv.push_str(&format!("{t} {i}\t{l}\n"));
        jsonl.push_str(&format!("{{\"text\": \"{t} {i}\", \"label\": \"{l}\"}}\n"));
    }
    std::fs::write(dir.path().join("topic.tsv"), tsv).unwrap();
    std::fs::write(dir.path().join("topic.jsonl"), jsonl).unwrap();
    let mut conll = String::from("-DOCSTART- O\n\n");
    for i in 0..24 {
        for (w, t) in [
            ("we", "O"),
            ("met", "O"),
            ("John", "B-PER"),
            ("Smith", "I-PER"),
            ("in", "O"),
            ("Paris", "B-LOC"),
        ] {
            conll.push_str(&format!("{w}\t{t}\n"));
        }
        conll.push_str(&format!("day\tO\n{i}\tO\n  \n"));
    }
    std::fs::write(dir.path().join("ner.conll"), conll).unwrap();
    dir
}

fn config_text(model: &Path, extra_top: &str) -> String {
    format!(
        r#"model = "{}"
seed = 5
epochs = 2
batch_size = 4
{extra_top}
[optimizer]
backbone_lr = 1e-3
head_lr = 1e-2

[[tasks]]
name = "topic"
kind = "sentence-classification"
train = "topic.tsv"

[[tasks]]
name = "ner"
kind = "token-classification"
train = "ner.conll"
"#,
        model.display()
    )
}

fn write_config(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("run.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn read_jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn train_predict_eval_info_end_to_end() {
    let data = data_dir();
    let config = write_config(data.path(), &config_text(&tiny_model(), ""));
    let out = data.path().join("out");
    let o = smtl(&[
        "train",
        "--config",
        config.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    for f in ["best", "last", "metrics.jsonl", "curves.png", "report.json"] {
        assert!(out.join(f).exists(), "{f} missing");
    }
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let topic = &report["tasks"]["topic"];
    assert!(topic["accuracy"].as_f64().unwrap() >= 0.0);
    assert!(topic["macro_f1"].is_number());
    assert_eq!(topic["per_class"].as_array().unwrap().len(), 3);
    let ner = &report["tasks"]["ner"];
    assert!(ner["entity_f1"].is_number());
    assert!(ner["per_type"].is_array());
    assert_eq!(
        report["run"]["data"]["topic"]["carved_from_train"],
        serde_json::json!(["dev", "test"])
    );
    // 40 lines: indices 9, 19, 29, 39 are the carved test split.
    let preds = read_jsonl(&out.join("predictions/topic.jsonl"));
    let indices: Vec<u64> = preds.iter().map(|p| p["index"].as_u64().unwrap()).collect();
    assert_eq!(indices, [9, 19, 29, 39]);
    for p in &preds {
        assert!(["animal", "money", "code"].contains(&p["label"].as_str().unwrap()));
        let score = p["score"].as_f64().unwrap();
        assert!(score > 0.0 && score <= 1.0);
    }
    let ner_preds = read_jsonl(&out.join("predictions/ner.jsonl"));
    assert_eq!(ner_preds.len(), 2); // sentences 9 and 19
    assert_eq!(ner_preds[0]["tags"].as_array().unwrap().len(), 8);
    // Step and epoch records in the metrics log.
    let log = read_jsonl(&out.join("metrics.jsonl"));
    assert!(log.iter().any(|r| r["kind"] == "epoch"));
    assert_eq!(
        log.iter().filter(|r| r["kind"] == "step").count(),
        2 * (32usize.div_ceil(4) + 20usize.div_ceil(4))
    );

    // predict: sentence task, input order, empty lines kept.
    let best = out.join("best");
    let input = data.path().join("in.txt");
    std::fs::write(&input, "the cat sat\n\nstocks fell today\n").unwrap();
    let pred = data.path().join("pred.jsonl");
    let o = smtl(&[
        "predict",
        "--model",
        best.to_str().unwrap(),
        "--task",
        "topic",
        "--input",
        input.to_str().unwrap(),
        "--output",
        pred.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = read_jsonl(&pred);
    assert_eq!(rows.len(), 3);
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r["index"].as_u64(), Some(i as u64));
        assert!(r["label"].is_string() && r["score"].is_number());
    }
    // predict: token task, one tag per whitespace word, [] for an empty line.
    let o = smtl(&[
        "predict",
        "--model",
        best.to_str().unwrap(),
        "--task",
        "ner",
        "--input",
        input.to_str().unwrap(),
        "--output",
        pred.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = read_jsonl(&pred);
    let lens: Vec<usize> = rows
        .iter()
        .map(|r| r["tags"].as_array().unwrap().len())
        .collect();
    assert_eq!(lens, [3, 0, 3]);
    // Two tasks: --task is required, and the message lists them.
    let o = smtl(&[
        "predict",
        "--model",
        best.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--output",
        pred.to_str().unwrap(),
    ]);
    assert_fails(&o, 1, &["--task", "ner", "topic"]);
    let o = smtl(&[
        "predict",
        "--model",
        best.to_str().unwrap(),
        "--task",
        "sentiment",
        "--input",
        input.to_str().unwrap(),
        "--output",
        pred.to_str().unwrap(),
    ]);
    assert_fails(&o, 1, &["unknown task \"sentiment\"", "ner, topic"]);
    // A plain model is no checkpoint.
    let o = smtl(&[
        "predict",
        "--model",
        tiny_model().to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--output",
        pred.to_str().unwrap(),
    ]);
    assert_fails(&o, 1, &["not a checkpoint", "tasks.json"]);

    // eval: one JSON object on stdout, the report's metrics.
    let o = smtl(&[
        "eval",
        "--model",
        best.to_str().unwrap(),
        "--task",
        "topic",
        "--data",
        data.path().join("topic.jsonl").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let metrics: Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(metrics["total"].as_u64(), Some(40));
    assert!(metrics["accuracy"].is_number() && metrics["macro_f1"].is_number());
    let o = smtl(&[
        "eval",
        "--model",
        best.to_str().unwrap(),
        "--task",
        "ner",
        "--data",
        data.path().join("ner.conll").to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let metrics: Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert!(metrics["entity_f1"].is_number());
    assert_eq!(metrics["support"].as_u64(), Some(48));
    // A label the checkpoint never saw.
    let bad = data.path().join("bad.tsv");
    std::fs::write(&bad, "a cat\tanimal\nthe bank\tfinance\n").unwrap();
    let o = smtl(&[
        "eval",
        "--model",
        best.to_str().unwrap(),
        "--task",
        "topic",
        "--data",
        bad.to_str().unwrap(),
    ]);
    assert_fails(&o, 1, &["bad.tsv", "finance"]);

    // info: text and JSON.
    let o = smtl(&["info", "--model", best.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    for needle in ["bert", "Pooling(mean)", "topic", "B-PER", "parameters"] {
        assert!(text.contains(needle), "{needle} missing: {text}");
    }
    let o = smtl(&["info", "--model", best.to_str().unwrap(), "--json"]);
    let info: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(info["tasks"].as_array().unwrap().len(), 2);
    assert_eq!(info["backends"]["cpu"], true);
}

#[test]
fn a_resumed_run_continues_where_it_stopped() {
    let data = data_dir();
    let full = data.path().join("full");
    let config = write_config(data.path(), &config_text(&tiny_model(), ""));
    let o = smtl(&[
        "train",
        "--config",
        config.to_str().unwrap(),
        "--out",
        full.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let losses = |dir: &Path| -> Vec<(u64, f64)> {
        read_jsonl(&dir.join("metrics.jsonl"))
            .iter()
            .filter(|r| r["kind"] == "step")
            .map(|r| (r["step"].as_u64().unwrap(), r["loss"].as_f64().unwrap()))
            .collect()
    };
    let reference = losses(&full);

    let split = data.path().join("split");
    let config = write_config(data.path(), &config_text(&tiny_model(), "max_steps = 7"));
    let o = smtl(&[
        "train",
        "--config",
        config.to_str().unwrap(),
        "--out",
        split.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(losses(&split).len(), 7);
    let last = split.join("last");
    let config = write_config(data.path(), &config_text(&tiny_model(), ""));
    let o = smtl(&[
        "train",
        "--config",
        config.to_str().unwrap(),
        "--out",
        split.to_str().unwrap(),
        "--resume",
        last.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    // The resumed run replays the rest of the uninterrupted run exactly.
    let replay = losses(&split);
    assert_eq!(replay.len(), reference.len());
    assert_eq!(reference.len(), 2 * (8 + 5));
    for ((s1, l1), (s2, l2)) in reference.iter().zip(&replay) {
        assert_eq!(s1, s2);
        assert!((l1 - l2).abs() <= 1e-5, "step {s1}: {l1} vs {l2}");
    }
}

#[test]
fn config_mistakes_name_the_file_and_the_key() {
    let data = data_dir();
    let good = config_text(&tiny_model(), "");
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            good.replace("seed = 5", "seed = 5\nsede = 1"),
            vec!["sede", "line 3"],
        ),
        (good.replace("seed = 5", "seed = \"five\""), vec!["line 2"]),
        (
            good.replace("train = \"ner.conll\"\n", ""),
            vec!["missing field `train`"],
        ),
        (
            good.replace("kind = \"token-classification\"", "kind = \"ner-tagging\""),
            vec!["unknown task kind", "ner-tagging"],
        ),
        (
            good.replace(
                "train = \"topic.tsv\"",
                "train = \"topic.tsv\"\nformat = \"csv\"",
            ),
            vec!["unknown data format", "csv"],
        ),
        (
            good.replace("train = \"topic.tsv\"", "train = \"nope.tsv\""),
            vec!["tasks[0].train", "nope.tsv", "does not exist"],
        ),
        (
            good.replace("name = \"ner\"", "name = \"topic\""),
            vec!["tasks[1].name", "duplicate task name"],
        ),
        (
            good.replace("seed = 5", "seed = 5\nfreeze = [\"botom:4\"]"),
            vec!["botom:4"],
        ),
        (
            good.replace("head_lr = 1e-2", "head_lr = 1e-2\nmomentum = 0.9"),
            vec!["momentum"],
        ),
    ];
    for (text, needles) in cases {
        let config = write_config(data.path(), &text);
        let o = smtl(&[
            "train",
            "--config",
            config.to_str().unwrap(),
            "--out",
            data.path().join("o").to_str().unwrap(),
        ]);
        let mut needles = needles;
        needles.push("run.toml");
        assert_fails(&o, 1, &needles);
        assert!(
            !data.path().join("o").exists(),
            "nothing written for a bad config"
        );
    }
}

#[test]
fn data_mistakes_name_the_file_and_line() {
    let data = data_dir();
    let good = config_text(&tiny_model(), "");
    let config = write_config(data.path(), &good);
    let run = || {
        smtl(&[
            "train",
            "--config",
            config.to_str().unwrap(),
            "--out",
            data.path().join("o").to_str().unwrap(),
        ])
    };
    // A TSV line without a tab, on line 3.
    std::fs::write(data.path().join("topic.tsv"), "a\tx\nb\ty\nno tab here\n").unwrap();
    assert_fails(&run(), 1, &["topic.tsv:3", "tab"]);
    // A CoNLL line with a bad tag, on line 2.
    std::fs::write(data.path().join("topic.tsv"), "a\tx\n").unwrap();
    std::fs::write(data.path().join("ner.conll"), "a\tO\nb\tX-PER\n").unwrap();
    assert_fails(&run(), 1, &["ner.conll:2", "X-PER"]);
    // An empty task.
    std::fs::write(data.path().join("ner.conll"), "\n\n").unwrap();
    assert_fails(&run(), 1, &["ner.conll", "no examples"]);
    // A dev label that training never saw.
    let data = data_dir();
    std::fs::write(
        data.path().join("dev.tsv"),
        "a cat\tanimal\na tree\tplant\n",
    )
    .unwrap();
    let config = write_config(
        data.path(),
        &good.replace(
            "train = \"topic.tsv\"",
            "train = \"topic.tsv\"\ndev = \"dev.tsv\"",
        ),
    );
    let o = smtl(&[
        "train",
        "--config",
        config.to_str().unwrap(),
        "--out",
        data.path().join("o").to_str().unwrap(),
    ]);
    assert_fails(&o, 1, &["dev.tsv", "\"plant\"", "never occurs"]);
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    let o = smtl(&["train"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = smtl(&["frobnicate"]);
    assert_eq!(o.status.code(), Some(2));
    for sub in ["embed", "train", "predict", "eval", "info"] {
        let o = smtl(&[sub, "--help"]);
        assert_eq!(o.status.code(), Some(0), "{sub}");
        assert!(stdout(&o).contains("--model") || stdout(&o).contains("--config"));
    }
}

#[test]
fn embed_writes_every_line_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    std::fs::write(&input, "one\n\nthree words here\nfour\n").unwrap();
    let output = dir.path().join("out.npy");
    let o = smtl(&[
        "embed",
        "--model",
        tiny_model().to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
        "--device",
        "cpu",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let got: ndarray::Array2<f32> = ndarray_npy::read_npy(&output).unwrap();
    let want = smtl_embedding::SentenceEncoder::from_dir(tiny_model(), tch::Device::Cpu)
        .unwrap()
        .encode(&["one", "", "three words here", "four"])
        .unwrap();
    assert_eq!(got.shape(), want.shape());
    let diff = (&got - &want).iter().fold(0f32, |m, d| m.max(d.abs()));
    assert!(diff <= 1e-6, "{diff}");
    // Bad output extension: refused before anything is written.
    let o = smtl(&[
        "embed",
        "--model",
        tiny_model().to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--output",
        dir.path().join("out.csv").to_str().unwrap(),
    ]);
    assert_fails(&o, 1, &[".npy", ".jsonl"]);
}

/// Every run config shipped in examples/configs parses, with its model and
/// data files where scripts/setup puts them.
#[test]
fn shipped_configs_are_valid() {
    let dir = repo().join("examples/configs");
    let mut seen = 0;
    let files = std::fs::read_dir(&dir)
        .unwrap()
        .chain(std::fs::read_dir(dir.join("sharing")).unwrap());
    for entry in files {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) == Some("toml") {
            let config = smtl_cli::config::RunConfig::load(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(!config.tasks.is_empty());
            seen += 1;
        }
    }
    assert!(seen >= 11, "only {seen} configs in {}", dir.display());
}

/// The CUDA backend is wired in: on a machine without a GPU, `--device
/// cuda` fails with "no CUDA device" (the backend loaded), never with "no
/// CUDA backend"; `info` says which backends there are.
#[test]
fn cuda_is_wired_in_and_absent_devices_are_named() {
    if std::path::Path::new("/dev/nvidiactl").exists() {
        return; // a GPU machine: covered by the device check in docs/performance.md
    }
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.txt");
    std::fs::write(&input, "one\n").unwrap();
    let o = smtl(&[
        "embed",
        "--model",
        tiny_model().to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--output",
        dir.path().join("o.npy").to_str().unwrap(),
        "--device",
        "cuda",
    ]);
    assert_fails(
        &o,
        1,
        &["cuda:0", "no CUDA device", "CUDA backend is loaded"],
    );
    let o = smtl(&["info", "--model", tiny_model().to_str().unwrap()]);
    let text = stdout(&o);
    assert!(text.contains("auto picks cpu"), "{text}");
}

/// `cargo install --path crates/smtl-cli` puts the binary far from the
/// workspace: a copy elsewhere must still find libtorch (absolute rpath).
#[test]
fn a_copy_of_smtl_outside_the_workspace_runs() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("smtl");
    std::fs::copy(env!("CARGO_BIN_EXE_smtl"), &copy).unwrap();
    let o = Command::new(&copy)
        .arg("--version")
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("smtl "), "{}", stdout(&o));
}
