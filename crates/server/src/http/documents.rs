//! `/api/v1/documents`: list, show, add (JSON text or file upload) and delete.
//! Adding and deleting need the admin token.


use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{StatusCode, header};
use footnote_index::{DocumentSummary, Passage};
use footnote_ingest::{IngestReport, Ingestor, Silent};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{Json, Problem};
use super::{Admin, ApiError, Ctx, JSON_BODY_LIMIT};

#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentList {
    pub documents: Vec<DocumentSummary>,
}

/// The indexed documents.
#[utoipa::path(get, path = "/api/v1/documents", tag = "documents", responses((status = 200, body = DocumentList)))]
pub async fn list(State(context): State<Ctx>) -> Result<Json<DocumentList>, ApiError> {
    let documents = context.with_index(|index| index.store().documents()).await??;
    Ok(Json(DocumentList { documents }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentDetail {
    #[serde(flatten)]
    pub document: DocumentSummary,
    /// Its passages in document order.
    pub passages: Vec<Passage>,
}

/// One document with its passages.
#[utoipa::path(
    get,
    path = "/api/v1/documents/{id}",
    tag = "documents",
    params(("id" = String, Path, description = "Document id (may contain `/`)")),
    responses(
        (status = 200, body = DocumentDetail),
        (status = 404, description = "Unknown document", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn show(State(context): State<Ctx>, Path(id): Path<String>) -> Result<Json<DocumentDetail>, ApiError> {
    let lookup = id.clone();
    let found = context
        .with_index(move |index| -> footnote_index::Result<_> {
            let Some(document) = index.store().documents()?.into_iter().find(|d| d.id == lookup) else {
                return Ok(None);
            };
            Ok(Some(DocumentDetail { passages: index.store().passages(Some(&lookup))?, document }))
        })
        .await??;
    found.map(Json).ok_or(ApiError::NotFound { what: "document", id })
}

/// A document given as text.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDocument {
    pub title: String,
    /// Plain text; blank lines separate paragraphs.
    pub text: String,
    /// Where the document comes from (a URL), shown with its citations.
    pub source: Option<String>,
    /// Its id; by default made from the title. A document with the same id is replaced.
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
/// `multipart/form-data` upload of `.txt`, `.md` and `.html` files (field
/// `file`, repeatable; each file's name is its id).
#[utoipa::path(
    post,
    path = "/api/v1/documents",
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
        (status = 422, description = "Empty title or text, or no text left after cleaning", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create(State(context): State<Ctx>, _admin: Admin, request: Request) -> Result<(StatusCode, Json<IngestReply>), ApiError> {
    let content_type = request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let staging = tempfile::tempdir().map_err(|e| ApiError::Internal(e.into()))?;
    let ids = if content_type.starts_with("application/json") {
        let length = request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
        if length.is_some_and(|n| n > JSON_BODY_LIMIT) {
            return Err(ApiError::TooLarge(format!("the JSON body is over the limit of {JSON_BODY_LIMIT} bytes; upload large documents as files")));
        }
        let Json(document) = Json::<NewDocument>::from_request(request, &context).await?;
        vec![stage_text(staging.path(), document)?]
    } else if content_type.starts_with("multipart/form-data") {
        let multipart = Multipart::from_request(request, &context).await.map_err(|e| match e.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge(format!("the upload is over the limit of {} bytes", context.upload_limit)),
            _ => ApiError::Invalid(e.body_text()),
        })?;
        stage_files(staging.path(), multipart, context.upload_limit).await?
    } else {
        return Err(ApiError::UnsupportedMediaType(format!(
            "send `application/json` ({{title, text}}) or `multipart/form-data` files, not {:?}",
            content_type
        )));
    };

    let _one_at_a_time = context.ingest_lock.lock().await;
    let root = staging.path().to_path_buf();
    let report: IngestReport =
        context.with_index(move |index| Ingestor::new(index).ingest(&[root], &Silent)).await?.map_err(|e| ApiError::Internal(e.into()))?;
    context.update_index_gauge();
    if let Some((path, reason)) = report.skipped.first() {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        return Err(ApiError::Invalid(format!("{name}: {reason}")));
    }
    let reply = IngestReply {
        documents: ids,
        added: report.added,
        replaced: report.replaced,
        unchanged: report.unchanged,
        passages_written: report.passages_written,
        warnings: report.warnings.iter().map(|w| w.replace(&staging.path().display().to_string(), "")).collect(),
    };
    Ok((StatusCode::CREATED, Json(reply)))
}

/// Writes a text document and its manifest entry into the staging folder.
fn stage_text(dir: &std::path::Path, document: NewDocument) -> Result<String, ApiError> {
    let title = document.title.trim();
    if title.is_empty() {
        return Err(ApiError::Invalid("the title is empty".into()));
    }
    if document.text.trim().is_empty() {
        return Err(ApiError::Invalid("the text is empty".into()));
    }
    let id = match document.id {
        Some(id) => checked_id(&id)?,
        None => slug(title),
    };
    std::fs::write(dir.join("document.txt"), &document.text).map_err(|e| ApiError::Internal(e.into()))?;
    let mut entry = toml::Table::new();
    entry.insert("file".into(), "document.txt".into());
    entry.insert("id".into(), id.clone().into());
    entry.insert("title".into(), title.into());
    if let Some(source) = document.source.filter(|s| !s.trim().is_empty()) {
        entry.insert("source".into(), source.into());
    }
    let mut manifest = toml::Table::new();
    manifest.insert("document".into(), toml::Value::Array(vec![toml::Value::Table(entry)]));
    std::fs::write(dir.join(footnote_ingest::source::MANIFEST_FILE), toml::to_string(&manifest).expect("manifests serialize"))
        .map_err(|e| ApiError::Internal(e.into()))?;
    Ok(id)
}

/// Saves the uploaded files (field `file`) into the staging folder.
async fn stage_files(dir: &std::path::Path, mut multipart: Multipart, limit: usize) -> Result<Vec<String>, ApiError> {
    let mut ids = Vec::new();
    while let Some(field) = multipart.next_field().await.map_err(|e| multipart_error(e, limit))? {
        if field.name() != Some("file") {
            continue;
        }
        let name = field.file_name().map(str::to_string).ok_or_else(|| ApiError::Invalid("a `file` part has no file name".into()))?;
        let id = checked_id(name.rsplit(['/', '\\']).next().unwrap_or(&name))?;
        let extension = id.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
        if !["txt", "text", "md", "markdown", "html", "htm"].contains(&extension.as_str()) {
            return Err(ApiError::UnsupportedMediaType(format!("{id}: only .txt, .md and .html files can be indexed")));
        }
        let bytes = field.bytes().await.map_err(|e| multipart_error(e, limit))?;
        std::fs::write(dir.join(&id), &bytes).map_err(|e| ApiError::Internal(e.into()))?;
        ids.push(id);
    }
    if ids.is_empty() {
        return Err(ApiError::Invalid("the form has no `file` part".into()));
    }
    Ok(ids)
}

fn multipart_error(error: axum::extract::multipart::MultipartError, limit: usize) -> ApiError {
    match error.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge(format!("the upload is over the limit of {limit} bytes")),
        _ => ApiError::Invalid(format!("the upload cannot be read: {}", error.body_text())),
    }
}

/// A document id that is safe as a file name and in a URL path.
fn checked_id(id: &str) -> Result<String, ApiError> {
    let id = id.trim();
    let fine = !id.is_empty()
        && id.len() <= 200
        && !id.starts_with('.')
        && id.chars().all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ' '));
    if fine { Ok(id.to_string()) } else { Err(ApiError::Invalid(format!("{id:?} is not a usable document id (letters, digits, - _ . and spaces)"))) }
}

/// "Kazakhstan's 2022 reform" → "kazakhstan-s-2022-reform".
fn slug(title: &str) -> String {
    let words: Vec<String> = title
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let slug = words.join("-");
    slug.chars().take(80).collect()
}

/// Remove a document and its passages.
#[utoipa::path(
    delete,
    path = "/api/v1/documents/{id}",
    tag = "documents",
    params(("id" = String, Path, description = "Document id")),
    security(("admin_token" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No bearer token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Wrong token, or writes turned off", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown document", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete(State(context): State<Ctx>, _admin: Admin, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    let _one_at_a_time = context.ingest_lock.lock().await;
    let target = id.clone();
    let removed = context.with_index(move |index| index.delete_document(&target)).await?;
    context.update_index_gauge();
    match removed {
        Ok(0) | Err(footnote_index::Error::DocumentNotFound(_)) => Err(ApiError::NotFound { what: "document", id }),
        Ok(_) => Ok(StatusCode::NO_CONTENT),
        Err(e) => Err(e.into()),
    }
}

