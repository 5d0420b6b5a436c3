//! The application layer of `footnote serve`: what the service does, whoever
//! asks. The HTTP API and the page ([`crate::http`]) and the Slack bot
//! ([`crate::slack`]) translate their requests into calls on [`App`] and its
//! results and [`AppError`]s into their own replies; neither knows the other.
//!
//! A question goes through [`App::accept`] (the rules of [`rules`], the
//! conversation it continues) and [`App::answer`], which runs
//! [`footnote_answer::Asker::ask`] on a blocking thread and stores the
//! exchange in [`Conversations`].

mod documents;
mod error;
pub mod rules;

use std::sync::Arc;
use std::time::Instant;

use footnote_answer::{AnswerEvent, AnswerMode, AskRequest, AskResponse, Asker, Turn};
use footnote_index::{Index, ScoredPassage};
use serde::Serialize;
use utoipa::ToSchema;

use crate::conversations::{Conversation, ConversationSettings, ConversationSummary, Conversations, Message, Rating};
pub use documents::{Added, TextDocument, Upload};
pub use error::AppError;

/// The service every adapter shares: one per process.
pub struct App {
    asker: Asker,
    /// The language model that writes answers, when one is configured.
    llm: Option<Arc<footnote_llm::Client>>,
    conversations: Conversations,
    /// Documents are added and deleted one request at a time.
    ingest_lock: tokio::sync::Mutex<()>,
}

/// A question as an adapter receives it, not yet checked.
#[derive(Debug, Clone, Default)]
pub struct Question {
    pub text: String,
    /// The conversation it continues; a new one when `None`.
    pub conversation_id: Option<String>,
    /// Passages to rank; the default when `None`.
    pub top_k: Option<usize>,
    /// Only passages of these documents; when empty, those the conversation
    /// is limited to (all documents for a new one). Given for a conversation
    /// that exists, they become its new limit.
    pub documents: Vec<String>,
    /// The browser asking, which a new conversation belongs to.
    pub owner: Option<String>,
}

/// A question that passed the rules, with the conversation it belongs to.
#[derive(Debug)]
pub struct AcceptedQuestion {
    conversation_id: String,
    request: AskRequest,
    /// For a new conversation: who starts it and its limit.
    start: Option<ConversationSettings>,
    /// For one that exists: its new limit, when the question gives one.
    new_limit: Option<Vec<String>>,
}

/// Who asks to change a conversation: the browser (from its signed cookie)
/// and whether the admin token came with the request.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    pub browser: Option<String>,
    pub admin: bool,
}

/// The language model's state, as `/readyz` reports it.
#[derive(Debug, Serialize, ToSchema)]
pub struct LlmStatus {
    /// `ok`, or `unavailable` (answers are extractive meanwhile).
    pub status: &'static str,
    pub url: String,
    pub model: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Counts answers by mode and abstention, the language model's fallbacks by
/// reason, and its sentences by whether they were verified.
fn record_answer_metrics(response: &AskResponse) {
    let body = &response.answer.body;
    let mode = match body.mode {
        AnswerMode::Extractive => "extractive",
        AnswerMode::Generative => "generative",
    };
    metrics::counter!("footnote_answers_total", "abstained" => body.abstained.to_string(), "mode" => mode).increment(1);
    if let Some(warning) = &body.warning {
        metrics::counter!("footnote_llm_warnings_total", "code" => warning.code.as_str()).increment(1);
    }
    if body.mode == AnswerMode::Generative {
        metrics::counter!("footnote_generated_sentences_total", "verified" => "true").increment(body.sentences.len() as u64);
    }
    if !body.unsupported.is_empty() {
        metrics::counter!("footnote_generated_sentences_total", "verified" => "false").increment(body.unsupported.len() as u64);
    }
}

/// An answer with where it was stored: the `ask --json` object plus the ids.
#[derive(Debug, Serialize, ToSchema)]
pub struct AskReply {
    pub conversation_id: String,
    pub message_id: String,
    #[serde(flatten)]
    pub response: AskResponse,
}

impl App {
    /// The application answering with `asker`; `llm` is the language model
    /// it writes with, if any, for readiness checks.
    pub fn new(asker: Asker, llm: Option<Arc<footnote_llm::Client>>, conversations: Conversations) -> Self {
        App { asker, llm, conversations, ingest_lock: tokio::sync::Mutex::new(()) }
    }

    pub fn index(&self) -> &Arc<Index> {
        self.asker.index()
    }

    /// The conversation store, for an adapter's own records (Slack's threads).
    pub fn conversations(&self) -> &Conversations {
        &self.conversations
    }

    /// Checks a question and finds the conversation it continues (an unknown
    /// one is not found); a new conversation gets a fresh id. An empty id
    /// names none, in every adapter alike (the page's form sends one).
    pub async fn accept(&self, question: Question) -> Result<AcceptedQuestion, AppError> {
        let text = rules::question(&question.text)?;
        let top_k = question.top_k.map(|k| rules::passage_count("top_k", k)).transpose()?;
        let given = self.known_documents(question.documents).await?;
        let (conversation_id, conversation, documents, start, new_limit) = match question.conversation_id.filter(|id| !id.is_empty()) {
            Some(id) => {
                let Some(settings) = self.conversations.settings(&id).await? else {
                    return Err(AppError::NotFound { what: "conversation", id });
                };
                let turns: Vec<Turn> = self.conversations.turns(&id).await?;
                if given.is_empty() {
                    (id, turns, settings.documents, None, None)
                } else {
                    (id, turns, given.clone(), None, Some(given))
                }
            }
            None => {
                let settings = ConversationSettings { owner: question.owner, documents: given.clone() };
                (uuid::Uuid::new_v4().to_string(), Vec::new(), given, Some(settings), None)
            }
        };
        let request = AskRequest { question: text, conversation, top_k, documents };
        Ok(AcceptedQuestion { conversation_id, request, start, new_limit })
    }

    /// The documents a question is limited to, each one indexed: a limit
    /// naming a document that does not exist would silently answer from nothing.
    async fn known_documents(&self, documents: Vec<String>) -> Result<Vec<String>, AppError> {
        if documents.is_empty() {
            return Ok(documents);
        }
        let mut known: Vec<String> = Vec::with_capacity(documents.len());
        for id in documents {
            if known.contains(&id) {
                continue;
            }
            let lookup = id.clone();
            if !self.with_index(move |index| index.has_document(&lookup)).await?? {
                return Err(AppError::NotFound { what: "document", id });
            }
            known.push(id);
        }
        Ok(known)
    }

    /// Answers an accepted question and stores the exchange. The answer's
    /// events are passed on as they come, for streaming.
    pub async fn answer(
        &self,
        question: AcceptedQuestion,
        mut events: impl FnMut(AnswerEvent) + Send + 'static,
    ) -> Result<AskReply, AppError> {
        let asker = self.asker.clone();
        let started = Instant::now();
        let request = question.request;
        let response = tokio::task::spawn_blocking(move || asker.ask(&request, &mut events)).await??;
        metrics::histogram!("footnote_answer_duration_seconds").record(started.elapsed().as_secs_f64());
        record_answer_metrics(&response);
        if let Some(documents) = &question.new_limit {
            self.conversations.set_documents(&question.conversation_id, documents).await?;
        }
        let new = question.start.unwrap_or_default();
        let message_id = self.conversations.add_message(&question.conversation_id, &response, &new).await?;
        Ok(AskReply { conversation_id: question.conversation_id, message_id, response })
    }

    /// [`App::accept`] and [`App::answer`] in one, for adapters that do not stream.
    pub async fn ask(&self, question: Question) -> Result<AskReply, AppError> {
        let accepted = self.accept(question).await?;
        self.answer(accepted, |_| {}).await
    }

    /// Ranks passages for a query, without an answer.
    pub async fn search(&self, query: &str, k: Option<usize>) -> Result<(String, Vec<ScoredPassage>), AppError> {
        let question = rules::question(query)?;
        let k = rules::passage_count("k", k.unwrap_or(rules::DEFAULT_SEARCH_K))?;
        let query = footnote_retrieval::Query::new(question.clone(), k);
        let results = self.with_index(move |index| footnote_retrieval::Retriever::new(index).search(&query)).await??;
        Ok((question, results))
    }

    pub async fn conversation(&self, id: &str) -> Result<Conversation, AppError> {
        self.conversations.conversation(id).await?.ok_or_else(|| AppError::NotFound { what: "conversation", id: id.into() })
    }

    /// The conversations a browser started, the latest active first.
    pub async fn conversations_of(&self, browser: &str) -> Result<Vec<ConversationSummary>, AppError> {
        Ok(self.conversations.list(browser).await?)
    }

    /// Gives a conversation a title (blank: its first question again).
    pub async fn rename_conversation(&self, id: &str, title: &str, caller: &Caller) -> Result<ConversationSummary, AppError> {
        let title = rules::conversation_title(title)?;
        self.may_change(id, caller).await?;
        self.conversations.rename(id, title.as_deref()).await?;
        self.conversations.summary(id).await?.ok_or_else(|| AppError::NotFound { what: "conversation", id: id.into() })
    }

    /// Deletes a conversation with its messages and their feedback.
    pub async fn delete_conversation(&self, id: &str, caller: &Caller) -> Result<(), AppError> {
        self.may_change(id, caller).await?;
        if !self.conversations.delete(id).await? {
            return Err(AppError::NotFound { what: "conversation", id: id.into() });
        }
        Ok(())
    }

    /// Anyone with its id may read and continue a conversation (a shared
    /// link), but only the browser that started it, or a caller with the
    /// admin token, may rename or delete it.
    async fn may_change(&self, id: &str, caller: &Caller) -> Result<(), AppError> {
        let Some(settings) = self.conversations.settings(id).await? else {
            return Err(AppError::NotFound { what: "conversation", id: id.into() });
        };
        let owner_asks = settings.owner.is_some() && settings.owner == caller.browser;
        if caller.admin || owner_asks {
            return Ok(());
        }
        Err(AppError::Forbidden(match settings.owner {
            Some(_) => "this conversation was started in another browser; only that browser, or the admin token, may change it".into(),
            None => "this conversation belongs to no browser; changing it needs the admin token".into(),
        }))
    }

    /// One stored message, with the id of its conversation.
    pub async fn message(&self, id: &str) -> Result<(String, Message), AppError> {
        self.conversations.message(id).await?.ok_or_else(|| AppError::NotFound { what: "message", id: id.into() })
    }

    /// Records a vote on an answer; a later vote replaces an earlier one.
    pub async fn record_feedback(&self, message_id: &str, rating: Rating, comment: Option<&str>) -> Result<(), AppError> {
        rules::comment(comment)?;
        if !self.conversations.record_feedback(message_id, rating, comment).await? {
            return Err(AppError::NotFound { what: "message", id: message_id.into() });
        }
        Ok(())
    }

    /// Whether the conversation database and the index both answer; the
    /// number of documents when they do.
    pub async fn readiness(&self) -> Result<usize, AppError> {
        self.conversations
            .ping()
            .await
            .map_err(|e| AppError::Unavailable(format!("the conversation database does not answer: {e}")))?;
        self.with_index(|index| index.health())
            .await?
            .map_err(|e| AppError::Unavailable(format!("the index cannot be read: {e}")))
    }

    /// Whether the language model answers, when one is configured. Its
    /// failure does not make the service unready: answers fall back to
    /// extractive ones.
    pub async fn llm_status(&self) -> Option<LlmStatus> {
        let llm = self.llm.clone()?;
        let checked = tokio::task::spawn_blocking(move || (llm.check(), llm)).await;
        let (result, llm) = match checked {
            Ok(done) => done,
            Err(error) => return Some(LlmStatus { status: "unavailable", url: String::new(), model: String::new(), error: Some(error.to_string()) }),
        };
        let (status, error) = match result {
            Ok(()) => ("ok", None),
            Err(error) => ("unavailable", Some(error.to_string())),
        };
        Some(LlmStatus { status, url: llm.base_url().to_string(), model: llm.model().to_string(), error })
    }

    /// Re-reads the number of indexed passages and documents into the metrics.
    pub fn update_index_gauge(&self) {
        if let Ok(totals) = self.index().totals() {
            metrics::gauge!("footnote_passages_indexed").set(totals.passages as f64);
            metrics::gauge!("footnote_documents_indexed").set(totals.documents as f64);
        }
    }

    /// Makes the index durable and closes the database, at shutdown.
    pub async fn close(&self) -> anyhow::Result<()> {
        self.with_index(|index| index.flush()).await??;
        self.conversations.close().await;
        Ok(())
    }

    /// Runs `work` on the index on a blocking thread: the embedding model and
    /// Qdrant Edge are synchronous and must not stall the async workers.
    async fn with_index<T: Send + 'static, E: Send + 'static>(
        &self,
        work: impl FnOnce(&Index) -> Result<T, E> + Send + 'static,
    ) -> Result<Result<T, E>, AppError> {
        let index = self.index().clone();
        Ok(tokio::task::spawn_blocking(move || work(&index)).await?)
    }
}
