//! Dynamic batching, apart from the model: requests enter one queue, and a
//! dedicated thread takes the inputs of every waiting embedding request,
//! sorts them by length, cuts them into forward passes bounded by
//! `--max-batch-tokens` and returns each request its own rows in its own
//! order. The model behind it is any [`Backend`]; the async side only
//! submits jobs and awaits their answers.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};

use smtl_heads::Prediction;
use tokenizers::Encoding;
use tokio::sync::oneshot;

use super::metrics::ServerMetrics;

/// What the batcher needs of a model. Calls come from one thread, one at a
/// time.
pub trait Backend {
    /// One forward pass over `inputs` (already tokenized), rows in their
    /// order, before any final Normalize module (the server normalizes per
    /// request).
    fn embed(&mut self, inputs: &[&Encoding]) -> Result<Vec<Vec<f32>>, String>;
    /// Predictions of `task` for `lines` (the task's own input format).
    fn predict(&mut self, task: &str, lines: &[&str]) -> Result<Vec<Prediction>, String>;
}

/// The answer to a job: its rows (or predictions), or the model's error.
pub type Reply<T> = oneshot::Sender<Result<T, String>>;

/// The inputs of one embedding request.
pub struct EmbedJob {
    pub inputs: Vec<Encoding>,
    pub reply: Reply<Vec<Vec<f32>>>,
}

/// One `/predict` request: run as it is (its inputs are one task's).
pub struct PredictJob {
    pub task: String,
    pub lines: Vec<String>,
    pub reply: Reply<Vec<Prediction>>,
}

pub enum Job {
    Embed(EmbedJob),
    Predict(PredictJob),
}

impl Job {
    fn inputs(&self) -> usize {
        match self {
            Job::Embed(j) => j.inputs.len(),
            Job::Predict(j) => j.lines.len(),
        }
    }
}

/// How large one forward pass may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    /// Padded tokens (rows x longest row) per pass.
    pub max_batch_tokens: usize,
    /// Rows per pass.
    pub max_batch_requests: usize,
}

/// Why a job was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubmitError {
    /// The queue is at capacity.
    Full,
    /// The batcher has stopped.
    Closed,
}

/// The sending side of the queue, shared by every request handler.
#[derive(Clone)]
pub struct Queue {
    tx: SyncSender<Job>,
    metrics: ServerMetrics,
}

impl Queue {
    /// A queue of at most `capacity` jobs and the receiver for
    /// [`run_batcher`].
    pub fn new(capacity: usize, metrics: ServerMetrics) -> (Self, Receiver<Job>) {
        let (tx, rx) = mpsc::sync_channel(capacity.max(1));
        (Self { tx, metrics }, rx)
    }

    /// Queues `job` without waiting: a full queue is refused at once.
    pub fn submit(&self, job: Job) -> Result<(), SubmitError> {
        let inputs = job.inputs() as i64;
        self.metrics.queue_depth.add(inputs);
        self.tx.try_send(job).map_err(|e| {
            self.metrics.queue_depth.sub(inputs);
            match e {
                TrySendError::Full(_) => SubmitError::Full,
                TrySendError::Disconnected(_) => SubmitError::Closed,
            }
        })
    }
}

/// Cuts inputs of the given token lengths into forward passes: indices
/// sorted from longest to shortest (so each pass pads little), a pass
/// ending before it would exceed either limit. A single input longer than
/// `max_batch_tokens` still gets a pass of its own.
pub fn plan_batches(lengths: &[usize], limits: BatchLimits) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(lengths[i]));
    let mut batches: Vec<Vec<usize>> = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    for i in order {
        let longest = current.first().map_or(lengths[i], |&first| lengths[first]);
        let fits = (current.len() + 1) * longest <= limits.max_batch_tokens
            && current.len() < limits.max_batch_requests;
        if !current.is_empty() && !fits {
            batches.push(std::mem::take(&mut current));
        }
        current.push(i);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    let what = payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "unknown cause".to_string());
    format!("the model failed: {what}")
}

/// Runs the batching loop on the calling thread until every [`Queue`] is
/// dropped and the jobs already queued are answered.
pub fn run_batcher<B: Backend>(
    mut backend: B,
    rx: Receiver<Job>,
    limits: BatchLimits,
    metrics: ServerMetrics,
) {
    let mut pending: VecDeque<Job> = VecDeque::new();
    loop {
        if pending.is_empty() {
            match rx.recv() {
                Ok(job) => pending.push_back(job),
                Err(_) => return,
            }
        }
        while let Ok(job) = rx.try_recv() {
            pending.push_back(job);
        }
        match pending.pop_front() {
            Some(Job::Predict(job)) => {
                metrics.queue_depth.sub(job.lines.len() as i64);
                let lines: Vec<&str> = job.lines.iter().map(String::as_str).collect();
                let result = catch_unwind(AssertUnwindSafe(|| backend.predict(&job.task, &lines)))
                    .unwrap_or_else(|p| Err(panic_message(p)));
                if result.is_ok() {
                    metrics.inputs_predicted.inc_by(lines.len() as u64);
                }
                // The client may have gone: nothing to do then.
                let _ = job.reply.send(result);
            }
            Some(Job::Embed(first)) => {
                // Every embedding request waiting at the front, while their
                // tokens fit one budget (the first always goes).
                let mut tokens: usize = first.inputs.iter().map(Encoding::len).sum();
                let mut jobs = vec![first];
                while let Some(Job::Embed(next)) = pending.front() {
                    let more: usize = next.inputs.iter().map(Encoding::len).sum();
                    if tokens + more > limits.max_batch_tokens {
                        break;
                    }
                    tokens += more;
                    let Some(Job::Embed(next)) = pending.pop_front() else {
                        unreachable!("the front was an embedding job")
                    };
                    jobs.push(next);
                }
                embed_jobs(&mut backend, jobs, limits, &metrics);
            }
            None => {}
        }
    }
}

/// Embeds the inputs of `jobs` together and answers each job.
fn embed_jobs<B: Backend>(
    backend: &mut B,
    jobs: Vec<EmbedJob>,
    limits: BatchLimits,
    metrics: &ServerMetrics,
) {
    // (job, input) of every input, in submission order.
    let owners: Vec<(usize, usize)> = jobs
        .iter()
        .enumerate()
        .flat_map(|(j, job)| (0..job.inputs.len()).map(move |i| (j, i)))
        .collect();
    metrics.queue_depth.sub(owners.len() as i64);
    let lengths: Vec<usize> = owners
        .iter()
        .map(|&(j, i)| jobs[j].inputs[i].len())
        .collect();
    let mut rows: Vec<Vec<Option<Vec<f32>>>> =
        jobs.iter().map(|j| vec![None; j.inputs.len()]).collect();
    let mut failure: Option<String> = None;
    for batch in plan_batches(&lengths, limits) {
        let encodings: Vec<&Encoding> = batch
            .iter()
            .map(|&k| &jobs[owners[k].0].inputs[owners[k].1])
            .collect();
        let longest = encodings.first().map_or(0, |e| e.len());
        metrics.batch_size.observe(batch.len() as f64);
        metrics.batch_tokens.observe((batch.len() * longest) as f64);
        let result = catch_unwind(AssertUnwindSafe(|| backend.embed(&encodings)))
            .unwrap_or_else(|p| Err(panic_message(p)));
        match result {
            Ok(out) if out.len() == batch.len() => {
                for (&k, row) in batch.iter().zip(out) {
                    let (j, i) = owners[k];
                    rows[j][i] = Some(row);
                }
            }
            Ok(out) => {
                failure = Some(format!(
                    "the model returned {} rows for {} inputs",
                    out.len(),
                    batch.len()
                ));
                break;
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    for (job, job_rows) in jobs.into_iter().zip(rows) {
        let answer = match &failure {
            Some(e) => Err(e.clone()),
            None => {
                metrics.inputs_embedded.inc_by(job_rows.len() as u64);
                Ok(job_rows
                    .into_iter()
                    .map(|r| r.expect("every input is in one batch"))
                    .collect())
            }
        };
        let _ = job.reply.send(answer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokenizers::Token;

    /// An encoding of `len` tokens whose ids all equal `tag`.
    fn encoding(tag: u32, len: usize) -> Encoding {
        let tokens = (0..len)
            .map(|k| Token::new(tag, format!("t{k}"), (k, k + 1)))
            .collect();
        Encoding::from_tokens(tokens, 0)
    }

    /// Rows `[tag, len]`, and a record of each pass's lengths.
    #[derive(Default)]
    struct Echo {
        passes: std::sync::Arc<std::sync::Mutex<Vec<Vec<usize>>>>,
    }

    impl Backend for Echo {
        fn embed(&mut self, inputs: &[&Encoding]) -> Result<Vec<Vec<f32>>, String> {
            let lengths = inputs.iter().map(|e| e.len()).collect();
            self.passes.lock().unwrap().push(lengths);
            Ok(inputs
                .iter()
                .map(|e| vec![e.get_ids()[0] as f32, e.len() as f32])
                .collect())
        }
        fn predict(&mut self, _: &str, lines: &[&str]) -> Result<Vec<Prediction>, String> {
            if lines.contains(&"boom") {
                panic!("boom");
            }
            Ok(Vec::new())
        }
    }

    #[test]
    fn batches_are_length_sorted_and_bounded_by_padded_tokens() {
        let limits = BatchLimits {
            max_batch_tokens: 20,
            max_batch_requests: 3,
        };
        let lengths = [3, 10, 4, 9, 2, 2, 25];
        let batches = plan_batches(&lengths, limits);
        // 25 alone (over the budget), 10+9 (3 x 10 > 20), 4+3+2 (rows cap), 2.
        assert_eq!(batches, vec![vec![6], vec![1, 3], vec![2, 0, 4], vec![5]]);
        for b in &batches {
            let longest = lengths[b[0]];
            assert!(b.len() == 1 || b.len() * longest <= 20);
            assert!(b.len() <= 3);
        }
    }

    #[test]
    fn every_request_gets_its_own_rows_in_its_own_order() {
        let metrics = ServerMetrics::new();
        let (queue, rx) = Queue::new(16, metrics.clone());
        let mut answers = Vec::new();
        for job in 0..5u32 {
            let (tx, rx) = oneshot::channel();
            let inputs = (0..=job).map(|k| encoding(job * 100 + k, 1 + ((job + k) % 4) as usize));
            queue
                .submit(Job::Embed(EmbedJob {
                    inputs: inputs.collect(),
                    reply: tx,
                }))
                .unwrap();
            answers.push(rx);
        }
        drop(queue);
        let limits = BatchLimits {
            max_batch_tokens: 40,
            max_batch_requests: 4,
        };
        let echo = Echo::default();
        let passes = echo.passes.clone();
        run_batcher(echo, rx, limits, metrics.clone());
        // All five requests were waiting, so their inputs were batched
        // together: fewer passes than requests, each within the limits.
        let passes = passes.lock().unwrap().clone();
        assert!(passes.len() < 5, "{passes:?}");
        for pass in &passes {
            assert!(pass.len() <= 4 && pass.len() * pass[0] <= 40, "{passes:?}");
            assert!(pass.windows(2).all(|w| w[0] >= w[1]), "{passes:?}");
        }
        for (job, mut answer) in answers.into_iter().enumerate() {
            let rows = answer.try_recv().unwrap().unwrap();
            assert_eq!(rows.len(), job + 1);
            for (k, row) in rows.iter().enumerate() {
                let job = job as u32;
                let k = k as u32;
                assert_eq!(row[0] as u32, job * 100 + k);
                assert_eq!(row[1] as u32, 1 + (job + k) % 4);
            }
        }
        assert_eq!(metrics.inputs_embedded.get(), 15);
        assert_eq!(metrics.queue_depth.get(), 0);
        assert_eq!(metrics.batch_size.get_sample_sum() as u64, 15);
    }

    #[test]
    fn a_panicking_model_answers_an_error_and_the_loop_goes_on() {
        let metrics = ServerMetrics::new();
        let (queue, rx) = Queue::new(4, metrics.clone());
        let (tx1, mut rx1) = oneshot::channel();
        let (tx2, mut rx2) = oneshot::channel();
        queue
            .submit(Job::Predict(PredictJob {
                task: "t".into(),
                lines: vec!["boom".into()],
                reply: tx1,
            }))
            .unwrap();
        queue
            .submit(Job::Embed(EmbedJob {
                inputs: vec![encoding(7, 3)],
                reply: tx2,
            }))
            .unwrap();
        drop(queue);
        let limits = BatchLimits {
            max_batch_tokens: 64,
            max_batch_requests: 8,
        };
        run_batcher(Echo::default(), rx, limits, metrics);
        let err = rx1.try_recv().unwrap().unwrap_err();
        assert!(err.contains("boom"), "{err}");
        assert_eq!(rx2.try_recv().unwrap().unwrap(), vec![vec![7.0, 3.0]]);
    }

    #[test]
    fn a_full_queue_refuses_at_once() {
        let metrics = ServerMetrics::new();
        let (queue, _rx) = Queue::new(1, metrics.clone());
        let job = || {
            let (tx, _) = oneshot::channel();
            Job::Embed(EmbedJob {
                inputs: vec![encoding(1, 2)],
                reply: tx,
            })
        };
        assert_eq!(queue.submit(job()), Ok(()));
        assert_eq!(queue.submit(job()), Err(SubmitError::Full));
        assert_eq!(metrics.queue_depth.get(), 1);
    }
}
