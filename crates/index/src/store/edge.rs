//! The embedded backend: Qdrant Edge, the Qdrant engine in-process, on disk.

use std::collections::HashMap;
use std::path::Path;

use qdrant_edge::external::ordered_float::OrderedFloat;
use qdrant_edge::external::uuid::Uuid;
use serde_json::{Map, Value};
use qdrant_edge::{
    Condition, CountRequest, ScalarQuantizationConfig, ScalarType, CreateIndex, Distance, EdgeConfig, EdgeShard, EdgeSparseVectorParams,
    EdgeVectorParams, FieldCondition, FieldIndexOperations, Filter, Fusion as EdgeFusion, Match,
    IntegerIndexParams, KeywordIndexParams, Modifier, NamedQuery, Payload, PayloadFieldSchema, PayloadSchemaParams, PointId,
    PointInsertOperations, PointOperations, PointStructPersisted, Prefetch, QueryEnum,
    QueryRequest, ScoringQuery, ScrollRequest, UpdateOperation, ValueVariants, VectorInternal,
    VectorPersisted, VectorStructInternal, VectorStructPersisted, WalOptions, WithPayloadInterface, WithVector,
};

use super::{
    DENSE_VECTOR, Fusion, HybridQuery, INTEGER_INDEXES, KEYWORD_INDEXES, PassageStore, Ranking, SPARSE_VECTOR,
    SUMMARY_FIELDS, StoredPoint, Totals, in_document_order, passage_of, payload_of, stored_point_of, summarise_documents,
};
use crate::{DocumentSummary, Error, Passage, Result, ScoredPassage, SparseVector};

/// Points per scroll page when listing.
const SCROLL_PAGE: usize = 1024;

pub struct EdgeStore {
    shard: EdgeShard,
}

impl std::fmt::Debug for EdgeStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EdgeStore").field("path", &self.shard.path()).finish()
    }
}

fn store_error(e: impl std::fmt::Display) -> Error {
    Error::Store(e.to_string())
}

impl EdgeStore {
    /// Opens the shard under `path`, creating it with the collection layout when absent.
    pub fn open(path: &Path, dimension: usize) -> Result<Self> {
        let exists = path.join("edge_config.json").is_file();
        std::fs::create_dir_all(path).map_err(|e| Error::io(path, e))?;
        let shard = if exists {
            cut_unread_log(&path.join("wal"))?;
            EdgeShard::load(path, None).map_err(store_error)?
        } else {
            let config = layout(dimension);
            let shard = EdgeShard::new(path, config).map_err(store_error)?;
            for (field, schema) in payload_indexes() {
                shard
                    .update(UpdateOperation::FieldIndexOperation(FieldIndexOperations::CreateIndex(
                        CreateIndex { field_name: field.try_into().expect("valid field name"), field_schema: Some(schema) },
                    )))
                    .map_err(store_error)?;
            }
            shard
        };
        let configured = shard.config().vectors.get(DENSE_VECTOR).map(|v| v.size);
        if configured != Some(dimension) {
            return Err(Error::Store(format!(
                "collection at {} has dense vectors of size {configured:?}, the model makes {dimension}",
                path.display()
            )));
        }
        Ok(EdgeStore { shard })
    }

    /// One page of points from `offset` on, and where the next page starts.
    fn scroll_page(
        &self,
        offset: Option<PointId>,
        limit: usize,
        filter: Option<Filter>,
        fields: WithPayloadInterface,
        with_vectors: bool,
    ) -> Result<(Vec<qdrant_edge::Record>, Option<PointId>)> {
        self.shard
            .scroll(ScrollRequest {
                offset,
                limit: Some(limit),
                filter,
                with_payload: Some(fields),
                with_vector: WithVector::Bool(with_vectors),
                order_by: None,
            })
            .map_err(store_error)
    }

    fn scroll(&self, filter: Option<Filter>, fields: WithPayloadInterface) -> Result<Vec<(String, Map<String, Value>)>> {
        let mut payloads = Vec::new();
        let mut offset = None;
        loop {
            let (records, next) = self.scroll_page(offset, SCROLL_PAGE, filter.clone(), fields.clone(), false)?;
            payloads.extend(records.into_iter().map(|r| (r.id.to_string(), r.payload.map(|p| p.0).unwrap_or_default())));
            match next {
                Some(next) => offset = Some(next),
                None => return Ok(payloads),
            }
        }
    }
}

impl PassageStore for EdgeStore {
    fn upsert(&self, points: Vec<StoredPoint>) -> Result<()> {
        if points.is_empty() {
            return Ok(());
        }
        let points = points.into_iter().map(to_point).collect::<Result<Vec<_>>>()?;
        self.shard
            .update(UpdateOperation::PointOperation(PointOperations::UpsertPoints(
                PointInsertOperations::PointsList(points),
            )))
            .map_err(store_error)
    }

    fn delete_document(&self, doc_id: &str, keep_hash: Option<&str>) -> Result<()> {
        let mut filter = document_filter(doc_id);
        if let Some(hash) = keep_hash {
            filter.must_not = Some(vec![keyword_condition("content_hash", hash)]);
        }
        self.shard
            .update(UpdateOperation::PointOperation(PointOperations::DeletePointsByFilter(filter)))
            .map_err(store_error)
    }

    fn count(&self, doc_id: &str, content_hash: Option<&str>) -> Result<usize> {
        let mut filter = document_filter(doc_id);
        if let Some(hash) = content_hash {
            filter.must.get_or_insert_with(Vec::new).push(keyword_condition("content_hash", hash));
        }
        self.shard
            .count(CountRequest { filter: Some(filter), exact: true })
            .map_err(store_error)
    }

    fn documents(&self) -> Result<Vec<DocumentSummary>> {
        let heads = self.scroll(Some(first_passages()), include(&SUMMARY_FIELDS))?;
        summarise_documents(heads.into_iter().map(|(_, payload)| payload), |doc_id, hash| self.count(doc_id, Some(hash)))
    }

    fn passages(&self, doc_id: Option<&str>) -> Result<Vec<Passage>> {
        let payloads = self.scroll(doc_id.map(document_filter), WithPayloadInterface::Bool(true))?;
        Ok(in_document_order(payloads.into_iter().map(|(id, payload)| passage_of(id, &payload)).collect()))
    }

    fn query(&self, query: &HybridQuery) -> Result<Vec<ScoredPassage>> {
        let filter = (!query.documents.is_empty()).then(|| {
            Filter::new_must(Condition::Field(FieldCondition::new_match(
                "doc_id".try_into().expect("valid field name"),
                Match::new_any(qdrant_edge::AnyVariants::Strings(
                    query.documents.iter().cloned().collect(),
                )),
            )))
        });
        let dense = ScoringQuery::Vector(nearest(DENSE_VECTOR, VectorInternal::from(query.dense.clone())));
        let sparse = ScoringQuery::Vector(nearest(
            SPARSE_VECTOR,
            VectorInternal::from(qdrant_edge::SparseVector {
                indices: query.sparse.indices.clone(),
                values: query.sparse.values.clone(),
            }),
        ));
        let prefetch = |scoring: ScoringQuery| Prefetch {
            prefetches: vec![],
            query: Some(scoring),
            limit: query.prefetch_limit.max(query.limit),
            params: None,
            filter: filter.clone(),
            score_threshold: None,
        };
        let (prefetches, scoring, top_filter) = match query.ranking {
            Ranking::Dense => (vec![], dense, filter.clone()),
            Ranking::Sparse => (vec![], sparse, filter.clone()),
            Ranking::Fused(fusion) => {
                let fusion = match fusion {
                    Fusion::Rrf { k, dense_weight, sparse_weight } => EdgeFusion::Rrf {
                        k,
                        weights: Some(vec![OrderedFloat(dense_weight), OrderedFloat(sparse_weight)]),
                    },
                    Fusion::Dbsf => EdgeFusion::Dbsf,
                };
                (vec![prefetch(dense), prefetch(sparse)], ScoringQuery::Fusion(fusion), None)
            }
        };
        let points = self
            .shard
            .query(QueryRequest {
                prefetches,
                query: Some(scoring),
                filter: top_filter,
                score_threshold: None,
                limit: query.limit,
                offset: 0,
                params: None,
                with_vector: WithVector::Bool(false),
                with_payload: WithPayloadInterface::Bool(true),
            })
            .map_err(store_error)?;
        Ok(points
            .into_iter()
            .map(|p| ScoredPassage {
                passage: passage_of(p.id.to_string(), &p.payload.map(|p| p.0).unwrap_or_default()),
                score: p.score,
            })
            .collect())
    }

    fn flush(&self) -> Result<()> {
        self.shard.flush();
        Ok(())
    }

    fn health(&self) -> Result<()> {
        // In-process and on local disk: open is healthy.
        Ok(())
    }

    fn totals(&self) -> Result<Totals> {
        let count = |filter| self.shard.count(CountRequest { filter, exact: true }).map_err(store_error);
        Ok(Totals { passages: count(None)?, documents: count(Some(first_passages()))? })
    }

    fn optimize(&self) -> Result<()> {
        self.shard.optimize().map_err(store_error)?;
        Ok(())
    }

    fn export(&self, page: usize, each: &mut dyn FnMut(Vec<StoredPoint>) -> Result<()>) -> Result<()> {
        let mut offset = None;
        loop {
            let (records, next) = self.scroll_page(offset, page.max(1), None, WithPayloadInterface::Bool(true), true)?;
            let points = records.into_iter().map(exported_point).collect::<Result<Vec<_>>>()?;
            if !points.is_empty() {
                each(points)?;
            }
            match next {
                Some(next) => offset = Some(next),
                None => return Ok(()),
            }
        }
    }
}

fn exported_point(record: qdrant_edge::Record) -> Result<StoredPoint> {
    let id = record.id.to_string();
    let payload = record.payload.map(|p| p.0).unwrap_or_default();
    let mut vectors = match record.vector {
        Some(VectorStructInternal::Named(vectors)) => vectors,
        _ => return Err(Error::Store(format!("point {id} has no named vectors"))),
    };
    let dense = match vectors.remove(DENSE_VECTOR) {
        Some(VectorInternal::Dense(dense)) => dense,
        _ => return Err(Error::Store(format!("point {id} has no dense vector `{DENSE_VECTOR}`"))),
    };
    let sparse = match vectors.remove(SPARSE_VECTOR) {
        Some(VectorInternal::Sparse(sparse)) => SparseVector { indices: sparse.indices, values: sparse.values },
        _ => return Err(Error::Store(format!("point {id} has no sparse vector `{SPARSE_VECTOR}`"))),
    };
    Ok(stored_point_of(id, &payload, dense, sparse))
}

/// The collection a new shard gets, laid out for size: the dense vectors stay
/// on disk (memory-mapped) and are searched through int8 copies kept in memory,
/// then rescored with the originals (a million 384-dimension vectors are 1.5 GB
/// as f32, 384 MB as int8); the BM25 inverted index and the payloads (the
/// passages' text) are memory-mapped too. Segments above Qdrant's indexing
/// threshold get an HNSW graph (Qdrant's defaults, m 16, ef_construct 100) when
/// [`PassageStore::optimize`] runs. docs/benchmarks.md ("Scale") has the
/// measurements behind each choice.
fn layout(dimension: usize) -> EdgeConfig {
    let int8 = ScalarQuantizationConfig { r#type: ScalarType::Int8, quantile: Some(0.99), always_ram: Some(true) };
    EdgeConfig::builder()
        .vector(DENSE_VECTOR, EdgeVectorParams::builder(dimension, Distance::Cosine).on_disk(true).quantization_config(int8.into()).build())
        .sparse_vector(SPARSE_VECTOR, EdgeSparseVectorParams::builder().modifier(Modifier::Idf).on_disk(true).build())
        .on_disk_payload(true)
        // Qdrant's default is 32 MiB per log file; smaller files leave less
        // behind when the log is cut at the next open (`cut_unread_log`).
        .wal_options(WalOptions { segment_capacity: 8 << 20, ..Default::default() })
        .build()
}

/// The payload fields footnote filters on, indexed on disk. Kept in memory,
/// Qdrant Edge rebuilds each field's index into maps of every point's value
/// when it loads a segment: at 1,000,000 passages that was most of the 5.8 s a
/// server took to start. Memory-mapped, they open at once; the filters on
/// them (one document's passages, a content hash) read a few pages.
fn payload_indexes() -> Vec<(&'static str, PayloadFieldSchema)> {
    let keyword = KeywordIndexParams { on_disk: Some(true), ..Default::default() };
    // `position` is only matched (the first passage of a document), never ranged.
    let integer = IntegerIndexParams { lookup: Some(true), range: Some(false), on_disk: Some(true), ..Default::default() };
    let keyword = PayloadFieldSchema::FieldParams(PayloadSchemaParams::Keyword(keyword));
    let integer = PayloadFieldSchema::FieldParams(PayloadSchemaParams::Integer(integer));
    let keyword = KEYWORD_INDEXES.map(|field| (field, keyword.clone()));
    let integer = INTEGER_INDEXES.map(|field| (field, integer.clone()));
    keyword.into_iter().chain(integer).collect()
}

fn nearest(using: &str, query: VectorInternal) -> QueryEnum {
    QueryEnum::Nearest(NamedQuery { query, using: Some(using.to_string()) })
}

fn keyword_condition(field: &str, value: &str) -> Condition {
    Condition::Field(FieldCondition::new_match(
        field.try_into().expect("valid field name"),
        Match::new_value(ValueVariants::String(value.to_string())),
    ))
}

/// Qdrant Edge 0.7.2 writes every update to a write-ahead log that it never
/// reads back (a shard is loaded from its segments, which footnote flushes
/// after every document) and never truncates: the log grew to 47% of a
/// 100,000-passage index on disk, and opening it mapped every file into memory
/// (340 MiB of a server's resident memory). Before a shard is loaded, this
/// deletes the closed log files but the newest, which is what Qdrant's own
/// truncation (`prefix_truncate`, keeping one closed file) leaves: the newest
/// file still fixes the next operation number, so later writes are numbered
/// after everything the segments hold.
fn cut_unread_log(wal: &Path) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(wal) else { return Ok(()) };
    let mut closed: Vec<(u64, std::path::PathBuf)> = entries
        .flatten()
        .filter_map(|entry| {
            let start = entry.file_name().to_str()?.strip_prefix("closed-")?.parse().ok()?;
            Some((start, entry.path()))
        })
        .collect();
    closed.sort();
    closed.pop();
    for (_, file) in closed {
        std::fs::remove_file(&file).map_err(|e| Error::io(&file, e))?;
    }
    Ok(())
}

/// The first passage of every document version.
fn first_passages() -> Filter {
    Filter::new_must(Condition::Field(FieldCondition::new_match(
        "position".try_into().expect("valid field name"),
        Match::new_value(ValueVariants::Integer(0)),
    )))
}

fn document_filter(doc_id: &str) -> Filter {
    Filter::new_must(keyword_condition("doc_id", doc_id))
}

fn include(fields: &[&str]) -> WithPayloadInterface {
    WithPayloadInterface::Fields(fields.iter().map(|f| (*f).try_into().expect("valid field name")).collect())
}

fn to_point(point: StoredPoint) -> Result<PointStructPersisted> {
    let id = Uuid::parse_str(&point.id).map_err(store_error)?;
    let payload = payload_of(&point);
    let StoredPoint { dense, sparse, .. } = point;
    Ok(PointStructPersisted {
        id: PointId::Uuid(id),
        vector: VectorStructPersisted::Named(HashMap::from([
            (DENSE_VECTOR.to_string(), VectorPersisted::Dense(dense)),
            (
                SPARSE_VECTOR.to_string(),
                VectorPersisted::Sparse(qdrant_edge::SparseVector {
                    indices: sparse.indices,
                    values: sparse.values,
                }),
            ),
        ])),
        payload: Some(Payload(payload)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DocumentMeta, NewPassage};

    fn point(position: usize, text: String) -> StoredPoint {
        let document =
            DocumentMeta { id: "big.md".into(), title: "Big".into(), source: None, date: None, content_hash: "h".into() };
        StoredPoint {
            id: crate::point_id(&document.id, &document.content_hash, position),
            document,
            document_passages: 100,
            passage: NewPassage { span: (0, text.len()), text, position, page: None, section: None },
            added: None,
            dense: vec![1.0, 0.0, 0.0, 0.0],
            sparse: SparseVector::default(),
        }
    }

    /// Writes of about 30 MiB fill several 8 MiB log files; reopening leaves one
    /// closed file, and what is written after that is kept and read back.
    #[test]
    fn the_log_is_cut_at_open_and_later_writes_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("qdrant");
        let closed = || std::fs::read_dir(path.join("wal")).unwrap().flatten().filter(|e| e.file_name().to_string_lossy().starts_with("closed-")).count();
        {
            let store = EdgeStore::open(&path, 4).unwrap();
            for round in 0..3 {
                let points = (0..10).map(|i| point(round * 10 + i, "x".repeat(1 << 20))).collect();
                store.upsert(points).unwrap();
            }
            store.flush().unwrap();
        }
        assert!(closed() >= 2, "the writes filled several log files: {}", closed());
        {
            let store = EdgeStore::open(&path, 4).unwrap();
            assert_eq!(closed(), 1, "one closed log file is left");
            assert_eq!(store.count("big.md", None).unwrap(), 30);
            store.upsert(vec![point(30, "after the cut".into())]).unwrap();
            store.flush().unwrap();
        }
        let store = EdgeStore::open(&path, 4).unwrap();
        assert_eq!(store.count("big.md", None).unwrap(), 31, "the write after the cut is kept");
        let texts: Vec<_> = store.passages(Some("big.md")).unwrap().into_iter().map(|p| p.text).collect();
        assert_eq!(texts.last().map(String::as_str), Some("after the cut"));
    }
}
