//! `GET /api/v1/search`: ranked passages for a query, without an answer.

use axum::extract::{Query, State};
use footnote_index::ScoredPassage;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::Json;
use super::{ApiError, Ctx};
use crate::problem::Problem;

#[derive(Debug, Deserialize, IntoParams)]
pub struct SearchParams {
    /// The query.
    pub q: String,
    /// Passages to return (1 to 100; default 5).
    pub k: Option<usize>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchReply {
    pub question: String,
    pub results: Vec<ScoredPassage>,
}

/// Rank passages for a query (dense and BM25 fused), as `footnote search --json`.
#[utoipa::path(
    get,
    path = "/api/v1/search",
    tag = "answers",
    params(SearchParams),
    responses(
        (status = 200, description = "Ranked passages", body = SearchReply),
        (status = 400, description = "Missing or malformed parameters", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Empty query or k out of range", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn search(
    State(context): State<Ctx>,
    params: Result<Query<SearchParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<SearchReply>, ApiError> {
    let Query(params) = params?;
    let (question, results) = context.app.search(&params.q, params.k).await?;
    Ok(Json(SearchReply { question, results }))
}
