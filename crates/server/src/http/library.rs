//! The document library at `/documents`: every indexed document in a table
//! that filters, a page per document with its passages, uploads and deletes
//! for a logged-in admin, and the login that allows them. Rendered on the
//! server like the chat page, so it works without JavaScript; with it, files
//! can be dropped and each upload streams its stages
//! (`Accept: application/x-ndjson`).

use askama::Template;
use axum::body::Body;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Multipart, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use footnote_index::{DocumentSummary, Passage};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use tokio_stream::StreamExt;

use super::cookies::{self, Browser, LoggedIn, SESSION_COOKIE, SESSION_HOURS, check_form_token};
use super::documents::multipart_error;
use super::extract::{Path, Query};
use super::page::{Frame, TokenForm, render};
use super::{ApiError, Ctx};
use crate::app::{Added, AppError, Upload};

#[derive(Template)]
#[template(path = "library.html")]
struct LibraryPage {
    frame: Frame,
    documents: Vec<DocumentRow>,
    passages: usize,
    filter: String,
    outcomes: Vec<Outcome>,
    error: Option<String>,
}

struct DocumentRow {
    id: String,
    title: String,
    source: String,
    link: Option<String>,
    kind: &'static str,
    date: String,
    passages: usize,
    added: String,
    /// What the filter matches, lower-cased: title, id, source and type.
    search: String,
}

/// What became of one uploaded file.
#[derive(Debug, Clone, Serialize)]
struct Outcome {
    file: String,
    /// `stored`, `unchanged` or `error`.
    kind: &'static str,
    text: String,
}

#[derive(Template)]
#[template(path = "document.html")]
struct DocumentPage {
    frame: Frame,
    id: String,
    title: String,
    source: String,
    link: Option<String>,
    kind: &'static str,
    date: String,
    added: String,
    passages: Vec<PassageView>,
}

struct PassageView {
    number: usize,
    page: Option<u32>,
    section: Option<String>,
    text: String,
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    frame: Frame,
    hours: u64,
    error: Option<String>,
}

/// What kind of document this is, as a reader names it: from the extension
/// of its id (a file name or URL), else a web page or text.
fn kind(document: &DocumentSummary) -> &'static str {
    let path = document.id.split(['?', '#']).next().unwrap_or(&document.id).to_ascii_lowercase();
    let extension = path.rsplit_once('.').map_or("", |(_, e)| e);
    match extension {
        "pdf" => "PDF",
        "docx" => "Word",
        "odt" => "OpenDocument",
        "md" | "markdown" => "Markdown",
        "html" | "htm" => "HTML",
        "txt" | "text" => "Text",
        _ if document.id.starts_with("http://") || document.id.starts_with("https://") => "Web page",
        _ => "Text",
    }
}

fn web_link(source: &str) -> Option<String> {
    (source.starts_with("https://") || source.starts_with("http://")).then(|| source.to_string())
}

/// `2026-12-02T11:45:19Z` as `2026-12-02 11:45 UTC`.
fn readable_time(stamp: &str) -> String {
    match (stamp.get(..10), stamp.get(11..16)) {
        (Some(day), Some(time)) if stamp.ends_with('Z') => format!("{day} {time} UTC"),
        _ => stamp.to_string(),
    }
}

fn row(document: DocumentSummary) -> DocumentRow {
    let kind = kind(&document);
    let source = document.source.clone().unwrap_or_default();
    let search = format!("{} {} {} {}", document.title, document.id, source, kind).to_lowercase();
    DocumentRow {
        link: web_link(&source),
        id: document.id,
        title: document.title,
        source,
        kind,
        date: document.date.unwrap_or_default(),
        passages: document.passages,
        added: document.added.as_deref().map(readable_time).unwrap_or_default(),
        search,
    }
}

async fn library_page(
    context: &Ctx,
    browser: &Browser,
    logged_in: LoggedIn,
    filter: String,
    outcomes: Vec<Outcome>,
    error: Option<String>,
) -> Result<LibraryPage, ApiError> {
    let documents = context.app.documents().await?;
    let passages = documents.iter().map(|d| d.passages).sum();
    let needle = filter.trim().to_lowercase();
    let documents = documents.into_iter().map(row).filter(|row| row.search.contains(&needle)).collect();
    Ok(LibraryPage { frame: Frame::new(context, browser, logged_in, "library"), documents, passages, filter, outcomes, error })
}

#[derive(Debug, Deserialize)]
pub struct LibraryQuery {
    /// Only documents whose title, id, source or type contain this.
    #[serde(default)]
    q: String,
}

/// `GET /documents`: the library.
pub async fn library(
    State(context): State<Ctx>,
    browser: Browser,
    logged_in: LoggedIn,
    Query(query): Query<LibraryQuery>,
) -> Result<Response, ApiError> {
    Ok(render(&library_page(&context, &browser, logged_in, query.q, Vec::new(), None).await?, StatusCode::OK))
}

/// `GET /documents/{id}`: one document with its passages.
pub async fn document(
    State(context): State<Ctx>,
    browser: Browser,
    logged_in: LoggedIn,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let (summary, passages) = context.app.document(&id).await?;
    let kind = kind(&summary);
    let source = summary.source.clone().unwrap_or_default();
    let shown = DocumentPage {
        frame: Frame::new(&context, &browser, logged_in, "library"),
        link: web_link(&source),
        id: summary.id,
        title: summary.title,
        source,
        kind,
        date: summary.date.unwrap_or_default(),
        added: summary.added.as_deref().map(readable_time).unwrap_or_default(),
        passages: passages
            .into_iter()
            .map(|Passage { position, page, section, text, .. }| PassageView { number: position + 1, page, section, text })
            .collect(),
    };
    Ok(render(&shown, StatusCode::OK))
}

/// Why this browser may not change documents, if it may not.
fn may_write(context: &Ctx, logged_in: LoggedIn) -> Result<(), String> {
    match (&context.admin_token, logged_in.0) {
        (None, _) => Err("This library is read-only: the server has no admin token (FOOTNOTE_ADMIN_TOKEN).".into()),
        (Some(_), false) => Err("Log in with the admin token to add or delete documents.".into()),
        (Some(_), true) => Ok(()),
    }
}

/// The library, saying why this browser may not change it.
async fn refused(context: &Ctx, browser: &Browser, logged_in: LoggedIn, reason: String) -> Result<Response, ApiError> {
    let shown = library_page(context, browser, logged_in, String::new(), Vec::new(), Some(reason)).await?;
    Ok(render(&shown, StatusCode::FORBIDDEN))
}

/// `POST /documents`: files uploaded from the library's form (field `file`,
/// repeatable, and the form's `csrf`). Each file is indexed on its own, so
/// one that cannot be read does not stop the others. With
/// `Accept: application/x-ndjson` the reply streams one JSON line per stage
/// of each file (`{"file", "stage"}`: reading, cleaning, embedding,
/// storing) and a last line per file with its outcome; otherwise the library
/// page shows the outcomes.
pub async fn upload(
    State(context): State<Ctx>,
    browser: Browser,
    logged_in: LoggedIn,
    headers: HeaderMap,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Response, ApiError> {
    if let Err(reason) = may_write(&context, logged_in) {
        return refused(&context, &browser, logged_in, reason).await;
    }
    let mut multipart = multipart.map_err(|e| ApiError::Invalid(e.body_text()))?;
    let limit = context.upload_limit;
    let mut token = String::new();
    let mut files = Vec::new();
    while let Some(field) = multipart.next_field().await.map_err(|e| multipart_error(e, limit))? {
        match field.name() {
            Some("csrf") => token = field.text().await.map_err(|e| multipart_error(e, limit))?,
            Some("file") => {
                let file_name = field.file_name().unwrap_or_default().to_string();
                let bytes = field.bytes().await.map_err(|e| multipart_error(e, limit))?;
                // A form submitted with no file chosen sends one empty, nameless part.
                if !(file_name.is_empty() && bytes.is_empty()) {
                    files.push(Upload { file_name, bytes: bytes.to_vec() });
                }
            }
            _ => {}
        }
    }
    check_form_token(&context, &browser, &token)?;
    if wants_stages(&headers) {
        return Ok(stream_stages(context, files));
    }
    let mut outcomes = Vec::new();
    for file in files {
        let name = file.file_name.clone();
        outcomes.push(outcome(&name, context.app.add_files(vec![file]).await));
    }
    if outcomes.is_empty() {
        let shown = library_page(&context, &browser, logged_in, String::new(), Vec::new(), Some("Choose a file to upload first.".into())).await?;
        return Ok(render(&shown, StatusCode::UNPROCESSABLE_ENTITY));
    }
    Ok(render(&library_page(&context, &browser, logged_in, String::new(), outcomes, None).await?, StatusCode::OK))
}

fn wants_stages(headers: &HeaderMap) -> bool {
    headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("application/x-ndjson"))
}

fn outcome(file: &str, result: Result<Added, AppError>) -> Outcome {
    let file = file.to_string();
    match result {
        Ok(Added { report, .. }) if report.unchanged > 0 => {
            Outcome { file, kind: "unchanged", text: "already indexed, unchanged".into() }
        }
        Ok(Added { report, .. }) => {
            let verb = if report.replaced > 0 { "replaced" } else { "added" };
            let count = report.passages_written;
            let text = format!("{verb}, {count} passage{}", if count == 1 { "" } else { "s" });
            Outcome { file, kind: "stored", text }
        }
        Err(error @ (AppError::Invalid(_) | AppError::UnsupportedFormat(_))) => {
            Outcome { file, kind: "error", text: format!("not added: {error}") }
        }
        Err(error) => {
            ApiError::from(error).log_if_internal();
            Outcome { file, kind: "error", text: "not added: the server failed to index it".into() }
        }
    }
}

/// One line of an upload's stream.
#[derive(Serialize)]
struct StageLine<'a> {
    file: &'a str,
    stage: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    outcome: Option<&'a Outcome>,
}

fn line(file: &str, stage: &str, outcome: Option<&Outcome>) -> String {
    let mut line = serde_json::to_string(&StageLine { file, stage, outcome }).expect("lines serialize");
    line.push('\n');
    line
}

/// Indexes the files one after another, sending each stage as it is reached.
fn stream_stages(context: Ctx, files: Vec<Upload>) -> Response {
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel::<String>();
    tokio::spawn(async move {
        for file in files {
            let name = file.file_name.clone();
            let stages = sender.clone();
            let told = name.clone();
            let result = context
                .app
                .add_files_telling(vec![file], move |_, stage| {
                    let _ = stages.send(line(&told, stage.as_str(), None));
                })
                .await;
            let outcome = outcome(&name, result);
            let _ = sender.send(line(&name, "done", Some(&outcome)));
        }
    });
    let stream = tokio_stream::wrappers::UnboundedReceiverStream::new(receiver).map(Ok::<_, std::convert::Infallible>);
    let mut response = Body::from_stream(stream).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/x-ndjson"));
    response
}

#[derive(Debug, Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    id: String,
    #[serde(default)]
    csrf: String,
}

/// `POST /documents/delete`: a document deleted from the library.
pub async fn delete_form(
    State(context): State<Ctx>,
    browser: Browser,
    logged_in: LoggedIn,
    form: Result<Form<DeleteForm>, FormRejection>,
) -> Result<Response, ApiError> {
    let Form(form) = form?;
    if let Err(reason) = may_write(&context, logged_in) {
        return refused(&context, &browser, logged_in, reason).await;
    }
    check_form_token(&context, &browser, &form.csrf)?;
    context.app.delete_document(&form.id).await?;
    Ok(Redirect::to("/documents").into_response())
}

/// `GET /login`: the form that exchanges the admin token for a login.
pub async fn login_page(State(context): State<Ctx>, browser: Browser, logged_in: LoggedIn) -> Response {
    let shown = LoginPage { frame: Frame::new(&context, &browser, logged_in, "login"), hours: SESSION_HOURS, error: None };
    render(&shown, StatusCode::OK)
}

#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    csrf: String,
}

/// `POST /login`: the admin token, once, for a session cookie.
pub async fn login(
    State(context): State<Ctx>,
    browser: Browser,
    logged_in: LoggedIn,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Result<Response, ApiError> {
    let Form(form) = form?;
    check_form_token(&context, &browser, &form.csrf)?;
    let refuse = |error: &str| {
        let shown = LoginPage { frame: Frame::new(&context, &browser, logged_in, "login"), hours: SESSION_HOURS, error: Some(error.into()) };
        Ok(render(&shown, StatusCode::FORBIDDEN))
    };
    let Some(expected) = &context.admin_token else {
        return refuse("The server has no admin token, so there is nothing to log in to.");
    };
    if !bool::from(form.token.as_bytes().ct_eq(expected.as_bytes())) {
        return refuse("That is not the admin token.");
    }
    let lasts = std::time::Duration::from_secs(SESSION_HOURS * 3600);
    let value = context.cookies.new_session(expected, cookies::now() + lasts.as_secs());
    let mut response = Redirect::to("/documents").into_response();
    response.headers_mut().append(header::SET_COOKIE, cookies::set_cookie(SESSION_COOKIE, &value, lasts, cookies::over_https(&headers)));
    Ok(response)
}

/// `POST /logout`: ends the login.
pub async fn logout(
    State(context): State<Ctx>,
    browser: Browser,
    headers: HeaderMap,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Result<Response, ApiError> {
    let Form(form) = form?;
    check_form_token(&context, &browser, &form.csrf)?;
    let mut response = Redirect::to("/").into_response();
    let gone = cookies::set_cookie(SESSION_COOKIE, "", std::time::Duration::ZERO, cookies::over_https(&headers));
    response.headers_mut().append(header::SET_COOKIE, gone);
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(id: &str, source: Option<&str>) -> DocumentSummary {
        DocumentSummary {
            id: id.into(),
            title: "T".into(),
            source: source.map(str::to_string),
            date: None,
            passages: 1,
            content_hash: String::new(),
            added: None,
        }
    }

    #[test]
    fn a_document_is_named_by_its_kind() {
        assert_eq!(kind(&summary("report.PDF", None)), "PDF");
        assert_eq!(kind(&summary("https://example.org/a.pdf?x=1", None)), "PDF");
        assert_eq!(kind(&summary("https://example.org/guide/", None)), "Web page");
        assert_eq!(kind(&summary("notes.md", None)), "Markdown");
        assert_eq!(kind(&summary("Salt lakes", None)), "Text");
        assert_eq!(readable_time("2026-12-02T11:45:19Z"), "2026-12-02 11:45 UTC");
    }
}
