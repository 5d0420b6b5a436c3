//! The server backend: a Qdrant server or cluster over gRPC, through `qdrant-client`.
//!
//! It keeps the collection layout and the hybrid query of the embedded backend
//! ([`super::edge`]), so the same data ranks the same on either. Writes wait until
//! the server has applied them and are retried on transient errors; the index
//! manifest (model and BM25 parameters) is kept in the collection's metadata, so
//! every instance that opens the collection checks it as the embedded index checks
//! its `index.json`.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use qdrant_client::qdrant::{
    CollectionStatus, Condition, CountPoints, QuantizationConfig, QuantizationType, ScalarQuantization, SparseIndexConfig, quantization_config::Quantization, CreateCollection, CreateFieldIndexCollection, DeletePoints, Distance, FieldType, Filter,
    GetCollectionInfoRequest, IntegerIndexParams, KeywordIndexParams, Modifier, PayloadIndexParams, PointId, PointStruct,
    PointsSelector, PrefetchQuery, Query, payload_index_params::IndexParams,
    QueryPoints, Rrf, ScrollPoints, SparseVectorConfig, SparseVectorParams, UpsertPoints, VectorInput, VectorParams,
    VectorParamsMap, VectorsConfig, WithPayloadSelector, WithVectorsSelector, point_id::PointIdOptions,
    points_selector::PointsSelectorOneOf, query::Variant as QueryVariant, vector_input::Variant as InputVariant,
    vector_output::Vector as OutputVector, vectors_config::Config as VectorsConfigKind,
    vectors_output::VectorsOptions,
};
use qdrant_client::{Payload, Qdrant, QdrantError};
use serde_json::{Map, Value};

use super::{
    DENSE_VECTOR, Fusion, HybridQuery, INTEGER_INDEXES, KEYWORD_INDEXES, PassageStore, Ranking, SPARSE_VECTOR,
    SUMMARY_FIELDS, StoredPoint, Totals, in_document_order, passage_of, payload_of, stored_point_of, summarise_documents,
};
use crate::{DocumentSummary, Error, Passage, Result, ScoredPassage, SparseVector};

/// The collection metadata key under which the index manifest is kept.
pub const MANIFEST_KEY: &str = "footnote_manifest";
/// Points per upsert request: large enough to amortise the round trip, small
/// enough to stay far below gRPC's default 4 MiB message limit (a point is about
/// 2 KiB: 384 floats and a paragraph).
const UPSERT_BATCH: usize = 256;
/// Points per scroll page when listing.
const SCROLL_PAGE: u32 = 1024;
/// Tries of one request before a transient error is reported.
const MAX_TRIES: u32 = 5;

/// Where the server is and how a new collection is laid out across a cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct QdrantSettings {
    /// The gRPC URL, e.g. `http://localhost:6334`.
    pub url: String,
    pub api_key: Option<String>,
    pub collection: String,
    /// Shards of a new collection; Qdrant's default (one per node) when `None`.
    pub shard_number: Option<u32>,
    /// Copies of each shard in a cluster.
    pub replication_factor: Option<u32>,
    /// Copies that must acknowledge a write before it succeeds.
    pub write_consistency_factor: Option<u32>,
    /// Deadline of each request.
    pub timeout: Duration,
}

impl QdrantSettings {
    pub fn new(url: impl Into<String>) -> Self {
        QdrantSettings {
            url: url.into(),
            api_key: None,
            collection: "footnote".into(),
            shard_number: None,
            replication_factor: None,
            write_consistency_factor: None,
            timeout: Duration::from_secs(30),
        }
    }
}

impl std::fmt::Display for QdrantSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Qdrant collection `{}` at {}", self.collection, self.url)
    }
}

/// A collection on a Qdrant server.
///
/// The [`PassageStore`] trait is blocking, because ingestion and the command line
/// are; the store runs the client on a small runtime of its own and waits for each
/// call, so it can be used from any thread, including an async server's blocking
/// pool.
pub struct QdrantStore {
    client: Qdrant,
    settings: QdrantSettings,
    /// Always `Some` until dropped; see the `Drop` impl.
    runtime: Option<tokio::runtime::Runtime>,
}

impl Drop for QdrantStore {
    /// The store may be dropped on an async worker (a server shutting down);
    /// a runtime dropped there would wait for its threads and panic, so it is
    /// told to stop without waiting.
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl std::fmt::Debug for QdrantStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QdrantStore").field("url", &self.settings.url).field("collection", &self.settings.collection).finish()
    }
}

impl QdrantStore {
    /// Connects and checks that the server answers, so a wrong URL or key is
    /// reported at start and not on the first question.
    pub fn connect(settings: &QdrantSettings) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("qdrant-client")
            .enable_all()
            .build()
            .map_err(|e| Error::Store(format!("cannot start the Qdrant client's runtime: {e}")))?;
        let mut config = Qdrant::from_url(&settings.url).timeout(settings.timeout).connect_timeout(Duration::from_secs(10));
        config.api_key = settings.api_key.clone();
        // The client warns on stderr about version differences; the schema check
        // below is what matters to footnote.
        config.check_compatibility = false;
        let client = {
            // tonic needs a runtime while the channel is built.
            let _entered = runtime.enter();
            config.build().map_err(|e| Error::Store(format!("{}: {e}", settings.url)))?
        };
        let store = QdrantStore { client, settings: settings.clone(), runtime: Some(runtime) };
        store.health().map_err(|error| match error {
            Error::Store(reason) => Error::Unreachable { url: settings.url.clone(), reason },
            other => other,
        })?;
        Ok(store)
    }

    pub fn settings(&self) -> &QdrantSettings {
        &self.settings
    }

    /// The index manifest in the collection's metadata; `None` when the collection
    /// does not exist. A collection without the manifest was not made by footnote.
    pub fn manifest(&self) -> Result<Option<Value>> {
        let name = self.settings.collection.clone();
        let exists = self.send("collection_exists", name, |client, name| async move { client.collection_exists(name).await })?;
        if !exists {
            return Ok(None);
        }
        let config = self.collection_config()?;
        let manifest = config.metadata.get(MANIFEST_KEY).cloned().ok_or_else(|| {
            Error::Store(format!(
                "{} exists but was not made by footnote (no `{MANIFEST_KEY}` in its metadata); \
                 set FOOTNOTE_QDRANT_COLLECTION to another name",
                self.settings
            ))
        })?;
        Ok(Some(Value::from(manifest)))
    }

    /// Creates the collection with footnote's layout, the cluster settings and the
    /// manifest, then the payload indexes. Placement is set with the flags every
    /// server since 1.x reads (`on_disk`, `always_ram`, `on_disk_payload`); their
    /// successor, `memory`, is newer than some servers footnote supports.
    #[allow(deprecated)]
    pub fn create(&self, dimension: usize, manifest: Value) -> Result<()> {
        let settings = &self.settings;
        let request = CreateCollection {
            collection_name: settings.collection.clone(),
            vectors_config: Some(VectorsConfig {
                config: Some(VectorsConfigKind::ParamsMap(VectorParamsMap {
                    map: HashMap::from([(
                        DENSE_VECTOR.to_string(),
                        // As in the embedded store (`edge::layout`): originals on
                        // disk, int8 copies in memory, rescored with the originals.
                        VectorParams {
                            size: dimension as u64,
                            distance: Distance::Cosine.into(),
                            on_disk: Some(true),
                            quantization_config: Some(QuantizationConfig {
                                quantization: Some(Quantization::Scalar(ScalarQuantization {
                                    r#type: QuantizationType::Int8.into(),
                                    quantile: Some(0.99),
                                    always_ram: Some(true),
                                    ..Default::default()
                                })),
                            }),
                            ..Default::default()
                        },
                    )]),
                })),
            }),
            sparse_vectors_config: Some(SparseVectorConfig {
                map: HashMap::from([(
                    SPARSE_VECTOR.to_string(),
                    SparseVectorParams {
                        modifier: Some(Modifier::Idf.into()),
                        index: Some(SparseIndexConfig { on_disk: Some(true), ..Default::default() }),
                    },
                )]),
            }),
            shard_number: settings.shard_number,
            replication_factor: settings.replication_factor,
            write_consistency_factor: settings.write_consistency_factor,
            metadata: HashMap::from([(MANIFEST_KEY.to_string(), manifest.into())]),
            on_disk_payload: Some(true),
            ..Default::default()
        };
        self.send("create_collection", request, |client, request| async move { client.create_collection(request).await })?;
        // A server older than collection metadata ignores the field, and the
        // next start would take footnote's own collection for a stranger's.
        if !self.collection_config()?.metadata.contains_key(MANIFEST_KEY) {
            return Err(Error::Store(format!(
                "{settings} kept no collection metadata, where footnote records its model: \
                 use a newer Qdrant (compose.yaml runs v1.20.0)"
            )));
        }
        for (field, kind, params) in payload_indexes() {
            let request = CreateFieldIndexCollection {
                collection_name: settings.collection.clone(),
                wait: Some(true),
                field_name: field.to_string(),
                field_type: Some(kind.into()),
                field_index_params: Some(PayloadIndexParams { index_params: Some(params) }),
                ..Default::default()
            };
            self.send("create_field_index", request, |client, request| async move { client.create_field_index(request).await })?;
        }
        Ok(())
    }

    /// Refuses a collection whose vectors are not the ones footnote writes: the
    /// named dense vector of the model's size with cosine distance, and the BM25
    /// sparse vector with the IDF modifier.
    pub fn check_schema(&self, dimension: usize) -> Result<()> {
        let config = self.collection_config()?;
        let params = config.params.unwrap_or_default();
        let mismatch = |what: String| {
            Error::Store(format!(
                "{} does not match the model: {what}; use another FOOTNOTE_QDRANT_COLLECTION or delete this one",
                self.settings
            ))
        };
        let dense = match params.vectors_config.and_then(|v| v.config) {
            Some(VectorsConfigKind::ParamsMap(map)) => map.map.get(DENSE_VECTOR).cloned(),
            Some(VectorsConfigKind::Params(_)) => {
                return Err(mismatch(format!("it has one unnamed vector, footnote needs one named `{DENSE_VECTOR}`")));
            }
            None => None,
        };
        let Some(dense) = dense else {
            return Err(mismatch(format!("it has no dense vector named `{DENSE_VECTOR}`")));
        };
        if dense.size != dimension as u64 {
            return Err(mismatch(format!(
                "its `{DENSE_VECTOR}` vectors have {} dimensions, the model makes {dimension}",
                dense.size
            )));
        }
        if dense.distance != i32::from(Distance::Cosine) {
            return Err(mismatch(format!("its `{DENSE_VECTOR}` vectors do not use cosine distance")));
        }
        let sparse = params.sparse_vectors_config.and_then(|s| s.map.get(SPARSE_VECTOR).cloned());
        let Some(sparse) = sparse else {
            return Err(mismatch(format!("it has no sparse vector named `{SPARSE_VECTOR}`")));
        };
        if sparse.modifier != Some(i32::from(Modifier::Idf)) {
            return Err(mismatch(format!("its `{SPARSE_VECTOR}` vectors lack the IDF modifier BM25 needs")));
        }
        Ok(())
    }

    fn collection_config(&self) -> Result<qdrant_client::qdrant::CollectionConfig> {
        let request = GetCollectionInfoRequest { collection_name: self.settings.collection.clone() };
        let info = self.send("collection_info", request, |client, request| async move { client.collection_info(request).await })?;
        info.result
            .and_then(|info| info.config)
            .ok_or_else(|| Error::Store(format!("{} sent no collection configuration", self.settings)))
    }

    /// Runs one request on the store's runtime and waits for it, retrying
    /// transient failures (unavailable, deadline, overload) with backoff. The
    /// request is rebuilt from `make` on every try.
    fn call<T, F, Fut>(&self, what: &str, make: F) -> Result<T>
    where
        T: Send + 'static,
        F: Fn(Qdrant) -> Fut,
        Fut: Future<Output = std::result::Result<T, QdrantError>> + Send + 'static,
    {
        let mut delay = Duration::from_millis(200);
        for attempt in 1..=MAX_TRIES {
            let future = make(self.client.clone());
            let (sender, receiver) = std::sync::mpsc::channel();
            // Spawned and received over a channel rather than `block_on`, so the
            // call works from inside another runtime too.
            let runtime = self.runtime.as_ref().expect("the runtime lives as long as the store");
            runtime.spawn(async move {
                let _ = sender.send(future.await);
            });
            let outcome = receiver.recv().map_err(|_| Error::Store(format!("{what}: the Qdrant client stopped")))?;
            match outcome {
                Ok(value) => return Ok(value),
                Err(error) if attempt < MAX_TRIES && is_transient(&error) => {
                    let wait = match &error {
                        QdrantError::ResourceExhaustedError { retry_after_seconds, .. } => {
                            Duration::from_secs(*retry_after_seconds).max(delay)
                        }
                        _ => delay,
                    };
                    tracing::warn!("{what} on {} failed ({}); trying again in {wait:?}", self.settings, describe(&error));
                    std::thread::sleep(wait);
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
                Err(error) => return Err(Error::Store(format!("{what} on {}: {}", self.settings, describe(&error)))),
            }
        }
        unreachable!("the last try returns")
    }

    /// [`call`](Self::call) with a request that is sent again as it is on a retry.
    fn send<R, T, F, Fut>(&self, what: &str, request: R, send: F) -> Result<T>
    where
        R: Clone,
        T: Send + 'static,
        F: Fn(Qdrant, R) -> Fut,
        Fut: Future<Output = std::result::Result<T, QdrantError>> + Send + 'static,
    {
        self.call(what, |client| send(client, request.clone()))
    }

    fn scroll_page(
        &self,
        offset: Option<PointId>,
        limit: u32,
        filter: Option<Filter>,
        with_payload: WithPayloadSelector,
        with_vectors: bool,
    ) -> Result<(Vec<qdrant_client::qdrant::RetrievedPoint>, Option<PointId>)> {
        let request = ScrollPoints {
            collection_name: self.settings.collection.clone(),
            filter,
            offset,
            limit: Some(limit),
            with_payload: Some(with_payload),
            with_vectors: Some(WithVectorsSelector::from(with_vectors)),
            ..Default::default()
        };
        let response = self.send("scroll", request, |client, request| async move { client.scroll(request).await })?;
        Ok((response.result, response.next_page_offset))
    }

    fn scroll(&self, filter: Option<Filter>, with_payload: WithPayloadSelector) -> Result<Vec<(String, Map<String, Value>)>> {
        let mut payloads = Vec::new();
        let mut offset = None;
        loop {
            let (points, next) = self.scroll_page(offset, SCROLL_PAGE, filter.clone(), with_payload.clone(), false)?;
            payloads.extend(points.into_iter().map(|p| (id_string(p.id), json_payload(p.payload))));
            match next {
                Some(next) => offset = Some(next),
                None => return Ok(payloads),
            }
        }
    }

    fn count_where(&self, filter: Option<Filter>) -> Result<usize> {
        let request =
            CountPoints { collection_name: self.settings.collection.clone(), filter, exact: Some(true), ..Default::default() };
        let response = self.send("count", request, |client, request| async move { client.count(request).await })?;
        Ok(response.result.map(|r| r.count as usize).unwrap_or_default())
    }

    fn delete(&self, filter: Filter) -> Result<()> {
        let request = DeletePoints {
            collection_name: self.settings.collection.clone(),
            wait: Some(true),
            points: Some(PointsSelector { points_selector_one_of: Some(PointsSelectorOneOf::Filter(filter)) }),
            ..Default::default()
        };
        self.send("delete", request, |client, request| async move { client.delete_points(request).await })?;
        Ok(())
    }
}

impl PassageStore for QdrantStore {
    fn upsert(&self, points: Vec<StoredPoint>) -> Result<()> {
        let points: Vec<PointStruct> = points.iter().map(to_point).collect::<Result<_>>()?;
        for batch in points.chunks(UPSERT_BATCH) {
            // `wait`: the call returns once the points are applied (and, in a
            // cluster, acknowledged by `write_consistency_factor` replicas), so a
            // reader right after sees them. Upserts are idempotent: point ids are
            // derived from the content, so a retried batch lands on the same points.
            let request = UpsertPoints {
                collection_name: self.settings.collection.clone(),
                wait: Some(true),
                points: batch.to_vec(),
                ..Default::default()
            };
            self.send("upsert", request, |client, request| async move { client.upsert_points(request).await })?;
        }
        Ok(())
    }

    fn delete_document(&self, doc_id: &str, keep_hash: Option<&str>) -> Result<()> {
        let mut filter = document_filter(doc_id);
        if let Some(hash) = keep_hash {
            filter.must_not.push(Condition::matches("content_hash", hash.to_string()));
        }
        self.delete(filter)
    }

    fn count(&self, doc_id: &str, content_hash: Option<&str>) -> Result<usize> {
        let mut filter = document_filter(doc_id);
        if let Some(hash) = content_hash {
            filter.must.push(Condition::matches("content_hash", hash.to_string()));
        }
        self.count_where(Some(filter))
    }

    fn documents(&self) -> Result<Vec<DocumentSummary>> {
        let heads = self.scroll(Some(first_passages()), WithPayloadSelector::from(SUMMARY_FIELDS.to_vec()))?;
        summarise_documents(heads.into_iter().map(|(_, payload)| payload), |doc_id, hash| self.count(doc_id, Some(hash)))
    }

    fn passages(&self, doc_id: Option<&str>) -> Result<Vec<Passage>> {
        let payloads = self.scroll(doc_id.map(document_filter), WithPayloadSelector::from(true))?;
        Ok(in_document_order(payloads.into_iter().map(|(id, payload)| passage_of(id, &payload)).collect()))
    }

    fn query(&self, query: &HybridQuery) -> Result<Vec<ScoredPassage>> {
        let filter = (!query.documents.is_empty()).then(|| Filter::must([Condition::matches("doc_id", query.documents.clone())]));
        let dense = Query { variant: Some(QueryVariant::Nearest(VectorInput::from(query.dense.clone()))) };
        let sparse = Query {
            variant: Some(QueryVariant::Nearest(VectorInput {
                variant: Some(InputVariant::Sparse(qdrant_client::qdrant::SparseVector {
                    values: query.sparse.values.clone(),
                    indices: query.sparse.indices.clone(),
                })),
            })),
        };
        let prefetch = |scoring: Query, using: &str| PrefetchQuery {
            query: Some(scoring),
            using: Some(using.to_string()),
            filter: filter.clone(),
            limit: Some(query.prefetch_limit.max(query.limit) as u64),
            ..Default::default()
        };
        let (prefetch, scoring, using, top_filter) = match query.ranking {
            Ranking::Dense => (vec![], dense, Some(DENSE_VECTOR.to_string()), filter.clone()),
            Ranking::Sparse => (vec![], sparse, Some(SPARSE_VECTOR.to_string()), filter.clone()),
            Ranking::Fused(fusion) => {
                let fusion = match fusion {
                    Fusion::Rrf { k, dense_weight, sparse_weight } => QueryVariant::Rrf(Rrf {
                        k: Some(k as u32),
                        weights: vec![dense_weight, sparse_weight],
                    }),
                    Fusion::Dbsf => QueryVariant::Fusion(qdrant_client::qdrant::Fusion::Dbsf.into()),
                };
                (
                    vec![prefetch(dense, DENSE_VECTOR), prefetch(sparse, SPARSE_VECTOR)],
                    Query { variant: Some(fusion) },
                    None,
                    None,
                )
            }
        };
        let request = QueryPoints {
            collection_name: self.settings.collection.clone(),
            prefetch,
            query: Some(scoring),
            using,
            filter: top_filter,
            limit: Some(query.limit as u64),
            with_payload: Some(WithPayloadSelector::from(true)),
            with_vectors: Some(WithVectorsSelector::from(false)),
            ..Default::default()
        };
        let response = self.send("query", request, |client, request| async move { client.query(request).await })?;
        Ok(response
            .result
            .into_iter()
            .map(|p| ScoredPassage { passage: passage_of(id_string(p.id), &json_payload(p.payload)), score: p.score })
            .collect())
    }

    fn flush(&self) -> Result<()> {
        // Every write waited for the server to apply it.
        Ok(())
    }

    fn health(&self) -> Result<()> {
        self.call("health_check", |client| async move { client.health_check().await })?;
        Ok(())
    }

    fn totals(&self) -> Result<Totals> {
        Ok(Totals { passages: self.count_where(None)?, documents: self.count_where(Some(first_passages()))? })
    }

    /// The server builds its indexes in the background, starting a moment after
    /// the writes that call for them; this waits until it reports the collection
    /// green with its optimizers idle and the count of indexed vectors has held
    /// still for a second, for at most ten minutes.
    fn optimize(&self) -> Result<()> {
        let deadline = std::time::Instant::now() + Duration::from_secs(600);
        let mut settled = None;
        loop {
            let request = GetCollectionInfoRequest { collection_name: self.settings.collection.clone() };
            let info = self.send("collection_info", request, |client, request| async move { client.collection_info(request).await })?;
            let info = info.result.unwrap_or_default();
            // Grey (optimizations pending until the next write) will not change by waiting.
            let busy = info.status == CollectionStatus::Yellow as i32;
            let indexed = info.indexed_vectors_count;
            match settled {
                Some((count, since)) if !busy && count == indexed && std::time::Instant::now() - since >= Duration::from_secs(1) => {
                    return Ok(());
                }
                Some((count, _)) if !busy && count == indexed => {}
                _ => settled = Some((indexed, std::time::Instant::now())),
            }
            if std::time::Instant::now() > deadline {
                return Err(Error::Store(format!("{} was still optimizing after ten minutes", self.settings)));
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn export(&self, page: usize, each: &mut dyn FnMut(Vec<StoredPoint>) -> Result<()>) -> Result<()> {
        let mut offset = None;
        loop {
            let limit = page.clamp(1, u32::MAX as usize) as u32;
            let (points, next) = self.scroll_page(offset, limit, None, WithPayloadSelector::from(true), true)?;
            let points = points.into_iter().map(exported_point).collect::<Result<Vec<_>>>()?;
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

/// The payload fields footnote filters on, indexed on disk as in the embedded
/// store (`edge::payload_indexes`, which says why): kept in memory, a server
/// rebuilds each field's maps of every point's value whenever it loads a segment.
/// `position` is only matched (the first passage of a document), never ranged.
/// Placed with `on_disk`, the flag every supported server reads (as in `create`).
#[allow(deprecated)]
fn payload_indexes() -> Vec<(&'static str, FieldType, IndexParams)> {
    let keyword = IndexParams::KeywordIndexParams(KeywordIndexParams { on_disk: Some(true), ..Default::default() });
    let integer = IndexParams::IntegerIndexParams(IntegerIndexParams {
        lookup: Some(true),
        range: Some(false),
        on_disk: Some(true),
        ..Default::default()
    });
    let keyword = KEYWORD_INDEXES.map(|field| (field, FieldType::Keyword, keyword.clone()));
    let integer = INTEGER_INDEXES.map(|field| (field, FieldType::Integer, integer.clone()));
    keyword.into_iter().chain(integer).collect()
}

/// Failures worth another try: the server is restarting or overloaded, a replica
/// is moving, or the request timed out. Anything else is a real error.
fn is_transient(error: &QdrantError) -> bool {
    use tonic::Code;
    match error {
        QdrantError::ResourceExhaustedError { .. } => true,
        QdrantError::ResponseError { status } => match status.code() {
            Code::Unavailable | Code::DeadlineExceeded | Code::Aborted | Code::ResourceExhausted => true,
            // The client reports a refused or dropped connection (a node
            // restarting) as an internal error of the transport.
            Code::Internal | Code::Unknown => status.message().contains("connect") || status.message().contains("transport"),
            _ => false,
        },
        _ => false,
    }
}

/// The status message alone: the client's `Display` adds gRPC metadata nobody needs.
fn describe(error: &QdrantError) -> String {
    match error {
        QdrantError::ResponseError { status } => format!("{:?}: {}", status.code(), status.message()),
        other => other.to_string(),
    }
}

/// The first passage of every document version.
fn first_passages() -> Filter {
    Filter::must([Condition::matches("position", 0i64)])
}

fn document_filter(doc_id: &str) -> Filter {
    Filter::must([Condition::matches("doc_id", doc_id.to_string())])
}

fn to_point(point: &StoredPoint) -> Result<PointStruct> {
    let vectors = qdrant_client::qdrant::NamedVectors::default()
        .add_vector(DENSE_VECTOR, point.dense.clone())
        .add_vector(
            SPARSE_VECTOR,
            qdrant_client::qdrant::Vector::new_sparse(point.sparse.indices.clone(), point.sparse.values.clone()),
        );
    Ok(PointStruct::new(PointId::from(point.id.as_str()), vectors, Payload::from(payload_of(point))))
}

fn exported_point(point: qdrant_client::qdrant::RetrievedPoint) -> Result<StoredPoint> {
    let id = id_string(point.id);
    let payload = json_payload(point.payload);
    let Some(VectorsOptions::Vectors(mut vectors)) = point.vectors.and_then(|v| v.vectors_options) else {
        return Err(Error::Store(format!("point {id} has no named vectors")));
    };
    let dense = match vectors.vectors.remove(DENSE_VECTOR).map(|v| v.into_vector()) {
        Some(OutputVector::Dense(dense)) => dense.data,
        _ => return Err(Error::Store(format!("point {id} has no dense vector `{DENSE_VECTOR}`"))),
    };
    let sparse = match vectors.vectors.remove(SPARSE_VECTOR).map(|v| v.into_vector()) {
        Some(OutputVector::Sparse(sparse)) => SparseVector { indices: sparse.indices, values: sparse.values },
        _ => return Err(Error::Store(format!("point {id} has no sparse vector `{SPARSE_VECTOR}`"))),
    };
    Ok(stored_point_of(id, &payload, dense, sparse))
}

fn id_string(id: Option<PointId>) -> String {
    match id.and_then(|id| id.point_id_options) {
        Some(PointIdOptions::Uuid(uuid)) => uuid,
        Some(PointIdOptions::Num(number)) => number.to_string(),
        None => String::new(),
    }
}

fn json_payload(payload: HashMap<String, qdrant_client::qdrant::Value>) -> Map<String, Value> {
    Map::from(Payload::from(payload))
}
