//! Where passages and their vectors live.
//!
//! The trait is the contract a backend meets: the same collection layout (a named
//! dense vector, a BM25 sparse vector with the IDF modifier, the passage payload
//! and indexes on `doc_id`, `content_hash` and `position`) and the same hybrid
//! query, so a Qdrant server backend can sit behind it and rank identically.

pub mod edge;

use crate::{DocumentMeta, DocumentSummary, NewPassage, Passage, Result, ScoredPassage, SparseVector};

/// Name of the dense vector in the collection.
pub const DENSE_VECTOR: &str = "dense";
/// Name of the BM25 sparse vector in the collection.
pub const SPARSE_VECTOR: &str = "bm25";

/// A passage ready to store: its payload and both vectors.
#[derive(Debug, Clone)]
pub struct StoredPoint {
    pub id: String,
    pub document: DocumentMeta,
    /// How many passages the document version has; lets readers tell a complete
    /// version from one whose write was interrupted.
    pub document_passages: usize,
    pub passage: NewPassage,
    pub dense: Vec<f32>,
    pub sparse: SparseVector,
}

/// How to combine the dense and BM25 rankings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fusion {
    /// Reciprocal rank fusion: score = Σ weight / (k + rank).
    Rrf { k: usize, dense_weight: f32, sparse_weight: f32 },
    /// Distribution-based score fusion: scores normalised per ranking, then summed.
    Dbsf,
}

/// Which ranking a query asks for. The single rankings exist to measure fusion
/// against its parts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Ranking {
    Dense,
    Sparse,
    Fused(Fusion),
}

#[derive(Debug, Clone)]
pub struct HybridQuery {
    pub dense: Vec<f32>,
    pub sparse: SparseVector,
    pub ranking: Ranking,
    /// Candidates each ranking contributes before fusion.
    pub prefetch_limit: usize,
    pub limit: usize,
    /// Restrict to these documents; empty means all.
    pub documents: Vec<String>,
}

pub trait PassageStore: Send + Sync {
    fn upsert(&self, points: Vec<StoredPoint>) -> Result<()>;
    /// Deletes a document's passages, except those of the version `keep_hash` when given.
    fn delete_document(&self, doc_id: &str, keep_hash: Option<&str>) -> Result<()>;
    /// Passages of a document, optionally only those of one version.
    fn count(&self, doc_id: &str, content_hash: Option<&str>) -> Result<usize>;
    fn documents(&self) -> Result<Vec<DocumentSummary>>;
    /// Passages in document order; all documents when `doc_id` is `None`.
    fn passages(&self, doc_id: Option<&str>) -> Result<Vec<Passage>>;
    fn query(&self, query: &HybridQuery) -> Result<Vec<ScoredPassage>>;
    /// Makes every write so far durable.
    fn flush(&self) -> Result<()>;
}
