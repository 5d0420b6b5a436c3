use std::path::PathBuf;

/// Everything that can go wrong while opening, reading or writing the index.
///
/// Messages are written for the person at the terminal: each names the thing that
/// is wrong and, where there is one, the setting that fixes it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    OnnxRuntime(#[from] footnote_onnx::Error),

    #[error("embedding model not found at {path}: {reason} (set FOOTNOTE_MODEL_DIR to a directory like ../shared/models/all-MiniLM-L6-v2)")]
    ModelNotFound { path: PathBuf, reason: String },

    #[error("could not load the embedding model: {0}")]
    ModelLoad(String),

    #[error("embedding failed: {0}")]
    Embedding(String),

    #[error(
        "the index in {location} was built with {index}, but this run uses {configured}; \
         re-ingest into a fresh index (another --data-dir or FOOTNOTE_QDRANT_COLLECTION) to switch models"
    )]
    ModelMismatch { location: String, index: String, configured: String },

    #[error("the Qdrant server at {url} does not answer: {reason} (check FOOTNOTE_QDRANT_URL, its gRPC port, usually 6334, and FOOTNOTE_QDRANT_API_KEY)")]
    Unreachable { url: String, reason: String },

    #[error("data directory {0} is in use by another footnote process")]
    Locked(PathBuf),

    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },

    #[error("index manifest in {location} is unreadable: {reason}")]
    Manifest { location: String, reason: String },

    #[error("vector store: {0}")]
    Store(String),

    #[error("no document with id {0:?}")]
    DocumentNotFound(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }
}
