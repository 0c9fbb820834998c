//! Token classification (NER): one BIO tag per word, read from the last
//! layer's token states. Each word's tag sits on its first wordpiece, the
//! other pieces and the special tokens are ignored by the loss
//! ([`crate::align`]); strict IOB2 entity F1 (seqeval's definition).

use smtl_embedding::SentenceEncoder;
use smtl_metrics::EntityReport;
use tch::{Device, Kind, Reduction, Tensor};

use super::HeadKind;
use crate::align::{first_token_of_words, labels_for_tokens};
use crate::metrics::{EntityMetrics, TaskMetrics};
use crate::model::{check_label, wrong_example, Example, Prediction, TaskBatch, TaskSpec};
use crate::{HeadError, Result, IGNORE_INDEX};

#[derive(Debug, Clone, Copy, Default)]
pub struct TokenClassification;

impl HeadKind for TokenClassification {
    fn input_dim(&self, encoder: &SentenceEncoder) -> i64 {
        encoder.hidden_size()
    }

    fn unlabelled(&self, text: &str) -> Result<Example> {
        Ok(Example::Words {
            words: text.split_whitespace().map(str::to_string).collect(),
            tags: None,
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
        let mut words = Vec::with_capacity(examples.len());
        let mut tags = Vec::with_capacity(examples.len());
        for e in examples {
            let Example::Words { words: w, tags: t } = e else {
                return Err(wrong_example(spec, e));
            };
            if let Some(t) = t {
                if t.len() != w.len() {
                    return Err(HeadError::TagLengthMismatch {
                        words: w.len(),
                        tags: t.len(),
                    });
                }
            }
            words.push(w.clone());
            tags.push(
                t.as_ref()
                    .map(|t| {
                        t.iter()
                            .map(|&i| check_label(spec, i))
                            .collect::<Result<Vec<_>>>()
                    })
                    .transpose()?,
            );
        }
        let encodings = tokenizer.encode_words(&words)?;
        let refs: Vec<_> = encodings.iter().collect();
        let tokens = tokenizer.pad(&refs, device);
        let width = tokens.input_ids.size()[1] as usize;
        let word_starts = encodings
            .iter()
            .zip(&words)
            .map(|(e, w)| first_token_of_words(e.get_word_ids(), w.len()))
            .collect();
        let labels = if tags.iter().all(Option::is_some) {
            let mut flat = Vec::with_capacity(examples.len() * width);
            for (enc, t) in encodings.iter().zip(&tags) {
                let mut row = labels_for_tokens(enc.get_word_ids(), t.as_ref().expect("checked"));
                row.resize(width, IGNORE_INDEX);
                flat.extend(row);
            }
            Some(
                Tensor::from_slice(&flat)
                    .view([examples.len() as i64, width as i64])
                    .to_device(device),
            )
        } else {
            None
        };
        Ok(TaskBatch {
            task: spec.name.clone(),
            tokens,
            labels,
            word_starts,
        })
    }

    fn features(
        &self,
        encoder: &SentenceEncoder,
        batch: &TaskBatch,
        train: bool,
    ) -> Result<Tensor> {
        Ok(encoder.token_embeddings(&batch.tokens, train)?)
    }

    fn token_aligned_features(&self) -> bool {
        true
    }

    fn loss(&self, spec: &TaskSpec, logits: &Tensor, targets: &Tensor) -> Tensor {
        logits
            .view([-1, spec.head.num_labels])
            .cross_entropy_loss::<Tensor>(
                &targets.view([-1]),
                None,
                Reduction::Mean,
                IGNORE_INDEX,
                0.0,
            )
    }

    fn decode(
        &self,
        spec: &TaskSpec,
        batch: &TaskBatch,
        logits: &Tensor,
    ) -> Result<Vec<Prediction>> {
        let best = logits
            .argmax(-1, false)
            .to_device(Device::Cpu)
            .to_kind(Kind::Int64);
        let name = |id: usize| spec.labels.get(id).cloned().unwrap_or_default();
        batch
            .word_starts
            .iter()
            .enumerate()
            .map(|(row, starts)| {
                let ids = Vec::<i64>::try_from(best.get(row as i64))?;
                let ids: Vec<usize> = starts
                    .iter()
                    .map(|s| s.map(|p| ids[p] as usize).unwrap_or(0))
                    .collect();
                Ok(Prediction::Tags {
                    tags: ids.iter().map(|&i| name(i)).collect(),
                    ids,
                })
            })
            .collect()
    }

    fn score(
        &self,
        spec: &TaskSpec,
        examples: &[Example],
        predictions: &[Prediction],
    ) -> Result<(f64, TaskMetrics)> {
        let name = |ids: &[usize]| -> Result<Vec<String>> {
            ids.iter()
                .map(|&i| {
                    spec.labels
                        .get(i)
                        .cloned()
                        .ok_or(HeadError::LabelOutOfRange {
                            task: spec.name.clone(),
                            id: i as i64,
                            num_labels: spec.labels.len() as i64,
                        })
                })
                .collect()
        };
        let mut gold = Vec::with_capacity(examples.len());
        let mut pred = Vec::with_capacity(examples.len());
        for (e, p) in examples.iter().zip(predictions) {
            let (Example::Words { tags: Some(t), .. }, Some(p)) = (e, p.tag_ids()) else {
                return Err(HeadError::Unlabelled(spec.name.clone()));
            };
            gold.push(name(t)?);
            pred.push(name(p)?);
        }
        let report = EntityReport::compute(&gold, &pred)?;
        Ok((
            report.f1,
            TaskMetrics::Entities(EntityMetrics {
                entity_f1: report.f1,
                report,
            }),
        ))
    }
}
