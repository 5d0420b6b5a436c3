//! `GET /api/v1/conversations/{id}` and `POST /api/v1/feedback`.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{Json, Path};
use super::{ApiError, Ctx};
use crate::conversations::{Conversation, Rating};
use crate::problem::Problem;

/// A conversation with its messages and their citations, as they were shown.
#[utoipa::path(
    get,
    path = "/api/v1/conversations/{id}",
    operation_id = "show_conversation",
    tag = "conversations",
    params(("id" = String, Path, description = "Conversation id")),
    responses(
        (status = 200, description = "The conversation", body = Conversation),
        (status = 400, description = "An id that is not UTF-8", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown conversation", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn show(State(context): State<Ctx>, Path(id): Path<String>) -> Result<Json<Conversation>, ApiError> {
    Ok(Json(context.app.conversation(&id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FeedbackBody {
    pub message_id: String,
    pub rating: Rating,
    /// At most 4,000 characters.
    #[schema(max_length = 4000)]
    pub comment: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FeedbackReply {
    pub message_id: String,
    pub rating: Rating,
}

/// Vote an answer up or down; a later vote replaces an earlier one.
#[utoipa::path(
    post,
    path = "/api/v1/feedback",
    operation_id = "post_feedback",
    tag = "conversations",
    request_body = FeedbackBody,
    responses(
        (status = 201, description = "Recorded", body = FeedbackReply),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown message", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 1 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Rating not up or down, or comment too long", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn feedback(State(context): State<Ctx>, Json(body): Json<FeedbackBody>) -> Result<(StatusCode, Json<FeedbackReply>), ApiError> {
    context.app.record_feedback(&body.message_id, body.rating, body.comment.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(FeedbackReply { message_id: body.message_id, rating: body.rating })))
}
