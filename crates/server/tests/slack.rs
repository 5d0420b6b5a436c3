//! The Slack bot against a local Slack stand-in that speaks Slack's documented
//! protocol: signed requests to footnote's Events API routes, the Web API
//! (`chat.postMessage`, `apps.connections.open`) with its `ok`/`error` replies
//! and 429s, `response_url`s, and Socket Mode envelopes over a real WebSocket.
//! footnote runs as `footnote serve` with the real model, Qdrant Edge and SQLite;
//! for generated answers, with a scripted chat-completions server (footnote-llm-standin).

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, post};
use axum::{Json, Router};
use common::{Server, client};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sqlx::{Row, SqlitePool};
use tempfile::TempDir;
use tokio::sync::mpsc;

const SIGNING_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
const BOT_TOKEN: &str = "xoxb-test-bot-token";
const APP_TOKEN: &str = "xapp-test-app-token";
const ADMIN_TOKEN: &str = "test-admin-token";
const BOT_USER: &str = "UBOT";

// ---------------------------------------------------------------------------
// The Slack stand-in

/// A call footnote made to the stand-in.
#[derive(Debug, Clone)]
struct Call {
    /// `chat.postMessage`, `apps.connections.open`, or `response_url:<name>`.
    method: String,
    authorization: Option<String>,
    body: Value,
    /// The HTTP status the stand-in answered.
    status: u16,
    at: Instant,
}

/// What the test tells an open Socket Mode connection to do.
enum SocketCommand {
    Send(Value),
    /// Close the TCP connection without a word, as a network failure would.
    Drop,
}

#[derive(Default)]
struct StandInState {
    calls: Mutex<Vec<Call>>,
    /// How many coming `chat.postMessage` calls get a 429.
    rate_limited: AtomicU32,
    /// An error code the next `chat.postMessage` call is refused with.
    refuse_next: Mutex<Option<&'static str>>,
    ts: AtomicU32,
    /// One sender per Socket Mode connection made, in order.
    sockets: Mutex<Vec<mpsc::UnboundedSender<SocketCommand>>>,
    /// Every message footnote sent over a socket (the acknowledgements).
    socket_messages: Mutex<Vec<Value>>,
    base: Mutex<String>,
}

struct SlackStandIn {
    base: String,
    state: Arc<StandInState>,
}

impl SlackStandIn {
    async fn start() -> SlackStandIn {
        let state = Arc::new(StandInState::default());
        let app = Router::new()
            .route("/api/{method}", post(web_api))
            .route("/responses/{name}", post(response_url))
            .route("/link", any(socket_link))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address: SocketAddr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let base = format!("http://{address}");
        *state.base.lock().unwrap() = base.clone();
        SlackStandIn { base, state }
    }

    fn api_url(&self) -> String {
        format!("{}/api/", self.base)
    }

    fn response_url(&self, name: &str) -> String {
        format!("{}/responses/{name}", self.base)
    }

    fn calls(&self) -> Vec<Call> {
        self.state.calls.lock().unwrap().clone()
    }

    /// Successful `chat.postMessage` calls in a thread.
    fn posts_in(&self, channel: &str, thread_ts: &str) -> Vec<Value> {
        self.calls()
            .into_iter()
            .filter(|c| c.method == "chat.postMessage" && c.status == 200)
            .filter(|c| c.body["channel"] == channel && c.body["thread_ts"] == thread_ts)
            .map(|c| c.body)
            .collect()
    }

    /// Waits until `ready` holds of the calls made so far.
    async fn wait_for<T>(&self, what: &str, ready: impl Fn(&[Call]) -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(found) = ready(&self.calls()) {
                return found;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}; calls: {:#?}", self.calls());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn wait_for_post(&self, channel: &str, thread_ts: &str) -> Value {
        self.wait_for(&format!("an answer in {channel} thread {thread_ts}"), |_| self.posts_in(channel, thread_ts).into_iter().next())
            .await
    }

    async fn wait_for_response(&self, name: &str) -> Value {
        let method = format!("response_url:{name}");
        self.wait_for(&method, |calls| calls.iter().find(|c| c.method == method).map(|c| c.body.clone())).await
    }
}

fn record(state: &StandInState, method: &str, headers: &HeaderMap, body: Value, status: u16) {
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok()).map(str::to_string);
    state.calls.lock().unwrap().push(Call { method: method.into(), authorization, body, status, at: Instant::now() });
}

/// The Web API: `POST /api/<method>` with a bearer token, answering
/// `{"ok": true, …}` or `{"ok": false, "error": "<code>"}` as Slack does.
async fn web_api(State(state): State<Arc<StandInState>>, Path(method): Path<String>, headers: HeaderMap, body: String) -> Response {
    let token = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    let json_body: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    match method.as_str() {
        "chat.postMessage" => {
            if state.rate_limited.load(Ordering::SeqCst) > 0 {
                state.rate_limited.fetch_sub(1, Ordering::SeqCst);
                record(&state, &method, &headers, json_body, 429);
                return (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")], Json(json!({ "ok": false, "error": "ratelimited" })))
                    .into_response();
            }
            record(&state, &method, &headers, json_body.clone(), 200);
            if let Some(code) = state.refuse_next.lock().unwrap().take() {
                return Json(json!({ "ok": false, "error": code })).into_response();
            }
            if token != Some(BOT_TOKEN) {
                return Json(json!({ "ok": false, "error": "invalid_auth" })).into_response();
            }
            if let Err(error) = check_message(&json_body) {
                return Json(json!({ "ok": false, "error": error })).into_response();
            }
            let ts = format!("1800000000.{:06}", state.ts.fetch_add(1, Ordering::SeqCst));
            Json(json!({ "ok": true, "channel": json_body["channel"], "ts": ts, "message": { "text": json_body["text"], "ts": ts } }))
                .into_response()
        }
        "apps.connections.open" => {
            record(&state, &method, &headers, Value::Null, 200);
            if token != Some(APP_TOKEN) {
                return Json(json!({ "ok": false, "error": "invalid_auth" })).into_response();
            }
            let base = state.base.lock().unwrap().replace("http://", "ws://");
            Json(json!({ "ok": true, "url": format!("{base}/link?ticket=t{}", state.ts.fetch_add(1, Ordering::SeqCst)) })).into_response()
        }
        _ => Json(json!({ "ok": false, "error": "unknown_method" })).into_response(),
    }
}

/// Slack's limits on a message: `invalid_blocks` or `msg_too_long` when broken.
fn check_message(message: &Value) -> Result<(), &'static str> {
    let text_ok = |text: &Value| text.as_str().is_some_and(|t| !t.is_empty() && t.chars().count() <= 3000);
    if message["channel"].as_str().is_none_or(str::is_empty) {
        return Err("channel_not_found");
    }
    if message["text"].as_str().is_some_and(|t| t.chars().count() > 40_000) {
        return Err("msg_too_long");
    }
    let blocks = message["blocks"].as_array().ok_or("no_text")?;
    if blocks.is_empty() || blocks.len() > 50 {
        return Err("invalid_blocks");
    }
    for block in blocks {
        let valid = match block["type"].as_str() {
            Some("section") => block["text"]["type"] == "mrkdwn" && text_ok(&block["text"]["text"]),
            Some("context") => block["elements"].as_array().is_some_and(|elements| {
                !elements.is_empty() && elements.len() <= 10 && elements.iter().all(|e| text_ok(&e["text"]))
            }),
            Some("actions") => block["elements"].as_array().is_some_and(|elements| {
                elements.len() <= 25
                    && elements.iter().all(|e| {
                        e["type"] == "button"
                            && e["text"]["text"].as_str().is_some_and(|t| t.chars().count() <= 75)
                            && e["action_id"].as_str().is_some_and(|a| a.len() <= 255)
                            && e["value"].as_str().is_some_and(|v| v.len() <= 2000)
                    })
            }),
            _ => false,
        };
        if !valid {
            return Err("invalid_blocks");
        }
    }
    Ok(())
}

async fn response_url(State(state): State<Arc<StandInState>>, Path(name): Path<String>, headers: HeaderMap, Json(body): Json<Value>) -> &'static str {
    record(&state, &format!("response_url:{name}"), &headers, body, 200);
    "ok"
}

/// The Socket Mode WebSocket: says hello, then sends what the test asks and
/// records what footnote sends back.
async fn socket_link(State(state): State<Arc<StandInState>>, upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(move |socket| socket_session(state, socket))
}

async fn socket_session(state: Arc<StandInState>, mut socket: WebSocket) {
    let (commands, mut receiver) = mpsc::unbounded_channel();
    let number = {
        let mut sockets = state.sockets.lock().unwrap();
        sockets.push(commands);
        sockets.len()
    };
    let hello = json!({
        "type": "hello",
        "num_connections": 1,
        "debug_info": { "host": "applink-test", "build_number": 1, "approximate_connection_time": 18060 },
        "connection_info": { "app_id": "A0TEST" },
    });
    if socket.send(Message::text(hello.to_string())).await.is_err() {
        return;
    }
    loop {
        tokio::select! {
            command = receiver.recv() => match command {
                Some(SocketCommand::Send(message)) => {
                    if socket.send(Message::text(message.to_string())).await.is_err() {
                        return;
                    }
                }
                Some(SocketCommand::Drop) | None => return,
            },
            message = socket.recv() => match message {
                Some(Ok(Message::Text(text))) => {
                    let value: Value = serde_json::from_str(&text).unwrap_or(json!({ "unparsed": text.to_string() }));
                    state.socket_messages.lock().unwrap().push(json!({ "connection": number, "message": value }));
                }
                Some(Ok(_)) => {}
                _ => return,
            },
        }
    }
}

// ---------------------------------------------------------------------------
// Slack's side of the Events API

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

fn signature(timestamp: &str, body: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SIGNING_SECRET.as_bytes()).unwrap();
    mac.update(format!("v0:{timestamp}:{body}").as_bytes());
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

/// Posts as Slack does: signed with the signing secret, timestamped now.
async fn post_signed(server: &Server, path: &str, content_type: &str, body: &str, extra: &[(&str, &str)]) -> reqwest::Response {
    let timestamp = now().to_string();
    let mut request = client()
        .post(server.url(path))
        .header("content-type", content_type)
        .header("x-slack-request-timestamp", &timestamp)
        .header("x-slack-signature", signature(&timestamp, body))
        .body(body.to_string());
    for (name, value) in extra {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

async fn post_event(server: &Server, body: &Value, extra: &[(&str, &str)]) -> reqwest::Response {
    post_signed(server, "/slack/events", "application/json", &body.to_string(), extra).await
}

/// An `event_callback` as Slack sends it.
fn event_callback(event_id: &str, event: Value) -> Value {
    json!({
        "token": "legacy-verification-token",
        "team_id": "T0TEST",
        "api_app_id": "A0TEST",
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": now(),
        "authorizations": [{ "enterprise_id": null, "team_id": "T0TEST", "user_id": BOT_USER, "is_bot": true, "is_enterprise_install": false }],
        "is_ext_shared_channel": false,
    })
}

fn mention(channel: &str, ts: &str, thread_ts: Option<&str>, text: &str) -> Value {
    let mut event = json!({
        "type": "app_mention", "user": "U0ASKER", "text": format!("<@{BOT_USER}> {text}"), "ts": ts,
        "channel": channel, "event_ts": ts, "team": "T0TEST",
    });
    if let Some(thread_ts) = thread_ts {
        event["thread_ts"] = json!(thread_ts);
    }
    event
}

fn direct_message(ts: &str, text: &str) -> Value {
    json!({ "type": "message", "channel_type": "im", "user": "U0ASKER", "text": text, "ts": ts, "channel": "D0DIRECT", "event_ts": ts })
}

/// The mrkdwn of a posted message, its sections and context elements.
fn message_texts(message: &Value) -> Vec<String> {
    let mut texts = Vec::new();
    for block in message["blocks"].as_array().unwrap() {
        if let Some(text) = block["text"]["text"].as_str() {
            texts.push(text.to_string());
        }
        for element in block["elements"].as_array().into_iter().flatten() {
            if let Some(text) = element["text"].as_str() {
                texts.push(text.to_string());
            }
        }
    }
    texts
}

fn blocks_of<'a>(message: &'a Value, kind: &str) -> Vec<&'a Value> {
    message["blocks"].as_array().unwrap().iter().filter(|b| b["type"] == kind).collect()
}

/// The id of the stored answer a posted message shows (its buttons' value).
fn message_id(message: &Value) -> String {
    blocks_of(message, "actions")[0]["elements"][0]["value"].as_str().unwrap().to_string()
}

async fn database(data: &TempDir) -> SqlitePool {
    let url = format!("sqlite://{}?mode=ro", data.path().join("conversations.db").display());
    SqlitePool::connect(&url).await.unwrap()
}

async fn conversation_of(pool: &SqlitePool, message_id: &str) -> String {
    sqlx::query("SELECT conversation_id FROM messages WHERE id = ?").bind(message_id).fetch_one(pool).await.unwrap().get(0)
}

fn start_footnote(data: &TempDir, slack: &SlackStandIn, socket_mode: bool) -> Server {
    start_footnote_with(data, slack, socket_mode, &[])
}

fn start_footnote_with(data: &TempDir, slack: &SlackStandIn, socket_mode: bool, extra: &[&str]) -> Server {
    let api_url = slack.api_url();
    let mut env = vec![
        ("SLACK_BOT_TOKEN", BOT_TOKEN),
        ("SLACK_API_URL", api_url.as_str()),
        ("FOOTNOTE_ADMIN_TOKEN", ADMIN_TOKEN),
    ];
    if socket_mode {
        env.push(("SLACK_APP_TOKEN", APP_TOKEN));
    } else {
        env.push(("SLACK_SIGNING_SECRET", SIGNING_SECRET));
    }
    let args: Vec<&str> = ["--rate-limit", "0"].into_iter().chain(extra.iter().copied()).collect();
    Server::start_with_env(data.path(), &args, &env)
}

// ---------------------------------------------------------------------------
// The tests

#[tokio::test]
async fn requests_not_signed_by_slack_are_refused_before_anything_is_done() {
    let slack = SlackStandIn::start().await;
    let data = TempDir::new().unwrap();
    let server = start_footnote(&data, &slack, false);
    let body = event_callback("EvUNSIGNED", mention("C0GENERAL", "100.000009", None, "why did Tokayev call early elections?")).to_string();
    let timestamp = now().to_string();
    let stale = (now() - 6 * 60).to_string();
    // (what is wrong, the Slack headers sent, what the refusal says)
    type Case<'a> = (&'a str, Vec<(&'a str, String)>, &'a str);
    let cases: Vec<Case> = vec![
        ("a wrong signature", vec![("x-slack-request-timestamp", timestamp.clone()), ("x-slack-signature", format!("v0={}", "0".repeat(64)))], "does not match"),
        ("a signature of another body", vec![("x-slack-request-timestamp", timestamp.clone()), ("x-slack-signature", signature(&timestamp, "{}"))], "does not match"),
        ("no signature", vec![("x-slack-request-timestamp", timestamp.clone())], "X-Slack-Signature"),
        ("no timestamp", vec![("x-slack-signature", signature(&timestamp, &body))], "X-Slack-Request-Timestamp"),
        ("an old timestamp", vec![("x-slack-request-timestamp", stale.clone()), ("x-slack-signature", signature(&stale, &body))], "seconds off"),
    ];
    for path in ["/slack/events", "/slack/commands", "/slack/interactions"] {
        for (case, headers, detail) in &cases {
            let mut request = client().post(server.url(path)).header("content-type", "application/json").body(body.clone());
            for (name, value) in headers {
                request = request.header(*name, value);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path} with {case}");
            let problem: Value = response.json().await.unwrap();
            assert_eq!(problem["type"], "urn:footnote:problem:bad-signature");
            assert!(problem["detail"].as_str().unwrap().contains(detail), "{case}: {problem}");
        }
    }

    // Slack's URL check is answered; a properly signed mention then is, once.
    let response = post_event(&server, &json!({ "token": "t", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P", "type": "url_verification" }), &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let reply: Value = response.json().await.unwrap();
    assert_eq!(reply["challenge"], "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P");

    let signed = event_callback("EvSIGNED", mention("C0GENERAL", "100.000010", None, "who won the 2019 election?"));
    assert_eq!(post_event(&server, &signed, &[]).await.status(), StatusCode::OK);
    slack.wait_for_post("C0GENERAL", "100.000010").await;
    assert!(slack.posts_in("C0GENERAL", "100.000009").is_empty(), "an unsigned request was acted on: {:#?}", slack.calls());
    server.stop();
}

#[tokio::test]
async fn mentions_and_direct_messages_are_answered_once_in_their_thread_with_follow_ups_in_context() {
    let slack = SlackStandIn::start().await;
    let data = TempDir::new().unwrap();
    let server = start_footnote(&data, &slack, false);

    // A mention, delivered three times: Slack's retry and a duplicate delivery.
    let first = event_callback("Ev0MENTION", mention("C0GENERAL", "1700000000.000100", None, "why did Tokayev call early elections?"));
    let response = post_event(&server, &first, &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.text().await.unwrap().is_empty(), "an event is acknowledged with an empty 200");
    post_event(&server, &first, &[("x-slack-retry-num", "1"), ("x-slack-retry-reason", "http_timeout")]).await;
    post_event(&server, &first, &[]).await;
    let answer = slack.wait_for_post("C0GENERAL", "1700000000.000100").await;
    let texts = message_texts(&answer).join("\n");
    assert!(texts.contains("[1]"), "{texts}");
    assert!(answer["text"].as_str().unwrap().contains("[1]"), "a fallback text: {answer:#}");
    let sources = blocks_of(&answer, "context");
    assert!(sources[0]["elements"][0]["text"].as_str().unwrap().starts_with("*[1]*"), "{answer:#}");
    let buttons = &blocks_of(&answer, "actions")[0]["elements"];
    assert_eq!((buttons[0]["action_id"].as_str(), buttons[1]["action_id"].as_str()), (Some("feedback_up"), Some("feedback_down")));
    let posted = slack.calls().into_iter().find(|c| c.method == "chat.postMessage").unwrap();
    assert_eq!(posted.authorization.as_deref(), Some(format!("Bearer {BOT_TOKEN}").as_str()));

    // A follow-up in the thread is answered in the thread, in context.
    let follow_up = event_callback(
        "Ev0FOLLOWUP",
        mention("C0GENERAL", "1700000000.000200", Some("1700000000.000100"), "and what happened in 2019?"),
    );
    post_event(&server, &follow_up, &[]).await;
    let second = slack.wait_for(
        "the follow-up's answer",
        |_| {
            let posts = slack.posts_in("C0GENERAL", "1700000000.000100");
            (posts.len() >= 2).then(|| posts[1].clone())
        },
    )
    .await;
    assert!(message_texts(&second).join(" ").contains("2019"), "{second:#}");
    let pool = database(&data).await;
    let conversation = conversation_of(&pool, &message_id(&answer)).await;
    assert_eq!(conversation_of(&pool, &message_id(&second)).await, conversation, "one thread, one conversation");
    let history: Vec<String> = sqlx::query("SELECT question FROM messages WHERE conversation_id = ? ORDER BY position")
        .bind(&conversation)
        .fetch_all(&pool)
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(history, ["why did Tokayev call early elections?", "and what happened in 2019?"]);

    // A direct message is answered in its own thread.
    post_event(&server, &event_callback("Ev0DIRECT", direct_message("1700000000.000300", "Who succeeded Nazarbayev as president?")), &[]).await;
    let direct = slack.wait_for_post("D0DIRECT", "1700000000.000300").await;
    assert!(message_texts(&direct).join(" ").contains("Tokayev"), "{direct:#}");

    // Messages from bots (footnote's own answer included), edits and joins are ignored.
    let ignored = [
        json!({ "type": "message", "channel_type": "im", "subtype": "bot_message", "bot_id": "B0BOT", "text": "an answer", "ts": "1700000000.000401", "channel": "D0DIRECT" }),
        json!({ "type": "message", "channel_type": "im", "user": BOT_USER, "bot_id": "B0FOOTNOTE", "text": "my own answer [1]", "ts": "1700000000.000402", "channel": "D0DIRECT" }),
        json!({ "type": "message", "channel_type": "im", "subtype": "message_changed", "hidden": true, "channel": "D0DIRECT", "ts": "1700000000.000403",
                "message": { "type": "message", "user": "U0ASKER", "text": "why did Tokayev call early elections?", "ts": "1700000000.000300" } }),
        json!({ "type": "message", "subtype": "channel_join", "user": "U0NEW", "text": "<@U0NEW> has joined the channel", "ts": "1700000000.000404", "channel": "C0GENERAL" }),
    ];
    for (i, event) in ignored.iter().enumerate() {
        assert_eq!(post_event(&server, &event_callback(&format!("Ev0IGNORED{i}"), event.clone()), &[]).await.status(), StatusCode::OK);
    }
    // A question sent after them is answered; by then any reply to them would have been posted before it.
    post_event(&server, &event_callback("Ev0LAST", direct_message("1700000000.000500", "who won the 2019 election?")), &[]).await;
    slack.wait_for_post("D0DIRECT", "1700000000.000500").await;
    for ts in ["1700000000.000401", "1700000000.000402", "1700000000.000403", "1700000000.000404"] {
        assert!(slack.posts_in("D0DIRECT", ts).is_empty() && slack.posts_in("C0GENERAL", ts).is_empty(), "answered an ignored message {ts}");
    }
    let posts = slack.calls().into_iter().filter(|c| c.method == "chat.postMessage").count();
    assert_eq!(posts, 4, "one answer per question: {:#?}", slack.calls());
    server.stop();
}

#[tokio::test]
async fn commands_buttons_rate_limits_markup_and_long_answers() {
    let slack = SlackStandIn::start().await;
    let data = TempDir::new().unwrap();
    let server = start_footnote(&data, &slack, false);

    // A slash command: acknowledged privately at once, answered through its response_url.
    let form = serde_urlencoded::to_string([
        ("token", "legacy"),
        ("team_id", "T0TEST"),
        ("channel_id", "C0GENERAL"),
        ("user_id", "U0ASKER"),
        ("command", "/ask"),
        ("text", "why did Tokayev call early elections?"),
        ("response_url", &slack.response_url("command")),
        ("trigger_id", "13345224609.738474920.8088930838d88f008e0"),
        ("api_app_id", "A0TEST"),
    ])
    .unwrap();
    let response = post_signed(&server, "/slack/commands", "application/x-www-form-urlencoded", &form, &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let ack: Value = response.json().await.unwrap();
    assert_eq!(ack["response_type"], "ephemeral");
    assert!(ack["text"].as_str().unwrap().contains("why did Tokayev"), "{ack}");
    let answered = slack.wait_for_response("command").await;
    assert_eq!(answered["response_type"], "in_channel");
    assert!(message_texts(&answered).join(" ").contains("[1]"), "{answered:#}");
    assert_eq!(check_message(&json!({ "channel": "C0GENERAL", "text": answered["text"], "blocks": answered["blocks"] })), Ok(()));

    // A click on a feedback button: stored as feedback, and the message redrawn with the vote.
    let message = message_id(&answered);
    let click = json!({
        "type": "block_actions",
        "user": { "id": "U0VOTER", "username": "voter", "team_id": "T0TEST" },
        "api_app_id": "A0TEST",
        "token": "legacy",
        "container": { "type": "message", "message_ts": "1800000000.000001", "channel_id": "C0GENERAL", "is_ephemeral": false },
        "trigger_id": "123.456.abc",
        "team": { "id": "T0TEST", "domain": "test" },
        "channel": { "id": "C0GENERAL", "name": "general" },
        "message": { "type": "message", "text": answered["text"], "ts": "1800000000.000001", "blocks": answered["blocks"] },
        "response_url": slack.response_url("click"),
        "actions": [{ "action_id": "feedback_down", "block_id": "footnote_feedback", "text": { "type": "plain_text", "text": "Not helpful" },
                      "value": message, "type": "button", "action_ts": "1800000001.000001" }],
    });
    let form = serde_urlencoded::to_string([("payload", click.to_string())]).unwrap();
    let response = post_signed(&server, "/slack/interactions", "application/x-www-form-urlencoded", &form, &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let redrawn = slack.wait_for_response("click").await;
    assert_eq!(redrawn["replace_original"], true);
    let texts = message_texts(&redrawn).join("\n");
    assert!(texts.contains("<@U0VOTER> found this unhelpful"), "{texts}");
    assert_eq!(blocks_of(&redrawn, "actions")[0]["elements"][1]["style"], "danger");
    let pool = database(&data).await;
    let rating: String = sqlx::query("SELECT rating FROM feedback WHERE message_id = ?").bind(&message).fetch_one(&pool).await.unwrap().get(0);
    assert_eq!(rating, "down");
    let conversation = conversation_of(&pool, &message).await;
    let (status, stored) = {
        let response = client().get(server.url(&format!("/api/v1/conversations/{conversation}"))).send().await.unwrap();
        (response.status(), response.json::<Value>().await.unwrap())
    };
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stored["messages"][0]["feedback"], "down", "the same feedback the page shows");

    // A 429 from chat.postMessage is waited out as Retry-After says, then the answer is posted.
    slack.state.rate_limited.store(1, Ordering::SeqCst);
    post_event(&server, &event_callback("Ev1LIMITED", mention("C0GENERAL", "1700000001.000100", None, "who won the 2019 election?")), &[]).await;
    slack.wait_for_post("C0GENERAL", "1700000001.000100").await;
    let tries: Vec<Call> = slack
        .calls()
        .into_iter()
        .filter(|c| c.method == "chat.postMessage" && c.body["thread_ts"] == "1700000001.000100")
        .collect();
    assert_eq!(tries.iter().map(|c| c.status).collect::<Vec<_>>(), [429, 200]);
    assert!(tries[1].at - tries[0].at >= Duration::from_secs(1), "retried before Retry-After");

    // When the answer cannot be posted, a short apology is, rather than silence.
    *slack.state.refuse_next.lock().unwrap() = Some("invalid_blocks");
    post_event(&server, &event_callback("Ev1REFUSED", mention("C0GENERAL", "1700000001.000150", None, "who won the 2019 election?")), &[]).await;
    let posts = slack
        .wait_for("the apology", |_| {
            let posts: Vec<Call> = slack
                .calls()
                .into_iter()
                .filter(|c| c.method == "chat.postMessage" && c.body["thread_ts"] == "1700000001.000150")
                .collect();
            (posts.len() >= 2).then_some(posts)
        })
        .await;
    assert!(message_texts(&posts[0].body).join(" ").contains("[1]"), "the refused answer");
    assert!(posts[1].body["text"].as_str().unwrap().starts_with("Sorry"), "{:#}", posts[1].body);

    // A document with markup characters in its text and a title far over Slack's limits.
    let title = format!("Oil & gas <briefing> {}", "very long title & more <words> ".repeat(150));
    let document = json!({
        "title": title,
        "text": "The Karachaganak <field> & the Kashagan field pumped 1,250 barrels of oil an hour in the Zhylyoi district during 2031. \
                 Output at Karachaganak <field> & Kashagan was inspected by the Zhylyoi oil commission.",
        "source": "https://example.com/briefing?a=1&b=2",
    });
    let response = client().post(server.url("/api/v1/documents")).bearer_auth(ADMIN_TOKEN).json(&document).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::CREATED, "{}", response.text().await.unwrap());
    post_event(
        &server,
        &event_callback("Ev1MARKUP", mention("C0GENERAL", "1700000001.000200", None, "How many barrels did the Karachaganak and Kashagan fields pump in the Zhylyoi district?")),
        &[],
    )
    .await;
    let escaped = slack.wait_for_post("C0GENERAL", "1700000001.000200").await;
    assert_eq!(check_message(&escaped), Ok(()), "posted within Slack's limits: {escaped:#}");
    let texts = message_texts(&escaped).join("\n");
    assert!(texts.contains("Karachaganak &lt;field&gt; &amp;"), "{texts}");
    assert!(!texts.contains("<field>") && !texts.contains("<briefing>"), "markup from a document reached Slack: {texts}");
    assert!(texts.contains("<https://example.com/briefing?a=1&b=2|Oil &amp; gas &lt;briefing&gt;"), "{texts}");
    assert!(texts.contains('…'), "the title was shortened: {texts}");
    server.stop();
}

/// With a language model, the bot posts what the API shows: the verified
/// sentences with their sources, never the ones that failed verification.
#[tokio::test]
async fn a_generated_answer_is_posted_with_its_verified_sentences_only() {
    use footnote_llm_standin::{Reply, Script, ScriptedLlm};
    let llm = ScriptedLlm::start(Script::always(Reply::text(
        "Tokayev assumed office on March 20, after the resignation of his predecessor Nursultan Nazarbayev. \
         Tokayev assumed office on March 20, 2020. The election was won by Tokayev [9].",
    )));
    let slack = SlackStandIn::start().await;
    let data = TempDir::new().unwrap();
    let base_url = llm.base_url();
    let server = start_footnote_with(&data, &slack, false, &["--llm-url", &base_url, "--llm-model", "scripted"]);
    post_event(&server, &event_callback("Ev0LLM", mention("C0GENERAL", "1700000100.000100", None, "When did Tokayev assume office?")), &[]).await;
    let answer = slack.wait_for_post("C0GENERAL", "1700000100.000100").await;
    let texts = message_texts(&answer).join("\n");
    assert!(texts.contains("assumed office on March 20, after the resignation of his predecessor Nursultan Nazarbayev. [1]"), "{texts}");
    assert!(!texts.contains("2020") && !texts.contains("won by Tokayev"), "an unverified sentence was posted: {texts}");
    assert_eq!(llm.requests().len(), 1);
}

/// With a real model (llama-server and SmolLM2): the posted answer is the
/// stored one, verified sentences only, whatever the model wrote.
#[tokio::test]
async fn a_real_model_answer_is_posted_as_verified() {
    let llama = common::LlamaServer::start();
    let slack = SlackStandIn::start().await;
    let data = TempDir::new().unwrap();
    let server = start_footnote_with(&data, &slack, false, &["--llm-url", &llama.base_url, "--llm-model", "smollm2", "--llm-timeout", "300", "--llm-max-tokens", "96"]);
    let question = "When was the early presidential election of 2019 held?";
    post_event(&server, &event_callback("Ev0REAL", mention("C0GENERAL", "1700000200.000100", None, question)), &[]).await;
    let posted = slack.wait_for_post("C0GENERAL", "1700000200.000100").await;
    let pool = database(&data).await;
    let conversation = conversation_of(&pool, &message_id(&posted)).await;
    let stored: Value = client().get(server.url(&format!("/api/v1/conversations/{conversation}"))).send().await.unwrap().json().await.unwrap();
    let answer = &stored["messages"][0]["answer"];
    let sections: String = blocks_of(&posted, "section").iter().map(|b| b["text"]["text"].as_str().unwrap()).collect::<Vec<_>>().join(" ");
    let slack_escape = |t: &str| t.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    for sentence in answer["sentences"].as_array().unwrap() {
        assert!(sections.contains(&slack_escape(sentence["text"].as_str().unwrap())), "{sentence} not in {sections}");
    }
    for left_out in answer["unsupported"].as_array().unwrap() {
        let text = left_out["text"].as_str().unwrap();
        let also_shown = answer["sentences"].as_array().unwrap().iter().any(|s| s["text"].as_str().unwrap().contains(text));
        assert!(also_shown || !sections.contains(&slack_escape(text)), "{text} was posted: {sections}");
    }
    eprintln!("posted ({}): {sections}", answer["mode"]);
}

#[tokio::test]
async fn socket_mode_receives_acknowledges_and_reconnects() {
    let slack = SlackStandIn::start().await;
    let data = TempDir::new().unwrap();
    let server = start_footnote(&data, &slack, true);
    // Without a signing secret the HTTP routes are not there.
    let response = client().post(server.url("/slack/events")).body("{}").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);

    let connected = |n: usize| {
        let state = slack.state.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(60);
            while state.sockets.lock().unwrap().len() < n {
                assert!(Instant::now() < deadline, "no Socket Mode connection number {n}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            state.sockets.lock().unwrap()[n - 1].clone()
        }
    };
    let envelope = |id: &str, event_id: &str, event: Value| {
        json!({ "envelope_id": id, "type": "events_api", "accepts_response_payload": false, "retry_attempt": 0, "retry_reason": "",
                "payload": event_callback(event_id, event) })
    };
    let acked = |id: &str| {
        let state = slack.state.clone();
        let id = id.to_string();
        async move {
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                if let Some(ack) = state.socket_messages.lock().unwrap().iter().find(|m| m["message"]["envelope_id"] == id.as_str()) {
                    return ack.clone();
                }
                assert!(Instant::now() < deadline, "envelope {id} was not acknowledged");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };

    let socket = connected(1).await;
    let opened = slack.calls().into_iter().find(|c| c.method == "apps.connections.open").unwrap();
    assert_eq!(opened.authorization.as_deref(), Some(format!("Bearer {APP_TOKEN}").as_str()));
    socket
        .send(SocketCommand::Send(envelope("env-1", "EvS1", mention("C0GENERAL", "1700000002.000100", None, "why did Tokayev call early elections?"))))
        .unwrap();
    assert_eq!(acked("env-1").await["connection"], 1);
    let answer = slack.wait_for_post("C0GENERAL", "1700000002.000100").await;
    assert!(message_texts(&answer).join(" ").contains("[1]"));

    // Slack asks for a new connection: footnote opens one and keeps answering there.
    socket
        .send(SocketCommand::Send(json!({ "type": "disconnect", "reason": "refresh_requested", "debug_info": { "host": "applink-test" } })))
        .unwrap();
    let socket = connected(2).await;
    socket.send(SocketCommand::Send(envelope("env-2", "EvS2", direct_message("1700000002.000200", "who won the 2019 election?")))).unwrap();
    assert_eq!(acked("env-2").await["connection"], 2);
    slack.wait_for_post("D0DIRECT", "1700000002.000200").await;

    // A slash command over the socket: the acknowledgement carries the private reply.
    let command = json!({ "envelope_id": "env-3", "type": "slash_commands", "accepts_response_payload": true,
        "payload": { "token": "legacy", "team_id": "T0TEST", "channel_id": "C0GENERAL", "user_id": "U0ASKER", "command": "/ask",
                     "text": "who won the 2019 election?", "response_url": slack.response_url("socket-command"), "trigger_id": "1.2.3" } });
    socket.send(SocketCommand::Send(command)).unwrap();
    let ack = acked("env-3").await;
    assert_eq!(ack["message"]["payload"]["response_type"], "ephemeral", "{ack}");
    assert!(message_texts(&slack.wait_for_response("socket-command").await).join(" ").contains("[1]"));

    // The connection drops without a word: footnote reconnects after a backoff.
    socket.send(SocketCommand::Drop).unwrap();
    let socket = connected(3).await;
    socket.send(SocketCommand::Send(envelope("env-4", "EvS4", mention("C0GENERAL", "1700000002.000300", None, "who won the 2019 election?")))).unwrap();
    assert_eq!(acked("env-4").await["connection"], 3);
    slack.wait_for_post("C0GENERAL", "1700000002.000300").await;
    server.stop();
}

#[tokio::test]
async fn without_slack_settings_the_routes_are_not_there_and_half_a_setup_is_refused() {
    let data = TempDir::new().unwrap();
    let server = Server::start(data.path(), &["--no-seed"]);
    for path in ["/slack/events", "/slack/commands", "/slack/interactions"] {
        let response = client().post(server.url(path)).body("{}").send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
    server.stop();

    let refused = |env: &[(&str, &str)]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_footnote"))
            .args(["serve", "--addr", "127.0.0.1:0", "--no-seed"])
            .env("FOOTNOTE_DATA_DIR", data.path())
            .env_remove("SLACK_SIGNING_SECRET")
            .env_remove("SLACK_BOT_TOKEN")
            .env_remove("SLACK_APP_TOKEN")
            .envs(env.iter().copied())
            .output()
            .unwrap();
        assert!(!output.status.success());
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    assert!(refused(&[("SLACK_SIGNING_SECRET", SIGNING_SECRET)]).contains("SLACK_BOT_TOKEN is not set"));
    assert!(refused(&[("SLACK_BOT_TOKEN", BOT_TOKEN)]).contains("SLACK_SIGNING_SECRET"));
    assert!(refused(&[("SLACK_SIGNING_SECRET", SIGNING_SECRET), ("SLACK_BOT_TOKEN", APP_TOKEN)]).contains("xoxb-"));
    assert!(refused(&[("SLACK_BOT_TOKEN", BOT_TOKEN), ("SLACK_APP_TOKEN", BOT_TOKEN)]).contains("xapp-"));
}
