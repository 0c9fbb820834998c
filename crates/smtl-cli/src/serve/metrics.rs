//! What `GET /metrics` reports, in Prometheus' text format. The names
//! follow TEI's (`te_request_count`, `te_batch_next_size`, ...) under the
//! `smtl_` prefix and Prometheus' unit suffixes.

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts,
    Registry, TextEncoder,
};

/// The server's counters, gauges and histograms (cheap to clone: each is a
/// handle on shared atomics).
#[derive(Clone)]
pub struct ServerMetrics {
    registry: Registry,
    /// Requests answered, by route and status code.
    pub requests: IntCounterVec,
    /// Seconds from a request's arrival to its answer, by route.
    pub latency: HistogramVec,
    /// Inputs in each forward pass.
    pub batch_size: Histogram,
    /// Padded tokens (rows x longest) in each forward pass.
    pub batch_tokens: Histogram,
    /// Inputs accepted and not yet in a forward pass.
    pub queue_depth: IntGauge,
    /// Inputs embedded (`/embed`, `/v1/embeddings`).
    pub inputs_embedded: IntCounter,
    /// Inputs predicted (`/predict`).
    pub inputs_predicted: IntCounter,
}

fn exponential(start: f64, factor: f64, count: usize) -> Vec<f64> {
    prometheus::exponential_buckets(start, factor, count).expect("valid bucket layout")
}

impl ServerMetrics {
    pub fn new() -> Self {
        let registry = Registry::new();
        let requests = IntCounterVec::new(
            Opts::new(
                "smtl_requests_total",
                "Requests answered, by route and status code",
            ),
            &["endpoint", "status"],
        )
        .expect("valid metric");
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "smtl_request_duration_seconds",
                "Seconds from a request's arrival to its answer",
            )
            // 1 ms .. ~33 s
            .buckets(exponential(0.001, 2.0, 16)),
            &["endpoint"],
        )
        .expect("valid metric");
        let batch_size = Histogram::with_opts(
            HistogramOpts::new("smtl_batch_size", "Inputs in each forward pass")
                .buckets(exponential(1.0, 2.0, 12)),
        )
        .expect("valid metric");
        let batch_tokens = Histogram::with_opts(
            HistogramOpts::new(
                "smtl_batch_tokens",
                "Padded tokens (rows x longest) in each forward pass",
            )
            .buckets(exponential(16.0, 2.0, 14)),
        )
        .expect("valid metric");
        let queue_depth = IntGauge::new(
            "smtl_queue_depth",
            "Inputs accepted and not yet in a forward pass",
        )
        .expect("valid metric");
        let inputs_embedded =
            IntCounter::new("smtl_inputs_embedded_total", "Inputs embedded").expect("valid metric");
        let inputs_predicted = IntCounter::new(
            "smtl_inputs_predicted_total",
            "Inputs predicted by a task head",
        )
        .expect("valid metric");
        for metric in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(latency.clone()),
            Box::new(batch_size.clone()),
            Box::new(batch_tokens.clone()),
            Box::new(queue_depth.clone()),
            Box::new(inputs_embedded.clone()),
            Box::new(inputs_predicted.clone()),
        ] {
            registry.register(metric).expect("metric names are unique");
        }
        Self {
            registry,
            requests,
            latency,
            batch_size,
            batch_tokens,
            queue_depth,
            inputs_embedded,
            inputs_predicted,
        }
    }

    /// The text exposition format, version 0.0.4.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut out)
            .expect("encoding into memory does not fail");
        String::from_utf8(out).expect("the text format is UTF-8")
    }
}

impl Default for ServerMetrics {
    fn default() -> Self {
        Self::new()
    }
}
