//! Sharded `smtl embed --shard I/N` and `smtl merge` on the tiny model: the
//! merged parts are byte-identical to one `smtl embed` of the whole file
//! (npy and jsonl), `--shard auto` reads the schedulers' variables, and a
//! missing, duplicate or foreign part is a clear error.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn smtl(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_smtl"));
    cmd.args(args).env("SMTL_TEST", "1");
    for k in [
        "JOB_COMPLETION_INDEX",
        "SLURM_ARRAY_TASK_ID",
        "SLURM_ARRAY_TASK_MIN",
        "SLURM_ARRAY_TASK_COUNT",
    ] {
        cmd.env_remove(k);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("smtl runs")
}

fn ok(o: &Output) {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn fails(o: &Output, needles: &[&str]) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    for n in needles {
        assert!(err.contains(n), "{n:?} missing from {err}");
    }
}

fn embed(input: &Path, output: &Path, extra: &[&str], env: &[(&str, &str)]) -> Output {
    let model = repo().join("fixtures/tiny/mean");
    let mut args = vec![
        "embed",
        "--model",
        model.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
        "--device",
        "cpu",
    ];
    args.extend_from_slice(extra);
    smtl(&args, env)
}

/// 9,000 lines of mixed lengths (three stream chunks of 4,096 lines), some
/// blank, with a BOM and CRLF endings on a few.
fn corpus(dir: &Path) -> PathBuf {
    let mut text = String::from("\u{feff}");
    for i in 0..9000 {
        let words = ["cat", "market", "compiler", "rain", "guitar", "onion"];
        let n = 1 + (i * 7) % 23;
        let line: Vec<&str> = (0..n).map(|k| words[(i + k) % words.len()]).collect();
        if i % 97 == 0 {
            text.push_str("\r\n");
        } else {
            text.push_str(&line.join(" "));
            text.push('\n');
        }
    }
    let path = dir.join("corpus.txt");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn merged_shards_are_byte_identical_to_one_run() {
    let dir = tempfile::tempdir().unwrap();
    let input = corpus(dir.path());
    for ext in ["npy", "jsonl"] {
        let whole = dir.path().join(format!("whole.{ext}"));
        ok(&embed(&input, &whole, &[], &[]));
        for count in [1usize, 2, 3] {
            let mut parts = Vec::new();
            for index in 0..count {
                let part = dir.path().join(format!("part-{index}-of-{count}.{ext}"));
                ok(&embed(
                    &input,
                    &part,
                    &["--shard", &format!("{index}/{count}")],
                    &[],
                ));
                assert!(dir
                    .path()
                    .join(format!("part-{index}-of-{count}.{ext}.shard.json"))
                    .is_file());
                parts.push(part);
            }
            parts.reverse(); // merge orders by shard, not by argument
            let merged = dir.path().join(format!("merged-{count}.{ext}"));
            let mut args = vec!["merge", "--output", merged.to_str().unwrap()];
            args.extend(parts.iter().map(|p| p.to_str().unwrap()));
            ok(&smtl(&args, &[]));
            assert!(
                std::fs::read(&merged).unwrap() == std::fs::read(&whole).unwrap(),
                "{count} shards of .{ext} differ from one run"
            );
        }
    }
}

#[test]
fn shard_auto_reads_kubernetes_and_slurm_indices() {
    let dir = tempfile::tempdir().unwrap();
    let input = corpus(dir.path());
    let run = |name: &str, extra: &[&str], env: &[(&str, &str)]| {
        let out = dir.path().join(name);
        ok(&embed(&input, &out, extra, env));
        let m: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(dir.path().join(format!("{name}.shard.json"))).unwrap(),
        )
        .unwrap();
        (m["shard"].as_u64().unwrap(), m["shards"].as_u64().unwrap())
    };
    assert_eq!(
        run(
            "k.npy",
            &["--shard", "auto", "--shards", "2"],
            &[("JOB_COMPLETION_INDEX", "1")]
        ),
        (1, 2)
    );
    let slurm = [
        ("SLURM_ARRAY_TASK_ID", "3"),
        ("SLURM_ARRAY_TASK_MIN", "1"),
        ("SLURM_ARRAY_TASK_COUNT", "3"),
    ];
    assert_eq!(run("s.npy", &["--shard", "auto"], &slurm), (2, 3));
    fails(
        &embed(&input, &dir.path().join("x.npy"), &["--shard", "auto"], &[]),
        &["JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID"],
    );
    fails(
        &embed(&input, &dir.path().join("x.npy"), &["--shard", "3/3"], &[]),
        &["0-based"],
    );
    fails(
        &embed(
            &input,
            &dir.path().join("x.npy"),
            &["--shard", "1/2", "--shards", "2"],
            &[],
        ),
        &["--shard auto"],
    );
}

#[test]
fn missing_duplicate_and_foreign_parts_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let input = corpus(dir.path());
    let part = |name: &str, shard: &str, input: &Path| {
        let p = dir.path().join(name);
        ok(&embed(input, &p, &["--shard", shard], &[]));
        p
    };
    let p0 = part("a0.npy", "0/2", &input);
    let p1 = part("a1.npy", "1/2", &input);
    let merged = dir.path().join("m.npy");
    let merge = |parts: &[&Path]| {
        let mut args = vec!["merge", "--output", merged.to_str().unwrap()];
        args.extend(parts.iter().map(|p| p.to_str().unwrap()));
        smtl(&args, &[])
    };
    fails(&merge(&[&p0]), &["missing shard(s) 1 of 2"]);
    fails(&merge(&[&p0, &p0, &p1]), &["duplicate"]);
    // A part of another input.
    let other = dir.path().join("other.txt");
    std::fs::write(&other, "one\ntwo\nthree\n").unwrap();
    let q1 = part("b1.npy", "1/2", &other);
    fails(&merge(&[&p0, &q1]), &["does not fit", "input"]);
    // A file without a manifest.
    let plain = dir.path().join("plain.npy");
    ok(&embed(&input, &plain, &[], &[]));
    fails(&merge(&[&plain]), &["no shard manifest"]);
    // A part cut short after it was written.
    let bytes = std::fs::read(&p1).unwrap();
    std::fs::write(&p1, &bytes[..bytes.len() - 4]).unwrap();
    fails(&merge(&[&p0, &p1]), &["fewer values"]);
    assert!(!merged.exists(), "a failed merge leaves no output");
}
