//! The embedded backend: Qdrant Edge, the Qdrant engine in-process, on disk.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use qdrant_edge::external::ordered_float::OrderedFloat;
use qdrant_edge::external::serde_json::{Map, Value, json};
use qdrant_edge::external::uuid::Uuid;
use qdrant_edge::{
    Condition, CountRequest, CreateIndex, Distance, EdgeConfig, EdgeShard, EdgeSparseVectorParams,
    EdgeVectorParams, FieldCondition, FieldIndexOperations, Filter, Fusion as EdgeFusion, Match,
    Modifier, NamedQuery, Payload, PayloadFieldSchema, PayloadSchemaType, PointId,
    PointInsertOperations, PointOperations, PointStructPersisted, Prefetch, QueryEnum,
    QueryRequest, ScoringQuery, ScrollRequest, UpdateOperation, ValueVariants, VectorInternal,
    VectorPersisted, VectorStructPersisted, WithPayloadInterface, WithVector,
};

use super::{DENSE_VECTOR, Fusion, HybridQuery, PassageStore, Ranking, SPARSE_VECTOR, StoredPoint};
use crate::{DocumentSummary, Error, Passage, Result, ScoredPassage};

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
            EdgeShard::load(path, None).map_err(store_error)?
        } else {
            let config = EdgeConfig {
                vectors: HashMap::from([(
                    DENSE_VECTOR.to_string(),
                    EdgeVectorParams::builder(dimension, Distance::Cosine).build(),
                )]),
                sparse_vectors: HashMap::from([(
                    SPARSE_VECTOR.to_string(),
                    EdgeSparseVectorParams { modifier: Some(Modifier::Idf), ..Default::default() },
                )]),
                ..Default::default()
            };
            let shard = EdgeShard::new(path, config).map_err(store_error)?;
            for (field, schema) in [
                ("doc_id", PayloadSchemaType::Keyword),
                ("content_hash", PayloadSchemaType::Keyword),
                ("position", PayloadSchemaType::Integer),
            ] {
                shard
                    .update(UpdateOperation::FieldIndexOperation(FieldIndexOperations::CreateIndex(
                        CreateIndex {
                            field_name: field.try_into().expect("valid field name"),
                            field_schema: Some(PayloadFieldSchema::FieldType(schema)),
                        },
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

    fn scroll(&self, filter: Option<Filter>, fields: WithPayloadInterface) -> Result<Vec<Map<String, Value>>> {
        let mut payloads = Vec::new();
        let mut offset = None;
        loop {
            let (records, next) = self
                .shard
                .scroll(ScrollRequest {
                    offset,
                    limit: Some(SCROLL_PAGE),
                    filter: filter.clone(),
                    with_payload: Some(fields.clone()),
                    with_vector: WithVector::Bool(false),
                    order_by: None,
                })
                .map_err(store_error)?;
            payloads.extend(records.into_iter().map(|r| with_id(r.id, r.payload)));
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
        let fields = ["doc_id", "title", "source", "date", "content_hash", "document_passages"];
        let payloads = self.scroll(None, include(&fields))?;
        // Group by (document, version): only a version with all its passages is
        // reported; a partly written one is what an interrupted ingest leaves.
        let mut versions: BTreeMap<(String, String), (Map<String, Value>, usize)> = BTreeMap::new();
        for payload in payloads {
            let key = (string(&payload, "doc_id"), string(&payload, "content_hash"));
            versions.entry(key).or_insert_with(|| (payload, 0)).1 += 1;
        }
        let mut documents: BTreeMap<String, DocumentSummary> = BTreeMap::new();
        for ((doc_id, hash), (payload, count)) in versions {
            let complete = count == number(&payload, "document_passages");
            if complete || !documents.contains_key(&doc_id) {
                documents.insert(
                    doc_id.clone(),
                    DocumentSummary {
                        id: doc_id,
                        title: string(&payload, "title"),
                        source: optional_string(&payload, "source"),
                        date: optional_string(&payload, "date"),
                        passages: count,
                        content_hash: hash,
                    },
                );
            }
        }
        Ok(documents.into_values().collect())
    }

    fn passages(&self, doc_id: Option<&str>) -> Result<Vec<Passage>> {
        let payloads = self.scroll(doc_id.map(document_filter), WithPayloadInterface::Bool(true))?;
        let mut passages: Vec<Passage> = payloads.iter().map(to_passage).collect();
        passages.sort_by(|a, b| (&a.doc_id, a.position).cmp(&(&b.doc_id, b.position)));
        Ok(passages)
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
            .map(|p| ScoredPassage { passage: to_passage(&with_id(p.id, p.payload)), score: p.score })
            .collect())
    }

    fn flush(&self) -> Result<()> {
        self.shard.flush();
        Ok(())
    }
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

fn document_filter(doc_id: &str) -> Filter {
    Filter::new_must(keyword_condition("doc_id", doc_id))
}

fn include(fields: &[&str]) -> WithPayloadInterface {
    WithPayloadInterface::Fields(fields.iter().map(|f| (*f).try_into().expect("valid field name")).collect())
}

fn to_point(point: StoredPoint) -> Result<PointStructPersisted> {
    let id = Uuid::parse_str(&point.id).map_err(store_error)?;
    let StoredPoint { document, document_passages, passage, dense, sparse, .. } = point;
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
        "text": passage.text,
    });
    let Value::Object(payload) = payload else { unreachable!("json! of an object") };
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

/// The payload with the point id folded in as `id`.
fn with_id(id: PointId, payload: Option<Payload>) -> Map<String, Value> {
    let mut map = payload.map(|p| p.0).unwrap_or_default();
    map.insert("id".into(), Value::String(id.to_string()));
    map
}

fn to_passage(payload: &Map<String, Value>) -> Passage {
    Passage {
        id: string(payload, "id"),
        doc_id: string(payload, "doc_id"),
        title: string(payload, "title"),
        source: optional_string(payload, "source"),
        date: optional_string(payload, "date"),
        text: string(payload, "text"),
        position: number(payload, "position"),
        start: number(payload, "start"),
        end: number(payload, "end"),
    }
}

fn optional_string(payload: &Map<String, Value>, key: &str) -> Option<String> {
    payload.get(key).and_then(Value::as_str).map(str::to_string)
}

fn string(payload: &Map<String, Value>, key: &str) -> String {
    optional_string(payload, key).unwrap_or_default()
}

fn number(payload: &Map<String, Value>, key: &str) -> usize {
    payload.get(key).and_then(Value::as_u64).unwrap_or_default() as usize
}
