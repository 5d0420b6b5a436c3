//! The Slack bot: people ask footnote in Slack as they would a colleague and
//! get the web page's footnoted answers, in a thread.
//!
//! Slack reaches the adapter over the Events API (`/slack/events`,
//! `/slack/commands`, `/slack/interactions`, each request verified by
//! [`signature`]) or over Socket Mode ([`socket_mode`]); both hand what they
//! receive to the same [`Slack`] methods, which acknowledge at once and do
//! the work in the background: [`Slack::answer`] asks through
//! [`App::ask`], with each Slack thread one conversation, and posts the
//! answer rendered by [`blocks`] through [`web_api`]. Application errors
//! become a notice or an apology in the thread; errors of Slack's own routes
//! are [`SlackError`]s.

mod blocks;
mod error;
mod events;
mod signature;
mod socket_mode;
mod web_api;

use std::sync::Arc;

use anyhow::{Context, bail};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::{self, App, AppError};
use crate::conversations::Rating;
use blocks::SlackMessage;
use error::SlackError;
use events::{EventCallback, EventsApiBody, Interaction, Question, SlashCommand};
use signature::SignatureError;
use web_api::WebApi;

/// Shown when a mention comes without a question.
const HOW_TO_ASK: &str = "Ask me a question after the mention, for example: why did Tokayev call early elections?";

/// The Slack settings of `serve`; with none of the three secrets set, Slack
/// is off: no routes, no connection.
#[derive(Debug, Clone, Default)]
pub struct SlackSettings {
    /// Verifies requests to the Events API routes; mounts them.
    pub signing_secret: Option<String>,
    /// Posts the answers (`xoxb-…`).
    pub bot_token: Option<String>,
    /// Opens Socket Mode connections (`xapp-…`).
    pub app_token: Option<String>,
    /// The Web API base, `https://slack.com/api/`.
    pub api_url: String,
    /// The slash command answered, e.g. `/ask`.
    pub command: String,
}

impl SlackSettings {
    /// Whether Slack is on; an error names a setting that is missing or wrong.
    pub fn check(&self) -> anyhow::Result<bool> {
        let set = |value: &Option<String>| value.as_deref().is_some_and(|v| !v.trim().is_empty());
        let (secret, bot, app) = (set(&self.signing_secret), set(&self.bot_token), set(&self.app_token));
        if !secret && !bot && !app {
            return Ok(false);
        }
        if !bot {
            bail!("SLACK_BOT_TOKEN is not set: the Slack bot needs it to post answers (set along with SLACK_SIGNING_SECRET or SLACK_APP_TOKEN)");
        }
        if !secret && !app {
            bail!(
                "SLACK_BOT_TOKEN is set but Slack has no way to reach footnote: set SLACK_SIGNING_SECRET (Events API over HTTP) or SLACK_APP_TOKEN (Socket Mode)"
            );
        }
        if !self.bot_token.as_deref().unwrap_or_default().starts_with("xoxb-") {
            bail!("SLACK_BOT_TOKEN must be a bot token (xoxb-…); find it under OAuth & Permissions");
        }
        if app && !self.app_token.as_deref().unwrap_or_default().starts_with("xapp-") {
            bail!("SLACK_APP_TOKEN must be an app-level token (xapp-…) with the connections:write scope");
        }
        if !(self.api_url.starts_with("https://") || self.api_url.starts_with("http://")) {
            bail!("SLACK_API_URL must be an http(s) URL, not {:?}", self.api_url);
        }
        if !self.command.starts_with('/') || self.command.len() < 2 {
            bail!("SLACK_COMMAND must be a slash command such as /ask, not {:?}", self.command);
        }
        Ok(true)
    }
}

/// The adapter: what every Slack request and Socket Mode envelope is handed to.
pub struct Slack {
    app: Arc<App>,
    api: WebApi,
    signing_secret: Option<String>,
    command: String,
}

/// Starts Slack when configured: spawns Socket Mode when an app token is set
/// and returns the Events API routes when a signing secret is.
pub fn start(app: Arc<App>, settings: SlackSettings) -> anyhow::Result<Option<Router>> {
    if !settings.check()? {
        return Ok(None);
    }
    let bot_token = settings.bot_token.as_deref().unwrap_or_default();
    let api = WebApi::new(&settings.api_url, bot_token).context("cannot set up the Slack Web API client")?;
    let signing_secret = settings.signing_secret.filter(|s| !s.trim().is_empty());
    let slack = Arc::new(Slack { app, api, signing_secret, command: settings.command });
    if let Some(app_token) = settings.app_token.filter(|t| !t.trim().is_empty()) {
        tracing::info!("Slack: Socket Mode on");
        tokio::spawn(socket_mode::run(slack.clone(), app_token));
    }
    if slack.signing_secret.is_none() {
        return Ok(None);
    }
    tracing::info!("Slack: Events API routes under /slack");
    Ok(Some(
        Router::new()
            .route("/slack/events", post(events))
            .route("/slack/commands", post(commands))
            .route("/slack/interactions", post(interactions))
            .with_state(slack),
    ))
}

impl Slack {
    /// Takes an Events API callback: a question is answered in the
    /// background, once however often Slack delivers it.
    fn take_event(self: &Arc<Self>, callback: EventCallback) {
        let Some(question) = callback.question() else { return };
        let slack = self.clone();
        tokio::spawn(async move {
            let conversations = slack.app.conversations();
            let first = async {
                Ok::<_, sqlx::Error>(
                    conversations.first_slack_delivery(&format!("event:{}", callback.event_id)).await?
                        && conversations.first_slack_delivery(&format!("message:{}:{}", question.channel, question.ts)).await?,
                )
            };
            match first.await {
                Ok(true) => slack.answer(question).await,
                Ok(false) => tracing::debug!("Slack event {} was already taken", callback.event_id),
                Err(error) => tracing::error!("Slack event {}: cannot check for a repeat: {error}", callback.event_id),
            }
        });
    }

    /// Answers a question in its thread, in the context of the thread's
    /// earlier questions; a failure is answered with an apology.
    async fn answer(&self, question: Question) {
        let reply = if question.text.is_empty() {
            blocks::notice(HOW_TO_ASK)
        } else {
            match self.ask_in_thread(&question).await {
                Ok(reply) => reply,
                Err(AppError::InvalidQuestion(problem)) => blocks::notice(&problem),
                Err(error) => {
                    tracing::error!("Slack: cannot answer a question in {}: {error:#}", question.channel);
                    blocks::apology()
                }
            }
        };
        self.post(&question.channel, &question.thread_ts, &reply).await;
    }

    async fn ask_in_thread(&self, question: &Question) -> Result<SlackMessage, AppError> {
        let conversations = self.app.conversations();
        let known = conversations.slack_thread(&question.channel, &question.thread_ts).await?;
        let asked = app::Question { text: question.text.clone(), conversation_id: known, ..app::Question::default() };
        let reply = self.app.ask(asked).await?;
        conversations.link_slack_thread(&question.channel, &question.thread_ts, &reply.conversation_id).await?;
        Ok(blocks::answer(&reply.message_id, &reply.response.answer.body, &reply.response.answer.citations, None))
    }

    /// Posts in a thread; when that fails, says sorry there instead (once).
    async fn post(&self, channel: &str, thread_ts: &str, message: &SlackMessage) {
        let Err(error) = self.api.post_message(channel, Some(thread_ts), message).await else {
            metrics::counter!("footnote_slack_replies_total", "outcome" => "posted").increment(1);
            return;
        };
        metrics::counter!("footnote_slack_replies_total", "outcome" => "failed").increment(1);
        tracing::error!("Slack: cannot post in {channel} thread {thread_ts}: {error}");
        if matches!(error.code(), Some("channel_not_found" | "not_in_channel" | "invalid_auth" | "account_inactive" | "token_revoked")) {
            return;
        }
        if let Err(error) = self.api.post_message(channel, Some(thread_ts), &blocks::apology()).await {
            tracing::error!("Slack: cannot post the apology in {channel} either: {error}");
        }
    }

    /// Takes a slash command; returns the immediate, private acknowledgement.
    /// The answer follows through the command's `response_url`.
    fn take_command(self: &Arc<Self>, command: SlashCommand) -> Value {
        if command.command != self.command {
            return ephemeral(&format!("footnote answers {}, not {}.", self.command, command.command));
        }
        let question = command.text.trim().to_string();
        if question.is_empty() {
            return ephemeral(&format!("Ask a question after the command, for example: {} why did Tokayev call early elections?", self.command));
        }
        let slack = self.clone();
        tokio::spawn(async move { slack.answer_command(command).await });
        ephemeral(&format!("Looking up: {question}"))
    }

    async fn answer_command(&self, command: SlashCommand) {
        let asked = self.app.ask(app::Question { text: command.text.clone(), ..app::Question::default() }).await;
        let body = match asked {
            Ok(reply) => {
                let message = blocks::answer(&reply.message_id, &reply.response.answer.body, &reply.response.answer.citations, None);
                json!({ "response_type": "in_channel", "text": message.text, "blocks": message.blocks })
            }
            Err(AppError::InvalidQuestion(problem)) => ephemeral(&problem),
            Err(error) => {
                tracing::error!("Slack: cannot answer {} from {} in {}: {error:#}", command.command, command.user_id, command.channel_id);
                let apology = blocks::apology();
                json!({ "response_type": "ephemeral", "text": apology.text, "blocks": apology.blocks })
            }
        };
        if let Err(error) = self.api.respond(&command.response_url, &body).await {
            tracing::error!("Slack: cannot answer {} through its response_url: {error}", command.command);
        }
    }

    /// Takes a click on a feedback button: the vote is stored as the page's
    /// feedback is, and the message is redrawn to show it.
    fn take_interaction(self: &Arc<Self>, interaction: Interaction) {
        if interaction.kind != "block_actions" {
            return;
        }
        let slack = self.clone();
        tokio::spawn(async move {
            for action in &interaction.actions {
                let rating = match action.action_id.as_str() {
                    blocks::VOTE_UP => Rating::Up,
                    blocks::VOTE_DOWN => Rating::Down,
                    _ => continue,
                };
                let Some(message_id) = action.value.as_deref() else { continue };
                if let Err(error) = slack.record_vote(message_id, rating, &interaction).await {
                    tracing::error!("Slack: cannot record a vote on {message_id}: {error:#}");
                }
            }
        });
    }

    async fn record_vote(&self, message_id: &str, rating: Rating, interaction: &Interaction) -> anyhow::Result<()> {
        self.app.record_feedback(message_id, rating, None).await?;
        let (_, message) = self.app.message(message_id).await?;
        let vote = blocks::Vote { rating, user: &interaction.user.id };
        let redrawn = blocks::answer(message_id, &message.response.answer.body, &message.response.answer.citations, Some(vote));
        let response_url = interaction.response_url.as_deref().context("the click came without a response_url")?;
        let body = json!({ "replace_original": true, "text": redrawn.text, "blocks": redrawn.blocks });
        self.api.respond(response_url, &body).await?;
        Ok(())
    }
}

fn ephemeral(text: &str) -> Value {
    json!({ "response_type": "ephemeral", "text": blocks::escape(text) })
}

/// `POST /slack/events`: the URL verification challenge, and event callbacks
/// acknowledged at once.
async fn events(State(slack): State<Arc<Slack>>, Signed(body): Signed) -> Result<Response, SlackError> {
    let body: EventsApiBody =
        serde_json::from_slice(&body).map_err(|e| SlackError::MalformedJson(format!("not an Events API body: {e}")))?;
    Ok(match body {
        EventsApiBody::UrlVerification { challenge } => axum::Json(json!({ "challenge": challenge })).into_response(),
        EventsApiBody::EventCallback(callback) => {
            slack.take_event(callback);
            StatusCode::OK.into_response()
        }
        EventsApiBody::Other => StatusCode::OK.into_response(),
    })
}

/// `POST /slack/commands`: acknowledged with a private note; the answer
/// follows through `response_url`.
async fn commands(State(slack): State<Arc<Slack>>, Signed(body): Signed) -> Result<axum::Json<Value>, SlackError> {
    let command: SlashCommand =
        serde_urlencoded::from_bytes(&body).map_err(|e| SlackError::Invalid(format!("not a slash command: {e}")))?;
    Ok(axum::Json(slack.take_command(command)))
}

/// `POST /slack/interactions`: button clicks, acknowledged at once.
async fn interactions(State(slack): State<Arc<Slack>>, Signed(body): Signed) -> Result<StatusCode, SlackError> {
    #[derive(Deserialize)]
    struct Form {
        payload: String,
    }
    let form: Form = serde_urlencoded::from_bytes(&body).map_err(|e| SlackError::Invalid(format!("not an interaction: {e}")))?;
    let interaction: Interaction =
        serde_json::from_str(&form.payload).map_err(|e| SlackError::MalformedJson(format!("not an interaction payload: {e}")))?;
    slack.take_interaction(interaction);
    Ok(StatusCode::OK)
}

/// A request body whose Slack signature checked out. The timestamp is checked
/// before the body is read; nothing is parsed before the signature matches.
struct Signed(Bytes);

impl FromRequest<Arc<Slack>> for Signed {
    type Rejection = SlackError;

    async fn from_request(request: Request, slack: &Arc<Slack>) -> Result<Self, SlackError> {
        let (timestamp, signature) = {
            let headers = request.headers();
            let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
            (header("x-slack-request-timestamp"), header("x-slack-signature"))
        };
        let signature = signature.ok_or(SignatureError::MissingSignature)?;
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
        signature::check_timestamp(timestamp.as_deref(), now)?;
        let body = Bytes::from_request(request, &()).await.map_err(|e| SlackError::TooLarge(e.body_text()))?;
        let secret = slack.signing_secret.as_deref().expect("the routes are mounted only with a signing secret");
        signature::verify(secret, timestamp.as_deref().unwrap_or_default(), Some(&signature), &body)?;
        Ok(Signed(body))
    }
}
