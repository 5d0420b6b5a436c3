//! A Qdrant stand-in for the tests (a dev-dependency only, never shipped): Qdrant's own gRPC protocol (the service
//! definitions `qdrant-client` generates from Qdrant's `.proto` files), served over
//! real HTTP/2 by tonic, with the real Qdrant engine (Qdrant Edge) storing and
//! ranking behind it.
//!
//! No Qdrant server can run where these tests were written. The stand-in lets the
//! server backend's requests (collection layout, metadata, batched upserts with
//! `wait`, filtered deletes and counts, paged scrolls with vectors, hybrid queries
//! with prefetch and fusion, the API key) travel the real protocol and be answered
//! by the real engine. It understands what footnote sends and answers
//! `unimplemented` to the rest. Its translation from gRPC to the engine is this
//! file's own, so where a real server is at hand, `QDRANT_TEST_URL` runs the same
//! contract against it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use qdrant_client::qdrant::{
    self as grpc, collections_server::{Collections, CollectionsServer}, points_server::{Points, PointsServer},
    qdrant_server::{Qdrant, QdrantServer},
};
use qdrant_edge::external::ordered_float::OrderedFloat;
use qdrant_edge::external::uuid::Uuid;
use qdrant_edge::{
    AnyVariants, Condition, CountRequest, CreateIndex, Distance, EdgeConfig, EdgeShard, EdgeSparseVectorParams,
    EdgeVectorParams, FieldCondition, FieldIndexOperations, Filter, Fusion, IntegerIndexParams, KeywordIndexParams,
    Match, Modifier, NamedQuery, Payload, PayloadFieldSchema, PayloadSchemaParams, PayloadSchemaType, PointId,
    PointInsertOperations, PointOperations, PointStructPersisted, Prefetch, QueryEnum, QueryRequest, ScoringQuery, ScrollRequest, UpdateOperation,
    ValueVariants, VectorInternal, VectorPersisted, VectorStructInternal, VectorStructPersisted,
    WithPayloadInterface, WithVector,
};
use tonic::{Request, Response, Status};

/// Methods footnote never calls: `unimplemented`, as a server without the feature would say.
macro_rules! unimplemented_methods {
    ($($method:ident($request:ident) -> $response:ident;)*) => {
        $(
            // Spelled as `async_trait` expands an `async fn`: the attribute on the
            // impl does not see inside macro calls.
            fn $method<'life0, 'async_trait>(
                &'life0 self,
                _: Request<grpc::$request>,
            ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Response<grpc::$response>, Status>> + Send + 'async_trait>>
            where
                'life0: 'async_trait,
                Self: 'async_trait,
            {
                Box::pin(async { Err(Status::unimplemented(concat!("the stand-in does not implement ", stringify!($method)))) })
            }
        )*
    };
}

/// The API key the stand-in demands, as a real server with `service.api_key` does.
pub const API_KEY: &str = "standin-key";

struct Collection {
    shard: EdgeShard,
    config: grpc::CollectionConfig,
    _dir: tempfile::TempDir,
}

#[derive(Clone, Default)]
struct StandIn {
    collections: Arc<Mutex<HashMap<String, Arc<Collection>>>>,
}

/// A running stand-in.
pub struct Running {
    /// Its gRPC URL.
    pub url: String,
    down: Arc<AtomicBool>,
}

impl Running {
    /// Makes every request fail as a server that is down does (`unavailable`),
    /// or brings it back.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }
}

/// Starts the stand-in on a free loopback port. It runs until the test process ends.
pub fn start() -> Running {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let down = Arc::new(AtomicBool::new(false));
    let gate = {
        let down = down.clone();
        move |request: Request<()>| -> Result<Request<()>, Status> {
            if down.load(Ordering::SeqCst) {
                return Err(Status::unavailable("the stand-in is down"));
            }
            match request.metadata().get("api-key").and_then(|v| v.to_str().ok()) {
                Some(API_KEY) => Ok(request),
                _ => Err(Status::unauthenticated("Must provide an API key or an Authorization bearer token")),
            }
        }
    };
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let standin = StandIn::default();
            tonic::transport::Server::builder()
                .add_service(QdrantServer::with_interceptor(standin.clone(), gate.clone()))
                .add_service(CollectionsServer::with_interceptor(standin.clone(), gate.clone()))
                .add_service(PointsServer::with_interceptor(standin, gate))
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
                .await
                .unwrap();
        });
    });
    Running { url, down }
}

fn engine_error(e: impl std::fmt::Display) -> Status {
    Status::internal(format!("Service internal error: {e}"))
}

impl StandIn {
    fn collection(&self, name: &str) -> Result<Arc<Collection>, Status> {
        self.collections
            .lock()
            .unwrap()
            .get(name)
            .cloned()
            .ok_or_else(|| Status::not_found(format!("Not found: Collection `{name}` doesn't exist!")))
    }
}

fn done() -> Response<grpc::PointsOperationResponse> {
    Response::new(grpc::PointsOperationResponse {
        result: Some(grpc::UpdateResult { operation_id: Some(0), status: grpc::UpdateStatus::Completed.into() }),
        ..Default::default()
    })
}

/// The index a create-field-index request asks for, with its parameters as a
/// server applies them (a keyword or integer index on disk, an integer index for
/// lookups only); the stand-in indexes keywords and integers only. It reads the
/// `on_disk` flag footnote sends, not its successor `memory`.
#[allow(deprecated)]
fn field_schema(request: &grpc::CreateFieldIndexCollection) -> Result<PayloadFieldSchema, Status> {
    use grpc::payload_index_params::IndexParams;
    let params = request.field_index_params.clone().and_then(|p| p.index_params);
    let schema = match (request.field_type.and_then(|t| grpc::FieldType::try_from(t).ok()), params) {
        (Some(grpc::FieldType::Keyword), None) => PayloadFieldSchema::FieldType(PayloadSchemaType::Keyword),
        (Some(grpc::FieldType::Integer), None) => PayloadFieldSchema::FieldType(PayloadSchemaType::Integer),
        (Some(grpc::FieldType::Keyword), Some(IndexParams::KeywordIndexParams(p))) => {
            PayloadFieldSchema::FieldParams(PayloadSchemaParams::Keyword(KeywordIndexParams {
                is_tenant: p.is_tenant,
                on_disk: p.on_disk,
                ..Default::default()
            }))
        }
        (Some(grpc::FieldType::Integer), Some(IndexParams::IntegerIndexParams(p))) => {
            PayloadFieldSchema::FieldParams(PayloadSchemaParams::Integer(IntegerIndexParams {
                lookup: p.lookup,
                range: p.range,
                is_principal: p.is_principal,
                on_disk: p.on_disk,
                ..Default::default()
            }))
        }
        (Some(grpc::FieldType::Keyword | grpc::FieldType::Integer), Some(_)) => {
            return Err(Status::invalid_argument("the index parameters are not of the field's type"));
        }
        _ => return Err(Status::unimplemented("the stand-in indexes keywords and integers only")),
    };
    Ok(schema)
}

fn point_id(id: Option<grpc::PointId>) -> Result<PointId, Status> {
    match id.and_then(|id| id.point_id_options) {
        Some(grpc::point_id::PointIdOptions::Uuid(uuid)) => {
            Uuid::parse_str(&uuid).map(PointId::Uuid).map_err(|e| Status::invalid_argument(e.to_string()))
        }
        Some(grpc::point_id::PointIdOptions::Num(number)) => Ok(PointId::NumId(number)),
        None => Err(Status::invalid_argument("point id is missing")),
    }
}

fn grpc_id(id: PointId) -> grpc::PointId {
    match id {
        PointId::Uuid(uuid) => grpc::PointId::from(uuid.to_string()),
        PointId::NumId(number) => grpc::PointId::from(number),
    }
}

/// footnote filters on keywords only: `must` and `must_not` of match conditions.
fn filter(filter: Option<grpc::Filter>) -> Result<Option<Filter>, Status> {
    let Some(filter) = filter else { return Ok(None) };
    if !filter.should.is_empty() || filter.min_should.is_some() {
        return Err(Status::unimplemented("the stand-in filters with must and must_not only"));
    }
    let conditions = |conditions: Vec<grpc::Condition>| -> Result<Option<Vec<Condition>>, Status> {
        if conditions.is_empty() {
            return Ok(None);
        }
        conditions.into_iter().map(condition).collect::<Result<Vec<_>, _>>().map(Some)
    };
    let mut converted = Filter::new_must(Condition::Field(FieldCondition::new_match(
        "placeholder".try_into().unwrap(),
        Match::new_value(ValueVariants::Bool(true)),
    )));
    converted.must = conditions(filter.must)?;
    converted.must_not = conditions(filter.must_not)?;
    Ok(Some(converted))
}

fn condition(condition: grpc::Condition) -> Result<Condition, Status> {
    use grpc::condition::ConditionOneOf;
    use grpc::r#match::MatchValue;
    let Some(ConditionOneOf::Field(field)) = condition.condition_one_of else {
        return Err(Status::unimplemented("the stand-in knows field conditions only"));
    };
    let key = field.key.as_str().try_into().map_err(|_| Status::invalid_argument("bad key"))?;
    let matched = match field.r#match.and_then(|m| m.match_value) {
        Some(MatchValue::Keyword(value)) => Match::new_value(ValueVariants::String(value)),
        Some(MatchValue::Keywords(values)) => Match::new_any(AnyVariants::Strings(values.strings.into_iter().collect())),
        Some(MatchValue::Integer(value)) => Match::new_value(ValueVariants::Integer(value)),
        _ => return Err(Status::unimplemented("the stand-in matches keywords and integers only")),
    };
    Ok(Condition::Field(FieldCondition::new_match(key, matched)))
}

fn json_payload(payload: HashMap<String, grpc::Value>) -> Payload {
    Payload(payload.into_iter().map(|(k, v)| (k, serde_json::Value::from(v))).collect())
}

fn grpc_payload(payload: Option<Payload>) -> HashMap<String, grpc::Value> {
    payload.map(|p| p.0.into_iter().map(|(k, v)| (k, grpc::Value::from(v))).collect()).unwrap_or_default()
}

fn vector(vector: grpc::Vector) -> Result<VectorPersisted, Status> {
    #[allow(deprecated)]
    let grpc::Vector { data, indices, vector, .. } = vector;
    Ok(match vector {
        Some(grpc::vector::Vector::Dense(dense)) => VectorPersisted::Dense(dense.data),
        Some(grpc::vector::Vector::Sparse(sparse)) => {
            VectorPersisted::Sparse(qdrant_edge::SparseVector { indices: sparse.indices, values: sparse.values })
        }
        Some(_) => return Err(Status::unimplemented("the stand-in stores dense and sparse vectors only")),
        None => match indices {
            Some(indices) => VectorPersisted::Sparse(qdrant_edge::SparseVector { indices: indices.data, values: data }),
            None => VectorPersisted::Dense(data),
        },
    })
}

fn vector_input(input: Option<grpc::VectorInput>) -> Result<VectorInternal, Status> {
    match input.and_then(|i| i.variant) {
        Some(grpc::vector_input::Variant::Dense(dense)) => Ok(VectorInternal::from(dense.data)),
        Some(grpc::vector_input::Variant::Sparse(sparse)) => {
            Ok(VectorInternal::from(qdrant_edge::SparseVector { indices: sparse.indices, values: sparse.values }))
        }
        _ => Err(Status::unimplemented("the stand-in queries with dense or sparse vectors only")),
    }
}

fn scoring(query: Option<grpc::Query>, using: Option<String>) -> Result<ScoringQuery, Status> {
    use grpc::query::Variant;
    match query.and_then(|q| q.variant) {
        Some(Variant::Nearest(input)) => Ok(ScoringQuery::Vector(QueryEnum::Nearest(NamedQuery {
            query: vector_input(Some(input))?,
            using,
        }))),
        Some(Variant::Rrf(rrf)) => Ok(ScoringQuery::Fusion(Fusion::Rrf {
            k: rrf.k.unwrap_or(60) as usize,
            weights: (!rrf.weights.is_empty()).then(|| rrf.weights.into_iter().map(OrderedFloat).collect()),
        })),
        Some(Variant::Fusion(fusion)) if fusion == i32::from(grpc::Fusion::Dbsf) => Ok(ScoringQuery::Fusion(Fusion::Dbsf)),
        Some(Variant::Fusion(_)) => Ok(ScoringQuery::Fusion(Fusion::Rrf { k: 60, weights: None })),
        _ => Err(Status::unimplemented("the stand-in answers nearest and fusion queries only")),
    }
}

fn with_payload(selector: Option<grpc::WithPayloadSelector>) -> WithPayloadInterface {
    use grpc::with_payload_selector::SelectorOptions;
    match selector.and_then(|s| s.selector_options) {
        Some(SelectorOptions::Include(fields)) => {
            WithPayloadInterface::Fields(fields.fields.iter().map(|f| f.as_str().try_into().unwrap()).collect())
        }
        Some(SelectorOptions::Enable(enable)) => WithPayloadInterface::Bool(enable),
        Some(SelectorOptions::Exclude(_)) | None => WithPayloadInterface::Bool(false),
    }
}

fn vectors_output(vectors: Option<VectorStructInternal>) -> Option<grpc::VectorsOutput> {
    let Some(VectorStructInternal::Named(named)) = vectors else { return None };
    let vectors = named
        .into_iter()
        .map(|(name, vector)| {
            let output = match vector {
                VectorInternal::Dense(data) => grpc::vector_output::Vector::Dense(grpc::DenseVector { data }),
                VectorInternal::Sparse(sparse) => grpc::vector_output::Vector::Sparse(grpc::SparseVector {
                    values: sparse.values,
                    indices: sparse.indices,
                }),
                VectorInternal::MultiDense(_) => unreachable!("footnote stores no multi-vectors"),
            };
            #[allow(deprecated)]
            let output = grpc::VectorOutput { vector: Some(output), ..Default::default() };
            (name, output)
        })
        .collect();
    Some(grpc::VectorsOutput {
        vectors_options: Some(grpc::vectors_output::VectorsOptions::Vectors(grpc::NamedVectorsOutput { vectors })),
    })
}

#[tonic::async_trait]
impl Qdrant for StandIn {
    async fn health_check(&self, _: Request<grpc::HealthCheckRequest>) -> Result<Response<grpc::HealthCheckReply>, Status> {
        Ok(Response::new(grpc::HealthCheckReply {
            title: "qdrant - vector search engine (footnote test stand-in)".into(),
            version: "1.20.0".into(),
            commit: None,
        }))
    }
}

#[tonic::async_trait]
impl Collections for StandIn {
    async fn get(
        &self,
        request: Request<grpc::GetCollectionInfoRequest>,
    ) -> Result<Response<grpc::GetCollectionInfoResponse>, Status> {
        let collection = self.collection(&request.into_inner().collection_name)?;
        Ok(Response::new(grpc::GetCollectionInfoResponse {
            result: Some(grpc::CollectionInfo {
                status: grpc::CollectionStatus::Green.into(),
                config: Some(collection.config.clone()),
                ..Default::default()
            }),
            time: 0.0,
        }))
    }

    async fn create(&self, request: Request<grpc::CreateCollection>) -> Result<Response<grpc::CollectionOperationResponse>, Status> {
        let request = request.into_inner();
        let name = request.collection_name.clone();
        if self.collections.lock().unwrap().contains_key(&name) {
            return Err(Status::already_exists(format!("Wrong input: Collection `{name}` already exists!")));
        }
        let Some(grpc::vectors_config::Config::ParamsMap(dense)) = request.vectors_config.clone().and_then(|c| c.config)
        else {
            return Err(Status::unimplemented("the stand-in keeps named vectors only"));
        };
        let vectors = dense
            .map
            .iter()
            .map(|(name, params)| {
                if params.distance != i32::from(grpc::Distance::Cosine) {
                    return Err(Status::unimplemented("the stand-in keeps cosine vectors only"));
                }
                Ok((name.clone(), EdgeVectorParams::builder(params.size as usize, Distance::Cosine).build()))
            })
            .collect::<Result<HashMap<_, _>, Status>>()?;
        let sparse_vectors = request
            .sparse_vectors_config
            .clone()
            .map(|s| s.map)
            .unwrap_or_default()
            .into_iter()
            .map(|(name, params)| {
                let modifier = (params.modifier == Some(grpc::Modifier::Idf.into())).then_some(Modifier::Idf);
                (name, EdgeSparseVectorParams { modifier, ..Default::default() })
            })
            .collect();
        let dir = tempfile::tempdir().map_err(engine_error)?;
        let shard = EdgeShard::new(dir.path(), EdgeConfig { vectors, sparse_vectors, ..Default::default() })
            .map_err(engine_error)?;
        let config = grpc::CollectionConfig {
            params: Some(grpc::CollectionParams {
                shard_number: request.shard_number.unwrap_or(1),
                replication_factor: request.replication_factor,
                write_consistency_factor: request.write_consistency_factor,
                vectors_config: request.vectors_config,
                sparse_vectors_config: request.sparse_vectors_config,
                ..Default::default()
            }),
            metadata: request.metadata,
            ..Default::default()
        };
        self.collections.lock().unwrap().insert(name, Arc::new(Collection { shard, config, _dir: dir }));
        Ok(Response::new(grpc::CollectionOperationResponse { result: true, time: 0.0 }))
    }

    async fn delete(&self, request: Request<grpc::DeleteCollection>) -> Result<Response<grpc::CollectionOperationResponse>, Status> {
        let removed = self.collections.lock().unwrap().remove(&request.into_inner().collection_name);
        Ok(Response::new(grpc::CollectionOperationResponse { result: removed.is_some(), time: 0.0 }))
    }

    async fn collection_exists(
        &self,
        request: Request<grpc::CollectionExistsRequest>,
    ) -> Result<Response<grpc::CollectionExistsResponse>, Status> {
        let exists = self.collections.lock().unwrap().contains_key(&request.into_inner().collection_name);
        Ok(Response::new(grpc::CollectionExistsResponse { result: Some(grpc::CollectionExists { exists }), time: 0.0 }))
    }

    unimplemented_methods! {
        list(ListCollectionsRequest) -> ListCollectionsResponse;
        update(UpdateCollection) -> CollectionOperationResponse;
        update_aliases(ChangeAliases) -> CollectionOperationResponse;
        list_collection_aliases(ListCollectionAliasesRequest) -> ListAliasesResponse;
        list_aliases(ListAliasesRequest) -> ListAliasesResponse;
        collection_cluster_info(CollectionClusterInfoRequest) -> CollectionClusterInfoResponse;
        update_collection_cluster_setup(UpdateCollectionClusterSetupRequest) -> UpdateCollectionClusterSetupResponse;
        create_shard_key(CreateShardKeyRequest) -> CreateShardKeyResponse;
        delete_shard_key(DeleteShardKeyRequest) -> DeleteShardKeyResponse;
        list_shard_keys(ListShardKeysRequest) -> ListShardKeysResponse;
    }
}

#[tonic::async_trait]
impl Points for StandIn {
    async fn upsert(&self, request: Request<grpc::UpsertPoints>) -> Result<Response<grpc::PointsOperationResponse>, Status> {
        let request = request.into_inner();
        let collection = self.collection(&request.collection_name)?;
        let points = request
            .points
            .into_iter()
            .map(|point| {
                let Some(grpc::vectors::VectorsOptions::Vectors(named)) = point.vectors.and_then(|v| v.vectors_options) else {
                    return Err(Status::invalid_argument("the stand-in takes named vectors only"));
                };
                let vectors =
                    named.vectors.into_iter().map(|(name, v)| Ok((name, vector(v)?))).collect::<Result<HashMap<_, _>, Status>>()?;
                Ok(PointStructPersisted {
                    id: point_id(point.id)?,
                    vector: VectorStructPersisted::Named(vectors),
                    payload: Some(json_payload(point.payload)),
                })
            })
            .collect::<Result<Vec<_>, Status>>()?;
        collection
            .shard
            .update(UpdateOperation::PointOperation(PointOperations::UpsertPoints(PointInsertOperations::PointsList(points))))
            .map_err(|e| Status::invalid_argument(format!("Wrong input: {e}")))?;
        Ok(done())
    }

    async fn delete(&self, request: Request<grpc::DeletePoints>) -> Result<Response<grpc::PointsOperationResponse>, Status> {
        use grpc::points_selector::PointsSelectorOneOf;
        let request = request.into_inner();
        let collection = self.collection(&request.collection_name)?;
        let operation = match request.points.and_then(|p| p.points_selector_one_of) {
            Some(PointsSelectorOneOf::Filter(selector)) => {
                PointOperations::DeletePointsByFilter(filter(Some(selector))?.expect("a filter"))
            }
            Some(PointsSelectorOneOf::Points(list)) => PointOperations::DeletePoints {
                ids: list.ids.into_iter().map(|id| point_id(Some(id))).collect::<Result<_, _>>()?,
            },
            None => return Err(Status::invalid_argument("points selector is missing")),
        };
        collection.shard.update(UpdateOperation::PointOperation(operation)).map_err(engine_error)?;
        Ok(done())
    }

    async fn create_field_index(
        &self,
        request: Request<grpc::CreateFieldIndexCollection>,
    ) -> Result<Response<grpc::PointsOperationResponse>, Status> {
        let request = request.into_inner();
        let collection = self.collection(&request.collection_name)?;
        let schema = field_schema(&request)?;
        collection
            .shard
            .update(UpdateOperation::FieldIndexOperation(FieldIndexOperations::CreateIndex(CreateIndex {
                field_name: request.field_name.as_str().try_into().map_err(|_| Status::invalid_argument("bad field"))?,
                field_schema: Some(schema),
            })))
            .map_err(engine_error)?;
        Ok(done())
    }

    async fn scroll(&self, request: Request<grpc::ScrollPoints>) -> Result<Response<grpc::ScrollResponse>, Status> {
        let request = request.into_inner();
        let collection = self.collection(&request.collection_name)?;
        let with_vectors = matches!(
            request.with_vectors.and_then(|w| w.selector_options),
            Some(grpc::with_vectors_selector::SelectorOptions::Enable(true))
        );
        let (records, next) = collection
            .shard
            .scroll(ScrollRequest {
                offset: request.offset.map(|id| point_id(Some(id))).transpose()?,
                limit: Some(request.limit.unwrap_or(10) as usize),
                filter: filter(request.filter)?,
                with_payload: Some(with_payload(request.with_payload)),
                with_vector: WithVector::Bool(with_vectors),
                order_by: None,
            })
            .map_err(engine_error)?;
        Ok(Response::new(grpc::ScrollResponse {
            next_page_offset: next.map(grpc_id),
            result: records
                .into_iter()
                .map(|r| grpc::RetrievedPoint {
                    id: Some(grpc_id(r.id)),
                    payload: grpc_payload(r.payload),
                    vectors: vectors_output(r.vector),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }))
    }

    async fn count(&self, request: Request<grpc::CountPoints>) -> Result<Response<grpc::CountResponse>, Status> {
        let request = request.into_inner();
        let collection = self.collection(&request.collection_name)?;
        let count = collection
            .shard
            .count(CountRequest { filter: filter(request.filter)?, exact: request.exact.unwrap_or(true) })
            .map_err(engine_error)?;
        Ok(Response::new(grpc::CountResponse { result: Some(grpc::CountResult { count: count as u64 }), ..Default::default() }))
    }

    async fn query(&self, request: Request<grpc::QueryPoints>) -> Result<Response<grpc::QueryResponse>, Status> {
        let request = request.into_inner();
        let collection = self.collection(&request.collection_name)?;
        let prefetches = request
            .prefetch
            .into_iter()
            .map(|p| {
                if !p.prefetch.is_empty() {
                    return Err(Status::unimplemented("the stand-in nests no prefetches"));
                }
                Ok(Prefetch {
                    prefetches: vec![],
                    query: Some(scoring(p.query, p.using)?),
                    limit: p.limit.unwrap_or(10) as usize,
                    params: None,
                    filter: filter(p.filter)?,
                    score_threshold: None,
                })
            })
            .collect::<Result<Vec<_>, Status>>()?;
        let with_payload = !matches!(with_payload(request.with_payload), WithPayloadInterface::Bool(false));
        let points = collection
            .shard
            .query(QueryRequest {
                prefetches,
                query: Some(scoring(request.query, request.using)?),
                filter: filter(request.filter)?,
                score_threshold: request.score_threshold.map(OrderedFloat),
                limit: request.limit.unwrap_or(10) as usize,
                offset: request.offset.unwrap_or(0) as usize,
                params: None,
                with_vector: WithVector::Bool(false),
                with_payload: WithPayloadInterface::Bool(with_payload),
            })
            .map_err(engine_error)?;
        Ok(Response::new(grpc::QueryResponse {
            result: points
                .into_iter()
                .map(|p| grpc::ScoredPoint {
                    id: Some(grpc_id(p.id)),
                    payload: grpc_payload(p.payload),
                    score: p.score,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }))
    }

    unimplemented_methods! {
        get(GetPoints) -> GetResponse;
        update_vectors(UpdatePointVectors) -> PointsOperationResponse;
        delete_vectors(DeletePointVectors) -> PointsOperationResponse;
        set_payload(SetPayloadPoints) -> PointsOperationResponse;
        overwrite_payload(SetPayloadPoints) -> PointsOperationResponse;
        delete_payload(DeletePayloadPoints) -> PointsOperationResponse;
        clear_payload(ClearPayloadPoints) -> PointsOperationResponse;
        delete_field_index(DeleteFieldIndexCollection) -> PointsOperationResponse;
        create_vector_name(CreateVectorNameRequest) -> PointsOperationResponse;
        delete_vector_name(DeleteVectorNameRequest) -> PointsOperationResponse;
        search(SearchPoints) -> SearchResponse;
        search_batch(SearchBatchPoints) -> SearchBatchResponse;
        search_groups(SearchPointGroups) -> SearchGroupsResponse;
        recommend(RecommendPoints) -> RecommendResponse;
        recommend_batch(RecommendBatchPoints) -> RecommendBatchResponse;
        recommend_groups(RecommendPointGroups) -> RecommendGroupsResponse;
        discover(DiscoverPoints) -> DiscoverResponse;
        discover_batch(DiscoverBatchPoints) -> DiscoverBatchResponse;
        update_batch(UpdateBatchPoints) -> UpdateBatchResponse;
        query_batch(QueryBatchPoints) -> QueryBatchResponse;
        query_groups(QueryPointGroups) -> QueryGroupsResponse;
        facet(FacetCounts) -> FacetResponse;
        search_matrix_pairs(SearchMatrixPoints) -> SearchMatrixPairsResponse;
        search_matrix_offsets(SearchMatrixPoints) -> SearchMatrixOffsetsResponse;
    }
}
