//! `/api/v1/documents`: list, show, add (JSON text or file upload) and delete.
//! Adding and deleting need the admin token.

use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{StatusCode, header};
use footnote_index::{DocumentSummary, Passage};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{Json, Path};
use super::{Admin, ApiError, Ctx, JSON_BODY_LIMIT};
use crate::app::{Added, TextDocument, Upload};
use crate::problem::Problem;

#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentList {
    pub documents: Vec<DocumentSummary>,
}

/// The indexed documents.
#[utoipa::path(
    get,
    path = "/api/v1/documents",
    operation_id = "list_documents",
    tag = "documents",
    responses(
        (status = 200, description = "Every document, with its number of passages", body = DocumentList),
        (status = 429, description = "Rate limited", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list(State(context): State<Ctx>) -> Result<Json<DocumentList>, ApiError> {
    Ok(Json(DocumentList { documents: context.app.documents().await? }))
}

/// A document and its passages. The list's `passages` count is left out:
/// here `passages` is the passages themselves.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentDetail {
    pub id: String,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    pub content_hash: String,
    /// Its passages in document order.
    pub passages: Vec<Passage>,
}

/// One document with its passages.
#[utoipa::path(
    get,
    path = "/api/v1/documents/{id}",
    operation_id = "show_document",
    tag = "documents",
    params(("id" = String, Path, description = "Document id (may contain `/`)")),
    responses(
        (status = 200, description = "The document and its passages", body = DocumentDetail),
        (status = 400, description = "An id that is not UTF-8", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown document", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn show(State(context): State<Ctx>, Path(id): Path<String>) -> Result<Json<DocumentDetail>, ApiError> {
    let (DocumentSummary { id, title, source, date, content_hash, .. }, passages) = context.app.document(&id).await?;
    Ok(Json(DocumentDetail { id, title, source, date, content_hash, passages }))
}

/// A document given as text.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDocument {
    /// Not blank.
    #[schema(min_length = 1, pattern = r"\S")]
    pub title: String,
    /// Plain text; blank lines separate paragraphs. Not blank.
    #[schema(min_length = 1, pattern = r"\S")]
    pub text: String,
    /// Where the document comes from (a URL), shown with its citations.
    pub source: Option<String>,
    /// Its id: letters, digits, `-`, `_`, `.` and spaces, at most 200
    /// characters, not starting with `.` (surrounding spaces are dropped). By
    /// default it is made from the title (`doc-<hash>` for a title without
    /// letters or digits). A document with the same id is replaced.
    #[schema(max_length = 200, pattern = r"^ *[\w-][\w .-]*$")]
    pub id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IngestReply {
    /// Ids of the documents the request named.
    pub documents: Vec<String>,
    pub added: usize,
    pub replaced: usize,
    pub unchanged: usize,
    pub passages_written: usize,
    pub warnings: Vec<String>,
}

/// Add or replace documents: JSON `{title, text, source?, id?}`, or a
/// `multipart/form-data` upload of `.txt`, `.md`, `.html`, `.pdf`, `.docx` and
/// `.odt` files (field `file`, repeatable; each file's name is its id).
#[utoipa::path(
    post,
    path = "/api/v1/documents",
    operation_id = "add_documents",
    tag = "documents",
    request_body(content(
        (NewDocument = "application/json"),
        (Object = "multipart/form-data"),
    )),
    security(("admin_token" = [])),
    responses(
        (status = 201, description = "Indexed", body = IngestReply),
        (status = 400, description = "Malformed JSON or form", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Wrong token, or writes turned off", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Over the body limit", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Neither JSON nor multipart, or an unsupported file type", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Empty title or text, an id not as described, no text left after cleaning, binary content in a text file, or a PDF that is scanned, encrypted or damaged", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(State(context): State<Ctx>, _admin: Admin, request: Request) -> Result<(StatusCode, Json<IngestReply>), ApiError> {
    let content_type = request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let added = if content_type.starts_with("application/json") {
        // This route's body limit is the upload limit; JSON has its own, counted
        // on the bytes read, so a chunked body without a length is held to it too.
        let body = axum::body::to_bytes(request.into_body(), JSON_BODY_LIMIT).await.map_err(|_| {
            ApiError::TooLarge(format!("the JSON body is over the limit of {JSON_BODY_LIMIT} bytes; upload large documents as files"))
        })?;
        let axum::Json(document) = axum::Json::<NewDocument>::from_bytes(&body)?;
        let NewDocument { title, text, source, id } = document;
        context.app.add_text(TextDocument { title, text, source, id }).await?
    } else if content_type.starts_with("multipart/form-data") {
        let multipart = Multipart::from_request(request, &context).await.map_err(|e| match e.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge(format!("the upload is over the limit of {} bytes", context.upload_limit)),
            _ => ApiError::Invalid(e.body_text()),
        })?;
        let files = read_files(multipart, context.upload_limit).await?;
        context.app.add_files(files).await?
    } else {
        return Err(ApiError::UnsupportedMediaType(format!(
            "send `application/json` ({{title, text}}) or `multipart/form-data` files, not {:?}",
            content_type
        )));
    };
    Ok((StatusCode::CREATED, Json(IngestReply::from(added))))
}

impl From<Added> for IngestReply {
    fn from(Added { documents, report }: Added) -> Self {
        IngestReply {
            documents,
            added: report.added,
            replaced: report.replaced,
            unchanged: report.unchanged,
            passages_written: report.passages_written,
            warnings: report.warnings,
        }
    }
}

/// The uploaded files (field `file`, repeatable), read whole.
async fn read_files(mut multipart: Multipart, limit: usize) -> Result<Vec<Upload>, ApiError> {
    let mut files = Vec::new();
    while let Some(field) = multipart.next_field().await.map_err(|e| multipart_error(e, limit))? {
        if field.name() != Some("file") {
            continue;
        }
        let file_name = field.file_name().map(str::to_string).ok_or_else(|| ApiError::Invalid("a `file` part has no file name".into()))?;
        let bytes = field.bytes().await.map_err(|e| multipart_error(e, limit))?;
        files.push(Upload { file_name, bytes: bytes.to_vec() });
    }
    Ok(files)
}

/// An upload that broke off or went over `limit`, as a problem; the page's
/// uploads share it.
pub(super) fn multipart_error(error: axum::extract::multipart::MultipartError, limit: usize) -> ApiError {
    match error.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge(format!("the upload is over the limit of {limit} bytes")),
        _ => ApiError::Invalid(format!("the upload cannot be read: {}", error.body_text())),
    }
}

/// Remove a document and its passages.
#[utoipa::path(
    delete,
    path = "/api/v1/documents/{id}",
    operation_id = "delete_document",
    tag = "documents",
    params(("id" = String, Path, description = "Document id")),
    security(("admin_token" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "An id that is not UTF-8", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Wrong token, or writes turned off", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown document", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Rate limited", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete(State(context): State<Ctx>, _admin: Admin, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    context.app.delete_document(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
