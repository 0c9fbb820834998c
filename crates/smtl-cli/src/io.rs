//! Streaming input and output for embedding jobs, so that memory does not grow
//! with the size of the input:
//!
//! - [`LineReader`] reads UTF-8 text one sentence per line;
//! - [`NpyRowWriter`] writes a float32 `.npy` matrix row by row and fills in
//!   the row count at the end;
//! - [`JsonlRowWriter`] writes one JSON object per embedding;
//! - both writers go through [`AtomicFile`]: they write `<name>.partial` next
//!   to the target and rename it to the target only on success, so a failed
//!   run never leaves a half-written file under the final name.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

/// Errors of the streaming readers and writers.
#[derive(Debug, thiserror::Error)]
pub enum EmbedIoError {
    #[error("cannot read {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path}, line {line}: not valid UTF-8")]
    NotUtf8 {
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        #[source]
        source: std::str::Utf8Error,
    },
    #[error("cannot write {path}")]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("output path {0} does not name a file")]
    NoFileName(PathBuf),
    #[error("{path}: {message}")]
    Shape { path: PathBuf, message: String },
}

type Result<T, E = EmbedIoError> = std::result::Result<T, E>;

// ---------------------------------------------------------------------------
// Input
// ---------------------------------------------------------------------------

/// Reads a UTF-8 text one sentence per line, lazily.
///
/// Line rules: a line ends at `\n`; a `\r` right before that `\n` is
/// dropped (a lone `\r` is kept, as [`str::lines`] does); the end of the input
/// ends the last line, so `"a\n"` and `"a"` are both one line, `""` is no
/// line and `"\n"` is one empty line. A UTF-8 byte-order mark at the very
/// start is dropped.
///
/// Iterates `(line_no, Result<String>)` with 1-based line numbers. A line that
/// is not UTF-8 yields [`EmbedIoError::NotUtf8`] and reading can go on with
/// the next line; a read error ends the iteration after it is yielded.
#[derive(Debug)]
pub struct LineReader<R> {
    inner: R,
    path: PathBuf,
    line: u64,
    bytes: u64,
    done: bool,
}

impl LineReader<BufReader<File>> {
    /// Opens `path` for reading.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let file = File::open(path).map_err(|source| EmbedIoError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Self::new(BufReader::with_capacity(1 << 16, file), path))
    }

    /// Opens `path` at byte `offset`, the start of its line `lines_before + 1`
    /// (a shard's block): line numbers in errors stay the file's.
    pub fn open_at(path: impl AsRef<Path>, offset: u64, lines_before: u64) -> Result<Self> {
        use std::io::{Seek, SeekFrom};
        let path = path.as_ref();
        let read_err = |source| EmbedIoError::Read {
            path: path.to_path_buf(),
            source,
        };
        let mut file = File::open(path).map_err(read_err)?;
        file.seek(SeekFrom::Start(offset)).map_err(read_err)?;
        let mut reader = Self::new(BufReader::with_capacity(1 << 16, file), path);
        reader.line = lines_before;
        Ok(reader)
    }
}

impl<R: BufRead> LineReader<R> {
    /// Reads from `inner`; `path` names the input in error messages.
    pub fn new(inner: R, path: impl Into<PathBuf>) -> Self {
        Self {
            inner,
            path: path.into(),
            line: 0,
            bytes: 0,
            done: false,
        }
    }

    /// Bytes consumed so far (line terminators included), for progress.
    pub fn bytes_read(&self) -> u64 {
        self.bytes
    }

    /// Lines read so far.
    pub fn lines_read(&self) -> u64 {
        self.line
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Where the text of one raw line (as `read_until(b'\n')` gives it) lies:
/// without its `\n` or `\r\n` terminator and, on line 1, without a UTF-8
/// BOM. The text [`LineReader`] hands on; sharded jobs measure lines by it.
pub fn line_text(raw: &[u8], first_line: bool) -> std::ops::Range<usize> {
    let mut end = raw.len();
    if raw.last() == Some(&b'\n') {
        end -= 1;
        if end > 0 && raw[end - 1] == b'\r' {
            end -= 1;
        }
    }
    let start = if first_line && raw[..end].starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    start..end
}

impl<R: BufRead> Iterator for LineReader<R> {
    type Item = (u64, Result<String>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let mut buf = Vec::new();
        let n = match self.inner.read_until(b'\n', &mut buf) {
            Ok(0) => {
                self.done = true;
                return None;
            }
            Ok(n) => n,
            Err(source) => {
                self.done = true;
                let err = EmbedIoError::Read {
                    path: self.path.clone(),
                    source,
                };
                return Some((self.line + 1, Err(err)));
            }
        };
        self.bytes += n as u64;
        self.line += 1;
        let text = line_text(&buf, self.line == 1);
        buf.truncate(text.end);
        buf.drain(..text.start);
        let line = String::from_utf8(buf).map_err(|e| EmbedIoError::NotUtf8 {
            path: self.path.clone(),
            line: self.line,
            source: e.utf8_error(),
        });
        Some((self.line, line))
    }
}

// ---------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------

/// A file written under a temporary name (`<name>.partial` in the same
/// directory) and renamed to its final name by [`AtomicFile::commit`].
///
/// Dropped without a commit (an error, a panic), it removes the temporary
/// file. A killed process can leave the `.partial` file behind, never a
/// half-written file under the final name.
#[derive(Debug)]
pub struct AtomicFile {
    file: Option<BufWriter<File>>,
    partial: PathBuf,
    target: PathBuf,
}

impl AtomicFile {
    /// Creates (or truncates) `<path>.partial`.
    pub fn create(path: impl AsRef<Path>) -> Result<Self> {
        let target = path.as_ref().to_path_buf();
        let name = match target.file_name() {
            Some(name) if !target.as_os_str().to_string_lossy().ends_with('/') => name,
            _ => return Err(EmbedIoError::NoFileName(target)),
        };
        let mut partial_name = name.to_os_string();
        partial_name.push(".partial");
        let partial = target.with_file_name(partial_name);
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&partial)
            .map_err(|source| EmbedIoError::Write {
                path: partial.clone(),
                source,
            })?;
        Ok(Self {
            file: Some(BufWriter::with_capacity(1 << 20, file)),
            partial,
            target,
        })
    }

    /// The final name.
    pub fn path(&self) -> &Path {
        &self.target
    }

    /// The temporary name written to until the commit.
    pub fn partial_path(&self) -> &Path {
        &self.partial
    }

    fn writer(&mut self) -> &mut BufWriter<File> {
        self.file.as_mut().expect("the file is open until commit")
    }

    fn write_error(&self, source: io::Error) -> EmbedIoError {
        EmbedIoError::Write {
            path: self.partial.clone(),
            source,
        }
    }

    /// Writes all of `bytes`.
    pub fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        self.writer()
            .write_all(bytes)
            .map_err(|e| self.write_error(e))
    }

    /// Flushes, then overwrites bytes at `offset` from the start.
    fn overwrite_at(&mut self, offset: u64, bytes: &[u8]) -> Result<()> {
        let w = self.writer();
        let res = w
            .flush()
            .and_then(|_| w.seek(SeekFrom::Start(offset)))
            .and_then(|_| w.write_all(bytes))
            .and_then(|_| w.seek(SeekFrom::End(0)).map(|_| ()));
        res.map_err(|e| self.write_error(e))
    }

    /// Flushes and syncs the file, then renames it to its final name,
    /// replacing any file of that name. On error the temporary file is
    /// removed.
    pub fn commit(mut self) -> Result<()> {
        let w = self.writer();
        if let Err(e) = w.flush().and_then(|_| w.get_ref().sync_all()) {
            return Err(self.write_error(e)); // Drop removes the file
        }
        drop(self.file.take()); // already flushed: closes the file
        fs::rename(&self.partial, &self.target).map_err(|source| {
            let _ = fs::remove_file(&self.partial);
            EmbedIoError::Write {
                path: self.target.clone(),
                source,
            }
        })
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if let Some(w) = self.file.take() {
            drop(w);
            let _ = fs::remove_file(&self.partial);
        }
    }
}

/// Writes a `[rows, cols]` little-endian float32 `.npy` file (format 1.0, C
/// order) row by row, without knowing the row count in advance.
///
/// The header is written first with room for any row count, padded so that
/// magic plus header is a multiple of 64 bytes; [`NpyRowWriter::finish`]
/// rewrites it in place with the final count (same length), then renames the
/// temporary file to the target (see [`AtomicFile`]).
#[derive(Debug)]
pub struct NpyRowWriter {
    out: AtomicFile,
    cols: usize,
    rows: u64,
    bytes: Vec<u8>,
}

const NPY_MAGIC: &[u8] = b"\x93NUMPY";

fn npy_dict(rows: u64, cols: usize) -> String {
    format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}")
}

/// The full npy 1.0 header (magic included) for `[rows, cols]` float32,
/// always as long as the one for `u64::MAX` rows.
fn npy_header(rows: u64, cols: usize) -> Vec<u8> {
    let prefix = NPY_MAGIC.len() + 2 + 2;
    let longest = npy_dict(u64::MAX, cols).len();
    let total = (prefix + longest + 1).next_multiple_of(64);
    let header_len = total - prefix;
    let dict = npy_dict(rows, cols);
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(NPY_MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(
        &u16::try_from(header_len)
            .expect("an npy header of two numbers fits in u16")
            .to_le_bytes(),
    );
    out.extend_from_slice(dict.as_bytes());
    out.resize(total - 1, b' ');
    out.push(b'\n');
    out
}

impl NpyRowWriter {
    /// Starts `path` (written as `<path>.partial` until [`Self::finish`])
    /// for rows of `cols` values.
    pub fn create(path: impl AsRef<Path>, cols: usize) -> Result<Self> {
        let path = path.as_ref();
        if cols == 0 {
            return Err(EmbedIoError::Shape {
                path: path.to_path_buf(),
                message: "an .npy row writer needs at least one column".into(),
            });
        }
        let mut out = AtomicFile::create(path)?;
        out.write_all(&npy_header(0, cols))?;
        Ok(Self {
            out,
            cols,
            rows: 0,
            bytes: Vec::new(),
        })
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Appends whole rows, given row-major: `data.len()` must be a multiple
    /// of `cols`.
    pub fn write_rows(&mut self, data: &[f32]) -> Result<()> {
        if !data.len().is_multiple_of(self.cols) {
            return Err(EmbedIoError::Shape {
                path: self.out.path().to_path_buf(),
                message: format!(
                    "{} values are not whole rows of {} columns",
                    data.len(),
                    self.cols
                ),
            });
        }
        self.bytes.clear();
        self.bytes.reserve(data.len() * 4);
        for v in data {
            self.bytes.extend_from_slice(&v.to_le_bytes());
        }
        let bytes = std::mem::take(&mut self.bytes);
        let res = self.out.write_all(&bytes);
        self.bytes = bytes;
        res?;
        self.rows += (data.len() / self.cols) as u64;
        Ok(())
    }

    /// Writes the final shape into the header, then moves the file to its
    /// final name. Returns the number of rows.
    pub fn finish(mut self) -> Result<u64> {
        let header = npy_header(self.rows, self.cols);
        self.out.overwrite_at(0, &header)?;
        self.out.commit()?;
        Ok(self.rows)
    }
}

#[derive(Serialize)]
struct JsonlRow<'a> {
    index: u64,
    text: &'a str,
    embedding: &'a [f32],
}

/// Writes embeddings as JSON lines: one
/// `{"index": i, "text": "...", "embedding": [...]}` object per line, through
/// an [`AtomicFile`]. Floats are written in their shortest form that reads
/// back to the same `f32`.
#[derive(Debug)]
pub struct JsonlRowWriter {
    out: AtomicFile,
    cols: usize,
    rows: u64,
    line: Vec<u8>,
}

impl JsonlRowWriter {
    /// Starts `path` (written as `<path>.partial` until [`Self::finish`]) for
    /// embeddings of `cols` values.
    pub fn create(path: impl AsRef<Path>, cols: usize) -> Result<Self> {
        Ok(Self {
            out: AtomicFile::create(path)?,
            cols,
            rows: 0,
            line: Vec::new(),
        })
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Appends one line.
    pub fn write_row(&mut self, index: u64, text: &str, embedding: &[f32]) -> Result<()> {
        if embedding.len() != self.cols {
            return Err(EmbedIoError::Shape {
                path: self.out.path().to_path_buf(),
                message: format!(
                    "embedding of {} values, expected {}",
                    embedding.len(),
                    self.cols
                ),
            });
        }
        self.line.clear();
        let row = JsonlRow {
            index,
            text,
            embedding,
        };
        serde_json::to_writer(&mut self.line, &row).map_err(|e| EmbedIoError::Write {
            path: self.out.partial_path().to_path_buf(),
            source: e.into(),
        })?;
        self.line.push(b'\n');
        let line = std::mem::take(&mut self.line);
        let res = self.out.write_all(&line);
        self.line = line;
        res?;
        self.rows += 1;
        Ok(())
    }

    /// Moves the file to its final name. Returns the number of rows.
    pub fn finish(self) -> Result<u64> {
        self.out.commit()?;
        Ok(self.rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;
    use ndarray_npy::read_npy;

    fn lines(bytes: &[u8]) -> Vec<(u64, Result<String>)> {
        LineReader::new(bytes, "input.txt").collect()
    }

    fn ok_lines(bytes: &[u8]) -> Vec<String> {
        lines(bytes)
            .into_iter()
            .map(|(_, l)| l.expect("valid UTF-8"))
            .collect()
    }

    #[test]
    fn final_newline_rules() {
        assert_eq!(ok_lines(b""), Vec::<String>::new());
        assert_eq!(ok_lines(b"\n"), vec![""]);
        assert_eq!(ok_lines(b"a"), vec!["a"]);
        assert_eq!(ok_lines(b"a\n"), vec!["a"]);
        assert_eq!(ok_lines(b"a\n\n"), vec!["a", ""]);
        assert_eq!(ok_lines(b"a\nb"), vec!["a", "b"]);
    }

    #[test]
    fn empty_lines_are_empty_sentences() {
        assert_eq!(ok_lines(b"\n\na\n\nb\n"), vec!["", "", "a", "", "b"]);
        let numbered: Vec<u64> = lines(b"\n\na\n").into_iter().map(|(n, _)| n).collect();
        assert_eq!(numbered, vec![1, 2, 3]);
    }

    #[test]
    fn crlf_is_stripped_lone_cr_is_kept() {
        assert_eq!(ok_lines(b"a\r\nb\r\n"), vec!["a", "b"]);
        assert_eq!(ok_lines(b"a\r\n\r\nb"), vec!["a", "", "b"]);
        assert_eq!(ok_lines(b"a\rb\n"), vec!["a\rb"]);
        assert_eq!(ok_lines(b"a\r"), vec!["a\r"]);
    }

    #[test]
    fn bom_is_dropped_and_non_ascii_kept() {
        assert_eq!(
            ok_lines("\u{feff}héllo wörld\nzweite Zeile \u{1F600}\n".as_bytes()),
            vec!["héllo wörld", "zweite Zeile \u{1F600}"]
        );
        // Only at the very start.
        assert_eq!(ok_lines("a\n\u{feff}b".as_bytes()), vec!["a", "\u{feff}b"]);
    }

    #[test]
    fn non_utf8_names_the_line_and_reading_goes_on() {
        let got = lines(b"ok\nalso ok\nbad \xff byte\nfine\n");
        assert_eq!(got.len(), 4);
        let (n, err) = &got[2];
        assert_eq!(*n, 3);
        let err = err.as_ref().unwrap_err();
        assert!(
            matches!(err, EmbedIoError::NotUtf8 { line: 3, .. }),
            "{err}"
        );
        let msg = err.to_string();
        assert!(msg.contains("input.txt") && msg.contains("line 3"), "{msg}");
        assert_eq!(got[3].1.as_ref().unwrap(), "fine");
    }

    #[test]
    fn bytes_read_counts_terminators() {
        let mut r = LineReader::new(&b"ab\r\ncd\n\ne"[..], "x");
        let mut seen = Vec::new();
        while let Some((_, l)) = r.next() {
            seen.push((l.unwrap(), r.bytes_read()));
        }
        assert_eq!(
            seen,
            vec![
                ("ab".to_string(), 4),
                ("cd".to_string(), 7),
                (String::new(), 8),
                ("e".to_string(), 9)
            ]
        );
        assert_eq!(r.lines_read(), 4);
    }

    #[test]
    fn missing_input_is_a_read_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope.txt");
        let err = LineReader::open(&path).unwrap_err();
        assert!(matches!(err, EmbedIoError::Read { .. }));
        assert!(err.to_string().contains("nope.txt"), "{err}");
    }

    #[test]
    fn header_is_aligned_and_keeps_its_length() {
        for cols in [1usize, 384, 4096, usize::MAX] {
            let short = npy_header(0, cols);
            let long = npy_header(u64::MAX, cols);
            assert_eq!(short.len(), long.len());
            assert_eq!(short.len() % 64, 0);
            assert_eq!(*short.last().unwrap(), b'\n');
            let hlen = u16::from_le_bytes([short[8], short[9]]) as usize;
            assert_eq!(hlen + 10, short.len());
        }
    }

    #[test]
    fn npy_round_trips_through_ndarray_npy() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.npy");
        let mut w = NpyRowWriter::create(&path, 3).unwrap();
        assert!(dir.path().join("out.npy.partial").exists());
        assert!(!path.exists());
        w.write_rows(&[1.0, 2.0, 3.0]).unwrap();
        w.write_rows(&[]).unwrap();
        w.write_rows(&[4.0, -5.5, f32::MIN_POSITIVE, 7.0, 8.0, 1e-30])
            .unwrap();
        assert_eq!(w.finish().unwrap(), 3);
        assert!(!dir.path().join("out.npy.partial").exists());
        let got: Array2<f32> = read_npy(&path).unwrap();
        let want = Array2::from_shape_vec(
            (3, 3),
            vec![1.0, 2.0, 3.0, 4.0, -5.5, f32::MIN_POSITIVE, 7.0, 8.0, 1e-30],
        )
        .unwrap();
        assert_eq!(got, want);
        // 64-byte aligned data start, little-endian f32 payload.
        let bytes = fs::read(&path).unwrap();
        assert_eq!((bytes.len() - 9 * 4) % 64, 0);
        assert!(std::str::from_utf8(&bytes[10..bytes.len() - 36])
            .unwrap()
            .contains("'descr': '<f4'"));
    }

    #[test]
    fn npy_with_zero_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.npy");
        let w = NpyRowWriter::create(&path, 384).unwrap();
        assert_eq!(w.finish().unwrap(), 0);
        let got: Array2<f32> = read_npy(&path).unwrap();
        assert_eq!(got.shape(), &[0, 384]);
    }

    #[test]
    fn npy_many_rows_header_rewrite() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("many.npy");
        let mut w = NpyRowWriter::create(&path, 2).unwrap();
        for i in 0..100_000u32 {
            w.write_rows(&[i as f32, -(i as f32)]).unwrap();
        }
        assert_eq!(w.finish().unwrap(), 100_000);
        let got: Array2<f32> = read_npy(&path).unwrap();
        assert_eq!(got.shape(), &[100_000, 2]);
        assert_eq!(got[[99_999, 0]], 99_999.0);
        assert_eq!(got[[12_345, 1]], -12_345.0);
    }

    #[test]
    fn partial_rows_and_zero_columns_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.npy");
        assert!(matches!(
            NpyRowWriter::create(&path, 0),
            Err(EmbedIoError::Shape { .. })
        ));
        let mut w = NpyRowWriter::create(&path, 3).unwrap();
        assert!(matches!(
            w.write_rows(&[1.0, 2.0]),
            Err(EmbedIoError::Shape { .. })
        ));
    }

    #[test]
    fn dropped_without_finish_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.npy");
        {
            let mut w = NpyRowWriter::create(&path, 2).unwrap();
            w.write_rows(&[1.0, 2.0]).unwrap();
        }
        {
            let mut w = JsonlRowWriter::create(dir.path().join("out.jsonl"), 1).unwrap();
            w.write_row(0, "x", &[1.0]).unwrap();
        }
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn commit_replaces_an_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.npy");
        fs::write(&path, b"old").unwrap();
        let mut w = NpyRowWriter::create(&path, 1).unwrap();
        // The old file is untouched until the commit.
        assert_eq!(fs::read(&path).unwrap(), b"old");
        w.write_rows(&[0.5]).unwrap();
        w.finish().unwrap();
        let got: Array2<f32> = read_npy(&path).unwrap();
        assert_eq!(got.into_raw_vec_and_offset().0, vec![0.5]);
    }

    #[test]
    fn output_in_a_missing_directory_or_without_a_name_fails() {
        let dir = tempfile::tempdir().unwrap();
        let err = NpyRowWriter::create(dir.path().join("no/such/dir/out.npy"), 1).unwrap_err();
        assert!(matches!(err, EmbedIoError::Write { .. }), "{err}");
        assert!(err.to_string().contains("out.npy.partial"), "{err}");
        assert!(matches!(
            AtomicFile::create(""),
            Err(EmbedIoError::NoFileName(_))
        ));
        assert!(matches!(
            AtomicFile::create("/"),
            Err(EmbedIoError::NoFileName(_))
        ));
    }

    #[test]
    fn jsonl_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        let mut w = JsonlRowWriter::create(&path, 2).unwrap();
        w.write_row(0, "héllo \"quoted\"", &[0.1, -2.5]).unwrap();
        w.write_row(1, "", &[1e-8, 3.0]).unwrap();
        assert!(w.write_row(2, "x", &[1.0]).is_err());
        assert_eq!(w.finish().unwrap(), 2);
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.ends_with('\n'));
        let rows: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(rows.len(), 2);
        assert!(text.starts_with("{\"index\":0,\"text\":"), "{text}");
        assert_eq!(rows[0]["text"], "héllo \"quoted\"");
        assert_eq!(rows[1]["index"], 1);
        let emb: Vec<f32> = rows[0]["embedding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap() as f32)
            .collect();
        assert_eq!(emb, vec![0.1f32, -2.5]);
    }
}
