//! Checkpoint directories, written atomically.
//!
//! A checkpoint is one directory holding everything needed to serve or to
//! resume: the encoder in sentence-transformers layout (`config.json`,
//! `model.safetensors`, `tokenizer.json`, `modules.json`, ...), the heads
//! (`heads.safetensors`, `tasks.json`), the optimizer moments
//! (`optimizer.safetensors`) and `trainer_state.json` (epoch, step, sampler
//! seed, schedule, optimizer step counts, loss weights, best score).
//!
//! Writing goes to a temporary sibling directory that is renamed over the
//! final name only once complete, so a crash or a full disk mid-save leaves
//! the previous checkpoint as it was.

use std::path::{Path, PathBuf};

use crate::TrainError;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn sibling(dir: &Path, tag: &str) -> PathBuf {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "checkpoint".into());
    dir.with_file_name(format!(".{name}.{tag}"))
}

fn fsync_dir(dir: &Path) {
    // Best effort: makes the renames durable on filesystems that need it.
    if let Ok(f) = std::fs::File::open(dir) {
        let _ = f.sync_all();
    }
}

/// Writes a checkpoint at `dir` through `write` (which fills the directory it
/// is given) with temp-dir-then-rename semantics. `dir` is either the old
/// complete checkpoint or the new complete one, never a mix.
pub fn write_atomically(
    dir: &Path,
    write: impl FnOnce(&Path) -> Result<(), TrainError>,
) -> Result<(), TrainError> {
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(io(parent))?;
    let tmp = sibling(dir, &format!("tmp-{}", std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
    }
    std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
    if let Err(e) = write(&tmp).and_then(|()| sync_tree(&tmp)) {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    let old = sibling(dir, "old");
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(io(&old))?;
    }
    if dir.exists() {
        std::fs::rename(dir, &old).map_err(io(dir))?;
    }
    std::fs::rename(&tmp, dir).map_err(io(&tmp))?;
    fsync_dir(parent);
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(io(&old))?;
    }
    Ok(())
}

fn sync_tree(dir: &Path) -> Result<(), TrainError> {
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let path = entry.map_err(io(dir))?.path();
        if path.is_dir() {
            sync_tree(&path)?;
        } else {
            std::fs::File::open(&path)
                .and_then(|f| f.sync_all())
                .map_err(io(&path))?;
        }
    }
    fsync_dir(dir);
    Ok(())
}

/// The complete checkpoint at `dir`: `dir` itself, or the previous one left
/// as `.<name>.old` by a crash between the two renames of a save.
pub fn resolve(dir: &Path) -> Option<PathBuf> {
    if dir.join(STATE_FILE).is_file() {
        return Some(dir.to_path_buf());
    }
    let old = sibling(dir, "old");
    old.join(STATE_FILE).is_file().then_some(old)
}

/// Name of the trainer state file: its presence marks a complete checkpoint.
pub const STATE_FILE: &str = "trainer_state.json";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_save_leaves_the_previous_checkpoint_intact() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("last");
        write_atomically(&dir, |d| {
            std::fs::write(d.join(STATE_FILE), "1").map_err(io(d))
        })
        .unwrap();
        // Simulated crash mid-save (e.g. disk full after one file).
        let err = write_atomically(&dir, |d| {
            std::fs::write(d.join("model.safetensors"), "partial").map_err(io(d))?;
            Err(TrainError::InvalidConfig("disk full".into()))
        });
        assert!(err.is_err());
        assert_eq!(std::fs::read_to_string(dir.join(STATE_FILE)).unwrap(), "1");
        assert!(!dir.join("model.safetensors").exists());
        let leftovers: Vec<_> = std::fs::read_dir(root.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temp directory is left behind");
        // A successful save replaces it whole.
        write_atomically(&dir, |d| {
            std::fs::write(d.join(STATE_FILE), "2").map_err(io(d))
        })
        .unwrap();
        assert_eq!(std::fs::read_to_string(dir.join(STATE_FILE)).unwrap(), "2");
        assert_eq!(resolve(&dir), Some(dir.clone()));
    }

    #[test]
    fn a_crash_between_the_renames_is_recovered() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("last");
        let old = sibling(&dir, "old");
        std::fs::create_dir_all(&old).unwrap();
        std::fs::write(old.join(STATE_FILE), "1").unwrap();
        assert_eq!(resolve(&dir), Some(old));
    }
}
