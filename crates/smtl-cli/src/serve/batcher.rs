//! Dynamic batching, apart from the model: requests enter one queue, and a
//! dedicated thread takes the inputs of every waiting embedding request,
//! sorts them by length, cuts them into forward passes bounded by
//! `--max-batch-tokens` and returns each request its own rows in its own
//! order. The model behind it is any [`Backend`]; the async side only
//! submits jobs and awaits their answers.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Mutex;

use smtl_heads::{Example, Prediction};
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
    /// Predictions of `task` for `examples` (read by the task's kind).
    fn predict(&mut self, task: &str, examples: &[Example]) -> Result<Vec<Prediction>, String>;
    /// Whether [`Self::predict`] works here (extra workers embed only).
    fn can_predict(&self) -> bool {
        true
    }
    /// Called once on the worker's own thread before its first call.
    fn enter_thread(&mut self) {}
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
    pub examples: Vec<Example>,
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
            Job::Predict(j) => j.examples.len(),
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

/// What one extra forward pass costs, in padded tokens: the fixed work of
/// a pass (every layer's kernels start, whatever the batch) measured
/// against the work per token (docs/serving.md).
pub const PASS_COST_TOKENS: usize = 64;

/// Cuts inputs of the given token lengths into forward passes: indices
/// sorted from longest to shortest, then cut where the total cost is
/// least, each pass costing its padded tokens (rows x its longest input)
/// plus [`PASS_COST_TOKENS`], within both limits. One pass of mixed
/// lengths pads every row to the longest; a cut per input pays the fixed
/// cost each time; the cut in between is found exactly (dynamic
/// programming over the sorted order). A single input longer than
/// `max_batch_tokens` still gets a pass of its own.
pub fn plan_batches(lengths: &[usize], limits: BatchLimits) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(lengths[i]));
    let n = order.len();
    // best[k]: least cost of the first k sorted inputs; cut[k]: where the
    // last pass of that plan starts.
    let mut best = vec![usize::MAX; n + 1];
    let mut cut = vec![0usize; n + 1];
    best[0] = 0;
    for start in 0..n {
        if best[start] == usize::MAX {
            continue;
        }
        let longest = lengths[order[start]];
        for end in start + 1..=n {
            let rows = end - start;
            let padded = rows * longest;
            if rows > 1 && (rows > limits.max_batch_requests || padded > limits.max_batch_tokens) {
                break;
            }
            let cost = best[start] + padded + PASS_COST_TOKENS;
            if cost < best[end] {
                best[end] = cost;
                cut[end] = start;
            }
        }
    }
    let mut batches = Vec::new();
    let mut end = n;
    while end > 0 {
        let start = cut[end];
        batches.push(order[start..end].to_vec());
        end = start;
    }
    batches.reverse();
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

/// Most waiting inputs one plan looks at (the oldest ones): bounds the
/// planner's work when a flood is queued.
const PLAN_WINDOW: usize = 1024;

/// An input waiting for a forward pass.
struct Waiting {
    job: u64,
    row: usize,
    encoding: Encoding,
}

/// An embedding request whose rows are being computed.
struct Open {
    reply: Reply<Vec<Vec<f32>>>,
    rows: Vec<Option<Vec<f32>>>,
    missing: usize,
}

/// Runs the batching loop until every [`Queue`] is dropped and the jobs
/// already queued are answered: one worker per backend, the first on the
/// calling thread, the others on threads of their own (each backend is one
/// model worker; several share the weights and take turns at the queue).
///
/// Each turn a worker takes every job that has arrived, then one piece of
/// work: a prediction request (only a backend that [`Backend::can_predict`])
/// or one forward pass. For a pass, the waiting inputs (oldest first) are
/// planned by [`plan_batches`] and the planned pass holding the oldest
/// input runs, so that no input waits behind newer ones for ever. A request
/// is answered as soon as its last row is done; inputs that arrive while a
/// pass runs join the next plan.
pub fn run_batcher<B: Backend + Send>(
    backends: Vec<B>,
    rx: Receiver<Job>,
    limits: BatchLimits,
    metrics: ServerMetrics,
) {
    let shared = Shared {
        state: Mutex::new(BatcherState::default()),
        rx: Mutex::new(rx),
    };
    std::thread::scope(|scope| {
        let mut backends = backends.into_iter();
        let first = backends.next();
        for (k, backend) in backends.enumerate() {
            let (shared, metrics) = (&shared, &metrics);
            std::thread::Builder::new()
                .name(format!("smtl-model-{}", k + 1))
                .spawn_scoped(scope, move || work(backend, shared, limits, metrics))
                .expect("a model worker thread starts");
        }
        if let Some(backend) = first {
            work(backend, &shared, limits, &metrics);
        }
    });
}

/// The queue's receiving end and what the workers hold between passes, each
/// behind its own lock: a worker waiting for jobs holds only `rx`, so
/// another can still hand in its rows.
struct Shared {
    state: Mutex<BatcherState>,
    rx: Mutex<Receiver<Job>>,
}

/// One worker's next piece of work.
enum Work {
    Predict(PredictJob),
    /// The pass's inputs, taken out of the queue, with their owners.
    Pass(Vec<Waiting>),
    Stop,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A worker that panicked outside the model leaves consistent state
    // behind (every change is made whole under the lock).
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn work<B: Backend>(mut backend: B, shared: &Shared, limits: BatchLimits, metrics: &ServerMetrics) {
    backend.enter_thread();
    let predicts = backend.can_predict();
    loop {
        match next_work(shared, predicts, limits, metrics) {
            Work::Stop => return,
            Work::Predict(job) => run_prediction(&mut backend, job, metrics),
            Work::Pass(pass) => {
                let rows = run_pass(&mut backend, &pass, metrics);
                lock(&shared.state).deliver(pass, rows, metrics);
            }
        }
    }
}

fn next_work(
    shared: &Shared,
    predicts: bool,
    limits: BatchLimits,
    metrics: &ServerMetrics,
) -> Work {
    loop {
        {
            let mut state = lock(&shared.state);
            if let Ok(rx) = shared.rx.try_lock() {
                state.drain(&rx);
            }
            if predicts {
                if let Some(job) = state.predictions.pop_front() {
                    return Work::Predict(job);
                }
            }
            if !state.waiting.is_empty() {
                return Work::Pass(state.take_pass(limits, metrics));
            }
            if state.closed && (state.predictions.is_empty() || !predicts) {
                return Work::Stop;
            }
        }
        // Nothing to do: wait for a job (another worker may hold the
        // receiver meanwhile; then this one waits for the lock, or for the
        // short timeout, and looks again).
        let rx = lock(&shared.rx);
        match rx.recv_timeout(std::time::Duration::from_millis(50)) {
            Ok(job) => {
                let mut state = lock(&shared.state);
                state.accept(job);
                state.drain(&rx);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => lock(&shared.state).closed = true,
        }
    }
}

/// What the batcher holds between passes.
#[derive(Default)]
struct BatcherState {
    /// Inputs not yet in a pass, oldest first.
    waiting: VecDeque<Waiting>,
    /// Embedding requests with rows still to compute, by id.
    open: std::collections::HashMap<u64, Open>,
    predictions: VecDeque<PredictJob>,
    next_id: u64,
    /// Every queue is dropped: no job will come.
    closed: bool,
}

impl BatcherState {
    /// Takes every job that has arrived.
    fn drain(&mut self, rx: &Receiver<Job>) {
        loop {
            match rx.try_recv() {
                Ok(job) => self.accept(job),
                Err(mpsc::TryRecvError::Empty) => return,
                Err(mpsc::TryRecvError::Disconnected) => {
                    self.closed = true;
                    return;
                }
            }
        }
    }

    /// Plans the oldest waiting inputs and takes out the pass that holds
    /// the oldest.
    fn take_pass(&mut self, limits: BatchLimits, metrics: &ServerMetrics) -> Vec<Waiting> {
        let window = self.waiting.len().min(PLAN_WINDOW);
        let lengths: Vec<usize> = self
            .waiting
            .iter()
            .take(window)
            .map(|w| w.encoding.len())
            .collect();
        let pass = plan_batches(&lengths, limits)
            .into_iter()
            .find(|b| b.contains(&0))
            .expect("the oldest input is in one pass");
        // Out of the queue highest index first, so the others keep their
        // places; then back in the plan's (length-sorted) order.
        let mut by_index: Vec<usize> = pass.clone();
        by_index.sort_unstable_by(|a, b| b.cmp(a));
        let mut taken: std::collections::HashMap<usize, Waiting> = by_index
            .into_iter()
            .map(|k| (k, self.waiting.remove(k).expect("a planned input")))
            .collect();
        metrics.queue_depth.sub(pass.len() as i64);
        pass.iter()
            .map(|k| taken.remove(k).expect("taken once"))
            .collect()
    }

    /// Hands in a pass's rows (or its error): finished requests are answered.
    fn deliver(
        &mut self,
        pass: Vec<Waiting>,
        rows: Result<Vec<Vec<f32>>, String>,
        metrics: &ServerMetrics,
    ) {
        match rows {
            Ok(rows) => {
                for (input, values) in pass.into_iter().zip(rows) {
                    let Some(state) = self.open.get_mut(&input.job) else {
                        continue;
                    };
                    state.rows[input.row] = Some(values);
                    state.missing -= 1;
                    if state.missing == 0 {
                        let state = self.open.remove(&input.job).expect("the job is open");
                        metrics.inputs_embedded.inc_by(state.rows.len() as u64);
                        let rows = state
                            .rows
                            .into_iter()
                            .map(|r| r.expect("every row is done"))
                            .collect();
                        let _ = state.reply.send(Ok(rows));
                    }
                }
            }
            Err(e) => {
                // Every request with a row in the failed pass fails whole;
                // its other inputs leave the queue.
                let failed: std::collections::HashSet<u64> = pass.iter().map(|w| w.job).collect();
                let before = self.waiting.len();
                self.waiting.retain(|w| !failed.contains(&w.job));
                metrics
                    .queue_depth
                    .sub((before - self.waiting.len()) as i64);
                for job in failed {
                    if let Some(state) = self.open.remove(&job) {
                        let _ = state.reply.send(Err(e.clone()));
                    }
                }
            }
        }
    }

    fn accept(&mut self, job: Job) {
        let job = match job {
            Job::Predict(job) => return self.predictions.push_back(job),
            Job::Embed(job) => job,
        };
        let n = job.inputs.len();
        if n == 0 {
            let _ = job.reply.send(Ok(Vec::new()));
            return;
        }
        let id = self.next_id;
        self.next_id += 1;
        self.waiting.extend(
            job.inputs
                .into_iter()
                .enumerate()
                .map(|(row, encoding)| Waiting {
                    job: id,
                    row,
                    encoding,
                }),
        );
        self.open.insert(
            id,
            Open {
                reply: job.reply,
                rows: vec![None; n],
                missing: n,
            },
        );
    }
}

fn run_prediction<B: Backend>(backend: &mut B, job: PredictJob, metrics: &ServerMetrics) {
    let inputs = job.examples.len();
    metrics.queue_depth.sub(inputs as i64);
    let result = catch_unwind(AssertUnwindSafe(|| {
        backend.predict(&job.task, &job.examples)
    }))
    .unwrap_or_else(|p| Err(panic_message(p)));
    if result.is_ok() {
        metrics.inputs_predicted.inc_by(inputs as u64);
    }
    // The client may have gone: nothing to do then.
    let _ = job.reply.send(result);
}

/// One forward pass over `pass` (no lock held).
fn run_pass<B: Backend>(
    backend: &mut B,
    pass: &[Waiting],
    metrics: &ServerMetrics,
) -> Result<Vec<Vec<f32>>, String> {
    let encodings: Vec<&Encoding> = pass.iter().map(|w| &w.encoding).collect();
    let longest = encodings.first().map_or(0, |e| e.len());
    metrics.batch_size.observe(pass.len() as f64);
    metrics.batch_tokens.observe((pass.len() * longest) as f64);
    let result = catch_unwind(AssertUnwindSafe(|| backend.embed(&encodings)))
        .unwrap_or_else(|p| Err(panic_message(p)));
    match result {
        Ok(rows) if rows.len() != pass.len() => Err(format!(
            "the model returned {} rows for {} inputs",
            rows.len(),
            pass.len()
        )),
        other => other,
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
        fn predict(&mut self, _: &str, examples: &[Example]) -> Result<Vec<Prediction>, String> {
            let boom = Example::Sentence {
                text: "boom".into(),
                label: None,
            };
            if examples.contains(&boom) {
                panic!("boom");
            }
            Ok(Vec::new())
        }
    }

    #[test]
    fn passes_are_length_sorted_bounded_and_cut_where_padding_costs_most() {
        let limits = BatchLimits {
            max_batch_tokens: 20,
            max_batch_requests: 3,
        };
        let lengths = [3, 10, 4, 9, 2, 2, 25];
        let batches = plan_batches(&lengths, limits);
        let mut seen: Vec<usize> = batches.concat();
        seen.sort();
        assert_eq!(seen, (0..lengths.len()).collect::<Vec<_>>());
        // 25 alone (over the budget); every other pass within both limits,
        // and each pass no longer than the one before.
        assert_eq!(batches[0], vec![6]);
        for b in &batches {
            assert!(
                b.len() == 1 || (b.len() * lengths[b[0]] <= 20 && b.len() <= 3),
                "{batches:?}"
            );
            assert!(b.windows(2).all(|w| lengths[w[0]] >= lengths[w[1]]));
        }
        for w in batches.windows(2) {
            assert!(
                lengths[*w[0].last().unwrap()] >= lengths[w[1][0]],
                "{batches:?}"
            );
        }

        let roomy = BatchLimits {
            max_batch_tokens: 10_000,
            max_batch_requests: 64,
        };
        // Similar lengths: one pass (padding is cheaper than a second pass).
        assert_eq!(plan_batches(&[10, 10, 2, 2], roomy).len(), 1);
        // One long input among short ones: padding them all to 100 tokens
        // would cost more than a pass of its own.
        let plan = plan_batches(&[2, 2, 100, 2, 2, 2, 2, 2, 2], roomy);
        assert_eq!(plan, vec![vec![2], vec![0, 1, 3, 4, 5, 6, 7, 8]]);
    }

    /// The length of input `k` of request `job` (mixed, some repeated).
    type Lengths = fn(u32, u32) -> u32;

    /// Submits `jobs` requests (request `job` with `inputs(job)` inputs of
    /// `length(job, k)` tokens, ids `job * 100 + k`), runs `workers` Echo
    /// workers until the queue is drained, and checks that every request
    /// got its own rows in its own order. Returns the passes and metrics.
    fn run_and_check(
        jobs: u32,
        inputs: fn(u32) -> u32,
        length: Lengths,
        workers: usize,
        limits: BatchLimits,
    ) -> (Vec<Vec<usize>>, ServerMetrics) {
        let metrics = ServerMetrics::new();
        let (queue, rx) = Queue::new(64, metrics.clone());
        let mut answers = Vec::new();
        for job in 0..jobs {
            let (tx, rx) = oneshot::channel();
            let encodings =
                (0..inputs(job)).map(|k| encoding(job * 100 + k, length(job, k) as usize));
            let job = EmbedJob {
                inputs: encodings.collect(),
                reply: tx,
            };
            queue.submit(Job::Embed(job)).unwrap();
            answers.push(rx);
        }
        drop(queue);
        let echoes: Vec<Echo> = (0..workers).map(|_| Echo::default()).collect();
        let passes: Vec<_> = echoes.iter().map(|e| e.passes.clone()).collect();
        run_batcher(echoes, rx, limits, metrics.clone());
        for (job, mut answer) in (0..jobs).zip(answers) {
            let rows = answer.try_recv().unwrap().unwrap();
            assert_eq!(rows.len() as u32, inputs(job));
            for (k, row) in (0..).zip(&rows) {
                assert_eq!(row, &vec![(job * 100 + k) as f32, length(job, k) as f32]);
            }
        }
        assert_eq!(metrics.queue_depth.get(), 0);
        let passes = passes
            .iter()
            .flat_map(|p| p.lock().unwrap().clone())
            .collect();
        (passes, metrics)
    }

    #[test]
    fn every_request_gets_its_own_rows_in_its_own_order() {
        let limits = BatchLimits {
            max_batch_tokens: 40,
            max_batch_requests: 4,
        };
        let (passes, metrics) =
            run_and_check(5, |job| job + 1, |job, k| 1 + (job + k) % 4, 1, limits);
        // All five requests were waiting, so their inputs were batched
        // together: fewer passes than requests, each within the limits.
        assert!(passes.len() < 5, "{passes:?}");
        for pass in &passes {
            assert!(pass.len() <= 4 && pass.len() * pass[0] <= 40, "{passes:?}");
            assert!(pass.windows(2).all(|w| w[0] >= w[1]), "{passes:?}");
        }
        assert_eq!(metrics.inputs_embedded.get(), 15);
        assert_eq!(metrics.batch_size.get_sample_sum() as u64, 15);
    }

    #[test]
    fn several_workers_answer_every_request_with_its_own_rows() {
        let limits = BatchLimits {
            max_batch_tokens: 24,
            max_batch_requests: 5,
        };
        let (passes, metrics) =
            run_and_check(40, |job| 1 + job % 7, |job, k| 1 + (job * k) % 9, 3, limits);
        let inputs: u32 = (0..40).map(|job| 1 + job % 7).sum();
        assert_eq!(metrics.inputs_embedded.get(), u64::from(inputs));
        assert_eq!(passes.iter().map(Vec::len).sum::<usize>() as u32, inputs);
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
                examples: vec![Example::Sentence {
                    text: "boom".into(),
                    label: None,
                }],
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
        run_batcher(vec![Echo::default()], rx, limits, metrics);
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
