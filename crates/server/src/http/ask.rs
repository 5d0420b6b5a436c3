//! `POST /api/v1/ask`: a question answered as JSON, or streamed as server-sent
//! events when the client accepts `text/event-stream`.

use std::convert::Infallible;

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use footnote_answer::AnswerEvent;
use serde::{Deserialize, Serialize};
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use utoipa::ToSchema;

use super::cookies::Browser;
use super::extract::Json;
use super::{ApiError, Ctx};
use crate::app::{AcceptedQuestion, AskReply, Question};
use crate::problem::Problem;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AskBody {
    /// The question: at most 2,000 characters, not blank. Control characters
    /// are dropped.
    #[schema(min_length = 1, max_length = 2000, pattern = r"[^\s\x00-\x1f\x7f-\x9f]")]
    pub question: String,
    /// Continue this conversation: the question is answered in its context.
    /// Empty or absent: a new conversation.
    pub conversation_id: Option<String>,
    /// Passages to rank (1 to 100; default 10).
    #[schema(minimum = 1, maximum = 100)]
    #[serde(default, deserialize_with = "super::extract::whole_number")]
    pub top_k: Option<usize>,
    /// Only passages of these documents (ids; each must exist). A new
    /// conversation keeps this limit for its follow-ups; given with a
    /// conversation id, it replaces that conversation's limit.
    #[serde(default)]
    pub documents: Vec<String>,
}

/// Answer a question with footnotes, or say the documents don't cover it.
///
/// With `Accept: text/event-stream` the answer streams as server-sent events:
/// `sources` (`{"citations": [...]}`) first, then `text` (`{"text": "..."}`)
/// once per sentence, then `done` with the whole reply; a failure after the
/// stream began arrives as an `error` event with a problem object. With a
/// language model (`--llm-url`), each `text` is a sentence that passed
/// verification, and `sources` comes again, the earlier citations unchanged,
/// before a sentence that cites a passage not yet listed.
#[utoipa::path(
    post,
    path = "/api/v1/ask",
    tag = "answers",
    request_body = AskBody,
    responses(
        (status = 200, description = "The answer: a JSON object, or with `Accept: text/event-stream` the same as server-sent events", content(
            (AskReply = "application/json"),
            (String = "text/event-stream"),
        )),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown conversation, or a document to limit the question to that does not exist", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body over 1 MiB", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Another site's request (a foreign `Origin`)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Empty or too long question, or a bad field", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn ask(
    State(context): State<Ctx>,
    Browser(owner): Browser,
    headers: HeaderMap,
    Json(body): Json<AskBody>,
) -> Result<Response, ApiError> {
    let question = Question {
        text: body.question,
        conversation_id: body.conversation_id,
        top_k: body.top_k,
        documents: body.documents,
        owner,
    };
    let accepted = context.app.accept(question).await?;
    if accepts_event_stream(&headers) {
        return Ok(stream(context, accepted).into_response());
    }
    Ok(Json(context.app.answer(accepted, |_| {}).await?).into_response())
}

/// Data of the `sources` event. Serialized straight from the answer (not
/// through `serde_json::Value`), so scores read exactly as in `done`.
#[derive(Serialize)]
struct SourcesEvent<'a> {
    citations: &'a [footnote_answer::Citation],
}

/// Data of each `text` event: the next sentence with its marker.
#[derive(Serialize)]
struct TextEvent<'a> {
    text: &'a str,
}

fn accepts_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|t| t.trim().starts_with("text/event-stream")))
}

/// Streams the answer's events as they are produced; the exchange is stored
/// before the final `done` event, so its ids are real.
fn stream(context: Ctx, question: AcceptedQuestion) -> Sse<impl tokio_stream::Stream<Item = Result<Event, Infallible>>> {
    let (sender, receiver) = tokio::sync::mpsc::channel::<Event>(32);
    tokio::spawn(async move {
        let events = sender.clone();
        let forward = move |event: AnswerEvent| {
            let event = match event {
                AnswerEvent::Sources(citations) => Event::default().event("sources").json_data(SourcesEvent { citations }),
                AnswerEvent::Text(text) => Event::default().event("text").json_data(TextEvent { text }),
            };
            // A client that went away stops receiving; the answer is still stored.
            let _ = events.blocking_send(event.expect("events serialize"));
        };
        let last = match context.app.answer(question, forward).await {
            Ok(reply) => Event::default().event("done").json_data(reply),
            Err(error) => {
                let error = ApiError::from(error);
                error.log_if_internal();
                Event::default().event("error").json_data(error.problem())
            }
        };
        let _ = sender.send(last.expect("events serialize")).await;
    });
    Sse::new(ReceiverStream::new(receiver).map(Ok)).keep_alive(KeepAlive::default())
}
