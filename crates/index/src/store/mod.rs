//! Where passages and their vectors live.
//!
//! The trait is the contract a backend meets: the same collection layout (a named
//! dense vector, a BM25 sparse vector with the IDF modifier, the passage payload
//! and indexes on `doc_id`, `content_hash` and `position`) and the same hybrid
//! query, so the embedded engine ([`edge`]) and a Qdrant server ([`qdrant`]) rank
//! identically. The payload is written and read by the functions at the bottom of
//! this file, the same for both.

pub(crate) mod edge;
pub(crate) mod qdrant;

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::{DocumentMeta, DocumentSummary, NewPassage, Passage, Result, ScoredPassage, SparseVector};

/// Name of the dense vector in the collection.
pub const DENSE_VECTOR: &str = "dense";
/// Name of the BM25 sparse vector in the collection.
pub const SPARSE_VECTOR: &str = "bm25";
/// Payload fields with an index: the filters of every write and of `--doc`.
pub const KEYWORD_INDEXES: [&str; 2] = ["doc_id", "content_hash"];
pub const INTEGER_INDEXES: [&str; 1] = ["position"];

/// A passage ready to store: its payload and both vectors.
#[derive(Debug, Clone)]
pub struct StoredPoint {
    pub id: String,
    pub document: DocumentMeta,
    /// How many passages the document version has; lets readers tell a complete
    /// version from one whose write was interrupted.
    pub document_passages: usize,
    pub passage: NewPassage,
    /// When the document version was written (RFC 3339, UTC); kept when an
    /// index is copied. Points written before it was recorded have none.
    pub added: Option<String>,
    pub dense: Vec<f32>,
    pub sparse: SparseVector,
}

/// What [`PassageStore::totals`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    pub passages: usize,
    /// Document versions with a first passage: the documents, but for a moment
    /// while one is rewritten.
    pub documents: usize,
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
    /// Whether the store answers; what `/readyz` reports.
    fn health(&self) -> Result<()>;
    /// How many passages, and how many document versions (first passages), are
    /// stored: two counts on indexes, cheap at any size.
    fn totals(&self) -> Result<Totals>;
    /// Builds the search structures for what was written (the dense vectors'
    /// HNSW graph and their int8 copies, the sparse inverted index) and waits
    /// until they serve queries.
    fn optimize(&self) -> Result<()>;
    /// Every stored point with its vectors, in pages of about `page` points, for
    /// copying an index to another backend without embedding again.
    fn export(&self, page: usize, each: &mut dyn FnMut(Vec<StoredPoint>) -> Result<()>) -> Result<()>;
}

/// The payload stored with a passage: its document's metadata, so a hit can be
/// shown without a second lookup, and its place in the document.
pub(crate) fn payload_of(point: &StoredPoint) -> Map<String, Value> {
    let StoredPoint { document, document_passages, passage, added, .. } = point;
    let payload = json!({
        "doc_id": document.id,
        "title": document.title,
        "source": document.source,
        "date": document.date,
        "content_hash": document.content_hash,
        "document_passages": document_passages,
        "position": passage.position,
        "start": passage.span.0,
        "end": passage.span.1,
        "page": passage.page,
        "section": passage.section,
        "text": passage.text,
        "added": added,
    });
    let Value::Object(payload) = payload else { unreachable!("json! of an object") };
    payload
}

/// The passage a stored point holds; `id` is the point id.
pub(crate) fn passage_of(id: String, payload: &Map<String, Value>) -> Passage {
    Passage {
        id,
        doc_id: string(payload, "doc_id"),
        title: string(payload, "title"),
        source: optional_string(payload, "source"),
        date: optional_string(payload, "date"),
        text: string(payload, "text"),
        position: number(payload, "position"),
        start: number(payload, "start"),
        end: number(payload, "end"),
        page: page(payload),
        section: optional_string(payload, "section"),
    }
}

/// A stored point rebuilt from its payload and vectors (the inverse of writing it).
pub(crate) fn stored_point_of(id: String, payload: &Map<String, Value>, dense: Vec<f32>, sparse: SparseVector) -> StoredPoint {
    StoredPoint {
        id,
        document: DocumentMeta {
            id: string(payload, "doc_id"),
            title: string(payload, "title"),
            source: optional_string(payload, "source"),
            date: optional_string(payload, "date"),
            content_hash: string(payload, "content_hash"),
        },
        document_passages: number(payload, "document_passages"),
        passage: NewPassage {
            text: string(payload, "text"),
            position: number(payload, "position"),
            span: (number(payload, "start"), number(payload, "end")),
            page: page(payload),
            section: optional_string(payload, "section"),
        },
        added: optional_string(payload, "added"),
        dense,
        sparse,
    }
}

/// Payload fields that [`summarise_documents`] reads.
pub(crate) const SUMMARY_FIELDS: [&str; 7] = ["doc_id", "title", "source", "date", "content_hash", "document_passages", "added"];

/// The documents, from the first passage (position 0) of each stored version:
/// the stores find those through the `position` index, so listing costs one read
/// per document, not one per passage (a million passages are some 20,000
/// documents). A document with one version is reported with the passage count
/// that version declares. With more than one (a rewrite under way, or one an
/// interrupted ingest left), each version's passages are counted: the complete
/// version is reported, a partly written one only when it is all there is.
pub(crate) fn summarise_documents(
    heads: impl IntoIterator<Item = Map<String, Value>>,
    count: impl Fn(&str, &str) -> Result<usize>,
) -> Result<Vec<DocumentSummary>> {
    let mut versions: BTreeMap<String, BTreeMap<String, Map<String, Value>>> = BTreeMap::new();
    for head in heads {
        versions.entry(string(&head, "doc_id")).or_default().insert(string(&head, "content_hash"), head);
    }
    let mut documents = Vec::with_capacity(versions.len());
    for (doc_id, heads) in versions {
        let mut counted = Vec::with_capacity(heads.len());
        let several = heads.len() > 1;
        for (hash, head) in heads {
            let passages = if several { count(&doc_id, &hash)? } else { number(&head, "document_passages") };
            counted.push((hash, head, passages));
        }
        let chosen = counted
            .iter()
            .position(|(_, head, passages)| *passages == number(head, "document_passages"))
            .unwrap_or(0);
        let (hash, head, passages) = counted.swap_remove(chosen);
        documents.push(DocumentSummary {
            id: doc_id,
            title: string(&head, "title"),
            source: optional_string(&head, "source"),
            date: optional_string(&head, "date"),
            passages,
            content_hash: hash,
            added: optional_string(&head, "added"),
        });
    }
    Ok(documents)
}

/// Passages in document order, as `passages` returns them.
pub(crate) fn in_document_order(mut passages: Vec<Passage>) -> Vec<Passage> {
    passages.sort_by(|a, b| (&a.doc_id, a.position).cmp(&(&b.doc_id, b.position)));
    passages
}

fn optional_string(payload: &Map<String, Value>, key: &str) -> Option<String> {
    payload.get(key).and_then(Value::as_str).map(str::to_string)
}

fn string(payload: &Map<String, Value>, key: &str) -> String {
    optional_string(payload, key).unwrap_or_default()
}

/// The page a passage starts on; passages written before pages were recorded have none.
fn page(payload: &Map<String, Value>) -> Option<u32> {
    payload.get("page").and_then(Value::as_u64).and_then(|page| u32::try_from(page).ok())
}

fn number(payload: &Map<String, Value>, key: &str) -> usize {
    payload.get(key).and_then(Value::as_u64).unwrap_or_default() as usize
}
