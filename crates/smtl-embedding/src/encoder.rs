//! [`SentenceEncoder`]: a loaded sentence-transformers model, ready to embed.

use std::path::{Path, PathBuf};

use ndarray::Array2;
use smtl_backbone::{
    check_config_fits, load_safetensors_bytes, pickle_to_safetensors_bytes, read_safetensors,
    Backbone, BackboneError, EncoderConfig, LoadReport, Precision,
};
use tch::{nn, Device, Kind, Tensor};
use tokenizers::Encoding;

use crate::dense::Dense;
use crate::modules::{read_json, read_modules, ModuleKind, ModuleSpec};
use crate::pooling::{Pooling, PoolingMode};
use crate::tokenize::{TextTokenizer, TokenBatch, Truncation};
use crate::transformer::{read_carried_files, sentence_bert_config, CarriedFiles, Transformer};
use crate::{EmbedError, Result};

/// Name under which the backbone's variables live in the encoder's store
/// (`backbone.encoder.layer.0...`): one name whatever the family, stripped
/// when the checkpoint is saved.
pub const BACKBONE_PREFIX: &str = "backbone";

/// Tunables of inference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncoderOptions {
    /// Sentences per forward pass.
    pub batch_size: usize,
    /// What to do with sentences longer than `max_seq_length`.
    pub truncation: Truncation,
    /// Accept a directory whose only weights are a PyTorch pickle
    /// (`pytorch_model.bin`). Off by default: `model.safetensors` is pure
    /// data, a pickle is a program for Python's unpickler. When on, the file
    /// is read by libtorch's restricted C++ unpickler (no Python runs) and
    /// then checked like a safetensors file.
    pub allow_pickle: bool,
    /// Kernels of inference (training is always fp32): `Fp32` (default,
    /// exact parity), or the opt-in `Bf16` / `Int8` fast paths.
    pub precision: Precision,
}

impl Default for EncoderOptions {
    fn default() -> Self {
        // sentence-transformers' default batch size.
        Self {
            batch_size: 32,
            truncation: Truncation::Truncate,
            allow_pickle: false,
            precision: Precision::Fp32,
        }
    }
}

/// A sentence-level module applied after the Transformer, in `modules.json` order.
#[derive(Debug)]
pub enum SentenceStep {
    Pooling(Pooling),
    Dense(Dense),
    Normalize,
}

/// Per-sentence token-level output (for token classification heads).
#[derive(Debug)]
pub struct TokenStates {
    /// `[tokens, hidden]` states of the last layer, special tokens included.
    pub states: Tensor,
    /// Wordpiece strings, special tokens included.
    pub tokens: Vec<String>,
    /// For each token, the word it belongs to (`None` for special tokens).
    pub word_ids: Vec<Option<u32>>,
}

/// A sentence-transformers model directory, loaded: BERT backbone, tokenizer
/// and the sentence-level modules (pooling, dense, normalize).
///
/// Inference never records autograd history and always runs the backbone in
/// eval mode (no dropout).
pub struct SentenceEncoder {
    vs: nn::VarStore,
    transformer: Transformer,
    steps: Vec<SentenceStep>,
    /// The `modules.json` entry of each step.
    step_modules: Vec<ModuleSpec>,
    /// Folders of modules that do nothing here (Dropout), carried to saves.
    carried: Vec<(ModuleSpec, CarriedFiles)>,
    /// The model directory's own files (modules.json, ...) when the
    /// Transformer has a folder of its own.
    top_files: CarriedFiles,
    options: EncoderOptions,
    model_dir: PathBuf,
    transformer_dir: PathBuf,
    modules: Vec<ModuleSpec>,
    dim: i64,
    pooled_dim: i64,
    load_report: LoadReport,
}

impl std::fmt::Debug for SentenceEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentenceEncoder")
            .field("model_dir", &self.model_dir)
            .field("device", &self.vs.device())
            .field("dim", &self.dim)
            .field("steps", &self.steps)
            .finish()
    }
}

/// The checkpoint's weights, in safetensors layout, and the file they came
/// from (for error messages).
enum WeightSource {
    File { path: PathBuf, bytes: Vec<u8> },
}

impl WeightSource {
    /// Reads `model.safetensors` in `dir`, or `pytorch_model.bin` when that
    /// is all there is and pickles are allowed, and checks that the tensors
    /// fit `config`.
    fn read(dir: &Path, config: &EncoderConfig, allow_pickle: bool) -> Result<Self> {
        let safetensors = dir.join("model.safetensors");
        let pickle = dir.join("pytorch_model.bin");
        let (path, bytes) = if !safetensors.is_file() && pickle.is_file() {
            if !allow_pickle {
                return Err(BackboneError::PickleRefused { path: pickle }.into());
            }
            let bytes = pickle_to_safetensors_bytes(&pickle)?;
            (pickle, bytes)
        } else {
            let path = require_file(safetensors)?;
            let bytes = read_safetensors(&path)?;
            (path, bytes)
        };
        check_config_fits(config, &path, &bytes)?;
        Ok(Self::File { path, bytes })
    }
}

/// Points every variable of `to` at the storage of the same-named variable
/// of `from`, so that the weights exist once. `from` may hold more (a
/// multi-task model keeps its heads in the encoder's store).
fn share_variables(from: &nn::VarStore, to: &nn::VarStore) -> Result<()> {
    let ours = from.variables();
    let mut theirs = to.variables();
    for (name, var) in theirs.iter_mut() {
        let source = ours.get(name).ok_or_else(|| {
            EmbedError::InvalidOption(format!("variable {name} missing from the shared encoder"))
        })?;
        var.set_data(source);
    }
    Ok(())
}

fn require_file(path: PathBuf) -> Result<PathBuf> {
    if path.is_file() {
        Ok(path)
    } else {
        Err(EmbedError::Io {
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "file not found"),
            path,
        })
    }
}

impl SentenceEncoder {
    /// Loading with options set one by one, from what a caller holds:
    /// `SentenceEncoder::builder(dir).device("auto").precision("bf16").batch_size(64).build()`.
    pub fn builder(model_dir: impl AsRef<Path>) -> crate::EncoderBuilder {
        crate::EncoderBuilder::new(model_dir.as_ref().to_path_buf())
    }

    /// Loads a model directory in sentence-transformers layout on `device`.
    ///
    /// Without `modules.json` the directory is read as a plain Hugging Face
    /// BERT model followed by mean pooling, as sentence-transformers does.
    pub fn from_dir(model_dir: impl AsRef<Path>, device: Device) -> Result<Self> {
        Self::from_dir_with(model_dir, device, EncoderOptions::default())
    }

    pub fn from_dir_with(
        model_dir: impl AsRef<Path>,
        device: Device,
        options: EncoderOptions,
    ) -> Result<Self> {
        Self::build(model_dir.as_ref(), device, options)
    }

    /// Reads the model directory: modules, configs, tokenizer, weights.
    fn build(model_dir: &Path, device: Device, options: EncoderOptions) -> Result<Self> {
        let model_dir = model_dir.to_path_buf();
        if !model_dir.is_dir() {
            return Err(EmbedError::ModelDirMissing(model_dir));
        }
        if options.batch_size == 0 {
            return Err(EmbedError::InvalidOption(
                "batch_size must be at least 1".into(),
            ));
        }
        let has_modules_json = model_dir.join("modules.json").exists();
        let specs = if has_modules_json {
            read_modules(&model_dir)?
        } else {
            vec![
                ModuleSpec {
                    name: "0".into(),
                    kind: ModuleKind::Transformer,
                    dir: model_dir.clone(),
                },
                ModuleSpec {
                    name: "1".into(),
                    kind: ModuleKind::Pooling,
                    dir: PathBuf::new(),
                },
            ]
        };
        let invalid = |message: String| EmbedError::InvalidModule {
            path: model_dir.join("modules.json"),
            message,
        };
        let (first, rest) = specs
            .split_first()
            .ok_or_else(|| invalid("modules.json lists no module".into()))?;
        if first.kind != ModuleKind::Transformer {
            return Err(invalid("the first module must be a Transformer".into()));
        }

        // --- Transformer: backbone + tokenizer -------------------------------
        let tdir = first.dir.clone();
        let config = EncoderConfig::from_file(require_file(tdir.join("config.json"))?)?;
        // A shared encoder's weights were read and checked when it was loaded.
        let weight_source = WeightSource::read(&tdir, &config, options.allow_pickle)?;
        let sbert = sentence_bert_config(&tdir)?;
        let model_max = match tdir.join("tokenizer_config.json") {
            p if p.is_file() => read_json::<serde_json::Value>(&p, "tokenizer_config.json")?
                .get("model_max_length")
                .and_then(|v| v.as_f64())
                .map(|v| v.min(usize::MAX as f64) as usize),
            _ => None,
        };
        let max_len = sbert
            .max_seq_length
            .or(model_max)
            .unwrap_or(usize::MAX)
            .min(config.max_sequence_length() as usize);
        if max_len < 2 {
            return Err(invalid(format!(
                "max_seq_length {max_len} leaves no room for a token"
            )));
        }
        let mut vs = nn::VarStore::new(device);
        let mut transformer = Transformer::read(
            &tdir,
            vs.root() / BACKBONE_PREFIX,
            &config,
            max_len,
            sbert.do_lower_case,
        )?;
        transformer.tokenizer.set_truncation(options.truncation);

        // --- sentence-level modules ------------------------------------------
        let mut steps = Vec::new();
        let mut step_modules = Vec::new();
        let mut carried = Vec::new();
        let mut dim = config.hidden_size;
        let mut pooled = false;
        for spec in rest {
            let step = match spec.kind {
                ModuleKind::Transformer => {
                    return Err(invalid("only one Transformer module is supported".into()))
                }
                ModuleKind::Pooling => {
                    let pooling = if spec.dir.as_os_str().is_empty() {
                        Pooling::new(vec![PoolingMode::Mean], dim)?
                    } else {
                        Pooling::from_dir(&spec.dir)?
                    };
                    if pooling.token_dim != dim {
                        return Err(EmbedError::InvalidModule {
                            path: spec.dir.join("config.json"),
                            message: format!(
                                "pools {}-wide token states but the transformer makes {dim}-wide ones",
                                pooling.token_dim
                            ),
                        });
                    }
                    pooled = true;
                    dim = pooling.output_dim();
                    SentenceStep::Pooling(pooling)
                }
                ModuleKind::Dense => {
                    let dense = Dense::load(vs.root() / "dense" / &spec.name, &spec.dir)?;
                    if dense.in_features != dim {
                        return Err(EmbedError::InvalidModule {
                            path: spec.dir.join("config.json"),
                            message: format!(
                                "in_features {} but the embedding is {dim}-wide",
                                dense.in_features
                            ),
                        });
                    }
                    dim = dense.out_features;
                    SentenceStep::Dense(dense)
                }
                ModuleKind::Normalize => SentenceStep::Normalize,
                ModuleKind::Dropout => {
                    // Identity here; its folder is carried to saved copies.
                    if spec.dir.is_dir() {
                        carried.push((spec.clone(), read_carried_files(&spec.dir)?));
                    }
                    continue;
                }
            };
            if !pooled {
                return Err(invalid(
                    "a Pooling module must come right after the Transformer".into(),
                ));
            }
            steps.push(step);
            step_modules.push(spec.clone());
        }
        if !pooled {
            return Err(invalid(
                "modules.json has no Pooling module: token embeddings only are not supported"
                    .into(),
            ));
        }

        // Width of the head-facing embedding: everything but Normalize.
        let pooled_dim = steps.iter().fold(config.hidden_size, |d, s| match s {
            SentenceStep::Pooling(p) => p.output_dim(),
            SentenceStep::Dense(dense) => dense.out_features,
            SentenceStep::Normalize => d,
        });
        let WeightSource::File { path, bytes } = weight_source;
        let load_report =
            load_safetensors_bytes(&vs, BACKBONE_PREFIX, config.family, &path, &bytes)?;
        transformer.keep_pooler(config.family, &bytes);
        // The model directory's own files, when the Transformer has a folder
        // of its own (`0_Transformer/`); else they are the Transformer's.
        let top_files = if tdir != model_dir && has_modules_json {
            read_carried_files(&model_dir)?
        } else {
            Vec::new()
        };
        vs.freeze(); // inference by default; trainers unfreeze what they train
        transformer.backbone.set_precision(options.precision)?;
        Ok(Self {
            vs,
            transformer,
            steps,
            step_modules,
            carried,
            top_files,
            options,
            model_dir,
            transformer_dir: tdir,
            modules: if has_modules_json {
                specs.clone()
            } else {
                Vec::new()
            },
            dim,
            pooled_dim,
            load_report,
        })
    }

    /// A second encoder over the same weight memory, for another thread.
    ///
    /// `SentenceEncoder` is `Send` but not `Sync` (tch's `Tensor` is not
    /// `Sync`), so one encoder cannot be borrowed by several threads at once.
    /// Instead, each thread takes a handle: the modules are rebuilt from
    /// what this encoder holds in memory (nothing is read from disk), then
    /// every variable is pointed at this encoder's tensor storage
    /// (`set_data`), so the weights exist once however many handles there
    /// are, and a handle computes exactly what this encoder computes. Weights
    /// changed in memory (training) are shared too.
    pub fn shared_handle(&self) -> Result<Self> {
        let vs = nn::VarStore::new(self.vs.device());
        let mut transformer = self.transformer.handle(vs.root() / BACKBONE_PREFIX)?;
        let steps = self
            .steps
            .iter()
            .zip(&self.step_modules)
            .map(|(step, spec)| {
                Ok(match step {
                    SentenceStep::Pooling(p) => SentenceStep::Pooling(p.clone()),
                    SentenceStep::Dense(d) => {
                        SentenceStep::Dense(d.fresh_like(vs.root() / "dense" / &spec.name)?)
                    }
                    SentenceStep::Normalize => SentenceStep::Normalize,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        // Shared as fp32, then this handle makes its own bf16/int8 copies.
        share_variables(&self.vs, &vs)?;
        let mut vs = vs;
        vs.freeze();
        transformer.backbone.set_precision(self.options.precision)?;
        Ok(Self {
            vs,
            transformer,
            steps,
            step_modules: self.step_modules.clone(),
            carried: self.carried.clone(),
            top_files: self.top_files.clone(),
            options: self.options,
            model_dir: self.model_dir.clone(),
            transformer_dir: self.transformer_dir.clone(),
            modules: self.modules.clone(),
            dim: self.dim,
            pooled_dim: self.pooled_dim,
            load_report: self.load_report.clone(),
        })
    }

    /// What loading the weights did: tensors used, and tensors of the file
    /// deliberately ignored (BERT pooler, `position_ids`, heads of other
    /// architectures such as `cls.*`).
    pub fn load_report(&self) -> &LoadReport {
        &self.load_report
    }

    /// Width of the sentence embedding.
    pub fn embedding_dim(&self) -> i64 {
        self.dim
    }

    /// Width of the token states.
    pub fn hidden_size(&self) -> i64 {
        self.transformer.backbone.config().hidden_size
    }

    pub fn device(&self) -> Device {
        self.vs.device()
    }

    pub fn options(&self) -> EncoderOptions {
        self.options
    }

    /// Switches the inference kernels (see [`Precision`]); bf16 and int8
    /// convert the current weights, so call it again after training.
    pub fn set_precision(&mut self, precision: Precision) -> Result<()> {
        self.transformer.backbone.set_precision(precision)?;
        self.options.precision = precision;
        Ok(())
    }

    pub fn set_batch_size(&mut self, batch_size: usize) -> Result<()> {
        if batch_size == 0 {
            return Err(EmbedError::InvalidOption(
                "batch_size must be at least 1".into(),
            ));
        }
        self.options.batch_size = batch_size;
        Ok(())
    }

    pub fn model_dir(&self) -> &Path {
        &self.model_dir
    }

    /// Folder of the Transformer module (config.json, tokenizer.json, ...).
    pub fn transformer_dir(&self) -> &Path {
        &self.transformer_dir
    }

    /// The `modules.json` entry of each sentence-level step.
    pub fn step_modules(&self) -> &[ModuleSpec] {
        &self.step_modules
    }

    pub(crate) fn top_files(&self) -> &[(String, Vec<u8>)] {
        &self.top_files
    }

    pub(crate) fn carried_modules(&self) -> &[(ModuleSpec, CarriedFiles)] {
        &self.carried
    }

    /// The Transformer module: backbone, tokenizer and its folder's files.
    pub fn transformer(&self) -> &Transformer {
        &self.transformer
    }

    pub fn backbone(&self) -> &Backbone {
        &self.transformer.backbone
    }

    pub fn tokenizer(&self) -> &TextTokenizer {
        &self.transformer.tokenizer
    }

    pub fn steps(&self) -> &[SentenceStep] {
        &self.steps
    }

    /// The variables: backbone under `backbone.`, Dense modules under `dense.<name>.`.
    pub fn var_store(&self) -> &nn::VarStore {
        &self.vs
    }

    pub fn var_store_mut(&mut self) -> &mut nn::VarStore {
        &mut self.vs
    }

    /// Backbone forward on a padded batch: `[batch, seq, hidden]`.
    pub fn token_embeddings(&self, batch: &TokenBatch, train: bool) -> Result<Tensor> {
        Ok(self
            .transformer
            .backbone
            .forward_t(&batch.input_ids, &batch.attention_mask, train)?)
    }

    /// Applies pooling, dense and normalize to token states.
    pub fn sentence_embeddings(&self, token_states: &Tensor, attention_mask: &Tensor) -> Tensor {
        self.run_steps(token_states, attention_mask, true)
    }

    /// As [`Self::sentence_embeddings`] without the Normalize step: the
    /// input of sentence-level task heads (unit-norm vectors would shrink the
    /// head's logits and slow its training).
    pub fn pooled_embeddings(&self, token_states: &Tensor, attention_mask: &Tensor) -> Tensor {
        self.run_steps(token_states, attention_mask, false)
    }

    /// Width of [`Self::pooled_embeddings`].
    pub fn pooled_dim(&self) -> i64 {
        self.pooled_dim
    }

    /// The `modules.json` entries (empty for a plain Hugging Face directory).
    pub fn modules(&self) -> &[ModuleSpec] {
        &self.modules
    }

    fn run_steps(&self, token_states: &Tensor, attention_mask: &Tensor, normalize: bool) -> Tensor {
        let mut xs = token_states.shallow_clone();
        for step in &self.steps {
            xs = match step {
                SentenceStep::Pooling(p) => p.forward(&xs, attention_mask),
                SentenceStep::Dense(d) => d.forward(&xs),
                SentenceStep::Normalize if !normalize => xs,
                SentenceStep::Normalize => {
                    let norm = xs.norm_scalaropt_dim(2, [-1], true).clamp_min(1e-12);
                    xs / norm
                }
            };
        }
        xs
    }

    /// Indices of `encodings` from longest to shortest, cut into batches: each
    /// batch then pads to nearly its own length and no compute goes to padding.
    fn length_sorted_batches(&self, encodings: &[Encoding]) -> Vec<Vec<usize>> {
        let mut order: Vec<usize> = (0..encodings.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(encodings[i].len()));
        order
            .chunks(self.options.batch_size)
            .map(<[usize]>::to_vec)
            .collect()
    }

    /// Embeds `sentences` into a `[n, dim]` float tensor on the encoder's
    /// device, rows in the caller's order.
    pub fn encode_tensor<S: AsRef<str>>(&self, sentences: &[S]) -> Result<Tensor> {
        let device = self.device();
        if sentences.is_empty() {
            return Ok(Tensor::zeros([0, self.dim], (Kind::Float, device)));
        }
        let encodings = self.transformer.tokenizer.encode_texts(sentences)?;
        tch::no_grad(|| {
            let mut out = Tensor::zeros([sentences.len() as i64, self.dim], (Kind::Float, device));
            for idx in self.length_sorted_batches(&encodings) {
                let batch: Vec<&Encoding> = idx.iter().map(|&i| &encodings[i]).collect();
                let batch = self.transformer.tokenizer.pad(&batch, device);
                let states = self.token_embeddings(&batch, false)?;
                let emb = self.sentence_embeddings(&states, &batch.attention_mask);
                let rows = Tensor::from_slice(&idx.iter().map(|&i| i as i64).collect::<Vec<_>>())
                    .to_device(device);
                let _ = out.f_index_copy_(0, &rows, &emb.to_kind(Kind::Float))?;
            }
            Ok(out)
        })
    }

    /// Shortens the longest input (special tokens included) to `max_len`
    /// tokens: longer sentences are then cut there, or refused under
    /// [`Truncation::Error`]. It cannot exceed the model's `max_seq_length`.
    pub fn set_max_seq_length(&mut self, max_len: usize) -> Result<()> {
        self.transformer.tokenizer.set_max_len(max_len)
    }

    /// One forward pass over already tokenized sentences, padded together:
    /// a `[n, dim]` array in the order given. `normalize` makes the rows
    /// unit-length whether or not the model ends in a Normalize module, and
    /// `false` skips that module (TEI's `normalize` flag). A server that
    /// forms its own batches calls this; [`Self::encode`] sorts and batches
    /// for the caller.
    pub fn embed_encodings(&self, encodings: &[&Encoding], normalize: bool) -> Result<Array2<f32>> {
        let device = self.device();
        let dim = self.dim as usize;
        if encodings.is_empty() {
            return Ok(Array2::zeros((0, dim)));
        }
        let t = tch::no_grad(|| -> Result<Tensor> {
            let batch = self.transformer.tokenizer.pad(encodings, device);
            let states = self.token_embeddings(&batch, false)?;
            let mut emb = self
                .pooled_embeddings(&states, &batch.attention_mask)
                .to_kind(Kind::Float);
            if normalize {
                emb = &emb / emb.norm_scalaropt_dim(2, [-1], true).clamp_min(1e-12);
            }
            Ok(emb.to_device(Device::Cpu).contiguous())
        })?;
        let n = encodings.len();
        let mut data = vec![0f32; n * dim];
        t.f_copy_data(&mut data, n * dim)?;
        Ok(Array2::from_shape_vec((n, dim), data).expect("shape matches the data"))
    }

    /// Embeds `sentences` into a `[n, dim]` array, rows in the caller's order.
    pub fn encode<S: AsRef<str>>(&self, sentences: &[S]) -> Result<Array2<f32>> {
        let t = self
            .encode_tensor(sentences)?
            .to_device(Device::Cpu)
            .contiguous();
        let (n, d) = (t.size()[0] as usize, t.size()[1] as usize);
        let mut data = vec![0f32; n * d];
        t.f_copy_data(&mut data, n * d)?;
        Ok(Array2::from_shape_vec((n, d), data).expect("shape matches the data"))
    }

    /// Embeds an iterator of lines lazily, chunk by chunk, so that memory
    /// does not grow with the input: each item holds up to
    /// [`STREAM_CHUNK_LINES`] lines (fewer once they hold
    /// [`STREAM_CHUNK_BYTES`] of text) and their embeddings, in input order.
    /// Within a chunk sentences are sorted by length, as in [`Self::encode`].
    pub fn encode_stream<I: IntoIterator<Item = String>>(
        &self,
        lines: I,
    ) -> EncodeStream<'_, I::IntoIter> {
        EncodeStream {
            encoder: self,
            lines: lines.into_iter(),
            next_index: 0,
        }
    }

    /// Last-layer token states of each sentence (no padding), in the caller's order.
    pub fn token_states<S: AsRef<str>>(&self, sentences: &[S]) -> Result<Vec<TokenStates>> {
        let encodings = self.transformer.tokenizer.encode_texts(sentences)?;
        let device = self.device();
        let mut out: Vec<Option<TokenStates>> = (0..sentences.len()).map(|_| None).collect();
        tch::no_grad(|| -> Result<()> {
            for idx in self.length_sorted_batches(&encodings) {
                let batch: Vec<&Encoding> = idx.iter().map(|&i| &encodings[i]).collect();
                let padded = self.transformer.tokenizer.pad(&batch, device);
                let states = self.token_embeddings(&padded, false)?;
                for (row, &i) in idx.iter().enumerate() {
                    let len = padded.lengths[row] as i64;
                    out[i] = Some(TokenStates {
                        states: states.get(row as i64).narrow(0, 0, len),
                        tokens: encodings[i].get_tokens().to_vec(),
                        word_ids: encodings[i].get_word_ids().to_vec(),
                    });
                }
            }
            Ok(())
        })?;
        Ok(out
            .into_iter()
            .map(|s| s.expect("every sentence is in one batch"))
            .collect())
    }
}

/// Lines per chunk of [`SentenceEncoder::encode_stream`].
pub const STREAM_CHUNK_LINES: usize = 4096;
/// Text bytes after which a chunk of [`SentenceEncoder::encode_stream`] ends early.
pub const STREAM_CHUNK_BYTES: usize = 8 << 20;

/// Where [`SentenceEncoder::encode_stream`] ends its chunks: after
/// [`STREAM_CHUNK_LINES`] lines or once they hold [`STREAM_CHUNK_BYTES`] of
/// text. Public so that a sharded job can cut its input where one process
/// would end a chunk: each chunk is then embedded in the same batches, and
/// the shards' rows are bit-identical to the single run's.
#[derive(Debug, Default, Clone)]
pub struct ChunkCut {
    lines: usize,
    bytes: usize,
}

impl ChunkCut {
    /// Counts one more line of `bytes` bytes (without its terminator);
    /// true when the chunk ends after it (the count then restarts).
    pub fn push(&mut self, bytes: usize) -> bool {
        self.lines += 1;
        self.bytes += bytes;
        let ends = self.lines >= STREAM_CHUNK_LINES || self.bytes >= STREAM_CHUNK_BYTES;
        if ends {
            *self = Self::default();
        }
        ends
    }
}

/// One chunk of [`SentenceEncoder::encode_stream`].
#[derive(Debug, Clone)]
pub struct EncodedChunk {
    /// 0-based position of the chunk's first line in the stream.
    pub first_index: u64,
    pub texts: Vec<String>,
    /// `[texts.len(), dim]`, rows in the order of `texts`.
    pub embeddings: Array2<f32>,
}

/// The iterator of [`SentenceEncoder::encode_stream`].
pub struct EncodeStream<'a, I> {
    encoder: &'a SentenceEncoder,
    lines: I,
    next_index: u64,
}

impl<I: Iterator<Item = String>> Iterator for EncodeStream<'_, I> {
    type Item = Result<EncodedChunk>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut texts = Vec::new();
        let mut cut = ChunkCut::default();
        for line in self.lines.by_ref() {
            let ends = cut.push(line.len());
            texts.push(line);
            if ends {
                break;
            }
        }
        if texts.is_empty() {
            return None;
        }
        let first_index = self.next_index;
        self.next_index += texts.len() as u64;
        Some(
            self.encoder
                .encode(&texts)
                .map_err(|e| match e {
                    EmbedError::TooLong { index, tokens, max } => EmbedError::TooLong {
                        index: index + first_index as usize,
                        tokens,
                        max,
                    },
                    other => other,
                })
                .map(|embeddings| EncodedChunk {
                    first_index,
                    texts,
                    embeddings,
                }),
        )
    }
}
