//! Sentence classification: one label per sentence, read from the pooled
//! sentence embedding (Pooling and Dense, before Normalize: unit-norm
//! inputs would shrink a fresh head's logits), cross-entropy, accuracy and
//! macro-F1.

use smtl_embedding::SentenceEncoder;
use smtl_metrics::ClassificationReport;
use tch::{Device, Kind, Tensor};

use super::HeadKind;
use crate::metrics::TaskMetrics;
use crate::model::{check_label, wrong_example, Example, Prediction, TaskBatch, TaskSpec};
use crate::{HeadError, Result};

#[derive(Debug, Clone, Copy, Default)]
pub struct SentenceClassification;

impl HeadKind for SentenceClassification {
    fn input_dim(&self, encoder: &SentenceEncoder) -> i64 {
        encoder.pooled_dim()
    }

    fn unlabelled(&self, text: &str) -> Result<Example> {
        Ok(Example::Sentence {
            text: text.to_string(),
            label: None,
        })
    }

    fn make_batch(
        &self,
        spec: &TaskSpec,
        encoder: &SentenceEncoder,
        examples: &[&Example],
    ) -> Result<TaskBatch> {
        let tokenizer = encoder.tokenizer();
        let device = encoder.device();
        let mut texts = Vec::with_capacity(examples.len());
        let mut labels = Vec::with_capacity(examples.len());
        for e in examples {
            let Example::Sentence { text, label } = e else {
                return Err(wrong_example(spec, e));
            };
            texts.push(text.as_str());
            labels.push(label.map(|l| check_label(spec, l)).transpose()?);
        }
        let encodings = tokenizer.encode_texts(&texts)?;
        let refs: Vec<_> = encodings.iter().collect();
        let tokens = tokenizer.pad(&refs, device);
        let labels = labels
            .into_iter()
            .collect::<Option<Vec<i64>>>()
            .map(|l| Tensor::from_slice(&l).to_device(device));
        Ok(TaskBatch {
            task: spec.name.clone(),
            tokens,
            labels,
            word_starts: Vec::new(),
        })
    }

    fn features(
        &self,
        encoder: &SentenceEncoder,
        batch: &TaskBatch,
        train: bool,
    ) -> Result<Tensor> {
        let states = encoder.token_embeddings(&batch.tokens, train)?;
        Ok(encoder.pooled_embeddings(&states, &batch.tokens.attention_mask))
    }

    fn loss(&self, _spec: &TaskSpec, logits: &Tensor, targets: &Tensor) -> Tensor {
        logits.cross_entropy_for_logits(targets)
    }

    fn decode(
        &self,
        spec: &TaskSpec,
        _batch: &TaskBatch,
        logits: &Tensor,
    ) -> Result<Vec<Prediction>> {
        // Ids by arg-max of the logits, scores by the softmax probability of
        // that id.
        let ids = logits.argmax(-1, false);
        let best = logits
            .to_kind(Kind::Float)
            .softmax(-1, Kind::Float)
            .gather(-1, &ids.unsqueeze(-1), false)
            .squeeze_dim(-1);
        let ids = Vec::<i64>::try_from(ids.to_device(Device::Cpu).to_kind(Kind::Int64))?;
        let best = Vec::<f64>::try_from(best.to_device(Device::Cpu).to_kind(Kind::Double))?;
        Ok(ids
            .into_iter()
            .zip(best)
            .map(|(i, p)| Prediction::Label {
                id: i as usize,
                label: spec.labels.get(i as usize).cloned().unwrap_or_default(),
                score: p,
            })
            .collect())
    }

    fn score(
        &self,
        spec: &TaskSpec,
        examples: &[Example],
        predictions: &[Prediction],
    ) -> Result<(f64, TaskMetrics)> {
        let mut gold = Vec::with_capacity(examples.len());
        let mut pred = Vec::with_capacity(examples.len());
        for (e, p) in examples.iter().zip(predictions) {
            let (Example::Sentence { label: Some(l), .. }, Some(p)) = (e, p.label_id()) else {
                return Err(HeadError::Unlabelled(spec.name.clone()));
            };
            gold.push(*l);
            pred.push(p);
        }
        let report = ClassificationReport::compute(&gold, &pred, &spec.labels)?;
        Ok((report.accuracy, TaskMetrics::Classification(report)))
    }
}
