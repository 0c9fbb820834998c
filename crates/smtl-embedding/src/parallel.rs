//! Inter-op parallelism: several encoders over one set of weights, each on
//! its own thread with one libtorch thread, each encoding an interleaved
//! share of the input.
//!
//! One encoder using every core forks and joins its threads around each
//! libtorch operation, and the small element-wise operations of short
//! sentences run on one thread while the others wait. With one libtorch
//! thread per encoder nothing waits. Measured on 2 cores
//! (docs/performance.md): int8 +16 %, bf16 and fp32 unchanged; so it is
//! an opt-in type, not what [`SentenceEncoder::encode`] does.

use ndarray::Array2;

use crate::{EmbedError, Result, SentenceEncoder};

/// `workers` encoders sharing the weights of the first
/// ([`SentenceEncoder::shared_handle`]); bf16/int8 weight copies are per
/// worker.
pub struct ParallelEncoder {
    workers: Vec<SentenceEncoder>,
}

impl ParallelEncoder {
    /// Wraps `encoder` and adds `workers - 1` handles on its weights.
    pub fn new(encoder: SentenceEncoder, workers: usize) -> Result<Self> {
        if workers == 0 {
            return Err(EmbedError::InvalidOption(
                "a parallel encoder needs at least one worker".into(),
            ));
        }
        let mut all = Vec::with_capacity(workers);
        for _ in 1..workers {
            all.push(encoder.shared_handle()?);
        }
        all.insert(0, encoder);
        Ok(Self { workers: all })
    }

    pub fn workers(&self) -> usize {
        self.workers.len()
    }

    /// The first worker (options, tokenizer, dimension).
    pub fn encoder(&self) -> &SentenceEncoder {
        &self.workers[0]
    }

    /// Embeds `sentences` into a `[n, dim]` array, rows in the caller's
    /// order: worker w encodes sentences w, w + n, w + 2n, ... on its own
    /// thread with one libtorch intra-op thread. The calling thread's
    /// libtorch thread count is restored afterwards. A
    /// [`EmbedError::TooLong`] names the index in `sentences`.
    pub fn encode<S: AsRef<str> + Sync>(&mut self, sentences: &[S]) -> Result<Array2<f32>> {
        let n = self.workers.len().min(sentences.len()).max(1);
        if n == 1 {
            return self.workers[0].encode(sentences);
        }
        let shares: Vec<Vec<&str>> = (0..n)
            .map(|w| {
                sentences
                    .iter()
                    .skip(w)
                    .step_by(n)
                    .map(AsRef::as_ref)
                    .collect()
            })
            .collect();
        let threads = tch::get_num_threads();
        let outputs = std::thread::scope(|scope| {
            let jobs: Vec<_> = self.workers[..n]
                .iter_mut()
                .zip(&shares)
                // `&mut`: an encoder is Send but not Sync.
                .map(|(worker, share)| {
                    scope.spawn(move || {
                        tch::set_num_threads(1);
                        worker.encode(share)
                    })
                })
                .collect();
            jobs.into_iter()
                .map(|job| job.join().expect("an encoder worker panicked"))
                .collect::<Vec<_>>()
        });
        // Setting one worker's count also changed libtorch's default for
        // threads not yet started: put the caller's back.
        tch::set_num_threads(threads);
        let dim = self.workers[0].embedding_dim() as usize;
        let mut out = Array2::<f32>::zeros((sentences.len(), dim));
        for (w, output) in outputs.into_iter().enumerate() {
            let rows = output.map_err(|e| match e {
                EmbedError::TooLong { index, tokens, max } => EmbedError::TooLong {
                    index: w + index * n,
                    tokens,
                    max,
                },
                other => other,
            })?;
            for (j, row) in rows.rows().into_iter().enumerate() {
                out.row_mut(w + j * n).assign(&row);
            }
        }
        Ok(out)
    }
}
