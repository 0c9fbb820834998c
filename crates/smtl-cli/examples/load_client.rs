//! A bounded load generator for embedding servers: `--clients` threads,
//! each with one keep-alive connection, send one sentence per request
//! (`{"inputs": "..."}`, TEI's `/embed` body) taken in turn from a corpus
//! file (in a fixed shuffled order), for `--seconds` after a warm-up. Prints one JSON line: throughput,
//! p50/p99 latency, errors, and the CPU the client itself used, so that a
//! reader can see how much of the 2 cores the measurement took.
//!
//! The same client measures `smtl serve` and the FastAPI reference
//! (`scripts/bench-serving` runs both).
//!
//! ```text
//! cargo run --release -p smtl-cli --example load_client -- \
//!     --url http://127.0.0.1:8080/embed --corpus corpus.txt --clients 16 --seconds 10
//! ```

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Parser;
use rand::seq::SliceRandom;
use rand::SeedableRng;

#[derive(Parser, Debug)]
struct Args {
    /// The embedding route, e.g. http://127.0.0.1:8080/embed.
    #[arg(long)]
    url: String,
    /// UTF-8 text, one sentence per line.
    #[arg(long)]
    corpus: std::path::PathBuf,
    /// Concurrent clients (threads, one connection each).
    #[arg(long, default_value_t = 1)]
    clients: usize,
    /// Measured seconds (after the warm-up).
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Seconds of load before measuring.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
}

/// CPU seconds (user + system) this process has used so far.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of stat(5), 12 and 13 here.
    (ticks(11) + ticks(12)) / 100.0
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn main() -> Result<()> {
    let args = Args::parse();
    if args.clients == 0 {
        bail!("--clients must be at least 1");
    }
    let text = std::fs::read_to_string(&args.corpus)
        .with_context(|| format!("cannot read {}", args.corpus.display()))?;
    let mut bodies: Vec<String> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::json!({ "inputs": l }).to_string())
        .collect();
    // A fixed shuffle: any stretch of the run then has the corpus' length
    // mix (the file is ordered by source, and sources differ in length),
    // so a run compares with an offline encode of the whole corpus.
    bodies.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(0));
    let bodies = Arc::new(bodies);
    if bodies.is_empty() {
        bail!("{} has no sentences", args.corpus.display());
    }
    let next = Arc::new(AtomicUsize::new(0));
    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..args.clients)
        .map(|_| {
            let (bodies, next, measuring, stop, url) = (
                bodies.clone(),
                next.clone(),
                measuring.clone(),
                stop.clone(),
                args.url.clone(),
            );
            std::thread::spawn(move || {
                let agent: ureq::Agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .timeout_global(Some(Duration::from_secs(60)))
                    .build()
                    .into();
                let (mut latencies, mut errors) = (Vec::new(), 0usize);
                while !stop.load(Ordering::Relaxed) {
                    let body = &bodies[next.fetch_add(1, Ordering::Relaxed) % bodies.len()];
                    let start = Instant::now();
                    let ok = agent
                        .post(&url)
                        .header("content-type", "application/json")
                        .send(body.as_bytes())
                        .map(|mut r| {
                            let status = r.status().as_u16();
                            let _ = r.body_mut().read_to_vec();
                            status == 200
                        })
                        .unwrap_or(false);
                    if measuring.load(Ordering::Relaxed) && !stop.load(Ordering::Relaxed) {
                        if ok {
                            latencies.push(start.elapsed().as_secs_f64());
                        } else {
                            errors += 1;
                        }
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(args.warmup));
    let (cpu0, t0) = (cpu_seconds(), Instant::now());
    measuring.store(true, Ordering::Relaxed);
    std::thread::sleep(Duration::from_secs_f64(args.seconds));
    stop.store(true, Ordering::Relaxed);
    let elapsed = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    let mut latencies = Vec::new();
    let mut errors = 0;
    for t in threads {
        let (l, e) = t.join().expect("a client thread panicked");
        latencies.extend(l);
        errors += e;
    }
    latencies.sort_by(f64::total_cmp);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    println!(
        "{}",
        serde_json::json!({
            "url": args.url,
            "clients": args.clients,
            "requests": latencies.len(),
            "errors": errors,
            "seconds": elapsed,
            "sentences_per_s": latencies.len() as f64 / elapsed,
            "p50_ms": percentile(&latencies, 50.0) * 1e3,
            "p99_ms": percentile(&latencies, 99.0) * 1e3,
            "client_cpu_s": cpu,
            "client_cpu_share": cpu / (elapsed * cores),
        })
    );
    Ok(())
}
