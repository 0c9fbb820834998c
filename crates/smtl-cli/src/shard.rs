//! Sharded batch jobs: `smtl embed --shard I/N` embeds the I-th of N
//! contiguous blocks of the input's lines, and `smtl merge` joins the
//! parts. Blocks are cut where a single `smtl embed` run would end a
//! stream chunk ([`smtl_embedding::ChunkCut`]), so every chunk is embedded
//! in the same batches as in one process and the merged output is
//! byte-identical to it. Each part has a manifest beside it
//! (`PART.shard.json`) that `smtl merge` checks the parts against.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use smtl_embedding::ChunkCut;

use crate::io::line_text;

/// Which block of how many: `index` is 0-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardSpec {
    pub index: usize,
    pub count: usize,
}

impl ShardSpec {
    /// `I/N` with `0 <= I < N`.
    pub fn parse(text: &str) -> Result<Self> {
        let (i, n) = text.split_once('/').with_context(|| {
            format!("--shard {text:?}: expected I/N (0-based I, e.g. 0/4) or auto")
        })?;
        let parse = |s: &str, what: &str| {
            s.trim()
                .parse::<usize>()
                .with_context(|| format!("--shard {text:?}: {what} {s:?} is not a whole number"))
        };
        Self::new(parse(i, "index")?, parse(n, "count")?)
    }

    fn new(index: usize, count: usize) -> Result<Self> {
        if count == 0 {
            bail!("the shard count must be at least 1");
        }
        if index >= count {
            bail!("shard index {index} is not below the shard count {count} (indices are 0-based)");
        }
        Ok(Self { index, count })
    }

    /// `--shard auto`: the index from a Kubernetes Indexed Job
    /// (`JOB_COMPLETION_INDEX`) or a Slurm job array (`SLURM_ARRAY_TASK_ID`,
    /// made 0-based with `SLURM_ARRAY_TASK_MIN`), the count from `--shards`
    /// or `SLURM_ARRAY_TASK_COUNT`.
    pub fn from_env(shards: Option<usize>, env: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let number = |name: &str| -> Result<Option<usize>> {
            env(name)
                .map(|v| {
                    v.trim()
                        .parse::<usize>()
                        .with_context(|| format!("{name}={v:?} is not a whole number"))
                })
                .transpose()
        };
        if let Some(index) = number("JOB_COMPLETION_INDEX")? {
            let count = shards.context(
                "--shard auto under a Kubernetes Indexed Job needs --shards N (the Job's completions)",
            )?;
            return Self::new(index, count);
        }
        if let Some(id) = number("SLURM_ARRAY_TASK_ID")? {
            let min = number("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
            let index = id.checked_sub(min).with_context(|| {
                format!("SLURM_ARRAY_TASK_ID {id} is below SLURM_ARRAY_TASK_MIN {min}")
            })?;
            let count = match (shards, number("SLURM_ARRAY_TASK_COUNT")?) {
                (Some(a), Some(b)) if a != b => {
                    bail!("--shards {a} disagrees with SLURM_ARRAY_TASK_COUNT={b}")
                }
                (Some(n), _) | (None, Some(n)) => n,
                (None, None) => {
                    bail!("--shard auto under Slurm needs --shards N or SLURM_ARRAY_TASK_COUNT")
                }
            };
            return Self::new(index, count);
        }
        bail!(
            "--shard auto found neither JOB_COMPLETION_INDEX (Kubernetes Indexed Job) nor \
             SLURM_ARRAY_TASK_ID (Slurm job array): pass --shard I/N"
        )
    }
}

/// The lines and bytes of one block of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardPlan {
    pub spec: ShardSpec,
    /// 0-based index of the block's first line.
    pub first_line: u64,
    pub lines: u64,
    /// Byte offset of the block's first line.
    pub first_byte: u64,
    pub total_lines: u64,
    pub input_bytes: u64,
}

/// Reads `input` once (without decoding it) to find the chunk ends of a
/// single run, and gives shard `spec` its share of the chunks: blocks
/// differ by at most one chunk (4,096 lines); with fewer chunks than
/// shards, some shards get none and write an empty part.
pub fn plan(input: &Path, spec: ShardSpec) -> Result<ShardPlan> {
    let file = std::fs::File::open(input)
        .with_context(|| format!("cannot read input {}", input.display()))?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    // (line count, byte offset) after each chunk; starts at (0, 0).
    let mut ends: Vec<(u64, u64)> = vec![(0, 0)];
    let (mut lines, mut offset) = (0u64, 0u64);
    let mut cut = ChunkCut::default();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .with_context(|| format!("cannot read input {}", input.display()))?;
        if n == 0 {
            break;
        }
        lines += 1;
        offset += n as u64;
        // The length of the text `LineReader` hands the encoder.
        if cut.push(line_text(&buf, lines == 1).len()) {
            ends.push((lines, offset));
        }
    }
    if ends.last() != Some(&(lines, offset)) {
        ends.push((lines, offset));
    }
    // Whole chunks, as evenly as they divide: shard k starts at chunk
    // floor(k * chunks / count).
    let chunks = ends.len() - 1;
    let boundary = |k: usize| -> (u64, u64) { ends[k * chunks / spec.count] };
    let (start, start_byte) = boundary(spec.index);
    let (end, _) = boundary(spec.index + 1);
    Ok(ShardPlan {
        spec,
        first_line: start,
        lines: end.saturating_sub(start),
        first_byte: start_byte,
        total_lines: lines,
        input_bytes: offset,
    })
}

/// What a part holds, written beside it as `PART.shard.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardManifest {
    pub shard: usize,
    pub shards: usize,
    pub first_line: u64,
    pub lines: u64,
    pub total_lines: u64,
    pub input_bytes: u64,
    pub dim: usize,
    /// `npy` or `jsonl`.
    pub format: String,
}

impl ShardManifest {
    /// Where the manifest of `part` lives.
    pub fn path_of(part: &Path) -> PathBuf {
        let mut name = part.as_os_str().to_os_string();
        name.push(".shard.json");
        PathBuf::from(name)
    }

    pub fn read(part: &Path) -> Result<Self> {
        let path = Self::path_of(part);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "{} has no shard manifest {} (was it written by `smtl embed --shard`?)",
                part.display(),
                path.display()
            )
        })?;
        serde_json::from_str(&text)
            .with_context(|| format!("{}: not a shard manifest", path.display()))
    }
}

/// Reads the float32 `[rows, cols]` header of an `.npy` file and leaves
/// `reader` at the first value.
pub fn read_npy_header(reader: &mut impl Read, path: &Path) -> Result<(u64, usize)> {
    let bad = |why: &str| anyhow::anyhow!("{}: {why}", path.display());
    let mut head = [0u8; 10];
    reader
        .read_exact(&mut head)
        .map_err(|_| bad("too short for an .npy file"))?;
    if &head[..6] != b"\x93NUMPY" || head[6] != 1 {
        return Err(bad("not an .npy 1.0 file"));
    }
    let len = u16::from_le_bytes([head[8], head[9]]) as usize;
    let mut dict = vec![0u8; len];
    reader
        .read_exact(&mut dict)
        .map_err(|_| bad("truncated .npy header"))?;
    let dict = String::from_utf8_lossy(&dict);
    if !dict.contains("'descr': '<f4'") || !dict.contains("'fortran_order': False") {
        return Err(bad("not a C-order float32 .npy file"));
    }
    let shape = dict
        .split_once("'shape': (")
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(shape, _)| shape)
        .ok_or_else(|| bad("no shape in the .npy header"))?;
    let dims: Vec<&str> = shape
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    match dims[..] {
        [rows, cols] => Ok((
            rows.parse().map_err(|_| bad("bad row count"))?,
            cols.parse().map_err(|_| bad("bad column count"))?,
        )),
        _ => Err(bad("not a two-dimensional array")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_specs_parse_and_come_from_the_scheduler() {
        assert_eq!(
            ShardSpec::parse("2/4").unwrap(),
            ShardSpec { index: 2, count: 4 }
        );
        for bad in ["4/4", "1", "a/2", "0/0", "-1/3"] {
            assert!(ShardSpec::parse(bad).is_err(), "{bad}");
        }
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let k8s = env(&[("JOB_COMPLETION_INDEX", "3")]);
        assert_eq!(ShardSpec::from_env(Some(5), k8s).unwrap().index, 3);
        assert!(ShardSpec::from_env(None, env(&[("JOB_COMPLETION_INDEX", "3")])).is_err());
        let slurm = env(&[
            ("SLURM_ARRAY_TASK_ID", "7"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "8"),
        ]);
        assert_eq!(
            ShardSpec::from_env(None, slurm).unwrap(),
            ShardSpec { index: 6, count: 8 }
        );
        let clash = env(&[
            ("SLURM_ARRAY_TASK_ID", "0"),
            ("SLURM_ARRAY_TASK_COUNT", "8"),
        ]);
        assert!(ShardSpec::from_env(Some(4), clash).is_err());
        assert!(ShardSpec::from_env(Some(4), env(&[])).is_err());
    }

    #[test]
    fn blocks_cover_every_line_once_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.txt");
        // 10,000 lines: chunk ends at 4096 and 8192.
        let text: String = (0..10_000).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&path, &text).unwrap();
        for count in [1, 2, 3, 5] {
            let mut next = 0;
            for index in 0..count {
                let p = plan(&path, ShardSpec { index, count }).unwrap();
                assert_eq!(p.first_line, next, "{index}/{count}");
                assert_eq!(p.total_lines, 10_000);
                assert_eq!(p.first_line % 4096, 0);
                // Three chunks: one each for three shards, none for the last two of five.
                if count <= 3 {
                    assert!(p.lines > 0, "{index}/{count}");
                }
                let offset: usize = text
                    .lines()
                    .take(p.first_line as usize)
                    .map(|l| l.len() + 1)
                    .sum();
                assert_eq!(p.first_byte, offset as u64);
                next += p.lines;
            }
            assert_eq!(next, 10_000, "{count} shards");
        }
    }
}
