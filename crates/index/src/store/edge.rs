//! The embedded backend: Qdrant Edge, the Qdrant engine in-process, on disk.

use std::collections::HashMap;
use std::path::Path;

use qdrant_edge::external::ordered_float::OrderedFloat;
use qdrant_edge::external::uuid::Uuid;
use serde_json::{Map, Value};
use qdrant_edge::{
    Condition, CountRequest, CreateIndex, Distance, EdgeConfig, EdgeShard, EdgeSparseVectorParams,
    EdgeVectorParams, FieldCondition, FieldIndexOperations, Filter, Fusion as EdgeFusion, Match,
    Modifier, NamedQuery, Payload, PayloadFieldSchema, PayloadSchemaType, PointId,
    PointInsertOperations, PointOperations, PointStructPersisted, Prefetch, QueryEnum,
    QueryRequest, ScoringQuery, ScrollRequest, UpdateOperation, ValueVariants, VectorInternal,
    VectorPersisted, VectorStructInternal, VectorStructPersisted, WithPayloadInterface, WithVector,
};

use super::{
    DENSE_VECTOR, Fusion, HybridQuery, INTEGER_INDEXES, KEYWORD_INDEXES, PassageStore, Ranking, SPARSE_VECTOR,
    SUMMARY_FIELDS, StoredPoint, in_document_order, passage_of, payload_of, stored_point_of, summarise_documents,
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
            let keyword = KEYWORD_INDEXES.map(|field| (field, PayloadSchemaType::Keyword));
            let integer = INTEGER_INDEXES.map(|field| (field, PayloadSchemaType::Integer));
            for (field, schema) in keyword.into_iter().chain(integer) {
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
        let payloads = self.scroll(None, include(&SUMMARY_FIELDS))?;
        Ok(summarise_documents(payloads.into_iter().map(|(_, payload)| payload)))
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
