//! `/api/v1/conversations`: a browser's own list; one conversation to read,
//! rename or delete; and `POST /api/v1/feedback`.

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::cookies::Browser;
use super::extract::{Json, Path};
use super::{ApiError, ConversationCaller, Ctx};
use crate::conversations::{Conversation, ConversationSummary, Rating};
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

#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationList {
    pub conversations: Vec<ConversationSummary>,
}

/// The conversations this browser started (named by its `footnote_browser`
/// cookie, which the web page sets), the latest active first, at most 200.
/// Without that cookie the list is empty: there is no way to list everyone's.
#[utoipa::path(
    get,
    path = "/api/v1/conversations",
    operation_id = "list_conversations",
    tag = "conversations",
    responses(
        (status = 200, description = "This browser's conversations", body = ConversationList),
        (status = 429, description = "Rate limited", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(State(context): State<Ctx>, Browser(browser): Browser) -> Result<Json<ConversationList>, ApiError> {
    let conversations = match browser {
        Some(browser) => context.app.conversations_of(&browser).await?,
        None => Vec::new(),
    };
    Ok(Json(ConversationList { conversations }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RenameBody {
    /// The new title, one line, at most 200 characters; blank titles the
    /// conversation by its first question again.
    #[schema(max_length = 200)]
    pub title: String,
}

/// Rename a conversation. Only the browser that started it (its cookie) or
/// the admin token may.
#[utoipa::path(
    patch,
    path = "/api/v1/conversations/{id}",
    operation_id = "rename_conversation",
    tag = "conversations",
    params(("id" = String, Path, description = "Conversation id")),
    request_body = RenameBody,
    security((), ("admin_token" = [])),
    responses(
        (status = 200, description = "Renamed", body = ConversationSummary),
        (status = 400, description = "Malformed JSON, or an id that is not UTF-8", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Started in another browser or by the API, or a wrong token, or another site's request", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown conversation", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 1 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Title too long, or a bad field", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn rename(
    State(context): State<Ctx>,
    ConversationCaller(caller): ConversationCaller,
    Path(id): Path<String>,
    Json(body): Json<RenameBody>,
) -> Result<Json<ConversationSummary>, ApiError> {
    Ok(Json(context.app.rename_conversation(&id, &body.title, &caller).await?))
}

/// Delete a conversation with its messages and their feedback. Only the
/// browser that started it (its cookie) or the admin token may.
#[utoipa::path(
    delete,
    path = "/api/v1/conversations/{id}",
    operation_id = "delete_conversation",
    tag = "conversations",
    params(("id" = String, Path, description = "Conversation id")),
    security((), ("admin_token" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "An id that is not UTF-8", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Started in another browser or by the API, or a wrong token, or another site's request", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown conversation", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete(
    State(context): State<Ctx>,
    ConversationCaller(caller): ConversationCaller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    context.app.delete_conversation(&id, &caller).await?;
    Ok(StatusCode::NO_CONTENT)
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
