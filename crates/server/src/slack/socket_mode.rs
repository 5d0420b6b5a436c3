//! Socket Mode, for workspaces that cannot expose a public URL: the adapter
//! asks `apps.connections.open` for a WebSocket URL, connects, and receives
//! the same events, commands and clicks as the HTTP routes, each in an
//! envelope it acknowledges by `envelope_id`. When Slack asks it to
//! (`disconnect`), it connects again at once; when the connection drops or
//! cannot be made, it retries with exponential backoff.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use super::Slack;
use super::events::{EventsApiBody, Interaction, SlashCommand};

const FIRST_RETRY: Duration = Duration::from_secs(1);
const LONGEST_RETRY: Duration = Duration::from_secs(60);

/// One message from Slack over the socket.
#[derive(Debug, Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    envelope_id: Option<String>,
    #[serde(default)]
    payload: Value,
    /// Of `disconnect` messages: `refresh_requested`, `warning`, `link_disabled`…
    reason: Option<String>,
}

/// Why a connection ended.
enum Ended {
    /// Slack asked for a new connection.
    Disconnect(String),
    /// The socket closed or failed.
    Dropped(String),
}

/// Keeps a Socket Mode connection open for as long as the server runs.
pub async fn run(slack: Arc<Slack>, app_token: String) {
    let mut retry = FIRST_RETRY;
    loop {
        match connection(&slack, &app_token, &mut retry).await {
            Ok(Ended::Disconnect(reason)) => {
                tracing::info!("Slack Socket Mode: Slack asked to reconnect ({reason})");
                continue;
            }
            Ok(Ended::Dropped(why)) => tracing::warn!("Slack Socket Mode: the connection dropped ({why}); reconnecting in {retry:?}"),
            Err(error) => tracing::warn!("Slack Socket Mode: cannot connect ({error:#}); retrying in {retry:?}"),
        }
        tokio::time::sleep(retry).await;
        retry = (retry * 2).min(LONGEST_RETRY);
    }
}

/// One connection, from `apps.connections.open` to its end. `retry` goes back
/// to its first value once Slack says hello.
async fn connection(slack: &Arc<Slack>, app_token: &str, retry: &mut Duration) -> anyhow::Result<Ended> {
    let url = slack.api.open_connection(app_token).await?;
    let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str()).await?;
    while let Some(message) = socket.next().await {
        let text = match message {
            Ok(Message::Text(text)) => text,
            Ok(Message::Close(frame)) => return Ok(Ended::Dropped(frame.map_or("closed".into(), |f| format!("closed: {}", f.reason)))),
            Ok(_) => continue,
            Err(error) => return Ok(Ended::Dropped(error.to_string())),
        };
        let envelope: Envelope = match serde_json::from_str(&text) {
            Ok(envelope) => envelope,
            Err(error) => {
                tracing::warn!("Slack Socket Mode: ignoring a message that is not an envelope: {error}");
                continue;
            }
        };
        match envelope.kind.as_str() {
            "hello" => {
                tracing::info!("Slack Socket Mode: connected");
                *retry = FIRST_RETRY;
            }
            "disconnect" => {
                let _ = socket.close(None).await;
                return Ok(Ended::Disconnect(envelope.reason.unwrap_or_default()));
            }
            _ => {
                let Some(envelope_id) = envelope.envelope_id.clone() else { continue };
                let mut ack = json!({ "envelope_id": envelope_id });
                if let Some(payload) = take(slack, envelope) {
                    ack["payload"] = payload;
                }
                socket.send(Message::text(ack.to_string())).await?;
            }
        }
    }
    Ok(Ended::Dropped("the stream ended".into()))
}

/// Hands an envelope's payload to the adapter; returns the payload of the
/// acknowledgement, if it has one (a slash command's immediate reply).
fn take(slack: &Arc<Slack>, envelope: Envelope) -> Option<Value> {
    match envelope.kind.as_str() {
        "events_api" => match serde_json::from_value::<EventsApiBody>(envelope.payload) {
            Ok(EventsApiBody::EventCallback(callback)) => slack.take_event(callback),
            Ok(_) => {}
            Err(error) => tracing::warn!("Slack Socket Mode: an events_api envelope without an event callback: {error}"),
        },
        "slash_commands" => match serde_json::from_value::<SlashCommand>(envelope.payload) {
            Ok(command) => return Some(slack.take_command(command)),
            Err(error) => tracing::warn!("Slack Socket Mode: a slash_commands envelope without a command: {error}"),
        },
        "interactive" => match serde_json::from_value::<Interaction>(envelope.payload) {
            Ok(interaction) => slack.take_interaction(interaction),
            Err(error) => tracing::warn!("Slack Socket Mode: an interactive envelope without an interaction: {error}"),
        },
        other => tracing::debug!("Slack Socket Mode: ignoring a {other} envelope"),
    }
    None
}
