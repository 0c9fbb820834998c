//! `smtl merge --output OUT PART...`: joins the parts of a sharded `smtl
//! embed --shard` run, in shard order, after checking from each part's
//! manifest that they are every shard of one input exactly once, with
//! contiguous line ranges and one width. The result is byte-identical to
//! one `smtl embed` of the whole input (the shards cut where one run ends
//! its chunks; see `crate::shard`).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;

use anyhow::{bail, Context, Result};

use crate::commands::embed::OutputFormat;
use crate::io::{AtomicFile, NpyRowWriter};
use crate::shard::{read_npy_header, ShardManifest};

#[derive(clap::Args, Debug, Clone)]
pub struct MergeArgs {
    /// The merged file: .npy (float32 [lines, dim]) or .jsonl, as the parts.
    #[arg(long, value_name = "OUT")]
    pub output: PathBuf,
    /// Every part written by `smtl embed --shard`, in any order.
    #[arg(value_name = "PART", required = true)]
    pub parts: Vec<PathBuf>,
}

/// Values copied per read while merging `.npy` parts.
const COPY_VALUES: usize = 1 << 16;

pub fn run(args: &MergeArgs) -> Result<()> {
    let format = OutputFormat::from_path(&args.output)?;
    let mut by_shard: BTreeMap<usize, (PathBuf, ShardManifest)> = BTreeMap::new();
    for part in &args.parts {
        let m = ShardManifest::read(part)?;
        if let Some((other, _)) = by_shard.get(&m.shard) {
            bail!(
                "{} and {} are both shard {} of {}: a duplicate part",
                other.display(),
                part.display(),
                m.shard,
                m.shards
            );
        }
        by_shard.insert(m.shard, (part.clone(), m));
    }
    let (first_part, first) = by_shard
        .values()
        .next()
        .expect("clap requires a part")
        .clone();
    let missing: Vec<String> = (0..first.shards)
        .filter(|i| !by_shard.contains_key(i))
        .map(|i| i.to_string())
        .collect();
    if !missing.is_empty() {
        bail!(
            "missing shard(s) {} of {}: pass every part of the run",
            missing.join(", "),
            first.shards
        );
    }
    let want = match format {
        OutputFormat::Npy => "npy",
        OutputFormat::Jsonl => "jsonl",
    };
    let mut next_line = 0u64;
    for (part, m) in by_shard.values() {
        let differs = |what: &str| {
            anyhow::anyhow!(
                "{} does not fit with {}: different {what} (another run's part?)",
                part.display(),
                first_part.display()
            )
        };
        if m.shards != first.shards || m.shard >= m.shards {
            return Err(differs("shard count"));
        }
        if m.total_lines != first.total_lines || m.input_bytes != first.input_bytes {
            return Err(differs("input"));
        }
        if m.dim != first.dim {
            return Err(differs("embedding dimension"));
        }
        if m.format != want {
            bail!(
                "{} is a .{} part; the output is .{want}",
                part.display(),
                m.format
            );
        }
        if m.first_line != next_line {
            bail!(
                "{} (shard {}) starts at line {} but the shards before it end at line {next_line}",
                part.display(),
                m.shard,
                m.first_line + 1
            );
        }
        next_line += m.lines;
    }
    if next_line != first.total_lines {
        bail!(
            "the parts hold {next_line} lines of an input of {}",
            first.total_lines
        );
    }
    let rows = match format {
        OutputFormat::Npy => merge_npy(args, &by_shard, first.dim)?,
        OutputFormat::Jsonl => merge_jsonl(args, &by_shard)?,
    };
    eprintln!(
        "merged {} parts: {rows} rows of dim {} into {}",
        by_shard.len(),
        first.dim,
        args.output.display()
    );
    Ok(())
}

fn merge_npy(
    args: &MergeArgs,
    parts: &BTreeMap<usize, (PathBuf, ShardManifest)>,
    dim: usize,
) -> Result<u64> {
    let mut out = NpyRowWriter::create(&args.output, dim)?;
    let mut values = vec![0f32; COPY_VALUES.next_multiple_of(dim)];
    let mut bytes = vec![0u8; values.len() * 4];
    for (part, m) in parts.values() {
        let file =
            std::fs::File::open(part).with_context(|| format!("cannot read {}", part.display()))?;
        let mut reader = BufReader::new(file);
        let (rows, cols) = read_npy_header(&mut reader, part)?;
        if rows != m.lines || cols != m.dim {
            bail!(
                "{} holds [{rows}, {cols}] but its manifest says [{}, {}]",
                part.display(),
                m.lines,
                m.dim
            );
        }
        let mut left = rows as usize * cols;
        while left > 0 {
            let n = left.min(values.len());
            reader.read_exact(&mut bytes[..n * 4]).with_context(|| {
                format!("{}: fewer values than its header says", part.display())
            })?;
            for (v, b) in values[..n].iter_mut().zip(bytes.chunks_exact(4)) {
                *v = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
            out.write_rows(&values[..n])?;
            left -= n;
        }
        if reader.read(&mut [0u8; 1])? != 0 {
            bail!("{}: more values than its header says", part.display());
        }
    }
    Ok(out.finish()?)
}

fn merge_jsonl(args: &MergeArgs, parts: &BTreeMap<usize, (PathBuf, ShardManifest)>) -> Result<u64> {
    let mut out = AtomicFile::create(&args.output)?;
    let mut rows = 0u64;
    for (part, m) in parts.values() {
        let file =
            std::fs::File::open(part).with_context(|| format!("cannot read {}", part.display()))?;
        let mut lines = 0u64;
        for line in BufReader::new(file).split(b'\n') {
            let mut line = line.with_context(|| format!("cannot read {}", part.display()))?;
            line.push(b'\n');
            out.write_all(&line)?;
            lines += 1;
        }
        if lines != m.lines {
            bail!(
                "{} holds {lines} lines but its manifest says {}",
                part.display(),
                m.lines
            );
        }
        rows += lines;
    }
    out.commit()?;
    Ok(rows)
}
