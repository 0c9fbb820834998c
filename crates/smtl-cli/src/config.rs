//! The run config of `smtl train` (TOML). Every table refuses unknown keys;
//! every error names the config file, the key and, where the TOML parser
//! or a span gives it, the line.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use smtl_heads::{PairLoss, PairObjective, TaskKind};
use smtl_trainer::{FreezeRule, LossWeighting, SamplingStrategy, TrainConfig, TrainPrecision};
use toml::Spanned;

/// A config that cannot be used, with where it went wrong.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The TOML parser's message names the line, the column and the key.
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path}:{line}: {key}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        key: String,
        message: String,
    },
}

/// The formats a task kind reads.
pub fn formats(kind: TaskKind) -> &'static [DataFormat] {
    match kind {
        TaskKind::SentenceClassification => &[
            DataFormat::Tsv,
            DataFormat::Jsonl,
            DataFormat::Trec,
            DataFormat::Hutto,
        ],
        TaskKind::TokenClassification => &[DataFormat::Conll],
        TaskKind::SentenceSimilarity => &[DataFormat::Stsb, DataFormat::Tsv, DataFormat::Jsonl],
        TaskKind::PairRanking => &[DataFormat::Tsv, DataFormat::Jsonl, DataFormat::Stsb],
    }
}

/// A task kind as a config writes it (`kind = "token-classification"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KindName(pub TaskKind);

impl<'de> Deserialize<'de> for KindName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map(KindName)
            .map_err(serde::de::Error::custom)
    }
}

/// A labelled-data file format. `tsv` and `jsonl` are read as the task
/// kind's records: `text<TAB>label`, `sentence1<TAB>sentence2<TAB>score`
/// or `anchor<TAB>positive` (and the JSON objects with those keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DataFormat {
    /// Tab-separated records per line (`.tsv`, `.txt`).
    Tsv,
    /// One JSON object per line (`.jsonl`).
    Jsonl,
    /// One token per line, the tag last, blank lines between sentences
    /// (`.conll`, `.bio`, `.iob`).
    Conll,
    /// TREC question classification, `COARSE:fine question` (the last
    /// 5452 lines: TREC's train_5500).
    Trec,
    /// The hutto/VADER `*_GroundTruth.txt` sentiment files
    /// (`id<TAB>score<TAB>text`, labelled positive/negative by sign).
    Hutto,
    /// STS Benchmark's `sts-*.csv` (`.csv`; tab-separated, score in field
    /// 4, the sentences in fields 5 and 6).
    Stsb,
}

impl DataFormat {
    pub const ALL: [&'static str; 6] = ["tsv", "jsonl", "conll", "trec", "hutto", "stsb"];

    pub fn name(self) -> &'static str {
        match self {
            Self::Tsv => "tsv",
            Self::Jsonl => "jsonl",
            Self::Conll => "conll",
            Self::Trec => "trec",
            Self::Hutto => "hutto",
            Self::Stsb => "stsb",
        }
    }

    /// The format a file's extension implies.
    pub fn from_extension(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "tsv" | "txt" => Some(Self::Tsv),
            "jsonl" => Some(Self::Jsonl),
            "conll" | "bio" | "iob" => Some(Self::Conll),
            "csv" => Some(Self::Stsb),
            _ => None,
        }
    }
}

impl fmt::Display for DataFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for DataFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "tsv" => Ok(Self::Tsv),
            "jsonl" => Ok(Self::Jsonl),
            "conll" => Ok(Self::Conll),
            "trec" => Ok(Self::Trec),
            "hutto" => Ok(Self::Hutto),
            "stsb" => Ok(Self::Stsb),
            other => Err(format!(
                "unknown data format {other:?}: expected one of {}",
                Self::ALL.join(", ")
            )),
        }
    }
}

impl<'de> Deserialize<'de> for DataFormat {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// `[optimizer]`: every key optional, defaults as [`TrainConfig::default`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerConfig {
    pub backbone_lr: Option<f64>,
    pub head_lr: Option<f64>,
    /// AdamW's decoupled weight decay, for the encoder and the heads.
    pub weight_decay: Option<f64>,
    pub warmup_ratio: Option<f64>,
    /// Global gradient-norm clip (0 switches clipping off).
    pub max_grad_norm: Option<f64>,
    /// Decay biases and LayerNorm weights too (default: exempt, as the
    /// Hugging Face Trainer).
    pub decay_bias_and_norm: Option<bool>,
    /// 1.0 = one rate for every layer.
    pub layerwise_lr_decay: Option<f64>,
    /// Batches whose gradients are summed before each step.
    pub grad_accumulation: Option<usize>,
}

/// One `[[tasks]]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskConfig {
    pub name: Spanned<String>,
    pub kind: Spanned<KindName>,
    pub train: Spanned<PathBuf>,
    pub dev: Option<Spanned<PathBuf>>,
    pub test: Option<Spanned<PathBuf>>,
    pub format: Option<Spanned<DataFormat>>,
    /// This task's head learning rate (default: `[optimizer] head_lr`).
    pub head_lr: Option<f64>,
    /// This task's hidden head width (default: the top-level `head_hidden`).
    pub head_hidden: Option<i64>,
    /// Pair kinds: `cosent` (default) or `cosine-mse` for
    /// sentence-similarity, `mnrl` (default) for pair-ranking.
    pub loss: Option<Spanned<String>>,
    /// sentence-similarity: the top gold score (default 5.0, STS-B's).
    pub score_max: Option<Spanned<f64>>,
    /// CoSENT's and MNRL's similarity scale (default 20).
    pub scale: Option<Spanned<f64>>,
    /// pair-ranking: MNRL both ways (default false).
    pub symmetric: Option<Spanned<bool>>,
    /// pair-ranking from scored pairs (`format = "stsb"`): the pairs
    /// scored at least this are the (anchor, positive) pairs.
    pub min_score: Option<Spanned<f64>>,
}

fn default_device() -> String {
    "auto".into()
}

/// The whole run config, as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRunConfig {
    /// A sentence-transformers directory, or a checkpoint to continue from.
    pub model: Spanned<PathBuf>,
    #[serde(default = "default_device")]
    pub device: String,
    pub seed: Option<u64>,
    pub epochs: Option<usize>,
    pub batch_size: Option<usize>,
    pub sampling: Option<SamplingStrategy>,
    pub loss_weighting: Option<LossWeighting>,
    #[serde(default)]
    pub freeze: Vec<FreezeRule>,
    /// 0 = linear heads; > 0 = one hidden layer of that width.
    #[serde(default)]
    pub head_hidden: i64,
    /// ULMFiT-style: the top layers train first, the whole encoder last.
    #[serde(default)]
    pub gradual_unfreezing: bool,
    /// Stop after this many optimizer steps (smoke runs; 0 = no limit).
    #[serde(default)]
    pub max_steps: usize,
    /// Frozen-backbone fast path: the encoder runs once per example, every
    /// step reads its cached features (needs `freeze = ["backbone"]`).
    #[serde(default)]
    pub cache_features: bool,
    /// `fp32` (default) or `bf16`: mixed precision in the training forward
    /// pass, fp32 master weights (docs/performance.md, Training).
    #[serde(default)]
    pub precision: TrainPrecision,
    /// Also write `last/` every this many batches (0 = at epoch ends).
    #[serde(default)]
    pub checkpoint_every_steps: usize,
    #[serde(default)]
    pub optimizer: OptimizerConfig,
    pub tasks: Vec<TaskConfig>,
}

/// A task of a checked config: paths resolved, format known.
#[derive(Debug, Clone)]
pub struct TaskPlan {
    pub name: String,
    pub kind: TaskKind,
    pub format: DataFormat,
    pub train: PathBuf,
    pub dev: Option<PathBuf>,
    pub test: Option<PathBuf>,
    pub head_lr: Option<f64>,
    /// `None`: a linear head.
    pub head_hidden: Option<i64>,
    /// Pair kinds: the objective (`None` for the kinds with a head).
    pub objective: Option<PairObjective>,
    /// pair-ranking from scored pairs: the lowest score of a positive.
    pub min_score: Option<f64>,
}

/// A checked run config.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub path: PathBuf,
    pub model: PathBuf,
    pub device: String,
    pub train: TrainConfig,
    pub checkpoint_every_steps: usize,
    pub tasks: Vec<TaskPlan>,
}

/// The objective of a pair task from its `loss`, `score_max`, `scale` and
/// `symmetric` keys (each refused on a kind it does not apply to).
fn pair_objective(
    t: &TaskConfig,
    kind: TaskKind,
    key: &dyn Fn(&str) -> String,
    invalid: &dyn Fn(std::ops::Range<usize>, String, String) -> ConfigError,
) -> Result<Option<PairObjective>, ConfigError> {
    let losses = kind.behaviour().losses();
    let Some(&default) = losses.first() else {
        let set = [
            ("loss", t.loss.as_ref().map(Spanned::span)),
            ("score_max", t.score_max.as_ref().map(Spanned::span)),
            ("scale", t.scale.as_ref().map(Spanned::span)),
            ("symmetric", t.symmetric.as_ref().map(Spanned::span)),
        ];
        if let Some((k, Some(span))) = set.into_iter().find(|(_, s)| s.is_some()) {
            return Err(invalid(
                span,
                key(k),
                format!(
                    "{k} applies to the pair kinds (sentence-similarity, pair-ranking), not to \
                     a {} task",
                    kind.id()
                ),
            ));
        }
        return Ok(None);
    };
    let mut objective = PairObjective::new(default);
    if let Some(loss) = &t.loss {
        objective.loss = loss
            .get_ref()
            .parse::<PairLoss>()
            .map_err(|m| invalid(loss.span(), key("loss"), m))?;
    }
    if let Some(v) = &t.score_max {
        if kind != TaskKind::SentenceSimilarity {
            return Err(invalid(
                v.span(),
                key("score_max"),
                format!("a {} task has no scores", kind.id()),
            ));
        }
        objective.score_max = *v.get_ref();
    }
    if let Some(v) = &t.scale {
        objective.scale = *v.get_ref();
    }
    if let Some(v) = &t.symmetric {
        objective.symmetric = *v.get_ref();
    }
    // The objective's own checks, reported at the key they are about.
    objective.check(kind, losses).map_err(|(k, message)| {
        let span = match k {
            "loss" => t.loss.as_ref().map(Spanned::span),
            "scale" => t.scale.as_ref().map(Spanned::span),
            "score_max" => t.score_max.as_ref().map(Spanned::span),
            _ => t.symmetric.as_ref().map(Spanned::span),
        };
        invalid(span.unwrap_or_else(|| t.name.span()), key(k), message)
    })?;
    Ok(Some(objective))
}

/// 1-based line of byte offset `at` in `text`.
fn line_of(text: &str, at: usize) -> usize {
    text[..at.min(text.len())].matches('\n').count() + 1
}

impl RunConfig {
    /// Reads and checks `path`: TOML shape and types, then values (paths
    /// that exist, formats that fit the kind, unique task names).
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// As [`Self::load`], from the text of the file at `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        let raw: RawRunConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })?;
        let base = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let invalid =
            |span: std::ops::Range<usize>, key: String, message: String| ConfigError::Invalid {
                path: path.to_path_buf(),
                line: line_of(text, span.start),
                key,
                message,
            };
        let resolve = |p: &Spanned<PathBuf>, key: String, dir: bool| {
            let full = base.join(p.get_ref());
            let exists = if dir { full.is_dir() } else { full.is_file() };
            if exists {
                Ok(full)
            } else {
                Err(invalid(
                    p.span(),
                    key,
                    format!(
                        "{} {} does not exist (paths are relative to the config's folder)",
                        if dir { "directory" } else { "file" },
                        full.display()
                    ),
                ))
            }
        };
        let model = resolve(&raw.model, "model".into(), true)?;
        if raw.tasks.is_empty() {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                line: 1,
                key: "tasks".into(),
                message: "no [[tasks]] table: a run needs at least one task".into(),
            });
        }
        if raw.head_hidden < 0 {
            return Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                line: 1,
                key: "head_hidden".into(),
                message: format!(
                    "must be 0 (linear heads) or positive, got {}",
                    raw.head_hidden
                ),
            });
        }
        let mut names = BTreeSet::new();
        let mut tasks = Vec::with_capacity(raw.tasks.len());
        for (i, t) in raw.tasks.iter().enumerate() {
            let key = |k: &str| format!("tasks[{i}].{k}");
            let name = t.name.get_ref().clone();
            if name.is_empty() || name.contains(['.', '/', ':']) {
                return Err(invalid(
                    t.name.span(),
                    key("name"),
                    format!("task name {name:?} must be non-empty without '.', '/' or ':'"),
                ));
            }
            if !names.insert(name.clone()) {
                return Err(invalid(
                    t.name.span(),
                    key("name"),
                    format!("duplicate task name {name:?}"),
                ));
            }
            let kind = t.kind.get_ref().0;
            let train = resolve(&t.train, key("train"), false)?;
            let dev = t
                .dev
                .as_ref()
                .map(|p| resolve(p, key("dev"), false))
                .transpose()?;
            let test = t
                .test
                .as_ref()
                .map(|p| resolve(p, key("test"), false))
                .transpose()?;
            let format = match &t.format {
                Some(f) => {
                    if !formats(kind).contains(f.get_ref()) {
                        return Err(invalid(
                            f.span(),
                            key("format"),
                            format!(
                                "a {} task reads {}, not {}",
                                kind.id(),
                                formats(kind)
                                    .iter()
                                    .map(|f| f.name())
                                    .collect::<Vec<_>>()
                                    .join(", "),
                                f.get_ref()
                            ),
                        ));
                    }
                    *f.get_ref()
                }
                None => {
                    match DataFormat::from_extension(&train).filter(|f| formats(kind).contains(f)) {
                        Some(f) => f,
                        None => {
                            return Err(invalid(
                                t.train.span(),
                                key("format"),
                                format!(
                            "cannot infer the format of {} for a {} task: set format = one of {}",
                            train.display(),
                            kind.id(),
                            formats(kind)
                                .iter()
                                .map(|f| f.name())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                            ))
                        }
                    }
                }
            };
            let head_hidden = match t.head_hidden.unwrap_or(raw.head_hidden) {
                0 => None,
                h if h > 0 => Some(h),
                h => {
                    return Err(invalid(
                        t.name.span(),
                        key("head_hidden"),
                        format!("must be 0 (linear head) or positive, got {h}"),
                    ))
                }
            };
            let objective = pair_objective(t, kind, &key, &invalid)?;
            if objective.is_some() && t.head_hidden.is_some() {
                return Err(invalid(
                    t.name.span(),
                    key("head_hidden"),
                    format!("a {} task has no head to widen", kind.id()),
                ));
            }
            if kind == TaskKind::PairRanking && raw.batch_size.unwrap_or(2) < 2 {
                return Err(invalid(
                    t.name.span(),
                    "batch_size".into(),
                    format!(
                        "task {name:?} trains with in-batch negatives, which a batch of one \
                         pair does not have: batch_size must be at least 2"
                    ),
                ));
            }
            let min_score = match (&t.min_score, kind, format) {
                (None, TaskKind::PairRanking, DataFormat::Stsb) => {
                    return Err(invalid(
                        t.name.span(),
                        key("min_score"),
                        "a pair-ranking task on scored pairs (format = \"stsb\") needs \
                         min_score: the lowest score that makes a pair (anchor, positive)"
                            .into(),
                    ))
                }
                (Some(m), TaskKind::PairRanking, DataFormat::Stsb) => Some(*m.get_ref()),
                (Some(m), _, _) => {
                    return Err(invalid(
                        m.span(),
                        key("min_score"),
                        "min_score applies to pair-ranking tasks on scored pairs \
                         (format = \"stsb\") only"
                            .into(),
                    ))
                }
                (None, _, _) => None,
            };
            tasks.push(TaskPlan {
                name,
                kind,
                format,
                train,
                dev,
                test,
                head_lr: t.head_lr,
                head_hidden: if objective.is_some() {
                    None
                } else {
                    head_hidden
                },
                objective,
                min_score,
            });
        }

        let defaults = TrainConfig::default();
        let o = &raw.optimizer;
        let mut train = TrainConfig {
            epochs: raw.epochs.unwrap_or(defaults.epochs),
            batch_size: raw.batch_size.unwrap_or(defaults.batch_size),
            seed: raw.seed.unwrap_or(defaults.seed),
            backbone_lr: o.backbone_lr.unwrap_or(defaults.backbone_lr),
            backbone_weight_decay: o.weight_decay.unwrap_or(defaults.backbone_weight_decay),
            head_lr: o.head_lr.unwrap_or(defaults.head_lr),
            head_weight_decay: o.weight_decay.unwrap_or(defaults.head_weight_decay),
            layerwise_lr_decay: o.layerwise_lr_decay.filter(|&d| d != 1.0),
            warmup_ratio: o.warmup_ratio.unwrap_or(defaults.warmup_ratio),
            max_grad_norm: o.max_grad_norm.unwrap_or(defaults.max_grad_norm),
            decay_bias_and_norm: o
                .decay_bias_and_norm
                .unwrap_or(defaults.decay_bias_and_norm),
            grad_accumulation: o.grad_accumulation.unwrap_or(defaults.grad_accumulation),
            sampling: raw.sampling.clone().unwrap_or(defaults.sampling),
            loss_weighting: raw
                .loss_weighting
                .clone()
                .unwrap_or(defaults.loss_weighting),
            freeze: raw.freeze.clone(),
            gradual_unfreezing: raw.gradual_unfreezing,
            cache_features: raw.cache_features,
            max_steps: raw.max_steps,
            precision: raw.precision,
            ..defaults
        };
        for t in &tasks {
            if let Some(lr) = t.head_lr {
                train.head_lr_overrides.insert(t.name.clone(), lr);
            }
        }
        if let LossWeighting::Fixed(weights) = &train.loss_weighting {
            if let Some(unknown) = weights.keys().find(|k| !names.contains(*k)) {
                return Err(ConfigError::Invalid {
                    path: path.to_path_buf(),
                    line: 1,
                    key: "loss_weighting".into(),
                    message: format!("weights task {unknown:?}, which no [[tasks]] table names"),
                });
            }
        }
        train.validate().map_err(|e| ConfigError::Invalid {
            path: path.to_path_buf(),
            line: 1,
            key: "(run)".into(),
            message: e.to_string(),
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            model,
            device: raw.device,
            train,
            checkpoint_every_steps: raw.checkpoint_every_steps,
            tasks,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<RunConfig, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("m")).unwrap();
        std::fs::write(dir.path().join("a.tsv"), "x\ty\n").unwrap();
        std::fs::write(dir.path().join("b.conll"), "x\tO\n").unwrap();
        RunConfig::parse(&dir.path().join("run.toml"), text)
    }

    const GOOD: &str = r#"
model = "m"
seed = 3
freeze = ["bottom:2", "head:ner"]
sampling = "temperature:2"
loss_weighting = "fixed:topic=1,ner=2"
[optimizer]
head_lr = 0.01
[[tasks]]
name = "topic"
kind = "sentence-classification"
train = "a.tsv"
head_lr = 0.02
[[tasks]]
name = "ner"
kind = "token-classification"
train = "b.conll"
"#;

    #[test]
    fn reads_the_documented_schema() {
        let c = parse(GOOD).unwrap();
        assert_eq!(c.train.seed, 3);
        assert_eq!(c.train.freeze.len(), 2);
        assert_eq!(c.train.sampling, SamplingStrategy::Temperature(2.0));
        assert_eq!(c.train.head_lr, 0.01);
        assert_eq!(c.train.head_lr_overrides["topic"], 0.02);
        assert_eq!(c.tasks[0].format, DataFormat::Tsv);
        assert_eq!(c.tasks[1].format, DataFormat::Conll);
        assert!(c.tasks[0].head_hidden.is_none());
        assert_eq!(c.train.precision, TrainPrecision::Fp32, "fp32 unless asked");
        let bf16 = parse(&GOOD.replace("seed = 3", "seed = 3\nprecision = \"bf16\"")).unwrap();
        assert_eq!(bf16.train.precision, TrainPrecision::Bf16);
    }

    fn err(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn mistakes_name_the_file_the_key_and_the_line() {
        let e = err(&GOOD.replace("seed = 3", "seed = 3\nsede = 4"));
        assert!(
            e.contains("run.toml") && e.contains("sede") && e.contains("line 4"),
            "{e}"
        );
        let e = err(&GOOD.replace("bottom:2", "botom:2"));
        assert!(e.contains("botom:2"), "{e}");
        let e = err(&GOOD.replace("seed = 3", "seed = \"three\""));
        assert!(e.contains("seed") || e.contains("line 3"), "{e}");
        let e = err(&GOOD.replace("kind = \"token-classification\"", "kind = \"ner\""));
        assert!(e.contains("unknown task kind"), "{e}");
        let e = err(&GOOD.replace("train = \"b.conll\"", "train = \"nope.conll\""));
        assert!(
            e.contains("tasks[1].train") && e.contains("nope.conll") && e.contains(":17:"),
            "{e}"
        );
        let e = err(&GOOD.replace("name = \"ner\"", "name = \"topic\""));
        assert!(e.contains("duplicate task name"), "{e}");
        let e = err(&GOOD.replace("train = \"a.tsv\"\n", ""));
        assert!(e.contains("missing field `train`"), "{e}");
        let e = err(&GOOD.replace("train = \"a.tsv\"", "train = \"a.tsv\"\nformat = \"conll\""));
        assert!(e.contains("tasks[0].format"), "{e}");
        let e = err(&GOOD.replace("head_lr = 0.01", "head_lr = 0.01\nlr = 1"));
        assert!(e.contains("unknown field `lr`"), "{e}");
        let e = err(&GOOD.replace("seed = 3", "seed = 3\nprecision = \"fp16\""));
        assert!(
            e.contains("run.toml")
                && e.contains("precision")
                && e.contains("fp16")
                && e.contains("bf16"),
            "{e}"
        );
        let e = err(&GOOD.replace("ner=2", "nre=2"));
        assert!(e.contains("loss_weighting") && e.contains("nre"), "{e}");
    }
}
