//! Tokenization as sentence-transformers does it: the model's `tokenizer.json`
//! with padding to the longest sentence of the batch (the shipped file's own
//! padding setting is overridden: all-MiniLM-L6-v2's pads every input to 128),
//! right truncation to `max_seq_length` counting the special tokens, and an
//! optional leading `Lowercase` normalizer for `do_lower_case`.

use std::path::{Path, PathBuf};

use tch::{Device, Tensor};
use tokenizers::normalizers::{Lowercase, NormalizerWrapper, Sequence};
use tokenizers::{
    EncodeInput, Encoding, InputSequence, Tokenizer, TruncationDirection, TruncationParams,
    TruncationStrategy,
};

use crate::{EmbedError, Result};

/// What to do with a sentence longer than `max_seq_length` tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Truncation {
    /// Keep the first `max_seq_length` tokens, as sentence-transformers does.
    #[default]
    Truncate,
    /// Refuse it with [`EmbedError::TooLong`].
    Error,
}

/// A padded batch ready for the backbone.
#[derive(Debug)]
pub struct TokenBatch {
    /// `[batch, seq]` int64 token ids, padded with the pad id.
    pub input_ids: Tensor,
    /// `[batch, seq]` int64, 1 for real tokens and 0 for padding.
    pub attention_mask: Tensor,
    /// Number of real tokens of each sentence (special tokens included).
    pub lengths: Vec<usize>,
    /// For each sentence and token, the index of the word it came from
    /// (`None` for special tokens); words are whitespace-split for
    /// pre-tokenized input, the pre-tokenizer's words otherwise.
    pub word_ids: Vec<Vec<Option<u32>>>,
}

/// The model's tokenizer with sentence-transformers' settings applied.
#[derive(Clone)]
pub struct TextTokenizer {
    inner: Tokenizer,
    max_len: usize,
    pad_id: i64,
    truncation: Truncation,
    path: PathBuf,
}

impl std::fmt::Debug for TextTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextTokenizer")
            .field("path", &self.path)
            .field("max_len", &self.max_len)
            .field("pad_id", &self.pad_id)
            .finish()
    }
}

fn has_lowercase(n: Option<&NormalizerWrapper>) -> bool {
    match n {
        Some(NormalizerWrapper::Lowercase(_)) => true,
        Some(NormalizerWrapper::Sequence(seq)) => seq
            .as_ref()
            .iter()
            .any(|n| matches!(n, NormalizerWrapper::Lowercase(_))),
        _ => false,
    }
}

impl TextTokenizer {
    /// Loads `tokenizer.json`. `max_len` counts special tokens; `pad_id` is
    /// the fallback pad id when the file names none.
    pub fn from_file(
        path: &Path,
        max_len: usize,
        do_lower_case: bool,
        pad_id: i64,
    ) -> Result<Self> {
        if !path.is_file() {
            return Err(EmbedError::Tokenizer {
                path: path.to_path_buf(),
                message: "file not found".into(),
            });
        }
        let mut inner = Tokenizer::from_file(path).map_err(|e| EmbedError::Tokenizer {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let pad_id = inner
            .get_padding()
            .map(|p| i64::from(p.pad_id))
            .or_else(|| inner.token_to_id("[PAD]").map(i64::from))
            .unwrap_or(pad_id);
        // We pad ourselves, per batch, to the longest sentence.
        inner.with_padding(None);
        inner
            .with_truncation(Some(TruncationParams {
                direction: TruncationDirection::Right,
                max_length: max_len,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
            }))
            .map_err(|e| EmbedError::Tokenizer {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
        if do_lower_case && !has_lowercase(inner.get_normalizer()) {
            let mut chain: Vec<NormalizerWrapper> = vec![Lowercase.into()];
            match inner.get_normalizer().cloned() {
                Some(NormalizerWrapper::Sequence(seq)) => chain.extend(seq),
                Some(other) => chain.push(other),
                None => {}
            }
            inner.with_normalizer(Some(NormalizerWrapper::Sequence(Sequence::new(chain))));
        }
        Ok(Self {
            inner,
            max_len,
            pad_id,
            truncation: Truncation::Truncate,
            path: path.to_path_buf(),
        })
    }

    pub fn set_truncation(&mut self, truncation: Truncation) {
        self.truncation = truncation;
    }

    /// Shortens the longest sequence (special tokens included) to `max_len`;
    /// it cannot grow past what the model was loaded with.
    pub fn set_max_len(&mut self, max_len: usize) -> Result<()> {
        if max_len < 2 || max_len > self.max_len {
            return Err(EmbedError::InvalidOption(format!(
                "the longest input must be 2..={} tokens (the model's max_seq_length), got {max_len}",
                self.max_len
            )));
        }
        let mut params = self.inner.get_truncation().cloned().unwrap_or_default();
        params.max_length = max_len;
        self.inner
            .with_truncation(Some(params))
            .map_err(|e| EmbedError::Tokenize(e.to_string()))?;
        self.max_len = max_len;
        Ok(())
    }

    /// Longest sequence, special tokens included.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// The underlying `tokenizers` tokenizer (padding off, truncation on).
    pub fn inner(&self) -> &Tokenizer {
        &self.inner
    }

    fn check_length(&self, index: usize, enc: &Encoding, truncation: Truncation) -> Result<()> {
        if truncation == Truncation::Error && !enc.get_overflowing().is_empty() {
            // Each overflow piece gets its own special tokens from the
            // post-processor: count only the sentence's tokens (stride is 0,
            // so the pieces do not overlap).
            let dropped: usize = enc
                .get_overflowing()
                .iter()
                .map(|o| {
                    o.get_special_tokens_mask()
                        .iter()
                        .filter(|&&m| m == 0)
                        .count()
                })
                .sum();
            return Err(EmbedError::TooLong {
                index,
                tokens: enc.len() + dropped,
                max: self.max_len,
            });
        }
        Ok(())
    }

    /// Tokenizes raw sentences (no padding).
    pub fn encode_texts<S: AsRef<str>>(&self, texts: &[S]) -> Result<Vec<Encoding>> {
        self.encode_texts_with(texts, self.truncation)
    }

    /// As [`Self::encode_texts`] with this call's own rule for over-long
    /// sentences (a server decides it per request).
    pub fn encode_texts_with<S: AsRef<str>>(
        &self,
        texts: &[S],
        truncation: Truncation,
    ) -> Result<Vec<Encoding>> {
        let inputs: Vec<EncodeInput> = texts
            .iter()
            .map(|t| EncodeInput::Single(InputSequence::from(t.as_ref())))
            .collect();
        self.encode_inputs(inputs, truncation)
    }

    /// Tokenizes sentences already split into words (for token classification).
    pub fn encode_words<S: AsRef<str>>(&self, sentences: &[Vec<S>]) -> Result<Vec<Encoding>> {
        self.encode_words_with(sentences, self.truncation)
    }

    /// As [`Self::encode_words`] with this call's own rule for over-long
    /// sentences.
    pub fn encode_words_with<S: AsRef<str>>(
        &self,
        sentences: &[Vec<S>],
        truncation: Truncation,
    ) -> Result<Vec<Encoding>> {
        let inputs: Vec<EncodeInput> = sentences
            .iter()
            .map(|words| {
                let words: Vec<&str> = words.iter().map(|w| w.as_ref()).collect();
                EncodeInput::Single(InputSequence::from(words))
            })
            .collect();
        self.encode_inputs(inputs, truncation)
    }

    fn encode_inputs(
        &self,
        inputs: Vec<EncodeInput>,
        truncation: Truncation,
    ) -> Result<Vec<Encoding>> {
        let encodings = self
            .inner
            .encode_batch(inputs, true)
            .map_err(|e| EmbedError::Tokenize(e.to_string()))?;
        for (i, enc) in encodings.iter().enumerate() {
            self.check_length(i, enc, truncation)?;
        }
        Ok(encodings)
    }

    /// Pads `encodings` to the longest one and moves them to `device`.
    pub fn pad(&self, encodings: &[&Encoding], device: Device) -> TokenBatch {
        let width = encodings.iter().map(|e| e.len()).max().unwrap_or(0);
        let mut ids = Vec::with_capacity(encodings.len() * width);
        let mut mask = Vec::with_capacity(encodings.len() * width);
        for enc in encodings {
            ids.extend(enc.get_ids().iter().map(|&i| i64::from(i)));
            ids.extend(std::iter::repeat_n(self.pad_id, width - enc.len()));
            mask.extend(std::iter::repeat_n(1i64, enc.len()));
            mask.extend(std::iter::repeat_n(0i64, width - enc.len()));
        }
        let shape = [encodings.len() as i64, width as i64];
        TokenBatch {
            input_ids: Tensor::from_slice(&ids).view(shape).to_device(device),
            attention_mask: Tensor::from_slice(&mask).view(shape).to_device(device),
            lengths: encodings.iter().map(|e| e.len()).collect(),
            word_ids: encodings
                .iter()
                .map(|e| e.get_word_ids().to_vec())
                .collect(),
        }
    }
}
