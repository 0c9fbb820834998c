//! Resident memory over many `encode` calls, as a long-running service
//! would make them.
//!
//! ```text
//! cargo run --release -p smtl-embedding --example memory_soak -- MODEL_DIR CALLS [varied|fixed] [TRIM_EVERY]
//! ```
//!
//! Each call encodes generated sentences built from ten words (ASCII,
//! accented, emoji, CJK), with a fixed-seed generator so runs repeat:
//!
//! * `varied` (default): 1–16 sentences of 0–59 words per call, so nearly
//!   every call has a new tensor shape;
//! * `fixed`: 8 sentences of 20 words per call (other words each time, so
//!   the shapes vary only by wordpiece count).
//!
//! `TRIM_EVERY` N > 0 calls glibc's `malloc_trim(0)` after every N-th call.
//! Prints the resident set size (`VmRSS`) ten times along the run.
//! docs/reliability.md ("Memory over a long run") has the figures.

use smtl_embedding::SentenceEncoder;

#[cfg(all(target_os = "linux", target_env = "gnu"))]
extern "C" {
    /// glibc: hands free heap memory back to the kernel.
    fn malloc_trim(pad: usize) -> i32;
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kib| kib.parse::<f64>().ok())
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: memory_soak MODEL_DIR CALLS [varied|fixed] [TRIM_EVERY]";
    let (dir, calls) = match (args.first(), args.get(1).map(|c| c.parse::<usize>())) {
        (Some(dir), Some(Ok(calls))) if calls > 0 => (dir, calls),
        _ => return Err(usage.into()),
    };
    let fixed = match args.get(2).map(String::as_str) {
        None | Some("varied") => false,
        Some("fixed") => true,
        Some(_) => return Err(usage.into()),
    };
    let trim_every: usize = match args.get(3) {
        Some(n) => n.parse().map_err(|_| usage)?,
        None => 0,
    };

    let encoder = SentenceEncoder::from_dir(dir, tch::Device::Cpu)?;
    // A 64-bit LCG (Knuth's MMIX constants): same sentences on every run.
    let mut state: u64 = 1;
    let mut below = move |n: usize| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 33) as usize) % n
    };
    let words = [
        "the",
        "quick",
        "brown",
        "fox",
        "jumps",
        "over",
        "lazy",
        "dog",
        "émoji🙂",
        "数据",
    ];
    println!("start: rss {:.1} MiB", rss_mib());
    for call in 0..calls {
        let sentences = if fixed { 8 } else { 1 + below(16) };
        let texts: Vec<String> = (0..sentences)
            .map(|_| {
                let len = if fixed { 20 } else { below(60) };
                let picked: Vec<&str> = (0..len).map(|_| words[below(words.len())]).collect();
                picked.join(" ")
            })
            .collect();
        encoder.encode(&texts)?;
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        if trim_every > 0 && (call + 1) % trim_every == 0 {
            // SAFETY: malloc_trim only walks glibc's own free lists.
            unsafe { malloc_trim(0) };
        }
        if (call + 1) % (calls / 10).max(1) == 0 || call + 1 == calls {
            println!("after {:>7} calls: rss {:.1} MiB", call + 1, rss_mib());
        }
    }
    let _ = trim_every; // read only where glibc is the allocator
    Ok(())
}
