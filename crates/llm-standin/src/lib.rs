//! Test-only: an OpenAI-compatible chat-completions server that replies from
//! a script, for the exact cases a real model cannot be made to produce on
//! demand: a fabricated sentence, a citation of a passage that doesn't exist,
//! a changed number, an obeyed injection, a stream cut in the middle, an HTTP
//! 500, a reply too slow for the timeout.
//!
//! It speaks the protocol of OpenAI's API as llama.cpp's server and Ollama do:
//! `POST /v1/chat/completions` answered, when the request says `"stream":
//! true`, with `text/event-stream` chunks `{"choices":[{"delta":{"content":…}}]}`,
//! a last chunk with `finish_reason` and `data: [DONE]`; otherwise with one
//! `chat.completion` object. `GET /v1/models` lists one model. Every request
//! body is recorded for the test to inspect.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};

/// What the server replies to a chat completion.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Reply {
    /// The content in these pieces, then `finish_reason: "stop"` and `[DONE]`.
    Stream { pieces: Vec<String> },
    /// These pieces, then the connection drops: no finish reason, no `[DONE]`.
    Cut { pieces: Vec<String> },
    /// An error status with an OpenAI error object.
    Status { status: u16, message: String },
    /// A `200 text/event-stream` whose one event carries this as its data,
    /// whatever it is (for replies that are not chat completions).
    Garbled { data: String },
    /// Waits this long, then replies with `then`.
    Slow { millis: u64, then: Box<Reply> },
}

impl Reply {
    /// The text streamed a few characters at a time, as a model writes it.
    pub fn text(text: &str) -> Reply {
        let chars: Vec<char> = text.chars().collect();
        Reply::Stream { pieces: chars.chunks(7).map(|c| c.iter().collect()).collect() }
    }
}

/// Which reply a request gets: the first rule whose `when` occurs in the last
/// user message, otherwise `default`.
#[derive(Debug, Clone, Deserialize)]
pub struct Script {
    #[serde(default)]
    pub rules: Vec<Rule>,
    pub default: Reply,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Rule {
    pub when: String,
    pub reply: Reply,
}

impl Script {
    pub fn always(reply: Reply) -> Script {
        Script { rules: Vec::new(), default: reply }
    }

    pub fn when(mut self, text: &str, reply: Reply) -> Script {
        self.rules.push(Rule { when: text.into(), reply });
        self
    }

    fn reply_to(&self, request: &Value) -> &Reply {
        let last_user = request["messages"]
            .as_array()
            .and_then(|m| m.iter().rev().find(|m| m["role"] == "user"))
            .and_then(|m| m["content"].as_str())
            .unwrap_or("");
        self.rules.iter().find(|r| last_user.contains(&r.when)).map_or(&self.default, |r| &r.reply)
    }
}

struct Shared {
    script: Script,
    requests: Mutex<Vec<Value>>,
    /// The `Authorization` header of each request, if any.
    authorizations: Mutex<Vec<Option<String>>>,
}

/// A running scripted server; it stops when dropped.
pub struct ScriptedLlm {
    address: SocketAddr,
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl ScriptedLlm {
    /// Serves `script` on a free loopback port, on threads of its own, so
    /// that synchronous and asynchronous tests can both use it.
    pub fn start(script: Script) -> ScriptedLlm {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("a runtime");
        let shared = Arc::new(Shared { script, requests: Mutex::new(Vec::new()), authorizations: Mutex::new(Vec::new()) });
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        listener.set_nonblocking(true).expect("a non-blocking socket");
        let address = listener.local_addr().expect("an address");
        let _entered = runtime.enter();
        let listener = tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
        runtime.spawn(serve(listener, shared.clone()));
        ScriptedLlm { address, shared, runtime: Some(runtime) }
    }

    /// The API base to give footnote, `http://127.0.0.1:PORT/v1`.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.address)
    }

    /// The bodies of the chat-completion requests received so far.
    pub fn requests(&self) -> Vec<Value> {
        self.shared.requests.lock().expect("not poisoned").clone()
    }

    /// Their `Authorization` headers, in the same order.
    pub fn authorizations(&self) -> Vec<Option<String>> {
        self.shared.authorizations.lock().expect("not poisoned").clone()
    }
}

impl Drop for ScriptedLlm {
    fn drop(&mut self) {
        // Inside an async test, a runtime may not block to shut down.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Serves `script` on `listener` until the process ends (the binary's use).
pub async fn serve_script(listener: tokio::net::TcpListener, script: Script) {
    serve(listener, Arc::new(Shared { script, requests: Mutex::new(Vec::new()), authorizations: Mutex::new(Vec::new()) })).await
}

async fn serve(listener: tokio::net::TcpListener, shared: Arc<Shared>) {
    let app = Router::new()
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/models", get(models))
        .with_state(shared);
    axum::serve(listener, app).await.expect("the scripted server runs");
}

async fn models() -> Response {
    axum::Json(json!({"object": "list", "data": [{"id": "scripted", "object": "model", "owned_by": "footnote"}]})).into_response()
}

async fn chat_completions(State(shared): State<Arc<Shared>>, headers: axum::http::HeaderMap, body: Bytes) -> Response {
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "the body is not JSON");
    };
    if !request["messages"].is_array() || !request["model"].is_string() {
        return error(StatusCode::BAD_REQUEST, "'model' and 'messages' are required");
    }
    shared.requests.lock().expect("not poisoned").push(request.clone());
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_string);
    shared.authorizations.lock().expect("not poisoned").push(authorization);
    let stream = request["stream"].as_bool().unwrap_or(false);
    let mut reply = shared.script.reply_to(&request).clone();
    while let Reply::Slow { millis, then } = reply {
        tokio::time::sleep(Duration::from_millis(millis)).await;
        reply = *then;
    }
    match reply {
        Reply::Status { status, message } => error(StatusCode::from_u16(status).expect("a valid status"), &message),
        Reply::Stream { pieces } if !stream => {
            let body = json!({
                "id": "chatcmpl-scripted", "object": "chat.completion", "created": 0, "model": request["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": pieces.concat()}, "finish_reason": "stop"}],
            });
            axum::Json(body).into_response()
        }
        Reply::Stream { pieces } => event_stream(pieces, true),
        Reply::Cut { pieces } => event_stream(pieces, false),
        Reply::Garbled { data } => Response::builder()
            .header(header::CONTENT_TYPE, "text/event-stream")
            .body(Body::from(format!("data: {data}\n\ndata: [DONE]\n\n")))
            .expect("a response"),
        Reply::Slow { .. } => unreachable!("slow replies were waited out"),
    }
}

/// The pieces as chunk events, a few milliseconds apart; `finished` adds the
/// last chunk and `[DONE]`, otherwise the connection drops after the pieces.
fn event_stream(pieces: Vec<String>, finished: bool) -> Response {
    let chunk = |delta: Value, finish: Value| {
        let chunk = json!({"id": "chatcmpl-scripted", "object": "chat.completion.chunk", "created": 0, "model": "scripted",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
        Ok::<_, std::io::Error>(Bytes::from(format!("data: {chunk}\n\n")))
    };
    let mut events = vec![chunk(json!({"role": "assistant", "content": ""}), Value::Null)];
    events.extend(pieces.into_iter().map(|p| chunk(json!({"content": p}), Value::Null)));
    if finished {
        events.push(chunk(json!({}), json!("stop")));
        events.push(Ok(Bytes::from_static(b"data: [DONE]\n\n")));
    } else {
        events.push(Err(std::io::Error::other("the scripted stream is cut here")));
    }
    let stream = futures_util::stream::unfold(events.into_iter(), |mut events| async move {
        let next = events.next()?;
        tokio::time::sleep(Duration::from_millis(2)).await;
        Some((next, events))
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .body(Body::from_stream(stream))
        .expect("a response")
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({"error": {"message": message, "type": "server_error", "code": status.as_u16()}}))).into_response()
}
