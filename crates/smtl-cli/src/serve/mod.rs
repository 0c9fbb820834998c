//! `smtl serve`: embeddings and task-head predictions over HTTP, with
//! TEI's conventions. tokio and axum run the HTTP side on their executor;
//! the model lives on one dedicated thread behind the batcher's queue
//! ([`batcher`]), so no model work ever runs on the executor.
//!
//! Start-up: bind, then load and warm up the model on its thread (`/health`
//! answers 503 until then). Shutdown on SIGTERM or SIGINT: stop accepting,
//! answer every request already accepted, let the batcher drain, exit 0.

pub mod api_error;
pub mod backend;
pub mod batcher;
pub mod metrics;
pub mod routes;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use serde_json::json;
use tokio::sync::Semaphore;

use self::backend::{ModelWorker, ServedModel};
use self::batcher::{run_batcher, Backend, BatchLimits, Queue};
use self::metrics::ServerMetrics;
use self::routes::{AppState, ModelCard, ModelStatus, RequestLimits};

/// Flags of `smtl serve` (TEI's names where TEI has the flag).
#[derive(clap::Args, Debug, Clone)]
pub struct ServeArgs {
    /// A sentence-transformers directory or a checkpoint of `smtl train`.
    #[arg(long, value_name = "DIR")]
    pub model: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (0: any free port; the chosen one is printed).
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// auto, cpu, cuda or cuda:N.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// fp32 (default, exact parity with sentence-transformers), bf16 or int8.
    #[arg(long, default_value = "fp32")]
    pub precision: String,
    /// Padded tokens (rows x longest input) per forward pass.
    #[arg(long, value_name = "N", default_value_t = 16384)]
    pub max_batch_tokens: usize,
    /// Inputs per forward pass.
    #[arg(long, value_name = "N", default_value_t = 256)]
    pub max_batch_requests: usize,
    /// Inputs per request.
    #[arg(long, value_name = "N", default_value_t = 32)]
    pub max_client_batch_size: usize,
    /// Requests in flight at once; more are answered 429 at once.
    #[arg(long, value_name = "N", default_value_t = 512)]
    pub max_concurrent_requests: usize,
    /// Longest input in tokens (special tokens included); default and
    /// ceiling: the model's max_seq_length. Longer inputs are 413 unless the
    /// request sets "truncate": true.
    #[arg(long, value_name = "N")]
    pub max_input_length: Option<usize>,
    /// Largest request body in bytes (413 above it).
    #[arg(long, value_name = "BYTES", default_value_t = 2_000_000)]
    pub payload_limit: usize,
    /// Model workers sharing the weights, each running its own forward
    /// passes: 1 uses libtorch's threads on every core (a lone request's
    /// lowest latency); N > 1 gives each worker one libtorch thread (more
    /// throughput under load). `auto`: one per core (at most 8) on the
    /// CPU, 1 on CUDA (docs/serving.md has the measurements).
    #[arg(long, value_name = "N|auto", default_value = "auto")]
    pub workers: String,
}

/// `--workers` on `device`.
pub fn worker_count(flag: &str, device: tch::Device) -> Result<usize> {
    match flag {
        "auto" if device == tch::Device::Cpu => {
            Ok(std::thread::available_parallelism().map_or(1, |n| n.get().min(8)))
        }
        "auto" => Ok(1),
        n => match n.parse::<usize>() {
            Ok(n) if n >= 1 => Ok(n),
            _ => bail!("--workers must be auto or a count of at least 1, got {n:?}"),
        },
    }
}

impl ServeArgs {
    fn check(&self) -> Result<()> {
        for (flag, value) in [
            ("--max-batch-tokens", self.max_batch_tokens),
            ("--max-batch-requests", self.max_batch_requests),
            ("--max-client-batch-size", self.max_client_batch_size),
            ("--max-concurrent-requests", self.max_concurrent_requests),
            ("--payload-limit", self.payload_limit),
        ] {
            if value == 0 {
                bail!("{flag} must be at least 1");
            }
        }
        worker_count(&self.workers, tch::Device::Cpu)?;
        if !self.model.is_dir() {
            bail!("model directory {} does not exist", self.model.display());
        }
        Ok(())
    }
}

/// `GET /info` of a loaded model.
fn describe(
    model: &ServedModel,
    args: &ServeArgs,
    name: &str,
    workers: usize,
) -> serde_json::Value {
    let encoder = model.encoder();
    let tasks: Vec<serde_json::Value> = model
        .tasks()
        .iter()
        .map(|t| json!({"name": t.name, "kind": t.head.kind.id(), "labels": t.labels}))
        .collect();
    json!({
        "model": name,
        "model_dir": args.model,
        "family": encoder.backbone().config().family.model_type(),
        "dimension": encoder.embedding_dim(),
        "max_input_length": encoder.tokenizer().max_len(),
        "precision": encoder.options().precision.to_string(),
        "device": crate::commands::embed::device_name(encoder.device()),
        "tasks": tasks,
        "max_batch_tokens": args.max_batch_tokens,
        "max_batch_requests": args.max_batch_requests,
        "max_client_batch_size": args.max_client_batch_size,
        "max_concurrent_requests": args.max_concurrent_requests,
        "payload_limit": args.payload_limit,
        "workers": workers,
        "version": env!("CARGO_PKG_VERSION"),
    })
}

/// Loads the model and runs one batch through it, so that the first
/// request does not pay for the allocator's and kernels' first use.
fn load_and_warm_up(args: &ServeArgs) -> Result<(Vec<ModelWorker>, ModelCard)> {
    let mut model = ServedModel::load(
        &args.model,
        &args.device,
        &args.precision,
        args.max_input_length,
    )?;
    let tokenizer = model.encoder().tokenizer().clone();
    let max_len = tokenizer.max_len();
    let long = "warm up ".repeat(max_len);
    let warm = tokenizer
        .encode_texts_with(
            &["warm up", long.as_str()],
            smtl_embedding::Truncation::Truncate,
        )
        .context("warm-up")?;
    let refs: Vec<&tokenizers::Encoding> = warm.iter().collect();
    model
        .embed(&refs)
        .map_err(|e| anyhow::anyhow!("warm-up batch failed: {e}"))?;
    let name = args
        .model
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| args.model.display().to_string());
    let workers = worker_count(&args.workers, model.encoder().device())?;
    let info = describe(&model, args, &name, workers);
    let card = ModelCard {
        tokenizer,
        tasks: model.tasks(),
        name,
        info,
    };
    Ok((ModelWorker::over(model, workers)?, card))
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// oneDNN keeps up to 1,024 compiled kernels, one per new shape, and a
/// server's passes come in every shape: 64 is enough for the shapes that
/// recur and cuts resident memory under load by a fifth at the same speed
/// (docs/serving.md). Read once by oneDNN at its first use, so it is set
/// before the model loads, and only when the user has not set it.
const ONEDNN_CACHE: &str = "ONEDNN_PRIMITIVE_CACHE_CAPACITY";

pub fn run(args: &ServeArgs) -> Result<()> {
    args.check()?;
    if std::env::var_os(ONEDNN_CACHE).is_none() {
        // No other thread exists yet, and libtorch has not started.
        std::env::set_var(ONEDNN_CACHE, "64");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("smtl-http")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(args.clone()))
}

async fn serve(args: ServeArgs) -> Result<()> {
    let addr: SocketAddr = format!("{}:{}", args.host, args.port)
        .parse()
        .or_else(|_| {
            std::net::ToSocketAddrs::to_socket_addrs(&(args.host.as_str(), args.port))
                .map_err(anyhow::Error::from)
                .and_then(|mut a| a.next().context("the host resolves to no address"))
        })
        .with_context(|| format!("--host {} --port {}", args.host, args.port))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr}"))?;
    let local = listener.local_addr()?;
    eprintln!("smtl serve: listening on http://{local}");

    let metrics = ServerMetrics::new();
    let status = Arc::new(ModelStatus::default());
    let (queue, jobs) = Queue::new(args.max_concurrent_requests, metrics.clone());
    let limits = BatchLimits {
        max_batch_tokens: args.max_batch_tokens,
        max_batch_requests: args.max_batch_requests,
    };

    // The model thread: load, warm up, publish the card, then batch until
    // the queue closes. A failed load ends the server.
    let (load_failed_tx, load_failed) = tokio::sync::oneshot::channel::<String>();
    let model_thread = {
        let status = status.clone();
        let metrics = metrics.clone();
        let args = args.clone();
        std::thread::Builder::new()
            .name("smtl-model".into())
            .spawn(move || match load_and_warm_up(&args) {
                Ok((workers, card)) => {
                    eprintln!(
                        "smtl serve: ready ({}, {}, {})",
                        card.name,
                        card.info["device"].as_str().unwrap_or("?"),
                        card.info["precision"].as_str().unwrap_or("?")
                    );
                    let _ = status.card.set(Arc::new(card));
                    // A model failure is answered per pass; a panic of the
                    // batcher itself would leave nothing to answer: say so
                    // on /health (503) so that a supervisor restarts us.
                    let batching = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        run_batcher(workers, jobs, limits, metrics)
                    }));
                    if batching.is_err() {
                        let _ = status.failed.set("the batcher stopped".to_string());
                        eprintln!("smtl serve: the batcher stopped; /health now answers 503");
                    }
                }
                Err(e) => {
                    let why = format!("{e:#}");
                    let _ = status.failed.set(why.clone());
                    let _ = load_failed_tx.send(why);
                }
            })
            .context("cannot start the model thread")?
    };

    let state = Arc::new(AppState {
        status: status.clone(),
        queue,
        permits: Arc::new(Semaphore::new(args.max_concurrent_requests)),
        limits: RequestLimits {
            max_client_batch_size: args.max_client_batch_size,
            max_concurrent_requests: args.max_concurrent_requests,
            payload_limit: args.payload_limit,
        },
        metrics,
    });
    let app = routes::router(state);
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<Option<String>>();
    tokio::spawn(async move {
        let reason = tokio::select! {
            _ = shutdown_signal() => None,
            Ok(why) = load_failed => Some(why),
        };
        let _ = stop_tx.send(reason);
    });
    let (reason_tx, reason_rx) = tokio::sync::oneshot::channel::<Option<String>>();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let reason = stop_rx.await.unwrap_or(None);
            if reason.is_none() {
                eprintln!("smtl serve: stopping: answering the requests already accepted");
            }
            let _ = reason_tx.send(reason);
        })
        .await
        .context("the server failed")?;
    // The router (and with it the queue's last sender) is gone: the
    // batcher answers what is left and returns.
    tokio::task::spawn_blocking(move || model_thread.join())
        .await?
        .map_err(|_| anyhow::anyhow!("the model thread panicked"))?;
    if let Ok(Some(why)) = reason_rx.await {
        bail!("cannot serve {}: {why}", args.model.display());
    }
    eprintln!("smtl serve: stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_workers_are_one_per_core_on_the_cpu_and_one_on_cuda() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get().min(8));
        let cpu = tch::Device::Cpu;
        assert_eq!(worker_count("auto", cpu).unwrap(), cores);
        assert_eq!(worker_count("auto", tch::Device::Cuda(0)).unwrap(), 1);
        assert_eq!(worker_count("3", cpu).unwrap(), 3);
        for bad in ["0", "-1", "two", ""] {
            let err = worker_count(bad, cpu).unwrap_err().to_string();
            assert!(err.contains("--workers"), "{err}");
        }
    }
}
