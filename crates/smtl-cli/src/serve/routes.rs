//! The HTTP routes: request parsing and validation, submission to the
//! batcher's queue, and the response shapes (TEI's `/embed`, OpenAI's
//! `/v1/embeddings`, `/predict` with label text as rust-bert's pipelines
//! give it).

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use serde_json::{json, Map, Value};
use smtl_embedding::{EmbedError, TextTokenizer, Truncation};
use smtl_heads::{Example, Prediction, TaskSpec};
use tokenizers::Encoding;
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

use super::api_error::ApiError;
use super::batcher::{EmbedJob, Job, PredictJob, Queue, SubmitError};
use super::metrics::ServerMetrics;
use crate::commands::predict::{find_task, task_names};

/// What the routes need of the loaded model, published once warm-up ran.
pub struct ModelCard {
    /// The model's tokenizer (inputs are tokenized on the request's side,
    /// so that an over-long input is refused before it is queued).
    pub tokenizer: TextTokenizer,
    /// The checkpoint's tasks (none for a plain model).
    pub tasks: Vec<TaskSpec>,
    /// The name responses carry (the directory's name).
    pub name: String,
    /// `GET /info`.
    pub info: Value,
}

/// Whether the model is ready: set once by the model thread.
#[derive(Default)]
pub struct ModelStatus {
    pub card: OnceLock<Arc<ModelCard>>,
    /// Why the model thread stopped, if it did.
    pub failed: OnceLock<String>,
}

/// Request-side limits (the batch limits live with the batcher).
#[derive(Debug, Clone, Copy)]
pub struct RequestLimits {
    pub max_client_batch_size: usize,
    pub max_concurrent_requests: usize,
    pub payload_limit: usize,
}

/// Shared by every handler. Dropping the last one closes the queue, which
/// lets the batcher finish and stop.
pub struct AppState {
    pub status: Arc<ModelStatus>,
    pub queue: Queue,
    pub permits: Arc<Semaphore>,
    pub limits: RequestLimits,
    pub metrics: ServerMetrics,
}

/// The router: every route, the body limit and the metrics middleware.
pub fn router(state: Arc<AppState>) -> Router {
    let payload_limit = state.limits.payload_limit;
    let metrics = state.metrics.clone();
    Router::new()
        .route("/embed", post(embed))
        .route("/v1/embeddings", post(openai_embeddings))
        .route("/predict", post(predict))
        .route("/health", get(health))
        .route("/info", get(info))
        .route("/metrics", get(render_metrics))
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(DefaultBodyLimit::max(payload_limit))
        .layer(middleware::from_fn_with_state(metrics, track))
        .with_state(state)
}

/// Counts every answer by route and status, and times it.
async fn track(
    State(metrics): State<ServerMetrics>,
    matched: Option<MatchedPath>,
    request: Request,
    next: Next,
) -> Response {
    // Unknown paths share one label, so a scan cannot grow the series.
    let endpoint = matched.map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let start = Instant::now();
    let response = next.run(request).await;
    metrics
        .requests
        .with_label_values(&[endpoint.as_str(), response.status().as_str()])
        .inc();
    metrics
        .latency
        .with_label_values(&[endpoint.as_str()])
        .observe(start.elapsed().as_secs_f64());
    response
}

// --- request parsing ------------------------------------------------------

/// The body as a JSON object: an over-limit body is 413, anything that is
/// not a JSON object 422.
fn json_object(
    body: Result<Bytes, BytesRejection>,
    limit: usize,
) -> Result<Map<String, Value>, ApiError> {
    let bytes = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::too_large(format!(
                "the request body is larger than {limit} bytes (--payload-limit)"
            ))
        } else {
            ApiError::unprocessable(format!("cannot read the request body: {rejection}"))
        }
    })?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(ApiError::unprocessable(format!(
            "the request body must be a JSON object, got {}",
            type_name(&other)
        ))),
        Err(e) => Err(ApiError::unprocessable(format!("malformed JSON: {e}"))),
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `field`: one string, or a non-empty array whose items `item` reads.
fn list(
    body: &Map<String, Value>,
    field: &str,
    what: &str,
    item: impl Fn(usize, &Value) -> Result<String, ApiError>,
) -> Result<Vec<String>, ApiError> {
    match body.get(field) {
        None => Err(ApiError::unprocessable(format!("`{field}` is missing"))),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) if items.is_empty() => Err(ApiError::unprocessable(format!(
            "`{field}` cannot be empty"
        ))),
        Some(Value::Array(items)) => items.iter().enumerate().map(|(i, v)| item(i, v)).collect(),
        Some(other) => Err(ApiError::unprocessable(format!(
            "`{field}` must be {what}, got {}",
            type_name(other)
        ))),
    }
}

/// `field`: one string or a non-empty array of strings.
fn texts(body: &Map<String, Value>, field: &str) -> Result<Vec<String>, ApiError> {
    let what = "a string or an array of strings";
    list(body, field, what, |i, v| match v {
        Value::String(s) => Ok(s.clone()),
        other => Err(ApiError::unprocessable(format!(
            "`{field}` must be {what}, but item {i} is {}",
            type_name(other)
        ))),
    })
}

fn flag(body: &Map<String, Value>, field: &str, default: bool) -> Result<bool, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(ApiError::unprocessable(format!(
            "`{field}` must be a boolean, got {}",
            type_name(other)
        ))),
    }
}

fn optional_string(body: &Map<String, Value>, field: &str) -> Result<Option<String>, ApiError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(ApiError::unprocessable(format!(
            "`{field}` must be a string, got {}",
            type_name(other)
        ))),
    }
}

// --- the way to the model ---------------------------------------------------

impl AppState {
    /// The loaded model, or 503 while it loads (or after its thread stopped).
    fn card(&self) -> Result<Arc<ModelCard>, ApiError> {
        if let Some(why) = self.status.failed.get() {
            return Err(ApiError::unhealthy(format!("the model stopped: {why}")));
        }
        self.status
            .card
            .get()
            .cloned()
            .ok_or_else(|| ApiError::unhealthy("the model is still loading"))
    }

    /// A place among the requests in flight, or 429 at once.
    fn admit(&self, inputs: usize) -> Result<OwnedSemaphorePermit, ApiError> {
        let max = self.limits.max_client_batch_size;
        if inputs > max {
            return Err(ApiError::too_large(format!(
                "{inputs} inputs in one request; the limit is {max} (--max-client-batch-size)"
            )));
        }
        self.permits.clone().try_acquire_owned().map_err(|_| {
            ApiError::overloaded(format!(
                "the model is overloaded: {} requests are in flight (--max-concurrent-requests)",
                self.limits.max_concurrent_requests
            ))
        })
    }

    fn submit(&self, job: Job) -> Result<(), ApiError> {
        self.queue.submit(job).map_err(|e| match e {
            SubmitError::Full => ApiError::overloaded("the queue is full"),
            SubmitError::Closed => ApiError::unhealthy("the server is shutting down"),
        })
    }

    /// Tokenizes, queues and awaits `texts`: un-normalized rows in order,
    /// and the token count.
    async fn embed_texts(
        &self,
        texts: Vec<String>,
        truncate: bool,
    ) -> Result<(Vec<Vec<f32>>, usize), ApiError> {
        let card = self.card()?;
        let _permit = self.admit(texts.len())?;
        let encodings = tokenize(card, texts, truncate).await?;
        let tokens = encodings.iter().map(Encoding::len).sum();
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Embed(EmbedJob {
            inputs: encodings,
            reply,
        }))?;
        let rows = await_answer(answer).await?;
        Ok((rows, tokens))
    }
}

async fn await_answer<T>(answer: oneshot::Receiver<Result<T, String>>) -> Result<T, ApiError> {
    match answer.await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(ApiError::backend(e)),
        Err(_) => Err(ApiError::backend(
            "the model thread stopped before answering",
        )),
    }
}

fn truncation(truncate: bool) -> Truncation {
    if truncate {
        Truncation::Truncate
    } else {
        Truncation::Error
    }
}

/// The tokenizer's refusal of input `index` as an answer: over-long is
/// 413, the rest 422.
fn tokenizer_error(index: usize, e: EmbedError) -> ApiError {
    match e {
        EmbedError::TooLong { tokens, max, .. } => ApiError::too_large(format!(
            "input {index} is {tokens} tokens long, over the limit of {max}; \
             send \"truncate\": true to cut it there"
        )),
        other => ApiError::tokenizer(format!("input {index}: {other}")),
    }
}

/// Tokenization off the async executor (it is CPU work).
async fn tokenize(
    card: Arc<ModelCard>,
    texts: Vec<String>,
    truncate: bool,
) -> Result<Vec<Encoding>, ApiError> {
    tokio::task::spawn_blocking(move || {
        card.tokenizer
            .encode_texts_with(&texts, truncation(truncate))
            .map_err(|e| match e {
                // The index of the input within the request.
                EmbedError::TooLong { index, .. } => tokenizer_error(index, e),
                other => ApiError::tokenizer(other.to_string()),
            })
    })
    .await
    .map_err(|e| ApiError::backend(format!("tokenization failed: {e}")))?
}

fn l2_normalize(row: &mut [f32]) {
    let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    row.iter_mut().for_each(|x| *x /= norm);
}

// --- routes -------------------------------------------------------------------

/// `POST /embed`: TEI's `{"inputs", "normalize", "truncate"}` -> `[[f32]]`.
async fn embed(
    State(app): State<Arc<AppState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Vec<Vec<f32>>>, ApiError> {
    let body = json_object(body, app.limits.payload_limit)?;
    let inputs = texts(&body, "inputs")?;
    let normalize = flag(&body, "normalize", true)?;
    let truncate = flag(&body, "truncate", false)?;
    let (mut rows, _) = app.embed_texts(inputs, truncate).await?;
    if normalize {
        rows.iter_mut().for_each(|r| l2_normalize(r));
    }
    Ok(Json(rows))
}

/// `POST /v1/embeddings`: OpenAI's request and response shapes; rows are
/// unit-length, as OpenAI's are.
async fn openai_embeddings(
    State(app): State<Arc<AppState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let body = json_object(body, app.limits.payload_limit)?;
    let inputs = texts(&body, "input")?;
    let base64 = match optional_string(&body, "encoding_format")?.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(ApiError::unprocessable(format!(
                "`encoding_format` must be \"float\" or \"base64\", got {other:?}"
            )))
        }
    };
    let model = optional_string(&body, "model")?;
    let (mut rows, tokens) = app.embed_texts(inputs, false).await?;
    let data: Vec<Value> = rows
        .iter_mut()
        .enumerate()
        .map(|(index, row)| {
            l2_normalize(row);
            let embedding = if base64 {
                let bytes: Vec<u8> = row.iter().flat_map(|x| x.to_le_bytes()).collect();
                Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(row)
            };
            json!({"object": "embedding", "embedding": embedding, "index": index})
        })
        .collect();
    let model = match model {
        Some(m) => m,
        None => app.card()?.name.clone(),
    };
    Ok(Json(json!({
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    })))
}

/// The task a `/predict` request names, or the checkpoint's only one.
fn choose_task<'a>(card: &'a ModelCard, name: Option<&str>) -> Result<&'a TaskSpec, ApiError> {
    if card.tasks.is_empty() {
        return Err(ApiError::unprocessable(
            "this model has no task heads: /predict needs a checkpoint of `smtl train`",
        ));
    }
    find_task(&card.tasks, name).ok_or_else(|| {
        let names = task_names(&card.tasks);
        ApiError::unprocessable(match name {
            Some(n) => format!("unknown task {n:?}; the tasks are: {names}"),
            None => format!("`task` is missing; the tasks are: {names}"),
        })
    })
}

/// `/predict` inputs as the task's input lines: strings, and for pair
/// tasks `[first, second]` arrays (or `first<TAB>second` strings).
fn predict_lines(body: &Map<String, Value>) -> Result<Vec<String>, ApiError> {
    let one = |i: usize, v: &Value| -> Result<String, ApiError> {
        match v {
            Value::String(s) => Ok(s.clone()),
            Value::Array(pair) => match pair.as_slice() {
                [Value::String(a), Value::String(b)] => {
                    if [a, b].iter().any(|s| s.contains(['\t', '\n', '\r'])) {
                        return Err(ApiError::unprocessable(format!(
                            "input {i}: a pair's sentences cannot hold tabs or line breaks"
                        )));
                    }
                    Ok(format!("{a}\t{b}"))
                }
                _ => Err(ApiError::unprocessable(format!(
                    "input {i}: a pair must be an array of two strings"
                ))),
            },
            other => Err(ApiError::unprocessable(format!(
                "input {i} must be a string or a pair of strings, got {}",
                type_name(other)
            ))),
        }
    };
    // A lone pair `["a", "b"]` reads as two sentences, as for the other
    // kinds: a pair task wants `[["a", "b"]]`.
    list(body, "inputs", "a string or an array", one)
}

/// Refuses an over-long input (413) unless the request truncates.
fn check_lengths(
    tokenizer: &TextTokenizer,
    examples: &[Example],
    truncate: bool,
) -> Result<(), ApiError> {
    let rule = truncation(truncate);
    for (i, example) in examples.iter().enumerate() {
        let at = |e| tokenizer_error(i, e);
        match example {
            Example::Sentence { text, .. } => {
                tokenizer.encode_texts_with(&[text], rule).map_err(at)?;
            }
            Example::Words { words, .. } => {
                tokenizer
                    .encode_words_with(std::slice::from_ref(words), rule)
                    .map_err(at)?;
            }
            Example::Pair { first, second, .. } => {
                tokenizer
                    .encode_texts_with(&[first, second], rule)
                    .map_err(at)?;
            }
        }
    }
    Ok(())
}

/// One prediction as `/predict` answers it.
fn prediction_json(line: &str, prediction: &Prediction) -> Value {
    match prediction {
        Prediction::Label { label, score, .. } => json!({"label": label, "score": score}),
        Prediction::Tags { tags, .. } => {
            let words: Vec<&str> = line.split_whitespace().collect();
            json!({"tags": tags, "entities": entities(&words, tags)})
        }
        Prediction::PairScore { score, .. } => json!({"score": score}),
    }
}

/// Strict IOB2 chunks of `tags` (a tag that is not `O`, `B-X` or `I-X`
/// starts and continues none); `end_word` is exclusive, as in a slice.
fn entities(words: &[&str], tags: &[String]) -> Vec<Value> {
    let iob2: Vec<&str> = tags
        .iter()
        .map(|t| {
            let valid = t == "O"
                || [t.strip_prefix("B-"), t.strip_prefix("I-")]
                    .iter()
                    .any(|x| x.is_some_and(|x| !x.is_empty()));
            if valid {
                t.as_str()
            } else {
                "O"
            }
        })
        .collect();
    let found = smtl_metrics::extract_entities(&iob2).expect("every tag is valid IOB2 here");
    found
        .into_iter()
        .map(|e| {
            let text = words
                .get(e.start..e.end.min(words.len()))
                .unwrap_or(&[])
                .join(" ");
            json!({"type": e.entity_type, "start_word": e.start, "end_word": e.end, "text": text})
        })
        .collect()
}

/// `POST /predict`: `{"task", "inputs", "truncate"}` -> one object per input.
async fn predict(
    State(app): State<Arc<AppState>>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Vec<Value>>, ApiError> {
    let body = json_object(body, app.limits.payload_limit)?;
    let card = app.card()?;
    let task = choose_task(&card, optional_string(&body, "task")?.as_deref())?.clone();
    let lines = predict_lines(&body)?;
    let truncate = flag(&body, "truncate", false)?;
    let _permit = app.admit(lines.len())?;
    let kind = task.head.kind.behaviour();
    let examples: Vec<Example> = lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            kind.unlabelled(line)
                .map_err(|e| ApiError::unprocessable(format!("input {i}: {e}")))
        })
        .collect::<Result<_, _>>()?;
    let checked = card.clone();
    let examples = tokio::task::spawn_blocking(move || {
        check_lengths(&checked.tokenizer, &examples, truncate).map(|()| examples)
    })
    .await
    .map_err(|e| ApiError::backend(format!("tokenization failed: {e}")))??;
    let (reply, answer) = oneshot::channel();
    app.submit(Job::Predict(PredictJob {
        task: task.name.clone(),
        examples,
        reply,
    }))?;
    let predictions = await_answer(answer).await?;
    Ok(Json(
        lines
            .iter()
            .zip(&predictions)
            .map(|(line, p)| prediction_json(line, p))
            .collect(),
    ))
}

/// 404 with an error body, as every other error has.
async fn no_route(uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        super::api_error::ErrorType::Validation,
        format!(
            "no route {}: the routes are POST /embed, /v1/embeddings, /predict and GET /health, /info, /metrics",
            uri.path()
        ),
    )
}

async fn wrong_method(method: axum::http::Method, uri: axum::http::Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        super::api_error::ErrorType::Validation,
        format!("{} does not take {method}", uri.path()),
    )
}

/// `GET /health`: 200 once the model is loaded and warmed up.
async fn health(State(app): State<Arc<AppState>>) -> Result<Json<Value>, ApiError> {
    app.card()?;
    Ok(Json(json!({"status": "ok"})))
}

/// `GET /info`: the model and the server's limits.
async fn info(State(app): State<Arc<AppState>>) -> Result<Json<Value>, ApiError> {
    Ok(Json(app.card()?.info.clone()))
}

/// `GET /metrics`: Prometheus' text format.
async fn render_metrics(State(app): State<Arc<AppState>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        app.metrics.render(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities_are_strict_iob2_chunks_with_exclusive_ends() {
        let words = ["we", "met", "John", "Smith", "in", "New", "York", "x"];
        let tags: Vec<String> = ["O", "O", "B-PER", "I-PER", "O", "B-LOC", "I-LOC", "I-PER"]
            .map(String::from)
            .to_vec();
        assert_eq!(
            entities(&words, &tags),
            vec![
                json!({"type": "PER", "start_word": 2, "end_word": 4, "text": "John Smith"}),
                json!({"type": "LOC", "start_word": 5, "end_word": 7, "text": "New York"}),
            ]
        );
        // A tag outside IOB2 (a POS vocabulary, say) starts no entity.
        let tags: Vec<String> = ["NN", "B-X", "VB"].map(String::from).to_vec();
        assert_eq!(
            entities(&["a", "b", "c"], &tags),
            vec![json!({"type": "X", "start_word": 1, "end_word": 2, "text": "b"})]
        );
    }
}
