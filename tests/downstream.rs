//! The README's "Use it from your own crate" recipe, as a new user follows
//! it: a crate outside the workspace (a copy of examples/downstream) with
//! `sentence-mtl` as a path dependency, `LIBTORCH` in its own
//! `.cargo/config.toml` and `smtl_build::link_libtorch()` in its build.rs,
//! built and run with nothing but HOME and PATH in the environment. It
//! embeds the parity sentences with the real model and must match
//! sentence-transformers (cosine >= 0.99999).

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn clean_command(program: &Path) -> Command {
    let mut c = Command::new(program);
    c.env_clear()
        .env("HOME", std::env::var_os("HOME").expect("HOME"))
        .env("PATH", std::env::var_os("PATH").expect("PATH"));
    c
}

#[test]
fn a_downstream_crate_builds_and_runs_with_no_variables_set() {
    let repo = repo().canonicalize().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let crate_dir = tmp.path().join("my-app");
    std::fs::create_dir_all(crate_dir.join("src")).unwrap();
    std::fs::create_dir_all(crate_dir.join(".cargo")).unwrap();
    let src = repo.join("examples/downstream");
    for f in ["build.rs", "src/main.rs"] {
        std::fs::copy(src.join(f), crate_dir.join(f)).unwrap();
    }
    // The README's steps: a path dependency, LIBTORCH in .cargo/config.toml.
    let manifest = std::fs::read_to_string(src.join("Cargo.toml"))
        .unwrap()
        .replace("\"../..\"", &format!("{:?}", repo.display().to_string()))
        .replace(
            "\"../../crates/smtl-build\"",
            &format!("{:?}", repo.join("crates/smtl-build").display().to_string()),
        );
    std::fs::write(crate_dir.join("Cargo.toml"), manifest).unwrap();
    std::fs::write(
        crate_dir.join(".cargo/config.toml"),
        format!(
            "[env]\nLIBTORCH = {:?}\n",
            repo.join(".venv/libtorch").display().to_string()
        ),
    )
    .unwrap();
    // Same dependency versions as the workspace (no new downloads).
    std::fs::copy(repo.join("Cargo.lock"), crate_dir.join("Cargo.lock")).unwrap();

    let cargo = which("cargo");
    // A target folder of its own, kept between runs (a fresh one compiles
    // tch and tokenizers again: minutes on 2 cores).
    let target = repo.join("target/downstream");
    let out = clean_command(&cargo)
        .current_dir(&crate_dir)
        .env("CARGO_TARGET_DIR", &target)
        .args(["build", "--release", "--quiet"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "building the downstream crate failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The parity fixture: sentences (one per line) and their embeddings.
    let sentences: Vec<String> = serde_json::from_str(
        &std::fs::read_to_string(repo.join("fixtures/minilm/sentences.json")).unwrap(),
    )
    .unwrap();
    let expected: ndarray::Array2<f32> =
        ndarray_npy::read_npy(repo.join("fixtures/minilm/embeddings.npy")).unwrap();
    let mut text = String::new();
    let mut rows = Vec::new();
    for (i, s) in sentences.iter().enumerate() {
        if !s.contains(['\n', '\r']) {
            text.push_str(s);
            text.push('\n');
            rows.extend(expected.row(i).iter().flat_map(|v| v.to_le_bytes()));
        }
    }
    std::fs::write(tmp.path().join("sentences.txt"), text).unwrap();
    std::fs::write(tmp.path().join("expected.f32"), rows).unwrap();

    // Run from a plain shell: no LD_LIBRARY_PATH, no LIBTORCH.
    let out = clean_command(&target.join("release/smtl-downstream-example"))
        .arg(repo.join("models/all-MiniLM-L6-v2"))
        .arg(tmp.path().join("sentences.txt"))
        .arg(tmp.path().join("expected.f32"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the downstream binary failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("min_cosine"), "{stdout}");
}

fn which(program: &str) -> PathBuf {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(program))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{program} is not on PATH"))
}
