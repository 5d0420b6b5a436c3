use serde::{Deserialize, Serialize};

/// What identifies and describes a document; stored with each of its passages so
/// that a search hit can be shown without a second lookup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentMeta {
    /// Stable id, by default the path relative to the ingested root.
    pub id: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// Hash of the cleaned text and metadata: equal hashes mean nothing to re-embed.
    pub content_hash: String,
}

/// A passage as ingestion produces it, before it has vectors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPassage {
    pub text: String,
    /// Order in the document, from 0.
    pub position: usize,
    /// Character span (start, end) in the document's cleaned text.
    pub span: (usize, usize),
    /// The page the passage starts on (1-based), for formats with pages.
    pub page: Option<u32>,
    /// The heading of the section the passage sits in, for formats that mark
    /// headings as structure (Word, OpenDocument).
    pub section: Option<String>,
}

/// A stored passage with its document's metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Passage {
    pub id: String,
    pub doc_id: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    pub text: String,
    pub position: usize,
    /// Character offsets of this passage in the document's cleaned text.
    pub start: usize,
    pub end: usize,
    /// The page the passage starts on (1-based); absent for formats without pages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page: Option<u32>,
    /// The heading of the section the passage sits in, where the format marks one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section: Option<String>,
}

/// A passage ranked for a question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScoredPassage {
    #[serde(flatten)]
    pub passage: Passage,
    pub score: f32,
}

/// One line of `footnote docs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DocumentSummary {
    pub id: String,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    pub passages: usize,
    pub content_hash: String,
    /// When this version of the document was indexed (RFC 3339, UTC); absent
    /// for documents indexed before that was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added: Option<String>,
}

/// The point id of a passage: derived from the document, its content hash and the
/// passage position, so writing the same document version twice lands on the same
/// points (a re-run after a crash overwrites instead of duplicating).
pub fn point_id(doc_id: &str, content_hash: &str, position: usize) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(doc_id.as_bytes());
    hasher.update(&[0]);
    hasher.update(content_hash.as_bytes());
    hasher.update(&[0]);
    hasher.update(&(position as u64).to_le_bytes());
    let bytes = hasher.finalize();
    let mut id = [0u8; 16];
    id.copy_from_slice(&bytes.as_bytes()[..16]);
    // Mark it as an RFC 4122 version-8 (custom) UUID so every tool reads it as valid.
    id[6] = (id[6] & 0x0f) | 0x80;
    id[8] = (id[8] & 0x3f) | 0x80;
    qdrant_edge::external::uuid::Uuid::from_bytes(id).to_string()
}
