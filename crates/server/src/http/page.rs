//! The web chat page: rendered on the server with askama (templates under
//! `web/templates`), so it works without JavaScript; `web/assets/app.js`
//! streams answers into it when JavaScript runs. Beside the conversation, the
//! list of this browser's conversations (see [`super::cookies`]).

use std::sync::LazyLock;

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::cookies::{Browser, LoggedIn, check_form_token};
use super::extract::Path;
use super::{ApiError, Ctx};
use crate::app::{AppError, Caller, Question};
use crate::conversations::{Message, Rating};

/// Shown on an empty page; the first is the question new users try.
const EXAMPLES: [&str; 3] = [
    "Why did Tokayev call early elections?",
    "What did the 2022 constitutional reform change?",
    "Who succeeded Nazarbayev as president?",
];

/// The page's CSS and JavaScript, built into the binary.
struct Asset {
    body: &'static str,
    content_type: &'static str,
    /// Content hash: the page links `?v=<version>`, so the files can be cached for good.
    version: String,
}

static CSS: LazyLock<Asset> = LazyLock::new(|| Asset::new(include_str!("../../../../web/assets/app.css"), "text/css; charset=utf-8"));
static JS: LazyLock<Asset> = LazyLock::new(|| Asset::new(include_str!("../../../../web/assets/app.js"), "text/javascript; charset=utf-8"));

impl Asset {
    fn new(body: &'static str, content_type: &'static str) -> Self {
        let version = blake3::hash(body.as_bytes()).to_hex()[..16].to_string();
        Asset { body, content_type, version }
    }
}

pub(super) struct AssetVersions {
    pub css: String,
    pub js: String,
}

/// What every page shows around its content: the header's links and login
/// state, and the token its forms carry.
pub(super) struct Frame {
    pub assets: AssetVersions,
    /// `chat`, `library` or `login`: the header marks it, the body is styled by it.
    pub section: &'static str,
    pub form_token: String,
    pub logged_in: bool,
    /// Whether documents can be changed at all (an admin token is set).
    pub writable: bool,
}

impl Frame {
    pub fn new(context: &Ctx, browser: &Browser, logged_in: LoggedIn, section: &'static str) -> Self {
        Frame {
            assets: AssetVersions { css: CSS.version.clone(), js: JS.version.clone() },
            section,
            form_token: browser.0.as_deref().map(|id| context.cookies.form_token(id)).unwrap_or_default(),
            logged_in: logged_in.0,
            writable: context.admin_token.is_some(),
        }
    }
}

#[derive(Template)]
#[template(path = "chat.html")]
struct ChatPage {
    frame: Frame,
    /// This browser's conversations, for the side list.
    conversations: Vec<ConversationItem>,
    conversation_id: String,
    /// The documents this conversation's answers come from; empty for all.
    scope: Vec<DocumentName>,
    /// Every document, to choose from when starting a conversation.
    library: Vec<DocumentName>,
    messages: Vec<MessageView>,
    examples: &'static [&'static str],
    question: String,
    error: Option<String>,
}

struct ConversationItem {
    id: String,
    title: String,
}

pub(super) struct DocumentName {
    pub id: String,
    pub title: String,
}

#[derive(Template)]
#[template(path = "fragment.html")]
struct MessageFragment {
    message: MessageView,
}

/// A message as the templates show it.
struct MessageView {
    id: String,
    question: String,
    abstained: bool,
    text: String,
    sentences: Vec<SentenceView>,
    sources: Vec<SourceView>,
    /// What the reader should know about how the answer was written: that a
    /// language model wrote it and what was left out, or why it did not.
    provenance: Option<String>,
    voted_up: bool,
    voted_down: bool,
}

struct SentenceView {
    text: String,
    markers: Vec<usize>,
}

struct SourceView {
    n: usize,
    title: String,
    doc_id: String,
    /// 1-based, as a reader counts.
    position: usize,
    /// The page the passage starts on, for formats with pages.
    page: Option<u32>,
    /// Only http(s) links are shown as links; a PDF's opens at the page.
    url: Option<String>,
    segments: Vec<Segment>,
}

/// A run of passage text, `used` when the answer quotes it.
struct Segment {
    text: String,
    used: bool,
}

/// A source worth linking (http or https), opened at the cited page when it is
/// a PDF: browsers' PDF viewers read `#page=N`.
fn link(source: &str, page: Option<u32>) -> Option<String> {
    if !(source.starts_with("https://") || source.starts_with("http://")) {
        return None;
    }
    let path = source.split(['?', '#']).next().unwrap_or(source);
    match page {
        Some(page) if path.to_ascii_lowercase().ends_with(".pdf") && !source.contains('#') => Some(format!("{source}#page={page}")),
        _ => Some(source.to_string()),
    }
}

impl From<&Message> for MessageView {
    fn from(message: &Message) -> Self {
        let answer = &message.response.answer;
        let sources = answer
            .citations
            .iter()
            .map(|c| SourceView {
                n: c.n,
                title: c.title.clone(),
                doc_id: c.doc_id.clone(),
                position: c.position + 1,
                page: c.page,
                url: c.source.as_deref().and_then(|source| link(source, c.page)),
                segments: segments(&c.text, &c.highlights),
            })
            .collect();
        MessageView {
            id: message.id.clone(),
            question: message.response.question.clone(),
            abstained: answer.body.abstained,
            text: answer.body.text.clone(),
            sentences: answer
                .body
                .sentences
                .iter()
                .map(|s| SentenceView { text: s.text.clone(), markers: s.citations.clone() })
                .collect(),
            sources,
            provenance: provenance(&answer.body),
            voted_up: message.feedback == Some(Rating::Up),
            voted_down: message.feedback == Some(Rating::Down),
        }
    }
}

fn provenance(body: &footnote_answer::AnswerBody) -> Option<String> {
    let left_out = match body.unsupported.len() {
        0 => String::new(),
        1 => " One sentence its sources do not support was left out.".to_string(),
        n => format!(" {n} sentences their sources do not support were left out."),
    };
    match (body.mode, &body.warning) {
        (footnote_answer::AnswerMode::Generative, None) => Some(format!("Written by a language model; every sentence was checked against its source.{left_out}")),
        (footnote_answer::AnswerMode::Generative, Some(_)) => Some(format!("Written by a language model, which stopped early; every sentence shown was checked against its source.{left_out}")),
        (footnote_answer::AnswerMode::Extractive, Some(_)) => Some(format!("Quoted from the sources: the language model's answer could not be used.{left_out}")),
        (footnote_answer::AnswerMode::Extractive, None) => None,
    }
}

/// Splits a passage at the answer's highlights (character ranges).
fn segments(text: &str, highlights: &[(usize, usize)]) -> Vec<Segment> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut at = 0;
    for &(start, end) in highlights {
        let (start, end) = (start.min(chars.len()).max(at), end.min(chars.len()));
        if start >= end {
            continue;
        }
        if at < start {
            out.push(Segment { text: chars[at..start].iter().collect(), used: false });
        }
        out.push(Segment { text: chars[start..end].iter().collect(), used: true });
        at = end;
    }
    if at < chars.len() {
        out.push(Segment { text: chars[at..].iter().collect(), used: false });
    }
    out
}

/// What the chat page shows besides the conversation's messages.
struct ChatView<'a> {
    conversation_id: String,
    messages: &'a [Message],
    /// Ids of the documents its answers come from.
    scope: Vec<String>,
    question: String,
    error: Option<String>,
}

impl ChatView<'_> {
    fn empty() -> Self {
        ChatView { conversation_id: String::new(), messages: &[], scope: Vec::new(), question: String::new(), error: None }
    }
}

async fn page(context: &Ctx, browser: &Browser, logged_in: LoggedIn, view: ChatView<'_>) -> Result<ChatPage, ApiError> {
    let conversations = match &browser.0 {
        Some(id) => context.app.conversations_of(id).await?,
        None => Vec::new(),
    };
    let starting = view.conversation_id.is_empty();
    // The library is read only where the page shows it: the titles of a
    // limit, and the documents to choose from on a new chat.
    let documents = if starting || !view.scope.is_empty() { context.app.documents().await? } else { Vec::new() };
    let title_of = |id: &str| documents.iter().find(|d| d.id == id).map(|d| d.title.clone());
    let mut error = view.error;
    let mut scope = Vec::new();
    for id in view.scope {
        match title_of(&id) {
            Some(title) => scope.push(DocumentName { id, title }),
            // A conversation's limit keeps a document deleted since; a new one cannot name it.
            None if !starting => scope.push(DocumentName { title: id.clone(), id }),
            None => {
                error.get_or_insert(format!("No document with id {id:?}: it may have been deleted."));
            }
        }
    }
    let library = if starting { documents.into_iter().map(|d| DocumentName { id: d.id, title: d.title }).collect() } else { Vec::new() };
    Ok(ChatPage {
        frame: Frame::new(context, browser, logged_in, "chat"),
        conversations: conversations.into_iter().map(|c| ConversationItem { id: c.id, title: c.title }).collect(),
        conversation_id: view.conversation_id,
        scope,
        library,
        messages: view.messages.iter().map(MessageView::from).collect(),
        examples: &EXAMPLES,
        question: view.question,
        error,
    })
}

pub(super) fn render(template: &impl Template, status: StatusCode) -> Response {
    match template.render() {
        Ok(html) => (status, Html(html)).into_response(),
        Err(e) => ApiError::from(AppError::Internal(e.into())).into_response(),
    }
}

/// A query string or form whose keys may repeat (`scope=a&scope=b`).
pub(super) fn pairs(encoded: &str) -> Result<Vec<(String, String)>, ApiError> {
    serde_urlencoded::from_str(encoded).map_err(|e| ApiError::MalformedQuery(format!("the query string cannot be read: {e}")))
}

fn values(pairs: &[(String, String)], key: &str) -> Vec<String> {
    pairs.iter().filter(|(k, v)| k == key && !v.is_empty()).map(|(_, v)| v.clone()).collect()
}

/// `GET /`: the chat, with the conversation `?c=<id>` when given; a new one
/// limited to the documents `?scope=<id>` (repeatable) when given.
pub async fn chat(
    State(context): State<Ctx>,
    browser: Browser,
    logged_in: LoggedIn,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let query = pairs(query.as_deref().unwrap_or(""))?;
    let Some(id) = values(&query, "c").into_iter().next() else {
        let view = ChatView { scope: values(&query, "scope"), ..ChatView::empty() };
        return Ok(render(&page(&context, &browser, logged_in, view).await?, StatusCode::OK));
    };
    match context.app.conversation(&id).await {
        Ok(conversation) => {
            let view = ChatView { conversation_id: id, messages: &conversation.messages, scope: conversation.documents.clone(), ..ChatView::empty() };
            Ok(render(&page(&context, &browser, logged_in, view).await?, StatusCode::OK))
        }
        Err(AppError::NotFound { .. }) => {
            let error = "That conversation does not exist (any more). Ask a question to start a new one.".to_string();
            let view = ChatView { error: Some(error), ..ChatView::empty() };
            Ok(render(&page(&context, &browser, logged_in, view).await?, StatusCode::NOT_FOUND))
        }
        Err(error) => Err(error.into()),
    }
}

/// `POST /`: the page's form without JavaScript (fields `question`,
/// `conversation_id`, and `documents` repeated for a limit). The answer is
/// stored and the browser is sent to the conversation (so a reload does not
/// ask again).
pub async fn ask_form(
    State(context): State<Ctx>,
    browser: Browser,
    logged_in: LoggedIn,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<Response, ApiError> {
    let Form(form) = form?;
    let text = values(&form, "question").into_iter().next().unwrap_or_default();
    let conversation_id = values(&form, "conversation_id").into_iter().next();
    let documents = values(&form, "documents");
    let question = Question {
        text: text.clone(),
        conversation_id: conversation_id.clone(),
        documents: documents.clone(),
        owner: browser.0.clone(),
        ..Question::default()
    };
    let accepted = match context.app.accept(question).await {
        Ok(accepted) => accepted,
        Err(AppError::InvalidQuestion(problem) | AppError::Invalid(problem)) => {
            let conversation = match &conversation_id {
                Some(id) => match context.app.conversation(id).await {
                    Ok(conversation) => Some(conversation),
                    Err(AppError::NotFound { .. }) => None,
                    Err(error) => return Err(error.into()),
                },
                None => None,
            };
            let (messages, scope) = conversation.map_or((Vec::new(), documents), |c| (c.messages, c.documents));
            let view = ChatView {
                conversation_id: conversation_id.unwrap_or_default(),
                messages: &messages,
                scope,
                question: text,
                error: Some(problem),
            };
            return Ok(render(&page(&context, &browser, logged_in, view).await?, StatusCode::UNPROCESSABLE_ENTITY));
        }
        Err(AppError::NotFound { what: "document", id }) => {
            // A limit naming a document deleted since the page was shown.
            let error = format!("No document with id {id:?}: it may have been deleted. Choose the documents again.");
            let view = ChatView { question: text, error: Some(error), ..ChatView::empty() };
            return Ok(render(&page(&context, &browser, logged_in, view).await?, StatusCode::NOT_FOUND));
        }
        Err(AppError::NotFound { .. }) => {
            // A form posted from a page whose conversation was deleted meanwhile.
            let error = "That conversation does not exist (any more). Ask again to start a new one.".to_string();
            let view = ChatView { question: text, error: Some(error), ..ChatView::empty() };
            return Ok(render(&page(&context, &browser, logged_in, view).await?, StatusCode::NOT_FOUND));
        }
        Err(error) => return Err(error.into()),
    };
    let reply = context.app.answer(accepted, |_| {}).await?;
    Ok(Redirect::to(&format!("/?c={}#m-{}", reply.conversation_id, reply.message_id)).into_response())
}

#[derive(Debug, Deserialize)]
pub struct RenameForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    csrf: String,
}

/// `POST /conversations/{id}/rename`: the side list's rename without JavaScript.
pub async fn rename_form(
    State(context): State<Ctx>,
    browser: Browser,
    logged_in: LoggedIn,
    Path(id): Path<String>,
    form: Result<Form<RenameForm>, FormRejection>,
) -> Result<Response, ApiError> {
    let Form(form) = form?;
    check_form_token(&context, &browser, &form.csrf)?;
    let caller = Caller { browser: browser.0.clone(), admin: logged_in.0 };
    context.app.rename_conversation(&id, &form.title, &caller).await?;
    Ok(Redirect::to(&format!("/?c={id}")).into_response())
}

#[derive(Debug, Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    pub csrf: String,
}

/// `POST /conversations/{id}/delete`: the side list's delete without JavaScript.
pub async fn delete_form(
    State(context): State<Ctx>,
    browser: Browser,
    logged_in: LoggedIn,
    Path(id): Path<String>,
    form: Result<Form<TokenForm>, FormRejection>,
) -> Result<Response, ApiError> {
    let Form(form) = form?;
    check_form_token(&context, &browser, &form.csrf)?;
    let caller = Caller { browser: browser.0.clone(), admin: logged_in.0 };
    context.app.delete_conversation(&id, &caller).await?;
    Ok(Redirect::to("/").into_response())
}

#[derive(Debug, Deserialize)]
pub struct FeedbackForm {
    message_id: String,
    rating: String,
}

/// `POST /feedback`: the thumbs without JavaScript.
pub async fn feedback_form(State(context): State<Ctx>, form: Result<Form<FeedbackForm>, FormRejection>) -> Result<Response, ApiError> {
    let Form(form) = form?;
    let rating: Rating = form.rating.parse().map_err(ApiError::Invalid)?;
    let (conversation_id, _) = context.app.message(&form.message_id).await?;
    context.app.record_feedback(&form.message_id, rating, None).await?;
    Ok(Redirect::to(&format!("/?c={conversation_id}#m-{}", form.message_id)).into_response())
}

/// `GET /messages/{id}`: one message as the page shows it, for the script to
/// put in place of the streamed text once the answer is complete.
pub async fn message_fragment(State(context): State<Ctx>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let (_, message) = context.app.message(&id).await?;
    Ok(render(&MessageFragment { message: MessageView::from(&message) }, StatusCode::OK))
}

/// `GET /assets/{name}`: cached for a year (the page's links carry the content
/// hash, so a new build is fetched anew), with an ETag for revalidation.
pub async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Response {
    let asset = match name.as_str() {
        "app.css" => &*CSS,
        "app.js" => &*JS,
        _ => return ApiError::from(AppError::NotFound { what: "asset", id: name }).into_response(),
    };
    let etag = format!("\"{}\"", asset.version);
    if headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
    }
    let mut response = (StatusCode::OK, asset.body).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=31536000, immutable"));
    h.insert(header::ETAG, HeaderValue::from_str(&etag).expect("hex is a valid header"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pdf_source_opens_at_the_cited_page() {
        assert_eq!(link("https://example.org/report.PDF", Some(12)).as_deref(), Some("https://example.org/report.PDF#page=12"));
        assert_eq!(link("https://example.org/a.pdf?v=2", Some(3)).as_deref(), Some("https://example.org/a.pdf?v=2#page=3"));
        assert_eq!(link("https://example.org/page.html", Some(3)).as_deref(), Some("https://example.org/page.html"));
        assert_eq!(link("https://example.org/a.pdf", None).as_deref(), Some("https://example.org/a.pdf"));
        assert_eq!(link("file:///tmp/a.pdf", Some(1)), None);
    }

    #[test]
    fn highlights_split_the_passage_into_used_and_unused_runs() {
        let runs = segments("Ab. Cd. Ef.", &[(4, 7)]);
        let shown: Vec<(&str, bool)> = runs.iter().map(|s| (s.text.as_str(), s.used)).collect();
        assert_eq!(shown, [("Ab. ", false), ("Cd.", true), (" Ef.", false)]);
    }
}
