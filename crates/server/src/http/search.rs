//! `GET /api/v1/search`: ranked passages for a query, without an answer.

use axum::extract::{Query, State};
use footnote_index::ScoredPassage;
use footnote_retrieval::Retriever;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{Json, Problem};
use super::{ApiError, Ctx, validate_question};

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
    let question = validate_question(&params.q)?;
    let k = params.k.unwrap_or(5);
    if !(1..=100).contains(&k) {
        return Err(ApiError::Invalid(format!("k must be between 1 and 100, not {k}")));
    }
    let query = footnote_retrieval::Query::new(question.clone(), k);
    let results = context.with_index(move |index| Retriever::new(index).search(&query)).await??;
    Ok(Json(SearchReply { question, results }))
}
