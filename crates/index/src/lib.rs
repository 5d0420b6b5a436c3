//! The passage index that ingestion writes and retrieval reads.
//!
//! Both sides must agree on three things, so they live here and nowhere else:
//! what a passage is ([`Passage`]), how text becomes vectors ([`Embedder`] for dense
//! vectors, [`SparseEncoder`] for BM25), and where the vectors are kept
//! ([`PassageStore`]: Qdrant Edge embedded in the process, or a Qdrant server or
//! cluster). [`Index`] opens a [`Location`] and ties the three together, refusing an
//! index that was built with a different model. It is the one door to the store:
//! the backends themselves are private to this crate.

mod embedder;
mod error;
mod index;
mod passage;
mod sparse;
mod store;
mod text;

pub use embedder::{Embedder, F32_MODEL_FILE, INT8_MODEL_FILE, ModelIdentity, ModelSource, choose_model_file, cpu_has_vnni};
pub use error::{Error, Result};
pub use index::{DocumentState, Index, IndexManifest, Location, OPTIMIZE_EVERY};
pub use passage::{DocumentMeta, DocumentSummary, NewPassage, Passage, ScoredPassage, point_id};
pub use sparse::{Bm25Params, SparseEncoder, SparseVector};
pub use text::{duplicate_key, sentence_spans};
pub use store::qdrant::{MANIFEST_KEY, QdrantSettings};
pub use store::{Fusion, HybridQuery, PassageStore, Ranking, StoredPoint, Totals};
