//! `/healthz` (the process answers), `/readyz` (the index and the database
//! work) and `/metrics` (Prometheus text).

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde_json::{Value, json};

use super::extract::Json;
use super::{ApiError, Ctx};
use crate::problem::Problem;

#[utoipa::path(get, path = "/api/v1/healthz", tag = "operations", responses((status = 200, description = "Alive", body = Object, content_type = "application/json")))]
pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

#[utoipa::path(
    get,
    path = "/api/v1/readyz",
    tag = "operations",
    responses(
        (status = 200, description = "Index and database usable; with a language model, `llm` says whether it answers (answers fall back to extractive ones when it does not)", body = Object, content_type = "application/json"),
        (status = 503, description = "Not ready, and why", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn readyz(State(context): State<Ctx>) -> Result<Json<Value>, ApiError> {
    let documents = context.app.readiness().await?;
    let mut ready = json!({ "status": "ready", "documents": documents });
    if let Some(llm) = context.app.llm_status().await {
        ready["llm"] = serde_json::to_value(llm).expect("the status serializes");
    }
    Ok(Json(ready))
}

#[utoipa::path(get, path = "/api/v1/metrics", tag = "operations", responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn metrics(State(context): State<Ctx>) -> impl IntoResponse {
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; version=0.0.4")], context.metrics.render())
}
