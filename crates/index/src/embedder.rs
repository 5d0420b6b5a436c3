mod model_session;
mod sessions;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use fastembed::{
    InitOptionsUserDefined, Pooling, TextEmbedding, TokenizerFiles, UserDefinedEmbeddingModel,
};
use footnote_onnx::Environment;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The model's input limit in word pieces, including `[CLS]` and `[SEP]`.
/// all-MiniLM-L6-v2 was trained at 256; text past it would be silently cut off.
const MAX_WORD_PIECES: usize = 256;

/// Passages per ONNX run. Passages are sorted by word pieces first, so a batch
/// pads to similar lengths and little work is spent on padding.
const BATCH_SIZE: usize = 32;

/// The int8 file chosen where the CPU multiplies int8 fast: all-MiniLM-L6-v2
/// quantised per output channel (`scripts/setup.sh` writes it). It embeds
/// squad2-dev 2× as fast as the f32 `model.onnx` on a core with VNNI, at a fused
/// MRR@10 0.002 lower; the per-tensor `model-int8.onnx` of the shared folder
/// loses 0.006 (docs/benchmarks.md, "Ingest throughput").
pub const INT8_MODEL_FILE: &str = "model-int8-per-channel.onnx";
/// The full-precision file.
pub const F32_MODEL_FILE: &str = "model.onnx";

/// Which ONNX file of a model directory to load when none is named: the one
/// an existing index was built with (its manifest names it), else for a new
/// index the int8 file on a CPU with VNNI, where int8 runs about twice as fast,
/// and the f32 file elsewhere. Vectors of two files never mix: an index keeps
/// the file it was built with, whatever machine opens it.
pub fn choose_model_file(dir: &Path, recorded: Option<&ModelIdentity>) -> String {
    if let Some(recorded) = recorded {
        return match recorded.name.rsplit_once('/') {
            Some((_, file)) => format!("{file}.onnx"),
            None => F32_MODEL_FILE.to_string(),
        };
    }
    if cpu_has_vnni() && dir.join(INT8_MODEL_FILE).is_file() {
        INT8_MODEL_FILE.to_string()
    } else {
        F32_MODEL_FILE.to_string()
    }
}

/// Whether the CPU has the int8 dot-product instructions (AVX-512 VNNI or AVX-VNNI)
/// that ONNX Runtime's int8 matrix multiplication uses.
pub fn cpu_has_vnni() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512vnni") || std::arch::is_x86_feature_detected!("avxvnni")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Where the embedding model comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSource {
    /// A directory in the layout of `../shared/models/all-MiniLM-L6-v2`
    /// (`model.onnx` or another ONNX file, `tokenizer.json`, `config.json`, ...).
    Directory { path: PathBuf, onnx_file: String },
    /// A fastembed model name (e.g. `AllMiniLML6V2`), downloaded on first use.
    Hub { name: String },
}

impl Default for ModelSource {
    fn default() -> Self {
        ModelSource::Hub { name: "AllMiniLML6V2".into() }
    }
}

/// What the index records about the model that built it. Two sources that give the
/// same vectors (the shared directory and fastembed's download of all-MiniLM-L6-v2)
/// have the same identity, so either can open an index the other built.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelIdentity {
    pub name: String,
    pub dimension: usize,
}

impl std::fmt::Display for ModelIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "model {} ({} dimensions)", self.name, self.dimension)
    }
}

/// Turns text into dense vectors, and counts word pieces with the model's own
/// tokenizer so that passages can be sized to fit the model.
pub struct Embedder {
    sessions: Sessions,
    counter: tokenizers::Tokenizer,
    identity: ModelIdentity,
}

/// The model sessions that embed.
enum Sessions {
    /// One session on all cores, one text or batch at a time: the commands,
    /// which embed a collection or a single question.
    Shared(Mutex<TextEmbedding>),
    /// Single-threaded sessions that embed questions in batches and passages
    /// between them: a server ([`Embedder::load_serving`]).
    Serving(sessions::SessionPool),
}

impl std::fmt::Debug for Embedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedder").field("identity", &self.identity).finish()
    }
}

impl Embedder {
    /// The model with one session on all cores, for the commands.
    pub fn load(source: &ModelSource) -> Result<Self> {
        let environment = footnote_onnx::environment()?;
        let (model, name) = load(source, &environment, None)?;
        let counter = word_piece_counter(&model.tokenizer)?;
        Self::assemble(Sessions::Shared(Mutex::new(model)), counter, name)
    }

    /// The model with `count` single-threaded sessions, each on a thread of its
    /// own, that embed questions in batches and passages between them
    /// ([`sessions`]). A server answering many questions at once serves about
    /// twice as many with two of them on two cores as with one session on both
    /// (docs/benchmarks.md, serving load). From a model directory the sessions
    /// share one copy of the weights ([`model_session`]): with the f32 file a
    /// second session costs about 90 MiB, each further one about 50, where
    /// each took 140 with a copy of its own. From the Hub, fastembed loads each
    /// on its own. With a `count` of 0, the one session on all cores.
    pub fn load_serving(source: &ModelSource, count: usize) -> Result<Self> {
        if count == 0 {
            return Self::load(source);
        }
        let environment = footnote_onnx::environment()?;
        let started = |e: std::io::Error| Error::ModelLoad(format!("cannot start an embedding thread: {e}"));
        let (pool, counter, name) = match source {
            ModelSource::Directory { path, onnx_file } => {
                let sessions = model_session::load(&environment, path, onnx_file, count)?;
                let counter = word_piece_counter(sessions[0].tokenizer())?;
                (sessions::SessionPool::start(sessions).map_err(started)?, counter, directory_model_name(path, onnx_file))
            }
            ModelSource::Hub { .. } => {
                // One after the other: loading one briefly takes twice its final memory.
                let (first, name) = load(source, &environment, Some(1))?;
                let mut sessions = vec![first];
                for _ in 1..count {
                    sessions.push(load(source, &environment, Some(1))?.0);
                }
                let counter = word_piece_counter(&sessions[0].tokenizer)?;
                (sessions::SessionPool::start(sessions).map_err(started)?, counter, name)
            }
        };
        Self::assemble(Sessions::Serving(pool), counter, name)
    }

    fn assemble(sessions: Sessions, counter: tokenizers::Tokenizer, name: String) -> Result<Self> {
        let mut embedder = Embedder { sessions, counter, identity: ModelIdentity { name, dimension: 0 } };
        embedder.identity.dimension = embedder.embed_query("dimension probe")?.len();
        Ok(embedder)
    }

    pub fn identity(&self) -> &ModelIdentity {
        &self.identity
    }

    /// The most word pieces (special tokens included) the model reads.
    pub fn max_word_pieces(&self) -> usize {
        MAX_WORD_PIECES
    }

    /// Word pieces the model would see for `text`, special tokens included.
    pub fn count_word_pieces(&self, text: &str) -> usize {
        self.counter.encode(text, true).map(|e| e.len()).unwrap_or(usize::MAX)
    }

    /// Whole words the tokenizer knows; cleaning uses them to tell a real word
    /// from one damaged by PDF extraction.
    pub fn vocabulary(&self) -> impl Iterator<Item = String> + '_ {
        self.counter
            .get_vocab(false)
            .into_keys()
            .filter(|w| w.chars().all(|c| c.is_alphabetic()))
    }

    pub fn embed_query(&self, text: &str) -> Result<Vec<f32>> {
        match &self.sessions {
            Sessions::Serving(pool) => pool.embed_question(text),
            Sessions::Shared(model) => {
                run(model, &[text])?.pop().ok_or_else(|| Error::Embedding("the model returned no vector".into()))
            }
        }
    }

    /// Embeds many passages, batching texts of similar length together.
    ///
    /// Length is counted in word pieces, what the model pads to. Sorted by
    /// characters instead, squad2-dev took 14–56% longer in three runs: characters per
    /// word piece vary enough (names, numbers, accents) to leave much padding in
    /// each batch (`cargo run --release -p footnote-index --example
    /// embedding_order`, docs/benchmarks.md "Ingest throughput").
    pub fn embed_passages<S: AsRef<str> + Sync>(&self, texts: &[S]) -> Result<Vec<Vec<f32>>> {
        let texts: Vec<&str> = texts.iter().map(AsRef::as_ref).collect();
        let lengths: Vec<usize> = match self.counter.encode_batch(texts.clone(), true) {
            Ok(encodings) => encodings.iter().map(|e| e.len()).collect(),
            Err(_) => texts.iter().map(|t| t.len()).collect(),
        };
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| lengths[i]);
        let model = match &self.sessions {
            Sessions::Serving(pool) => return pool.embed_passages(&texts, &order, &lengths),
            Sessions::Shared(model) => model,
        };
        let mut vectors = vec![Vec::new(); texts.len()];
        for chunk in order.chunks(BATCH_SIZE) {
            let batch: Vec<&str> = chunk.iter().map(|&i| texts[i]).collect();
            for (&i, vector) in chunk.iter().zip(run(model, &batch)?) {
                vectors[i] = vector;
            }
        }
        Ok(vectors)
    }
}

fn run(model: &Mutex<TextEmbedding>, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
    embed(&mut model.lock().unwrap_or_else(|poisoned| poisoned.into_inner()), texts)
}

/// The model's tokenizer without truncation or padding, to count word pieces.
fn word_piece_counter(tokenizer: &tokenizers::Tokenizer) -> Result<tokenizers::Tokenizer> {
    let mut counter = tokenizer.clone();
    counter.with_truncation(None).map_err(|e| Error::ModelLoad(format!("tokenizer: {e}")))?;
    counter.with_padding(None);
    Ok(counter)
}

fn embed(model: &mut TextEmbedding, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
    model.embed(texts, Some(texts.len().max(1))).map_err(|e| Error::Embedding(e.to_string()))
}

impl sessions::EmbedTexts for TextEmbedding {
    fn embed_texts(&mut self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        embed(self, texts)
    }
}

impl sessions::EmbedTexts for model_session::ModelSession {
    fn embed_texts(&mut self, texts: &[&str]) -> Result<Vec<Vec<f32>>> {
        self.embed(texts)
    }
}

/// The model and its name; `threads` limits ONNX Runtime's intra-op threads
/// (all cores when `None`).
fn load(source: &ModelSource, environment: &Environment, threads: Option<usize>) -> Result<(TextEmbedding, String)> {
    match source {
        ModelSource::Directory { path, onnx_file } => {
            Ok((load_directory(path, onnx_file, environment, threads)?, directory_model_name(path, onnx_file)))
        }
        ModelSource::Hub { name } => load_hub(name, environment, threads),
    }
}

fn read(dir: &Path, file: &str) -> Result<Vec<u8>> {
    let path = dir.join(file);
    std::fs::read(&path).map_err(|e| Error::ModelNotFound { path, reason: e.to_string() })
}

/// The tokenizer files of a model directory.
fn tokenizer_files(dir: &Path) -> Result<TokenizerFiles> {
    Ok(TokenizerFiles {
        tokenizer_file: read(dir, "tokenizer.json")?,
        config_file: read(dir, "config.json")?,
        special_tokens_map_file: read(dir, "special_tokens_map.json")?,
        tokenizer_config_file: read(dir, "tokenizer_config.json")?,
    })
}

fn load_directory(dir: &Path, onnx_file: &str, environment: &Environment, threads: Option<usize>) -> Result<TextEmbedding> {
    let model = UserDefinedEmbeddingModel::new(read(dir, onnx_file)?, tokenizer_files(dir)?)
        .with_pooling(Pooling::Mean);
    let mut options =
        InitOptionsUserDefined::new().with_environment(environment.clone()).with_max_length(MAX_WORD_PIECES);
    if let Some(threads) = threads {
        options = options.with_intra_threads(threads);
    }
    guard_panics(|| TextEmbedding::try_new_from_user_defined(model, options))
}

/// `all-MiniLM-L6-v2` for the full-precision file, `all-MiniLM-L6-v2/model-int8`
/// for another file in the same directory.
pub(crate) fn directory_model_name(dir: &Path, onnx_file: &str) -> String {
    let base = dir
        .canonicalize()
        .unwrap_or_else(|_| dir.to_path_buf())
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "model".into());
    match onnx_file {
        F32_MODEL_FILE => base,
        other => format!("{base}/{}", other.trim_end_matches(".onnx")),
    }
}

#[cfg(feature = "download")]
fn load_hub(name: &str, environment: &Environment, threads: Option<usize>) -> Result<(TextEmbedding, String)> {
    use fastembed::{EmbeddingModel, TextInitOptions};
    let model: EmbeddingModel = name.parse().map_err(Error::ModelLoad)?;
    let info = TextEmbedding::get_model_info(&model).map_err(|e| Error::ModelLoad(e.to_string()))?;
    // "Qdrant/all-MiniLM-L6-v2-onnx" is the same model as the shared directory.
    let identity = info
        .model_code
        .rsplit('/')
        .next()
        .unwrap_or(name)
        .trim_end_matches("-onnx")
        .to_string();
    let mut options =
        TextInitOptions::new(model).with_environment(environment.clone()).with_show_download_progress(false);
    if let Some(threads) = threads {
        options = options.with_intra_threads(threads);
    }
    let model = guard_panics(|| TextEmbedding::try_new(options)).map_err(|e| {
        Error::ModelLoad(format!(
            "{e}; offline, set FOOTNOTE_MODEL_DIR to a model directory instead"
        ))
    })?;
    Ok((model, identity))
}

#[cfg(not(feature = "download"))]
fn load_hub(name: &str, _environment: &Environment, _threads: Option<usize>) -> Result<(TextEmbedding, String)> {
    Err(Error::ModelLoad(format!(
        "this build cannot download {name}: set FOOTNOTE_MODEL_DIR to a model directory"
    )))
}

fn guard_panics(
    load: impl FnOnce() -> fastembed::Result<TextEmbedding>,
) -> Result<TextEmbedding> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(load)) {
        Ok(Ok(model)) => Ok(model),
        Ok(Err(e)) => Err(Error::ModelLoad(e.to_string())),
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "ONNX Runtime failed to start".into());
            Err(Error::ModelLoad(message))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_existing_index_keeps_the_file_it_was_built_with() {
        let dir = Path::new("/nonexistent/all-MiniLM-L6-v2");
        let identity = |name: &str| ModelIdentity { name: name.into(), dimension: 384 };
        assert_eq!(choose_model_file(dir, Some(&identity("all-MiniLM-L6-v2"))), "model.onnx");
        assert_eq!(choose_model_file(dir, Some(&identity("all-MiniLM-L6-v2/model-int8"))), "model-int8.onnx");
        assert_eq!(
            choose_model_file(dir, Some(&identity("all-MiniLM-L6-v2/model-int8-per-channel"))),
            INT8_MODEL_FILE
        );
        // The name a file is recorded under leads back to the same file.
        assert_eq!(directory_model_name(dir, INT8_MODEL_FILE), "all-MiniLM-L6-v2/model-int8-per-channel");
    }

    #[test]
    fn a_new_index_takes_int8_only_where_the_file_exists_and_the_cpu_has_vnni() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(choose_model_file(dir.path(), None), F32_MODEL_FILE, "no int8 file: f32");
        std::fs::write(dir.path().join(INT8_MODEL_FILE), b"").unwrap();
        let expected = if cpu_has_vnni() { INT8_MODEL_FILE } else { F32_MODEL_FILE };
        assert_eq!(choose_model_file(dir.path(), None), expected);
    }
}
