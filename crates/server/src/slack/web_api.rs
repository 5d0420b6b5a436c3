//! The few Slack Web API calls the adapter makes (`chat.postMessage`,
//! `apps.connections.open`) and posts to `response_url`s, with Slack's rate
//! limiting honoured: a 429 is retried after its `Retry-After`, transient
//! failures after a short backoff, and everything else is reported by its
//! error code. The base URL is configurable so tests can point it at a local
//! Slack stand-in.

use std::time::Duration;

use serde_json::{Value, json};

use super::blocks::SlackMessage;

/// Attempts per call before giving up.
const MAX_TRIES: u32 = 4;
/// A `Retry-After` longer than this is not waited out: the call gives up.
const LONGEST_WAIT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum SlackApiError {
    #[error("{method} failed: {code}")]
    Refused { method: String, code: String },
    #[error("{method} still rate limited after {tries} tries")]
    RateLimited { method: String, tries: u32 },
    #[error("{method} asked to wait {seconds} s; not waiting that long")]
    WaitTooLong { method: String, seconds: u64 },
    #[error("{method} answered HTTP {status}: {body}")]
    Status { method: String, status: u16, body: String },
    #[error("{method} could not be reached: {source}")]
    Transport {
        method: String,
        #[source]
        source: reqwest::Error,
    },
}

impl SlackApiError {
    /// The error code Slack gave, when it refused the call.
    pub fn code(&self) -> Option<&str> {
        match self {
            SlackApiError::Refused { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// Error codes that say "try again", as opposed to a mistake in the call.
fn transient(code: &str) -> bool {
    matches!(code, "internal_error" | "fatal_error" | "service_unavailable" | "request_timeout" | "ratelimited")
}

pub struct WebApi {
    http: reqwest::Client,
    /// Ends with `/`, e.g. `https://slack.com/api/`.
    base_url: String,
    bot_token: String,
}

impl WebApi {
    pub fn new(base_url: &str, bot_token: &str) -> anyhow::Result<Self> {
        // reqwest and tokio-tungstenite run rustls on ring; a second install is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .user_agent(concat!("footnote/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let base_url = if base_url.ends_with('/') { base_url.to_string() } else { format!("{base_url}/") };
        Ok(WebApi { http, base_url, bot_token: bot_token.to_string() })
    }

    /// Posts a message, in a thread when `thread_ts` is given; returns its `ts`.
    pub async fn post_message(&self, channel: &str, thread_ts: Option<&str>, message: &SlackMessage) -> Result<String, SlackApiError> {
        let mut body = json!({
            "channel": channel,
            "text": message.text,
            "blocks": message.blocks,
            "unfurl_links": false,
            "unfurl_media": false,
        });
        if let Some(thread_ts) = thread_ts {
            body["thread_ts"] = json!(thread_ts);
        }
        let reply = self.call("chat.postMessage", &self.bot_token, Some(&body)).await?;
        Ok(reply["ts"].as_str().unwrap_or_default().to_string())
    }

    /// Opens a Socket Mode connection with the app-level token; returns the
    /// WebSocket URL to connect to.
    pub async fn open_connection(&self, app_token: &str) -> Result<String, SlackApiError> {
        let reply = self.call("apps.connections.open", app_token, None).await?;
        reply["url"].as_str().map(str::to_string).ok_or_else(|| SlackApiError::Refused {
            method: "apps.connections.open".into(),
            code: "the reply has no url".into(),
        })
    }

    /// Sends a message to a slash command's or an interaction's `response_url`.
    pub async fn respond(&self, response_url: &str, body: &Value) -> Result<(), SlackApiError> {
        self.send("response_url", || self.http.post(response_url).json(body)).await.map(|_| ())
    }

    /// Calls a Web API method; `ok: false` becomes [`SlackApiError::Refused`]
    /// with Slack's error code, after retries when the code is transient.
    async fn call(&self, method: &str, token: &str, body: Option<&Value>) -> Result<Value, SlackApiError> {
        let url = format!("{}{method}", self.base_url);
        let mut backoff = Duration::from_millis(500);
        for attempt in 1..=MAX_TRIES {
            let reply = self
                .send(method, || {
                    let request = self.http.post(&url).bearer_auth(token);
                    match body {
                        Some(body) => request.json(body),
                        None => request.header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded").body(""),
                    }
                })
                .await?;
            let reply: Value = serde_json::from_str(&reply).map_err(|_| SlackApiError::Status {
                method: method.into(),
                status: 200,
                body: format!("not JSON: {}", reply.chars().take(200).collect::<String>()),
            })?;
            if reply["ok"].as_bool() == Some(true) {
                if let Some(warning) = reply["warning"].as_str() {
                    tracing::warn!("{method}: Slack warns {warning}");
                }
                return Ok(reply);
            }
            let code = reply["error"].as_str().unwrap_or("unknown_error").to_string();
            if !transient(&code) || attempt == MAX_TRIES {
                return Err(SlackApiError::Refused { method: method.into(), code });
            }
            tracing::warn!("{method} failed with {code} (try {attempt} of {MAX_TRIES}); retrying in {backoff:?}");
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
        unreachable!("the last try returns")
    }

    /// Sends a request, waiting out 429s (by `Retry-After`) and retrying
    /// server errors and network failures; returns the body of a 2xx answer.
    async fn send(&self, method: &str, request: impl Fn() -> reqwest::RequestBuilder) -> Result<String, SlackApiError> {
        let mut backoff = Duration::from_millis(500);
        for attempt in 1..=MAX_TRIES {
            let last = attempt == MAX_TRIES;
            let response = match request().send().await {
                Ok(response) => response,
                Err(source) if last => return Err(SlackApiError::Transport { method: method.into(), source }),
                Err(error) => {
                    tracing::warn!("{method}: {error} (try {attempt} of {MAX_TRIES}); retrying in {backoff:?}");
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                    continue;
                }
            };
            let status = response.status();
            if status == reqwest::StatusCode::TOO_MANY_REQUESTS {
                let seconds = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .unwrap_or(1);
                if last {
                    return Err(SlackApiError::RateLimited { method: method.into(), tries: MAX_TRIES });
                }
                if Duration::from_secs(seconds) > LONGEST_WAIT {
                    return Err(SlackApiError::WaitTooLong { method: method.into(), seconds });
                }
                tracing::warn!("{method} rate limited (try {attempt} of {MAX_TRIES}); retrying after {seconds} s");
                tokio::time::sleep(Duration::from_secs(seconds)).await;
                continue;
            }
            let body = response.text().await.unwrap_or_default();
            if status.is_server_error() && !last {
                tracing::warn!("{method} answered {status} (try {attempt} of {MAX_TRIES}); retrying in {backoff:?}");
                tokio::time::sleep(backoff).await;
                backoff *= 2;
                continue;
            }
            if !status.is_success() {
                return Err(SlackApiError::Status { method: method.into(), status: status.as_u16(), body });
            }
            return Ok(body);
        }
        unreachable!("the last try returns")
    }
}
