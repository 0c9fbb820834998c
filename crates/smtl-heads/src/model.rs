//! [`MultiTaskModel`]: the contract between multi-task models and the trainer,
//! and [`SharedEncoderModel`]: one [`SentenceEncoder`] shared by named heads.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use smtl_embedding::{SentenceEncoder, TokenBatch};
use tch::{Device, Tensor};

use crate::group::GroupId;
use crate::head::{HeadConfig, TaskHead};
use crate::{HeadError, Result};

/// A task as the model knows it: its name, head shape and label names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskSpec {
    pub name: String,
    pub head: HeadConfig,
    pub labels: Vec<String>,
}

/// One input example, labelled (training, evaluation) or not (prediction).
/// Labels are ids into the task's label list.
#[derive(Debug, Clone, PartialEq)]
pub enum Example {
    Sentence {
        text: String,
        label: Option<usize>,
    },
    Words {
        words: Vec<String>,
        tags: Option<Vec<usize>>,
    },
    /// Two sentences: a scored pair (`score` from 0 to the task's
    /// `score_max`) or an (anchor, positive) ranking pair (no score: the
    /// pairing is the label).
    Pair {
        first: String,
        second: String,
        score: Option<f64>,
    },
}

impl Example {
    fn kind_name(&self) -> &'static str {
        match self {
            Self::Sentence { .. } => "sentence",
            Self::Words { .. } => "word-sequence",
            Self::Pair { .. } => "sentence-pair",
        }
    }

    /// Bytes of text, for grouping examples of similar length.
    pub fn text_len(&self) -> usize {
        match self {
            Self::Sentence { text, .. } => text.len(),
            Self::Words { words, .. } => words.iter().map(|w| w.len() + 1).sum(),
            Self::Pair { first, second, .. } => first.len().max(second.len()),
        }
    }
}

/// A tokenized, padded batch of one task, on the model's device.
#[derive(Debug)]
pub struct TaskBatch {
    pub task: String,
    pub tokens: TokenBatch,
    /// `[batch]` (sentence tasks) or `[batch, seq]` (token tasks, with
    /// [`IGNORE_INDEX`] on ignored positions); `None` for unlabelled input.
    pub labels: Option<Tensor>,
    /// Token tasks: position of each word's first token, per sentence.
    pub word_starts: Vec<Vec<Option<usize>>>,
}

/// Output of a forward pass.
#[derive(Debug)]
pub struct TaskOutput {
    /// `[batch, labels]` or `[batch, seq, labels]`.
    pub logits: Tensor,
    /// Mean cross-entropy over labelled positions, when labels were given.
    pub loss: Option<Tensor>,
}

/// A decoded prediction, with label text (as rust-bert's pipelines give it).
#[derive(Debug, Clone, PartialEq)]
pub enum Prediction {
    /// Sentence classification: the arg-max label, its name and its softmax
    /// probability.
    Label {
        id: usize,
        label: String,
        score: f64,
    },
    /// Token classification: one tag per word; words cut by truncation get
    /// tag id 0 (by convention the vocabulary's first tag, `O` for BIO
    /// vocabularies).
    Tags { ids: Vec<usize>, tags: Vec<String> },
    /// Pair kinds: the cosine similarity of the pair's sentence embeddings;
    /// ranking tasks also keep both unit-norm embeddings, since their
    /// metrics rank every anchor against every positive of the split.
    PairScore {
        score: f64,
        embeddings: Option<(Vec<f32>, Vec<f32>)>,
    },
}

impl Prediction {
    /// The label id of a sentence prediction.
    pub fn label_id(&self) -> Option<usize> {
        match self {
            Self::Label { id, .. } => Some(*id),
            Self::Tags { .. } | Self::PairScore { .. } => None,
        }
    }

    /// The tag ids of a token prediction.
    pub fn tag_ids(&self) -> Option<&[usize]> {
        match self {
            Self::Tags { ids, .. } => Some(ids),
            Self::Label { .. } | Self::PairScore { .. } => None,
        }
    }
}

/// Named parameters that are frozen, decayed and scheduled together.
#[derive(Debug)]
pub struct ParamGroup {
    pub id: GroupId,
    pub params: Vec<(String, Tensor)>,
}

/// What a trainer needs of a multi-task model. A new task is a new head and
/// a new dataset: nothing in a trainer written against this trait changes.
pub trait MultiTaskModel {
    fn tasks(&self) -> Vec<TaskSpec>;
    fn device(&self) -> Device;
    /// Tokenizes and pads `examples` of `task` (labels aligned to tokens).
    fn make_batch(&self, task: &str, examples: &[&Example]) -> Result<TaskBatch>;
    /// The shared encoder's output that the batch's head reads (what the
    /// frozen-backbone feature cache stores).
    fn features(&self, batch: &TaskBatch, train: bool) -> Result<Tensor>;
    /// The head on `features`: logits, and the loss when the batch has labels.
    fn forward_features(
        &self,
        batch: &TaskBatch,
        features: &Tensor,
        train: bool,
    ) -> Result<TaskOutput>;
    /// Logits (and loss when the batch has labels): encoder, then head.
    fn forward_t(&self, batch: &TaskBatch, train: bool) -> Result<TaskOutput> {
        let features = self.features(batch, train)?;
        self.forward_features(batch, &features, train)
    }
    /// Argmax decoding of `output` back to sentence labels or word tags.
    fn decode(&self, batch: &TaskBatch, output: &TaskOutput) -> Result<Vec<Prediction>>;
    /// Every trainable tensor, grouped; groups and names in a stable order.
    fn parameter_groups(&self) -> Vec<ParamGroup>;

    /// Labels for raw sentences; token tasks split each sentence on
    /// whitespace, pair tasks read `first<TAB>second`.
    fn predict(&self, task: &str, sentences: &[&str]) -> Result<Vec<Prediction>> {
        let spec = self
            .tasks()
            .into_iter()
            .find(|t| t.name == task)
            .ok_or_else(|| HeadError::UnknownTask(task.to_string()))?;
        let kind = spec.head.kind.behaviour();
        let examples: Vec<Example> = sentences
            .iter()
            .map(|s| kind.unlabelled(s))
            .collect::<Result<_>>()?;
        self.predict_examples(task, &examples)
    }

    /// Predictions for examples already read (with the task kind's
    /// `unlabelled`), so that a caller that reports bad lines itself reads
    /// each line once.
    fn predict_examples(&self, task: &str, examples: &[Example]) -> Result<Vec<Prediction>> {
        let mut out = Vec::with_capacity(examples.len());
        for chunk in examples.chunks(32) {
            let refs: Vec<&Example> = chunk.iter().collect();
            let batch = self.make_batch(task, &refs)?;
            let output = tch::no_grad(|| self.forward_t(&batch, false))?;
            out.extend(self.decode(&batch, &output)?);
        }
        Ok(out)
    }
}

/// Variable-store prefix of the heads.
pub const HEADS_PREFIX: &str = "heads";

/// One shared [`SentenceEncoder`] and any number of named [`TaskHead`]s, all
/// in the encoder's variable store (backbone under `backbone.`, heads under
/// `heads.<task>.`).
pub struct SharedEncoderModel {
    encoder: SentenceEncoder,
    heads: BTreeMap<String, (TaskSpec, TaskHead)>,
}

impl std::fmt::Debug for SharedEncoderModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedEncoderModel")
            .field("encoder", &self.encoder)
            .field("tasks", &self.heads.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl SharedEncoderModel {
    pub fn new(encoder: SentenceEncoder) -> Self {
        Self {
            encoder,
            heads: BTreeMap::new(),
        }
    }

    pub fn encoder(&self) -> &SentenceEncoder {
        &self.encoder
    }

    pub fn encoder_mut(&mut self) -> &mut SentenceEncoder {
        &mut self.encoder
    }

    /// Adds a task with a freshly initialised head.
    pub fn add_task(&mut self, name: &str, head: HeadConfig, labels: Vec<String>) -> Result<()> {
        if self.heads.contains_key(name) {
            return Err(HeadError::DuplicateTask(name.to_string()));
        }
        if name.is_empty() || name.contains(['.', '/', ':']) {
            return Err(HeadError::InvalidConfig(format!(
                "task name {name:?} must be non-empty without '.', '/' or ':'"
            )));
        }
        if labels.len() as i64 != head.num_labels {
            return Err(HeadError::InvalidConfig(format!(
                "task {name:?}: {} label names for a head of {} labels",
                labels.len(),
                head.num_labels
            )));
        }
        let input_dim = head.kind.behaviour().input_dim(&self.encoder);
        let path = self.encoder.var_store().root() / HEADS_PREFIX / name;
        let module = TaskHead::new(path, input_dim, head.clone())?;
        let spec = TaskSpec {
            name: name.to_string(),
            head,
            labels,
        };
        self.heads.insert(name.to_string(), (spec, module));
        Ok(())
    }

    fn head(&self, task: &str) -> Result<&(TaskSpec, TaskHead)> {
        self.heads
            .get(task)
            .ok_or_else(|| HeadError::UnknownTask(task.to_string()))
    }

    /// The parameter group a variable belongs to: the backbone's
    /// embeddings and layers, the heads, and everything else of the encoder
    /// (the Dense modules) as `dense`.
    pub fn group_of(variable: &str) -> GroupId {
        let parts: Vec<&str> = variable.split('.').collect();
        match parts.as_slice() {
            // MPNet's relative-position bias is shared by every layer: it
            // belongs with the other position parameters.
            [_, "embeddings", ..] | [_, "encoder", "relative_attention_bias", ..] => {
                GroupId::Embeddings
            }
            [_, "encoder" | "transformer", "layer", n, ..] if n.parse::<usize>().is_ok() => {
                GroupId::Layer(n.parse().expect("checked"))
            }
            [HEADS_PREFIX, task, ..] => GroupId::Head((*task).to_string()),
            _ => GroupId::Dense,
        }
    }

    /// Writes the heads' weights (`heads.safetensors`) and the task list
    /// (`tasks.json`) into `dir`, and the encoder in sentence-transformers
    /// layout beside them.
    pub fn save(&self, dir: &Path) -> Result<()> {
        self.encoder.save_pretrained(dir)?;
        let heads: Vec<(String, Tensor)> = self
            .encoder
            .var_store()
            .variables()
            .into_iter()
            .filter(|(n, _)| n.starts_with(&format!("{HEADS_PREFIX}.")))
            .collect();
        write_safetensors(&dir.join("heads.safetensors"), &heads)?;
        let tasks: Vec<&TaskSpec> = self.heads.values().map(|(s, _)| s).collect();
        let json = serde_json::to_string_pretty(&tasks).expect("tasks serialize");
        std::fs::write(dir.join("tasks.json"), json)
            .map_err(|source| io_err(dir.join("tasks.json"), source))?;
        Ok(())
    }

    /// Loads what [`Self::save`] wrote.
    pub fn load(dir: &Path, device: Device) -> Result<Self> {
        let encoder = SentenceEncoder::from_dir(dir, device)?;
        let mut model = Self::new(encoder);
        let path = dir.join("tasks.json");
        let text = std::fs::read_to_string(&path).map_err(|source| io_err(path.clone(), source))?;
        let tasks: Vec<TaskSpec> = serde_json::from_str(&text)
            .map_err(|e| HeadError::InvalidConfig(format!("{}: {e}", path.display())))?;
        for t in tasks {
            model.add_task(&t.name, t.head, t.labels)?;
        }
        model.load_heads(&dir.join("heads.safetensors"))?;
        Ok(model)
    }

    fn load_heads(&mut self, path: &Path) -> Result<()> {
        let loaded = Tensor::read_safetensors(path)?;
        let mut by_name: BTreeMap<String, Tensor> = loaded.into_iter().collect();
        let vars = self.encoder.var_store().variables();
        tch::no_grad(|| -> Result<()> {
            for (name, var) in vars
                .iter()
                .filter(|(n, _)| n.starts_with(&format!("{HEADS_PREFIX}.")))
            {
                let src = by_name.remove(name).ok_or_else(|| {
                    HeadError::InvalidConfig(format!("{} lacks head tensor {name}", path.display()))
                })?;
                if src.size() != var.size() {
                    return Err(HeadError::InvalidConfig(format!(
                        "{}: {name} has shape {:?}, the head needs {:?}",
                        path.display(),
                        src.size(),
                        var.size()
                    )));
                }
                var.shallow_clone().f_copy_(&src)?;
            }
            Ok(())
        })?;
        if let Some(extra) = by_name.keys().next() {
            return Err(HeadError::InvalidConfig(format!(
                "{} holds tensor {extra} of no known task",
                path.display()
            )));
        }
        Ok(())
    }
}

fn io_err(path: std::path::PathBuf, source: std::io::Error) -> HeadError {
    HeadError::Embed(smtl_embedding::EmbedError::Io { path, source })
}

/// Writes f32 tensors to a safetensors file.
pub fn write_safetensors(path: &Path, tensors: &[(String, Tensor)]) -> Result<()> {
    Ok(smtl_embedding::write_safetensors(path, tensors)?)
}

impl MultiTaskModel for SharedEncoderModel {
    fn tasks(&self) -> Vec<TaskSpec> {
        self.heads.values().map(|(s, _)| s.clone()).collect()
    }

    fn device(&self) -> Device {
        self.encoder.device()
    }

    fn make_batch(&self, task: &str, examples: &[&Example]) -> Result<TaskBatch> {
        let (spec, _) = self.head(task)?;
        if examples.is_empty() {
            return Err(HeadError::EmptyBatch(task.to_string()));
        }
        spec.head
            .kind
            .behaviour()
            .make_batch(spec, &self.encoder, examples)
    }

    fn features(&self, batch: &TaskBatch, train: bool) -> Result<Tensor> {
        let (spec, _) = self.head(&batch.task)?;
        spec.head
            .kind
            .behaviour()
            .features(&self.encoder, batch, train)
    }

    fn forward_features(
        &self,
        batch: &TaskBatch,
        features: &Tensor,
        train: bool,
    ) -> Result<TaskOutput> {
        let (spec, head) = self.head(&batch.task)?;
        let logits = head.forward_t(features, train);
        let loss = batch
            .labels
            .as_ref()
            .map(|l| spec.head.kind.behaviour().loss(spec, &logits, l));
        Ok(TaskOutput { logits, loss })
    }

    fn decode(&self, batch: &TaskBatch, output: &TaskOutput) -> Result<Vec<Prediction>> {
        let (spec, _) = self.head(&batch.task)?;
        spec.head
            .kind
            .behaviour()
            .decode(spec, batch, &output.logits)
    }

    fn parameter_groups(&self) -> Vec<ParamGroup> {
        // GroupId's order: embeddings, layer.0.., dense, heads.
        let mut groups: BTreeMap<GroupId, ParamGroup> = BTreeMap::new();
        // Fixed tables (DistilBERT's sinusoidal positions) are variables
        // that were created untrainable: no group, so no optimizer or freeze
        // rule ever touches them.
        let trainable: std::collections::HashSet<usize> = self
            .encoder
            .var_store()
            .trainable_variables()
            .iter()
            .map(|t| t.data_ptr() as usize)
            .collect();
        let mut vars: Vec<(String, Tensor)> = self
            .encoder
            .var_store()
            .variables()
            .into_iter()
            .filter(|(_, t)| trainable.contains(&(t.data_ptr() as usize)))
            .collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, t) in vars {
            let id = Self::group_of(&name);
            groups
                .entry(id.clone())
                .or_insert_with(|| ParamGroup {
                    id,
                    params: Vec::new(),
                })
                .params
                .push((name, t));
        }
        groups.into_values().collect()
    }
}

/// A label id checked against the task's labels.
pub(crate) fn check_label(spec: &TaskSpec, id: usize) -> Result<i64> {
    if (id as i64) < spec.head.num_labels {
        Ok(id as i64)
    } else {
        Err(HeadError::LabelOutOfRange {
            task: spec.name.clone(),
            id: id as i64,
            num_labels: spec.head.num_labels,
        })
    }
}

/// An example of another kind than the task's.
pub(crate) fn wrong_example(spec: &TaskSpec, e: &Example) -> HeadError {
    HeadError::WrongExampleKind {
        task: spec.name.clone(),
        expected: spec.head.kind.name(),
        got: e.kind_name(),
    }
}
