//! `smtl serve` over loopback, with a real HTTP client: every route equals
//! the library's answer (the real all-MiniLM-L6-v2 for embeddings, a
//! checkpoint trained here for the heads), every error case gets its status
//! and TEI error body, and the server holds up under concurrency, a flood,
//! random bodies and SIGTERM. Each test bounds its request count and time;
//! the servers run one at a time so that timings do not fight on 2 cores.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::Engine;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use smtl_embedding::SentenceEncoder;
use smtl_heads::{MultiTaskModel, Prediction, SharedEncoderModel};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn minilm_dir() -> PathBuf {
    repo().join("models/all-MiniLM-L6-v2")
}

/// A 2-layer, 32-wide BERT with mean pooling and Normalize: fast enough
/// for thousands of requests.
fn tiny_dir() -> PathBuf {
    repo().join("fixtures/tiny/mean_normalize")
}

/// One server at a time.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running `smtl serve` on a free loopback port.
struct Server {
    child: Child,
    base: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start(model: &Path, flags: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_smtl"))
            .args(["serve", "--model", model.to_str().unwrap(), "--port", "0"])
            .args(["--device", "cpu"])
            .args(flags)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("smtl serve starts");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (addr_tx, addr_rx) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = line.strip_prefix("smtl serve: listening on ") {
                    let _ = addr_tx.send(addr.to_string());
                }
                lines.lock().unwrap().push(line);
            }
        });
        let base = addr_rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("no address printed: {:?}", log.lock().unwrap()));
        let server = Server { child, base, log };
        let deadline = Instant::now() + Duration::from_secs(120);
        while get(&server.url("/health")).0 != 200 {
            assert!(
                Instant::now() < deadline,
                "never healthy: {:?}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc")
    }

    /// SIGTERM, then the exit status (within 60 s).
    fn terminate(&mut self) -> ExitStatus {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "still running after SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .build()
        .into()
}

/// A client that opens a connection per request.
fn fresh_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(120)))
        .max_idle_connections(0)
        .build()
        .into()
}

fn read(mut response: ureq::http::Response<ureq::Body>) -> (u16, String) {
    let status = response.status().as_u16();
    let body = response
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_string()
        .unwrap_or_default();
    (status, body)
}

fn get(url: &str) -> (u16, String) {
    match agent().get(url).call() {
        Ok(r) => read(r),
        Err(_) => (0, String::new()),
    }
}

fn post_with(agent: &ureq::Agent, url: &str, body: &[u8]) -> Result<(u16, String), ureq::Error> {
    agent
        .post(url)
        .header("content-type", "application/json")
        .send(body)
        .map(read)
}

fn post(url: &str, body: &Value) -> (u16, Value) {
    let (status, text) = post_with(&agent(), url, body.to_string().as_bytes()).unwrap();
    let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    (status, value)
}

fn rows(value: &Value) -> Vec<Vec<f32>> {
    serde_json::from_value(value.clone()).unwrap()
}

fn assert_close(got: &[Vec<f32>], want: &ndarray::Array2<f32>, tol: f32) {
    assert_eq!(got.len(), want.nrows());
    for (g, w) in got.iter().zip(want.outer_iter()) {
        assert_eq!(g.len(), w.len());
        let worst = g
            .iter()
            .zip(w.iter())
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(worst <= tol, "differs by {worst}");
    }
}

/// A `{"error", "error_type"}` body with this status and type.
fn assert_error(status: u16, body: &Value, want_status: u16, want_type: &str, needle: &str) {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["error_type"], want_type, "{body}");
    let message = body["error"].as_str().unwrap();
    assert!(
        message.contains(needle),
        "{needle:?} missing from {message:?}"
    );
}

const SENTENCES: [&str; 5] = [
    "A man is playing a guitar.",
    "The quick brown fox jumps over the lazy dog while the farmer watches from the porch.",
    "Rust",
    "Sentence embeddings map text to vectors.",
    "",
];

#[test]
fn embedding_routes_equal_the_library_on_the_real_model() {
    let _one = serial();
    let encoder = SentenceEncoder::from_dir(minilm_dir(), tch::Device::Cpu).unwrap();
    let server = Server::start(&minilm_dir(), &[]);
    let want = encoder.encode(&SENTENCES).unwrap();

    // /embed: one string, and a batch (rows in the request's order).
    let (status, one) = post(&server.url("/embed"), &json!({"inputs": SENTENCES[1]}));
    assert_eq!(status, 200);
    assert_close(
        &rows(&one),
        &want.slice(ndarray::s![1..2, ..]).to_owned(),
        1e-5,
    );
    let (status, batch) = post(&server.url("/embed"), &json!({"inputs": SENTENCES}));
    assert_eq!(status, 200);
    assert_close(&rows(&batch), &want, 1e-5);

    // normalize: false skips the Normalize module.
    let (_, raw) = post(
        &server.url("/embed"),
        &json!({"inputs": SENTENCES, "normalize": false}),
    );
    let encodings = encoder.tokenizer().encode_texts(&SENTENCES).unwrap();
    let refs: Vec<_> = encodings.iter().collect();
    let pooled = encoder.embed_encodings(&refs, false).unwrap();
    assert_close(&rows(&raw), &pooled, 1e-5);
    let norm: f32 = rows(&raw)[0].iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!(
        (norm - 1.0).abs() > 1e-3,
        "normalize: false gave a unit row"
    );

    // An over-long input: 413 unless truncated, and then the library's row.
    let long = "word ".repeat(400);
    let (status, refused) = post(
        &server.url("/embed"),
        &json!({"inputs": [SENTENCES[0], long]}),
    );
    assert_error(
        status,
        &refused,
        413,
        "validation",
        "input 1 is 402 tokens long",
    );
    let (status, cut) = post(
        &server.url("/embed"),
        &json!({"inputs": long, "truncate": true}),
    );
    assert_eq!(status, 200);
    assert_close(
        &rows(&cut),
        &encoder.encode(&[long.as_str()]).unwrap(),
        1e-5,
    );

    // /v1/embeddings: OpenAI's shape, floats and base64.
    let tokens: usize = encodings.iter().map(|e| e.len()).sum();
    for format in ["float", "base64"] {
        let (status, answer) = post(
            &server.url("/v1/embeddings"),
            &json!({"input": SENTENCES, "model": "mini", "encoding_format": format}),
        );
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["object"], "list");
        assert_eq!(answer["model"], "mini");
        assert_eq!(answer["usage"]["prompt_tokens"], tokens);
        assert_eq!(answer["usage"]["total_tokens"], tokens);
        let data = answer["data"].as_array().unwrap();
        let got: Vec<Vec<f32>> = data
            .iter()
            .enumerate()
            .map(|(i, d)| {
                assert_eq!(d["object"], "embedding");
                assert_eq!(d["index"], i);
                match &d["embedding"] {
                    Value::String(b64) => base64::engine::general_purpose::STANDARD
                        .decode(b64)
                        .unwrap()
                        .chunks(4)
                        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                        .collect(),
                    other => serde_json::from_value(other.clone()).unwrap(),
                }
            })
            .collect();
        assert_close(&got, &want, 1e-5);
    }
    let (_, single) = post(&server.url("/v1/embeddings"), &json!({"input": "Rust"}));
    assert_eq!(single["model"], "all-MiniLM-L6-v2");
    assert_eq!(single["data"].as_array().unwrap().len(), 1);

    let (status, info) = get(&server.url("/info"));
    assert_eq!(status, 200);
    let info: Value = serde_json::from_str(&info).unwrap();
    assert_eq!(info["dimension"], 384);
    assert_eq!(info["family"], "bert");
    assert_eq!(info["max_input_length"], 256);
    assert_eq!(info["precision"], "fp32");
    assert_eq!(info["tasks"], json!([]));
}

#[test]
fn int8_serving_stays_close_to_fp32() {
    let _one = serial();
    let encoder = SentenceEncoder::from_dir(minilm_dir(), tch::Device::Cpu).unwrap();
    let want = encoder.encode(&SENTENCES).unwrap();
    let server = Server::start(&minilm_dir(), &["--precision", "int8"]);
    let (status, got) = post(&server.url("/embed"), &json!({"inputs": SENTENCES}));
    assert_eq!(status, 200);
    for (g, w) in rows(&got).iter().zip(want.outer_iter()) {
        let cosine: f32 = g.iter().zip(w.iter()).map(|(a, b)| a * b).sum();
        assert!(cosine > 0.98, "int8 row cosine {cosine}");
    }
    let (_, info) = get(&server.url("/info"));
    assert!(info.contains("\"precision\":\"int8\""), "{info}");
}

const TOPICS: [(&str, &str); 4] = [
    ("the striker scored a late goal", "sport"),
    ("shares fell after the earnings call", "finance"),
    ("the compiler rejected the borrow", "code"),
    ("heavy rain is expected tomorrow", "weather"),
];

/// A checkpoint of `smtl train` on the tiny model with a sentence, a token
/// and a pair task.
fn train_checkpoint(dir: &Path) -> PathBuf {
    let (mut topic, mut conll, mut sts) = (String::new(), String::new(), String::new());
    for i in 0..32 {
        let (t, l) = TOPICS[i % TOPICS.len()];
        topic.push_str(&format!("{t} {i}\t{l}\n"));
        for (w, tag) in [
            ("we", "O"),
            ("met", "O"),
            ("John", "B-PER"),
            ("Smith", "I-PER"),
        ] {
            conll.push_str(&format!("{w}\t{tag}\n"));
        }
        conll.push_str(&format!("in\tO\nParis\tB-LOC\n{i}\tO\n\n"));
        let (a, _) = TOPICS[i % 4];
        let (b, _) = TOPICS[(i / 4) % 4];
        // Every dev/test carve holds different scores (a correlation needs them).
        let score = (i % 6) as f64;
        sts.push_str(&format!("{a}\t{b}\t{score}\n"));
    }
    std::fs::write(dir.join("topic.tsv"), topic).unwrap();
    std::fs::write(dir.join("ner.conll"), conll).unwrap();
    std::fs::write(dir.join("sts.tsv"), sts).unwrap();
    let config = format!(
        r#"model = "{}"
seed = 7
epochs = 1
batch_size = 8

[optimizer]
backbone_lr = 1e-3
head_lr = 1e-2

[[tasks]]
name = "topic"
kind = "sentence-classification"
train = "topic.tsv"

[[tasks]]
name = "ner"
kind = "token-classification"
train = "ner.conll"

[[tasks]]
name = "sts"
kind = "sentence-similarity"
train = "sts.tsv"
"#,
        repo()
            .join("fixtures/tiny/mean")
            .canonicalize()
            .unwrap()
            .display()
    );
    std::fs::write(dir.join("run.toml"), config).unwrap();
    let out = dir.join("out");
    let run = Command::new(env!("CARGO_BIN_EXE_smtl"))
        .args(["train", "--config", dir.join("run.toml").to_str().unwrap()])
        .args(["--out", out.to_str().unwrap()])
        .env("SMTL_TEST", "1")
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    out.join("best")
}

#[test]
fn predict_answers_what_the_library_predicts() {
    let _one = serial();
    let dir = tempfile::tempdir().unwrap();
    let checkpoint = train_checkpoint(dir.path());
    let model = SharedEncoderModel::load(&checkpoint, tch::Device::Cpu).unwrap();
    let server = Server::start(&checkpoint, &[]);

    let texts = ["shares fell again", "the goal came late", "rain tomorrow"];
    let (status, got) = post(
        &server.url("/predict"),
        &json!({"task": "topic", "inputs": texts}),
    );
    assert_eq!(status, 200, "{got}");
    let want = model.predict("topic", &texts).unwrap();
    for (g, w) in got.as_array().unwrap().iter().zip(&want) {
        let Prediction::Label { label, score, .. } = w else {
            panic!("{w:?}")
        };
        assert_eq!(g["label"], label.as_str());
        assert!((g["score"].as_f64().unwrap() - score).abs() < 1e-6);
    }
    assert_eq!(got.as_array().unwrap().len(), texts.len());

    let lines = ["we met John Smith in Paris", "Paris"];
    let (status, got) = post(
        &server.url("/predict"),
        &json!({"task": "ner", "inputs": lines}),
    );
    assert_eq!(status, 200, "{got}");
    let want = model.predict("ner", &lines).unwrap();
    for ((g, w), line) in got.as_array().unwrap().iter().zip(&want).zip(lines) {
        let Prediction::Tags { tags, .. } = w else {
            panic!("{w:?}")
        };
        assert_eq!(g["tags"], json!(tags));
        let words: Vec<&str> = line.split_whitespace().collect();
        let entities: Vec<Value> = smtl_metrics::extract_entities(tags)
            .unwrap()
            .into_iter()
            .map(|e| {
                json!({"type": e.entity_type, "start_word": e.start, "end_word": e.end,
                       "text": words[e.start..e.end].join(" ")})
            })
            .collect();
        assert_eq!(g["entities"], json!(entities));
    }

    let pairs = [["shares fell", "stocks dropped"], ["rain", "the goal"]];
    let (status, got) = post(
        &server.url("/predict"),
        &json!({"task": "sts", "inputs": pairs}),
    );
    assert_eq!(status, 200, "{got}");
    let want = model
        .predict("sts", &["shares fell\tstocks dropped", "rain\tthe goal"])
        .unwrap();
    for (g, w) in got.as_array().unwrap().iter().zip(&want) {
        let Prediction::PairScore { score, .. } = w else {
            panic!("{w:?}")
        };
        assert!((g["score"].as_f64().unwrap() - score).abs() < 1e-5);
    }

    let (status, body) = post(
        &server.url("/predict"),
        &json!({"task": "pos", "inputs": ["x"]}),
    );
    assert_error(status, &body, 422, "validation", "unknown task \"pos\"");
    for name in ["topic", "ner", "sts"] {
        assert!(body["error"].as_str().unwrap().contains(name), "{body}");
    }
    let (status, body) = post(&server.url("/predict"), &json!({"inputs": ["x"]}));
    assert_error(status, &body, 422, "validation", "`task` is missing");
    let (status, body) = post(
        &server.url("/predict"),
        &json!({"task": "sts", "inputs": ["no tab"]}),
    );
    assert_error(status, &body, 422, "validation", "input 0");
    let (status, body) = post(
        &server.url("/predict"),
        &json!({"task": "topic", "inputs": ["word ".repeat(100)]}),
    );
    assert_error(status, &body, 413, "validation", "tokens long");
    let (status, _) = post(
        &server.url("/predict"),
        &json!({"task": "topic", "inputs": ["word ".repeat(100)], "truncate": true}),
    );
    assert_eq!(status, 200);

    // The checkpoint embeds too, with its own encoder.
    let (status, got) = post(&server.url("/embed"), &json!({"inputs": texts}));
    assert_eq!(status, 200);
    assert_close(
        &rows(&got),
        &{
            let mut e = model.encoder().encode(&texts).unwrap();
            e.rows_mut().into_iter().for_each(|mut r| {
                let n = r.dot(&r).sqrt();
                r /= n;
            });
            e
        },
        1e-5,
    );
    let (_, info) = get(&server.url("/info"));
    let info: Value = serde_json::from_str(&info).unwrap();
    assert_eq!(info["tasks"].as_array().unwrap().len(), 3);
    assert_eq!(
        info["tasks"][0]["labels"].as_array().map(|l| !l.is_empty()),
        Some(true)
    );
}

#[test]
fn every_error_case_gets_its_status_and_body() {
    let _one = serial();
    let server = Server::start(
        &tiny_dir(),
        &[
            "--max-client-batch-size",
            "4",
            "--payload-limit",
            "4000",
            "--max-input-length",
            "16",
        ],
    );
    let embed = server.url("/embed");
    let raw = |url: &str, body: &str| {
        let (status, text) = post_with(&agent(), url, body.as_bytes()).unwrap();
        (
            status,
            serde_json::from_str::<Value>(&text).unwrap_or_else(|e| panic!("{e}: {text}")),
        )
    };
    let (s, b) = raw(&embed, "{\"inputs\": [\"a\"");
    assert_error(s, &b, 422, "validation", "malformed JSON");
    let (s, b) = raw(&embed, "[1, 2]");
    assert_error(s, &b, 422, "validation", "must be a JSON object");
    let (s, b) = post(&embed, &json!({"text": "a"}));
    assert_error(s, &b, 422, "validation", "`inputs` is missing");
    let (s, b) = post(&embed, &json!({"inputs": [1]}));
    assert_error(s, &b, 422, "validation", "item 0 is a number");
    let (s, b) = post(&embed, &json!({"inputs": []}));
    assert_error(s, &b, 422, "validation", "cannot be empty");
    let (s, b) = post(&embed, &json!({"inputs": "a", "normalize": "yes"}));
    assert_error(s, &b, 422, "validation", "`normalize` must be a boolean");
    let (s, b) = post(&embed, &json!({"inputs": ["a", "b", "c", "d", "e"]}));
    assert_error(
        s,
        &b,
        413,
        "validation",
        "5 inputs in one request; the limit is 4",
    );
    let (s, b) = post(&embed, &json!({"inputs": "x ".repeat(20)}));
    assert_error(s, &b, 413, "validation", "over the limit of 16");
    let (s, _) = post(
        &embed,
        &json!({"inputs": "x ".repeat(20), "truncate": true}),
    );
    assert_eq!(s, 200);
    let (s, b) = post(&embed, &json!({"inputs": "a".repeat(5000)}));
    assert_error(s, &b, 413, "validation", "larger than 4000 bytes");
    let (s, b) = post(
        &server.url("/v1/embeddings"),
        &json!({"input": "a", "encoding_format": "int8"}),
    );
    assert_error(s, &b, 422, "validation", "`encoding_format`");
    let (s, b) = post(
        &server.url("/v1/embeddings"),
        &json!({"input": "a", "model": 3}),
    );
    assert_error(s, &b, 422, "validation", "`model` must be a string");
    let (s, b) = post(&server.url("/predict"), &json!({"inputs": ["a"]}));
    assert_error(s, &b, 422, "validation", "no task heads");
    let (s, b) = post(&server.url("/nowhere"), &json!({}));
    assert_error(s, &b, 404, "validation", "/nowhere");
    let (s, text) = get(&embed);
    assert_eq!(s, 405, "{text}");

    // Every answer was counted, by route and status.
    let (_, metrics) = get(&server.url("/metrics"));
    assert!(
        metrics.contains("smtl_requests_total{endpoint=\"/embed\",status=\"422\"} 6"),
        "{metrics}"
    );
    assert!(
        metrics.contains("smtl_requests_total{endpoint=\"/embed\",status=\"413\"} 3"),
        "{metrics}"
    );
}

#[test]
fn random_and_truncated_bodies_never_crash_the_server() {
    let _one = serial();
    let server = Server::start(&tiny_dir(), &["--payload-limit", "2000"]);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let valid = [
        json!({"inputs": ["a short one", "and another one"], "truncate": true}).to_string(),
        json!({"input": ["x y z"], "encoding_format": "base64"}).to_string(),
        json!({"task": "t", "inputs": [["a", "b"]]}).to_string(),
    ];
    let agent = agent();
    for i in 0..300 {
        let route = ["/embed", "/v1/embeddings", "/predict"][i % 3];
        let body: Vec<u8> = match i % 4 {
            0 => (0..rng.gen_range(0..3000)).map(|_| rng.gen()).collect(),
            1 => {
                let v = valid[rng.gen_range(0..3)].as_bytes();
                v[..rng.gen_range(0..v.len())].to_vec()
            }
            2 => {
                let mut v = valid[rng.gen_range(0..3)].as_bytes().to_vec();
                let at = rng.gen_range(0..v.len());
                v[at] = rng.gen();
                v
            }
            _ => valid[rng.gen_range(0..3)].as_bytes().to_vec(),
        };
        let (status, text) = post_with(&agent, &server.url(route), &body).unwrap();
        assert!(
            [200, 413, 422].contains(&status),
            "{route} answered {status}: {text}"
        );
        if status != 200 {
            let v: Value = serde_json::from_str(&text).unwrap();
            assert!(
                v["error"].is_string() && v["error_type"].is_string(),
                "{text}"
            );
        }
    }
    assert_eq!(get(&server.url("/health")).0, 200);
    assert!(
        !server.log().iter().any(|l| l.contains("panicked")),
        "{:?}",
        server.log()
    );
}

/// Sentences of 1..=20 words (some over the tiny model's 24 tokens) from a small vocabulary, all distinct.
fn corpus(n: usize, seed: u64) -> Vec<String> {
    let words = [
        "cat", "dog", "runs", "fast", "blue", "sky", "over", "the", "hill", "code",
    ];
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            let len = rng.gen_range(1..=20);
            let mut s: Vec<&str> = (0..len)
                .map(|_| words[rng.gen_range(0..words.len())])
                .collect();
            let tag = i.to_string();
            s.push(&tag);
            s.join(" ")
        })
        .collect()
}

#[test]
fn concurrent_clients_get_exactly_their_own_rows_and_metrics_add_up() {
    let _one = serial();
    let sentences = Arc::new(corpus(400, 3));
    let encoder = SentenceEncoder::from_dir(tiny_dir(), tch::Device::Cpu).unwrap();
    let want = Arc::new(encoder.encode(&sentences).unwrap());
    // Three model workers take turns at the queue.
    let server = Server::start(
        &tiny_dir(),
        &["--max-batch-tokens", "2048", "--workers", "3"],
    );
    let url = Arc::new(server.url("/embed"));
    let inputs_sent = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..32u64)
        .map(|t| {
            let (sentences, want, url, sent) = (
                sentences.clone(),
                want.clone(),
                url.clone(),
                inputs_sent.clone(),
            );
            std::thread::spawn(move || {
                let agent = agent();
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(100 + t);
                for _ in 0..50 {
                    let picks: Vec<usize> = (0..rng.gen_range(1..=16))
                        .map(|_| rng.gen_range(0..sentences.len()))
                        .collect();
                    let texts: Vec<&str> = picks.iter().map(|&i| sentences[i].as_str()).collect();
                    let body = json!({"inputs": texts, "truncate": true}).to_string();
                    let (status, text) = post_with(&agent, &url, body.as_bytes()).unwrap();
                    assert_eq!(status, 200, "{text}");
                    let got: Vec<Vec<f32>> = serde_json::from_str(&text).unwrap();
                    assert_eq!(got.len(), picks.len());
                    for (row, &i) in got.iter().zip(&picks) {
                        let worst = row
                            .iter()
                            .zip(want.row(i).iter())
                            .map(|(a, b)| (a - b).abs())
                            .fold(0f32, f32::max);
                        assert!(worst <= 1e-5, "row of sentence {i} differs by {worst}");
                    }
                    sent.fetch_add(picks.len(), Ordering::Relaxed);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("a client thread failed");
    }
    let inputs = inputs_sent.load(Ordering::Relaxed);
    let (_, metrics) = get(&server.url("/metrics"));
    let value = |line_start: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(line_start))
            .unwrap_or_else(|| panic!("{line_start} missing: {metrics}"))
            .trim()
            .parse()
            .unwrap()
    };
    assert_eq!(
        value("smtl_requests_total{endpoint=\"/embed\",status=\"200\"}"),
        1600.0
    );
    assert_eq!(value("smtl_inputs_embedded_total"), inputs as f64);
    assert_eq!(value("smtl_batch_size_sum"), inputs as f64);
    assert_eq!(
        value("smtl_request_duration_seconds_count{endpoint=\"/embed\"}"),
        1600.0
    );
    assert_eq!(value("smtl_queue_depth"), 0.0);
    // Inputs of different requests shared forward passes.
    assert!(value("smtl_batch_size_count") < 1600.0, "{metrics}");
}

#[test]
fn a_flood_gets_429s_memory_stays_bounded_and_service_resumes() {
    let _one = serial();
    let server = Server::start(
        &tiny_dir(),
        &[
            "--max-concurrent-requests",
            "4",
            "--max-batch-tokens",
            "512",
            "--workers",
            "1",
        ],
    );
    let url = Arc::new(server.url("/embed"));
    let body = Arc::new(json!({"inputs": corpus(16, 5), "truncate": true}).to_string());
    // Warm the allocator, then measure.
    for _ in 0..20 {
        assert_eq!(post_with(&agent(), &url, body.as_bytes()).unwrap().0, 200);
    }
    let before = server.rss_kib();
    let (ok, overloaded) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let threads: Vec<_> = (0..64)
        .map(|_| {
            let (url, body, ok, overloaded) =
                (url.clone(), body.clone(), ok.clone(), overloaded.clone());
            std::thread::spawn(move || {
                let agent = agent();
                for _ in 0..40 {
                    let (status, text) = post_with(&agent, &url, body.as_bytes()).unwrap();
                    match status {
                        200 => ok.fetch_add(1, Ordering::Relaxed),
                        429 => {
                            let v: Value = serde_json::from_str(&text).unwrap();
                            assert_eq!(v["error_type"], "overloaded", "{text}");
                            overloaded.fetch_add(1, Ordering::Relaxed)
                        }
                        other => panic!("{other}: {text}"),
                    };
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let after = server.rss_kib();
    let (ok, overloaded) = (
        ok.load(Ordering::Relaxed),
        overloaded.load(Ordering::Relaxed),
    );
    assert_eq!(ok + overloaded, 64 * 40);
    assert!(
        overloaded > 0,
        "no 429 in a flood of 64 clients over 4 places"
    );
    assert!(ok > 0);
    assert!(
        after < before + 200 * 1024,
        "resident memory grew from {before} KiB to {after} KiB"
    );
    let (status, _) = post(&url, &json!({"inputs": "still here"}));
    assert_eq!(status, 200);
}

#[test]
fn sigterm_under_load_answers_every_accepted_request_and_exits_0() {
    let _one = serial();
    let mut server = Server::start(&tiny_dir(), &[]);
    let url = Arc::new(server.url("/embed"));
    let body = Arc::new(json!({"inputs": corpus(32, 9), "truncate": true}).to_string());
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let (url, body, stop, answered) =
                (url.clone(), body.clone(), stop.clone(), answered.clone());
            std::thread::spawn(move || {
                let agent = fresh_agent();
                let deadline = Instant::now() + Duration::from_secs(60);
                while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
                    match post_with(&agent, &url, body.as_bytes()) {
                        // A request the server took is answered in full.
                        Ok((status, text)) => {
                            assert_eq!(status, 200, "{text}");
                            let rows: Vec<Vec<f32>> = serde_json::from_str(&text).unwrap();
                            assert_eq!(rows.len(), 32);
                            answered.fetch_add(1, Ordering::Relaxed);
                        }
                        // After the listener closed, connections are refused.
                        Err(ureq::Error::Io(e))
                            if matches!(
                                e.kind(),
                                std::io::ErrorKind::ConnectionRefused
                                    | std::io::ErrorKind::ConnectionReset
                            ) =>
                        {
                            return
                        }
                        Err(ureq::Error::ConnectionFailed) => return,
                        Err(e) => panic!("a request failed: {e}"),
                    }
                }
            })
        })
        .collect();
    let until = Instant::now() + Duration::from_secs(20);
    while answered.load(Ordering::Relaxed) < 20 {
        assert!(Instant::now() < until, "the load never got going");
        std::thread::sleep(Duration::from_millis(10));
    }
    let status = server.terminate();
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().expect("a client saw an accepted request fail");
    }
    assert!(status.success(), "exit {status:?}: {:?}", server.log());
    let log = server.log();
    assert!(
        log.iter().any(|l| l.contains("smtl serve: stopped")),
        "{log:?}"
    );
}

#[test]
fn a_model_that_cannot_load_ends_the_server_with_an_error() {
    let _one = serial();
    let missing = Command::new(env!("CARGO_BIN_EXE_smtl"))
        .args(["serve", "--model", "/nonexistent/model", "--port", "0"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));
    let err = String::from_utf8_lossy(&missing.stderr);
    assert!(
        err.contains("/nonexistent/model") && err.contains("does not exist"),
        "{err}"
    );

    let empty = tempfile::tempdir().unwrap();
    let start = Instant::now();
    let broken = Command::new(env!("CARGO_BIN_EXE_smtl"))
        .args([
            "serve",
            "--model",
            empty.path().to_str().unwrap(),
            "--port",
            "0",
        ])
        .output()
        .unwrap();
    assert_eq!(broken.status.code(), Some(1));
    let err = String::from_utf8_lossy(&broken.stderr);
    assert!(
        err.contains("cannot serve") && err.contains("config.json"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(start.elapsed() < Duration::from_secs(60));

    // A limit the model cannot read is refused, naming the flag.
    let too_long = Command::new(env!("CARGO_BIN_EXE_smtl"))
        .args([
            "serve",
            "--model",
            tiny_dir().to_str().unwrap(),
            "--port",
            "0",
        ])
        .args(["--device", "cpu", "--max-input-length", "100000"])
        .output()
        .unwrap();
    assert_eq!(too_long.status.code(), Some(1));
    let err = String::from_utf8_lossy(&too_long.stderr);
    assert!(
        err.contains("--max-input-length") && err.contains("2..=24"),
        "{err}"
    );
    let zero = Command::new(env!("CARGO_BIN_EXE_smtl"))
        .args([
            "serve",
            "--model",
            tiny_dir().to_str().unwrap(),
            "--workers",
            "0",
        ])
        .output()
        .unwrap();
    assert_eq!(zero.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&zero.stderr).contains("--workers"));
}
