//! Single-threaded model sessions for a server: questions in batches first,
//! passages when no question waits.
//!
//! A server answering many people at once embeds many short questions. One ONNX
//! run over eight questions of eleven word pieces costs about 60% of eight runs of
//! one, on one thread (`python3 scripts/ceiling.py`, docs/benchmarks.md). So
//! a session that becomes free takes every question waiting, up to
//! [`MAX_QUESTIONS`], and embeds them together. Nobody waits for a batch to
//! fill: a question that arrives at an idle session is embedded at once, alone.
//!
//! Each session runs on a thread of its own, so two sessions use two cores. A
//! multi-threaded session would spin its idle workers on the cores that the rest
//! of each request (ranking, choosing sentences, HTTP, the database) needs.
//!
//! Passages (documents added while serving) go in small batches between the
//! questions, so that a question waits for at most one of them.
//!
//! On Linux the sessions' threads run at a lower priority (`SESSION_NICE`)
//! than the threads that do the rest of each request. That rest is short and
//! ready the moment its turn comes; run first, it leaves the sessions' queue as
//! the only place a request waits, instead of a second queue behind the model.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, mpsc};
use std::thread::JoinHandle;

use crate::{Error, Result};

/// Most questions in one run. Larger batches gain little per question and make
/// the questions that arrive meanwhile wait longer.
const MAX_QUESTIONS: usize = 4;

/// Word pieces in one run of passages, padding included (a run pads each
/// passage to its longest): at most one passage of the model's full length, or
/// several shorter ones. ONNX Runtime keeps the memory of the largest run a
/// session has made until the server stops; runs of four full-length passages
/// left a server 100 MiB larger after an upload than runs of one do, and were
/// no faster (docs/benchmarks.md, "Serving memory"). It is also the longest a
/// question waits behind passages: 48 ms of one core with the int8 file, 99 ms
/// with f32 (the 90th percentile of an upload's runs).
const PASSAGE_RUN_WORD_PIECES: usize = 256;

/// How many steps of nice value the sessions' threads sit below the thread
/// that starts them (nice 0 is the default, 19 the lowest). Under load, the time
/// between an answer being found and being sent (storing it, HTTP) fell from
/// about 8 ms to 2 ms on average, and p99 by about a tenth (docs/benchmarks.md,
/// serving load). The model gets every cycle nothing else wants, so a lone
/// question is not slower.
#[cfg(target_os = "linux")]
const SESSION_NICE: libc::c_int = 10;

/// What a session of the pool runs: texts in, their vectors out, in order.
pub(super) trait EmbedTexts: Send + 'static {
    fn embed_texts(&mut self, texts: &[&str]) -> Result<Vec<Vec<f32>>>;
}

/// Sessions that embed what is queued for them, questions first.
pub(super) struct SessionPool {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
}

struct Shared {
    queue: Mutex<Queue>,
    arrived: Condvar,
}

#[derive(Default)]
struct Queue {
    questions: VecDeque<Job>,
    passages: VecDeque<Job>,
    closed: bool,
}

/// Texts to embed and where their vectors go, in the same order.
struct Job {
    texts: Vec<String>,
    reply: mpsc::SyncSender<Result<Vec<Vec<f32>>>>,
}

impl SessionPool {
    /// Starts a thread for each session.
    pub(super) fn start<S: EmbedTexts>(sessions: Vec<S>) -> std::io::Result<Self> {
        let shared = Arc::new(Shared { queue: Mutex::new(Queue::default()), arrived: Condvar::new() });
        let workers = sessions
            .into_iter()
            .enumerate()
            .map(|(i, session)| {
                let shared = shared.clone();
                std::thread::Builder::new()
                    .name(format!("embedder-{i}"))
                    .spawn(move || shared.embed_until_closed(session))
            })
            .collect::<std::io::Result<Vec<_>>>()?;
        Ok(SessionPool { shared, workers })
    }

    /// The question's vector, once a session has embedded it.
    pub(super) fn embed_question(&self, text: &str) -> Result<Vec<f32>> {
        let (job, vectors) = Job::new(vec![text.to_string()]);
        self.shared.lock().questions.push_back(job);
        self.shared.arrived.notify_one();
        let mut vectors = receive(vectors)?;
        vectors.pop().ok_or_else(|| Error::Embedding("the model returned no vector".into()))
    }

    /// The passages' vectors, in order: texts of similar length (`order` sorts
    /// them by `word_pieces`) are embedded together, by every session at once.
    pub(super) fn embed_passages(&self, texts: &[&str], order: &[usize], word_pieces: &[usize]) -> Result<Vec<Vec<f32>>> {
        let mut pending = Vec::new();
        {
            let mut queue = self.shared.lock();
            for chunk in passage_runs(order, word_pieces) {
                let (job, vectors) = Job::new(chunk.iter().map(|&i| texts[i].to_string()).collect());
                queue.passages.push_back(job);
                pending.push((chunk, vectors));
            }
        }
        self.shared.arrived.notify_all();
        let mut vectors = vec![Vec::new(); texts.len()];
        for (chunk, embedded) in pending {
            for (&i, vector) in chunk.iter().zip(receive(embedded)?) {
                vectors[i] = vector;
            }
        }
        Ok(vectors)
    }
}

impl Drop for SessionPool {
    /// Lets the sessions finish what is queued, then stops them.
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.arrived.notify_all();
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

impl Job {
    fn new(texts: Vec<String>) -> (Job, mpsc::Receiver<Result<Vec<Vec<f32>>>>) {
        let (reply, vectors) = mpsc::sync_channel(1);
        (Job { texts, reply }, vectors)
    }
}

fn receive(vectors: mpsc::Receiver<Result<Vec<Vec<f32>>>>) -> Result<Vec<Vec<f32>>> {
    vectors.recv().unwrap_or_else(|_| Err(Error::Embedding("the embedding session stopped".into())))
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn embed_until_closed<S: EmbedTexts>(&self, mut session: S) {
        give_way_to_requests();
        while let Some(jobs) = self.next_jobs() {
            for run in similar_lengths(jobs) {
                let texts: Vec<&str> = run.iter().flat_map(|job| job.texts.iter().map(String::as_str)).collect();
                let started = std::time::Instant::now();
                // A panic inside ONNX Runtime fails these texts, not the session's thread.
                let embedded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| session.embed_texts(&texts)));
                tracing::trace!(texts = texts.len(), ms = started.elapsed().as_secs_f64() * 1e3, "embedded");
                let embedded = match embedded {
                    Ok(Ok(vectors)) if vectors.len() == texts.len() => Ok(vectors),
                    Ok(Ok(vectors)) => Err(format!("the model returned {} vectors for {} texts", vectors.len(), texts.len())),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(_) => Err("ONNX Runtime panicked".to_string()),
                };
                match embedded {
                    Ok(vectors) => {
                        let mut vectors = vectors.into_iter();
                        for job in run {
                            let _ = job.reply.send(Ok(vectors.by_ref().take(job.texts.len()).collect()));
                        }
                    }
                    Err(reason) => {
                        for job in run {
                            let _ = job.reply.send(Err(Error::Embedding(reason.clone())));
                        }
                    }
                }
            }
        }
    }

    /// Waits for work: up to [`MAX_QUESTIONS`] questions, oldest first, or when
    /// none waits, one batch of passages. `None` once closed and empty.
    fn next_jobs(&self) -> Option<Vec<Job>> {
        let mut queue = self.lock();
        loop {
            if !queue.questions.is_empty() {
                let take = queue.questions.len().min(MAX_QUESTIONS);
                return Some(queue.questions.drain(..take).collect());
            }
            if let Some(passages) = queue.passages.pop_front() {
                return Some(vec![passages]);
            }
            if queue.closed {
                return None;
            }
            queue = self.arrived.wait(queue).unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }
}

/// Lowers the calling thread's priority by `SESSION_NICE`. Linux keeps a
/// nice value per thread; elsewhere it is one per process, so the sessions keep
/// the default there rather than slow the whole server.
fn give_way_to_requests() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain calls on the calling thread, with no pointers kept. On
        // Linux, nice(2) changes the calling thread only, clamped at 19; -1 is
        // also a valid result, so errno (cleared first) tells a failure.
        let failed = unsafe {
            *libc::__errno_location() = 0;
            libc::nice(SESSION_NICE) == -1 && *libc::__errno_location() != 0
        };
        if failed {
            tracing::debug!("embedding session keeps its priority: {}", std::io::Error::last_os_error());
        }
    }
}

/// Splits passages, sorted by word pieces, into runs of at most
/// [`PASSAGE_RUN_WORD_PIECES`] once padded to the run's longest, one passage
/// at least.
fn passage_runs<'a>(order: &'a [usize], word_pieces: &[usize]) -> Vec<&'a [usize]> {
    let mut runs = Vec::new();
    let mut start = 0;
    for end in 1..=order.len() {
        let padded = (end - start) * word_pieces[order[end - 1]];
        if end - start > 1 && padded > PASSAGE_RUN_WORD_PIECES {
            runs.push(&order[start..end - 1]);
            start = end - 1;
        }
    }
    if start < order.len() {
        runs.push(&order[start..]);
    }
    runs
}

/// Splits questions into runs of similar length: a run pads every text to its
/// longest, so one long question would make the short ones cost as much as it.
fn similar_lengths(mut jobs: Vec<Job>) -> Vec<Vec<Job>> {
    let length = |job: &Job| job.texts.iter().map(String::len).max().unwrap_or(0);
    jobs.sort_by_key(length);
    let mut runs: Vec<Vec<Job>> = Vec::new();
    for job in jobs {
        match runs.last_mut() {
            Some(run) if length(&job) <= 2 * length(&run[0]) + 40 => run.push(job),
            _ => runs.push(vec![job]),
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(text: &str) -> Job {
        Job::new(vec![text.to_string()]).0
    }

    #[test]
    fn passages_share_a_run_up_to_its_word_piece_budget() {
        // Sorted by word pieces: 20, 30, 60, 60, 100, 256, 256.
        let word_pieces = [256, 60, 20, 100, 30, 256, 60];
        let order = [2, 4, 1, 6, 3, 0, 5];
        let runs = passage_runs(&order, &word_pieces);
        // 4 × 60 = 240 fits, adding 100 would pad to 500; 2 × 100 would not fit
        // with the next 256; a full-length passage runs alone.
        assert_eq!(runs, vec![&[2, 4, 1, 6][..], &[3], &[0], &[5]]);
        assert!(passage_runs(&[], &word_pieces).is_empty());
        // A passage over the budget (the tokenizer counts before truncation) still runs.
        assert_eq!(passage_runs(&[0], &[900]), vec![&[0][..]]);
    }

    #[test]
    fn questions_of_similar_length_share_a_run() {
        let long = "why ".repeat(100);
        let jobs = vec![job("who?"), job(&long), job("why did Tokayev call early elections?"), job("when?")];
        let runs: Vec<Vec<usize>> = similar_lengths(jobs).iter().map(|r| r.iter().map(|j| j.texts[0].len()).collect()).collect();
        assert_eq!(runs, vec![vec![4, 5, 37], vec![400]]);
    }
}
