//! `GET /api/v1/search`: ranked passages for a query, without an answer.

use axum::extract::State;
use footnote_index::ScoredPassage;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{Json, Query};
use super::{ApiError, Ctx};
use crate::problem::Problem;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// The query: at most 2,000 characters, not blank.
    #[param(min_length = 1, max_length = 2000, pattern = r"[^\s\x00-\x1f\x7f-\x9f]")]
    pub q: String,
    /// Passages to return (1 to 100; default 5).
    #[param(minimum = 1, maximum = 100)]
    #[serde(default, deserialize_with = "super::extract::whole_number")]
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
        (status = 400, description = "Missing or malformed parameters, or a query that is not UTF-8", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Empty query or k out of range", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn search(State(context): State<Ctx>, Query(params): Query<SearchParams>) -> Result<Json<SearchReply>, ApiError> {
    let (question, results) = context.app.search(&params.q, params.k).await?;
    Ok(Json(SearchReply { question, results }))
}
