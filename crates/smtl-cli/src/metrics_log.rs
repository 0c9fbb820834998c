//! The metrics log (`metrics.jsonl`): one JSON object per line, flushed as
//! it is written; a [`TrainObserver`] that records every step and epoch.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde_json::Value;

use smtl_trainer::{
    CheckpointWriter, EpochRecord, RunStart, StepRecord, TrainError, TrainObserver,
};

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> TrainError + '_ {
    move |source| TrainError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Truncates `file` after its last newline when it does not end with one.
fn drop_partial_last_line(file: &mut File) -> std::io::Result<()> {
    let len = file.metadata()?.len();
    let mut end = len;
    let mut buf = [0u8; 4096];
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let chunk = &mut buf[..(end - start) as usize];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(chunk)?;
        if let Some(i) = chunk.iter().rposition(|&b| b == b'\n') {
            end = start + i as u64 + 1;
            break;
        }
        end = start;
    }
    if end < len {
        file.set_len(end)?;
    }
    Ok(())
}

/// Appends JSON records to a `.jsonl` file, one line each, flushed per line.
pub struct MetricsLog {
    path: PathBuf,
    writer: BufWriter<File>,
}

impl MetricsLog {
    /// Opens `path`, creating it (and its parent folders). `append == false`
    /// truncates an existing file. When appending to a file whose last line
    /// was cut short (a crash mid-write: no trailing newline), that partial
    /// line is removed first, so the file stays valid JSON lines.
    pub fn open(path: &Path, append: bool) -> Result<Self, TrainError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io_err(parent))?;
        }
        let mut file = if append {
            OpenOptions::new()
                .read(true)
                .append(true)
                .create(true)
                .open(path)
        } else {
            OpenOptions::new()
                .write(true)
                .truncate(true)
                .create(true)
                .open(path)
        }
        .map_err(io_err(path))?;
        if append {
            drop_partial_last_line(&mut file).map_err(io_err(path))?;
        }
        Ok(Self {
            path: path.to_path_buf(),
            writer: BufWriter::new(file),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `record` as one compact JSON line and flushes it.
    pub fn write(&mut self, record: &Value) -> Result<(), TrainError> {
        let path = &self.path;
        serde_json::to_writer(&mut self.writer, record).map_err(|source| TrainError::Json {
            path: path.clone(),
            source,
        })?;
        self.writer.write_all(b"\n").map_err(io_err(path))?;
        self.writer.flush().map_err(io_err(path))
    }
}

/// Writes each record to `metrics.jsonl` as `{"kind": "step", ...}` or
/// `{"kind": "epoch", ...}`; a resumed run appends to the file.
pub struct RunLog {
    path: PathBuf,
    log: Option<MetricsLog>,
}

impl RunLog {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            log: None,
        }
    }

    fn write(&mut self, kind: &str, record: impl serde::Serialize) -> Result<(), TrainError> {
        let mut value = serde_json::to_value(record).expect("records serialize");
        if let Value::Object(map) = &mut value {
            map.insert("kind".into(), Value::from(kind));
        }
        match self.log.as_mut() {
            Some(log) => log.write(&value),
            None => Err(TrainError::InvalidConfig(
                "the metrics log was written before the run started".into(),
            )),
        }
    }
}

impl TrainObserver for RunLog {
    fn on_start(&mut self, run: &RunStart) -> Result<(), TrainError> {
        self.log = Some(MetricsLog::open(&self.path, run.completed_steps > 0)?);
        Ok(())
    }

    fn on_step(
        &mut self,
        step: &StepRecord,
        _run: &dyn CheckpointWriter,
    ) -> Result<(), TrainError> {
        self.write("step", step)
    }

    fn on_epoch(
        &mut self,
        epoch: &EpochRecord,
        _run: &dyn CheckpointWriter,
    ) -> Result<(), TrainError> {
        self.write("epoch", epoch)
    }
}

/// Redraws `curves.png` from `metrics.jsonl` after every epoch. Curves are a
/// convenience: a plotting failure is reported on stderr, never stops a run.
pub struct Curves {
    pub log: PathBuf,
    pub png: PathBuf,
}

impl TrainObserver for Curves {
    fn on_epoch(
        &mut self,
        _epoch: &EpochRecord,
        _run: &dyn CheckpointWriter,
    ) -> Result<(), TrainError> {
        let drawn = read_jsonl(&self.log)
            .map_err(anyhow::Error::from)
            .and_then(|records| {
                crate::plot::plot_curves(&records, &self.png).map_err(anyhow::Error::from)
            });
        if let Err(e) = drawn {
            eprintln!("warning: {} not drawn: {e:#}", self.png.display());
        }
        Ok(())
    }
}

/// Reads every record of a JSON-lines file (blank lines are skipped). A last
/// line cut short by a crash mid-write (no trailing newline, JSON ends early)
/// is dropped; any other invalid JSON is an error that names the line.
pub fn read_jsonl(path: &Path) -> Result<Vec<Value>, TrainError> {
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    let mut records = Vec::new();
    for item in serde_json::Deserializer::from_str(&text).into_iter::<Value>() {
        match item {
            Ok(v) => records.push(v),
            Err(e) if e.is_eof() && !text.ends_with('\n') => break,
            Err(source) => {
                return Err(TrainError::Json {
                    path: path.to_path_buf(),
                    source,
                })
            }
        }
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn write_read_append_truncate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/metrics.jsonl");
        let a = json!({"kind": "step", "step": 0, "task": "trec", "loss": 0.5, "note": "a\nb"});
        let b = json!({"kind": "epoch", "epoch": 0});
        {
            let mut log = MetricsLog::open(&path, false).unwrap();
            log.write(&a).unwrap();
            // Flushed per line: readable while the log is still open.
            assert_eq!(read_jsonl(&path).unwrap(), vec![a.clone()]);
        }
        MetricsLog::open(&path, true).unwrap().write(&b).unwrap();
        assert_eq!(read_jsonl(&path).unwrap(), vec![a.clone(), b.clone()]);
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 2);
        MetricsLog::open(&path, false).unwrap().write(&b).unwrap();
        assert_eq!(read_jsonl(&path).unwrap(), vec![b.clone()]);
    }

    #[test]
    fn truncated_last_line_is_dropped_and_append_removes_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.jsonl");
        std::fs::write(&path, "{\"step\":1}\n\n{\"step\":2,\"lo").unwrap();
        assert_eq!(read_jsonl(&path).unwrap(), vec![json!({"step": 1})]);
        MetricsLog::open(&path, true)
            .unwrap()
            .write(&json!({"step": 3}))
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"step\":1}\n\n{\"step\":3}\n"
        );
        // A file that is one long partial line (longer than the scan chunk).
        std::fs::write(&path, format!("{{\"x\":\"{}", "y".repeat(10_000))).unwrap();
        assert!(read_jsonl(&path).unwrap().is_empty());
        MetricsLog::open(&path, true)
            .unwrap()
            .write(&json!({"step": 4}))
            .unwrap();
        assert_eq!(read_jsonl(&path).unwrap(), vec![json!({"step": 4})]);

        std::fs::write(&path, "{\"step\":1}\nnot json\n{\"step\":2}\n").unwrap();
        let err = read_jsonl(&path).unwrap_err();
        assert!(matches!(err, TrainError::Json { .. }));
        assert!(err.to_string().contains("line 2"), "{err}");
        assert!(matches!(
            read_jsonl(&dir.path().join("missing.jsonl")),
            Err(TrainError::Io { .. })
        ));
    }
}
