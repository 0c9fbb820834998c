//! Byte-level line splitting shared by the readers.
//!
//! Files are read whole as bytes, split on `\n`, and each line loses one
//! trailing `\r` (CRLF files, e.g. the hutto ground-truth files). The empty
//! piece after a final `\n` is not a line. Decoding to UTF-8 is per line, so
//! an error names the line; a UTF-8 byte-order mark at the start of line 1
//! is dropped.

use std::path::Path;

use crate::DataError;

/// One raw line: 1-based number and bytes without the line terminator.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawLine<'a> {
    pub number: usize,
    pub bytes: &'a [u8],
}

pub(crate) fn read_bytes(path: &Path) -> Result<Vec<u8>, DataError> {
    std::fs::read(path).map_err(|source| DataError::Io {
        path: path.to_path_buf(),
        source,
    })
}

pub(crate) fn raw_lines(bytes: &[u8]) -> Vec<RawLine<'_>> {
    let mut pieces: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
    if pieces.last().is_some_and(|p| p.is_empty()) {
        // Either the file is empty or it ends with '\n'.
        pieces.pop();
    }
    pieces
        .into_iter()
        .enumerate()
        .map(|(i, mut line)| {
            if let Some(stripped) = line.strip_suffix(b"\r") {
                line = stripped;
            }
            if i == 0 {
                if let Some(stripped) = line.strip_prefix(b"\xEF\xBB\xBF") {
                    line = stripped;
                }
            }
            RawLine {
                number: i + 1,
                bytes: line,
            }
        })
        .collect()
}

impl<'a> RawLine<'a> {
    pub fn decode(&self, path: &Path) -> Result<&'a str, DataError> {
        std::str::from_utf8(self.bytes).map_err(|_| DataError::NotUtf8 {
            path: path.to_path_buf(),
            line: self.number,
        })
    }

    /// Empty, or only ASCII whitespace (space, tab, ...).
    pub fn is_blank(&self) -> bool {
        self.bytes.iter().all(u8::is_ascii_whitespace)
    }
}
