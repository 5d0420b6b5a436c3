use qdrant_edge::bm25_embed::{EdgeBm25, EdgeBm25Config};
use qdrant_edge::external::ordered_float::NotNan;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// BM25 parameters. They shape the stored document vectors (term-frequency
/// saturation and length normalisation happen at write time; IDF is applied by
/// Qdrant at query time), so the index records them and reuses them on open.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bm25Params {
    pub k1: f64,
    pub b: f64,
    /// Expected passage length in tokens after stop-word removal.
    pub avg_len: f64,
}

impl Default for Bm25Params {
    /// k1 and b are the textbook values; `avg_len` is close to the mean passage
    /// length (in stemmed, stop-word-free tokens) that paragraph splitting produces
    /// on the squad2-dev and seed collections. See docs/benchmarks.md.
    fn default() -> Self {
        Bm25Params { k1: 1.2, b: 0.75, avg_len: 60.0 }
    }
}

/// A sparse vector in the index's own terms, independent of the store backend.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SparseVector {
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
}

/// Turns text into BM25 sparse vectors with Qdrant's own tokenizer, English
/// stop words and stemmer, so a Qdrant server would produce the same terms.
pub struct SparseEncoder {
    bm25: EdgeBm25,
    params: Bm25Params,
}

impl std::fmt::Debug for SparseEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SparseEncoder").field("params", &self.params).finish()
    }
}

impl SparseEncoder {
    pub fn new(params: Bm25Params) -> Result<Self> {
        let not_nan = |v: f64| NotNan::new(v).map_err(|e| Error::Store(format!("BM25 parameter: {e}")));
        let config = EdgeBm25Config {
            k: not_nan(params.k1)?,
            b: not_nan(params.b)?,
            avg_len: not_nan(params.avg_len)?,
            language: Some("english".into()),
            ascii_folding: Some(true),
            ..Default::default()
        };
        let bm25 = EdgeBm25::new(config).map_err(|e| Error::Store(format!("BM25: {e}")))?;
        Ok(SparseEncoder { bm25, params })
    }

    pub fn params(&self) -> Bm25Params {
        self.params
    }

    pub fn encode_passage(&self, text: &str) -> SparseVector {
        let v = self.bm25.embed_document(text);
        SparseVector { indices: v.indices, values: v.values }
    }

    pub fn encode_query(&self, text: &str) -> SparseVector {
        let v = self.bm25.embed_query(text);
        SparseVector { indices: v.indices, values: v.values }
    }
}
