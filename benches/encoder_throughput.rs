//! Encoder throughput of the real all-MiniLM-L6-v2 on real sentences.
//!
//! ```text
//! cargo bench --bench encoder_throughput
//! ```
//!
//! Needs `scripts/setup` (model in `models/all-MiniLM-L6-v2`, data in `data/`).
//! The corpus is built from the data the setup installs:
//! `data/trec_question_labels.txt` (the `COARSE:fine ` label prefix stripped)
//! and `data/hutto_ICWSM_2014/*_GroundTruth.txt` (the third TAB column).
//!
//! Groups, reported in sentences/s through `Throughput::Elements` (`load`:
//! time per call):
//!
//! * `batch_size/{1,8,32,128}`: 512 real sentences of natural lengths;
//! * `length_batch32/{short10,medium30,long128,long256}`: 32 sentences of
//!   about 10, 30, 128 and 256 wordpieces each ([CLS]/[SEP] included),
//!   batch size 32. Short and medium ones are real sentences of that length;
//!   long ones are consecutive real sentences concatenated, then cut at a word
//!   boundary to at most the target (so nothing is truncated by the encoder).
//!
//! * `precision_batch32/{fp32,bf16,int8}`: the 512-sentence corpus at batch
//!   32 with each inference precision (`Precision`);
//! * `train_step/{trec,wnut16}`: one multi-task training step (tokenize,
//!   forward, backward, clip, AdamW over all 22.7M parameters) on 32 real
//!   training examples of each task, reported in examples/s; the `_bf16`
//!   cases run the forward pass in bf16 mixed precision (autocast).
//!
//! * `load/{from_dir,shared_handle}`: loading the model from its directory,
//!   and making a per-thread handle over an already loaded encoder's weights.
//!
//! Before each group a line on stderr gives the mean wordpieces per sentence,
//! so that tokens/s = sentences/s x that number.
//!
//! libtorch uses its default intra-op thread count (one per core); the line
//! printed at start-up says how many.

use std::hint::black_box;
use std::time::Duration;

use criterion::{
    criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use sentence_mtl::data::{read_conll, read_trec, split_examples};
use sentence_mtl::heads::{Example, MultiTaskModel, SharedEncoderModel};
use sentence_mtl::trainer::optim::{AdamW, AdamWConfig, GroupSettings};
use sentence_mtl::trainer::{sentence_task, token_task, TrainPrecision};
use sentence_mtl::{Precision, SentenceEncoder};
use tch::Device;

#[path = "support/corpus.rs"]
mod corpus;
use corpus::{long_bucket, natural_bucket, real_sentences, root, spread, Counter};

/// Sentences of the natural-length corpus.
const CORPUS_SENTENCES: usize = 512;
/// Sentences per bucket of the length group (one batch of 32).
const BUCKET_SENTENCES: usize = 32;
const BUCKET_BATCH: usize = 32;

fn load_encoder() -> SentenceEncoder {
    let dir = root().join("models/all-MiniLM-L6-v2");
    SentenceEncoder::from_dir(&dir, Device::Cpu)
        .unwrap_or_else(|e| panic!("{}: {e} (run scripts/setup)", dir.display()))
}

fn benches(c: &mut Criterion) {
    let mut encoder = load_encoder();
    let counter = Counter::new(&encoder);
    let all = real_sentences();
    eprintln!(
        "encoder_throughput: {} real sentences available; libtorch intra-op threads: {}",
        all.len(),
        tch::get_num_threads()
    );

    // (a) batch size, natural lengths -------------------------------------
    let corpus = spread(&all, CORPUS_SENTENCES);
    let max_len = encoder.tokenizer().max_len();
    let truncated: Vec<usize> = corpus
        .iter()
        .map(|s| counter.count(s).min(max_len))
        .collect();
    eprintln!(
        "batch_size group: {} sentences, mean {:.1} wordpieces/sentence as encoded (max {}, \
         truncation at {max_len}); tokens/s = sentences/s x {:.1}",
        corpus.len(),
        truncated.iter().sum::<usize>() as f64 / corpus.len() as f64,
        truncated.iter().max().unwrap(),
        truncated.iter().sum::<usize>() as f64 / corpus.len() as f64,
    );
    {
        let mut group = c.benchmark_group("batch_size");
        group
            .sample_size(10)
            .sampling_mode(SamplingMode::Flat)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(30))
            .throughput(Throughput::Elements(corpus.len() as u64));
        for batch in [1usize, 8, 32, 128] {
            encoder.set_batch_size(batch).expect("positive batch size");
            group.bench_with_input(BenchmarkId::from_parameter(batch), &corpus, |b, corpus| {
                b.iter(|| black_box(encoder.encode(corpus).expect("encodes")))
            });
        }
        group.finish();
    }

    // (b) sentence length, batch 32 ---------------------------------------
    encoder
        .set_batch_size(BUCKET_BATCH)
        .expect("positive batch size");
    // (name, texts, measurement seconds: about ten encodes of the bucket)
    let buckets = [
        (
            "short10",
            natural_bucket(&all, &counter, 9, 11, BUCKET_SENTENCES).expect("short sentences"),
            3,
        ),
        (
            "medium30",
            natural_bucket(&all, &counter, 28, 32, BUCKET_SENTENCES).expect("medium sentences"),
            5,
        ),
        (
            "long128",
            long_bucket(&all, &counter, 128, BUCKET_SENTENCES),
            10,
        ),
        (
            "long256",
            long_bucket(&all, &counter, 256, BUCKET_SENTENCES),
            25,
        ),
    ];
    for (name, texts, _) in &buckets {
        let mean = counter.mean(texts);
        eprintln!(
            "length bucket {name}: {} sentences, mean {mean:.1} wordpieces/sentence \
             (min {}, max {}); tokens/s = sentences/s x {mean:.1}",
            texts.len(),
            texts.iter().map(|s| counter.count(s)).min().unwrap(),
            texts.iter().map(|s| counter.count(s)).max().unwrap(),
        );
    }
    let mut group = c.benchmark_group("length_batch32");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1));
    for (name, texts, seconds) in &buckets {
        group
            .measurement_time(Duration::from_secs(*seconds))
            .throughput(Throughput::Elements(texts.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(name), texts, |b, texts| {
            b.iter(|| black_box(encoder.encode(texts).expect("encodes")))
        });
    }
    group.finish();

    // (c) precision, natural lengths, batch 32 ------------------------------
    let mut group = c.benchmark_group("precision_batch32");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(20))
        .throughput(Throughput::Elements(corpus.len() as u64));
    for precision in [Precision::Fp32, Precision::Bf16, Precision::Int8] {
        encoder.set_precision(precision).expect("precision");
        group.bench_with_input(
            BenchmarkId::from_parameter(precision),
            &corpus,
            |b, corpus| b.iter(|| black_box(encoder.encode(corpus).expect("encodes"))),
        );
    }
    group.finish();
}

/// One training step of the multi-task model per iteration, per task.
fn train_step(c: &mut Criterion) {
    let data = root().join("data");
    let trec = sentence_task(
        "trec",
        split_examples(
            read_trec(data.join("trec_question_labels.txt")).expect("run scripts/setup"),
        ),
    )
    .expect("trec");
    let wnut = token_task(
        "wnut16",
        split_examples(read_conll(data.join("wnut16_ner.txt")).expect("run scripts/setup")),
    )
    .expect("wnut16");
    tch::manual_seed(0);
    let mut model = SharedEncoderModel::new(load_encoder());
    for t in [&trec, &wnut] {
        model
            .add_task(&t.data.name, t.head.clone(), t.vocab.labels().to_vec())
            .expect("head");
    }
    let settings = GroupSettings {
        lr: 1e-5,
        weight_decay: 0.01,
        frozen: false,
    };
    let groups = model
        .parameter_groups()
        .into_iter()
        .map(|g| (g.id.to_string(), settings.clone(), g.params))
        .collect();
    let mut optimizer = AdamW::new(groups, AdamWConfig::default());
    let mut group = c.benchmark_group("train_step");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(20))
        .throughput(Throughput::Elements(32));
    for precision in [TrainPrecision::Fp32, TrainPrecision::Bf16] {
        for t in [&trec, &wnut] {
            let examples: Vec<&Example> = t.data.train.iter().take(32).collect();
            let id = match precision {
                TrainPrecision::Fp32 => t.data.name.clone(),
                TrainPrecision::Bf16 => format!("{}_bf16", t.data.name),
            };
            group.bench_function(BenchmarkId::from_parameter(id), |b| {
                b.iter(|| {
                    let batch = model.make_batch(&t.data.name, &examples).expect("batch");
                    let region = precision.forward_region(Device::Cpu).expect("autocast");
                    let loss = model
                        .forward_t(&batch, true)
                        .expect("forward")
                        .loss
                        .expect("labels");
                    drop(region);
                    loss.backward();
                    optimizer.clip_grad_norm(1.0);
                    optimizer.step(1.0).expect("AdamW step");
                    optimizer.zero_grad();
                    black_box(loss.double_value(&[]))
                })
            });
        }
    }
    group.finish();
}

/// Start-up costs: a full load, and a handle that shares the weights.
fn load(c: &mut Criterion) {
    let dir = root().join("models/all-MiniLM-L6-v2");
    let encoder = load_encoder();
    let mut group = c.benchmark_group("load");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    group.bench_function("from_dir", |b| {
        b.iter(|| black_box(SentenceEncoder::from_dir(&dir, Device::Cpu).expect("loads")))
    });
    group.bench_function("shared_handle", |b| {
        b.iter(|| black_box(encoder.shared_handle().expect("handle")))
    });
    group.finish();
}

criterion_group! {
    name = encoder_throughput;
    // No plots: criterion's plotters backend needs system fonts, which
    // minimal machines (and this project's CI image) do not have.
    config = Criterion::default().without_plots();
    targets = benches, train_step, load
}
criterion_main!(encoder_throughput);
