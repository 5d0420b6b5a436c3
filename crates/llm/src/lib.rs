//! A client for OpenAI-compatible chat-completions APIs: Ollama, llama.cpp's
//! `llama-server`, vLLM, LM Studio, OpenAI.
//!
//! footnote's generative answerer streams a completion through [`Client::stream`]
//! and verifies each sentence as it arrives, so the client hands over text as
//! the model writes it. The API is the one these servers share: `POST
//! {base}/chat/completions` with `"stream": true`, answered with server-sent
//! events whose `data` lines carry `choices[0].delta.content` and end with
//! `data: [DONE]`. A server that ignores `stream` and answers with one JSON
//! completion is read too.
//!
//! Every way a call can fail is one [`Error`] variant, so that the answerer
//! can fall back and say why; [`Error::kind`] names it for metrics.

use std::io::{BufRead, BufReader};
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Where the model is and how long an answer may take.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The API base, e.g. `http://127.0.0.1:11434/v1`; footnote posts to
    /// `{base}/chat/completions`.
    pub base_url: String,
    /// The model's name as the server knows it.
    pub model: String,
    /// Sent as a bearer token when set.
    pub api_key: Option<String>,
    /// The whole completion, from connecting to the last token.
    pub timeout: Duration,
    /// Tokens the model may write at most.
    pub max_tokens: u32,
}

/// Who says a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    pub role: Role,
    pub content: String,
}

impl Message {
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Message { role, content: content.into() }
    }
}

/// A finished completion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    pub text: String,
    /// Why the model stopped (`stop`, `length`, …), when the server says.
    pub finish_reason: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the language model URL '{url}' is not usable: {reason} (set --llm-url / FOOTNOTE_LLM_URL to an http:// or https:// API base such as http://127.0.0.1:11434/v1)")]
    BadUrl { url: String, reason: String },

    #[error("the language model at {url} cannot be reached: {reason}")]
    Unreachable { url: String, reason: String },

    #[error("the language model did not finish within {} s (--llm-timeout)", .0.as_secs_f32())]
    Timeout(Duration),

    #[error("the language model answered HTTP {status}: {message}")]
    Status { status: u16, message: String },

    #[error("the language model's reply is not a chat completion: {0}")]
    Malformed(String),

    #[error("the language model's reply broke off: {0}")]
    Cut(String),
}

impl Error {
    /// A short name of the failure, for metrics and warnings.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::BadUrl { .. } => "bad_url",
            Error::Unreachable { .. } => "unreachable",
            Error::Timeout(_) => "timeout",
            Error::Status { .. } => "status",
            Error::Malformed(_) => "malformed",
            Error::Cut(_) => "cut",
        }
    }
}

/// A chat-completions client. Cheap to share: one per process, used by every
/// question at once (its connection pool is shared).
pub struct Client {
    agent: ureq::Agent,
    base_url: String,
    model: String,
    api_key: Option<String>,
    timeout: Duration,
    max_tokens: u32,
}

#[derive(Serialize)]
struct ChatRequest<'a> {
    model: &'a str,
    messages: &'a [Message],
    stream: bool,
    max_tokens: u32,
    /// Answers should keep to the passages, not wander.
    temperature: f32,
}

#[derive(Deserialize)]
struct StreamChunk {
    #[serde(default)]
    choices: Vec<StreamChoice>,
}

#[derive(Deserialize)]
struct StreamChoice {
    #[serde(default)]
    delta: Option<Delta>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
}

#[derive(Deserialize)]
struct WholeCompletion {
    choices: Vec<WholeChoice>,
}

#[derive(Deserialize)]
struct WholeChoice {
    message: WholeMessage,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct WholeMessage {
    #[serde(default)]
    content: Option<String>,
}

/// How long a readiness check waits for the model server.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

impl Client {
    pub fn new(settings: Settings) -> Result<Client, Error> {
        let bad = |reason: &str| Error::BadUrl { url: settings.base_url.clone(), reason: reason.into() };
        let given = settings.base_url.trim();
        let scheme = ["http://", "https://"].into_iter().find(|s| given.starts_with(s)).ok_or_else(|| bad("it must start with http:// or https://"))?;
        let rest = given[scheme.len()..].trim_end_matches('/');
        if rest.is_empty() || rest.starts_with('/') {
            return Err(bad("it names no host"));
        }
        let base_url = format!("{scheme}{rest}");
        if base_url.ends_with("/chat/completions") {
            return Err(bad("give the API base; footnote adds /chat/completions itself"));
        }
        if settings.model.trim().is_empty() {
            return Err(Error::BadUrl { url: settings.base_url, reason: "no model is named (set --llm-model / FOOTNOTE_LLM_MODEL)".into() });
        }
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(settings.timeout.min(Duration::from_secs(10))))
            .build()
            .new_agent();
        Ok(Client {
            agent,
            base_url,
            model: settings.model,
            api_key: settings.api_key.filter(|k| !k.is_empty()),
            timeout: settings.timeout,
            max_tokens: settings.max_tokens,
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    pub fn model(&self) -> &str {
        &self.model
    }

    /// Asks for a completion and passes its text on piece by piece as the
    /// model writes it; returns the whole of it. A reply that ends before the
    /// server says it is done is [`Error::Cut`].
    pub fn stream(&self, messages: &[Message], on_text: &mut dyn FnMut(&str)) -> Result<Completion, Error> {
        let url = format!("{}/chat/completions", self.base_url);
        let body = ChatRequest { model: &self.model, messages, stream: true, max_tokens: self.max_tokens, temperature: 0.0 };
        let body = serde_json::to_vec(&body).expect("a chat request serializes");
        let mut request = self
            .agent
            .post(&url)
            .config()
            .timeout_global(Some(self.timeout))
            .build()
            .header("content-type", "application/json")
            .header("accept", "text/event-stream");
        if let Some(key) = &self.api_key {
            request = request.header("authorization", format!("Bearer {key}"));
        }
        let response = request.send(&body[..]).map_err(|e| self.call_error(&url, e))?;
        let status = response.status().as_u16();
        let event_stream = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        let mut body = response.into_body();
        if !(200..300).contains(&status) {
            let text = body.with_config().limit(64 * 1024).read_to_string().unwrap_or_default();
            return Err(Error::Status { status, message: error_message(&text) });
        }
        if !event_stream {
            let text = body.with_config().limit(4 * 1024 * 1024).read_to_string().map_err(|e| self.read_error(e.into_io()))?;
            let whole: WholeCompletion = serde_json::from_str(&text).map_err(|e| Error::Malformed(format!("{e}")))?;
            let choice = whole.choices.into_iter().next().ok_or_else(|| Error::Malformed("no choices".into()))?;
            let text = choice.message.content.unwrap_or_default();
            on_text(&text);
            return Ok(Completion { text, finish_reason: choice.finish_reason });
        }
        let reader = BufReader::new(body.into_reader());
        let mut text = String::new();
        let mut finish_reason = None;
        for line in reader.lines() {
            let line = line.map_err(|e| self.read_error(e))?;
            let Some(data) = line.strip_prefix("data:") else {
                continue; // comments, event names, blank separators
            };
            let data = data.trim();
            if data == "[DONE]" {
                return Ok(Completion { text, finish_reason });
            }
            let chunk: StreamChunk = serde_json::from_str(data).map_err(|e| Error::Malformed(format!("{e} in event {}", shorten(data))))?;
            for choice in chunk.choices {
                if let Some(piece) = choice.delta.and_then(|d| d.content).filter(|p| !p.is_empty()) {
                    on_text(&piece);
                    text.push_str(&piece);
                }
                if choice.finish_reason.is_some() {
                    finish_reason = choice.finish_reason;
                }
            }
        }
        // Some servers close the stream after the last chunk without [DONE];
        // a finish reason says the model did finish.
        if finish_reason.is_some() {
            return Ok(Completion { text, finish_reason });
        }
        Err(Error::Cut(format!("the stream ended after {} characters, before the server said it was done", text.chars().count())))
    }

    /// Whether the model server answers: `GET {base}/models` within two seconds.
    pub fn check(&self) -> Result<(), Error> {
        let url = format!("{}/models", self.base_url);
        let mut request = self.agent.get(&url).config().timeout_global(Some(CHECK_TIMEOUT)).build();
        if let Some(key) = &self.api_key {
            request = request.header("authorization", format!("Bearer {key}"));
        }
        let response = request.call().map_err(|e| self.call_error(&url, e))?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            let text = response.into_body().with_config().limit(64 * 1024).read_to_string().unwrap_or_default();
            return Err(Error::Status { status, message: error_message(&text) });
        }
        Ok(())
    }

    fn call_error(&self, url: &str, error: ureq::Error) -> Error {
        match error {
            ureq::Error::Timeout(_) => Error::Timeout(self.timeout),
            ureq::Error::Io(e) if e.kind() == std::io::ErrorKind::TimedOut => Error::Timeout(self.timeout),
            other => Error::Unreachable { url: url.to_string(), reason: other.to_string() },
        }
    }

    fn read_error(&self, error: std::io::Error) -> Error {
        let timed_out = error.kind() == std::io::ErrorKind::TimedOut
            || error.get_ref().and_then(|e| e.downcast_ref::<ureq::Error>()).is_some_and(|e| matches!(e, ureq::Error::Timeout(_)));
        if timed_out { Error::Timeout(self.timeout) } else { Error::Cut(error.to_string()) }
    }
}

/// The message of an OpenAI-style error body (`{"error": {"message": …}}`),
/// or the start of whatever else the server sent.
fn error_message(body: &str) -> String {
    #[derive(Deserialize)]
    struct Body {
        error: ErrorBody,
    }
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ErrorBody {
        Object { message: String },
        Text(String),
    }
    match serde_json::from_str::<Body>(body) {
        Ok(Body { error: ErrorBody::Object { message } | ErrorBody::Text(message) }) => message,
        Err(_) if body.trim().is_empty() => "(no body)".into(),
        Err(_) => shorten(body.trim()),
    }
}

fn shorten(text: &str) -> String {
    if text.chars().count() <= 200 { text.to_string() } else { format!("{}…", text.chars().take(200).collect::<String>()) }
}
